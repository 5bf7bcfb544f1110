"""The batching engine: one compiled, resumable simulator of a batching server (lessons 06–08).

Semantics. Arrivals ``a`` are sorted times in µs; there is one server. A batch of ``k``
events takes ``(setup_us + per_item_us·k)·m`` µs, with ``m = 1`` for deterministic service
or the ``b``-th draw of a seeded random multiplier with mean 1 for batch ``b``. With a
decision ``(max_batch, max_wait_us)``, when the server is free and an event waits, the next
batch starts at the earliest time at which ``max_batch`` events wait or the oldest waiting
event has waited ``max_wait_us`` (``0``: greedy; ``inf``: full batches only, except that once
the input is exhausted the remainder is served as a final partial batch), and takes the
``min(waiting, max_batch)`` oldest events (FIFO). Every event of a batch departs when the
batch completes: ``latency = departure − arrival``. A ``max_batch`` above the number of
events in the trace means that number.

Control. The kernel is resumable: :class:`Simulator` runs it until a time or a number of
batches, returns to Python, and continues with a new decision. The engine owns the control
loop and one controller protocol (:class:`Controller`): a first decision, then a new one
after every batch or every fixed interval of simulated time, from a :class:`StepReport` of
what happened. Every decision is validated and converted once, here, to
``(int, float)``, so a numpy integer never recompiles the kernel and a bad value is a
clear error. ``Simulator.drive`` runs that loop for a controller (static and adaptive
policies); a controller that offers its per-batch rule in compiled form
(:class:`CompiledRule`) is run without returning to Python between batches.
``Simulator.step`` is the same step for a caller who drives the engine from outside, one
decision at a time (the reinforcement-learning environment). Readers between
steps use ``Simulator.result(since_batch=...)`` or ``Simulator.latencies(since_batch)``,
whose cost is proportional to the batches they cover, not to the run so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
from numba import njit
from numba.core.dispatcher import Dispatcher

from latency_lab import stats, traffic, units, validate

DISTRIBUTIONS = ("deterministic", "exponential", "lognormal")

#: Largest setup or per-item cost (µs): one day, so no service time overflows a float.
MAX_SERVICE_US = 86_400 * units.US_PER_S
#: Largest coefficient of variation of a lognormal multiplier.
MAX_CV = 100.0

# Slots of the kernel's state arrays.
# int state: first unserved event, events arrived by the clock, batches, size of the last batch.
_HEAD, _ARRIVED, _BATCHES, _LAST_SIZE = 0, 1, 2, 3
# float state: time the server is free, earliest time a batch may start, the clock (when the
# last call stopped: the end of its time span, or the completion of its last batch), total
# service time, and the last batch's start, service time and oldest arrival.
_FREE, _NOW, _CLOCK, _BUSY, _LAST_START, _LAST_SERVICE, _LAST_OLDEST = range(7)
_FIRST_DRAWS = 4_096  # service multipliers drawn up front; doubled when used up


@dataclass(frozen=True)
class ServiceModel:
    """How long a batch of ``k`` takes (lesson 06): ``(setup_us + per_item_us · k) · m`` µs.

    Parameters
    ----------
    setup_us, per_item_us : float, in [0, MAX_SERVICE_US]
        Fixed cost per batch and cost per event, in µs; not both 0.
    distribution : {"deterministic", "exponential", "lognormal"}
        Law of the multiplier ``m``: always 1, Exp(1), or lognormal with mean 1 and
        coefficient of variation ``cv``.
    cv : float, in [0, MAX_CV]
        Coefficient of variation of ``m`` (lognormal only; exponential has cv = 1).
    seed : int >= 0, numpy.random.SeedSequence or None
        Seeds the multipliers; batch ``b`` always gets the ``b``-th draw, so results do not
        depend on how a run is split into resumed pieces. None draws fresh entropy, which is
        then kept in ``seed`` (a SeedSequence) so the run can be repeated.
    """

    setup_us: float
    per_item_us: float
    distribution: str = "deterministic"
    cv: float = 0.0
    seed: int | np.random.SeedSequence | None = 0

    def __post_init__(self):
        validate.real("setup_us", self.setup_us, low=0, high=MAX_SERVICE_US)
        validate.real("per_item_us", self.per_item_us, low=0, high=MAX_SERVICE_US)
        if self.setup_us + self.per_item_us == 0:
            raise ValueError("setup_us and per_item_us cannot both be 0")
        validate.one_of("distribution", self.distribution, DISTRIBUTIONS)
        validate.real("cv", self.cv, low=0, high=MAX_CV)
        if self.distribution != "lognormal" and self.cv != 0:
            raise ValueError(
                f"cv applies to the lognormal distribution only, not {self.distribution!r}"
            )
        sequence = validate.seed("seed", self.seed)
        if self.seed is None:
            object.__setattr__(self, "seed", sequence)
        object.__setattr__(self, "_sequence", sequence)

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The seed as a ``SeedSequence`` (what the multipliers are drawn from)."""
        return self._sequence

    def with_seed(self, seed) -> ServiceModel:
        """The same service with another seed (int >= 0, SeedSequence or None)."""
        return replace(self, seed=seed)

    @property
    def multiplier_cv(self) -> float:
        """Coefficient of variation of the multiplier ``m``."""
        return {"deterministic": 0.0, "exponential": 1.0}.get(self.distribution, self.cv)

    def mean_batch_us(self, k):
        """Mean service time (µs) of a batch of ``k`` events (a number or an array, >= 0)."""
        if np.ndim(k) == 0:
            k = validate.real("k", k, low=0)
        else:
            k = validate.samples("k", k)
            if (k < 0).any():
                raise ValueError("k must be >= 0")
        return self.setup_us + self.per_item_us * k

    def capacity(self, max_batch: int) -> float:
        """Highest sustainable throughput (events/s) with batches of ``max_batch``."""
        max_batch = validate.integer("max_batch", max_batch, low=1)
        return units.count_to_rate(max_batch, self.mean_batch_us(max_batch))

    def multipliers(self, count: int) -> np.ndarray:
        """The first ``count`` multipliers (empty for deterministic service: m = 1)."""
        count = validate.integer("count", count, low=0, high=traffic.MAX_EVENTS)
        return self._draw(np.random.default_rng(self._sequence), count)

    def _draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """The next ``count`` multipliers from ``rng``: drawing in pieces gives the same
        sequence as drawing at once, which is what keeps batch ``b`` on the ``b``-th draw."""
        if self.distribution == "deterministic":
            return np.empty(0)
        if self.distribution == "exponential":
            return rng.exponential(1.0, count)
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(-sigma2 / 2, math.sqrt(sigma2), count)


