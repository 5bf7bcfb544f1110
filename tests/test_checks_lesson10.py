"""Lesson 10's checkers: the reference answers pass in any reasonable form, typical wrong
answers fail with a useful hint, and an unanswered stub says so."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latency_lab import checks, metrics
from latency_lab.checks import lesson10


# -- exercise 1: PromQL's quantile from cumulative buckets -------------------------------------
def quantile_from_buckets(q, le, cumulative):
    rank = q * cumulative[-1]
    for i in range(len(le) - 1):
        if cumulative[i] >= rank:
            lower, below = (le[i - 1], cumulative[i - 1]) if i else (0.0, 0.0)
            return lower + (le[i] - lower) * (rank - below) / (cumulative[i] - below)
    return le[-2]


def quantile_numpy(q, le, cumulative):
    """The same rule with numpy: searchsorted finds the first count >= rank."""
    le, cumulative = np.asarray(le), np.asarray(cumulative)
    rank = q * cumulative[-1]
    b = int(np.searchsorted(cumulative[:-1], rank, side="left"))
    if b == le.size - 1:
        return le[-2]
    lower = le[b - 1] if b else 0.0
    below = cumulative[b - 1] if b else 0.0
    return np.float64(lower + (le[b] - lower) * (rank - below) / (cumulative[b] - below))


def upper_bound_only(q, le, cumulative):
    rank = q * cumulative[-1]
    for i in range(len(le) - 1):
        if cumulative[i] >= rank:
            return le[i]
    return le[-2]


def strictly_greater(q, le, cumulative):
    rank = q * cumulative[-1]
    for i in range(len(le) - 1):
        if cumulative[i] > rank:
            lower, below = (le[i - 1], cumulative[i - 1]) if i else (0.0, 0.0)
            return lower + (le[i] - lower) * (rank - below) / (cumulative[i] - below)
    return le[-2]


def into_the_inf_bucket(q, le, cumulative):
    rank = q * cumulative[-1]
    for i in range(len(le)):
        if cumulative[i] >= rank:
            lower, below = (le[i - 1], cumulative[i - 1]) if i else (0.0, 0.0)
            return lower + (le[i] - lower) * (rank - below) / (cumulative[i] - below)
    return math.nan


def first_bucket_from_its_bound(q, le, cumulative):
    """Starts the first bucket at its own bound instead of 0."""
    rank = q * cumulative[-1]
    for i in range(len(le) - 1):
        if cumulative[i] >= rank:
            lower, below = (le[i - 1], cumulative[i - 1]) if i else (le[0], 0.0)
            return lower + (le[i] - lower) * (rank - below) / (cumulative[i] - below)
    return le[-2]


def per_bucket_counts(q, le, cumulative):
    """Treats the counts as per bucket and sums them again."""
    return quantile_from_buckets(q, le, np.cumsum(cumulative).tolist())


def nearest_rank_of_buckets(q, le, cumulative):
    rank = max(1, math.ceil(q * cumulative[-1]))
    return next(le[i] for i in range(len(le)) if cumulative[i] >= rank)


def forgot_return(q, le, cumulative):
    quantile_from_buckets(q, le, cumulative)


def calls_the_reference(q, le, cumulative):
    return metrics.histogram_quantile(q, le, cumulative)


def stub(q, le, cumulative): ...


@pytest.mark.parametrize("right", [quantile_from_buckets, quantile_numpy])
def test_histogram_quantile_accepts_right_functions(right):
    feedback = checks.check_histogram_quantile(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (upper_bound_only, "interpolate"),
        (strictly_greater, ">="),
        (into_the_inf_bucket, "+Inf"),
        (first_bucket_from_its_bound, "from 0"),
        (per_bucket_counts, "cumulative already"),
        (nearest_rank_of_buckets, "Hint"),
        (forgot_return, "return"),
        (lambda q, le, c: 1 / 0, "ZeroDivisionError"),
        (calls_the_reference, "reference"),
        (metrics.histogram_quantile, "itself"),
        (42, "function itself"),
    ],
)
def test_histogram_quantile_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_histogram_quantile(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_histogram_quantile_stub_says_no_answer_yet():
    assert "No answer yet" in checks.check_histogram_quantile(stub).message
    assert "No answer yet" in checks.check_histogram_quantile(...).message


def test_histogram_cases_are_valid_and_cover_the_edges():
    cases = lesson10.histogram_cases()
    assert len(cases) >= 30
    in_inf = in_first = on_count = 0
    for q, le, cumulative in cases:
        assert 0 < q <= 1 and math.isinf(le[-1]) and cumulative[-1] > 0
        assert all(a < b for a, b in zip(le, le[1:], strict=False))
        assert all(a <= b for a, b in zip(cumulative, cumulative[1:], strict=False))
        rank = q * cumulative[-1]
        b = next((i for i in range(len(le) - 1) if cumulative[i] >= rank), len(le) - 1)
        in_inf += b == len(le) - 1
        in_first += b == 0
        on_count += rank in cumulative[:-1]
    assert in_inf and in_first and on_count


# -- exercise 2: the share of slow messages a mean alert lets through ---------------------------
SHARE_PERCENT = 800 / 39_800 * 100  # (1000 - 200) / (40000 - 200)


@pytest.mark.parametrize("right", [SHARE_PERCENT, 2.01, np.float64(2.01), np.array(2.01), 2.0101])
def test_mean_alert_share_accepts_two_percent(right):
    assert checks.check_mean_alert_share(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [
        (SHARE_PERCENT / 100, "fraction"),
        (2.5, "forgets the fast"),
        (2.0, "significant digits"),
        (1.0, "Hint"),
        ("2.01", "without quotes"),
    ],
)
def test_mean_alert_share_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_mean_alert_share(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


# -- exercise 3: the synchronisation interval ----------------------------------------------------
@pytest.mark.parametrize("right", [3.2, np.float64(3.2), np.array(3.2), 16 / 5])
def test_sync_interval_accepts_3_2_seconds(right):
    assert checks.check_sync_interval(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [(4.0, "whole 100 µs"), (3_200, "unit"), (0.0032, "unit"), (4.8, "Hint"), (None, "No answer")],
)
def test_sync_interval_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_sync_interval(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message
