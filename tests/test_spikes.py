"""spikes: the loop's parts are right (feed, parsers, books, formatting), a run cleans up after
itself whatever happens, and the detector and comparison helpers report what the data says."""

import datetime
import gc
import json
import locale
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import spikes, timing
from latency_lab.gcwatch import GcWatch


def small(on="none", **overrides):
    """A short run's config: quick, but long enough for a few batches and periodic jobs."""
    overrides.setdefault("updates", 2_000)
    overrides.setdefault("warmup", 200)
    return spikes.config(on, **overrides)


@pytest.fixture
def clean_state():
    """The process state a run must leave as it found it."""
    before = (
        threading.active_count(),
        gc.isenabled(),
        gc.get_threshold(),
        gc.get_freeze_count(),
        len(gc.callbacks),
    )
    yield
    deadline = time.monotonic() + 2
    while threading.active_count() > before[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    after = (
        threading.active_count(),
        gc.isenabled(),
        gc.get_threshold(),
        gc.get_freeze_count(),
        len(gc.callbacks),
    )
    assert after == before


# -- the feed and the parsers -------------------------------------------------------------------
def test_feed_is_reproducible_and_seeded():
    assert spikes.feed(500, seed=3) == spikes.feed(500, seed=3)
    assert spikes.feed(500, seed=3) != spikes.feed(500, seed=4)
    assert len(spikes.feed(1)) == 1


def test_feed_keeps_prices_in_the_band_and_orders_consistent():
    live = {}
    for raw in spikes.feed(5_000, seed=1, depth=100):
        kind, side, oid, tick, size = spikes.parse_bytes(raw)
        if kind == spikes.NEW:
            assert oid not in live
            assert abs(tick - spikes.MID_TICK) < spikes.BAND and size > 0
            live[oid] = (side, tick, size)
        else:
            assert oid in live  # only live orders are deleted or traded
            if kind == spikes.TRADE:
                assert (tick, size) == live[oid][1:]
            del live[oid]
    per_side = np.bincount([side for side, _, _ in live.values()], minlength=2)
    assert (per_side > 50).all()  # the book fills up to about its depth


@pytest.mark.parametrize("bad", [{"updates": 0}, {"updates": 10**12}, {"depth": 0}, {"seed": -1}])
def test_feed_refuses_bad_sizes_naming_them(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        spikes.feed(**{"updates": 10, **bad})


def test_both_parsers_read_every_message_alike():
    for raw in spikes.feed(3_000, seed=2):
        assert spikes.parse_str(raw) == spikes.parse_bytes(raw)


def test_parsers_read_the_fields_they_are_given():
    raw = b"35=X\x01279=0\x01269=1\x01278=42\x01270=100.29\x01271=300\x01"
    assert (
        spikes.parse_str(raw) == spikes.parse_bytes(raw) == (spikes.NEW, spikes.ASK, 42, 10029, 300)
    )
    trade = b"35=X\x01279=0\x01269=2\x01278=7\x01270=99.5\x01271=100\x01"
    assert spikes.parse_bytes(trade) == (spikes.TRADE, spikes.BID, 7, 9950, 100)
    delete = b"35=X\x01279=2\x01269=0\x01278=9\x01"
    assert spikes.parse_str(delete) == (spikes.DELETE, spikes.BID, 9, 0, 0)


@pytest.mark.parametrize("parse", [spikes.parse_str, spikes.parse_bytes])
@pytest.mark.parametrize("bad", [b"garbage", b"35=X\x01269=0\x01", "35=X", 5, None, b"\xff=\x01"])
def test_parsers_refuse_what_is_not_a_message(parse, bad):
    with pytest.raises(ValueError, match="raw must be a market-data message"):
        parse(bad)


def test_parse_cases_time_the_same_message_both_ways():
    cases = spikes.parse_cases()
    assert set(cases) == {"str", "bytes"}
    assert cases["str"]() == cases["bytes"]()
    with pytest.raises(ValueError):
        spikes.parse_cases(b"not a message")


# -- the books --------------------------------------------------------------------------------
def best_by_brute_force(live):
    bids = [tick for side, tick in live.values() if side == spikes.BID]
    asks = [tick for side, tick in live.values() if side == spikes.ASK]
    return (max(bids) if bids else 0), (min(asks) if asks else 0)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 60))
