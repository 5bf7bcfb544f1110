"""LatencyTracker: warm-up, overflow, measure() as context manager and decorator, errors."""

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest

from latency_lab import LatencyTracker, stats
from latency_lab.tracker import measurement_overhead


def fake_clock(step):
    """A clock that advances by ``step`` ns per read, so measured spans are exact."""
    ticks = itertools.count(0, step)
    return lambda: next(ticks)


def test_warmup_samples_are_discarded():
    tracker = LatencyTracker(capacity=10, warmup=3)
    for value in [900, 800, 700, 1, 2, 3]:
        tracker.record(value)
    assert tracker.samples().tolist() == [1, 2, 3]


def test_overflow_is_counted_and_warned_once():
    tracker = LatencyTracker(capacity=2)
    tracker.record(1)
    tracker.record(2)
    with pytest.warns(RuntimeWarning, match="capacity=2"):
        tracker.record(3)
    tracker.record(4)  # no second warning is required; the count still goes up
    assert tracker.samples().tolist() == [1, 2]
    assert tracker.dropped == 2 and tracker.summary()["dropped"] == 2


def test_measure_as_context_manager_and_decorator():
    tracker = LatencyTracker(capacity=10, clock=fake_clock(5))
    with tracker.measure():
        pass

    @tracker.measure()
    def work(x):
        return x * 2

    assert work(21) == 42
    assert tracker.samples().tolist() == [5, 5]


def test_decorator_records_calls_that_raise():
    tracker = LatencyTracker(capacity=10, clock=fake_clock(1))

    @tracker.measure()
    def fail():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fail()
    assert tracker.count == 1


def test_decorator_is_reentrant():
    tracker = LatencyTracker(capacity=10, clock=fake_clock(1))

    @tracker.measure()
    def countdown(n):
        return n if n == 0 else countdown(n - 1)

    countdown(3)
    assert tracker.count == 4
    assert tracker.samples().tolist() == [1, 3, 5, 7]  # inner calls finish first


def test_summary_and_frame_agree_with_stats():
    tracker = LatencyTracker(capacity=1000)
    values = np.random.default_rng(1).integers(100, 10_000, 500)
    for v in values:
        tracker.record(int(v))
    summary = tracker.summary()
    assert summary.pop("dropped") == 0
    assert summary == stats.summary(values, unit="ns")
    assert tracker.to_frame()["latency_ns"].tolist() == values.tolist()


def test_summary_keys_say_nanoseconds():
    tracker = LatencyTracker(capacity=1000)
    for v in range(1, 1001):
        tracker.record(v)
    summary = tracker.summary()
    assert list(summary) == [
        "count",
        "mean_ns",
        "std_ns",
        "min_ns",
        "p50_ns",
        "p90_ns",
        "p99_ns",
        "p99.9_ns",
        "max_ns",
        "dropped",
    ]
    assert (summary["p99_ns"], summary["p99.9_ns"], summary["max_ns"]) == (990, 999, 1000)
    assert tracker.unit == "ns" and list(tracker.to_frame().columns) == ["latency_ns"]


def test_expected_interval_turns_on_correction():
    tracker = LatencyTracker(capacity=100, expected_interval_ns=1_000)
    for v in [100] * 9 + [10_000]:
        tracker.record(v)
    assert tracker.summary()["count"] == 10 + 9
    assert tracker.summary(corrected=False)["count"] == 10
    assert LatencyTracker(capacity=1).samples().size == 0
    with pytest.raises(ValueError, match="expected_interval_ns"):
        LatencyTracker(capacity=1).samples(corrected=True)


def test_samples_view_is_read_only():
    tracker = LatencyTracker(capacity=4)
    tracker.record(1)
    with pytest.raises(ValueError):
        tracker.samples()[0] = 99


def test_reset_restarts_warmup():
    tracker = LatencyTracker(capacity=4, warmup=1)
    tracker.record(1)
    tracker.record(2)
    tracker.reset()
    tracker.record(3)
    assert tracker.count == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"capacity": 0}, ValueError, "capacity"),
        ({"capacity": 2.5}, TypeError, "capacity"),
        ({"warmup": -1}, ValueError, "warmup"),
        ({"expected_interval_ns": 0}, ValueError, "expected_interval_ns"),
        ({"clock": 3}, TypeError, "clock"),
        ({"capacity": 10**12}, ValueError, r"capacity must be in \[1, 100,000,000\]"),
        ({"capacity": LatencyTracker.MAX_CAPACITY + 1}, ValueError, "capacity"),
    ],
)
def test_bad_parameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        LatencyTracker(**kwargs)


