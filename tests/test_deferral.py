"""deferral: stamped channels never block, orders reconcile (a cancel that races a fill
included), the refresher publishes snapshots and surfaces errors, sessions leave no thread
or task behind."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import deferral, structures, timing


class FakeClock:
    """A clock the test sets by hand (int ns)."""

    def __init__(self, now: int = 1_000):
        self.now = now

    def __call__(self) -> int:
        return self.now


def run(coro):
    """Run ``coro`` in a fresh loop and check that no task is left pending in it."""

    async def main():
        baseline = len(asyncio.all_tasks())
        result = await coro
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) == baseline, asyncio.all_tasks()
        return result

    return asyncio.run(main())


# -- channels ---------------------------------------------------------------------------------
def test_stamped_channel_stamps_sequence_and_enqueue_time():
    clock = FakeClock(1_000)
    channel = deferral.StampedChannel(capacity=2, clock=clock)
    assert channel.try_send("a") and channel.try_send("b")
    clock.now = 1_500
    assert not channel.try_send("c")  # full: refused at once, seq 2 used up
    message = channel.try_recv()
    assert message == deferral.Message(0, 1_000, "a")
    clock.now = 4_000
    assert channel.try_send("d")  # seq 3
    assert channel.try_recv() == deferral.Message(1, 1_000, "b")
    assert channel.missed == 0
    assert channel.try_recv() == deferral.Message(3, 4_000, "d")
    assert channel.missed == 1  # the gap 1 -> 3 tells the receiver one message was dropped
    assert channel.try_recv() is None
    assert (channel.sent, channel.dropped, channel.received) == (3, 1, 3)
    assert list(channel.queue_latency.samples()) == [500, 3_000, 0]


@pytest.mark.parametrize("kind", structures.CHANNEL_KINDS)
def test_a_full_channel_never_blocks(kind):
    channel = deferral.StampedChannel(capacity=8, kind=kind)
    assert all(channel.try_send(i) for i in range(8))
    started = time.perf_counter()
    refused = [channel.try_send(i) for i in range(10_000)]
    assert time.perf_counter() - started < 5  # 10,000 refusals; a blocking send would hang
    assert not any(refused)
    assert channel.dropped == 10_000 and len(channel) == 8


def test_a_full_channel_never_blocks_across_threads(no_leaks):
    channel = deferral.StampedChannel(capacity=4)
    results = []
    thread = threading.Thread(
        target=lambda: results.extend(channel.try_send(i) for i in range(100))
    )
    thread.start()
    thread.join(5)
    assert not thread.is_alive()  # nobody received: a blocking send would still be waiting
    assert results.count(True) == 4 and channel.dropped == 96


@given(st.lists(st.one_of(st.integers(0, 9), st.none()), max_size=200), st.integers(1, 8))
def test_stamped_channel_behaves_like_a_bounded_fifo(ops, capacity):
    channel = deferral.StampedChannel(capacity=capacity)
    model: deque = deque()
    for op in ops:
        if op is None:
            got = channel.try_recv()
            want = model.popleft() if model else None
            assert (got.payload if got else None) == want
        else:
            accepted = channel.try_send(op)
            assert accepted == (len(model) < capacity)
            if accepted:
                model.append(op)
    assert len(channel) == len(model)


def test_stamped_channel_refuses_none_and_bad_parameters():
    channel = deferral.StampedChannel()
    with pytest.raises(ValueError, match="payload"):
        channel.try_send(None)
    with pytest.raises(ValueError, match="latency_capacity"):
        deferral.StampedChannel(latency_capacity=0)
    with pytest.raises(TypeError, match="clock"):
        deferral.StampedChannel(clock=time.perf_counter)
    with pytest.raises(ValueError, match="capacity"):
        deferral.StampedChannel(capacity=0)


def test_drain_takes_what_waits_up_to_a_bound():
    channel = deferral.StampedChannel(capacity=8)
    for i in range(5):
        channel.try_send(i)
    assert [m.payload for m in channel.drain(2)] == [0, 1]
    assert [m.payload for m in channel.drain()] == [2, 3, 4]
    assert channel.drain() == []


def test_priority_channel_puts_cancels_first_and_keeps_fifo_among_equals():
    clock = FakeClock()
    channel = deferral.PriorityChannel(capacity=4, key=deferral.urgency, clock=clock)
    sent = [
        deferral.Place(1, "buy", 99.0, 1.0),
        deferral.Place(2, "sell", 101.0, 1.0),
        deferral.Cancel(7),
        deferral.CancelAll(),
        deferral.Place(3, "buy", 98.0, 1.0),  # refused: full
    ]
    assert [channel.try_send(c) for c in sent] == [True, True, True, True, False]
    order = [channel.try_recv().payload for _ in range(4)]
    assert order == [deferral.Cancel(7), deferral.CancelAll(), sent[0], sent[1]]
    assert channel.try_recv() is None
    assert (channel.sent, channel.dropped, channel.received) == (4, 1, 4)


def test_priority_channel_without_key_is_fifo():
    channel = deferral.PriorityChannel(capacity=3)
    for item in "abc":
        channel.try_send(item)
    assert "".join(channel.try_recv().payload for _ in range(3)) == "abc"


def test_urgency_refuses_what_is_not_a_command():
    with pytest.raises(TypeError, match="command"):
        deferral.urgency("cancel")


# -- the refresher ------------------------------------------------------------------------------
def test_refresher_publishes_snapshots_and_stops_cleanly(no_leaks):
    calls = []

    def estimate():
        calls.append(1)
        return float(len(calls))

    with deferral.BackgroundRefresher(estimate, period_ms=1.0) as refresher:
        first = refresher.latest()
        assert first is not None and first.version >= 1  # start() waited for it
        deadline = time.monotonic() + 5
        while refresher.latest().version < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        snapshot = refresher.latest()
        assert snapshot.version >= 3 and snapshot.value == float(snapshot.version)
        assert refresher.age_ns() >= 0
        assert snapshot.age_ns(snapshot.published_ns) == snapshot.compute_ns >= 0
        with pytest.raises(AttributeError):
            snapshot.value = 0.0  # immutable: readers never see a half-updated estimate
    assert not refresher.running
    refreshes = refresher.refreshes
    time.sleep(0.02)
    assert refresher.refreshes == refreshes  # stopped means stopped


def test_refresher_error_surfaces_at_stop(no_leaks):
    state = {"n": 0}

    def flaky():
        state["n"] += 1
        if state["n"] >= 3:
            raise ZeroDivisionError("estimator blew up")
        return 1.0

    refresher = deferral.BackgroundRefresher(flaky, period_ms=1.0).start()
    deadline = time.monotonic() + 5
    while not refresher.failed and time.monotonic() < deadline:
        time.sleep(0.005)
    assert refresher.failed
    assert refresher.latest().version == 2  # the last good snapshot stays readable
    with pytest.raises(RuntimeError, match="estimator blew up") as info:
        refresher.stop()
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_refresher_whose_first_value_fails_raises_at_start(no_leaks):
    def broken():
        raise ValueError("no data")

    with pytest.raises(RuntimeError, match="no data"):
        with deferral.BackgroundRefresher(broken, period_ms=1.0):
            pass


def test_refresher_refuses_bad_parameters_before_starting(no_leaks):
    with pytest.raises(ValueError, match="period_ms"):
        deferral.BackgroundRefresher(time.perf_counter_ns, period_ms=0.0)
    with pytest.raises(TypeError, match="func"):
        deferral.BackgroundRefresher(3.0)
    refresher = deferral.BackgroundRefresher(time.perf_counter_ns).start()
    with pytest.raises(RuntimeError, match="already started"):
        refresher.start()
    with pytest.raises(TypeError, match="timeout_s"):
        refresher.stop(timeout_s="5")
    refresher.stop()


# -- the estimator ------------------------------------------------------------------------------
def reference_ewma(prices, halflife):
    lam = 0.5 ** (1 / halflife)
    returns = np.diff(np.log(prices))
    variance = returns[0] ** 2
    for r in returns[1:]:
        variance = lam * variance + (1 - lam) * r * r
    return math.sqrt(variance)


@given(
    st.lists(st.floats(1.0, 1_000.0), min_size=2, max_size=50),
    st.floats(0.5, 1_000.0),
)
def test_ewma_volatility_matches_the_recursion(prices, halflife):
    got = deferral.ewma_volatility(np.array(prices), halflife)
    assert math.isclose(
        got, reference_ewma(np.array(prices), halflife), rel_tol=1e-9, abs_tol=1e-15
    )


def test_ewma_volatility_refuses_bad_input():
    with pytest.raises(ValueError, match="prices"):
        deferral.ewma_volatility([100.0])
    with pytest.raises(ValueError, match="prices"):
        deferral.ewma_volatility([100.0, -1.0])
    with pytest.raises(ValueError, match="halflife"):
        deferral.ewma_volatility([100.0, 101.0], halflife=0)


# -- orders and reconciliation -----------------------------------------------------------------
def test_exchange_and_reconciler_agree_once_everything_is_answered():
    exchange, view = deferral.SimulatedExchange(), deferral.Reconciler()
    commands = [
        deferral.Place(1, "buy", 99.0, 1.0),
        deferral.Place(2, "sell", 101.0, 2.0),
        deferral.Place(3, "buy", 98.0, 1.0),
    ]
    for command in commands:
        view.intend(command)
    assert view.pending == 3 and not view.consistent_with(exchange)  # in flight
    for command in commands:
        view.apply_all(exchange.process(command))
    view.apply_all(exchange.on_market(98.5))  # trades through the bid at 99 only
    assert view.orders[1].state == "filled" and view.position == exchange.position == 1.0
    view.intend(deferral.CancelAll())
    view.apply_all(exchange.process(deferral.CancelAll()))
    assert view.open_orders == frozenset() and view.consistent_with(exchange)
    assert {view.orders[i].state for i in (2, 3)} == {"canceled"}


def test_a_cancel_that_races_a_fill_ends_filled_and_consistent():
    """The cancel is in flight when the market trades through the order: the fill wins."""

    async def scenario():
        async with deferral.OrderGateway(io_us=40_000.0) as gateway:  # 20 ms each way
            view, exchange = gateway.reconciler, gateway.exchange
            order = gateway.buy(99.0, 1.0)
            await asyncio.sleep(0.08)
            assert view.orders[order].state == "live"
            assert gateway.cancel(order)
            assert view.orders[order].state == "pending_cancel"
            view.apply_all(exchange.on_market(98.0))  # filled before the cancel arrives
            assert view.orders[order].state == "filled"
            assert view.cancel_races == 1 and view.position == 1.0
            assert len(gateway.channel) + gateway.in_flight == 1  # the cancel is on its way
        # leaving the block waited for the cancel's answer: a reject, as the order is gone
        assert view.late_cancel_rejects == 1 and view.unexpected_reports == 0
        assert view.orders[order].state == "filled"
        assert view.consistent_with(exchange) and exchange.position == 1.0
        return gateway

    gateway = run(scenario())
    assert gateway.answered == 2 and gateway.in_flight == 0


def test_a_cancel_that_arrives_first_wins():
    async def scenario():
        async with deferral.OrderGateway(io_us=2_000.0) as gateway:
            order = gateway.sell(101.0, 3.0)
            gateway.cancel(order)  # place then cancel, in order through the channel
        assert gateway.reconciler.orders[order].state == "canceled"
        assert gateway.reconciler.consistent_with(gateway.exchange)

    run(scenario())


def test_a_full_gateway_refuses_without_blocking():
    async def scenario():
        async with deferral.OrderGateway(capacity=2, io_us=1_000.0, max_in_flight=1) as gateway:
            started = time.perf_counter()
            ids = [gateway.buy(100.0 - i, 1.0) for i in range(50)]
            assert time.perf_counter() - started < 1  # the hot path was never made to wait
            assert ids[:2] == [1, 2] and ids[2:] == [None] * 48
            assert gateway.channel.dropped == 48
            assert not gateway.cancel_all()  # still full: refused, to be retried
            await asyncio.sleep(0.05)
            assert gateway.cancel_all()  # room again
        assert gateway.reconciler.consistent_with(gateway.exchange)
        assert gateway.exchange.resting == {}

    run(scenario())


def test_gateway_leaves_no_task_and_surfaces_a_failure():
    class Broken(deferral.SimulatedExchange):
        def process(self, command):
            raise OSError("exchange link down")

    async def scenario():
        baseline = len(asyncio.all_tasks())
        gateway = deferral.OrderGateway(io_us=0.0, exchange=Broken())
        with pytest.raises(RuntimeError, match="failed") as info:
            async with gateway:
                assert len(asyncio.all_tasks()) == baseline + 1
                gateway.buy(100.0, 1.0)
                await asyncio.sleep(0.01)
        assert isinstance(info.value.__cause__, OSError)
        assert len(asyncio.all_tasks()) == baseline
        with pytest.raises(RuntimeError):
            gateway.buy(100.0, 1.0)

    asyncio.run(scenario())


def test_gateway_validates_at_the_boundary():
    gateway = deferral.OrderGateway()
    with pytest.raises(ValueError, match="price"):
        gateway.buy(-1.0, 1.0)
    with pytest.raises(TypeError, match="size"):
        gateway.sell(100.0, "1")
    with pytest.raises(ValueError, match="order_id"):
        gateway.cancel(99)
    with pytest.raises(ValueError, match="io_us"):
        deferral.OrderGateway(io_us=math.inf)
    assert gateway.buy(100.0, 1.0) == 1  # no loop needed to send: it only queues
    with pytest.raises(ValueError, match="already placed"):
        gateway.submit(deferral.Place(1, "buy", 100.0, 1.0))


# -- sessions -----------------------------------------------------------------------------------
SMALL = dict(ticks=120, tick_gap_us=500.0, io_us=500.0, window=20_000, refresh_ms=5.0)


@pytest.mark.parametrize("design", deferral.DESIGNS)
def test_session_handles_every_tick_and_ends_consistent(design, no_leaks):
    report = run(deferral.run_session(design, **SMALL))
    assert report.design == design and report.ticks == 120
    assert (report.latency_ns >= report.service_ns).all() and (report.service_ns > 0).all()
    assert (report.staleness_ns >= 0).all() and report.estimate_ns.size >= 1
    assert report.commands > 0 and report.consistent
    if design == "inline":
        assert report.queue_ns.size == 0 and report.dropped == 0
    else:
        assert report.queue_ns.size == report.commands - report.dropped
    summary = report.summary()
    assert summary["p50_ns"] <= summary["p99_ns"] <= summary["max_ns"]


def test_session_time_limit_stops_it_early(no_leaks):
    report = run(deferral.run_session("inline", **{**SMALL, "ticks": 5_000}, time_limit_s=0.2))
    assert 0 < report.ticks < 5_000
    assert (report.latency_ns[report.ticks :] == -1).all()


def test_compare_designs_gives_a_frame_timing_reads(no_leaks):
    result = run(deferral.compare_designs(2, **SMALL))
    assert set(result.frame["candidate"].cat.categories) == set(deferral.DESIGNS)
    summary = timing.summarize(result.frame)
    assert list(summary.index) == list(deferral.DESIGNS) and (summary["count"] == 240).all()
    verdict = timing.verdict(result.frame, "inline", "deferred", percentile=99)
    assert verdict.rounds == 2 and "on this machine" in str(verdict)
    assert len(result.sessions) == 4 and result.sessions["consistent"].all()


def test_session_refuses_bad_parameters_before_running():
    with pytest.raises(ValueError, match="ticks"):
        deferral.run_session(ticks=10**9)
    with pytest.raises(ValueError, match="design"):
        deferral.run_session("threads")
    with pytest.raises(TypeError, match="tick_gap_us"):
        deferral.compare_designs(tick_gap_us="5")
    with pytest.raises(ValueError, match="rounds"):
        deferral.compare_designs(rounds=0)


def test_ingest_refuses_a_torn_record():
    async def scenario():
        reader = asyncio.StreamReader()
        reader.feed_data(deferral.TICK_RECORD.pack(0, 5) + b"\x01\x02")
        reader.feed_eof()
        seen = []
        with pytest.raises(ValueError, match="middle"):
            await deferral.ingest(reader, lambda i, t: seen.append((i, t)))
        assert seen == [(0, 5)]

    asyncio.run(scenario())
