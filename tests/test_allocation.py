"""allocation: the cases do what they claim; GC counting counts; fresh cycles need the GC."""

import gc

import numpy as np
import pytest

from latency_lab import allocation


def test_count_gc_counts_collections_by_generation():
    with allocation.count_gc() as collections:
        gc.collect(0)
        gc.collect(2)
    assert collections[0] == 1 and collections[2] == 1
    assert not any(cb.__name__ == "callback" for cb in gc.callbacks)  # removed afterwards


def test_fresh_cycles_need_the_collector_and_pooled_ones_do_not():
    table = allocation.per_op(allocation.cycle_cases(), calls=20_000, warmup=100)
    fresh, pooled = table.loc["order-fill cycle, fresh"], table.loc["order-fill cycle, pooled"]
    assert fresh["gen0 GCs"] > 0
    assert pooled[["gen0 GCs", "gen1 GCs", "gen2 GCs"]].sum() == 0


def test_per_op_table_columns():
    table = allocation.per_op(allocation.object_cases(), calls=200, warmup=10)
    assert list(table.index) == ["small object, fresh", "small object, pooled"]
    assert list(table.columns) == ["p50", "p99", "p99.9", "max", "gen0 GCs", "gen1 GCs", "gen2 GCs"]


@pytest.mark.parametrize("size, label", [(512, "512 B"), (64 * 1024, "64 KiB"), (3 << 20, "3 MiB")])
def test_buffer_cases_are_labelled_and_run(size, label):
    cases = allocation.buffer_cases(size)
    assert list(cases) == [f"{label} buffer, fresh", f"{label} buffer, pooled"]
    for case in cases.values():
        case()


def test_rolling_vwap_cases_agree():
    from_list, from_buffer = allocation.rolling_vwap_cases(window=50).values()
    for _ in range(3):
        assert from_list() == pytest.approx(from_buffer())


def test_preallocation_cases_agree():
    allocating, preallocated = allocation.preallocation_cases(levels=8).values()
    np.testing.assert_allclose(allocating(), preallocated())
