"""Checkers of lesson 02 (measuring latency): nearest-rank percentiles, coordinated omission."""

from __future__ import annotations

import numpy as np

from latency_lab import stats
from latency_lab.checks.core import Feedback, checker, same_as_reference, whole


@checker
def check_nearest_rank(func) -> Feedback:
    """Lesson 02: ``func(samples, p)`` must return the nearest-rank p-th percentile."""
    rng = np.random.default_rng(2)
    ten = np.arange(1.0, 11.0)
    cases = [(np.array([7.0]), 50.0)] + [(ten, p) for p in (0.0, 90.0, 95.0, 100.0)]
    cases += [(rng.lognormal(3, 1, n), p) for n in (3, 100, 1001) for p in (25, 50, 99, 99.9)]
    return same_as_reference(
        func,
        cases,
        stats.percentiles,
        describe_case=lambda samples, p: f"{samples.size} samples and p={p}",
        hint="sort, then take the value of rank ceil(p/100 * n), counting from 1 (rank 1 for p=0).",
        success=f"Correct on {len(cases)} cases, including p=0, p=100 and a single sample.",
    )


@checker
def check_corrected_count(answer) -> Feedback:
    """Lesson 02: samples added by CO correction for one 50 ms stall at a 1 ms interval."""
    expected = stats.correct_coordinated_omission([50_000_000], 1_000_000).size - 1
    if whole(answer, "the number of samples") == expected:
        return Feedback(True, f"Correct: {expected} requests (49, 48, ... 1 ms) were never sent.")
    return Feedback(
        False,
        f"{whole(answer, 'the number of samples')} is not it. Hint: correction adds v - I, "
        "v - 2I, ... while the value stays >= I.",
    )
