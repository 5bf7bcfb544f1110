"""The batching engine: one compiled, resumable simulator of a batching server (lessons 06–08).

Semantics (the course's contract, DESIGN.md "Engine semantics"): arrivals ``a`` are sorted
times in µs; one server; a batch of ``k`` events takes ``(setup_us + per_item_us·k)·m``.
With parameters ``(max_batch, max_wait_us)``, when the server is free and an event waits,
the next batch starts at the earliest time at which ``max_batch`` events wait or the oldest
has waited ``max_wait_us`` (``0``: greedy; ``inf``: full batches, plus a final partial batch
once the input is exhausted), and takes the ``min(waiting, max_batch)`` oldest events.
Every event of a batch departs when the batch completes.

The kernel is resumable: :class:`Simulator` runs it until a time or a number of batches,
returns to Python, and continues with new parameters. Static runs, adaptive policies and
the reinforcement-learning environment all drive this one kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from latency_lab import stats, traffic, units, validate

#: Memory one simulation's arrays may take (its inputs, batch records and per-event views).
MEMORY_CAP_BYTES = 2 * 1024**3
_BYTES_PER_EVENT = 8 * 9  # arrival, multiplier, 3 batch records, 4 per-event views (worst case)
DISTRIBUTIONS = ("deterministic", "exponential", "lognormal")

# Indices into the kernel's state arrays.
# int state: first unserved event, first event not arrived by the last batch start, batches.
_HEAD, _ARRIVED, _BATCHES = 0, 1, 2
_FREE, _NOW = 0, 1  # float state: time the server is free, earliest time a batch may start


@dataclass(frozen=True)
class ServiceModel:
    """How long a batch takes: ``(setup_us + per_item_us · k) · m`` for a batch of ``k``.

    Parameters
    ----------
    setup_us, per_item_us : float, >= 0
        Fixed cost per batch and cost per event, in µs.
    distribution : {"deterministic", "exponential", "lognormal"}
        Law of the multiplier ``m``: always 1, Exp(1), or lognormal with mean 1 and
        coefficient of variation ``cv``.
    cv : float, >= 0
        Coefficient of variation of ``m`` (lognormal only; exponential has cv = 1).
    seed : int or None
        Seeds the multipliers; batch ``b`` always gets the ``b``-th draw, so results do not
        depend on how a run is split into resumed pieces.
    """

    setup_us: float
    per_item_us: float
    distribution: str = "deterministic"
    cv: float = 0.0
    seed: int | None = 0

    def __post_init__(self):
        validate.real("setup_us", self.setup_us, low=0)
        validate.real("per_item_us", self.per_item_us, low=0)
        if self.setup_us + self.per_item_us == 0:
            raise ValueError("setup_us and per_item_us cannot both be 0")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}"
            )
        validate.real("cv", self.cv, low=0)
        if self.distribution != "lognormal" and self.cv not in (0, 0.0):
            raise ValueError(
                f"cv applies to the lognormal distribution only, not {self.distribution!r}"
            )

    @property
    def multiplier_cv(self) -> float:
        """Coefficient of variation of the multiplier ``m``."""
        return {"deterministic": 0.0, "exponential": 1.0}.get(self.distribution, self.cv)

    def mean_batch_us(self, k) -> float:
        """Mean service time of a batch of ``k`` events."""
        return self.setup_us + self.per_item_us * k

    def capacity(self, max_batch: int) -> float:
        """Highest sustainable throughput (events/s) with batches of ``max_batch``."""
        return units.count_to_rate(max_batch, self.mean_batch_us(max_batch))

    def multipliers(self, count: int) -> np.ndarray:
        """The first ``count`` multipliers (empty for deterministic service: m = 1)."""
        rng = np.random.default_rng(self.seed)
        if self.distribution == "deterministic":
            return np.empty(0)
        if self.distribution == "exponential":
            return rng.exponential(1.0, count)
        sigma2 = np.log1p(self.cv**2)
        return rng.lognormal(-sigma2 / 2, np.sqrt(sigma2), count)


@njit(cache=True)
def run_kernel(
    arrivals, multipliers, setup_us, per_item_us, max_batch, max_wait_us,
    istate, fstate, batch_start, batch_size, batch_service, until_us, max_batches,
):  # fmt: skip
    """Form and serve batches until the next one would start after ``until_us``, or
    ``max_batches`` batches have been served, or the input is exhausted.

    It records batches only (start, size, service time); since batches take events in
    FIFO order, every per-event time follows from them. All state lives in the arrays
    passed in, so a later call continues exactly where this one stopped. Returns the
    number of batches served by this call.
    """
    n = arrivals.size
    head, arrived, batches = istate[_HEAD], istate[_ARRIVED], istate[_BATCHES]
    free_at, now = fstate[_FREE], fstate[_NOW]
    served = 0
    while head < n and served < max_batches:
        if head + max_batch <= n:
            trigger = min(arrivals[head + max_batch - 1], arrivals[head] + max_wait_us)
        else:
            trigger = arrivals[head] + max_wait_us
        if trigger == np.inf:  # waiting for a full batch that can never come
            trigger = arrivals[n - 1]
        s = max(free_at, trigger, now, arrivals[head])
        if s > until_us:
            now = max(now, until_us)
            break
        while arrived < n and arrivals[arrived] <= s:
            arrived += 1
        k = min(arrived - head, max_batch)
        service = setup_us + per_item_us * k
        if multipliers.size > 0:
            service *= multipliers[batches]
        free_at = s + service
        batch_start[batches] = s
        batch_size[batches] = k
        batch_service[batches] = service
        head += k
        batches += 1
        served += 1
        now = s
    istate[_HEAD], istate[_ARRIVED], istate[_BATCHES] = head, arrived, batches
    fstate[_FREE], fstate[_NOW] = free_at, now
    return served


@njit(cache=True)
def _arrived_by(arrivals, known, t) -> int:
    """Number of arrivals at or before ``t``, scanning forward from ``known`` of them."""
    while known < arrivals.size and arrivals[known] <= t:
        known += 1
    return known


def _batching_params(max_batch, max_wait_us) -> tuple[int, float]:
    max_batch = validate.integer("max_batch", max_batch, low=1)
    if isinstance(max_wait_us, bool) or not isinstance(max_wait_us, int | float | np.number):
        raise TypeError(f"max_wait_us must be a number, got {type(max_wait_us).__name__}")
    if not max_wait_us >= 0:  # also rejects NaN
        raise ValueError(f"max_wait_us must be in [0, inf], got {max_wait_us}")
    return max_batch, float(max_wait_us)


class BatchReport(NamedTuple):
    """One finished batch, as adaptive policies and the RL environment observe it."""

    start_us: float
    size: int
    service_us: float
    oldest_latency_us: float  # latency of the batch's oldest event: the batch's worst
    queue_depth: int  # events waiting when the batch completes


class Simulator:
    """A resumable simulation: run for a while, change ``(max_batch, max_wait_us)``, go on.

    Examples
    --------
    >>> sim = Simulator(arrivals, ServiceModel(20, 2))
    >>> sim.run(max_batch=8, max_wait_us=50, until_us=10_000)   # the first 10 ms
    >>> sim.run(max_batch=32, max_wait_us=100)                 # the rest, bigger batches
    >>> result = sim.result()
    """

    def __init__(self, arrivals, service: ServiceModel):
        self.arrivals = traffic.validate_arrivals(arrivals)
        if not isinstance(service, ServiceModel):
            raise TypeError(f"service must be a ServiceModel, got {type(service).__name__}")
        n = self.arrivals.size
        if n * _BYTES_PER_EVENT > MEMORY_CAP_BYTES:
            raise ValueError(
                f"{n:,} events need ~{n * _BYTES_PER_EVENT / 1024**3:.1f} GiB, above "
                f"MEMORY_CAP_BYTES={MEMORY_CAP_BYTES / 1024**3:.0f} GiB; simulate a shorter trace"
            )
        self.service = service
        self._setup_us, self._per_item_us = float(service.setup_us), float(service.per_item_us)
        self._multipliers = service.multipliers(n)
        self._batch_start, self._batch_service = np.empty(n), np.empty(n)
        self._batch_size = np.empty(n, dtype=np.int64)
        self._istate = np.zeros(3, dtype=np.int64)
        self._fstate = np.array([-np.inf, -np.inf])
        self.largest_max_batch = 1

    # -- driving -----------------------------------------------------------------------
    def run(self, max_batch: int, max_wait_us: float, *, until_us=np.inf, max_batches=None) -> int:
        """Serve batches with these parameters until a batch would start after
        ``until_us``, or ``max_batches`` batches are done, or every event is served.

        Returns the number of batches served by this call.
        """
        max_batch, max_wait_us = _batching_params(max_batch, max_wait_us)
        if max_batches is None:
            max_batches = self.arrivals.size
        max_batches = validate.integer("max_batches", max_batches, low=0)
        until_us = float(until_us)
        if np.isnan(until_us):
            raise ValueError("until_us must be a time in µs, got NaN")
        return self._advance(max_batch, max_wait_us, until_us, max_batches)

    def _advance(
        self, max_batch: int, max_wait_us: float, until_us: float, max_batches: int
    ) -> int:
        """``run`` without argument checks, for controllers that call it once per batch."""
        if max_batch > self.largest_max_batch:
            self.largest_max_batch = max_batch
        return run_kernel(
            self.arrivals, self._multipliers, self._setup_us, self._per_item_us,
            max_batch, max_wait_us, self._istate, self._fstate,
            self._batch_start, self._batch_size, self._batch_service, until_us, max_batches,
        )  # fmt: skip

    # -- state -------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once every event has been served."""
        return bool(self._istate[_HEAD] == self.arrivals.size)

    @property
    def served(self) -> int:
        """Events served so far (they are the first ``served`` arrivals)."""
        return int(self._istate[_HEAD])

    @property
    def batches(self) -> int:
        """Batches served so far."""
        return int(self._istate[_BATCHES])

    @property
    def free_at(self) -> float:
        """When the server finishes its current batch (−inf before the first)."""
        return float(self._fstate[_FREE])

    def queue_depth(self, at_us: float) -> int:
        """Events that have arrived by ``at_us`` and are not yet in a batch."""
        served = self.served
        return _arrived_by(self.arrivals, served, float(at_us)) - served

    def last_batch(self) -> BatchReport:
        """What a controller sees after a batch: its size, timing and the queue it leaves."""
        if self.batches == 0:
            raise ValueError("no batch has been served yet")
        head, arrived, b = self._istate.tolist()
        start, service = self._batch_start[b - 1].item(), self._batch_service[b - 1].item()
        size = self._batch_size[b - 1].item()
        return BatchReport(
            start_us=start,
            size=size,
            service_us=service,
            oldest_latency_us=start + service - self.arrivals[head - size].item(),
            queue_depth=_arrived_by(self.arrivals, arrived, start + service) - head,
        )

    def result(self) -> SimulationResult:
        """Everything served so far, as a :class:`SimulationResult` (read-only views)."""
        n, b = self.served, self.batches
        return SimulationResult(
            arrival=_frozen(self.arrivals[:n]),
            batch_start=_frozen(self._batch_start[:b]),
            batch_size=_frozen(self._batch_size[:b]),
            batch_service=_frozen(self._batch_service[:b]),
            service=self.service,
            largest_max_batch=self.largest_max_batch,
        )


