"""LatencyTracker: warm-up, overflow, measure() as context manager and decorator, errors."""

import itertools

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
    assert summary == stats.summary(values)
    assert tracker.to_frame()["latency_ns"].tolist() == values.tolist()


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


def test_measurement_overhead_reports_every_form():
    table = measurement_overhead(calls=200, repeats=2)
    assert list(table.index) == ["two bare reads", "with measure()", "@measure()"]
    assert list(table.columns) == ["cost_ns", "bias_ns"]
    assert (table["bias_ns"] >= 0).all() and table.notna().all().all()


def test_time_calls_records_every_call_after_warmup():
    calls = []
    tracker = LatencyTracker(capacity=10, warmup=2, clock=fake_clock(3))
    assert tracker.time_calls(lambda: calls.append(1), 7) is tracker
    assert len(calls) == 7 and tracker.samples().tolist() == [3] * 5
