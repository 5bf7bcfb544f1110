"""Batch-formation policies: static, greedy, timeout, AIMD and queue-depth (lessons 07–08).

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

from latency_lab import engine, validate
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


class AIMD(Policy):
    """Clipper's additive-increase / multiplicative-decrease batch sizing (lesson 07).

    After each batch, if its service time stayed within ``slo_us`` the batch size limit
    grows by ``increase``; otherwise it shrinks to ``decrease`` times itself (never below
    1, never above ``cap``). Like Clipper, it watches processing time only — queueing delay
    is invisible to it. With ``interval_us`` it decides every ``interval_us`` µs from the
    latest batch instead, and keeps its limit through an interval that served no batch.
    """

    def __init__(self, slo_us: float, max_wait_us: float = 0.0, *, initial: int = 1,
                 increase: int = 1, decrease: float = 0.9, cap: int = 1024,
                 interval_us: float | None = None):  # fmt: skip
        self.slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
        self.cap = validate.integer("cap", cap, low=1)
        self.initial = validate.integer("initial", initial, low=1, high=self.cap)
        self.increase = validate.integer("increase", increase, low=1)
        self.decrease = validate.real("decrease", decrease, low=0, high=1, low_open=True)
        self.max_wait_us = _wait(max_wait_us)
        self.interval_us = engine.decision_interval(interval_us)
        self.size = float(self.initial)

    def reset(self) -> tuple[int, float]:
        self.size = float(self.initial)
        return self.initial, self.max_wait_us

    def update(self, report: StepReport) -> tuple[int, float]:
        if not isinstance(report, StepReport):
            raise TypeError(f"report must be a StepReport, got {type(report).__name__}")
        if report.batches > 0:
            if report.service_us <= self.slo_us:
                self.size = min(self.size + self.increase, self.cap)
            else:
                self.size = max(self.size * self.decrease, 1.0)
        return math.floor(self.size), self.max_wait_us


class QueueDepth(Policy):
    """Batch by backlog (lesson 07): with ``target`` or more waiting, take them all at once (up to
    ``cap``); with fewer, wait up to ``max_wait_us`` for ``target`` to accumulate."""

    def __init__(self, target: int, max_wait_us: float, cap: int = 1024, *,
                 interval_us: float | None = None):  # fmt: skip
        self.cap = validate.integer("cap", cap, low=1)
        self.target = validate.integer("target", target, low=1, high=self.cap)
        self.max_wait_us = _wait(max_wait_us)
        self.interval_us = engine.decision_interval(interval_us)

    def reset(self) -> tuple[int, float]:
        return self.target, self.max_wait_us

    def update(self, report: StepReport) -> tuple[int, float]:
        if not isinstance(report, StepReport):
            raise TypeError(f"report must be a StepReport, got {type(report).__name__}")
        if report.queue_depth >= self.target:
            return min(report.queue_depth, self.cap), 0.0
        return self.target, self.max_wait_us
