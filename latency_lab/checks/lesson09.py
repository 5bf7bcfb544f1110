"""Checkers of lesson 09 (hunting latency spikes): a staggered period for a periodic job, the
spike detector's per-operation breakdown, and how many updates run two jobs at once."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from latency_lab.checks.core import (
    Feedback,
    Rejected,
    call_learner,
    checker,
    describe,
    same_as_reference,
    whole,
)


def _function(func, example: str) -> None:
    if not callable(func):
        raise Rejected(f"Pass your function itself, not {describe(func)}: e.g. {example}.")


# -- exercise 1: a staggered period ---------------------------------------------------------
_OTHER_PERIODS = (1_000, 750)  # the snapshot and the risk check
_HORIZON = 100_000
_LOW, _HIGH = 490, 510


@checker
def check_stagger_period(answer) -> Feedback:
    """Lesson 09: a display period from 490 to 510 updates that, over the first 100,000
    updates, never lands on an update that also runs the snapshot (every 1,000) or the risk
    check (every 750). Any such period passes."""
    period = whole(answer, "the display's period (a whole number of updates)")
    if not _LOW <= period <= _HIGH:
        return Feedback(
            False,
            f"{period} is outside {_LOW}–{_HIGH}: the display must still refresh about every "
            "500 updates. Hint: try the numbers in that range near 500.",
        )
    for other, name in zip(_OTHER_PERIODS, ("snapshot", "risk check"), strict=True):
        meet = math.lcm(period, other)
        if meet <= _HORIZON:
            times = _HORIZON // meet
            times = "once" if times == 1 else f"{times:,} times"
            return Feedback(
                False,
                f"With a period of {period}, the display and the {name} (every {other:,}) "
                f"both run every lcm({period}, {other:,}) = {meet:,} updates: "
                f"{times} in {_HORIZON:,} updates. Hint: two periods meet "
                "every least common multiple of the two; a period sharing no factor with "
                "1,000 and 750 (2, 3 and 5) pushes it past 100,000.",
            )
    meets = ", ".join(f"lcm({period}, {o:,}) = {math.lcm(period, o):,}" for o in _OTHER_PERIODS)
    return Feedback(
        True,
        f"Correct: {meets}, both beyond {_HORIZON:,}, so the display never shares an update "
        "with the other two jobs in that span.",
    )


# -- exercise 2: the detector's breakdown ----------------------------------------------------
def _reference_breakdown(samples_ns: Mapping[str, np.ndarray], threshold_ns) -> dict[str, int]:
    """Slow iterations (sum over operations > threshold) per culprit: the operation whose
    sample exceeds that operation's median by most (ties: the first in the mapping)."""
    names = list(samples_ns)
    matrix = np.column_stack([np.asarray(samples_ns[name]) for name in names])
    slow = matrix.sum(axis=1) > threshold_ns
    excess = matrix[slow] - np.median(matrix, axis=0)
    counts = np.bincount(excess.argmax(axis=1), minlength=len(names)) if slow.any() else []
    return {name: int(counts[j]) if slow.any() else 0 for j, name in enumerate(names)}


def breakdown_cases() -> list[tuple[str, dict[str, np.ndarray], int]]:
    """The (description, samples_ns, threshold_ns) cases ``check_spike_breakdown`` judges:
    odd lengths, so every way of taking a median gives the same value."""
    rng = np.random.default_rng(9)
    cases = []

    def ops(n, spec):
        return {name: rng.integers(low, high, n) for name, (low, high) in spec.items()}

    base = ops(1_001, {"parse": (1_800, 2_200), "book": (600, 900), "log": (1_500, 1_900)})
    base["log"][99::100] += 200_000  # a flush every 100 updates
    base["book"][[17, 444, 901]] += 150_000  # three rebuilds
    cases.append(("a loop with flushes and rebuilds", base, 50_000))

    heavy = ops(501, {"book": (52_000, 54_000), "signal": (200, 300)})
    heavy["signal"][[10, 20, 30]] += 50_000  # below book's normal, yet the iteration's spike
    cases.append(("a slow book and a signal that spikes", heavy, 100_000))

    quiet = ops(301, {"a": (100, 200), "b": (100, 200)})
    cases.append(("no spikes at all", quiet, 10_000))

    edge = {"x": np.full(101, 1_000), "y": np.full(101, 1_000)}
    edge["x"][5] += 8_000  # total exactly 10,000: not above the threshold
    edge["y"][7] += 8_001  # total 10,001: above it
    cases.append(("an iteration exactly at the threshold", edge, 10_000))

    tie = {"p": np.full(51, 500), "q": np.full(51, 700), "r": np.full(51, 300)}
    tie["q"][3] += 40_000
    tie["r"][3] += 40_000  # q and r exceed their medians by as much: q comes first
    cases.append(("a tie between two operations", tie, 20_000))

    many = ops(2_001, {f"op{k}": (1_000, 3_000) for k in range(6)})
    for k in range(6):
        many[f"op{k}"][rng.choice(2_001, 5 + 3 * k, replace=False)] += 60_000 + 5_000 * k
    cases.append(("six operations, random spikes", many, 40_000))
    return cases