def test_heap_and_level_books_agree_with_brute_force(seed, depth):
    """Both books give the best bid and ask of the live orders after every message, the heap
    through its lazy deletions and rebuilds."""
    heap, levels = spikes._HeapBook(cycles=True), spikes._LevelBook(cycles=False)
    live = {}
    for raw in spikes.feed(600, seed=seed, depth=depth):
        kind, side, oid, tick, size = spikes.parse_bytes(raw)
        if kind == spikes.NEW:
            live[oid] = (side, tick)
        else:
            live.pop(oid)
        want = best_by_brute_force(live)
        assert heap.apply(kind, side, oid, tick, size) == want
        assert levels.apply(kind, side, oid, tick, size) == want
    assert len(heap.orders) == len(levels.orders) == len(live)


def test_only_the_heap_book_rebuilds():
    heap = spikes.run_loop(small(["heap_rebuild"], log="discard", depth=100))
    levels = spikes.run_loop(small(log="discard", depth=100))
    assert heap.counters["rebuilds"] > 0 and levels.counters["rebuilds"] == 0
    assert heap.counters["live_orders"] == levels.counters["live_orders"]


# -- formatting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ns",
    [0, 1_000, 1_700_000_000_999_999_000, 1_700_000_001_000_000_000, 1_712_345_678_123_456_789],
)
def test_cached_timestamp_writes_what_datetime_writes(ns):
    cached = spikes.CachedTimestamp()
    assert cached.text(ns) == spikes.datetime_text(ns)
    assert cached.text(ns) == cached.text(ns)  # the second call comes from the cache


def test_cached_timestamp_follows_the_clock_across_seconds():
    cached = spikes.CachedTimestamp()
    second = 1_700_000_000 * 1_000_000_000
    texts = [cached.text(second + k * 250_000_000) for k in range(9)]  # 2 s in steps
    assert texts == [spikes.datetime_text(second + k * 250_000_000) for k in range(9)]
    now = cached.text()
    assert len(now) == len("2024-01-02 09:30:00.000001")
    parsed = datetime.datetime.strptime(now, "%Y-%m-%d %H:%M:%S.%f")
    assert abs(parsed - datetime.datetime.now()) < datetime.timedelta(seconds=5)


@pytest.mark.parametrize("ns", [-1, 1.5, "5", True])
def test_timestamps_refuse_what_is_not_nanoseconds(ns):
    with pytest.raises((ValueError, TypeError), match="ns"):
        spikes.CachedTimestamp().text(ns)


def test_log_lines_in_both_formats():
    assert spikes.log_line() == "2024-01-02 09:30:00.000001,1,new,0,100.00,100,0.0000\n"
    line = spikes.log_line(seq=7, action=spikes.TRADE, side=1, tick=10_025, quantity=300,
                           signal=-0.12345, log_format="json")  # fmt: skip
    assert line.endswith("\n")
    row = json.loads(line)
    assert (row["seq"], row["kind"], row["price"], row["size"]) == (7, "trade", "100.25", "300")
    assert row["signal"] == pytest.approx(-0.1235)


def test_locale_and_fstring_numbers_agree_where_the_locale_does_not_group():
    if locale.localeconv()["thousands_sep"]:
        pytest.skip("this process's locale groups thousands")
    for numbers in ("locale", "fstring"):
        assert spikes.log_line(tick=123_456_789, quantity=12_345, numbers=numbers) == (
            "2024-01-02 09:30:00.000001,1,new,0,1234567.89,12345,0.0000\n"
        )


def test_format_cases_run():
    for name, case in spikes.format_cases().items():
        assert isinstance(case(), str), name


# -- configuration ------------------------------------------------------------------------------
def test_config_turns_named_sources_on_and_fixes_the_rest():
    assert spikes.active_sources(spikes.LoopConfig()) == tuple(spikes.SOURCES)
    assert spikes.active_sources(spikes.config("all")) == tuple(spikes.SOURCES)
    assert spikes.active_sources(spikes.config("none")) == ()
    assert spikes.active_sources(spikes.config(["gc", "locale"])) == ("gc", "locale")
    assert spikes.active_sources(spikes.config("disk")) == ("disk",)
    cfg = spikes.config(["aligned_jobs"], updates=1_234, display_every=700)
    assert cfg.updates == 1_234 and cfg.display_every == 700  # overrides win