@njit(cache=True)
def run_kernel(
    arrivals, multipliers, setup_us, per_item_us, max_batch, max_wait_us, istate, fstate,
    batch_start, batch_size, batch_service, batch_backlog, until_us, max_batches,
):  # fmt: skip
    """The compiled core (lesson 06): form and serve batches until the next one would start
    after ``until_us``, or ``max_batches`` batches have been served, or the input is
    exhausted, or the batch records (or the drawn multipliers, if any) are used up.
    Returns the number of batches served by this call.

    It records batches only (start, size, service time, and the backlog each one left
    waiting); since batches take events in FIFO order, every per-event time follows from
    them. All state lives in the arrays passed in, so a later call continues exactly where
    this one stopped. Every index is bounded here: inconsistent sizes or state raise
    ``ValueError`` instead of reading or writing out of bounds.
    """
    n = arrivals.size
    capacity = batch_start.size
    if istate.size < 4 or fstate.size < 7:
        raise ValueError("run_kernel: istate needs 4 slots and fstate 7")
    if batch_size.size != capacity or batch_service.size != capacity:
        raise ValueError("run_kernel: the batch record arrays differ in size")
    if batch_backlog.size != capacity:
        raise ValueError("run_kernel: the batch record arrays differ in size")
    head, arrived, batches = istate[_HEAD], istate[_ARRIVED], istate[_BATCHES]
    if not (0 <= head <= arrived <= n and 0 <= batches <= capacity and max_batch >= 1):
        raise ValueError("run_kernel: inconsistent state or max_batch < 1")
    limit = capacity if multipliers.size == 0 else min(capacity, multipliers.size)
    max_batch = min(max_batch, n)  # more than the trace holds means the whole trace
    free_at, now, clock, busy = fstate[_FREE], fstate[_NOW], fstate[_CLOCK], fstate[_BUSY]
    served = 0
    stopped_by_time = False
    while head < n and served < max_batches and batches < limit:
        if max_batch <= n - head:  # (not head + max_batch <= n: that can overflow)
            trigger = min(arrivals[head + max_batch - 1], arrivals[head] + max_wait_us)
        else:
            trigger = arrivals[head] + max_wait_us
        if trigger == np.inf:  # waiting for a full batch that can never come
            trigger = arrivals[n - 1]
        s = max(free_at, trigger, now, arrivals[head])
        if s > until_us:
            stopped_by_time = True
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
        batch_backlog[batches] = arrived - head
        batches += 1
        served += 1
        busy += service
        now = s
    if stopped_by_time:
        now = max(now, until_us)
        clock = max(clock, until_us)
    elif head == n or served == max_batches:  # (not when stopped by the limit: to be resumed)
        clock = max(clock, free_at)
    # The next batch cannot start before the clock, so counting arrivals up to it is safe.
    while arrived < n and arrivals[arrived] <= clock:
        arrived += 1
    istate[_HEAD], istate[_ARRIVED], istate[_BATCHES] = head, arrived, batches
    fstate[_FREE], fstate[_NOW], fstate[_CLOCK], fstate[_BUSY] = free_at, now, clock, busy
    if batches > 0:
        k = batch_size[batches - 1]
        istate[_LAST_SIZE] = k
        fstate[_LAST_START] = batch_start[batches - 1]
        fstate[_LAST_SERVICE] = batch_service[batches - 1]
        fstate[_LAST_OLDEST] = arrivals[head - k]
    return served


