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

One seed drives a whole run: ``Scenario.instance(n, seed=...)`` turns the seed into a
``numpy.random.SeedSequence`` and derives the traffic's and the service's randomness from
its two children, so ``seed=`` in a notebook, ``--seed`` on the command line and
``reset(seed=...)`` of the reinforcement-learning environment mean the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latency_lab import validate
from latency_lab.engine import ServiceModel, SimulationResult, Simulator, simulate
from latency_lab.traffic import MMPP, ArrivalProcess, Hawkes, Poisson, RegimeShift

#: The service every scenario uses (its seed is replaced by each instance's own).
SERVICE = ServiceModel(setup_us=20.0, per_item_us=2.0, distribution="lognormal", cv=0.5, seed=0)

_BURSTY = MMPP(calm_rate=20_000, burst_rate=200_000, mean_calm_us=50_000, mean_burst_us=5_000)


def children(seed) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The (traffic, service) seeds derived from one ``seed`` (lessons 06–08).

    ``seed`` is an int >= 0, a ``SeedSequence`` or None (fresh entropy).

    They are the two children ``SeedSequence.spawn`` gives a fresh sequence, built directly
    so that the same seed always yields the same pair, however often it was spawned before.
    """
    root = validate.seed("seed", seed)
    return tuple(
        np.random.SeedSequence(
            root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
        )
        for i in range(2)
    )


@dataclass(frozen=True)
class Instance:
    """One concrete run of a scenario: its arrivals and its seeded service (lessons 06–08).

    ``seed`` is the ``SeedSequence`` both were derived from; pass it (or the int it came
    from) to ``Scenario.instance`` to get this instance again.
    """

    scenario: str
    arrivals: np.ndarray  # read-only, µs
    service: ServiceModel
    seed: np.random.SeedSequence

    def __post_init__(self):
        for field, kind in [("scenario", str), ("arrivals", np.ndarray), ("service", ServiceModel),
                            ("seed", np.random.SeedSequence)]:  # fmt: skip
            if not isinstance(getattr(self, field), kind):
                raise TypeError(
                    f"{field} must be a {kind.__name__}, got {type(getattr(self, field)).__name__}"
                )

    def simulator(self) -> Simulator:
        """A fresh :class:`~latency_lab.engine.Simulator` over this instance."""
        return Simulator(self.arrivals, self.service)

    def simulate(
        self, max_batch: int = 1, max_wait_us: float = 0.0, policy=None
    ) -> SimulationResult:
        """:func:`~latency_lab.engine.simulate` over this instance."""
        return simulate(self.arrivals, self.service, max_batch, max_wait_us, policy=policy)


@dataclass(frozen=True)
class Scenario:
    """A named workload (lessons 06–08): an arrival process and the service that handles it."""

    name: str
    description: str
    process: ArrivalProcess
    service: ServiceModel = SERVICE

    def __post_init__(self):
        for field, kind in [("name", str), ("description", str), ("process", ArrivalProcess),
                            ("service", ServiceModel)]:  # fmt: skip
            if not isinstance(getattr(self, field), kind):
                raise TypeError(
                    f"{field} must be a {kind.__name__}, got {type(getattr(self, field)).__name__}"
                )

    def instance(
        self, n: int | None = None, *, duration_us: float | None = None, seed=None
    ) -> Instance:
        """Arrivals and seeded service for one run: the first ``n`` events, or all in
        ``[0, duration_us)`` µs (exactly one of them), from ONE ``seed`` (int >= 0,
        ``SeedSequence``, or None for fresh entropy, kept in ``Instance.seed``)."""
        root = validate.seed("seed", seed)
        traffic_seed, service_seed = children(root)
        arrivals = self.process.arrivals(n, duration_us=duration_us, seed=traffic_seed)
        arrivals.flags.writeable = False
        return Instance(self.name, arrivals, self.service.with_seed(service_seed), root)

    def arrivals(self, n: int | None = None, *, duration_us: float | None = None, seed=None):
        """The arrival times (µs) of ``instance(n, duration_us=..., seed=...)``."""
        return self.instance(n, duration_us=duration_us, seed=seed).arrivals

    def simulate(
        self,
        n: int | None = None,
        *,
        duration_us: float | None = None,
        seed=None,
        max_batch: int = 1,
        max_wait_us: float = 0.0,
        policy=None,
    ) -> SimulationResult:
        """Simulate one instance: ``instance(...).simulate(max_batch, max_wait_us, policy)``."""
        instance = self.instance(n, duration_us=duration_us, seed=seed)
        if instance.arrivals.size == 0:
            asked = f"n={n}" if n is not None else f"duration_us={duration_us}"
            raise ValueError(
                f"{asked} gives no arrivals, so there is nothing to simulate: ask for n >= 1 "
                "or a longer duration_us"
            )
        return instance.simulate(max_batch, max_wait_us, policy=policy)


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
    return SCENARIOS[validate.one_of("name", name, sorted(SCENARIOS))]


def describe() -> pd.DataFrame:
    """A table of the scenarios: description and long-run mean rate (events/s)."""
    return pd.DataFrame(
        {
            "description": {s.name: s.description for s in SCENARIOS.values()},
            "mean_rate": {s.name: s.process.mean_rate for s in SCENARIOS.values()},
        }
    )
