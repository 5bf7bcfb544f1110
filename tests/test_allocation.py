"""allocation: the cases do what they claim; fresh cycles need the GC, pooled ones do not."""

import numpy as np
import pytest

from latency_lab import allocation


def test_fresh_cycles_need_the_collector_and_pooled_ones_do_not():
    table = allocation.per_op(allocation.cycle_cases(), calls=20_000, warmup=100)
    fresh, pooled = table.loc["order-fill cycle, fresh"], table.loc["order-fill cycle, pooled"]
    assert fresh["gen0_gcs"] > 0
    assert pooled[["gen0_gcs", "gen1_gcs", "gen2_gcs"]].sum() == 0


def test_per_op_table_columns_and_order():
    table = allocation.per_op(allocation.object_cases(), calls=200, warmup=10)
    assert list(table.index) == ["small object, fresh", "small object, pooled"]
    assert list(table.columns) == [
        "p50_ns",
        "p99_ns",
        "p99.9_ns",
        "max_ns",
        "gen0_gcs",
        "gen1_gcs",
        "gen2_gcs",
    ]
    assert (table["p50_ns"] <= table["p99_ns"]).all() and (
        table["p99.9_ns"] <= table["max_ns"]
    ).all()
    assert table.attrs["empty_call_ns"] > 0


def test_per_op_takes_at_least_the_samples_asked_for_in_rounds():
    calls = []
    allocation.per_op({"count": lambda: calls.append(1)}, calls=10, warmup=3, rounds=4)
    # 3 warm-up calls, 1 probe, then 4 rounds of 3 re-warm calls and 3 timed (ceil(10 / 4))
    assert len(calls) == 3 + 1 + 4 * (3 + 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: allocation.per_op(allocation.object_cases(), calls=0), "calls"),
        (lambda: allocation.per_op(allocation.object_cases(), calls=10**12), "calls"),
        (lambda: allocation.buffer_cases(10**15), "buffer_bytes"),
        (lambda: allocation.rolling_vwap_cases(10**12), "window"),
        (lambda: allocation.preallocation_cases(10**12), "levels"),
    ],
)
def test_huge_requests_are_refused_up_front(call, match):
    with pytest.raises(ValueError, match=match):
        call()


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


def test_per_op_frame_holds_every_sample_behind_per_op():
    frame = allocation.per_op_frame(allocation.preallocation_cases(8), calls=40, warmup=5, rounds=4)
    assert list(frame.attrs["candidates"]) == ["new arrays", "preallocated (out=)"]
    assert frame.groupby("candidate", observed=True).size().tolist() == [40, 40]
    assert sorted(frame["round"].unique()) == [0, 1, 2, 3]
    assert frame.attrs["empty_call_ns"] > 0 and (frame["latency_ns"] > 0).all()