class Decision(NamedTuple):
    """A controller's choice (lessons 07–08), validated: batches of at most ``max_batch``
    events, started once ``max_batch`` wait or the oldest has waited ``max_wait_us`` µs."""

    max_batch: int
    max_wait_us: float


def decision(max_batch, max_wait_us) -> Decision:
    """Check and convert ``(max_batch, max_wait_us)`` (lessons 06–08).

    ``max_batch`` is an integer >= 1 (numpy integers accepted; bool and 8.5 refused);
    ``max_wait_us`` is a number in [0, inf] (inf: wait for full batches; NaN and strings
    refused). Raises ``TypeError``/``ValueError`` naming the parameter.
    """
    return Decision(
        validate.integer("max_batch", max_batch, low=1),
        validate.real("max_wait_us", max_wait_us, low=0, allow_inf=True),
    )


def decision_interval(interval_us) -> float | None:
    """Check when a controller decides: None (after every batch) or ``interval_us`` µs > 0
    of simulated time (``inf``: once, for the whole trace)."""
    if interval_us is None:
        return None
    return validate.real("interval_us", interval_us, low=0, low_open=True, allow_inf=True)


class StepReport(NamedTuple):
    """What a controller sees after a step (lessons 07–08): totals, latest batch, queue.

    Times are µs of simulated time. A step is one batch (controllers deciding per batch) or
    one interval (controllers deciding every ``interval_us``), and may serve no batch at all.
    """

    time_us: float  #: when the step ended: the end of the interval, or the last batch's completion
    first_batch: int  #: index of the step's first batch: ``result(since_batch=first_batch)``
    batches: int  #: batches served during the step
    events: int  #: events served during the step
    busy_us: float  #: service time of the step's batches, summed
    size: int  #: size of the latest batch served so far (0 before the first)
    start_us: float  #: its start (NaN before the first batch)
    service_us: float  #: its service time (NaN before the first batch)
    oldest_latency_us: float  #: latency of its oldest event, the batch's worst (NaN before)
    queue_depth: int  #: events arrived by ``time_us`` and not yet in a batch
    done: bool  #: every event has been served


class Controller(Protocol):
    """The controller protocol (lessons 07–08): what ``Simulator.drive`` and
    ``simulate(policy=...)`` run.

    Attributes and methods
    ----------------------
    interval_us : None or float > 0 (may be inf); optional, default None
        When the controller decides again: None after every batch; a number every
        ``interval_us`` µs of simulated time (the batches in between keep the current
        decision); ``inf`` never (a static policy: the whole trace runs in one call).
    reset() -> (max_batch, max_wait_us)
        The first decision, taken at the first arrival.
    update(report: StepReport) -> (max_batch, max_wait_us)
        The next decision, from what the last step did. Not called after the last step.
    rule : CompiledRule or None; optional
        The same decisions as ``update`` in compiled form. A controller that decides after
        every batch and offers one (read after ``reset()``) is run without returning to
        Python between batches: the same run, with no Python call per batch (lesson 07's
        AIMD and queue-depth policies do this; ``benchmarks/bench_engine.py`` times both).

    Decisions may be any pair of numbers; the engine checks and converts them once
    (see :func:`decision`), and raises if one is not a valid decision.
    """

    def reset(self) -> tuple[int, float]: ...

    def update(self, report: StepReport) -> tuple[int, float]: ...


# -- compiled decision rules -------------------------------------------------------------
#: What ``report[i]`` holds for a decision rule: the i-th field of a StepReport (in compiled
#: code a float64 array, ``done`` as 1.0).
REPORT_FIELDS = StepReport._fields
_REPORT_SIZE = len(REPORT_FIELDS)


def _rule_array(name: str, value) -> np.ndarray:
    if not (isinstance(value, np.ndarray) and value.dtype == np.float64 and value.ndim == 1):
        raise TypeError(f"{name} must be a 1-D float64 array, got {type(value).__name__}")
    if not (value.flags.c_contiguous and value.flags.writeable):
        raise ValueError(f"{name} must be C-contiguous and writeable")
    return value


