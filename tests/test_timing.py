"""timing: the clock table, and the harness's rounds, calibration, GC counts and bounds, for
plain calls (compare) and coroutines (compare_async)."""

import asyncio
import gc
import math
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from latency_lab import config, timing, units

SPIN_NS = 20 * units.NS_PER_US


def spin():
    """An operation that lasts at least SPIN_NS on any machine."""
    end = time.perf_counter_ns() + SPIN_NS
    while time.perf_counter_ns() < end:
        pass


def noop():
    pass


# -- compare, bulk mode ----------------------------------------------------------------------
def test_bulk_rows_rounds_and_rotation():
    frame = timing.compare(
        {"a": noop, "b": noop, "c": noop}, rounds=6, block_ns=timing.MIN_BLOCK_NS
    )
    assert list(frame.columns) == [
        "candidate",
        "round",
        "position",
        "calls",
        "total_ns",
        "ns_per_call",
        "gen0_gcs",
        "gen1_gcs",
        "gen2_gcs",
    ]
    assert frame["total_ns"].dtype == np.int64 and frame["ns_per_call"].dtype == np.float64
    assert list(frame["candidate"].cat.categories) == ["a", "b", "c"]
    assert len(frame) == 18 and frame.attrs["rounds"] == 6 and frame.attrs["mode"] == "bulk"
    for _, one_round in frame.groupby("round"):
        assert sorted(one_round["candidate"]) == ["a", "b", "c"]
        assert sorted(one_round["position"]) == [0, 1, 2]
    # rotated: over 3 rounds each candidate goes first once, and takes every position
    firsts = frame[frame["position"] == 0].sort_values("round")["candidate"].tolist()
    assert firsts == ["a", "b", "c", "a", "b", "c"]
    positions = frame.groupby("candidate", observed=True)["position"].nunique()
    assert (positions == 3).all()
    assert np.allclose(frame["ns_per_call"], frame["total_ns"] / frame["calls"])


def test_bulk_calibration_fills_the_block_and_never_reports_less_than_the_work():
    block = 100 * units.NS_PER_US
    frame = timing.compare({"spin": spin, "noop": noop}, rounds=3, block_ns=block)
    calls = frame.groupby("candidate", observed=True)["calls"].agg(["min", "max"])
    assert (calls["min"] == calls["max"]).all()  # one calibration per candidate, kept
    assert 2 <= calls.loc["spin", "min"] <= 8  # 20 µs calls, blocks of 100 µs (+25% aim)
    assert calls.loc["noop", "min"] > calls.loc["spin", "min"]
    assert (frame.loc[frame["candidate"] == "spin", "ns_per_call"] >= SPIN_NS).all()


def test_bulk_explicit_calls_are_used_as_given():
    frame = timing.compare({"spin": spin}, rounds=2, calls=3)
    assert frame["calls"].tolist() == [3, 3]
    assert (frame["total_ns"] >= 3 * SPIN_NS).all()


def test_bulk_counts_collections_in_each_block():
    frame = timing.compare(
        {"collects": lambda: gc.collect(1), "noop": noop}, rounds=2, calls=4, warmup=0
    )
    collects = frame[frame["candidate"] == "collects"]
    assert (collects["gen1_gcs"] == 4).all()
    assert (frame.loc[frame["candidate"] == "noop", ["gen0_gcs", "gen1_gcs"]] == 0).all().all()


# -- compare, per-call mode ---------------------------------------------------------------------
def test_per_call_rows_and_samples():
    frame = timing.compare(
        {"spin": spin, "noop": noop}, mode="per_call", rounds=3, calls=50, warmup=2
    )
    assert list(frame.columns) == [
        "candidate",
        "round",
        "position",
        "call",
        "latency_ns",
        "gen0_gcs",
        "gen1_gcs",
        "gen2_gcs",
    ]
    assert len(frame) == 2 * 3 * 50 and frame["latency_ns"].dtype == np.int64
    assert frame.groupby(["round", "candidate"], observed=True).size().eq(50).all()
    assert frame.groupby(["round", "candidate"], observed=True)["call"].max().eq(49).all()
    assert (frame.loc[frame["candidate"] == "spin", "latency_ns"] >= SPIN_NS).all()
    assert (frame["latency_ns"] >= 0).all()
    assert frame.attrs["mode"] == "per_call" and frame.attrs["empty_call_ns"] >= 0


