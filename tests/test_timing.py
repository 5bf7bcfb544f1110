"""timing: the clock table has every clock, sane flags and positive measurements."""

import math
import time

import pytest

from latency_lab import config, timing


def test_clock_table_covers_every_clock():
    table = timing.clock_table(calls=200, repeats=2, reads=200)
    assert list(table.index) == list(timing.CLOCKS)
    assert set(table.columns) == {
        "implementation",
        "resolution_ns",
        "monotonic",
        "adjustable",
        "overhead_ns",
        "smallest_gap_ns",
    }
    assert table.loc["perf_counter_ns", "monotonic"]
    assert not table.loc["time", "monotonic"]
    assert (table["overhead_ns"] > 0).all()


def test_smallest_gap_of_a_clock_that_never_ticks_is_nan():
    assert math.isnan(timing.smallest_gap_ns(lambda: 7, is_ns=True, reads=10))


def test_smallest_gap_converts_seconds():
    ticks = iter(range(100))
    assert timing.smallest_gap_ns(lambda: next(ticks) * 1e-6, is_ns=False, reads=10) == (
        pytest.approx(1000)
    )


def test_overhead_rejects_bad_counts():
    with pytest.raises(ValueError, match="calls"):
        timing.call_overhead_ns(time.perf_counter_ns, calls=0)


def test_quick_mode(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    assert config.scaled(1000, 10) == 10
    monkeypatch.setenv(config.QUICK_ENV, "0")
    assert config.scaled(1000, 10) == 1000