@dataclass(frozen=True)
class CompiledRule:
    """A controller's per-batch decisions in compiled form (lesson 07).

    ``driver(params, memory, state, max_batch, max_wait_us) -> (status, max_batch,
    max_wait_us)`` is a numba function that loops: :func:`serve_batch` under the current
    decision, read the report it wrote (``state[-1]``, indexed as ``REPORT_FIELDS``), decide,
    until ``serve_batch`` returns anything but ``SERVED`` (returned with the decision it
    was given) or the report says ``done`` (return ``DONE``). ``params`` and ``memory`` are the rule's
    constants and state (float64 arrays; ``memory`` is updated in place).
    ``Simulator.drive`` runs a controller offering a ``CompiledRule`` as ``controller.rule``
    without returning to Python between batches.
    """

    driver: Dispatcher
    params: np.ndarray
    memory: np.ndarray

    def __post_init__(self):
        if not isinstance(self.driver, Dispatcher):
            raise TypeError(
                f"driver must be a numba-compiled function, got {type(self.driver).__name__}"
            )
        _rule_array("params", self.params)
        _rule_array("memory", self.memory)


@njit(cache=True)
def _fill_report(out, istate, fstate, n, batches0, head0, busy0):
    """Write into ``out`` the StepReport of the step that began with ``batches0`` batches
    served, event ``head0`` first in line and ``busy0`` µs of service done (slots in
    ``REPORT_FIELDS`` order)."""
    head, arrived, batches = istate[_HEAD], istate[_ARRIVED], istate[_BATCHES]
    size = istate[_LAST_SIZE]
    start, service = fstate[_LAST_START], fstate[_LAST_SERVICE]
    out[0] = fstate[_CLOCK]
    out[1] = batches0
    out[2] = batches - batches0
    out[3] = head - head0
    out[4] = fstate[_BUSY] - busy0
    out[5] = size
    out[6] = start
    out[7] = service
    out[8] = start + service - fstate[_LAST_OLDEST]
    out[9] = arrived - head
    out[10] = 1.0 if head == n else 0.0


#: What serve_batch and a CompiledRule's driver return.
SERVED, DONE, NEEDS_DRAWS, REFUSED = 0, 1, 2, 3


@njit(cache=True)
def serve_batch(state, max_batch, max_wait_us):
    """Serve one batch under ``(max_batch, max_wait_us)`` from compiled code (lesson 07): a
    :class:`CompiledRule`'s driver calls it with the ``state`` the simulator passes, and
    finds the step's report in ``state[-1]`` (indexed as ``REPORT_FIELDS``). Returns
    ``SERVED``, ``DONE`` (every event was served already), ``NEEDS_DRAWS`` (the simulator
    must draw more service multipliers first) or ``REFUSED`` (not a valid decision: nothing
    served)."""
    arrivals, multipliers, setup_us, per_item_us, istate, fstate = state[:6]
    batch_start, batch_size, batch_service, batch_backlog, report = state[6:]
    if report.size != _REPORT_SIZE:
        raise ValueError("serve_batch: the report array must have one slot per REPORT_FIELDS")
    if not (max_batch >= 1 and max_wait_us >= 0.0):  # also catches NaN
        return REFUSED
    n = arrivals.size
    head0, batches0, busy0 = istate[_HEAD], istate[_BATCHES], fstate[_BUSY]
    if head0 == n:
        return DONE
    served = run_kernel(
        arrivals, multipliers, setup_us, per_item_us, max_batch, max_wait_us, istate, fstate,
        batch_start, batch_size, batch_service, batch_backlog, np.inf, 1,
    )  # fmt: skip
    if served == 0:
        return NEEDS_DRAWS
    _fill_report(report, istate, fstate, n, batches0, head0, busy0)
    return SERVED