def test_per_call_gc_counts_land_on_the_call_that_collected():
    calls = iter(range(10**6))

    def every_tenth():
        if next(calls) % 10 == 9:
            gc.collect(2)

    frame = timing.compare(
        {"every tenth": every_tenth, "noop": noop},
        mode="per_call",
        rounds=2,
        calls=30,
        warmup=0,
        collect_before=None,
    )
    collecting = frame[frame["gen2_gcs"] > 0]
    assert (collecting["candidate"] == "every tenth").all() and (collecting["gen2_gcs"] == 1).all()
    assert len(collecting) == 6  # 30 calls a round, every tenth collects, two rounds
    summary = timing.summarize(frame)
    assert summary.loc["every tenth", "gen2_gcs"] == 6 and summary.loc["noop", "gen2_gcs"] == 0


# -- reading a comparison ---------------------------------------------------------------------
def bulk_frame(values: dict[str, list[float]]) -> pd.DataFrame:
    """A frame shaped like compare()'s bulk result, with chosen ns_per_call values."""
    rows = [
        {"candidate": name, "round": r, "position": 0, "calls": 10, "total_ns": int(v * 10)}
        | {"ns_per_call": v, "gen0_gcs": 0, "gen1_gcs": 0, "gen2_gcs": 1}
        for name, series in values.items()
        for r, v in enumerate(series)
    ]
    frame = pd.DataFrame(rows)
    frame["candidate"] = pd.Categorical(frame["candidate"], categories=list(values))
    return frame


def test_per_round_ratios_and_summary_of_a_bulk_frame():
    frame = bulk_frame({"slow": [30.0, 45.0, 28.0], "fast": [10.0, 15.0, 14.0]})
    table = timing.per_round(frame)
    assert list(table.columns) == ["slow", "fast"] and list(table.index) == [0, 1, 2]
    assert timing.ratios(frame, "slow", "fast").tolist() == [3.0, 3.0, 2.0]
    summary = timing.summarize(frame)
    assert list(summary.index) == ["slow", "fast"]
    assert summary.loc["slow", ["median_ns", "min_ns", "max_ns"]].tolist() == [30.0, 28.0, 45.0]
    assert summary.loc["fast", "rounds"] == 3 and summary.loc["fast", "gen2_gcs"] == 3


def test_per_round_of_per_call_samples_is_nearest_rank():
    rows = [
        {"candidate": c, "round": r, "position": 0, "call": i, "latency_ns": v}
        | {"gen0_gcs": 0, "gen1_gcs": 0, "gen2_gcs": 0}
        for c, base in (("b", 100), ("a", 10))
        for r in range(2)
        for i, v in enumerate(base * np.array([1, 2, 3, 4]) + r)
    ]
    frame = pd.DataFrame(rows)
    frame["candidate"] = pd.Categorical(frame["candidate"], categories=["b", "a"])
    p50 = timing.per_round(frame)
    assert p50.to_dict("list") == {"b": [200, 201], "a": [20, 21]}  # rank ceil(0.5 * 4) = 2
    assert timing.per_round(frame, 100).to_dict("list") == {"b": [400, 401], "a": [40, 41]}
    summary = timing.summarize(frame)
    assert summary.loc["b", ["count", "p50_ns", "max_ns"]].tolist() == [8, 201, 401]
    with pytest.raises(ValueError, match="percentile"):
        timing.per_round(bulk_frame({"x": [1.0]}), 99)


def test_ratios_name_unknown_candidates():
    with pytest.raises(ValueError, match="numerator"):
        timing.ratios(bulk_frame({"x": [1.0], "y": [2.0]}), "z", "y")
    with pytest.raises(TypeError, match="compare"):
        timing.per_round(pd.DataFrame({"a": [1]}))


# -- bounds and bad input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rounds": 0}, "rounds"),
        ({"rounds": timing.MAX_ROUNDS + 1}, "rounds"),
        ({"calls": 0}, "calls"),
        ({"calls": 10**12}, "calls"),
        ({"mode": "fast"}, "mode"),
        ({"block_ns": 0}, "block_ns"),
        ({"block_ns": 10**12}, "block_ns"),
        ({"warmup": -1}, "warmup"),
        ({"collect_before": 3}, "collect_before"),
        ({"time_limit_s": float("inf")}, "time_limit_s"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"mode": "per_call", "calls": timing.MAX_SAMPLES}, "MAX_SAMPLES"),
    ],
)
def test_compare_refuses_bad_parameters_before_running(kwargs, match):
    called = []
    with pytest.raises(ValueError, match=match):
        timing.compare({"x": lambda: called.append(1)}, **kwargs)
    assert not called


