"""units: the course's one place for µs/ns/s conversions and rates."""

import numpy as np
import pytest

from latency_lab import units


def test_constants_agree_with_each_other():
    assert units.NS_PER_S == units.NS_PER_US * units.US_PER_S == 10**9
    assert units.NS_PER_MS * 1_000 == units.NS_PER_S


@pytest.mark.parametrize("value", [1_500, np.int64(1_500), np.array([1_500, 3_000])])
def test_round_trip_ns_us(value):
    np.testing.assert_array_equal(units.us_to_ns(units.ns_to_us(value)), value)
    np.testing.assert_array_equal(units.ns_to_us(value), np.asarray(value) / 1_000)


def test_rates_counts_and_gaps():
    assert units.rate_to_gap_us(100_000) == 10.0
    assert units.count_to_rate(50, 1_000.0) == 50_000.0
    assert units.rate_to_count(50_000, 1_000.0) == 50.0
    assert units.seconds_to_ns(1.5e-6) == pytest.approx(1_500)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: units.rate_to_gap_us(0), ValueError),
        (lambda: units.count_to_rate(5, 0.0), ValueError),
        (lambda: units.count_to_rate(5, np.array([1.0, 0.0])), ValueError),
        (lambda: units.us_to_ns("5"), TypeError),
        (lambda: units.seconds_to_ns(True), TypeError),
        (lambda: units.ns_to_us(np.array(["a"])), TypeError),
    ],
)
def test_bad_values_are_refused_with_the_parameter_name(call, error):
    with pytest.raises(error, match=r"rate_per_s|span_us|us|seconds|ns"):
        call()


def test_pandas_objects_keep_their_type():
    import pandas as pd

    frame = pd.DataFrame({"p99_ns": [1_500, 3_000]})
    converted = units.ns_to_us(frame)
    assert isinstance(converted, pd.DataFrame) and converted["p99_ns"].tolist() == [1.5, 3.0]
    with pytest.raises(TypeError, match="ns must be"):
        units.ns_to_us(pd.Series(["a"]))