class Simulator:
    """A resumable simulation (lessons 06–08): decide, run a while, decide again.

    The simulator keeps a private copy of the arrivals, so changing the caller's array later
    changes nothing. Three ways to drive it, all on the same compiled kernel:

    - ``run(max_batch, max_wait_us, until_us=..., max_batches=...)``: a stretch with one decision;
    - ``drive(controller)``: the engine's control loop for a :class:`Controller`;
    - ``step(max_batch, max_wait_us, interval_us=None)``: one step of that loop, for a caller
      who decides from outside; it returns the :class:`StepReport` that ``drive`` gives the
      controller.

    Examples
    --------
    >>> sim = Simulator(arrivals, ServiceModel(20, 2))
    >>> sim.run(max_batch=8, max_wait_us=50, until_us=10_000)   # the first 10 ms
    >>> report = sim.step(32, 100.0)                           # one batch, then look
    >>> window = sim.result(since_batch=report.first_batch)     # just that batch
    >>> recent = sim.latencies(report.first_batch)               # its latencies, compiled
    >>> sim.run(max_batch=32, max_wait_us=100)                 # the rest
    >>> result = sim.result()
    """

    def __init__(self, arrivals, service: ServiceModel):
        if not isinstance(service, ServiceModel):
            raise TypeError(f"service must be a ServiceModel, got {type(service).__name__}")
        if isinstance(arrivals, np.ndarray) and arrivals.size > traffic.MAX_EVENTS:
            raise ValueError(_too_many(arrivals.size))  # before converting anything
        times = traffic.validate_arrivals(arrivals)
        if times.size > traffic.MAX_EVENTS:
            raise ValueError(_too_many(times.size))
        # A private copy, so that changing the caller's array later changes nothing (not
        # needed when validation already built a new array, from a list or another dtype).
        fresh = times is not arrivals and times.base is None
        self._arrivals = times if fresh else times.copy()
        self.service = service
        n = self._n = times.size
        self._setup_us, self._per_item_us = float(service.setup_us), float(service.per_item_us)
        # One record per event at most; pages are only committed as batches are written.
        self._batch_start, self._batch_service = np.empty(n), np.empty(n)
        self._batch_size, self._batch_backlog = np.empty(n, np.int64), np.empty(n, np.int64)
        # Multipliers are drawn as the run needs them, in order: batch b gets the b-th draw.
        self._rng = np.random.default_rng(service.seed_sequence)
        stochastic = service.distribution != "deterministic"
        self._all_multipliers = np.empty(n if stochastic else 0)
        self._drawn = 0
        self._multipliers = self._all_multipliers[:0]
        if stochastic:
            self._draw_multipliers(min(n, _FIRST_DRAWS))
        self._istate = np.zeros(4, dtype=np.int64)
        self._istate[_ARRIVED] = np.searchsorted(times, times[0], side="right")  # by the clock
        self._fstate = np.array([-np.inf, -np.inf, times[0], 0.0, np.nan, np.nan, np.nan])
        self._report = np.empty(_REPORT_SIZE)  # filled by _fill_report

    def _draw_multipliers(self, count: int) -> None:
        """Draw the next ``count`` multipliers (at most one per event in all)."""
        end = min(self._drawn + count, self._n)
        self._all_multipliers[self._drawn : end] = self.service._draw(self._rng, end - self._drawn)
        self._drawn = end
        self._multipliers = self._all_multipliers[:end]

    # -- driving -----------------------------------------------------------------------
    def run(
        self, max_batch: int, max_wait_us: float, *, until_us: float = math.inf, max_batches=None
    ) -> int:
        """Serve batches with one decision until a batch would start after ``until_us``
        (µs; inf allowed), or ``max_batches`` batches are done, or every event is served.

        Returns the number of batches served by this call.
        """
        max_batch, max_wait_us = self._accept((max_batch, max_wait_us))
        until_us = validate.real("until_us", until_us, allow_inf=True)
        if max_batches is None:
            max_batches = self._n
        max_batches = validate.integer("max_batches", max_batches, low=0)
        return self._advance(max_batch, max_wait_us, until_us, min(max_batches, self._n))

    def step(self, max_batch: int, max_wait_us: float, *, interval_us=None) -> StepReport:
        """Apply a decision, advance one batch (``interval_us=None``) or ``interval_us`` µs of
        simulated time, and report what happened (lesson 08's environment steps this way).

        Once every event is served a step does nothing and reports ``done``.
        """
        max_batch, max_wait_us = self._accept((max_batch, max_wait_us))
        return self._step(max_batch, max_wait_us, decision_interval(interval_us))

    def drive(self, controller: Controller) -> None:
        """Run the trace to the end under ``controller``: its first decision, then a new one
        after every step (a batch, or ``controller.interval_us`` µs); see :class:`Controller`.
        """
        for name in ("reset", "update"):
            if not callable(getattr(controller, name, None)):
                raise TypeError(
                    f"controller must have reset() and update(report) methods; "
                    f"{type(controller).__name__} has no {name}()"
                )
        interval = decision_interval(getattr(controller, "interval_us", None))
        if interval is not None and math.isfinite(interval):
            steps = (self._arrivals[-1] - self.clock) / interval
            if steps > traffic.MAX_EVENTS:
                raise ValueError(
                    f"interval_us={interval:g} means ~{steps:,.0f} decisions over this trace, "
                    f"above MAX_EVENTS={traffic.MAX_EVENTS:,}"
                )
        max_batch, max_wait_us = self._accept(controller.reset())
        rule = getattr(controller, "rule", None) if interval is None else None
        if rule is not None:
            if not isinstance(rule, CompiledRule):
                raise TypeError(
                    f"controller.rule must be a CompiledRule, got {type(rule).__name__}"
                )
            return self._drive_compiled(rule, max_batch, max_wait_us)
        decisions = 1
        while True:
            report = self._step(max_batch, max_wait_us, interval)
            if report.done:
                return
            max_batch, max_wait_us = self._accept(controller.update(report))
            decisions += 1
            if decisions > traffic.MAX_EVENTS:
                raise ValueError(
                    f"the controller made more than MAX_EVENTS={traffic.MAX_EVENTS:,} "
                    "decisions without finishing the trace"
                )

    def _drive_compiled(self, rule: CompiledRule, max_batch: int, max_wait_us: float) -> None:
        while True:
            state = (
                self._arrivals, self._multipliers, self._setup_us, self._per_item_us,
                self._istate, self._fstate, self._batch_start, self._batch_size,
                self._batch_service, self._batch_backlog, self._report,
            )  # fmt: skip
            status, max_batch, max_wait_us = rule.driver(
                rule.params, rule.memory, state, max_batch, max_wait_us
            )
            if status == REFUSED:
                decision(max_batch, max_wait_us)  # raises, naming the refused parameter
            if status == DONE and self.done:
                return
            if status != NEEDS_DRAWS or self._drawn == self._n:
                raise RuntimeError(
                    f"the rule's driver stopped with status {status} and "
                    f"{self._n - self.served:,} events unserved"
                )
            self._draw_multipliers(self._drawn)

    def _accept(self, choice) -> tuple[int, float]:
        """A decision as ``(int, float)``, checked once, with ``max_batch`` capped at the
        trace length (more than the trace holds means the whole trace)."""
        try:
            max_batch, max_wait_us = choice
        except (TypeError, ValueError):
            raise TypeError(
                f"a decision must be a pair (max_batch, max_wait_us), got {type(choice).__name__}"
            ) from None
        if type(max_batch) is not int or type(max_wait_us) is not float:  # fast path otherwise
            max_batch, max_wait_us = decision(max_batch, max_wait_us)
        elif not (max_batch >= 1 and max_wait_us >= 0.0):  # also catches NaN
            max_batch, max_wait_us = decision(max_batch, max_wait_us)
        return (max_batch if max_batch <= self._n else self._n), max_wait_us

    def _step(self, max_batch: int, max_wait_us: float, interval_us: float | None) -> StepReport:
        head0, _, batches0, _ = self._istate.tolist()
        busy0 = self._fstate[_BUSY]
        if head0 < self._n:
            if interval_us is None:
                self._advance(max_batch, max_wait_us, math.inf, 1)
            else:
                until = self._fstate[_CLOCK] + interval_us
                self._advance(max_batch, max_wait_us, until, self._n)
        return self._report_since(batches0, head0, busy0)

    def _report_since(self, batches0: int, head0: int, busy0: float) -> StepReport:
        _fill_report(self._report, self._istate, self._fstate, self._n, batches0, head0, busy0)
        r = self._report.tolist()
        return StepReport(
            r[0], int(r[1]), int(r[2]), int(r[3]), r[4], int(r[5]), r[6], r[7], r[8], int(r[9]),
            r[10] == 1.0,
        )  # fmt: skip

    def _advance(self, max_batch: int, max_wait_us: float, until_us: float, max_batches: int):
        """Run the kernel with checked arguments, drawing more multipliers when used up."""
        served = 0
        while True:
            served += run_kernel(
                self._arrivals, self._multipliers, self._setup_us, self._per_item_us,
                max_batch, max_wait_us, self._istate, self._fstate, self._batch_start,
                self._batch_size, self._batch_service, self._batch_backlog, until_us,
                max_batches - served,
            )  # fmt: skip
            if not self._drawn or served >= max_batches:
                return served
            head, _, batches, _ = self._istate.tolist()
            if batches < self._drawn or head == self._n:
                return served  # stopped for a reason other than running out of multipliers
            self._draw_multipliers(self._drawn)

    # -- state -------------------------------------------------------------------------
    @property
    def arrivals(self) -> np.ndarray:
        """The simulator's own copy of the arrival times (µs), read-only."""
        return _frozen(self._arrivals)

    @property
    def events(self) -> int:
        """Number of events in the trace."""
        return self._n

    @property
    def done(self) -> bool:
        """True once every event has been served."""
        return bool(self._istate[_HEAD] == self._n)

    @property
    def served(self) -> int:
        """Events served so far (they are the first ``served`` arrivals)."""
        return int(self._istate[_HEAD])

    @property
    def batches(self) -> int:
        """Batches served so far: a marker for ``result(since_batch=...)``."""
        return int(self._istate[_BATCHES])

    @property
    def free_at(self) -> float:
        """When the server finishes its current batch (−inf before the first)."""
        return float(self._fstate[_FREE])

    @property
    def clock(self) -> float:
        """Simulated time (µs) at which the last step or run stopped (first arrival at start)."""
        return float(self._fstate[_CLOCK])

    def queue_depth(self, at_us: float) -> int:
        """Events that have arrived by ``at_us`` (µs) and are not yet in a batch."""
        at_us = validate.real("at_us", at_us, allow_inf=True)
        arrived = int(np.searchsorted(self._arrivals, at_us, side="right"))
        return max(arrived - self.served, 0)

    def report(self) -> StepReport:
        """What a controller would see now, without advancing (an empty step)."""
        head, _, batches, _ = self._istate.tolist()
        return self._report_since(batches, head, float(self._fstate[_BUSY]))

    def result(self, since_batch: int = 0) -> SimulationResult:
        """What was served in batches ``since_batch`` onwards, as a :class:`SimulationResult`.

        Its cost is proportional to the batches it covers, so a controller can read the
        latencies of the batches since its last look (``report.first_batch`` or an earlier
        ``sim.batches``) at every step. Arrays are read-only views, valid for good.
        """
        b = self.batches
        since_batch = validate.integer("since_batch", since_batch, low=0, high=b)
        sizes = self._batch_size[since_batch:b]
        last = self.served
        first = last - int(sizes.sum()) if since_batch else 0
        return SimulationResult._checked_by_engine(
            arrival=_frozen(self._arrivals[first:last]),
            batch_start=_frozen(self._batch_start[since_batch:b]),
            batch_size=_frozen(sizes),
            batch_service=_frozen(self._batch_service[since_batch:b]),
            batch_backlog=_frozen(self._batch_backlog[since_batch:b]),
            service=self.service,
            first_batch=since_batch,
        )

    def latencies(self, since_batch: int = 0) -> np.ndarray:
        """Latencies (µs) of the events served in batches ``since_batch`` onwards, in arrival
        order: ``result(since_batch).latency`` in one compiled pass over those batches, for
        a controller that reads them at every step."""
        b = int(self._istate[_BATCHES])
        if type(since_batch) is not int or not 0 <= since_batch <= b:
            since_batch = validate.integer("since_batch", since_batch, low=0, high=b)
        return _window_latencies(
            self._arrivals, self._batch_start, self._batch_size, self._batch_service,
            since_batch, b, int(self._istate[_HEAD]),
        )  # fmt: skip