@pytest.mark.parametrize(
    "candidates",
    [[noop], {}, {1: noop}, {"x": 3}, {f"c{i}": noop for i in range(timing.MAX_CANDIDATES + 1)}],
)
def test_compare_refuses_bad_candidates(candidates):
    with pytest.raises((TypeError, ValueError), match="candidates"):
        timing.compare(candidates)


def test_a_run_estimated_over_the_time_limit_is_refused_before_the_rounds():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.01)

    with pytest.raises(ValueError, match="time_limit_s"):
        timing.compare({"slow": slow}, calls=1_000, rounds=10, time_limit_s=1.0)
    assert len(calls) == 2  # one warm-up call and one probe, nothing more
    with pytest.raises(ValueError, match="warmup"):
        timing.compare({"slow": slow}, warmup=10**6, time_limit_s=1.0)


def test_a_run_that_turns_slow_stops_starting_rounds_at_the_time_limit():
    calls = iter(range(10**6))

    def slows_down():
        if next(calls) >= 2:  # fast for the warm-up call and the probe
            time.sleep(0.02)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = timing.compare({"x": slows_down}, calls=1, rounds=100, time_limit_s=0.1)
    assert any("time_limit_s" in str(w.message) for w in caught)
    assert 1 <= frame.attrs["rounds"] < 100
    assert frame["round"].nunique() == frame.attrs["rounds"]


# -- clocks ---------------------------------------------------------------------------------
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
    info = time.get_clock_info("perf_counter")
    assert table.loc["perf_counter", "resolution_ns"] == pytest.approx(info.resolution * 1e9)


def test_call_overhead_is_at_least_the_work_done():
    assert timing.call_overhead_ns(spin, calls=3, repeats=2) >= SPIN_NS
    with pytest.raises(ValueError, match="calls"):
        timing.call_overhead_ns(time.perf_counter_ns, calls=0)
    with pytest.raises(ValueError, match="repeats"):
        timing.call_overhead_ns(time.perf_counter_ns, repeats=0)
    with pytest.raises(ValueError, match="repeats"):
        timing.clock_table(repeats=10**9)


def test_smallest_gap_of_a_clock_that_never_ticks_is_nan():
    assert math.isnan(timing.smallest_gap_ns(lambda: 7, is_ns=True, reads=10))


def test_smallest_gap_converts_seconds():
    ticks = iter(range(100))
    assert timing.smallest_gap_ns(lambda: next(ticks) * 1e-6, is_ns=False, reads=10) == (
        pytest.approx(1000)
    )


def test_consecutive_reads_are_bounded_and_checked():
    with pytest.raises(ValueError, match="reads"):
        timing.consecutive_reads(time.perf_counter_ns, reads=10**12)
    with pytest.raises(ValueError, match="reads"):
        timing.consecutive_reads(time.perf_counter_ns, reads=timing.MAX_READS + 1)
    with pytest.raises(TypeError, match="func"):
        timing.consecutive_reads("perf_counter_ns", reads=10)
    with pytest.raises(TypeError, match="numbers"):
        timing.consecutive_reads(lambda: "now", reads=10)
    reads = timing.consecutive_reads(time.perf_counter_ns, reads=100)
    assert reads.dtype == np.int64 and reads.size == 100 and (np.diff(reads) >= 0).all()


