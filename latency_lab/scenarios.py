"""Named workloads shared by notebooks, tests and benchmarks (lessons 06–08).

Every scenario pairs an arrival process with the same batching service: a batch of ``k``
takes ``(20 + 2·k)·m`` µs, ``m`` lognormal with mean 1 and cv 0.5. One event alone is
served at most 45,454 times a second; batches of 32 reach 380,952 events/s. So every
scenario below needs batching during its busy spells, and none needs huge batches when calm.

========== ======================================================================
calm       Poisson, 30,000 events/s. Utilization 0.66 without batching.
bursty     MMPP: 20,000/s calm for 50 ms on average, 200,000/s bursts for 5 ms on
           average; mean 36,364/s. Bursts exceed unbatched capacity four times over.
regime_shift  200 ms each of: Poisson 20,000/s, the bursty MMPP, Poisson 120,000/s;
           then again. The right batch size changes from regime to regime.
hawkes_flow  Hawkes order flow: 10,000/s baseline, branching ratio 0.7, 100 µs decay;
           mean 33,333/s, arriving in self-excited clusters.
========== ======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from latency_lab.engine import ServiceModel
from latency_lab.traffic import MMPP, ArrivalProcess, Hawkes, Poisson, RegimeShift

#: The service every scenario uses.
SERVICE = ServiceModel(setup_us=20.0, per_item_us=2.0, distribution="lognormal", cv=0.5, seed=0)

_BURSTY = MMPP(calm_rate=20_000, burst_rate=200_000, mean_calm_us=50_000, mean_burst_us=5_000)


@dataclass(frozen=True)
class Scenario:
    """A named workload: an arrival process and the service that handles it."""

    name: str
    description: str
    process: ArrivalProcess
    service: ServiceModel = SERVICE

    def arrivals(self, n: int | None = None, *, duration_us: float | None = None, seed=0):
        """Arrival times (µs) of this workload; see ``ArrivalProcess.arrivals``."""
        return self.process.arrivals(n, duration_us=duration_us, seed=seed)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("calm", "Poisson arrivals at 30,000 events/s", Poisson(30_000)),
        Scenario("bursty", "MMPP: 20k/s calm (50 ms), 200k/s bursts (5 ms)", _BURSTY),
        Scenario(
            "regime_shift",
            "200 ms each of calm 20k/s, bursty MMPP, heavy 120k/s; repeated",
            RegimeShift(
                [(Poisson(20_000), 200_000.0), (_BURSTY, 200_000.0), (Poisson(120_000), 200_000.0)]
            ),
        ),
        Scenario(
            "hawkes_flow",
            "Hawkes order flow: 10k/s baseline, branching 0.7, 100 µs decay",
            Hawkes(baseline_rate=10_000, branching_ratio=0.7, decay_us=100),
        ),
    ]
}


def get(name: str) -> Scenario:
    """The scenario called ``name``; raises ``ValueError`` listing the names otherwise."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {sorted(SCENARIOS)}")
    return SCENARIOS[name]


def describe() -> pd.DataFrame:
    """A table of the scenarios: description and long-run mean rate (events/s)."""
    return pd.DataFrame(
        {
            "description": {s.name: s.description for s in SCENARIOS.values()},
            "mean_rate": {s.name: s.process.mean_rate for s in SCENARIOS.values()},
        }
    )