@njit(cache=True)
def _window_latencies(arrivals, batch_start, batch_size, batch_service, first, last, head):
    """Latencies of the events of batches ``first..last-1``, whose last event is ``head - 1``."""
    count = 0
    for b in range(first, last):
        count += batch_size[b]
    out = np.empty(count)
    j = head - count
    if j < 0 or head > arrivals.size:
        raise ValueError("_window_latencies: batches and events disagree")
    for b in range(first, last):
        departure = batch_start[b] + batch_service[b]
        for _ in range(batch_size[b]):
            out[j - (head - count)] = departure - arrivals[j]
            j += 1
    return out


def _too_many(n: int) -> str:
    return f"{n:,} events is above MAX_EVENTS={traffic.MAX_EVENTS:,}; simulate a shorter trace"


def _frozen(view: np.ndarray) -> np.ndarray:
    """A read-only view: served events and batches never change, so no copy is needed."""
    view = view.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class SimulationResult:
    """What a run (or a window of it) served (lesson 06): batch records, per-event arrays (µs).

    ``batch_backlog[i]`` is the number of events left waiting when batch ``i`` started (after
    it took its events). The per-event arrays (``start``, ``departure``, ``latency``,
    ``wait``, ``batch_id``) are computed on first use from the batch records, and all arrays
    are read-only. ``first_batch`` is the index of the first batch covered (0 for a whole
    run), so ``batch_id`` counts from it.
    """

    arrival: np.ndarray
    batch_start: np.ndarray
    batch_size: np.ndarray
    batch_service: np.ndarray
    batch_backlog: np.ndarray
    service: ServiceModel
    first_batch: int = 0

    def __post_init__(self):
        if not isinstance(self.service, ServiceModel):
            raise TypeError(f"service must be a ServiceModel, got {type(self.service).__name__}")
        first = validate.integer("first_batch", self.first_batch, low=0, high=traffic.MAX_EVENTS)
        object.__setattr__(self, "first_batch", first)
        for name, kinds in [("arrival", "f"), ("batch_start", "f"), ("batch_service", "f"),
                            ("batch_size", "iu"), ("batch_backlog", "iu")]:  # fmt: skip
            array = np.asarray(getattr(self, name))  # arrays stay as they are, not copied
            if array.dtype.kind not in kinds or array.ndim != 1:
                raise TypeError(f"{name} must be a 1-D array of dtype kind {kinds!r}")
            object.__setattr__(self, name, array)
        b = self.batch_start.size
        for name in ("batch_size", "batch_service", "batch_backlog"):
            if getattr(self, name).size != b:
                raise ValueError(f"{name} must have one entry per batch ({b})")
        if int(self.batch_size.sum()) != self.arrival.size or (self.batch_size < 1).any():
            raise ValueError("batch_size must be >= 1 and add up to the number of arrivals")

    @classmethod
    def _checked_by_engine(cls, **fields) -> SimulationResult:
        """A result from the simulator's own records, which need no checks (they are what
        makes ``result()`` cheap enough to call at every step)."""
        result = object.__new__(cls)
        result.__dict__.update(fields)
        return result

    def _per_event(self, per_batch: np.ndarray) -> np.ndarray:
        return _frozen(np.repeat(per_batch, self.batch_size))

    @cached_property
    def batch_id(self) -> np.ndarray:
        """Index of the batch each event was served in."""
        return self._per_event(np.arange(self.first_batch, self.first_batch + self.batch_size.size))

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

    @cached_property
    def stable(self) -> bool:
        """Whether the server kept up with the arrivals, judged from this run alone.

        Rule: the run is stable if, in the second half of the arrival span (from the
        midpoint between the first and last arrival to the last arrival, inclusive), some
        batch started that left no event waiting — the queue emptied there. An overloaded
        server never empties its queue once the backlog has built up, whatever batch sizes
        a controller tried earlier; a server that keeps up empties it again and again. One
        event is stable; two or more arriving at the same instant are not (infinite rate).
        A short trace that ends inside a long burst can be reported unstable: that is what
        this run shows.
        """
        n = self.arrival.size
        if n <= 1:
            return True
        first, last = float(self.arrival[0]), float(self.arrival[-1])
        if last == first:
            return False
        lo = np.searchsorted(self.batch_start, (first + last) / 2, side="left")
        hi = np.searchsorted(self.batch_start, last, side="right")
        return bool((self.batch_backlog[lo:hi] == 0).any())

    def summary(self) -> dict[str, float]:
        """Latency statistics and how the server coped (lesson 06).

        Keys: ``count``; ``mean_us``, ``std_us``, ``min_us``, ``p50_us``, ``p90_us``,
        ``p99_us``, ``p99.9_us``, ``max_us`` (latency); ``throughput_per_s`` (events served
        per second from the first arrival to the last departure); ``offered_rate_per_s``
        (arrivals per second over the arrival span; inf if all arrive at once);
        ``utilization`` (busy fraction over the same span as throughput); ``batches``;
        ``mean_batch``; ``stable`` (see :attr:`stable`).
        """
        if self.arrival.size == 0:
            raise ValueError("nothing was served yet: run the simulator first")
        out = stats.summary(self.latency, unit="us")
        n = self.arrival.size
        span_us = float(self.departure[-1] - self.arrival[0])  # departures never go backwards
        arrival_span_us = float(self.arrival[-1] - self.arrival[0])
        if n == 1:
            offered_rate = 0.0
        elif arrival_span_us > 0:
            offered_rate = units.count_to_rate(n - 1, arrival_span_us)
        else:  # every event arrived at the same instant
            offered_rate = math.inf
        out.update(
            throughput_per_s=float(units.count_to_rate(n, span_us)) if span_us > 0 else math.inf,
            offered_rate_per_s=float(offered_rate),
            utilization=float(self.batch_service.sum() / span_us) if span_us > 0 else 1.0,
            batches=int(self.batch_size.size),
            mean_batch=float(self.batch_size.mean()),
            stable=self.stable,
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
        """One row per batch: start, size, service time and the backlog it left."""
        return pd.DataFrame(
            {
                "start_us": self.batch_start,
                "size": self.batch_size,
                "service_us": self.batch_service,
                "backlog": self.batch_backlog,
            },
            index=pd.RangeIndex(self.first_batch, self.first_batch + self.batch_size.size),
        )


def simulate(
    arrivals, service: ServiceModel, max_batch: int = 1, max_wait_us: float = 0.0, policy=None
) -> SimulationResult:
    """Simulate the batching server over a whole trace (lesson 06).

    With ``policy=None`` the decision ``(max_batch, max_wait_us)`` is static. With a
    controller (see :class:`Controller` and :mod:`latency_lab.policies`) the engine asks it
    for a decision before the first batch and after every step, and ``max_batch`` and
    ``max_wait_us`` here are ignored (but still checked).
    """
    decision(max_batch, max_wait_us)
    sim = Simulator(arrivals, service)
    if policy is None:
        sim.run(max_batch, max_wait_us)
    else:
        sim.drive(policy)
    return sim.result()