@pytest.mark.parametrize("on", [["nope"], "nope", 5])
def test_config_refuses_unknown_sources(on):
    with pytest.raises((ValueError, TypeError), match="on"):
        spikes.config(on)


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("updates", 0, ValueError),
        ("updates", spikes.MAX_UPDATES + 1, ValueError),
        ("warmup", -1, ValueError),
        ("buffer_lines", 1.5, TypeError),
        ("workers", 0, ValueError),
        ("max_pending", 0, ValueError),
        ("display_every", -1, ValueError),
        ("heap_objects", 10**9, ValueError),
        ("log", "printer", ValueError),
        ("book", "tree", ValueError),
        ("fsync", "yes", TypeError),
        ("directory", "/no/such/directory", ValueError),
    ],
)
def test_loop_config_refuses_bad_fields_naming_them(field, value, error):
    with pytest.raises(error, match=field):
        spikes.LoopConfig(**{field: value})


# -- a run ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("log", ["sync", "executor", "discard"])
def test_a_run_records_every_operation_and_cleans_up(log, tmp_path, clean_state):
    cfg = small(log=log, log_format="json", fsync=False, directory=str(tmp_path))
    result = spikes.run_loop(cfg)
    assert set(result.trackers) == {*spikes.OPS, "iteration"}
    for tracker in result.trackers.values():
        assert tracker.count == cfg.updates and tracker.dropped == 0
    samples = result.samples_ns()
    parts = sum(samples[op] for op in spikes.OPS)
    assert (samples["iteration"] >= parts).all()  # the whole includes its parts
    assert (np.diff(result.start_ns) > 0).all()
    counters = result.counters
    assert counters["log_lines"] == cfg.warmup + cfg.updates
    assert (counters["log_bytes"] > 0) == (log != "discard")
    assert list(tmp_path.iterdir()) == []  # the log file and its directory are gone
    table = result.summary()
    assert list(table.columns) == ["p50_ns", "p99_ns", "p99.9_ns", "max_ns"]
    assert (table["p50_ns"] <= table["max_ns"]).all()


def test_the_log_holds_one_line_per_update(monkeypatch, tmp_path):
    """Both ways of writing put every line in the file, once (seen before it is removed)."""
    seen = {}
    close = spikes._Log.close

    def keep_a_copy(self, error):
        close(self, error)
        with open(self.path) as f:
            seen[self.sink] = sorted(int(line.split(",")[1]) for line in f)

    monkeypatch.setattr(spikes._Log, "close", keep_a_copy)
    for log in ("sync", "executor"):
        spikes.run_loop(small(log=log, buffer_lines=64, fsync=False, directory=str(tmp_path)))
    assert seen["sync"] == seen["executor"] == list(range(2_200))


def test_a_failing_run_still_cleans_up(monkeypatch, tmp_path, clean_state):
    good = spikes.feed(2_200)
    monkeypatch.setattr(spikes, "feed", lambda *a, **k: good[:1_500] + [b"garbage"] + good[1_500:])
    cfg = small(["gc"], log="executor", gc_mode="disabled", directory=str(tmp_path))
    with pytest.raises(ValueError, match="market-data message"):
        spikes.run_loop(cfg)
    assert list(tmp_path.iterdir()) == []


def test_periodic_jobs_align_at_500_and_1000_but_not_at_503():
    aligned = spikes.run_loop(small(["aligned_jobs"], updates=4_800, log="discard"))
    staggered = spikes.run_loop(small(updates=4_800, log="discard"))
    assert aligned.counters["jobs_together"] == 5  # updates 1000 ... 5000 of 5000
    assert aligned.counters["displays"] == 10 and aligned.counters["snapshots"] == 5
    assert staggered.counters["jobs_together"] == 0
    assert staggered.counters["displays"] == 9


