"""stats: nearest-rank percentiles, summaries, HDR-style histogram, coordinated omission."""

import math

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


@given(sample_arrays, st.lists(percentile_values, min_size=1, max_size=8))
def test_percentiles_equal_numpy_inverted_cdf(samples, ps):
    expected = np.percentile(samples, ps, method="inverted_cdf")
    np.testing.assert_array_equal(stats.percentiles(samples, ps), expected)


@given(sample_arrays, percentile_values)
def test_percentile_is_an_observed_sample(samples, p):
    value = stats.percentiles(samples, p)
    assert np.isscalar(value) and value in samples


def test_nearest_rank_by_hand():
    samples = [15, 20, 35, 40, 50]  # the textbook example
    assert stats.percentiles(samples, [5, 30, 40, 50, 100]).tolist() == [15, 20, 20, 35, 50]
    assert stats.percentiles(samples, 0) == 15


@pytest.mark.parametrize("bad", [-0.1, 100.5, math.nan, [50, 101]])
def test_percentile_outside_range_is_rejected(bad):
    with pytest.raises(ValueError, match="percentile must be in"):
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
    assert (s["count"], s["min"], s["p50"], s["p90"], s["p99"], s["max"]) == (
        1000,
        1,
        500,
        900,
        990,
        1000,
    )
    assert s["mean"] == pytest.approx(500.5)


def test_p999_of_exactly_1000_samples_is_the_max_as_in_numpy():
    # 99.9 / 100 * 1000 == 999.0000000000001 in binary floating point, so rank 1000:
    # numpy's inverted_cdf (the course's contract) and so this module report the max.
    samples = np.arange(1, 1001)
    assert stats.percentiles(samples, 99.9) == 1000
    assert stats.percentiles(np.arange(1, 1002), 99.9) == 1000  # n = 1001: ceil(999.999) = 1000


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
    with pytest.raises(ValueError, match="highest=1000"):
        hist.record([5, 1001])
    with pytest.raises(ValueError, match="values must be in"):
        hist.record([-1])
    with pytest.raises(ValueError, match="empty"):
        hist.percentiles(50)
    with pytest.raises(ValueError, match="empty"):
        hist.summary()


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