def test_quick_mode(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    assert config.scaled(1000, 10) == 10
    monkeypatch.setenv(config.QUICK_ENV, "0")
    assert config.scaled(1000, 10) == 1000


def _bulk_frame(figures: dict[str, list[float]]) -> pd.DataFrame:
    """A frame shaped like compare()'s bulk result, with chosen ns per call per round."""
    names = list(figures)
    rows = [(name, r, value) for name in names for r, value in enumerate(figures[name])]
    return pd.DataFrame(
        {
            "candidate": pd.Categorical([n for n, _, _ in rows], categories=names),
            "round": [r for _, r, _ in rows],
            "ns_per_call": [v for _, _, v in rows],
        }
    )


def test_verdict_is_clear_only_when_the_ranges_do_not_overlap():
    frame = _bulk_frame({"pooled": [140, 150, 130], "fresh": [100, 100, 100]})
    v = timing.verdict(frame, "pooled", "fresh")
    assert (v.clear, v.rounds, v.ratio, v.low, v.high) == (True, 3, 1.4, 1.3, 1.5)
    assert str(v) == "on this machine: pooled is 1.4× slower than fresh (1.3–1.5× over 3 rounds)"
    assert str(timing.verdict(frame, "fresh", "pooled")).startswith(
        "on this machine: fresh is 1.4× faster than pooled (1.3–1.5×"
    )
    mixed = _bulk_frame({"pooled": [140, 90, 130], "fresh": [100, 100, 100]})
    v = timing.verdict(mixed, "pooled", "fresh")
    assert not v.clear and "no clear difference" in str(v) and "0.90–1.40×" in str(v)


def test_verdict_on_per_call_results_names_the_percentile():
    frame = timing.compare(
        {"a": lambda: None, "b": lambda: None}, rounds=2, mode="per_call", calls=50
    )
    v = timing.verdict(frame, "a", "b", percentile=99)
    assert v.at == "p99" and v.rounds == 2 and " at p99 " in str(v)


def test_verdict_refuses_unknown_candidates():
    frame = _bulk_frame({"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match="numerator"):
        timing.verdict(frame, "c", "b")


# -- compare_async: the harness for coroutines --------------------------------------------------------------------------
def test_compare_async_mixes_plain_calls_and_coroutines():
    async def coroutine():
        return sum(range(10))

    def plain():
        return sum(range(10))

    frame = asyncio.run(
        timing.compare_async({"plain": plain, "await": coroutine}, rounds=3, block_ns=20_000)
    )
    assert frame.attrs["mode"] == "bulk" and frame.attrs["rounds"] == 3
    assert (frame["ns_per_call"] > 0).all() and len(frame) == 6
    assert timing.verdict(frame, "await", "plain").rounds == 3

    per_call = asyncio.run(
        timing.compare_async(
            {"sleep0": lambda: asyncio.sleep(0), "plain": plain},
            rounds=2,
            mode="per_call",
            calls=50,
        )
    )
    summary = timing.summarize(per_call)
    assert (summary["count"] == 100).all() and per_call.attrs["empty_call_ns"] > 0


def test_compare_async_validates_before_creating_work():
    with pytest.raises(TypeError, match="candidates"):
        timing.compare_async([lambda: None])
    with pytest.raises(ValueError, match="rounds"):
        timing.compare_async({"a": lambda: None}, rounds=0)
    with pytest.raises(ValueError, match="calls"):
        timing.compare_async({"a": lambda: None}, mode="per_call", calls=10**8)


@pytest.mark.parametrize("mode", ["bulk", "per_call"])
def test_compare_async_frames_have_compare_s_shape(mode):
    async def coroutine():
        return None

    kwargs = {"rounds": 3, "mode": mode, "calls": 20}
    sync = timing.compare({"a": lambda: None, "b": lambda: None}, **kwargs)
    both = asyncio.run(timing.compare_async({"a": lambda: None, "b": coroutine}, **kwargs))
    assert list(both.columns) == list(sync.columns)
    assert both.dtypes.equals(sync.dtypes)
    assert both.attrs.keys() == sync.attrs.keys()
    assert both[["round", "position"]].equals(sync[["round", "position"]])
    assert both["candidate"].astype(str).tolist() == sync["candidate"].astype(str).tolist()


def test_compare_async_awaits_every_call_of_a_coroutine():
    counted = []

    async def coroutine():
        await asyncio.sleep(0)
        counted.append(1)

    frame = asyncio.run(
        timing.compare_async({"c": coroutine}, rounds=2, calls=5, warmup=3, mode="per_call")
    )
    # warm-up: 3 calls and a probe; per round 3 re-warming calls and 5 timed ones
    assert len(counted) == 3 + 1 + 2 * (3 + 5) and len(frame) == 10


def test_compare_async_stops_at_its_time_limit_with_a_warning():
    calls = []

    async def slows_down():  # fast while probed, so the estimate lets the run start
        calls.append(1)
        if len(calls) > 2:
            await asyncio.sleep(0.01)

    with pytest.warns(RuntimeWarning, match=r"compare_async stopped after \d+ of 1000 rounds"):
        frame = asyncio.run(
            timing.compare_async({"slow": slows_down}, rounds=1_000, calls=1, time_limit_s=0.2)
        )
    assert 1 <= frame.attrs["rounds"] < 1_000 and len(frame) == frame.attrs["rounds"]
