"""handoff: every kind delivers every item once, in order, across threads, paced or not;
errors in either thread surface in the caller; nothing hangs; tables are in int64 ns."""

import threading
import time

import numpy as np
import pytest

from latency_lab import handoff, timing
from latency_lab.structures import Channel, make_channel

COLUMNS = ["p50_ns", "p99_ns", "p99.9_ns", "max_ns"]


def _no_handoff_threads_left():
    return not [t for t in threading.enumerate() if t.name.startswith("handoff-")]


class Recording(Channel):
    """A channel of a real kind that also records every stamp the consumer receives, and
    can be told to fail in either thread."""

    kind = "recording"

    def __init__(self, capacity, fail_send_at=None, fail_recv_at=None):
        super().__init__(capacity)
        self.inner = make_channel("RingBuffer", capacity)
        self.stamps, self.fail_send_at, self.fail_recv_at = [], fail_send_at, fail_recv_at

    def try_send(self, item):
        if self.inner.sent == self.fail_send_at:
            raise RuntimeError("producer died")
        accepted = self.inner.try_send(item)
        self._sent += accepted
        self._dropped += not accepted
        return accepted

    def try_recv(self):
        if self.inner.received == self.fail_recv_at:
            raise RuntimeError("consumer died")
        item = self.inner.try_recv()
        if item is not None:
            self._received += 1
            self.stamps.append(item)
        return item


def test_single_thread_ops_time_each_call_with_two_clock_reads(monkeypatch):
    """With a fake clock that advances 7 ns per read, every put and get sample is exactly
    7 ns: one timed call between two reads, warm-up left out, int64 ns."""
    ticks = iter(range(0, 10**9, 7))
    monkeypatch.setattr(time, "perf_counter_ns", lambda: next(ticks))
    result = handoff.single_thread_ops(ops=500)
    assert list(result) == list(handoff.KINDS)
    for by_op in result.values():
        for samples in by_op.values():
            assert samples.dtype == np.int64 and samples.tolist() == [7] * 500


def test_percentile_table_of_single_thread_ops_is_in_ns():
    ops = handoff.single_thread_ops(ops=300, capacity=16)
    table = handoff.percentile_table(
        {f"{k} {op}": v for k, d in ops.items() for op, v in d.items()}
    )
    assert list(table.index) == [f"{k} {op}" for k in handoff.KINDS for op in ("put", "get")]
    assert list(table.columns) == COLUMNS and (table.dtypes == np.int64).all()
    values = table.to_numpy()
    assert (values > 0).all() and (np.diff(values, axis=1) >= 0).all()  # p50 <= ... <= max


def test_percentile_table_is_nearest_rank():
    table = handoff.percentile_table({"a": np.arange(1, 1001), "b": np.array([2, 1])})
    assert table.loc["a"].tolist() == [500, 990, 999, 1000]  # p99.9 of 1..1000 is 999
    assert table.loc["b"].tolist() == [1, 2, 2, 2]


@pytest.mark.parametrize(
    "samples, error, match",
    [
        ({}, TypeError, "samples_ns"),
        ([1, 2], TypeError, "samples_ns"),
        ({"a": [1.5, 2.0]}, TypeError, "integer nanoseconds"),
        ({"a": []}, ValueError, "empty"),
        ({"a": [[1, 2]]}, ValueError, "one-dimensional"),
    ],
)
def test_percentile_table_bad_input(samples, error, match):
    with pytest.raises(error, match=match):
        handoff.percentile_table(samples)


@pytest.mark.parametrize("kind", handoff.KINDS)
@pytest.mark.parametrize("yielding", [True, False])
def test_cross_thread_delivers_everything_once(kind, yielding):
    channel = make_channel(kind, 64)
    latencies, throughput = handoff.cross_thread(
        channel, items=2_000, yield_when_idle=yielding, timeout_s=60
    )
    assert channel.sent == channel.received == 2_000 and len(channel) == 0
    assert latencies.dtype == np.int64 and (latencies >= 0).all() and throughput > 0


@pytest.mark.parametrize("rate", [None, 50_000.0])
def test_cross_thread_stamps_are_in_order_and_on_schedule(rate):
    channel = Recording(32)
    handoff.cross_thread(channel, items=1_000, rate=rate)
    stamps = np.asarray(channel.stamps)
    assert stamps.size == 1_000 and (np.diff(stamps) >= 0).all()  # FIFO, nothing lost
    if rate is not None:  # open loop: stamp i is start + i * 20 µs, to the nanosecond
        assert np.abs(np.diff(stamps) - 20_000).max() <= 1


