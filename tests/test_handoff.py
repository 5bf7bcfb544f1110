"""handoff: every kind delivers every item once across threads, paced or not."""

import numpy as np
import pytest

from latency_lab import handoff


@pytest.mark.parametrize("kind", handoff.KINDS)
def test_endpoints_are_fifo_and_report_empty_and_full(kind):
    put, get = handoff._endpoints(kind, capacity=4)
    assert get() is None
    accepted = [put(i) for i in range(5)]
    assert accepted[:4] == [True] * 4
    assert accepted[4] == (kind == "deque")  # deque is unbounded; the others refuse
    assert [get() for _ in range(4)] == [0, 1, 2, 3]


def test_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        handoff._endpoints("list", 4)


def test_single_thread_ops_shapes():
    result = handoff.single_thread_ops(ops=500)
    assert list(result) == list(handoff.KINDS)
    for ops in result.values():
        assert ops["put"].size == ops["get"].size == 500 and (ops["put"] > 0).all()


@pytest.mark.parametrize("kind", handoff.KINDS)
@pytest.mark.parametrize("rate", [None, 50_000.0])
@pytest.mark.parametrize("yielding", [True, False])
def test_cross_thread_delivers_everything(kind, rate, yielding):
    latencies, throughput = handoff.cross_thread(
        kind, items=2_000, capacity=64, yield_when_idle=yielding, rate=rate
    )
    assert latencies.size == 2_000 and (latencies >= 0).all() and throughput > 0


def test_cross_thread_table():
    table = handoff.cross_thread_table(items=300, capacity=16)
    assert len(table) == 2 * len(handoff.KINDS)
    assert list(table.columns) == ["p50", "p99", "p99.9", "max", "items/s"]
    assert np.isfinite(table.to_numpy()).all()