def test_cycles_make_collections_and_their_fix_removes_most(clean_state):
    cycles = spikes.run_loop(small(["gc"], updates=6_000, log="discard"))
    none = spikes.run_loop(small(updates=6_000, log="discard"))
    assert cycles.counters["gen0_gcs"] > 2 * none.counters["gen0_gcs"]
    assert len(cycles.gc_pauses) == sum(cycles.counters[f"gen{g}_gcs"] for g in (0, 1, 2))
    first, last = (
        cycles.start_ns[0],
        cycles.start_ns[-1] + cycles.trackers["iteration"].samples()[-1],
    )
    assert cycles.gc_pauses["start_ns"].between(first, last).all()


def test_gc_disabled_keeps_its_thresholds_and_counts_up(clean_state):
    result = spikes.run_loop(small(["gc"], updates=6_000, log="discard", gc_mode="disabled"))
    counters = result.counters
    assert counters["gc_enabled_during"] == 0 and counters["gc_threshold_unchanged"] == 1
    assert counters["gen0_gcs"] == counters["gen1_gcs"] == counters["gen2_gcs"] == 0
    assert counters["gc_count_end"] > gc.get_threshold()[0] > counters["gc_count_start"]
    assert counters["safe_point_collected"] > 0 and counters["safe_point_collect_ns"] > 0


def test_gc_freeze_is_undone(clean_state):
    result = spikes.run_loop(small(log="discard", gc_mode="freeze", heap_objects=10_000))
    assert result.counters["gc_enabled_during"] == 1


def test_a_bounded_backlog_waits_and_an_unbounded_one_grows(clean_state):
    slow = dict(log="executor", buffer_lines=10, workers=1, updates=1_000, warmup=0)
    bounded = spikes.run_loop(small(max_pending=1, **slow)).counters
    unbounded = spikes.run_loop(small(max_pending=None, **slow)).counters
    assert bounded["peak_pending_batches"] == 1 and bounded["backpressure_waits"] > 0
    assert unbounded["backpressure_waits"] == 0
    assert unbounded["peak_pending_batches"] >= bounded["peak_pending_batches"]
    assert bounded["fsyncs"] == unbounded["fsyncs"] == 100


def test_scheduler_statistics_line_up_with_the_iterations():
    result = spikes.run_loop(small(log="discard"))
    if result.scheduler.empty:
        pytest.skip(f"{spikes.SCHEDSTAT} is not available here")
    assert len(result.scheduler) == result.config.updates
    assert (result.scheduler >= 0).all().all()
    off = spikes.run_loop(small(log="discard", schedstat=False))
    assert off.scheduler.empty


# -- the detector ---------------------------------------------------------------------------------
def synthetic(n=10_001, every=100, spike=500_000):
    rng = np.random.default_rng(0)
    a = rng.integers(900, 1_100, n)
    b = rng.integers(1_900, 2_100, n)
    b[every - 1 :: every] += spike  # updates every, 2·every, ... (numbered from 1)
    return {"a": a, "b": b}


def test_detect_finds_injected_spikes_their_culprit_and_period():
    report = spikes.detect(synthetic())
    assert report.spikes == 100 and 29_000 <= report.threshold_ns <= 31_000  # 10 × ~3,000
    assert list(report.breakdown.index) == ["b"]
    row = report.breakdown.loc["b"]
    assert row["spikes"] == 100 and row["typical_gap"] == 100 and row["share"] == 1.0
    assert report.iterations.index[:3].tolist() == [100, 200, 300]
    assert report.per_1000 == pytest.approx(100 * 1_000 / 10_001)
    assert "100 spikes" in str(report)


def test_detect_with_a_threshold_and_an_iteration_column():
    data = synthetic()
    data["iteration"] = data["a"] + data["b"] + 50
    assert spikes.detect(data, threshold_ns=400_000).spikes == 100
    assert spikes.detect(data, threshold_ns=600_000).spikes == 0
    assert spikes.detect(data, threshold_ns=600_000).breakdown.empty


def test_detect_names_the_operation_that_exceeded_its_own_median():
    """b is always slower than a, but a's spike is the culprit of its iteration."""
    data = synthetic(every=10**9)
    data["a"][500] += 100_000
    report = spikes.detect(data, threshold_ns=50_000)
    assert report.iterations["culprit"].tolist() == ["a"]


