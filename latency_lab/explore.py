"""Lesson 07's experiments as pure functions: the computations behind the burst and batch
explorers, the latency–throughput frontier and a traced controller (lesson 07).

Everything here is a pure function of its arguments (randomness from a ``seed``), so the
widgets in :mod:`latency_lab.widgets` are thin wrappers that tests can bypass, and the
notebook can call the same functions for its static figures.

- :func:`make_policy` builds a controller from a policy name and ``(max_batch, max_wait_us)``.
- :func:`latency_curve` gives a latency distribution as a few hundred quantiles, enough
  to draw its ECDF on a logit axis without plotting every sample.
- :func:`burst_view` and :func:`batch_view` compute what the two explorers show.
- :func:`frontier` and :func:`best_per_load` give the latency–throughput frontier.
- :class:`Traced` records what a controller decided and saw.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from latency_lab import policies, scenarios, stats, sweep, traffic, units, validate
from latency_lab.engine import ServiceModel, SimulationResult, StepReport, simulate
from latency_lab.traffic import MMPP

#: Policy names that :func:`make_policy` understands.
POLICIES = ("static", "greedy", "timeout", "aimd", "queue_depth")
#: The service-time objective (µs) AIMD works to, unless told otherwise.
DEFAULT_SLO_US = 100.0
#: Most events one explorer run may simulate (a refresh must stay interactive).
MAX_EXPLORE_EVENTS = 2_000_000
#: Events per explorer run by default: what the widgets simulate on every refresh.
DEFAULT_EVENTS = 200_000
#: Most windows the burst explorer's rate-over-time may hold.
MAX_VIEW_WINDOWS = 100_000
#: Most quantiles a latency curve may hold.
MAX_CURVE_POINTS = 10_000
#: Load multipliers of the frontier: the scenario's own trace compressed (or stretched) in time.
LOADS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: Batch caps and waits (µs) the frontier tries at every load.
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
WAITS = (0.0, 50.0)
#: Most simulations one frontier may run.
MAX_FRONTIER_RUNS = 2_000


def make_policy(
    policy: str = "greedy",
    max_batch: int = 32,
    max_wait_us: float = 50.0,
    *,
    slo_us: float = DEFAULT_SLO_US,
):
    """A controller from a policy name (lesson 07).

    ``static``: full batches of ``max_batch`` only (``max_wait_us`` ignored: waits for ever,
    except that the last events of a trace go as a partial batch). ``greedy``: start at once
    with up to ``max_batch`` (``max_wait_us`` ignored). ``timeout``: start when ``max_batch``
    wait or the oldest has waited ``max_wait_us``. ``aimd``: Clipper's AIMD on the batch
    cap (grows while a batch's service time stays within ``slo_us``), greedy when
    ``max_wait_us`` is 0, at most ``max_batch``. ``queue_depth``: with ``min(8, max_batch)``
    or more waiting, take all that wait (up to ``max_batch``); with fewer, wait up to
    ``max_wait_us``. (The same meanings as :mod:`latency_lab.sweep`'s configs.)
    """
    policy = validate.one_of("policy", policy, POLICIES)
    max_batch = validate.integer("max_batch", max_batch, low=1, high=traffic.MAX_EVENTS)
    max_wait_us = validate.real("max_wait_us", max_wait_us, low=0, allow_inf=True)
    slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
    if policy == "static":
        return policies.Static(max_batch, math.inf)
    if policy == "greedy":
        return policies.greedy(max_batch)
    if policy == "timeout":
        return policies.timeout(max_batch, max_wait_us)
    if policy == "aimd":
        return policies.AIMD(slo_us, max_wait_us, cap=max_batch)
    return policies.QueueDepth(min(8, max_batch), max_wait_us, cap=max_batch)


def uses_wait(policy: str) -> bool:
    """Whether ``max_wait_us`` changes what ``make_policy(policy, ...)`` does (lesson 07)."""
    return validate.one_of("policy", policy, POLICIES) not in ("static", "greedy")


def _levels(n: int, points: int) -> np.ndarray:
    """Probabilities for a curve of ``points`` quantiles of ``n`` samples: evenly spaced on
    a logit axis from 1% to the last sample's rank below 1."""
    top = 1.0 - 1.0 / n if n > 1 else 0.5
    tail = np.geomspace(0.99, max(1.0 - top, 1e-12), points)  # 1 - level, from 0.99 down
    return np.unique(1.0 - tail)


def _curve_ranks(n: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    levels = _levels(n, points)
    return levels, np.maximum(1, np.ceil(levels * n - 1e-9).astype(np.int64))


def latency_curve(samples, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A latency distribution as ``points`` quantiles (lesson 07): ``(levels, quantiles)``.

    The levels run from 0.01 to ``1 - 1/n``, evenly spaced on a logit scale, so an ECDF
    drawn through them on a logit axis (log x) looks like the full ECDF at a tiny fraction
    of the drawing cost; each quantile is the sample of rank ``ceil(level·n)`` (the max is
    left to the caller's summary). Needs at least 2 samples.
    """
    values = validate.samples("samples", samples)
    points = validate.integer("points", points, low=2, high=MAX_CURVE_POINTS)
    if values.size < 2:
        raise ValueError(f"samples must hold at least 2 values for a curve, got {values.size}")
    levels, ranks = _curve_ranks(values.size, points)
    return levels, np.partition(values, np.unique(ranks - 1))[ranks - 1]


def _run_summary(
    result: SimulationResult, points: int = 200
) -> tuple[dict, np.ndarray, np.ndarray]:
    """A run's summary and latency curve from one partial sort (lesson 07).

    Returns ``(summary, levels, quantiles_us)``: the summary has the keys and values of
    ``result.summary()`` that the explorers show (``count``, ``mean_us``, ``p50_us``,
    ``p90_us``, ``p99_us``, ``p99.9_us``, ``max_us``, ``throughput_per_s``,
    ``offered_rate_per_s``, ``utilization``, ``mean_batch``, ``stable``), the curve is
    :func:`latency_curve`'s. One ``np.partition`` serves both, which is what keeps an
    explorer's refresh fast.
    """
    if not isinstance(result, SimulationResult):
        raise TypeError(f"result must be a SimulationResult, got {type(result).__name__}")
    points = validate.integer("points", points, low=2, high=MAX_CURVE_POINTS)
    latency = result.latency
    n = latency.size
    if n < 2:
        raise ValueError(f"the run needs at least 2 events for a curve, got {n}")
    levels, ranks = _curve_ranks(n, points)
    wanted = stats.nearest_rank(n, list(stats.SUMMARY_PERCENTILES))
    kth = np.unique(np.concatenate([ranks, wanted, [n]]) - 1)
    part = np.partition(latency, kth)
    pct = part[wanted - 1]
    span_us = float(result.batch_start[-1] + result.batch_service[-1] - result.arrival[0])
    arrival_span_us = float(result.arrival[-1] - result.arrival[0])
    summary = {
        "count": n,
        "mean_us": float(latency.mean()),
        "p50_us": float(pct[0]),
        "p90_us": float(pct[1]),
        "p99_us": float(pct[2]),
        "p99.9_us": float(pct[3]),
        "max_us": float(part[n - 1]),
        "throughput_per_s": float(units.count_to_rate(n, span_us)) if span_us > 0 else math.inf,
        "offered_rate_per_s": (
            float(units.count_to_rate(n - 1, arrival_span_us)) if arrival_span_us > 0 else math.inf
        ),
        "utilization": float(result.batch_service.sum() / span_us) if span_us > 0 else 1.0,
        "mean_batch": float(result.batch_size.mean()),
        "stable": result.stable,
    }
    return summary, levels, part[ranks - 1]


class BatchView(NamedTuple):
    """What the batch explorer shows for one setting (lesson 07): the run's summary (keys as
    in ``SimulationResult.summary``, latencies in µs), its latency curve (``levels``,
    ``quantiles_us``) and the capacity (events/s) of full batches of ``max_batch``."""

    scenario: str
    policy: str
    max_batch: int
    max_wait_us: float
    service: ServiceModel
    summary: dict
    levels: np.ndarray
    quantiles_us: np.ndarray
    capacity_per_s: float


def service_model(setup_us: float = 20.0, per_item_us: float = 2.0, cv: float = 0.5, seed=0):
    """The batch service of the explorers (lesson 07): ``(setup_us + per_item_us·k)·m`` µs
    with ``m`` lognormal of mean 1 and coefficient of variation ``cv`` (deterministic if 0)."""
    cv = validate.real("cv", cv, low=0, high=100.0)
    if cv == 0:
        return ServiceModel(setup_us, per_item_us, seed=seed)
    return ServiceModel(setup_us, per_item_us, "lognormal", cv=cv, seed=seed)


def _events(events) -> int:
    return validate.integer("events", events, low=2, high=MAX_EXPLORE_EVENTS)


def _instance(scenario: str, events: int, seed):
    return scenarios.get(scenario).instance(events, seed=seed)


def batch_view(
    scenario: str = "bursty",
    policy: str = "timeout",
    max_batch: int = 16,
    max_wait_us: float = 50.0,
    setup_us: float = 20.0,
    per_item_us: float = 2.0,
    cv: float = 0.5,
    seed=1,
    events: int = DEFAULT_EVENTS,
    points: int = 200,
) -> BatchView:
    """Simulate one batch-explorer setting (lesson 07).

    The scenario's arrivals (its first ``events``, from ``seed``) meet the service
    ``service_model(setup_us, per_item_us, cv)`` (seeded from the same ``seed``) under
    ``make_policy(policy, max_batch, max_wait_us)``.
    """
    events = _events(events)
    points = validate.integer("points", points, low=2, high=MAX_CURVE_POINTS)
    controller = make_policy(policy, max_batch, max_wait_us)
    instance = _instance(scenario, events, seed)
    service = service_model(setup_us, per_item_us, cv, seed=instance.service.seed)
    result = simulate(instance.arrivals, service, policy=controller)
    summary, levels, quantiles = _run_summary(result, points)
    return BatchView(
        scenario=scenario,
        policy=policy,
        max_batch=int(max_batch),
        max_wait_us=float(max_wait_us),
        service=service,
        summary=summary,
        levels=levels,
        quantiles_us=quantiles,
        capacity_per_s=service.capacity(min(int(max_batch), events)),
    )


class BurstView(NamedTuple):
    """What the burst explorer shows (lesson 07): the arrivals' rate over the first
    ``view_us`` µs (``window_start_us``, ``rate_per_s``), their index of dispersion over
    the whole trace in 1 ms windows (NaN if the trace spans fewer than two), and the
    latency summary and curve under the chosen policy."""

    process: MMPP
    dispersion: float
    window_start_us: np.ndarray
    rate_per_s: np.ndarray
    capacity_per_s: float
    summary: dict
    levels: np.ndarray
    quantiles_us: np.ndarray


def burst_view(
    calm_rate: float = 20_000.0,
    burst_rate: float = 200_000.0,
    mean_calm_us: float = 50_000.0,
    mean_burst_us: float = 5_000.0,
    seed=1,
    policy: str = "greedy",
    max_batch: int = 32,
    max_wait_us: float = 0.0,
    events: int = DEFAULT_EVENTS,
    view_us: float = 300_000.0,
    window_us: float = 1_000.0,
    points: int = 200,
) -> BurstView:
    """Simulate one burst-explorer setting (lesson 07).

    ``events`` arrivals of ``MMPP(calm_rate, burst_rate, mean_calm_us, mean_burst_us)`` from
    ``seed`` meet the scenarios' service (``(20 + 2·k)·m`` µs, ``m`` lognormal, cv 0.5,
    seeded from the same ``seed``) under ``make_policy(policy, max_batch, max_wait_us)``.
    The rate over time is shown for the first ``view_us`` µs in ``window_us`` windows.
    """
    events = _events(events)
    points = validate.integer("points", points, low=2, high=MAX_CURVE_POINTS)
    view_us = validate.real("view_us", view_us, low=1.0, high=traffic.MAX_TIME_US)
    window_us = validate.real("window_us", window_us, low=1.0, high=view_us)
    if view_us / window_us > MAX_VIEW_WINDOWS:
        raise ValueError(
            f"view_us / window_us = {view_us / window_us:.3g} windows, above "
            f"MAX_VIEW_WINDOWS = {MAX_VIEW_WINDOWS:,}: use a wider window_us"
        )
    controller = make_policy(policy, max_batch, max_wait_us)
    process = MMPP(calm_rate, burst_rate, mean_calm_us, mean_burst_us)
    traffic_seed, service_seed = scenarios.children(seed)
    arrivals = process.arrivals(events, seed=traffic_seed)
    service = scenarios.SERVICE.with_seed(service_seed)
    shown = arrivals[: np.searchsorted(arrivals, view_us, side="left")]
    starts = np.arange(0.0, view_us, window_us)
    counts = np.bincount((shown / window_us).astype(np.int64), minlength=starts.size)
    rate = units.count_to_rate(counts[: starts.size], window_us)
    dispersion = math.nan
    if arrivals[-1] >= 2 * 1_000.0:
        dispersion = traffic.index_of_dispersion(arrivals, 1_000.0)
    result = simulate(arrivals, service, policy=controller)
    summary, levels, quantiles = _run_summary(result, points)
    return BurstView(
        process=process,
        dispersion=dispersion,
        window_start_us=starts,
        rate_per_s=rate,
        capacity_per_s=service.capacity(min(int(max_batch), events)),
        summary=summary,
        levels=levels,
        quantiles_us=quantiles,
    )


def frontier(
    scenario: str = "bursty",
    setup_us: float = 20.0,
    per_item_us: float = 2.0,
    cv: float = 0.5,
    seed=1,
    events: int = 50_000,
    loads=LOADS,
    configs=None,
) -> pd.DataFrame:
    """Latency and throughput of many static settings at many loads (lesson 07).

    One trace of the scenario (its first ``events``, from ``seed``) is compressed in time
    by each load multiplier (arrival times divided by it: the same pattern at that multiple
    of the rate) and served by ``service_model(setup_us, per_item_us, cv)`` under every
    setting of ``configs``: ``(policy, max_batch, max_wait_us)`` tuples for
    :func:`make_policy`, or :class:`latency_lab.sweep.Config` objects (their policy and its
    parameters; their scenario, events and service are not used). Default: ``greedy`` and
    ``timeout`` over :data:`BATCH_SIZES` × :data:`WAITS`. One row per (load, config): ``load``,
    ``offered_per_s``, ``policy``, ``max_batch``, ``max_wait_us``, ``throughput_per_s``,
    ``p50_us``, ``p99_us``, ``p99.9_us``, ``stable``.
    """
    events = validate.integer("events", events, low=2, high=MAX_EXPLORE_EVENTS)
    loads = [validate.real("load", x, low=1e-3, high=1e3) for x in np.atleast_1d(loads)]
    if configs is None:
        configs = [("greedy", k, 0.0) for k in BATCH_SIZES]
        configs += [("timeout", k, w) for k in BATCH_SIZES for w in WAITS if w > 0]
    controllers = [_setting(item) for item in configs]
    if not loads or not controllers:
        raise ValueError("loads and configs must not be empty")
    runs = len(loads) * len(controllers)
    if runs > MAX_FRONTIER_RUNS or runs * events > 50 * traffic.MAX_EVENTS:
        raise ValueError(
            f"{runs:,} runs of {events:,} events is too much for a frontier: at most "
            f"{MAX_FRONTIER_RUNS:,} runs and {50 * traffic.MAX_EVENTS:,} events in all"
        )
    instance = _instance(scenario, events, seed)
    service = service_model(setup_us, per_item_us, cv, seed=instance.service.seed)
    rows = []
    for load in loads:
        arrivals = instance.arrivals / load
        for name, k, w, make in controllers:
            s = simulate(arrivals, service, policy=make()).summary()
            rows.append(
                {
                    "load": load,
                    "offered_per_s": s["offered_rate_per_s"],
                    "policy": name,
                    "max_batch": k,
                    "max_wait_us": w,
                    "throughput_per_s": s["throughput_per_s"],
                    "p50_us": s["p50_us"],
                    "p99_us": s["p99_us"],
                    "p99.9_us": s["p99.9_us"],
                    "stable": s["stable"],
                }
            )
    return pd.DataFrame(rows)


def _setting(item) -> tuple:
    """``(policy, max_batch, max_wait_us, controller factory)`` of one frontier setting."""
    if isinstance(item, sweep.Config):
        return item.policy, item.max_batch, item.max_wait_us, item.policy_object
    if isinstance(item, str | bytes) or not isinstance(item, tuple | list) or len(item) != 3:
        raise TypeError(
            "configs must hold (policy, max_batch, max_wait_us) tuples or sweep.Config "
            f"objects, got {type(item).__name__}"
        )
    policy, k, w = item
    make_policy(policy, k, w)  # checked once, here
    return policy, k, w, lambda: make_policy(policy, k, w)


def best_per_load(frame: pd.DataFrame, by: str = "p99_us") -> pd.DataFrame:
    """The frontier (lesson 07): at each load of a :func:`frontier` table, the stable row
    with the lowest ``by`` (a latency column); loads where nothing is stable are left out."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame from frontier(), got {type(frame).__name__}")
    missing = {"load", "stable", by} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks the columns {sorted(missing)}")
    stable = frame[frame["stable"].astype(bool)]
    if stable.empty:
        return stable
    return stable.loc[stable.groupby("load")[by].idxmin()].reset_index(drop=True)


class Traced:
    """A controller that records every decision of the one it wraps (lesson 07).

    It forwards ``reset``/``update`` (and ``interval_us``) to ``policy`` and keeps, per
    decision, the time, the queue depth and the latest batch the engine reported, and what
    ``policy`` decided. ``frame()`` returns them as a DataFrame (times in µs).
    """

    def __init__(self, policy):
        for name in ("reset", "update"):
            if not callable(getattr(policy, name, None)):
                raise TypeError("policy must be a controller with reset() and update(report)")
        self.policy = policy
        self.interval_us = getattr(policy, "interval_us", None)
        self._rows: list[tuple] = []

    def reset(self):
        self._rows = []
        decision = self.policy.reset()
        self._rows.append((math.nan, 0, 0, math.nan, math.nan, *decision))
        return decision

    def update(self, report: StepReport):
        decision = self.policy.update(report)
        self._rows.append(
            (report.time_us, report.queue_depth, report.size, report.service_us,
             report.oldest_latency_us, *decision)
        )  # fmt: skip
        return decision

    def frame(self) -> pd.DataFrame:
        """One row per decision: ``time_us``, ``queue_depth``, ``batch_size``,
        ``service_us``, ``oldest_latency_us`` (of the latest batch), ``max_batch``,
        ``max_wait_us`` (what was decided)."""
        columns = ["time_us", "queue_depth", "batch_size", "service_us", "oldest_latency_us",
                   "max_batch", "max_wait_us"]  # fmt: skip
        return pd.DataFrame(self._rows, columns=columns)


def batch_capacity(setup_us: float, per_item_us: float, k: int) -> float:
    """Events per second a server sustains with back-to-back batches of ``k`` (lesson 07):
    ``k / (setup_us + per_item_us·k)`` per µs."""
    k = validate.integer("k", k, low=1)
    return ServiceModel(setup_us, per_item_us).capacity(k)
