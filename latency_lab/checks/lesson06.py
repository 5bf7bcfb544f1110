"""Checkers of lesson 06 (queueing theory): M/M/1 waiting time and Little's law."""

from __future__ import annotations

from latency_lab import queueing, units
from latency_lab.checks.core import Feedback, checker, close


@checker
def check_mm1_wait(answer) -> Feedback:
    """Lesson 06: M/M/1 mean queueing delay at 40,000 events/s and a 20 µs mean service."""
    return close(
        answer,
        queueing.mm1_mean_wait(40_000, 20),
        "the mean wait in µs",
        "rho = λ·E[S] = 0.8; the mean wait is rho/(1 - rho) · E[S].",
    )


@checker
def check_littles_law(answer) -> Feedback:
    """Lesson 06: mean latency with 12 orders in the system on average at 60,000 orders/s."""
    return close(
        answer,
        12 / 60_000 * units.US_PER_S,
        "the mean latency in µs",
        "Little's law L = λ·W, so W = L/λ; mind the units (events per second, µs).",
    )
