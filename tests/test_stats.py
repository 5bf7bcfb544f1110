"""stats: nearest-rank percentiles, summaries, HDR-style histogram, coordinated omission."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latency_lab import stats

finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
sample_arrays = arrays(np.float64, st.integers(1, 500), elements=finite)
percentile_values = st.floats(0, 100, allow_nan=False)
latencies_ns = arrays(np.int64, st.integers(1, 2000), elements=st.integers(0, 10**11))


def reference_percentile(samples, p):
    """The definition, in exact rational arithmetic: the smallest rank r (from 1) such that
    at least p% of the samples are <= the r-th smallest, i.e. 100 * r >= p * n."""
    ordered = sorted(samples)
    p_exact = Fraction(repr(float(p))) if isinstance(p, float) else Fraction(p)
    r = next(r for r in range(1, len(ordered) + 1) if 100 * r >= p_exact * len(ordered))
    return ordered[r - 1]


# percentiles as people write them: whole numbers and short decimals, plus arbitrary floats
written_percentiles = st.one_of(
    st.integers(0, 100),
    st.integers(0, 100_000).map(lambda k: k / 1000),  # 99.9, 12.345, ...
    percentile_values,
)


@given(sample_arrays, st.lists(written_percentiles, min_size=1, max_size=8))
def test_percentiles_equal_the_exact_rational_reference(samples, ps):
    expected = [reference_percentile(samples.tolist(), p) for p in ps]
    assert stats.percentiles(samples, ps).tolist() == expected
    assert [stats.percentiles(samples, p) for p in ps] == expected


@given(st.integers(1, 10**6), written_percentiles)
def test_nearest_rank_is_exact(n, p):
    p_exact = Fraction(repr(float(p))) if isinstance(p, float) else Fraction(p)
    rank = stats.nearest_rank(n, p)
    assert rank >= 1 and 100 * rank >= p_exact * n
    assert rank == 1 or 100 * (rank - 1) < p_exact * n  # and it is the smallest such rank


@given(st.integers(1, 3), st.integers(1, 50), st.data())
def test_whole_ranks_are_exact_where_floating_point_is_not(digits, m, data):
    # p with `digits` decimals and n a multiple of 10**(digits + 2): p * n / 100 is a whole
    # number, exactly the points where a floating-point rank can be pushed one too high.
    k = data.draw(st.integers(0, 100 * 10**digits))
    p, n = k / 10**digits, m * 10 ** (digits + 2)
    assert stats.nearest_rank(n, p) == max(1, k * m)
    assert stats.percentiles(np.arange(1, n + 1), p) == max(1, k * m)


@given(sample_arrays, st.lists(percentile_values, min_size=1, max_size=8))
def test_percentiles_agree_with_numpy_inverted_cdf_away_from_whole_ranks(samples, ps):
    # numpy computes the same rank in floating point; the two agree unless p * n / 100 is
    # (within rounding) a whole number, where numpy may land one rank too high.
    n = samples.size
    away = [p for p in ps if abs(p * n / 100 - round(p * n / 100)) > 1e-6]
    if away:
        expected = np.percentile(samples, away, method="inverted_cdf")
        np.testing.assert_array_equal(stats.percentiles(samples, away), expected)


@given(sample_arrays, percentile_values)
def test_percentile_is_an_observed_sample(samples, p):
    value = stats.percentiles(samples, p)
    assert np.isscalar(value) and value in samples


@pytest.mark.parametrize(
    "samples, p, expected",
    [
        (np.arange(1, 1001), 99.9, 999),  # float: 99.9 / 100 * 1000 = 999.0000000000001
        (np.arange(1, 101), 99, 99),
        ([1, 2], 50, 1),
        ([1, 2, 2, 2, 2], 25, 2),
        (np.arange(1, 1002), 99.9, 1000),  # n = 1001: ceil(999.999) = 1000
        (np.arange(1, 10_001), 99.99, 9_999),
        (np.arange(1, 1001), np.float32(99.9), 999),  # the decimal written, in any precision
        (np.arange(1, 1001), Fraction(999, 10), 999),
        ([5, 3, 9], 0, 3),  # p0 is the minimum
        ([5, 3, 9], 100, 9),  # p100 is the maximum
        ([5, 3, 9], 0.0, 3),
    ],
)
def test_named_cases(samples, p, expected):
    assert stats.percentiles(samples, p) == expected
    assert stats.percentiles(samples, [p]).tolist() == [expected]


def test_numpy_inverted_cdf_pitfall_is_pinned():
    # numpy issue 22582: inverted_cdf computes the rank in floating point, so p99.9 of
    # exactly 1000 samples is the maximum. Lesson 02 shows this; if numpy fixes it, this
    # test fails and the lesson must be updated.
    samples = np.arange(1, 1001)
    assert 99.9 / 100 * 1000 == 999.0000000000001
    assert np.percentile(samples, 99.9, method="inverted_cdf") == 1000
    assert stats.percentiles(samples, 99.9) == 999
    assert np.percentile(np.arange(1, 101), 99, method="inverted_cdf") == 99  # not everywhere


def test_nearest_rank_by_hand():
    samples = [15, 20, 35, 40, 50]  # the textbook example
    assert stats.percentiles(samples, [5, 30, 40, 50, 100]).tolist() == [15, 20, 20, 35, 50]
    assert stats.percentiles(samples, 0) == 15
    assert stats.percentiles(samples, np.array([[0, 100], [50, 40]])).tolist() == [
        [15, 50],
        [35, 20],
    ]


def test_nearest_rank_returns_ints_shaped_like_p():
    assert stats.nearest_rank(1000, 99.9) == 999
    assert stats.nearest_rank(1000, [0, 50, 99.9, 100]).tolist() == [1, 500, 999, 1000]
    assert stats.nearest_rank(10**12, 99.9999) == 999_999_000_000


@pytest.mark.parametrize("bad", [-0.1, 100.5, -1, 101, math.nan, math.inf, [50, 101], [math.nan]])
def test_percentile_outside_range_is_rejected(bad):
    with pytest.raises(ValueError, match=r"p must be"):
        stats.percentiles([1, 2, 3], bad)


@pytest.mark.parametrize("bad", ["50", ["50"], b"50", True, [True, False], None, [None]])
def test_percentile_that_is_not_a_number_is_a_type_error(bad):
    with pytest.raises(TypeError, match="p must be"):
        stats.percentiles([1, 2, 3], bad)


@pytest.mark.parametrize(
    "samples, error, match",
    [
        ([], ValueError, "samples is empty"),
        ([1.0, math.nan], ValueError, "NaN"),
        ([1.0, math.inf], ValueError, "NaN or infinite"),
        (["a", "b"], TypeError, "numeric"),
    ],
)
def test_summary_rejects_bad_samples(samples, error, match):
    with pytest.raises(error, match=match):
        stats.summary(samples)


def test_summary_keys_and_values():
    s = stats.summary(np.arange(1, 1001))
    assert list(s) == ["count", "mean", "std", "min", "p50", "p90", "p99", "p99.9", "max"]
    assert (s["count"], s["min"], s["p50"], s["p90"], s["p99"], s["p99.9"], s["max"]) == (
        1000,
        1,
        500,
        900,
        990,
        999,
        1000,
    )
    assert s["mean"] == pytest.approx(500.5)


def test_summary_with_a_unit_says_it_in_every_key_that_has_one():
    s = stats.summary(np.arange(1, 1001), unit="ns")
    assert list(s) == [
        "count",
        "mean_ns",
        "std_ns",
        "min_ns",
        "p50_ns",
        "p90_ns",
        "p99_ns",
        "p99.9_ns",
        "max_ns",
    ]
    assert list(s.values()) == list(stats.summary(np.arange(1, 1001)).values())
    assert "p99_us" in stats.summary([1.0], unit="µs")
    with pytest.raises(ValueError, match="unit"):
        stats.summary([1.0], unit="minutes")


def test_ecdf_steps_to_one():
    x, y = stats.ecdf([3, 1, 2, 2])
    assert x.tolist() == [1, 2, 2, 3]
    assert y.tolist() == [0.25, 0.5, 0.75, 1.0]


# -- LogHistogram ----------------------------------------------------------------------
@given(latencies_ns, st.integers(1, 4), st.lists(percentile_values, min_size=1, max_size=6))
def test_histogram_percentiles_within_promised_relative_error(values, digits, ps):
    hist = stats.LogHistogram(significant_digits=digits).record(values)
    exact = stats.percentiles(values, ps).astype(float)
    approx = hist.percentiles(ps).astype(float)
    assert (approx >= exact).all(), "a histogram percentile must never under-report"
    assert (approx - exact <= exact * 10.0**-digits).all()


@given(st.integers(0, 2**40), st.integers(1, 5))
def test_bucket_bounds_contain_the_value(value, digits):
    hist = stats.LogHistogram(significant_digits=digits, highest=2**41)
    low, high = hist._bounds(hist._index(np.array([value])))
    assert low[0] <= value <= high[0]
    assert high[0] - low[0] <= max(low[0] * 10.0**-digits, 0)


def test_small_values_are_exact():
    hist = stats.LogHistogram(significant_digits=2).record(np.arange(0, 200))
    assert hist.percentiles([0, 50, 100]).tolist() == [0, 99, 199]
    assert hist.buckets()["count"].eq(1).all()


@given(latencies_ns, latencies_ns)
def test_merge_equals_recording_everything(a, b):
    merged = stats.LogHistogram(2).record(a).merge(stats.LogHistogram(2).record(b))
    together = stats.LogHistogram(2).record(np.concatenate([a, b]))
    np.testing.assert_array_equal(merged.counts, together.counts)
    assert (merged.min, merged.max, merged.count) == (together.min, together.max, together.count)


def test_merge_needs_the_same_settings():
    with pytest.raises(ValueError, match="significant_digits"):
        stats.LogHistogram(2).merge(stats.LogHistogram(3))


def test_memory_does_not_grow_with_samples():
    hist = stats.LogHistogram(3)
    before = hist.nbytes
    hist.record(np.random.default_rng(0).integers(0, 10**9, 100_000))
    assert hist.nbytes == before and hist.count == 100_000


@pytest.mark.parametrize(
    "kwargs, match",
    [({"significant_digits": 0}, "significant_digits"), ({"highest": 1}, "highest")],
)
def test_histogram_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.LogHistogram(**kwargs)


def test_histogram_rejects_out_of_range_values_and_empty_queries():
    hist = stats.LogHistogram(2, highest=1000)
    with pytest.raises(ValueError, match="highest=1,000"):
        hist.record([5, 1001])
    with pytest.raises(ValueError, match="values must be in"):
        hist.record([-1])
    assert hist.count == 0 and hist.min is None
    with pytest.raises(ValueError, match="empty"):
        hist.percentiles(50)
    with pytest.raises(ValueError, match="empty"):
        hist.summary()


@pytest.mark.parametrize(
    "values, shown",
    [
        (2**63, "9,223,372,036,854,775,808"),
        ([2**63], "9,223,372,036,854,775,808"),  # numpy makes this a uint64 array
        (np.array([7, 2**64 - 1], dtype=np.uint64), "18,446,744,073,709,551,615"),
        ([1, 2**70], "1,180,591,620,717,411,303,424"),  # beyond any numpy integer
        (1e300, "1e+300"),
        ([3.0, -0.6], "-1.0"),  # rounded to the integer that would be recorded
        (np.int64(-5), "-5"),
    ],
)
def test_histogram_error_states_the_real_value(values, shown):
    hist = stats.LogHistogram(2)
    with pytest.raises(ValueError) as info:
        hist.record(values)
    assert str(info.value).endswith(f"got {shown}") and "highest=" in str(info.value)
    assert hist.count == 0


def test_histogram_rejects_non_numbers():
    with pytest.raises(TypeError, match="values"):
        stats.LogHistogram(2).record(["1"])
    with pytest.raises(TypeError, match="values"):
        stats.LogHistogram(2).record(True)


def test_histogram_percentiles_use_the_exact_rank():
    hist = stats.LogHistogram(3).record(np.arange(1, 1001))  # values below 2048 are exact
    assert hist.percentiles([0, 50, 99, 99.9, 100]).tolist() == [1, 500, 990, 999, 1000]
    assert hist.percentiles(99.9) == 999 and isinstance(hist.percentiles(99.9), int)
    wide = stats.LogHistogram(1).record([1_000_003, 5_000_000, 9_000_000])
    assert wide.percentiles(0) == 1_000_003  # rank 1 is the recorded min, not a bucket edge
    with pytest.raises(TypeError, match="p must be"):
        hist.percentiles("50")


def test_histogram_summary_with_unit():
    hist = stats.LogHistogram(3).record(np.arange(1, 1001))
    s = hist.summary(unit="ns")
    assert (s["count"], s["p99.9_ns"], s["min_ns"], s["max_ns"]) == (1000, 999, 1, 1000)


# -- coordinated omission ----------------------------------------------------------------
def _hdr_reference(values, interval):
    """HdrHistogram's recordValueWithExpectedInterval, transcribed loop for loop."""
    out = []
    for value in values:
        out.append(value)
        missing = value - interval
        while missing >= interval:
            out.append(missing)
            missing -= interval
    return sorted(out)


@given(
    arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 5000)),
    st.integers(1, 300),
)
def test_correction_matches_hdrhistogram_loop(values, interval):
    corrected = stats.correct_coordinated_omission(values, interval)
    assert sorted(corrected.tolist()) == _hdr_reference(values.tolist(), interval)
    assert corrected[: values.size].tolist() == values.tolist()


def test_correction_by_hand():
    assert stats.correct_coordinated_omission([5, 10, 35], 10).tolist() == [5, 10, 35, 25, 15]


def test_histogram_record_corrected_counts_the_missing_requests():
    hist = stats.LogHistogram(3).record_corrected([100] * 99 + [50_000], expected_interval=1_000)
    assert hist.count == 99 + 1 + 49


def test_correction_rejects_bad_interval_and_runaway_sizes():
    with pytest.raises(ValueError, match="expected_interval"):
        stats.correct_coordinated_omission([1, 2], 0)
    with pytest.raises(ValueError, match="same unit"):
        stats.correct_coordinated_omission([10**12], 1)
