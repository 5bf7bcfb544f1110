"""memory: the lesson-03 kernels compute the right things and never read out of bounds
(timings are the benchmarks' business)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latency_lab import memory


def test_random_cycle_visits_every_slot_once():
    nxt = memory.random_cycle(1_000, seed=3)
    seen, i = set(), 0
    for _ in range(1_000):
        seen.add(i)
        i = nxt[i]
    assert i == 0 and len(seen) == 1_000  # one cycle through all slots, back to the start
    assert memory.chase(nxt, 1_000) == 0 and memory.chase(nxt, 1) == nxt[0]
    assert np.array_equal(nxt, memory.random_cycle(1_000, seed=3))


@settings(max_examples=200, deadline=None)
@given(
    links=st.lists(st.integers(-3, 12), min_size=0, max_size=10),
    steps=st.integers(0, 30),
)
def test_chase_compiled_and_interpreted_agree_and_refuse_stray_links(links, steps):
    nxt = np.array(links, dtype=np.int64)
    outcomes = []
    for kernel in (memory.chase, memory.chase.py_func):
        try:
            outcomes.append(int(kernel(nxt, steps)))
        except ValueError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]
    i, expected = 0, 0
    for _ in range(steps):  # the reference: follow links while they stay inside the array
        if not 0 <= i < len(links):
            expected = outcomes[0]
            assert "outside the array" in expected
            break
        i = expected = links[i]
    assert outcomes[0] == expected


@pytest.mark.parametrize("kernel", [memory.chase, memory.chase.py_func])
def test_chase_refuses_a_link_outside_the_array_and_unbounded_steps(kernel):
    with pytest.raises(ValueError, match="outside the array"):
        kernel(np.array([5]), 10)
    with pytest.raises(ValueError, match="steps"):
        kernel(np.array([0]), memory.MAX_STEPS + 1)
    with pytest.raises(ValueError, match="steps"):
        kernel(np.array([0]), -1)


def test_compiled_kernels_refuse_other_array_types():
    with pytest.raises(TypeError):
        memory.chase(np.array([0.0]), 1)
    with pytest.raises(TypeError):
        memory.sum_by_rows(np.ones(4), 1)
    with pytest.raises(TypeError):
        memory.vwap_loop(np.ones((2, 2)), np.ones((2, 2)))


def test_traversals_sum_the_same_elements_compiled_and_interpreted():
    a = np.random.default_rng(0).random((64, 48))
    assert memory.sum_by_rows(a, 64) == pytest.approx(a.sum())
    assert memory.sum_by_columns(a, 48) == pytest.approx(a.sum())
    assert (
        memory.sum_by_rows(a, 8) == memory.sum_by_rows.py_func(a, 8) == pytest.approx(a[:8].sum())
    )
    assert memory.sum_by_columns(a, 8) == pytest.approx(a[:, :8].sum())
    assert memory.sum_by_columns(a.T, 8) == pytest.approx(a[:8].sum())  # any strides


@pytest.mark.parametrize("kernel", [memory.sum_by_rows, memory.sum_by_rows.py_func])
@pytest.mark.parametrize("lines", [3, 10**6, -1])
def test_sum_by_rows_refuses_more_rows_than_the_array_has(kernel, lines):
    with pytest.raises(ValueError, match="rows"):
        kernel(np.ones((2, 2)), lines)


@pytest.mark.parametrize("kernel", [memory.sum_by_columns, memory.sum_by_columns.py_func])
@pytest.mark.parametrize("lines", [4, 10**6, -1])
def test_sum_by_columns_refuses_more_columns_than_the_array_has(kernel, lines):
    with pytest.raises(ValueError, match="cols"):
        kernel(np.ones((5, 3)), lines)


def test_traversal_table_columns_and_per_round_ratios():
    table = memory.traversal_table(n=64, lines=8, rounds=3)
    assert list(table.index) == ["compiled", "interpreted"]
    assert list(table.columns) == [
        "rows_ns",
        "columns_ns",
        "ratio",
        "ratio_low",
        "ratio_high",
        "rounds",
    ]
    assert (table[["rows_ns", "columns_ns"]] > 0).all().all()
    assert (table["ratio_low"] <= table["ratio"]).all()
    assert (table["ratio"] <= table["ratio_high"]).all()
    assert table["rounds"].tolist() == [3, 3]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 16, "lines": 10**6}, "lines"),
        ({"n": 16, "lines": 0}, "lines"),
        ({"n": 10**12}, "n"),
        ({"n": 64, "lines": 8, "rounds": 0}, "rounds"),
    ],
)
def test_traversal_table_refuses_bad_sizes_up_front(kwargs, match):
    with pytest.raises(ValueError, match=match):
        memory.traversal_table(**kwargs)


def test_ticks_layouts_and_vwap_agree():
    ticks = memory.make_ticks(10_000, seed=1)
    assert ticks.dtype.itemsize == 40 and (np.diff(ticks["ts"]) > 0).all()
    prices, sizes = np.ascontiguousarray(ticks["price"]), np.ascontiguousarray(ticks["size"])
    expected = (prices * sizes).sum() / sizes.sum()
    for value in [
        memory.vwap_vectorized(ticks["price"], ticks["size"]),
        memory.vwap_vectorized(prices, sizes),
        memory.vwap_loop(prices, sizes),
        memory.vwap_loop(ticks["price"], ticks["size"]),
        memory.vwap_loop.py_func(prices, sizes),
    ]:
        assert value == pytest.approx(expected)


@pytest.mark.parametrize(
    "vwap", [memory.vwap_loop, memory.vwap_loop.py_func, memory.vwap_vectorized]
)
def test_vwap_refuses_mismatched_empty_or_weightless_input(vwap):
    with pytest.raises(ValueError, match="length"):
        vwap(np.ones(10**6), np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        vwap(np.ones(0), np.ones(0))
    with pytest.raises(ValueError, match="zero"):
        vwap(np.ones(3), np.zeros(3))


def test_layout_table_rows_and_bytes():
    table = memory.layout_table(2_000, rounds=2)
    assert len(table) == 6 and (table["ns_per_tick"] > 0).all()
    assert table.loc[("array of structs", "compiled loop"), "bytes_per_tick"] == 40
    assert table.loc[("struct of arrays", "compiled loop"), "bytes_per_tick"] == 16


def test_strided_copy_table_compares_with_memory_order():
    table = memory.strided_copy_table(64, rounds=3)
    assert list(table.columns) == ["time_ns", "vs_memory_order", "ratio_low", "ratio_high"]
    first = table.iloc[0]
    assert first["vs_memory_order"] == first["ratio_low"] == first["ratio_high"] == 1.0
    assert (table["time_ns"] > 0).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: memory.layout_table(n=10**12), "n must be in"),
        (lambda: memory.make_ticks(10**12), "n must be in"),
        (lambda: memory.random_cycle(10**12), "n must be in"),
        (lambda: memory.load_latency_ns(10**15), "working_set_bytes"),
        (lambda: memory.load_latency_ns(4096, steps=10**12), "steps"),
        (lambda: memory.strided_copy_table(10**6), "n must be in"),
        (lambda: memory.cache_sweep([4096] * 65), "sizes_bytes"),
        (lambda: memory.cache_sweep([4096.5]), "sizes_bytes"),
    ],
)
def test_huge_requests_are_refused_with_the_projects_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cache_sizes_are_positive_bytes():
    sizes = memory.cache_sizes()
    if Path("/sys/devices/system/cpu/cpu0/cache/index0").exists():
        assert "L1" in sizes  # sysfs describes the caches: the L1 data cache is among them
    assert all(isinstance(v, int) and v > 0 for v in sizes.values())
    assert set(sizes) <= {"L1", "L2", "L3", "L4"}


def test_sweep_reports_one_latency_per_size():
    table = memory.cache_sweep([4096, 65536], steps=1_000)
    assert list(table["bytes"]) == [4096, 65536] and (table["ns_per_load"] > 0).all()


def test_sweep_gives_each_sizes_range_over_the_interleaved_rounds():
    table = memory.cache_sweep([4096, 65536], steps=1_000, rounds=3)
    assert list(table["label"]) == ["4 KiB", "64 KiB"]
    assert (table["ns_per_load_low"] <= table["ns_per_load"]).all()
    assert (table["ns_per_load"] <= table["ns_per_load_high"]).all()


@pytest.mark.parametrize(
    "n, label",
    [(0, "0 B"), (512, "512 B"), (64 << 10, "64 KiB"), (3 << 20, "3 MiB"), (1 << 30, "1 GiB")],
)
def test_size_labels(n, label):
    assert memory.size_label(n) == label


def test_chase_cases_follow_their_own_cycle_of_each_size():
    cases = memory.chase_cases([4096, 1 << 16], steps=4096 // 8)
    assert list(cases) == ["4 KiB", "64 KiB"]
    assert cases["4 KiB"]() == 0  # a single cycle through 512 slots returns to slot 0


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([4096, 4096], "distinct"),
        ([8], r"\[16,"),
        ([memory.MAX_WORKING_SET_BYTES, 4096], "add up"),
        ([], "sizes_bytes"),
    ],
)
def test_chase_cases_refuse_sizes_before_allocating(sizes, match):
    with pytest.raises(ValueError, match=match):
        memory.chase_cases(sizes, steps=10)


def test_traversal_cases_sum_the_same_elements_every_way():
    cases = memory.traversal_cases(n=32, lines=8, seed=2)
    assert list(cases) == [
        "compiled, by rows",
        "compiled, by columns",
        "interpreted, by rows",
        "interpreted, by columns",
    ]
    rows, columns = cases["compiled, by rows"](), cases["compiled, by columns"]()
    assert cases["interpreted, by rows"]() == rows
    assert cases["interpreted, by columns"]() == pytest.approx(columns)
    a = np.random.default_rng(2).random((32, 32))
    assert rows == pytest.approx(a[:8].sum()) and columns == pytest.approx(a[:, :8].sum())


def test_strided_copy_cases_copy_the_array_and_its_transpose():
    cases = memory.strided_copy_cases(16, seed=1)
    same, transposed = cases[memory.MEMORY_ORDER_COPY](), cases[memory.STRIDED_COPY]()
    assert transposed.flags.c_contiguous and np.array_equal(transposed, same.T)


def test_layout_cases_all_compute_the_same_vwap():
    cases = memory.layout_cases(1_000, seed=4)
    assert list(cases) == [memory.layout_name(*key) for key in memory.LAYOUTS]
    values = [case() for case in cases.values()]
    assert values == pytest.approx([values[0]] * len(values), rel=1e-12)
    with pytest.raises(ValueError, match="layout, method"):
        memory.layout_name("struct of arrays", "assembly")


def test_layout_table_gives_the_range_over_rounds():
    table = memory.layout_table(500, rounds=3)
    assert (table["ns_per_tick_low"] <= table["ns_per_tick"]).all()
    assert (table["ns_per_tick"] <= table["ns_per_tick_high"]).all()
    assert np.isnan(table.loc[("list of tuples", "interpreted loop"), "bytes_per_tick"])
