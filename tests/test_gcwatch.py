"""gcwatch: counts and timestamps every collection, and always removes its callback."""

import gc
import time

import pytest

from latency_lab.gcwatch import MAX_CAPACITY, GcWatch


@pytest.fixture
def no_automatic_gc():
    """Only explicit collections run, so the counts below are exact."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


def test_counts_and_times_each_collection_by_generation(no_automatic_gc):
    before = time.perf_counter_ns()
    with GcWatch() as watch:
        gc.collect(0)
        gc.collect(2)
        gc.collect(1)
    after = time.perf_counter_ns()
    assert watch.counts == {0: 1, 1: 1, 2: 1} and watch.total == 3 and watch.dropped == 0
    pauses = watch.pauses()
    assert list(pauses.columns) == [
        "generation",
        "start_ns",
        "duration_ns",
        "collected",
        "uncollectable",
    ]
    assert pauses["generation"].tolist() == [0, 2, 1]
    assert pauses["start_ns"].is_monotonic_increasing
    assert (pauses["start_ns"] >= before).all() and (pauses["start_ns"] <= after).all()
    assert (pauses["duration_ns"] >= 0).all()
    assert (pauses["start_ns"] + pauses["duration_ns"] <= after).all()


def test_collected_objects_are_reported(no_automatic_gc):
    with GcWatch() as watch:
        for _ in range(100):
            cycle = {}
            cycle["self"] = cycle
        del cycle
        gc.collect()
    assert watch.pauses()["collected"].sum() >= 100


def test_callback_is_removed_even_when_the_block_raises():
    installed = len(gc.callbacks)
    watch = GcWatch()
    with pytest.raises(KeyError), watch:
        assert len(gc.callbacks) == installed + 1 and watch.active
        raise KeyError("boom")
    assert len(gc.callbacks) == installed and not watch.active


def test_nested_watches_each_count_and_leave_the_other_installed(no_automatic_gc):
    installed = len(gc.callbacks)
    with GcWatch() as outer:
        gc.collect(0)
        with GcWatch() as inner:
            gc.collect(0)
        assert outer.active and len(gc.callbacks) == installed + 1
        gc.collect(0)
    assert outer.counts[0] == 3 and inner.counts[0] == 1
    assert len(gc.callbacks) == installed


def test_an_active_watch_cannot_be_entered_twice_but_can_be_reused(no_automatic_gc):
    watch = GcWatch()
    with watch:
        with pytest.raises(RuntimeError, match="already active"):
            watch.__enter__()
        gc.collect(0)
    with watch:
        gc.collect(0)
    assert watch.counts[0] == 2 and len(watch.pauses()) == 2


def test_capacity_bounds_what_is_recorded_not_what_is_counted(no_automatic_gc):
    with GcWatch(capacity=2) as watch:
        for _ in range(5):
            gc.collect(0)
    assert watch.counts[0] == 5 and len(watch.pauses()) == 2 and watch.dropped == 3
    with GcWatch(capacity=0) as counts_only:
        gc.collect(0)
    assert counts_only.total == 1 and counts_only.pauses().empty


def test_summary_per_generation(no_automatic_gc):
    with GcWatch() as watch:
        gc.collect(0)
        gc.collect(0)
        gc.collect(2)
    table = watch.summary()
    assert table.index.tolist() == [0, 1, 2]
    assert table["collections"].tolist() == [2, 0, 1]
    assert table["recorded"].tolist() == [2, 0, 1]
    pauses = watch.pauses()
    assert table.loc[0, "total_ns"] == pauses.loc[pauses.generation == 0, "duration_ns"].sum()
    assert table.loc[1, "max_ns"] == 0


@pytest.mark.parametrize("capacity", [-1, MAX_CAPACITY + 1, 10**12])
def test_capacity_is_bounded_before_allocating(capacity):
    with pytest.raises(ValueError, match="capacity"):
        GcWatch(capacity=capacity)


def test_capacity_must_be_an_integer():
    with pytest.raises(TypeError, match="capacity"):
        GcWatch(capacity=1.5)