@pytest.mark.parametrize(
    "samples, kwargs, error",
    [
        ({"a": [1, 2], "b": [1, 2, 3]}, {}, ValueError),
        ({"iteration": [1, 2]}, {}, ValueError),
        ({1: [1, 2]}, {}, TypeError),
        ([1, 2, 3], {}, TypeError),
        ({"a": [1.0, np.nan]}, {}, ValueError),
        ({"a": [1, 2]}, {"multiple": 0.5}, ValueError),
        ({"a": [1, 2]}, {"threshold_ns": 0}, ValueError),
    ],
)
def test_detect_refuses_bad_input(samples, kwargs, error):
    with pytest.raises(error):
        spikes.detect(samples, **kwargs)


def fake_result(pauses, waiting):
    """A LoopResult of four 1 µs iterations 10 µs apart, the third 50 µs long."""
    n = 4
    trackers = {}
    for op in (*spikes.OPS, "iteration"):
        tracker = spikes.LatencyTracker(capacity=n)
        for k in range(n):
            tracker.record(50_000 if (k == 2 and op in ("book", "iteration")) else 1_000)
        trackers[op] = tracker
    start = np.arange(n, dtype=np.int64) * 100_000 + 1_000_000
    scheduler = pd.DataFrame({"waiting_ns": waiting, "switches": np.sign(waiting)})
    return spikes.LoopResult(
        spikes.config(updates=n, warmup=0), trackers, start, pauses, {}, scheduler
    )


def test_detect_blames_the_collector_when_its_pause_fills_the_iteration():
    pauses = pd.DataFrame(
        {"generation": [1], "start_ns": [1_205_000], "duration_ns": [40_000],
         "collected": [10], "uncollectable": [0]}
    )  # fmt: skip
    report = spikes.detect(fake_result(pauses, np.zeros(4, np.int64)), threshold_ns=10_000)
    assert report.iterations["culprit"].tolist() == ["gc (book)"]
    assert report.iterations["gc_ns"].tolist() == [40_000]


def test_detect_blames_preemption_when_the_thread_waited_for_a_cpu():
    no_pauses = GcWatch().pauses()
    waiting = np.array([0, 0, 45_000, 0])
    report = spikes.detect(fake_result(no_pauses, waiting), threshold_ns=10_000)
    assert report.iterations["culprit"].tolist() == ["preempted (book)"]
    assert report.breakdown.loc["preempted (book)", "switched"] == 1


# -- comparisons ----------------------------------------------------------------------------------
def test_compare_loops_gives_a_frame_timing_reads(clean_state):
    configs = {"before": small(["str_match"], updates=500), "after": small(updates=500)}
    comparison = spikes.compare_loops(configs, rounds=3)
    frame = comparison.frame
    assert len(frame) == 2 * 3 * 500
    assert frame.groupby(["round", "candidate"], observed=True).size().eq(500).all()
    assert frame.loc[frame["round"] == 1].iloc[0]["candidate"] == "after"  # rotated
    assert {len(v) for v in comparison.results.values()} == {3}
    verdict = timing.verdict(frame, "before", "after", 50)
    assert verdict.rounds == 3
    parse = comparison.frame_for("parse")
    assert "waiting_ns" not in parse and len(parse) == len(frame)
    table = comparison.table("parse", threshold_ns=10**9)
    assert table.index.get_level_values("scope").unique().tolist() == ["iteration", "parse"]
    assert (table["spikes"] == 0).all()


@pytest.mark.parametrize(
    "loops, rounds, error",
    [
        ({}, 1, TypeError),
        ({"a": "not a config"}, 1, TypeError),
        ({"a": spikes.LoopConfig()}, 0, ValueError),
        ({"a": spikes.LoopConfig(updates=spikes.MAX_UPDATES)}, 30, ValueError),
    ],
)
def test_compare_loops_refuses_before_running(loops, rounds, error):
    started = time.perf_counter()
    with pytest.raises(error):
        spikes.compare_loops(loops, rounds=rounds)
    assert time.perf_counter() - started < 1