def _as_counts(got, names: list[str], where: str) -> dict[str, float]:
    if got is None:
        raise Rejected(f"For {where} your function returned None: did you forget `return`?")
    if hasattr(got, "to_dict") and not isinstance(got, Mapping):  # a pandas Series
        got = got.to_dict()
    if not isinstance(got, Mapping):
        raise Rejected(
            f"For {where} your function returned {describe(got)}: return a dict mapping each "
            "operation's name to its number of spikes."
        )
    counts = {}
    for key, value in got.items():
        counts[key] = whole(value, f"the count of {key!r} for {where}")
    missing = [name for name in names if name not in counts]
    extra = [key for key in counts if key not in names]
    if extra:
        raise Rejected(
            f"For {where} your dict has keys {extra!r} that are not operations: use the keys "
            f"of samples_ns ({names!r})."
        )
    if missing:
        raise Rejected(
            f"For {where} your dict has no entry for {missing!r}: include every operation, "
            "with 0 when it caused no spike."
        )
    return counts


def _breakdown_hint(got: dict, want: dict, where: str) -> str:
    return (
        f"For {where} you returned {got}, expected {want}. Hint: an iteration is slow when "
        "the sum of its operations is above threshold_ns (strictly); its culprit is the "
        "operation whose sample exceeds that operation's own median (np.median over all "
        "iterations) by most — not the largest sample — and ties go to the first operation."
    )


@checker
def check_spike_breakdown(func) -> Feedback:
    """Lesson 09: ``func(samples_ns, threshold_ns)`` takes a dict of per-iteration samples
    per operation (numpy int arrays of equal length) and returns a dict: for every operation,
    how many slow iterations (sum over operations > ``threshold_ns``) it was the culprit of —
    the operation whose sample exceeded its own median by most (ties: the first)."""
    _function(func, "check_spike_breakdown(breakdown)")
    for description, samples_ns, threshold_ns in breakdown_cases():
        want = _reference_breakdown(samples_ns, threshold_ns)
        copies = {name: values.copy() for name, values in samples_ns.items()}
        got = call_learner(func, copies, threshold_ns)
        where = f"{description} (threshold_ns={threshold_ns:,})"
        counts = _as_counts(got, list(samples_ns), where)
        if counts != want:
            return Feedback(False, _breakdown_hint(counts, want, where))
    return Feedback(
        True,
        "Correct: each slow iteration is charged to the operation that rose furthest above "
        "its own normal, so a spike in a cheap operation is not hidden by an expensive one.",
    )


# -- exercise 3: updates that run two jobs ---------------------------------------------------
def _reference_coinciding(periods, updates) -> int:
    due = np.zeros(updates + 1, dtype=np.int64)
    for period in periods:
        due[period::period] += 1
    return int((due[1:] >= 2).sum())


_COINCIDING_CASES = [
    ((500, 1_000), 20_000),
    ((503, 1_000), 20_000),
    ((2, 3), 12),
    ((500, 750, 1_000), 100_000),
    ((4, 6, 10), 600),
    ((7,), 100),
    ((5, 5), 20),
    ((1, 2, 3), 6),
    ((503, 1_000, 997), 1_000_000),
    ((12, 18, 30, 45), 10_000),
    ((1_000, 2_000), 999),
]


@checker
def check_coinciding_jobs(func) -> Feedback:
    """Lesson 09: ``func(periods, updates)`` returns how many of the updates numbered 1 to
    ``updates`` run at least two of the periodic jobs (a job with period p runs on updates
    p, 2p, 3p, ...)."""
    return same_as_reference(
        func,
        _COINCIDING_CASES,
        _reference_coinciding,
        describe_case=lambda periods, updates: f"periods={periods}, updates={updates:,}",
        hint="count each update once, however many jobs it runs (with three jobs, an update "
        "where all three meet is one update, not three pairs); a single job never coincides "
        "with itself; two jobs with the same period meet on every one of its updates.",
        success="Correct: counting updates directly (or with inclusion–exclusion over least "
        "common multiples) shows how rarely well-chosen periods meet.",
    )


__all__ = ["check_coinciding_jobs", "check_spike_breakdown", "check_stagger_period"]
