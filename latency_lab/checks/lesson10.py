"""Checkers of lesson 10 (profiling and production): PromQL's quantile from cumulative buckets,
how much a mean-latency alert lets through, and how often a clock must be synchronised."""

from __future__ import annotations

import math
import types

import numpy as np

from latency_lab import metrics, validate
from latency_lab.checks.core import (
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    names_used,
    number,
)

#: How close a learner's quantile must come to PromQL's (any order of the same arithmetic).
REL_TOL = 1e-9

_INF = math.inf

#: Hand-picked bucket sets (q, le, cumulative) that catch the usual mistakes: a quantile in
#: the first bucket (interpolated from 0), one in the +Inf bucket, a rank that lands exactly
#: on a bucket's cumulative count, empty buckets in between, q = 1.
_EDGE_CASES = (
    (0.5, [0.001, 0.002, 0.004, _INF], [10.0, 30.0, 40.0, 40.0]),  # in the 2nd bucket
    (0.2, [0.001, 0.002, 0.004, _INF], [16.0, 30.0, 40.0, 40.0]),  # in the 1st, from 0
    (0.99, [0.001, 0.01, 0.1, _INF], [90.0, 95.0, 98.0, 100.0]),  # in +Inf: highest bound
    (0.75, [1e-5, 5e-5, 1e-4, _INF], [30.0, 60.0, 60.0, 80.0]),  # rank 60 = a count, empty after
    (10 / 12, [1.0, 2.0, 3.0, _INF], [5.0, 10.0, 10.0, 12.0]),  # rank on a count before a gap
    (1.0, [0.25, 0.5, 1.0, 2.0, _INF], [1.0, 3.0, 7.0, 7.0, 7.0]),  # q = 1
    (0.9, [0.005, 0.01, 0.025, 0.05, _INF], [0.0, 0.0, 18.0, 20.0, 20.0]),  # empty first buckets
    (0.5, [2.5e-6, 5e-6, _INF], [3.0, 8.0, 9.0]),
)


def histogram_cases(seed: int = 20_250_610) -> list[tuple[float, list[float], list[float]]]:
    """The cases ``check_histogram_quantile`` runs: the edge cases above, then seeded random
    bucket sets (latencies drawn from lognormals, counted into 1-2.5-5 buckets) at p50, p90,
    p99 and p99.9."""
    rng = validate.rng("seed", seed)
    cases = [(q, list(le), list(c)) for q, le, c in _EDGE_CASES]
    for _ in range(6):
        ns = rng.lognormal(np.log(rng.uniform(5_000, 200_000)), rng.uniform(0.3, 1.5), 2_000)
        step = int(rng.integers(2, 5))  # a coarser set of bounds than the default
        bounds = metrics.LATENCY_BUCKETS_S[::step]
        h = metrics.bucket_histogram(np.rint(ns).astype(np.int64), bounds)
        for q in (0.5, 0.9, 0.99, 0.999):
            cases.append((q, h.le_s.tolist(), h.cumulative.tolist()))
    return cases


def _quantile(q, le, cumulative, *, strict=False, interpolate=True) -> float:
    """PromQL's rule, or a usual variant of it (``>`` for ``>=``, no interpolation)."""
    rank = q * cumulative[-1]
    found = (c > rank if strict else c >= rank for c in cumulative[:-1])
    b = next((i for i, hit in enumerate(found) if hit), len(le) - 1)
    if b == len(le) - 1:
        return le[-2]
    if not interpolate:
        return le[b]
    start, below = (le[b - 1], cumulative[b - 1]) if b else (0.0, 0.0)
    return start + (le[b] - start) * (rank - below) / (cumulative[b] - below)


def _mistake(value: float, q: float, le: list[float], cumulative: list[float]) -> str | None:
    """A hint for a usual mistake that gives ``value`` on this case, or None."""

    def near(x: float) -> bool:
        return math.isclose(value, x, rel_tol=REL_TOL)

    if math.isinf(value) or math.isnan(value):
        return (
            "the +Inf bucket has no upper bound to interpolate to: when the rank falls in it, "
            "return the highest finite bound."
        )
    rank = q * cumulative[-1]
    if cumulative[0] >= rank > 0 and near(le[0]):
        return (
            "the first bucket runs from 0 (latencies are positive) to its bound: interpolate "
            "from 0, not from the bound itself."
        )
    if near(_quantile(q, le, cumulative, interpolate=False)):
        return (
            "that is the upper bound of the bucket that holds the rank: interpolate inside the "
            "bucket, lower + (upper − lower) · (rank − count below) / (count in the bucket)."
        )
    if near(_quantile(q, le, cumulative, strict=True)):
        return (
            "the quantile's bucket is the first whose cumulative count is >= the rank (not >): "
            "a rank equal to a bucket's count is that bucket's upper bound."
        )
    running = np.cumsum(cumulative).tolist()  # the counts taken per bucket, summed again
    if near(_quantile(q, le, running)):
        return "the counts are cumulative already (each includes every smaller bucket)."
    return None


_HINT = (
    "rank = q · total (the +Inf bucket's count); find the first bucket whose cumulative count "
    "is >= rank; interpolate linearly between its lower bound (the previous bound, 0 for the "
    "first bucket) and its upper bound; if that bucket is +Inf, return the highest finite bound."
)


