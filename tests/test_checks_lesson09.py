"""Lesson 09's checkers: the reference solutions pass in any reasonable form, typical wrong
answers fail with a hint that names their mistake, and an unanswered stub says so."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from latency_lab import checks, stats
from latency_lab.checks import lesson09


# -- exercise 1: a staggered period -----------------------------------------------------------
@pytest.mark.parametrize("right", [503, 499, 501, 491, np.int64(509), 503.0, np.array(503)])
def test_stagger_period_accepts_any_period_that_never_meets(right):
    feedback = checks.check_stagger_period(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (500, "lcm(500, 1,000) = 1,000"),
        (498, "the risk check (every 750)"),
        (510, "51,000 updates: once in"),
        (505, "lcm(505, 750) = 75,750"),
        (490, "lcm(490, 1,000) = 49,000"),
        (1_009, "outside"),
        (503.5, "whole number"),
        ("503", "without quotes"),
    ],
)
def test_stagger_period_rejects_periods_that_meet_or_are_out_of_range(wrong, says):
    feedback = checks.check_stagger_period(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_stagger_period_without_an_answer():
    assert checks.check_stagger_period(...).message.startswith("No answer yet")


# -- exercise 2: the detector's breakdown ------------------------------------------------------
def breakdown(samples_ns, threshold_ns):
    """The solution in lessons/solutions/09_hunting_latency_spikes.md."""
    names = list(samples_ns)
    matrix = np.column_stack([samples_ns[name] for name in names])
    slow = matrix[matrix.sum(axis=1) > threshold_ns]
    excess = slow - np.median(matrix, axis=0)
    culprits = excess.argmax(axis=1)
    return {name: int((culprits == j).sum()) for j, name in enumerate(names)}


def breakdown_loops(samples_ns, threshold_ns):
    """Plain Python, statistics.median, numpy integer counts: the same answer."""
    names = list(samples_ns)
    medians = {name: statistics.median(samples_ns[name].tolist()) for name in names}
    counts = dict.fromkeys(names, np.int64(0))
    for i in range(len(samples_ns[names[0]])):
        if sum(int(samples_ns[name][i]) for name in names) > threshold_ns:
            culprit = max(names, key=lambda name: samples_ns[name][i] - medians[name])
            counts[culprit] += 1
    return counts


def breakdown_series(samples_ns, threshold_ns):
    """A pandas Series of floats, nearest-rank medians: any reasonable form passes."""
    frame = pd.DataFrame(samples_ns)
    medians = {name: stats.percentiles(frame[name].to_numpy(), 50) for name in frame}
    slow = frame[frame.sum(axis=1) > threshold_ns]
    culprits = (slow - pd.Series(medians)).idxmax(axis=1)
    return culprits.value_counts().reindex(frame.columns, fill_value=0).astype(float)


@pytest.mark.parametrize("right", [breakdown, breakdown_loops, breakdown_series])
def test_spike_breakdown_accepts_right_functions(right):
    feedback = checks.check_spike_breakdown(right)
    assert feedback.passed, feedback.message


def largest_sample(samples_ns, threshold_ns):
    names = list(samples_ns)
    matrix = np.column_stack([samples_ns[name] for name in names])
    culprits = matrix[matrix.sum(axis=1) > threshold_ns].argmax(axis=1)
    return {name: int((culprits == j).sum()) for j, name in enumerate(names)}


def at_or_above(samples_ns, threshold_ns):
    names = list(samples_ns)
    matrix = np.column_stack([samples_ns[name] for name in names])
    slow = matrix[matrix.sum(axis=1) >= threshold_ns]
    culprits = (slow - np.median(matrix, axis=0)).argmax(axis=1)
    return {name: int((culprits == j).sum()) for j, name in enumerate(names)}


def last_of_ties(samples_ns, threshold_ns):
    names = list(samples_ns)
    matrix = np.column_stack([samples_ns[name] for name in names])
    excess = matrix[matrix.sum(axis=1) > threshold_ns] - np.median(matrix, axis=0)
    culprits = len(names) - 1 - excess[:, ::-1].argmax(axis=1)
    return {name: int((culprits == j).sum()) for j, name in enumerate(names)}


def only_culprits(samples_ns, threshold_ns):
    counts = breakdown(samples_ns, threshold_ns)
    return {name: count for name, count in counts.items() if count}


def every_op_above_its_median(samples_ns, threshold_ns):
    names = list(samples_ns)
    matrix = np.column_stack([samples_ns[name] for name in names])
    slow = matrix[matrix.sum(axis=1) > threshold_ns]
    above = slow > np.median(matrix, axis=0)
    return {name: int(above[:, j].sum()) for j, name in enumerate(names)}


def forgot_return(samples_ns, threshold_ns):
    breakdown(samples_ns, threshold_ns)


@pytest.mark.parametrize(
    "wrong, says",
    [
        (largest_sample, "not the largest sample"),
        (at_or_above, "strictly"),
        (last_of_ties, "ties go to the first"),
        (only_culprits, "include every operation"),
        (every_op_above_its_median, "Hint"),
        (forgot_return, "return"),
        (lambda s, t: [1, 2], "return a dict"),
        (lambda s, t: {"nope": 1}, "not operations"),
        (lambda s, t: 1 / 0, "ZeroDivisionError"),
        (42, "function itself"),
    ],
)
def test_spike_breakdown_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_spike_breakdown(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_spike_breakdown_does_not_let_the_learner_change_the_cases():
    def vandal(samples_ns, threshold_ns):
        for values in samples_ns.values():
            values[:] = 0
        return {name: 0 for name in samples_ns}

    assert not checks.check_spike_breakdown(vandal).passed
    assert checks.check_spike_breakdown(breakdown).passed


def test_spike_breakdown_stub_is_no_answer_yet():
    def breakdown(samples_ns, threshold_ns): ...

    assert checks.check_spike_breakdown(breakdown).message.startswith("No answer yet")


def test_the_cases_tell_the_usual_mistakes_apart():
    """Each case matters: without it, one of the wrong answers above would pass."""
    cases = {description: (s, t) for description, s, t in lesson09.breakdown_cases()}
    reference = lesson09._reference_breakdown
    for description, wrong in [
        ("a slow book and a signal that spikes", largest_sample),
        ("an iteration exactly at the threshold", at_or_above),
        ("a tie between two operations", last_of_ties),
    ]:
        samples, threshold = cases[description]
        assert wrong(samples, threshold) != reference(samples, threshold), description
    assert sum(reference(*cases["no spikes at all"]).values()) == 0


# -- exercise 3: updates that run two jobs -----------------------------------------------------
def coinciding(periods, updates):
    """The solution in lessons/solutions/09_hunting_latency_spikes.md."""
    return sum(1 for u in range(1, updates + 1) if sum(u % p == 0 for p in periods) >= 2)


def coinciding_numpy(periods, updates):
    u = np.arange(1, updates + 1)
    due = sum((u % p == 0).astype(np.int64) for p in periods)
    return np.int64((due >= 2).sum())


def coinciding_inclusion_exclusion(periods, updates):
    """Updates where at least two jobs run, by inclusion–exclusion over the pairs' lcms."""
    from itertools import combinations

    total = 0
    n = len(periods)
    for k in range(2, n + 1):
        for group in combinations(periods, k):
            sign = (-1) ** k * (k - 1)  # ≥2 of n: Σ_k (−1)^k (k−1) Σ|A_group|
            total += sign * (updates // math.lcm(*group))
    return total


@pytest.mark.parametrize("right", [coinciding, coinciding_numpy, coinciding_inclusion_exclusion])
def test_coinciding_jobs_accepts_right_functions(right):
    feedback = checks.check_coinciding_jobs(right)
    assert feedback.passed, feedback.message


def pairs_of_lcms(periods, updates):
    from itertools import combinations

    return sum(updates // math.lcm(a, b) for a, b in combinations(periods, 2))


def first_two_only(periods, updates):
    return updates // math.lcm(*periods[:2]) if len(periods) > 1 else 0


def from_zero(periods, updates):
    return sum(1 for u in range(updates + 1) if sum(u % p == 0 for p in periods) >= 2)


@pytest.mark.parametrize(
    "wrong, says",
    [
        (pairs_of_lcms, "count each update once"),
        (first_two_only, "Hint"),
        (from_zero, "Hint"),
        (lambda periods, updates: None, "return"),
        (42, "function itself"),
    ],
)
def test_coinciding_jobs_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_coinciding_jobs(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_coinciding_jobs_stub_is_no_answer_yet():
    def coinciding(periods, updates): ...

    assert checks.check_coinciding_jobs(coinciding).message.startswith("No answer yet")