@pytest.mark.parametrize(
    "where, match",
    [({"fail_send_at": 100}, "producer died"), ({"fail_recv_at": 100}, "consumer died")],
)
def test_an_error_in_either_thread_is_raised_and_stops_the_other(where, match):
    channel = Recording(8, **where)
    with pytest.raises(RuntimeError, match=match) as caught:
        handoff.cross_thread(channel, items=10_000, timeout_s=30)
    assert any("thread of handoff.cross_thread" in note for note in caught.value.__notes__)
    # the surviving thread saw the stop flag and ended: it is not left spinning
    assert _no_handoff_threads_left()


def test_a_run_that_cannot_finish_times_out_and_stops_its_threads():
    class Stalled(Recording):
        def try_send(self, item):
            return False  # always full: the producer waits, the consumer finds nothing

    with pytest.raises(TimeoutError, match="timeout_s=0.3"):
        handoff.cross_thread(Stalled(8), items=10, timeout_s=0.3)
    assert _no_handoff_threads_left()


def test_a_thread_stuck_inside_a_channel_call_is_reported():
    release = threading.Event()

    class Blocking(Recording):
        def try_send(self, item):
            release.wait(30)  # a channel that blocks, which make_channel's never do
            return False

    try:
        with pytest.raises(TimeoutError, match="still running inside a channel call"):
            handoff.cross_thread(Blocking(8), items=10, timeout_s=0.2)
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while not _no_handoff_threads_left() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _no_handoff_threads_left()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kind": "list"}, ValueError, "kind must be one of"),
        ({"kind": "RingBuffer", "capacity": 6}, ValueError, "power of two"),
        ({"items": 0}, ValueError, "items"),
        ({"items": 10**12}, ValueError, "items must be in"),
        ({"items": 1.5}, TypeError, "items"),
        ({"rate": 0}, ValueError, "rate"),
        ({"rate": 1e-300}, ValueError, "rate: sending"),
        ({"rate": float("nan")}, ValueError, "rate"),
        ({"rate": "fast"}, TypeError, "rate"),
        ({"timeout_s": float("inf")}, ValueError, "timeout_s"),
        ({"timeout_s": 0}, ValueError, "timeout_s"),
        ({"timeout_s": 10**400}, ValueError, "timeout_s"),
        ({"rate": 10**400}, ValueError, "rate"),
        ({"yield_when_idle": "yes"}, TypeError, "yield_when_idle"),
    ],
)
def test_cross_thread_bad_parameters_are_refused_before_any_thread_starts(kwargs, error, match):
    args = {"kind": "deque", "items": 100} | kwargs
    before = threading.active_count()
    with pytest.raises(error, match=match):
        handoff.cross_thread(**args)
    assert threading.active_count() == before


def test_cross_thread_refuses_a_channel_that_is_not_empty():
    channel = make_channel("deque", 4)
    channel.try_send(1)
    with pytest.raises(ValueError, match="must be empty"):
        handoff.cross_thread(channel, items=10)


@pytest.mark.parametrize("ops, error", [(0, ValueError), (10**12, ValueError), ("5", TypeError)])
def test_single_thread_ops_bad_parameters(ops, error):
    with pytest.raises(error, match="ops"):
        handoff.single_thread_ops(ops)


@pytest.mark.parametrize("rate", [None, 20_000.0])
def test_cross_thread_table_is_in_ns(rate):
    table = handoff.cross_thread_table(items=300, capacity=16, rate=rate)
    assert list(table.index) == [
        f"{kind}, {mode} when idle" for kind in handoff.KINDS for mode in ("yield", "spin")
    ]
    assert list(table.columns) == [*COLUMNS, "items_per_s"]
    assert (table[COLUMNS].dtypes == np.int64).all()
    assert (np.diff(table[COLUMNS].to_numpy(), axis=1) >= 0).all()  # p50 <= ... <= max
    assert (table["items_per_s"] > 0).all()