def _frozen(view: np.ndarray) -> np.ndarray:
    """A read-only view: served events and batches never change, so no copy is needed."""
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class SimulationResult:
    """What a run served: per-batch records and, derived from them, per-event arrays (µs).

    The per-event arrays (``start``, ``departure``, ``latency``, ``wait``, ``batch_id``)
    are computed on first use from the batch records, and all arrays are read-only.
    """

    arrival: np.ndarray
    batch_start: np.ndarray
    batch_size: np.ndarray
    batch_service: np.ndarray
    service: ServiceModel
    largest_max_batch: int = 1

    def _per_event(self, per_batch: np.ndarray) -> np.ndarray:
        return _frozen(np.repeat(per_batch, self.batch_size))

    @cached_property
    def batch_id(self) -> np.ndarray:
        """Index of the batch each event was served in."""
        return self._per_event(np.arange(self.batch_size.size))

    @cached_property
    def start(self) -> np.ndarray:
        """When each event's batch started."""
        return self._per_event(self.batch_start)

    @cached_property
    def departure(self) -> np.ndarray:
        """When each event's batch completed."""
        return self._per_event(self.batch_start + self.batch_service)

    @cached_property
    def latency(self) -> np.ndarray:
        """Departure minus arrival."""
        return _frozen(self.departure - self.arrival)

    @property
    def wait(self) -> np.ndarray:
        """Time each event spent queued before its batch started."""
        return self.start - self.arrival

    def summary(self) -> dict[str, float]:
        """Latency percentiles (µs) plus throughput (events/s), utilization, batch sizes
        and the offered load against the largest batch size used (≥ 1 means unstable)."""
        if self.arrival.size == 0:
            raise ValueError("nothing was served yet: run the simulator first")
        out = stats.summary(self.latency)
        n = self.arrival.size
        span_us = self.departure[-1] - self.arrival[0]  # departures never go backwards
        arrival_span_us = self.arrival[-1] - self.arrival[0]
        if n == 1:
            offered_rate = 0.0
        elif arrival_span_us > 0:
            offered_rate = units.count_to_rate(n - 1, arrival_span_us)
        else:  # every event arrived at the same instant
            offered_rate = np.inf
        offered_load = offered_rate / self.service.capacity(self.largest_max_batch)
        out.update(
            throughput=float(units.count_to_rate(n, span_us)) if span_us > 0 else np.inf,
            utilization=float(self.batch_service.sum() / span_us) if span_us > 0 else 1.0,
            batches=int(self.batch_size.size),
            mean_batch=float(self.batch_size.mean()),
            offered_load=float(offered_load),
            stable=bool(offered_load < 1),
        )
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per event: arrival, start, departure, latency, wait, batch id."""
        return pd.DataFrame(
            {
                "arrival_us": self.arrival,
                "start_us": self.start,
                "departure_us": self.departure,
                "latency_us": self.latency,
                "wait_us": self.wait,
                "batch_id": self.batch_id,
            }
        )

    def batches_frame(self) -> pd.DataFrame:
        """One row per batch: start, size and service time."""
        return pd.DataFrame(
            {
                "start_us": self.batch_start,
                "size": self.batch_size,
                "service_us": self.batch_service,
            }
        )


def simulate(
    arrivals, service: ServiceModel, max_batch: int = 1, max_wait_us: float = 0.0, policy=None
) -> SimulationResult:
    """Simulate the batching server over a whole trace.

    With ``policy=None`` the parameters are static. With a policy (see
    :mod:`latency_lab.policies`), the policy chooses ``(max_batch, max_wait_us)`` before
    every batch from what the simulator shows it, and ``max_batch``/``max_wait_us`` here
    are ignored.
    """
    sim = Simulator(arrivals, service)
    if policy is None:
        sim.run(max_batch, max_wait_us)
    else:
        policy.drive(sim)
    return sim.result()
