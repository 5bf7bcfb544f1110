"""memory: the lesson-03 kernels compute the right things (timings are benchmarks' business)."""

import numpy as np
import pytest

from latency_lab import memory


def test_random_cycle_visits_every_slot_once():
    nxt = memory.random_cycle(1_000, seed=3)
    seen, i = set(), 0
    for _ in range(1_000):
        seen.add(i)
        i = nxt[i]
    assert i == 0 and len(seen) == 1_000  # one cycle through all slots, back to the start
    assert memory.chase(nxt, 1_000) == 0 and memory.chase(nxt, 1) == nxt[0]


def test_traversals_sum_the_same_elements_compiled_and_interpreted():
    a = np.random.default_rng(0).random((64, 64))
    assert memory.sum_by_rows(a, 64) == pytest.approx(a.sum())
    assert memory.sum_by_columns(a, 64) == pytest.approx(a.sum())
    assert (
        memory.sum_by_rows(a, 8) == memory.sum_by_rows.py_func(a, 8) == pytest.approx(a[:8].sum())
    )
    assert memory.sum_by_columns(a, 8) == pytest.approx(a[:, :8].sum())


def test_traversal_table_shape():
    table = memory.traversal_table(n=64, lines=8)
    assert list(table.index) == ["by rows", "by columns", "columns / rows"]
    assert list(table.columns) == ["compiled", "interpreted"] and (table > 0).all().all()


def test_ticks_layouts_and_vwap_agree():
    ticks = memory.make_ticks(10_000, seed=1)
    assert ticks.dtype.itemsize == 40 and (np.diff(ticks["ts"]) > 0).all()
    prices, sizes = np.ascontiguousarray(ticks["price"]), np.ascontiguousarray(ticks["size"])
    expected = (prices * sizes).sum() / sizes.sum()
    for value in [
        memory.vwap_vectorized(ticks["price"], ticks["size"]),
        memory.vwap_vectorized(prices, sizes),
        memory.vwap_loop(prices, sizes),
        memory.vwap_loop.py_func(prices, sizes),
    ]:
        assert value == pytest.approx(expected)


def test_cache_sizes_are_positive_bytes():
    sizes = memory.cache_sizes()  # may be empty off Linux
    assert all(isinstance(v, int) and v > 0 for v in sizes.values())
    assert set(sizes) <= {"L1", "L2", "L3", "L4"}


def test_sweep_and_best_of():
    table = memory.cache_sweep([4096, 65536], steps=1_000)
    assert list(table["bytes"]) == [4096, 65536] and (table["ns_per_load"] > 0).all()
    with pytest.raises(ValueError, match="repeats"):
        memory.best_of(lambda: None, repeats=0)