@checker
def check_histogram_quantile(func) -> Feedback:
    """Lesson 10: ``func(q, le, cumulative)`` must return the ``q``-quantile that PromQL's
    ``histogram_quantile`` computes from cumulative buckets (``le`` sorted, the last +Inf;
    ``cumulative`` the count of observations at most each bound; 0 < q <= 1), on bucket
    sets you have not seen."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: e.g. "
            "check_histogram_quantile(quantile_from_buckets)."
        )
    if func is metrics.histogram_quantile or func is metrics.ScrapedHistogram.quantile:
        raise Rejected("That is metrics.histogram_quantile itself: write your own.")
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType) and "histogram_quantile" in names_used(code):
        raise Rejected(
            "Your function calls histogram_quantile, the reference it is checked against: "
            "write the interpolation yourself."
        )
    cases = histogram_cases()
    for q, le, cumulative in cases:
        where = f"q={q:.6g}, le={_show(le)}, cumulative={_show(cumulative)}"
        got = call_learner(func, q, list(le), list(cumulative))
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result for {where}")
        want = metrics.histogram_quantile(q, le, cumulative)
        if value == want or math.isclose(value, want, rel_tol=REL_TOL):
            continue
        hint = _mistake(value, q, le, cumulative) or _HINT
        return Feedback(
            False, f"For {where} you returned {value!r}, PromQL gives {want!r}. Hint: {hint}"
        )
    return Feedback(
        True,
        f"Correct on {len(cases)} unseen bucket sets, edge cases included: this is what "
        "Prometheus computes for histogram_quantile — an estimate whose error is bounded by "
        "the width of the bucket that holds the quantile.",
    )


def _show(values: list[float]) -> str:
    text = "[" + ", ".join("+Inf" if math.isinf(v) else f"{v:g}" for v in values) + "]"
    return text if len(text) <= 160 else text[:157] + "…]"


# -- exercise 2: how much a mean-latency alert lets through ------------------------------------
#: The scenario: fast messages take 200 µs, slow ones 40 ms; the alert fires when the mean
#: exceeds 1 ms.
FAST_US, SLOW_US, MEAN_ALERT_US = 200.0, 40_000.0, 1_000.0


@checker
def check_mean_alert_share(answer) -> Feedback:
    """Lesson 10: the largest share of slow messages (in percent) that keeps the mean latency
    at or below a 1 ms alert threshold, when fast ones take 200 µs and slow ones 40 ms."""
    share = (MEAN_ALERT_US - FAST_US) / (SLOW_US - FAST_US)
    value = number(answer, "the share of slow messages in percent")
    if math.isclose(value, share, rel_tol=5e-3):
        return Feedback(
            False, f"{value:g} is the share as a fraction. Hint: give it in percent (× 100)."
        )
    if math.isclose(value, MEAN_ALERT_US / SLOW_US * 100, rel_tol=5e-3):
        return Feedback(
            False,
            f"{value:g}% forgets the fast messages' own 200 µs. Hint: the mean is "
            "(1 − s)·200 + s·40,000 µs; solve for s where it equals 1,000 µs.",
        )
    feedback = close(
        answer,
        share * 100,
        "the largest slow share in percent",
        "the mean is (1 − s)·200 + s·40,000 µs; solve (1 − s)·200 + s·40,000 = 1,000 for s, "
        "then give s in percent.",
    )
    if feedback.passed:
        return Feedback(
            True,
            f"Correct: up to {share:.2%} of messages can take 40 ms before the mean reaches "
            "1 ms. With 2% of messages slow, the p99 is 40 ms — 200× the fast path — while a "
            "mean alert stays silent.",
        )
    return feedback


# -- exercise 3: how often must the clock be synchronised? ---------------------------------------
#: RTS 25's limit for high-frequency trading, what a synchronisation leaves, and the drift.
RTS25_HFT_US, AFTER_SYNC_US, DRIFT_PPM = 100.0, 20.0, 25.0


@checker
def check_sync_interval(answer) -> Feedback:
    """Lesson 10: the longest interval in seconds between synchronisations that keeps a
    clock within 100 µs of UTC, when each synchronisation leaves it within 20 µs and it
    drifts by up to 25 ppm in between."""
    value = number(answer, "the interval in seconds")
    interval = (RTS25_HFT_US - AFTER_SYNC_US) / DRIFT_PPM  # 25 ppm = 25 µs per second
    if math.isclose(value, RTS25_HFT_US / DRIFT_PPM, rel_tol=1e-3):
        return Feedback(
            False,
            f"{value:g} s spends the whole 100 µs on drift. Hint: the clock starts each "
            "interval up to 20 µs off already.",
        )
    if math.isclose(value, interval * 1_000, rel_tol=1e-3) or math.isclose(
        value, interval / 1_000, rel_tol=1e-3
    ):
        return Feedback(
            False, f"{value:g} is in the wrong unit. Hint: give the interval in seconds."
        )
    feedback = close(
        answer,
        interval,
        "the interval in seconds",
        "25 ppm is 25 µs of drift per second; the budget left after a synchronisation is "
        "100 − 20 µs.",
    )
    if feedback.passed:
        return Feedback(
            True,
            f"Correct: (100 − 20) µs / 25 µs per second = {interval:g} s. Real clocks drift "
            "with temperature too, so a synchronisation daemon (chrony, ptp4l) corrects "
            "continuously and steers the frequency, not only the offset.",
        )
    return feedback


__all__ = ["check_histogram_quantile", "check_mean_alert_share", "check_sync_interval"]
