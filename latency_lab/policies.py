"""Batch-formation policies: static, greedy, timeout, AIMD, queue-depth, and the classic
timeout checked only on arrival (lessons 07–08).

Every policy is a controller in the engine's protocol (:class:`latency_lab.engine.Controller`):
``reset()`` gives the first decision ``(max_batch, max_wait_us)``, ``update(report)`` the
next one from a :class:`~latency_lab.engine.StepReport`, and ``interval_us`` says when the
engine asks again (None: after every batch; ``inf``: never, so a static policy runs the
whole trace in one compiled call). The engine owns the loop:
``engine.simulate(arrivals, service, policy=...)`` or ``Simulator.drive(policy)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from latency_lab import engine, traffic, validate
from latency_lab.engine import StepReport


def _wait(max_wait_us) -> float:
    return validate.real("max_wait_us", max_wait_us, low=0, allow_inf=True)


class Policy:
    """Base of the course's policies (lesson 07): ``reset()`` gives the first decision,
    ``update(report)`` the next ones; ``interval_us`` (None: per batch) says when."""

    interval_us: float | None = None

    def reset(self) -> tuple[int, float]:
        raise NotImplementedError

    def update(self, report: StepReport) -> tuple[int, float]:
        raise NotImplementedError


@dataclass(frozen=True)
class Static(Policy):
    """Fixed ``(max_batch, max_wait_us)`` (lesson 07): the whole trace runs in one compiled call."""

    max_batch: int
    max_wait_us: float
    interval_us: ClassVar[float] = math.inf  # decide once

    def __post_init__(self):
        max_batch, max_wait_us = engine.decision(self.max_batch, self.max_wait_us)
        object.__setattr__(self, "max_batch", max_batch)
        object.__setattr__(self, "max_wait_us", max_wait_us)

    def reset(self) -> tuple[int, float]:
        return self.max_batch, self.max_wait_us

    def update(self, report: StepReport) -> tuple[int, float]:
        return self.max_batch, self.max_wait_us


def greedy(max_batch: int) -> Static:
    """Greedy (lesson 07): start at once with whatever waits (up to ``max_batch``), so the
    server never idles while work waits."""
    return Static(max_batch, 0.0)


def timeout(max_batch: int, max_wait_us: float) -> Static:
    """Timeout (lesson 07): wait for a full batch, but never longer than ``max_wait_us`` for
    the oldest event (Nagle's algorithm, NIC interrupt coalescing, Triton's and TF-Serving's
    max delay)."""
    return Static(max_batch, max_wait_us)


_BATCHES = engine.REPORT_FIELDS.index("batches")
_SERVICE_US = engine.REPORT_FIELDS.index("service_us")
_QUEUE_DEPTH = engine.REPORT_FIELDS.index("queue_depth")


class RulePolicy(Policy):
    """A policy whose ``update`` is a decision rule that the engine also runs compiled
    (lesson 07), without returning to Python between batches (see ``engine.CompiledRule``).

    Subclasses give ``_function`` (the rule, a numba function), ``_driver`` (its entry into
    the engine's loop), ``_params()`` (its constants as a tuple of numbers, read from the
    attributes at every use) and ``_memory`` (its state). ``update`` runs the rule's Python
    source, the engine its compiled form. A subclass that overrides ``update`` offers no
    rule, so the engine calls its ``update`` instead; so does setting ``compiled = False``
    (the same run, through the engine's Python loop).
    """

    _function: ClassVar
    _driver: ClassVar
    _memory: np.ndarray
    compiled: bool = True

    def _params(self) -> tuple[float, ...]:
        raise NotImplementedError

    def update(self, report: StepReport) -> tuple[int, float]:
        if not isinstance(report, StepReport):
            raise TypeError(f"report must be a StepReport, got {type(report).__name__}")
        return self._function.py_func(self._params(), self._memory, report)

    @property
    def rule(self) -> engine.CompiledRule | None:
        """The compiled form of ``update`` (None if ``compiled`` is false or a subclass
        overrides ``update``)."""
        if not self.compiled or type(self).update is not RulePolicy.update:
            return None
        params = np.array(self._params(), dtype=np.float64)
        return engine.CompiledRule(self._driver, params, self._memory)


@njit(cache=True)
def _aimd(params, memory, report):
    slo_us, max_wait_us, increase = params[0], params[1], params[2]
    decrease, cap = params[3], params[4]
    if report[_BATCHES] > 0:
        if report[_SERVICE_US] <= slo_us:
            memory[0] = min(memory[0] + increase, cap)
        else:
            memory[0] = max(memory[0] * decrease, 1.0)
    return math.floor(memory[0]), max_wait_us


@njit(cache=True)
def _queue_depth(params, memory, report):
    target, max_wait_us, cap = int(params[0]), params[1], int(params[2])
    depth = int(report[_QUEUE_DEPTH])
    if depth >= target:
        return min(depth, cap), 0.0
    return target, max_wait_us


_AIMD_RULE, _QUEUE_DEPTH_RULE = 0, 1  # which rule _drive runs
_DONE = engine.REPORT_FIELDS.index("done")


@njit(cache=True)
def _drive(rule, params, memory, state, max_batch, max_wait_us):
    """The engine's per-batch loop with one of this module's rules, in compiled code."""
    report = state[-1]
    while True:
        status = engine.serve_batch(state, max_batch, max_wait_us)
        if status != engine.SERVED or report[_DONE] == 1.0:
            return (engine.DONE if status == engine.SERVED else status), max_batch, max_wait_us
        if rule == _AIMD_RULE:
            max_batch, max_wait_us = _aimd(params, memory, report)
        else:
            max_batch, max_wait_us = _queue_depth(params, memory, report)


@njit(cache=True)
def _aimd_driver(params, memory, state, max_batch, max_wait_us):
    return _drive(_AIMD_RULE, params, memory, state, max_batch, max_wait_us)


@njit(cache=True)
def _queue_depth_driver(params, memory, state, max_batch, max_wait_us):
    return _drive(_QUEUE_DEPTH_RULE, params, memory, state, max_batch, max_wait_us)


class AIMD(RulePolicy):
    """Clipper's additive-increase / multiplicative-decrease batch sizing (lesson 07).

    After each batch, if its service time stayed within ``slo_us`` the batch size limit
    grows by ``increase``; otherwise it shrinks to ``decrease`` times itself (never below
    1, never above ``cap``). Like Clipper, it watches processing time only — queueing delay
    is invisible to it. With ``interval_us`` it decides every ``interval_us`` µs from the
    latest batch instead, and keeps its limit through an interval that served no batch.
    """

    _function = staticmethod(_aimd)
    _driver = staticmethod(_aimd_driver)

    def __init__(self, slo_us: float, max_wait_us: float = 0.0, *, initial: int = 1,
                 increase: int = 1, decrease: float = 0.9, cap: int = 1024,
                 interval_us: float | None = None):  # fmt: skip
        self.slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
        self.cap = validate.integer("cap", cap, low=1, high=traffic.MAX_EVENTS)
        self.initial = validate.integer("initial", initial, low=1, high=self.cap)
        self.increase = validate.integer("increase", increase, low=1, high=traffic.MAX_EVENTS)
        self.decrease = validate.real("decrease", decrease, low=0, high=1, low_open=True)
        self.max_wait_us = _wait(max_wait_us)
        self.interval_us = engine.decision_interval(interval_us)
        self._memory = np.array([float(self.initial)])

    @property
    def size(self) -> float:
        """The current batch size limit, before rounding down."""
        return float(self._memory[0])

    def _params(self) -> tuple[float, ...]:
        return self.slo_us, self.max_wait_us, self.increase, self.decrease, self.cap

    def reset(self) -> tuple[int, float]:
        self._memory[0] = self.initial
        return self.initial, self.max_wait_us


class QueueDepth(RulePolicy):
    """Batch by backlog (lesson 07): with ``target`` or more waiting, take them all at once (up to
    ``cap``); with fewer, wait up to ``max_wait_us`` for ``target`` to accumulate."""

    _function = staticmethod(_queue_depth)
    _driver = staticmethod(_queue_depth_driver)

    def __init__(self, target: int, max_wait_us: float, cap: int = 1024, *,
                 interval_us: float | None = None):  # fmt: skip
        self.cap = validate.integer("cap", cap, low=1, high=traffic.MAX_EVENTS)
        self.target = validate.integer("target", target, low=1, high=self.cap)
        self.max_wait_us = _wait(max_wait_us)
        self.interval_us = engine.decision_interval(interval_us)
        self._memory = np.empty(0)

    def _params(self) -> tuple[float, ...]:
        return self.target, self.max_wait_us, self.cap

    def reset(self) -> tuple[int, float]:
        return self.target, self.max_wait_us


class ArrivalCheckedTimeout:
    """The classic adaptive batcher that checks its timeout only when an item arrives
    (lesson 07), as a controller of the engine.

    The classic code appends each arriving item and flushes when ``max_batch`` wait or the
    oldest has waited ``max_wait_us`` — but it only looks when an item arrives. So a batch
    whose deadline passes in a quiet moment leaves at the *next arrival* after the deadline
    (or at the end of the trace). The engine's timeout is exact; this controller turns the
    lazy check into the engine's terms: before every batch it sets the wait to the time from
    the oldest waiting event to the first arrival at or after its deadline. Same server,
    same FIFO; only the moment the timeout is noticed differs.
    """

    def __init__(self, arrivals, max_batch: int, max_wait_us: float):
        self.arrivals = traffic.validate_arrivals(arrivals).copy()
        self.max_batch = validate.integer("max_batch", max_batch, low=1)
        self.max_wait_us = validate.real("max_wait_us", max_wait_us, low=0)
        self._head = 0

    def _decision(self) -> tuple[int, float]:
        a, head = self.arrivals, self._head
        if head >= a.size:
            return self.max_batch, math.inf
        deadline = a[head] + self.max_wait_us
        j = int(np.searchsorted(a, deadline, side="left"))
        if j >= a.size:
            return self.max_batch, math.inf  # no arrival to notice it: the end flushes
        wait = float(a[j] - a[head])
        if a[head] + wait < a[j]:  # keep the noticing arrival inside the batch's window
            wait = float(np.nextafter(wait, math.inf))
        return self.max_batch, wait

    def reset(self) -> tuple[int, float]:
        self._head = 0
        return self._decision()

    def update(self, report: StepReport) -> tuple[int, float]:
        if not isinstance(report, StepReport):
            raise TypeError(f"report must be a StepReport, got {type(report).__name__}")
        self._head += report.events
        return self._decision()
