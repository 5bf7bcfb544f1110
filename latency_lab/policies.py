"""Batch-formation policies: static, greedy, timeout, AIMD and queue-depth (lessons 07–08).

A policy chooses ``(max_batch, max_wait_us)`` for the engine. Static policies choose once;
adaptive ones choose again after every batch from a :class:`~latency_lab.engine.BatchReport`.
All of them drive the one compiled engine through ``policy.drive(simulator)``, which is
what ``engine.simulate(arrivals, service, policy=...)`` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from latency_lab import validate
from latency_lab.engine import BatchReport, Simulator, _batching_params


class Policy:
    """Base class: ``reset()`` gives the first parameters, ``update(report)`` the next ones."""

    def reset(self) -> tuple[int, float]:
        raise NotImplementedError

    def update(self, report: BatchReport) -> tuple[int, float]:
        raise NotImplementedError

    def drive(self, sim: Simulator) -> None:
        """Run ``sim`` to the end, re-deciding the parameters after every batch."""
        max_batch, max_wait_us = _batching_params(*self.reset())
        while not sim.done:
            sim._advance(max_batch, max_wait_us, math.inf, 1)
            max_batch, max_wait_us = self.update(sim.last_batch())
            if not (max_batch >= 1 and max_wait_us >= 0):  # cheap guard; full check on failure
                _batching_params(max_batch, max_wait_us)


@dataclass(frozen=True)
class Static(Policy):
    """Fixed ``(max_batch, max_wait_us)``: the whole trace runs in one compiled call."""

    max_batch: int
    max_wait_us: float

    def __post_init__(self):
        _batching_params(self.max_batch, self.max_wait_us)

    def reset(self):
        return self.max_batch, self.max_wait_us

    def update(self, report):
        return self.max_batch, self.max_wait_us

    def drive(self, sim: Simulator) -> None:
        sim.run(self.max_batch, self.max_wait_us)


def greedy(max_batch: int) -> Static:
    """Start at once with whatever waits (up to ``max_batch``): never idle while work waits."""
    return Static(max_batch, 0.0)


def timeout(max_batch: int, max_wait_us: float) -> Static:
    """Wait for a full batch, but never longer than ``max_wait_us`` for the oldest event
    (Nagle's algorithm, NIC interrupt coalescing, Triton's and TF-Serving's max delay)."""
    return Static(max_batch, max_wait_us)


class AIMD(Policy):
    """Clipper's additive-increase / multiplicative-decrease batch sizing.

    After each batch, if its service time stayed within ``slo_us`` the batch size limit
    grows by ``increase``; otherwise it shrinks to ``decrease`` times itself. Like Clipper,
    it watches processing time only — queueing delay is invisible to it.
    """

    def __init__(self, slo_us: float, max_wait_us: float = 0.0, *, initial: int = 1,
                 increase: int = 1, decrease: float = 0.9, cap: int = 1024):  # fmt: skip
        self.slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
        self.cap = validate.integer("cap", cap, low=1)
        self.initial = validate.integer("initial", initial, low=1, high=self.cap)
        self.increase = validate.integer("increase", increase, low=1)
        self.decrease = validate.real("decrease", decrease, low=0, high=1, low_open=True)
        self.max_wait_us = _batching_params(1, max_wait_us)[1]

    def reset(self):
        self.size = float(self.initial)
        return self.initial, self.max_wait_us

    def update(self, report):
        if report.service_us <= self.slo_us:
            self.size = min(self.size + self.increase, self.cap)
        else:
            self.size = max(self.size * self.decrease, 1.0)
        return math.floor(self.size), self.max_wait_us


class QueueDepth(Policy):
    """Batch by backlog: with ``target`` or more waiting, take them all at once (up to
    ``cap``); with fewer, wait up to ``max_wait_us`` for ``target`` to accumulate."""

    def __init__(self, target: int, max_wait_us: float, cap: int = 1024):
        self.cap = validate.integer("cap", cap, low=1)
        self.target = validate.integer("target", target, low=1, high=self.cap)
        self.max_wait_us = _batching_params(1, max_wait_us)[1]

    def reset(self):
        return self.target, self.max_wait_us

    def update(self, report):
        if report.queue_depth >= self.target:
            return min(report.queue_depth, self.cap), 0.0
        return self.target, self.max_wait_us