def test_put_get_cases_make_one_put_and_one_get_per_call():
    cases = handoff.put_get_cases(capacity=4)
    assert list(cases) == list(handoff.KINDS)
    for case in cases.values():
        for _ in range(10):  # more calls than the capacity: each call leaves it empty
            assert case() is None


def test_put_get_cases_are_timed_by_compare_in_bulk():
    frame = timing.compare(handoff.put_get_cases(), rounds=2, calls=50)
    assert list(frame.attrs["candidates"]) == list(handoff.KINDS)
    assert (frame["calls"] == 50).all() and (frame["ns_per_call"] > 0).all()


@pytest.mark.parametrize("capacity, error", [(6, ValueError), (0, ValueError), ("8", TypeError)])
def test_put_get_cases_refuse_a_bad_capacity(capacity, error):
    with pytest.raises(error, match="capacity"):
        handoff.put_get_cases(capacity)


@pytest.mark.parametrize("rate", [None, 50_000.0])
def test_cross_thread_rounds_interleave_every_candidate_in_compare_shapes(rate):
    result = handoff.cross_thread_rounds(rounds=3, items=200, capacity=16, rate=rate)
    names = [f"{k} {m}" for k in handoff.KINDS for m in ("yielding", "spinning")]
    latency, runs = result
    assert list(latency.attrs["candidates"]) == names and latency.attrs["rounds"] == 3
    assert latency.attrs["mode"] == "per_call" and runs.attrs["mode"] == "bulk"
    assert latency["latency_ns"].dtype == np.int64 and (latency["latency_ns"] >= 0).all()
    assert len(latency) == 3 * len(names) * 200 and len(runs) == 3 * len(names)
    # every round runs every candidate once, starting one further along each round
    firsts = runs[runs["position"] == 0]["candidate"].tolist()
    assert firsts == names[:3]
    for _, one_round in runs.groupby("round"):
        assert sorted(one_round["candidate"]) == sorted(names)
    assert (runs["ns_per_call"] == runs["total_ns"] / runs["calls"]).all()
    # the harness's readers accept both shapes
    assert list(timing.summarize(latency).index) == names
    assert timing.per_round(runs).shape == (3, len(names))
    verdict = timing.verdict(latency, names[1], names[0], 99)
    assert verdict.rounds == 3 and verdict.at == "p99"


def test_cross_thread_rounds_counts_collections_once_per_run():
    result = handoff.cross_thread_rounds(["deque"], ["yield"], rounds=2, items=100, capacity=8)
    gcs = [f"gen{g}_gcs" for g in (0, 1, 2)]
    per_run = result.runs[gcs].sum()
    assert (result.latency[gcs].sum() == per_run).all()
    assert (result.latency.loc[result.latency["call"] > 0, gcs] == 0).all().all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kinds": ["list"]}, ValueError, "kinds must be one of"),
        ({"kinds": []}, ValueError, "kinds must name at least one"),
        ({"kinds": ["deque", "deque"]}, ValueError, "must not repeat"),
        ({"kinds": 3}, TypeError, "kinds must be an iterable"),
        ({"idle": ["nap"]}, ValueError, "idle must be one of"),
        ({"rounds": 0}, ValueError, "rounds"),
        ({"items": 10**7}, ValueError, "MAX_SAMPLES"),
        ({"capacity": 6}, ValueError, "power of two"),
        ({"rate": 1.0}, ValueError, "rate"),
        ({"rate": 1_000.0, "items": 1_000, "time_limit_s": 1}, ValueError, "time_limit_s"),
        ({"time_limit_s": 0}, ValueError, "time_limit_s"),
    ],
)
def test_cross_thread_rounds_refuses_bad_parameters_before_any_thread_starts(kwargs, error, match):
    before = threading.active_count()
    with pytest.raises(error, match=match):
        handoff.cross_thread_rounds(**({"items": 100} | kwargs))
    assert threading.active_count() == before


def test_cross_thread_rounds_stops_starting_rounds_after_its_time_limit():
    with pytest.warns(RuntimeWarning, match="stopped after 1 of 50 rounds"):
        result = handoff.cross_thread_rounds(
            ["queue.Queue"], ["spin"], rounds=50, items=2_000, capacity=8, time_limit_s=0.01
        )
    assert result.latency.attrs["rounds"] == result.runs.attrs["rounds"] == 1
    assert len(result.runs) == 1 and len(result.latency) == 2_000