def per_call_frame(values_by_round):
    """A per-call frame like compare_loops's: {round: {candidate: (latencies, waits)}}."""
    rows = []
    for r, by_candidate in values_by_round.items():
        for position, (name, (latency, waiting)) in enumerate(by_candidate.items()):
            for call, (value, wait) in enumerate(zip(latency, waiting, strict=True)):
                rows.append((name, r, position, call, value, 0, 0, 0, wait))
    columns = ["candidate", "round", "position", "call", "latency_ns", "gen0_gcs", "gen1_gcs",
               "gen2_gcs", "waiting_ns"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame["candidate"] = pd.Categorical(frame["candidate"], ["before", "after"])
    return frame


def test_spike_tables_count_and_separate_preemption():
    frame = per_call_frame(
        {
            0: {
                "before": ([10, 10, 500, 600], [0, 0, 0, 550]),
                "after": ([10, 10, 10, 20], [0] * 4),
            },
            1: {
                "after": ([10, 10, 10, 300], [0, 0, 0, 0]),
                "before": ([10, 700, 10, 900], [0] * 4),
            },
        }
    )
    assert spikes.spike_threshold(frame) == 100  # 10 × the median of the last candidate
    counts = spikes.spike_counts(frame)
    assert counts.to_dict() == {"before": {0: 2, 1: 2}, "after": {0: 0, 1: 1}}
    table = spikes.spike_table(frame)
    assert table.loc["before", "spikes"] == 4 and table.loc["before", "preempted"] == 1
    assert table.loc["after", "spikes"] == 1 and table.loc["after", "preempted"] == 0
    assert table.loc["before", "max_ns"] == 900
    own = spikes.without_preemption(frame)
    assert own["latency_ns"].tolist()[3] == 50 and (own["waiting_ns"] == 0).all()
    assert frame["latency_ns"].tolist()[3] == 600  # the original is untouched
    line = spikes.spike_verdict(frame)
    assert "before 2, after 0–1" in line and "after has fewer in every round" in line
    assert "ranges overlap" in spikes.spike_verdict(frame, threshold_ns=650)


def test_spike_helpers_read_timing_compare_frames_and_refuse_others():
    frame = timing.compare({"a": lambda: None, "b": lambda: None}, rounds=2, mode="per_call",
                           calls=20)  # fmt: skip
    assert spikes.without_preemption(frame).equals(frame)
    assert "preempted" not in spikes.spike_table(frame)
    assert "on this machine" in spikes.spike_verdict(frame)
    with pytest.raises(TypeError, match="frame"):
        spikes.spike_table(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="before"):
        spikes.spike_verdict(frame, before="zzz")


# -- full collections ------------------------------------------------------------------------------
def test_full_collection_pauses_with_and_without_freeze(clean_state):
    frame = spikes.full_collection_pauses((0, 20_000), rounds=2, collections=2)
    names = ["0 objects", "0 objects, frozen", "20,000 objects", "20,000 objects, frozen"]
    assert list(frame.attrs["candidates"]) == names
    assert frame.groupby("candidate", observed=True).size().eq(4).all()
    assert (frame["latency_ns"] > 0).all() and (frame["gen2_gcs"] == 1).all()
    tracked = frame.attrs["tracked"]
    assert tracked["20,000 objects"] >= tracked["0 objects"] + 20_000
    assert tracked["20,000 objects, frozen"] < 1_000  # frozen objects are not traversed
    assert timing.verdict(frame, "20,000 objects", "20,000 objects, frozen").rounds == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"heap_sizes": ()}, {"heap_sizes": (1, 1)}, {"heap_sizes": (-1,)}, {"heap_sizes": "12"},
     {"rounds": 0}, {"collections": 10**6}, {"rounds": 100, "collections": 100}],
)  # fmt: skip
def test_full_collection_pauses_refuses_unbounded_or_bad_requests(kwargs):
    with pytest.raises((ValueError, TypeError)):
        spikes.full_collection_pauses(**kwargs)


def test_nothing_is_left_in_the_temporary_directory(tmp_path):
    spikes.run_loop(small(["disk"], directory=str(tmp_path)))
    assert os.listdir(tmp_path) == []
