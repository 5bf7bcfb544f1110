"""Checkers of lesson 00 (welcome): why the tail matters when requests fan out."""

from __future__ import annotations

import math

import numpy as np

from latency_lab import stats
from latency_lab.checks.core import (
    NO_ANSWER,
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    number,
    whole,
)


@checker
def check_tail_probability(answer) -> Feedback:
    """Lesson 00: chance that a request fanning out to 50 services sees at least one p99."""
    if 1 < number(answer, "the probability") <= 100:
        return Feedback(False, "Give a probability between 0 and 1, not a percentage.")
    return close(
        answer,
        1 - 0.99**50,
        "1 - 0.99**50",
        "each call avoids its p99 with probability 0.99.",
    )


@checker
def check_fanout_for_even_odds(answer) -> Feedback:
    """Lesson 00: the smallest k for which a p99.9 event hits more than half of requests."""
    expected = math.ceil(math.log(0.5) / math.log(0.999))
    if whole(answer, "k") == expected:
        return Feedback(True, f"Correct: with k = {expected}, 1 - 0.999**k first exceeds 0.5.")
    return Feedback(
        False,
        f"{whole(answer, 'k')} is not it. Hint: solve 1 - 0.999**k > 0.5 for the smallest "
        "integer k.",
    )


# -- exercise 3: the fraction of actions that meet a slow call, from a latency matrix --------
def _slow_action_fraction(calls_us: np.ndarray, limit_us: float) -> float:
    """Lesson 00 reference: the fraction of actions (rows of ``calls_us``, one column per
    call) in which at least one call is slower than ``limit_us`` (strictly above it)."""
    return float(np.mean((calls_us > limit_us).any(axis=1)))


#: Typical wrong versions of :func:`_slow_action_fraction`, with the hint each deserves.
SLOW_ACTION_MISTAKES = (
    (
        lambda calls, limit: np.mean(calls > limit),
        "that is the fraction of slow calls. The question is about actions: a row counts "
        "once if any of its calls is slow.",
    ),
    (
        lambda calls, limit: np.mean((calls > limit).any(axis=0)),
        "that looks at columns. Each row is one action and each column one of its calls.",
    ),
    (
        lambda calls, limit: np.mean((calls >= limit).any(axis=1)),
        "a call exactly at the limit is not slower than it: compare with > rather than >=.",
    ),
    (
        lambda calls, limit: np.sum((calls > limit).any(axis=1)),
        "that is a count of actions; divide by the number of actions for a fraction.",
    ),
    (
        lambda calls, limit: 100 * np.mean((calls > limit).any(axis=1)),
        "return a fraction between 0 and 1, not a percentage.",
    ),
)


def slow_action_cases() -> list[tuple[np.ndarray, float]]:
    """Matrices the learner has not seen: ties at the limit, one call or one action,
    no slow call, only slow calls, integers, and seeded skewed latencies."""
    rng = np.random.default_rng(20240600)
    skewed = rng.lognormal(mean=np.log(20), sigma=0.6, size=(2_000, 20))
    wide = rng.lognormal(mean=np.log(50), sigma=1.0, size=(7, 300))
    return [
        (
            np.array(
                [
                    [1.0, 2.0, 3.0, 4.0],
                    [5.0, 1.0, 1.0, 1.0],
                    [4.0, 4.0, 4.0, 4.0],
                    [1.0, 9.0, 1.0, 1.0],
                ]
            ),
            4.0,
        ),
        (np.array([[3.0, 9.0, 1.0], [2.0, 2.0, 2.0], [8.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), 5.0),
        (np.arange(10.0).reshape(10, 1), 6.5),
        (np.arange(1.0, 501.0).reshape(1, 500), 499.0),
        (np.full((6, 4), 10.0), 20.0),
        (np.full((5, 8), 30.0), 20.0),
        (np.array([[120, 80, 95], [60, 70, 150], [99, 100, 101], [10, 20, 30]]), 100),
        (skewed, float(stats.percentiles(skewed.ravel(), 99))),
        (wide, 400.0),
    ]


def _describe_matrix(calls: np.ndarray, limit) -> str:
    rows, cols = calls.shape
    return (
        f"{rows:,} action{'s' if rows != 1 else ''} of {cols:,} call{'s' if cols != 1 else ''} "
        f"each (a {rows:,} × {cols:,} {calls.dtype} matrix) and limit_us={limit!r}"
    )


def _mistake_hint(mistakes, case, value: float, want: float) -> str | None:
    """The hint of the first typical mistake that gives ``value`` (and not ``want``) here."""
    for mistake, hint in mistakes:
        try:
            theirs = float(mistake(*case))
        except (ArithmeticError, ValueError, TypeError):
            continue
        if math.isclose(theirs, value, rel_tol=1e-6) and not math.isclose(
            theirs, want, rel_tol=1e-6
        ):
            return hint
    return None


@checker
def check_slow_action_fraction(func) -> Feedback:
    """Lesson 00: the learner's ``slow_action_fraction(calls_us, limit_us)`` against the
    reference, on matrices the learner has not seen."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: "
            "check_slow_action_fraction(slow_action_fraction)."
        )
    for case in slow_action_cases():
        calls, limit = case
        want = _slow_action_fraction(calls, limit)
        got = call_learner(func, calls.copy(), limit)
        if got is Ellipsis:
            return Feedback(False, NO_ANSWER)
        where = _describe_matrix(calls, limit)
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result for {where}")
        if math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12):
            continue
        hint = _mistake_hint(SLOW_ACTION_MISTAKES, case, value, want) or (
            "an action is slow if ANY of its calls (one row) is above limit_us; the answer "
            "is the share of such rows."
        )
        return Feedback(
            False, f"For {where} you returned {value:g}, expected {want:g}. Hint: {hint}"
        )
    return Feedback(
        True,
        "Correct on every hidden case: an action is as slow as its slowest call, so the "
        "share of slow actions grows with the number of calls.",
    )