def test_empty_summary_and_negative_sample_are_errors():
    tracker = LatencyTracker(capacity=4, warmup=1)
    tracker.record(5)
    with pytest.raises(ValueError, match="no samples"):
        tracker.summary()
    with pytest.raises(ValueError, match="latency_ns"):
        tracker.record(-1)


@pytest.mark.parametrize("clock", [time.perf_counter, time.time, lambda: 1.5, lambda: True])
def test_a_clock_that_does_not_return_int_ns_is_refused(clock):
    with pytest.raises(TypeError, match="perf_counter_ns"):
        LatencyTracker(capacity=4, clock=clock)


def test_numpy_integer_clock_is_accepted():
    ticks = itertools.count(0, 7)
    tracker = LatencyTracker(capacity=4, clock=lambda: np.int64(next(ticks)))
    with tracker.measure():
        pass
    assert tracker.samples().tolist() == [7]


@pytest.mark.parametrize("bad", [1.9, 2.0, np.float64(3.0), True, "5", None, Fraction(3)])
def test_record_refuses_non_integers_instead_of_truncating(bad):
    tracker = LatencyTracker(capacity=4)
    with pytest.raises(TypeError, match="latency_ns must be an integer"):
        tracker.record(bad)
    assert tracker.count == 0


def test_record_accepts_python_and_numpy_integers():
    tracker = LatencyTracker(capacity=8)
    for v in [3, np.int64(4), np.int32(5), np.uint16(6), np.uint64(7)]:
        tracker.record(v)
    assert tracker.samples().tolist() == [3, 4, 5, 6, 7]


def test_record_checks_values_during_warmup_too():
    tracker = LatencyTracker(capacity=4, warmup=10)
    with pytest.raises(TypeError):
        tracker.record(1.5)
    with pytest.raises(ValueError, match="latency_ns"):
        tracker.record(-1)
    with pytest.raises(ValueError, match="latency_ns"):
        tracker.record(2**63)  # would not fit the int64 buffer


def test_time_calls_is_bounded_by_what_the_tracker_can_hold():
    tracker = LatencyTracker(capacity=4, warmup=2)
    with pytest.raises(ValueError, match="calls"):
        tracker.time_calls(lambda: None, 10**12)


def test_measurement_overhead_bias_is_what_each_form_records():
    # With a clock that advances 5 ns per read, a form that reads the clock once before and
    # once after the empty block records exactly 5 ns; an extra or missing read shows.
    table = measurement_overhead(calls=200, repeats=2, clock=fake_clock(5))
    assert list(table.index) == ["two bare reads", "with measure()", "@measure()"]
    assert list(table.columns) == ["cost_ns", "bias_ns"]
    assert table["bias_ns"].tolist() == [5.0, 5.0, 5.0]
    assert np.isfinite(table["cost_ns"]).all()
    per_round = table.attrs["cost_per_round_ns"]  # the rounds the benchmark's ratios use
    assert per_round.shape == (2, 3) and list(per_round.columns) == list(table.index)
    assert per_round.median().tolist() == table["cost_ns"].tolist()


def test_measurement_overhead_refuses_runaway_sizes():
    with pytest.raises(ValueError, match="calls"):
        measurement_overhead(calls=10**12)
    with pytest.raises(ValueError, match="repeats"):
        measurement_overhead(calls=10**6, repeats=10**3)
    with pytest.raises(TypeError, match="perf_counter_ns"):
        measurement_overhead(calls=10, repeats=1, clock=time.perf_counter)


def test_time_calls_records_every_call_after_warmup():
    calls = []
    tracker = LatencyTracker(capacity=10, warmup=2, clock=fake_clock(3))
    assert tracker.time_calls(lambda: calls.append(1), 7) is tracker
    assert len(calls) == 7 and tracker.samples().tolist() == [3] * 5
