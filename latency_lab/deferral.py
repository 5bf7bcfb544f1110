"""Hot path vs background work: a stamped bounded channel, an async order gateway with fill
reconciliation and a background refresher with a cached estimate (lesson 05).

A market maker's hot path must not wait for order I/O or for a heavy estimator. This module
holds the pieces that move such work off the path, and the experiments that measure what
that buys:

- :class:`StampedChannel` — a bounded channel (on :func:`latency_lab.structures.make_channel`)
  whose ``try_send`` never blocks, counts drops and stamps every message with a sequence
  number and its enqueue time, so the consumer reports each message's queue latency.
  :class:`PriorityChannel` does the same on a ``heapq``, so urgent items (cancels) jump
  ahead of the rest (new orders).
- :class:`OrderGateway` — the hot path emits order commands (:class:`Place`,
  :class:`Cancel`, :class:`CancelAll`) through a channel; an asyncio task performs the
  (simulated) exchange I/O; a :class:`Reconciler` matches the exchange's reports, fills
  included, against the orders the hot path intended — eventually consistent.
- :class:`BackgroundRefresher` — recomputes an expensive estimator (here
  :func:`ewma_volatility` over a long price path) every N ms in a thread; the hot path reads
  the latest :class:`Snapshot` without a lock, and knows its age.
- :func:`run_session` and :func:`compare_designs` — a small market-making session with the
  order I/O and the estimator inline (on the hot path) or deferred, measured per tick.

Lesson 05's other tools live with their concepts: ``latency_lab.timing.compare_async`` (the
timing harness for coroutines) and ``latency_lab.loopback`` (real TCP on 127.0.0.1).

Everything is bounded in count and time, and every thread or task started here is joined
or awaited before the call (or the ``with`` block) that started it returns; errors in
background work are raised where the caller waits for it (``stop``, ``close``, the end of a
``with`` block).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import os
import struct
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from latency_lab import stats, structures, timing, units, validate
from latency_lab.gcwatch import GENERATIONS, GcWatch
from latency_lab.tracker import LatencyTracker

#: Most queue-latency samples a channel keeps (each costs 8 bytes, allocated up front).
MAX_LATENCY_SAMPLES = 10_000_000
#: Longest wait any ``stop``/``close`` accepts, and the longest time limit of a run (s).
MAX_TIMEOUT_S = 3_600.0
#: Shortest and longest refresh period of a :class:`BackgroundRefresher` (ms).
MIN_PERIOD_MS, MAX_PERIOD_MS = 0.1, 60_000.0
#: How long :meth:`BackgroundRefresher.start` waits for the first value (s).
FIRST_VALUE_TIMEOUT_S = 60.0
#: Longest simulated exchange round trip (µs) and tick gap (µs) a session accepts.
MAX_IO_US = units.US_PER_S
MAX_TICK_GAP_US = units.US_PER_S
#: Most ticks in one session, and most prices the estimator reads per refresh.
MAX_SESSION_TICKS = 100_000
MAX_WINDOW = 5_000_000
#: The two designs :func:`run_session` compares.
DESIGNS = ("inline", "deferred")

OrderId = int  # an order's id: a positive integer given by whoever places it


def _check_clock(clock) -> Callable[[], int]:
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning int nanoseconds, got {clock!r}")
    reading = clock()
    if isinstance(reading, bool) or not isinstance(reading, int | np.integer):
        raise TypeError(
            f"clock must return int nanoseconds, got {type(reading).__name__}: "
            "use time.perf_counter_ns"
        )
    return clock


# -- channels ------------------------------------------------------------------------------
class Message(NamedTuple):
    """One item as a stamped channel delivers it (lesson 05).

    ``seq`` counts the sender's ``try_send`` calls from 0 — accepted *and* refused — so a
    gap between two received messages is the number dropped between them; ``enqueued_ns``
    is the sender's clock when it sent; ``payload`` is what was sent.
    """

    seq: int
    enqueued_ns: int
    payload: object


_NONE_PAYLOAD = "payload must not be None: try_recv() returns None to mean 'empty'"


class StampedChannel:
    """A bounded channel whose ``try_send`` never blocks and stamps each message with a
    sequence number and its enqueue time (lesson 05).

    Built on :func:`latency_lab.structures.make_channel`: when full, ``try_send`` refuses
    the payload at once, returns False and counts it in ``dropped``. ``try_recv`` returns a
    :class:`Message` (or None when empty) and records the message's time in the channel,
    ``now − enqueued_ns``, in ``queue_latency`` (a :class:`~latency_lab.LatencyTracker`,
    ns). The consumer also learns of drops without reading the sender's counters: a jump
    in ``seq`` between two received messages is counted in ``missed`` (drops after the last
    received message show up only when the next one arrives).

    One sending thread and one receiving thread (or one event loop), as for
    :class:`~latency_lab.structures.Channel`.

    Parameters
    ----------
    capacity : int
        Most messages held, in [1, ``structures.MAX_CAPACITY``] (a power of two for
        ``kind="RingBuffer"``).
    kind : str
        The structure underneath, one of ``structures.CHANNEL_KINDS``.
    clock : callable returning int ns
        ``time.perf_counter_ns`` unless a test or a lesson needs a controllable clock.
    latency_capacity : int
        Queue-latency samples kept, in [1, :data:`MAX_LATENCY_SAMPLES`] (further ones are
        counted in ``queue_latency.dropped``).
    """

    __slots__ = ("_channel", "_clock", "_attempts", "_expected", "_missed", "queue_latency")

    def __init__(
        self,
        capacity: int = 1024,
        kind: str = "deque",
        clock: Callable[[], int] = time.perf_counter_ns,
        latency_capacity: int = 100_000,
    ):
        latency_capacity = validate.integer(
            "latency_capacity", latency_capacity, low=1, high=MAX_LATENCY_SAMPLES
        )
        self._channel = structures.make_channel(kind, capacity)
        self._clock = _check_clock(clock)
        self.queue_latency = LatencyTracker(capacity=latency_capacity, clock=clock)
        self._attempts = 0  # written by the sender only
        self._expected = 0  # the seq the receiver expects next: written by the receiver only
        self._missed = 0

    def try_send(self, payload) -> bool:
        """Stamp and enqueue ``payload`` (not None): True if accepted, False if full."""
        if payload is None:
            raise ValueError(_NONE_PAYLOAD)
        seq = self._attempts
        self._attempts = seq + 1
        return self._channel.try_send(Message(seq, self._clock(), payload))

    def try_recv(self) -> Message | None:
        """The oldest :class:`Message`, or None if empty; records its queue latency."""
        message = self._channel.try_recv()
        if message is None:
            return None
        self.queue_latency.record(self._clock() - message.enqueued_ns)
        if message.seq != self._expected:
            self._missed += message.seq - self._expected
        self._expected = message.seq + 1
        return message

    def drain(self, max_items: int | None = None) -> list[Message]:
        """Receive up to ``max_items`` messages (all waiting if None), oldest first."""
        count = len(self)
        if max_items is not None:
            count = min(count, validate.integer("max_items", max_items, low=0))
        return [self.try_recv() for _ in range(count)]

    @property
    def capacity(self) -> int:
        return self._channel.capacity

    @property
    def kind(self) -> str:
        return self._channel.kind

    @property
    def sent(self) -> int:
        """Messages accepted so far."""
        return self._channel.sent

    @property
    def dropped(self) -> int:
        """Payloads refused because the channel was full (the sender's count)."""
        return self._channel.dropped

    @property
    def received(self) -> int:
        return self._channel.received

    @property
    def missed(self) -> int:
        """Drops the receiver has seen as gaps in ``seq`` (the receiver's count)."""
        return self._missed

    def __len__(self) -> int:
        return len(self._channel)

    def __repr__(self) -> str:
        return (
            f"StampedChannel(kind={self.kind!r}, capacity={self.capacity}, len={len(self)}, "
            f"sent={self.sent}, dropped={self.dropped}, received={self.received}, "
            f"missed={self.missed})"
        )


class PriorityChannel(structures.Channel):
    """A bounded channel that delivers the most urgent message first, FIFO among equally
    urgent ones (a ``heapq``; lesson 05).

    ``key(payload)`` gives the urgency rank (lower is more urgent; :func:`urgency` ranks
    cancels before new orders); without a key every payload ranks 0 and the channel is
    FIFO. ``try_send`` never blocks: when ``capacity`` messages wait it refuses the payload
    and counts it in ``dropped``. Messages are stamped like those of
    :class:`StampedChannel` and ``try_recv`` records their queue latency. Each send and
    receive costs O(log n) comparisons instead of O(1).

    **A cancel must never overtake the order it cancels**: if the cancel of order 7 reaches
    the exchange before the place of order 7, the exchange rejects the cancel and then
    rests the order. Rank by urgency only commands that cannot depend on each other, or
    keep each order's own commands in order.

    A :class:`~latency_lab.structures.Channel` of kind ``"heapq"``: ``capacity``, ``sent``,
    ``dropped``, ``received`` and ``len()`` mean what they mean there.
    """

    __slots__ = ("_heap", "_key", "_clock", "_attempts", "queue_latency")
    kind = "heapq"

    def __init__(
        self,
        capacity: int = 1024,
        key: Callable[[object], int] | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
        latency_capacity: int = 100_000,
    ):
        super().__init__(capacity)
        latency_capacity = validate.integer(
            "latency_capacity", latency_capacity, low=1, high=MAX_LATENCY_SAMPLES
        )
        if key is not None and not callable(key):
            raise TypeError(f"key must be callable or None, got {type(key).__name__}")
        self._key = key
        self._clock = _check_clock(clock)
        self.queue_latency = LatencyTracker(capacity=latency_capacity, clock=clock)
        self._heap: list[tuple[int, int, Message]] = []
        self._attempts = 0

    def try_send(self, payload) -> bool:
        """Stamp and enqueue ``payload`` (not None) by urgency: True, or False if full."""
        if payload is None:
            raise ValueError(_NONE_PAYLOAD)
        seq = self._attempts
        self._attempts = seq + 1
        if len(self._heap) >= self._capacity:
            self._dropped += 1
            return False
        rank = 0 if self._key is None else self._key(payload)
        heapq.heappush(self._heap, (rank, seq, Message(seq, self._clock(), payload)))
        self._sent += 1
        return True

    def try_recv(self) -> Message | None:
        """The most urgent (then oldest) :class:`Message`, or None if empty."""
        if not self._heap:
            return None
        message = heapq.heappop(self._heap)[2]
        self._received += 1
        self.queue_latency.record(self._clock() - message.enqueued_ns)
        return message

    def __repr__(self) -> str:
        return (
            f"PriorityChannel(capacity={self._capacity}, len={len(self)}, sent={self._sent}, "
            f"dropped={self._dropped}, received={self._received})"
        )


# -- the background refresher ----------------------------------------------------------------
class Snapshot(NamedTuple):
    """An immutable estimate as the hot path reads it (lesson 05).

    ``value`` is the estimate; ``as_of_ns`` the clock when its computation began (the data
    it reflects is that old); ``published_ns`` when it became readable; ``version`` counts
    publications from 1. Its staleness at ``now_ns`` is ``now_ns − as_of_ns``: the time
    spent computing it counts, since the world moved on meanwhile.
    """

    value: object
    as_of_ns: int
    published_ns: int
    version: int

    @property
    def compute_ns(self) -> int:
        """How long computing it took."""
        return self.published_ns - self.as_of_ns

    def age_ns(self, now_ns: int) -> int:
        """Its staleness at ``now_ns`` (same clock): ``now_ns − as_of_ns``."""
        return now_ns - self.as_of_ns


class BackgroundRefresher:
    """Recompute ``func()`` every ``period_ms`` in a thread; the hot path reads the latest
    value without a lock (lesson 05).

    Each result becomes a new immutable :class:`Snapshot`, published by one reference
    store (``self._snapshot = snapshot``). That store is atomic in CPython, with or without
    the GIL: a reader that loads the reference gets the old snapshot or the new one, never
    half of each, so :meth:`latest` needs no lock — provided ``func`` returns a value
    nobody mutates afterwards (a float, a tuple, a read-only array). The hot path pays one
    attribute load, and knows the estimate's age (:meth:`age_ns`, staleness).

    The schedule is fixed-rate: a refresh starts every ``period_ms``; a refresh that takes
    longer skips the periods it overran instead of running back to back. The thread only
    helps the hot path if ``func`` releases the GIL while it computes (numpy on large
    arrays, a numba ``nogil`` kernel, I/O); pure-Python work would take turns with the hot
    path for the GIL.

    Use ``with BackgroundRefresher(func, period_ms) as refresher:`` (or :meth:`start` and
    :meth:`stop`). An exception in ``func`` stops the refresher; :meth:`latest` keeps
    returning the last good snapshot (its age grows), and :meth:`check`, :meth:`stop` and
    the end of the ``with`` block raise ``RuntimeError`` from it.

    Parameters
    ----------
    func : callable
        Computes the estimate; called with no arguments, in the refresher's thread.
    period_ms : float
        Refresh period, in [:data:`MIN_PERIOD_MS`, :data:`MAX_PERIOD_MS`].
    clock : callable returning int ns
        For the snapshots' ``as_of_ns``, ``published_ns`` and ages.
    name : str
        The thread's name.
    """

    def __init__(
        self,
        func: Callable[[], object],
        period_ms: float = 10.0,
        clock: Callable[[], int] = time.perf_counter_ns,
        name: str = "latency-lab refresher",
    ):
        if not callable(func):
            raise TypeError(f"func must be callable, got {type(func).__name__}")
        period_ms = validate.real("period_ms", period_ms, low=MIN_PERIOD_MS, high=MAX_PERIOD_MS)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self._func = func
        self.period_ms = period_ms
        self._period_ns = round(period_ms * units.NS_PER_MS)
        self._clock = _check_clock(clock)
        self._name = name
        self._snapshot: Snapshot | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._published = threading.Event()
        self.refreshes = 0

    # -- the hot path's side: no lock, no allocation --------------------------------------
    def latest(self) -> Snapshot | None:
        """The latest snapshot (None before the first one): one attribute load."""
        return self._snapshot

    def age_ns(self) -> int | None:
        """Staleness of the latest snapshot now, in ns (None before the first one)."""
        snapshot = self._snapshot
        return None if snapshot is None else self._clock() - snapshot.as_of_ns

    @property
    def failed(self) -> bool:
        """True once ``func`` has raised (the refresher then stops refreshing)."""
        return self._error is not None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def check(self) -> None:
        """Raise ``RuntimeError`` from ``func``'s exception if it has raised."""
        if self._error is not None:
            raise RuntimeError(
                f"the background estimator failed ({type(self._error).__name__}: "
                f"{self._error}); the last good snapshot is version "
                f"{getattr(self._snapshot, 'version', 0)}"
            ) from self._error

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, wait_first: bool = True) -> BackgroundRefresher:
        """Start the thread; with ``wait_first``, return once the first snapshot exists
        (or raise if ``func`` failed, or took over :data:`FIRST_VALUE_TIMEOUT_S`)."""
        if self._thread is not None:
            raise RuntimeError("this refresher was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if wait_first:
            if not self._published.wait(FIRST_VALUE_TIMEOUT_S):
                self._stop.set()
                raise RuntimeError(
                    f"the first estimate took over {FIRST_VALUE_TIMEOUT_S:g} s; the thread "
                    "stops after it"
                )
            if self._error is not None:
                self.stop()  # joins the finished thread, then raises from the error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop refreshing and join the thread (waiting up to ``timeout_s`` for a refresh
        in progress); then raise if ``func`` ever failed."""
        timeout_s = validate.real("timeout_s", timeout_s, low=0.0, high=MAX_TIMEOUT_S)
        thread = self._thread
        if thread is not None:
            self._stop.set()
            thread.join(timeout_s)
            if thread.is_alive():
                raise RuntimeError(
                    f"the refresher's thread was still computing after timeout_s={timeout_s:g}"
                    " s: it stops after the current refresh"
                )
        self.check()

    def __enter__(self) -> BackgroundRefresher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        clock, period = self._clock, self._period_ns
        due = clock()
        version = 0
        while not self._stop.is_set():
            began = clock()
            try:
                value = self._func()
            except BaseException as exc:  # surfaced by check(), stop() and __exit__
                self._error = exc
                self._published.set()
                return
            done = clock()
            version += 1
            self._snapshot = Snapshot(value, began, done, version)  # the atomic swap
            self.refreshes = version
            self._published.set()
            due += period
            if due <= done:  # overran: skip the missed periods, do not run back to back
                due += ((done - due) // period + 1) * period
            self._stop.wait((due - clock()) / units.NS_PER_S)

    def __repr__(self) -> str:
        return (
            f"BackgroundRefresher(period_ms={self.period_ms:g}, refreshes={self.refreshes}, "
            f"running={self.running}, failed={self.failed})"
        )


# -- the expensive estimator ----------------------------------------------------------------
@njit(cache=True, nogil=True)
def _ewma_kernel(prices, lam):
    variance = 0.0
    for i in range(1, prices.shape[0]):
        r = math.log(prices[i] / prices[i - 1])
        if i == 1:
            variance = r * r
        else:
            variance = lam * variance + (1.0 - lam) * r * r
    return math.sqrt(variance)


def ewma_volatility(prices, halflife: float = 50.0) -> float:
    """Volatility of log returns per step, exponentially weighted (RiskMetrics style), over
    a whole price path: the "expensive estimator" of lesson 05.

    ``v₁ = r₁²``, ``vₜ = λ·vₜ₋₁ + (1 − λ)·rₜ²`` with ``λ = 0.5^(1/halflife)`` and
    ``rₜ = log(pₜ / pₜ₋₁)``; returns ``√vₙ``. Compiled with numba (``nogil``), so a
    background thread computing it leaves the GIL to the hot path. Its cost grows with the
    length of the path, which is how the lesson makes it expensive.

    Parameters
    ----------
    prices : 1-D array of at least 2 positive, finite numbers
    halflife : float
        Steps after which a return's weight halves, > 0.
    """
    values = validate.samples("prices", prices)
    if values.size < 2:
        raise ValueError(f"prices must hold at least 2 prices, got {values.size}")
    if values.min() <= 0:
        raise ValueError("prices must all be > 0 (log returns)")
    halflife = validate.real("halflife", halflife, low=0.0, low_open=True)
    lam = 0.5 ** (1.0 / halflife)
    return float(_ewma_kernel(np.ascontiguousarray(values, dtype=np.float64), lam))


# -- orders, the exchange and reconciliation -------------------------------------------------
class Place(NamedTuple):
    """Command: rest a limit order (lesson 05). ``side`` is "buy" or "sell"."""

    order_id: int
    side: str
    price: float
    size: float


class Cancel(NamedTuple):
    """Command: cancel one resting order (lesson 05)."""

    order_id: int


class CancelAll(NamedTuple):
    """Command: cancel every order resting when it reaches the exchange (lesson 05)."""


class Report(NamedTuple):
    """What the exchange says (lesson 05): ``kind`` is one of :data:`REPORT_KINDS`."""

    kind: str
    order_id: int
    side: str = ""
    price: float = 0.0
    size: float = 0.0


#: Report kinds: a place accepted, an order filled, an order cancelled, a cancel refused
#: (the order was no longer resting: filled, cancelled, or not there yet).
REPORT_KINDS = ("ack", "fill", "canceled", "cancel_reject")
#: Order states as the hot path's side sees them; the first three are *open*.
ORDER_STATES = ("pending_new", "live", "pending_cancel", "filled", "canceled")
_OPEN = frozenset(ORDER_STATES[:3])
_CANCELABLE = frozenset(ORDER_STATES[:2])


def urgency(command) -> int:
    """Urgency rank of an order command for a :class:`PriorityChannel` (lesson 05): 0 for
    cancels (they remove risk), 1 for new orders."""
    if isinstance(command, Cancel | CancelAll):
        return 0
    if isinstance(command, Place):
        return 1
    raise TypeError(f"command must be Place, Cancel or CancelAll, got {type(command).__name__}")


class SimulatedExchange:
    """An exchange simulated in memory (lesson 05): it rests orders, fills those the market
    trades through, and answers each command with reports.

    :meth:`process` handles one command (the caller simulates the network around it);
    :meth:`on_market` moves the market and fills every resting buy at or above the new
    price and every resting sell at or below it, in full, at the order's price. Both return
    the reports, in order.
    """

    def __init__(self):
        self._resting: dict[int, Place] = {}
        self.position = 0.0
        self.fills = 0

    @property
    def resting(self) -> Mapping[int, Place]:
        """Resting orders by id (read-only view)."""
        return MappingProxyType(self._resting)

    def process(self, command) -> list[Report]:
        """Apply one command; returns the reports it causes."""
        kind = type(command)
        if kind is Place:
            self._resting[command.order_id] = command
            return [Report("ack", command.order_id)]
        if kind is Cancel:
            if self._resting.pop(command.order_id, None) is None:
                return [Report("cancel_reject", command.order_id)]
            return [Report("canceled", command.order_id)]
        if kind is CancelAll:
            reports = [Report("canceled", order_id) for order_id in self._resting]
            self._resting.clear()
            return reports
        raise TypeError(f"command must be Place, Cancel or CancelAll, got {kind.__name__}")

    def on_market(self, price: float) -> list[Report]:
        """The market trades at ``price`` (> 0): fill the orders it trades through."""
        if type(price) is not float or not 0.0 < price < math.inf:
            price = validate.real("price", price, low=0.0, low_open=True)
        fills = []
        for order_id, order in list(self._resting.items()):
            if (price <= order.price) if order.side == "buy" else (price >= order.price):
                del self._resting[order_id]
                self.position += order.size if order.side == "buy" else -order.size
                self.fills += 1
                fills.append(Report("fill", order_id, order.side, order.price, order.size))
        return fills

    def __repr__(self) -> str:
        return f"SimulatedExchange(resting={len(self._resting)}, position={self.position:g})"


class OrderRecord(NamedTuple):
    """One order as the :class:`Reconciler` knows it (lesson 05)."""

    order_id: int
    side: str
    price: float
    size: float
    state: str


class Reconciler:
    """The hot path's view of its orders, reconciled with the exchange's reports (lesson 05).

    :meth:`intend` records what the hot path sent (a place is ``pending_new``, a cancel
    makes an open order ``pending_cancel``); :meth:`apply` moves orders on as reports
    arrive. The view is *eventually consistent*: while commands are in flight it differs
    from the exchange; once every command has been answered and every report applied,
    :meth:`consistent_with` holds. The race every market maker meets: a cancel is in flight
    when the exchange fills the order. The fill wins (the order is ``filled``, the position
    moves, ``cancel_races`` counts it) and the exchange then refuses the late cancel
    (``late_cancel_rejects``).
    """

    def __init__(self):
        self._orders: dict[int, OrderRecord] = {}
        self._open: set[int] = set()
        self.position = 0.0
        self.fills = 0
        self.cancel_races = 0
        self.late_cancel_rejects = 0
        self.unexpected_reports = 0

    @property
    def orders(self) -> Mapping[int, OrderRecord]:
        """Every order by id (read-only view)."""
        return MappingProxyType(self._orders)

    @property
    def open_orders(self) -> frozenset[int]:
        """Ids of orders not yet filled or cancelled (as far as this view knows)."""
        return frozenset(self._open)

    @property
    def pending(self) -> int:
        """Open orders with a command in flight (``pending_new`` or ``pending_cancel``)."""
        return sum(self._orders[i].state != "live" for i in self._open)

    def is_quotable(self, order_id) -> bool:
        """True if the order is open and no cancel is in flight for it."""
        record = self._orders.get(order_id)
        return record is not None and record.state in _CANCELABLE

    def intend(self, command) -> None:
        """Record a command the hot path has sent."""
        kind = type(command)
        if kind is Place:
            if command.order_id in self._orders:
                raise ValueError(f"order_id {command.order_id} was already placed")
            self._orders[command.order_id] = OrderRecord(*command, "pending_new")
            self._open.add(command.order_id)
        elif kind is Cancel:
            record = self._orders.get(command.order_id)
            if record is not None and record.state in _CANCELABLE:
                self._orders[command.order_id] = record._replace(state="pending_cancel")
        elif kind is CancelAll:
            for order_id in self._open:
                record = self._orders[order_id]
                if record.state in _CANCELABLE:
                    self._orders[order_id] = record._replace(state="pending_cancel")
        else:
            raise TypeError(f"command must be Place, Cancel or CancelAll, got {kind.__name__}")

    def apply(self, report: Report) -> None:
        """Move an order on according to one exchange report."""
        record = self._orders.get(report.order_id)
        if record is None:
            self.unexpected_reports += 1
            return
        state, kind = record.state, report.kind
        if kind == "ack":
            if state == "pending_new":
                self._set(record, "live")
        elif kind == "fill":
            if state not in _OPEN:
                self.unexpected_reports += 1
                return
            if state == "pending_cancel":
                self.cancel_races += 1
            self._set(record, "filled")
            self.position += record.size if record.side == "buy" else -record.size
            self.fills += 1
        elif kind == "canceled":
            if state not in _OPEN:
                self.unexpected_reports += 1
                return
            self._set(record, "canceled")
        elif kind == "cancel_reject":
            if state == "filled":
                self.late_cancel_rejects += 1
            elif state == "pending_cancel":
                self._set(record, "live")  # the exchange did not cancel it: still ours
            else:
                self.unexpected_reports += 1
        else:
            raise ValueError(f"report kind must be one of {REPORT_KINDS}, got {kind!r}")

    def apply_all(self, reports: Iterable[Report]) -> None:
        for report in reports:
            self.apply(report)

    def _set(self, record: OrderRecord, state: str) -> None:
        self._orders[record.order_id] = record._replace(state=state)
        if state in _OPEN:
            self._open.add(record.order_id)
        else:
            self._open.discard(record.order_id)

    def consistent_with(self, exchange: SimulatedExchange) -> bool:
        """True if nothing is in flight and this view agrees with ``exchange``: the same
        resting orders and the same position."""
        live = {i for i in self._open if self._orders[i].state == "live"}
        return (
            len(live) == len(self._open)
            and live == set(exchange.resting)
            and self.position == exchange.position
        )

    def __repr__(self) -> str:
        return (
            f"Reconciler(orders={len(self._orders)}, open={len(self._open)}, "
            f"pending={self.pending}, position={self.position:g}, fills={self.fills}, "
            f"cancel_races={self.cancel_races})"
        )


class OrderGateway:
    """Order commands from a synchronous hot path to an exchange, with the I/O in an asyncio
    task (lesson 05).

    The hot path calls :meth:`buy`, :meth:`sell`, :meth:`cancel`, :meth:`cancel_all` (or
    :meth:`submit`): each stamps the command into a :class:`StampedChannel` with
    ``try_send`` — never blocking; a full channel refuses the command (``None``/``False``,
    counted in ``channel.dropped``) and the hot path decides what to do (a refused cancel is
    retried on the next tick) — and records the intent in the :class:`Reconciler`.

    A consumer task takes the commands and sends them to the :class:`SimulatedExchange`
    over a simulated network: a command reaches the exchange ``io_us / 2`` after it is
    sent, and the exchange's reports come back ``io_us / 2`` later, when the reconciler
    applies them. Commands are pipelined, as on a real order session: the task does not
    wait for one answer before sending the next, up to ``max_in_flight`` unanswered
    commands (beyond that it waits, and the channel fills). Meanwhile the market moves:
    a fill can reach the hot path before the answer to a cancel sent earlier.

    ``async with OrderGateway(...) as gateway:`` starts the task; leaving the block sends
    every accepted command, waits for every answer (within ``drain_timeout_s``), ends the
    task, and raises ``RuntimeError`` if it failed. All calls must come from the event
    loop's thread (the hybrid design: ingestion and hot path on one loop).

    Parameters
    ----------
    capacity : int
        The channel's capacity.
    io_us : float
        Simulated round trip to the exchange (µs), in [0, :data:`MAX_IO_US`].
    exchange, reconciler : or None
        Made fresh when None.
    kind : str
        The channel's structure (``structures.CHANNEL_KINDS``).
    clock : callable returning int ns
    drain_timeout_s : float
        Longest wait for the drain on exit, in [0, :data:`MAX_TIMEOUT_S`].
    max_in_flight : int
        Most commands sent and not yet answered, in [1, ``structures.MAX_CAPACITY``].
    """

    def __init__(
        self,
        capacity: int = 256,
        io_us: float = 1_000.0,
        exchange: SimulatedExchange | None = None,
        reconciler: Reconciler | None = None,
        kind: str = "deque",
        clock: Callable[[], int] = time.perf_counter_ns,
        drain_timeout_s: float = 30.0,
        max_in_flight: int = 1_024,
    ):
        self.io_us = validate.real("io_us", io_us, low=0.0, high=MAX_IO_US)
        self.drain_timeout_s = validate.real(
            "drain_timeout_s", drain_timeout_s, low=0.0, high=MAX_TIMEOUT_S
        )
        self.max_in_flight = validate.integer(
            "max_in_flight", max_in_flight, low=1, high=structures.MAX_CAPACITY
        )
        if exchange is not None and not isinstance(exchange, SimulatedExchange):
            raise TypeError(f"exchange must be a SimulatedExchange, got {type(exchange).__name__}")
        if reconciler is not None and not isinstance(reconciler, Reconciler):
            raise TypeError(f"reconciler must be a Reconciler, got {type(reconciler).__name__}")
        self.channel = StampedChannel(capacity, kind, clock)
        self.exchange = exchange if exchange is not None else SimulatedExchange()
        self.reconciler = reconciler if reconciler is not None else Reconciler()
        self.answered = 0  # commands whose reports have been applied
        self.in_flight = 0  # sent to the exchange, not yet answered
        self._next_id = 1
        self._task: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None
        self._closing = False
        self._error: BaseException | None = None

    # -- the hot path's side: never blocks ----------------------------------------------
    def buy(self, price: float, size: float) -> int | None:
        """Send a buy order; its id, or None if the channel was full."""
        return self._place("buy", price, size)

    def sell(self, price: float, size: float) -> int | None:
        """Send a sell order; its id, or None if the channel was full."""
        return self._place("sell", price, size)

    def cancel(self, order_id: OrderId) -> bool:
        """Send a cancel of ``order_id``; False if the channel was full."""
        order_id = validate.integer("order_id", order_id, low=1)
        if order_id not in self.reconciler.orders:
            raise ValueError(f"order_id {order_id} was never placed through this gateway")
        return self.submit(Cancel(order_id))

    def cancel_all(self) -> bool:
        """Send a batch cancel of every resting order; False if the channel was full."""
        return self.submit(CancelAll())

    def submit(self, command) -> bool:
        """Send any command (:class:`Place`, :class:`Cancel`, :class:`CancelAll`) whose ids
        the caller manages: True if accepted, False if the channel was full."""
        if self._error is not None:
            raise RuntimeError("the gateway's task has failed; see the cause") from self._error
        if self._closing:
            raise RuntimeError("the gateway is closed")
        kind = type(command)
        if kind is Place and command.order_id in self.reconciler.orders:
            raise ValueError(f"order_id {command.order_id} was already placed")
        if kind not in (Place, Cancel, CancelAll):
            raise TypeError(f"command must be Place, Cancel or CancelAll, got {kind.__name__}")
        if not self.channel.try_send(command):
            return False
        self.reconciler.intend(command)
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    def _place(self, side: str, price, size) -> int | None:
        price = validate.real("price", price, low=0.0, low_open=True)
        size = validate.real("size", size, low=0.0, low_open=True)
        order_id = self._next_id
        while order_id in self.reconciler.orders:  # ids given through submit() are taken
            order_id += 1
        if not self.submit(Place(order_id, side, price, size)):
            return None
        self._next_id = order_id + 1
        return order_id

    def check(self) -> None:
        """Raise ``RuntimeError`` if the consumer task (or a delivery) has failed."""
        if self._error is not None:
            raise RuntimeError("the gateway's task has failed; see the cause") from self._error

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> OrderGateway:
        if self._task is not None or self._closing:
            raise RuntimeError("this gateway was already started; make a new one")
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._consume(), name="latency-lab order gateway"
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Send every accepted command and wait for every answer (within
        ``drain_timeout_s``), end the task, and raise ``RuntimeError`` if it failed."""
        task = self._task
        self._closing = True
        if task is None:
            return
        self._wakeup.set()
        try:
            done, _ = await asyncio.wait({task}, timeout=self.drain_timeout_s)
        except BaseException:  # the caller was cancelled: do not leave the task behind
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        finally:
            self._task = None
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise RuntimeError(
                f"the gateway did not drain within drain_timeout_s={self.drain_timeout_s:g} s:"
                f" {len(self.channel)} commands unsent, {self.in_flight} unanswered"
            )
        self.check()

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        channel, wakeup = self.channel, self._wakeup
        half_s = self.io_us / units.US_PER_S / 2
        try:
            while True:
                if self._error is not None:
                    return  # a delivery failed: close() raises it
                if self.in_flight >= self.max_in_flight:
                    message = None
                else:
                    message = channel.try_recv()
                if message is None:
                    if self._closing and not len(channel) and not self.in_flight:
                        return
                    wakeup.clear()
                    await wakeup.wait()  # set by a send, an answer or close()
                    continue
                self.in_flight += 1
                loop.call_later(half_s, self._arrive, message.payload, half_s)
        except BaseException as exc:
            self._error = exc
            raise

    def _arrive(self, command, half_s: float) -> None:
        """The command reaches the exchange; its reports start back."""
        try:
            reports = self.exchange.process(command)
        except BaseException as exc:
            self._fail(exc)
            return
        asyncio.get_running_loop().call_later(half_s, self._answer, reports)

    def _answer(self, reports: list[Report]) -> None:
        """The exchange's reports reach us: reconcile."""
        try:
            self.reconciler.apply_all(reports)
        except BaseException as exc:
            self._fail(exc)
            return
        self.in_flight -= 1
        self.answered += 1
        self._wakeup.set()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self.in_flight -= 1
        self._wakeup.set()

    def __repr__(self) -> str:
        state = "running" if self._task is not None else "closed" if self._closing else "new"
        return (
            f"OrderGateway({state}, io_us={self.io_us:g}, in_flight={self.in_flight}, "
            f"channel={self.channel!r})"
        )


# -- the market-making session: inline vs deferred ---------------------------------------------
#: A feed record: tick index and the publisher's clock when it was written (int64 each).
TICK_RECORD = struct.Struct("<qq")

_HALFLIFE = 100.0  # the estimator's half-life, in ticks
_MIN_HALF_SPREAD = 2e-4  # quotes sit at least this fraction of the price from it
_SPREAD_PER_VOL = 5.0  # half-spread as a multiple of the volatility estimate
_REQUOTE_FRACTION = 0.7  # requote when the price moved more than this part of the half-spread
_CANCEL_ALL_EVERY = 250  # ticks between batch cancels (a periodic risk reset)
_FEED_LEAD_NS = 5 * units.NS_PER_MS  # the feed starts this long after the session


async def ingest(reader: asyncio.StreamReader, on_tick: Callable[[int, int], object]) -> int:
    """The hybrid design's ingestion loop (lesson 05): await each tick from the feed, then
    run the *synchronous* hot path ``on_tick(index, published_ns)`` on it.

    Records are :data:`TICK_RECORD` (tick index, publish time in ns). Waiting for data is
    asynchronous — the event loop runs other tasks (the order gateway) while no tick is
    there — but the hot path itself never awaits, so nothing can interleave with a
    decision. Returns the number of ticks handled when the feed ends.
    """
    size, unpack = TICK_RECORD.size, TICK_RECORD.unpack
    count = 0
    while True:
        try:
            record = await reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ValueError("the feed ended in the middle of a tick record") from None
            return count
        on_tick(*unpack(record))
        count += 1


class _Feed:
    """A publisher thread that writes :data:`TICK_RECORD` records into a pipe on a fixed
    schedule (the market-data feed of a session), stamping each with its write time."""

    def __init__(self, ticks: int, gap_ns: int, deadline_ns: int, clock):
        self._ticks, self._gap_ns, self._deadline_ns, self._clock = (
            ticks,
            gap_ns,
            deadline_ns,
            clock,
        )
        self.read_fd, self._write_fd = os.pipe()
        with contextlib.suppress(Exception):  # Linux: room for a long backlog (1 MiB)
            import fcntl

            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(self._write_fd, False)
        self._stop = threading.Event()
        self._started = False
        self.error: BaseException | None = None
        self.published = 0
        self._thread = threading.Thread(target=self._run, name="latency-lab feed", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def _run(self) -> None:
        clock, write, pack = self._clock, os.write, TICK_RECORD.pack
        try:
            start = clock() + _FEED_LEAD_NS
            for i in range(self._ticks):
                due = start + i * self._gap_ns
                now = clock()
                if now > self._deadline_ns:
                    break
                if due > now and self._stop.wait((due - now) / units.NS_PER_S):
                    break
                write(self._write_fd, pack(i, clock()))
                self.published = i + 1
        except BlockingIOError:
            self.error = RuntimeError(
                "the feed's pipe is full: the hot path fell more than the pipe's capacity "
                "behind; ask for fewer ticks or a larger tick_gap_us"
            )
        except BaseException as exc:
            self.error = exc
        finally:
            os.close(self._write_fd)  # end of feed: the reader sees EOF

    def stop(self) -> None:
        self._stop.set()
        if self._started:
            self._thread.join()
        else:
            os.close(self._write_fd)
        if self.error is not None:
            raise RuntimeError(f"the feed failed: {self.error}") from self.error


class SessionReport(NamedTuple):
    """What one market-making session measured (lesson 05). Times are int64 ns.

    Per tick (``-1`` where a tick was not handled): ``latency_ns`` from the tick's
    publication to the hot path's decision (backlog included), ``service_ns`` the hot
    path's own time, ``staleness_ns`` the age of the volatility estimate it used,
    ``gcs`` the collections per generation that started during it (shape ``(ticks, 3)``).
    Per command sent through the channel (deferred only): ``queue_ns``. Per estimate
    computed: ``estimate_ns``.
    """

    design: str
    latency_ns: np.ndarray
    service_ns: np.ndarray
    staleness_ns: np.ndarray
    gcs: np.ndarray
    queue_ns: np.ndarray
    estimate_ns: np.ndarray
    ticks: int
    commands: int
    dropped: int
    fills: int
    cancel_races: int
    late_cancel_rejects: int
    max_in_flight: int
    consistent: bool

    def summary(self) -> dict[str, float]:
        """One row of numbers: tick latency percentiles and the session's counts."""
        handled = self.latency_ns[self.latency_ns >= 0]
        p50, p99, p999 = stats.percentiles(handled, [50, 99, 99.9]) if handled.size else [-1] * 3
        out = {"ticks": self.ticks, "p50_ns": p50, "p99_ns": p99, "p99.9_ns": p999,
               "max_ns": handled.max() if handled.size else -1}  # fmt: skip
        for name, values in (("queue", self.queue_ns), ("staleness", self.staleness_ns)):
            values = values[values >= 0]
            p50, p99 = stats.percentiles(values, [50, 99]) if values.size else (np.nan,) * 2
            out[f"{name}_p50_ns"] = p50
            out[f"{name}_p99_ns"] = p99
            out[f"{name}_max_ns"] = values.max() if values.size else np.nan
        out["estimate_p50_ns"] = (
            float(np.median(self.estimate_ns)) if self.estimate_ns.size else np.nan
        )
        out.update(commands=self.commands, dropped=self.dropped, fills=self.fills,
                   cancel_races=self.cancel_races, late_cancel_rejects=self.late_cancel_rejects,
                   max_in_flight=self.max_in_flight, consistent=self.consistent)  # fmt: skip
        return out


class _SessionParams(NamedTuple):
    ticks: int
    tick_gap_us: float
    io_us: float
    window: int
    refresh_ms: float
    capacity: int
    seed: np.random.SeedSequence
    time_limit_s: float


def _session_params(ticks, tick_gap_us, io_us, window, refresh_ms, capacity, seed, time_limit_s):
    return _SessionParams(
        ticks=validate.integer("ticks", ticks, low=1, high=MAX_SESSION_TICKS),
        tick_gap_us=validate.real("tick_gap_us", tick_gap_us, low=1.0, high=MAX_TICK_GAP_US),
        io_us=validate.real("io_us", io_us, low=0.0, high=MAX_IO_US),
        window=validate.integer("window", window, low=2, high=MAX_WINDOW),
        refresh_ms=validate.real("refresh_ms", refresh_ms, low=MIN_PERIOD_MS, high=MAX_PERIOD_MS),
        capacity=validate.integer("capacity", capacity, low=1, high=structures.MAX_CAPACITY),
        seed=validate.seed("seed", seed),
        time_limit_s=validate.real(
            "time_limit_s", time_limit_s, low=0.0, high=MAX_TIMEOUT_S, low_open=True
        ),
    )


def _price_path(seed: np.random.SeedSequence, n: int) -> np.ndarray:
    """A seeded random walk of ``n`` prices around 100 whose volatility switches between a
    calm and an agitated regime every few thousand steps."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(rng.choice([1e-4, 3e-4], size=n // 500 + 1), 500)[:n]
    return 100.0 * np.exp(np.cumsum(rng.standard_normal(n) * regime))


class _Quoter:
    """The hot path of a session: quote around the price, requote when it moves, batch-
    cancel periodically. ``send(command) -> bool`` and ``estimate() -> Snapshot`` are the
    design's: inline or deferred."""

    def __init__(self, prices, offset, reconciler, send, estimate, clock):
        self.prices, self.offset, self.reconciler = prices, offset, reconciler
        self.send, self.estimate, self.clock = send, estimate, clock
        self.bid = self.ask = 0
        self.quoted = math.nan
        self.next_id = 1
        self.commands = 0

    def _order(self, side: str, price: float) -> int:
        order_id = self.next_id
        self.commands += 1
        if self.send(Place(order_id, side, price, 1.0)):
            self.next_id += 1
            return order_id
        return 0

    def _cancel(self, order_id: int) -> None:
        if self.reconciler.is_quotable(order_id):
            self.commands += 1
            self.send(Cancel(order_id))  # refused: still quotable, retried next tick

    def on_tick(self, i: int) -> int:
        """Decide on tick ``i``; returns the age of the estimate used (ns)."""
        price = float(self.prices[self.offset + i])
        snapshot = self.estimate()
        age = self.clock() - snapshot.as_of_ns
        half = price * max(_MIN_HALF_SPREAD, _SPREAD_PER_VOL * snapshot.value)
        if (i + 1) % _CANCEL_ALL_EVERY == 0:
            self.commands += 1
            if self.send(CancelAll()):
                self.bid = self.ask = 0
            return age
        quotable = self.reconciler.is_quotable
        if (
            not (quotable(self.bid) and quotable(self.ask))
            or abs(price - self.quoted) > _REQUOTE_FRACTION * half
        ):
            self._cancel(self.bid)
            self._cancel(self.ask)
            self.bid = self._order("buy", price - half)
            self.ask = self._order("sell", price + half)
            self.quoted = price
        return age


class _TimeUp(Exception):
    pass


def run_session(
    design: str = "deferred",
    *,
    ticks: int = 1_000,
    tick_gap_us: float = 1_000.0,
    io_us: float = 1_000.0,
    window: int = 1_000_000,
    refresh_ms: float = 50.0,
    capacity: int = 256,
    seed: int = 0,
    time_limit_s: float = 60.0,
) -> Coroutine[object, object, SessionReport]:
    """One market-making session, with order I/O and the estimator inline or deferred
    (lesson 05). Use ``report = await run_session(...)`` (``asyncio.run`` in a script).

    A feed thread publishes ``ticks`` ticks of a seeded price path, one every
    ``tick_gap_us``, into a pipe, stamping each with its publication time; the session
    awaits them (:func:`ingest`) and runs the same synchronous hot path on each: read the
    volatility estimate, quote a bid and an ask around the price, requote when the price
    moves, batch-cancel every 250 ticks. The two designs differ only in where the slow work
    happens:

    - ``"inline"``: each order command is a blocking call that waits ``io_us``
      (``time.sleep``, a synchronous client), and the hot path recomputes the estimate
      itself (:func:`ewma_volatility` over the last ``window`` prices) when it is
      ``refresh_ms`` old;
    - ``"deferred"``: commands go through an :class:`OrderGateway` (``try_send``, the I/O
      in an asyncio task) and a :class:`BackgroundRefresher` thread recomputes the
      estimate every ``refresh_ms``; the hot path reads the latest snapshot.

    Every thread and task is ended before the coroutine returns; the feed stops after
    ``time_limit_s`` and the hot path stops handling ticks then. Returns a
    :class:`SessionReport`.
    """
    design = validate.one_of("design", design, DESIGNS)
    params = _session_params(
        ticks, tick_gap_us, io_us, window, refresh_ms, capacity, seed, time_limit_s
    )
    return _run_session(design, params)


async def _run_session(design: str, p: _SessionParams) -> SessionReport:
    clock = time.perf_counter_ns
    prices = _price_path(p.seed, p.window + p.ticks)
    offset = p.window - 1  # tick i trades at prices[offset + i], with `window` prices behind it
    lam = 0.5 ** (1.0 / _HALFLIFE)
    _ewma_kernel(prices[:3], lam)  # load the compiled kernel before the clock starts

    latency = np.full(p.ticks, -1, dtype=np.int64)
    service = np.full(p.ticks, -1, dtype=np.int64)
    staleness = np.full(p.ticks, -1, dtype=np.int64)
    gcs = np.zeros((p.ticks, len(GENERATIONS)), dtype=np.int64)
    estimates: list[int] = []
    exchange, reconciler = SimulatedExchange(), Reconciler()
    index = [0]  # the latest tick handled: written by the hot path, read by the estimator

    def estimate_now() -> float:
        end = offset + index[0] + 1
        return float(_ewma_kernel(prices[end - p.window : end], lam))

    refresh_ns = round(p.refresh_ms * units.NS_PER_MS)
    io_s = p.io_us / units.US_PER_S
    deadline = clock() + round(p.time_limit_s * units.NS_PER_S)
    in_flight = [0]

    def session(send, estimate) -> Callable[[int, int], None]:
        quoter = _Quoter(prices, offset, reconciler, send, estimate, clock)
        seen = [0, np.zeros(len(GENERATIONS), dtype=np.int64)]

        def on_tick(i: int, published_ns: int) -> None:
            began = clock()
            if began > deadline:
                raise _TimeUp
            index[0] = i
            reconciler.apply_all(exchange.on_market(float(prices[offset + i])))
            staleness[i] = quoter.on_tick(i)
            done = clock()
            latency[i] = done - published_ns
            service[i] = done - began
            if watch.total != seen[0]:  # rare: a collection started during this tick
                now = np.array([watch.counts[g] for g in GENERATIONS], dtype=np.int64)
                gcs[i] = now - seen[1]
                seen[0], seen[1] = watch.total, now
            in_flight[0] = max(in_flight[0], reconciler.pending)

        on_tick.quoter = quoter
        return on_tick

    loop = asyncio.get_running_loop()
    feed = _Feed(p.ticks, round(units.us_to_ns(p.tick_gap_us)), deadline, clock)
    transport = pipe = None
    dropped, queue = 0, np.empty(0, dtype=np.int64)
    watch = GcWatch(capacity=0)
    try:
        reader = asyncio.StreamReader(limit=1 << 20)
        pipe = os.fdopen(feed.read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        with watch:
            if design == "inline":
                current: list[Snapshot | None] = [None]

                def send_inline(command) -> bool:
                    reconciler.intend(command)
                    time.sleep(io_s)  # a blocking exchange round trip, on the hot path
                    reconciler.apply_all(exchange.process(command))
                    return True

                def estimate_inline() -> Snapshot:
                    snapshot = current[0]
                    now = clock()
                    if snapshot is None or now - snapshot.as_of_ns >= refresh_ns:
                        value = estimate_now()  # the expensive estimator, on the hot path
                        done = clock()
                        estimates.append(done - now)
                        version = 1 if snapshot is None else snapshot.version + 1
                        snapshot = current[0] = Snapshot(value, now, done, version)
                    return snapshot

                on_tick = session(send_inline, estimate_inline)
                feed.start()
                with contextlib.suppress(_TimeUp):
                    await ingest(reader, on_tick)
            else:
                gateway = OrderGateway(p.capacity, p.io_us, exchange, reconciler, clock=clock)
                async with gateway:

                    def estimate_timed() -> float:  # runs in the refresher's thread
                        began = clock()
                        value = estimate_now()
                        estimates.append(clock() - began)  # list.append is atomic
                        return value

                    with BackgroundRefresher(
                        estimate_timed, p.refresh_ms, clock=clock
                    ) as refresher:
                        on_tick = session(gateway.submit, refresher.latest)
                        feed.start()
                        with contextlib.suppress(_TimeUp):
                            await ingest(reader, on_tick)
                queue = gateway.channel.queue_latency.samples().copy()
                dropped = gateway.channel.dropped
    finally:
        feed.stop()
        if transport is not None:
            transport.close()
            await asyncio.sleep(0)  # let the transport's close callback run
        elif pipe is not None:
            pipe.close()
        else:
            os.close(feed.read_fd)
    return SessionReport(
        design=design,
        latency_ns=latency,
        service_ns=service,
        staleness_ns=staleness,
        gcs=gcs,
        queue_ns=queue,
        estimate_ns=np.array(estimates, dtype=np.int64),
        ticks=int((latency >= 0).sum()),
        commands=on_tick.quoter.commands,
        dropped=int(dropped),
        fills=reconciler.fills,
        cancel_races=reconciler.cancel_races,
        late_cancel_rejects=reconciler.late_cancel_rejects,
        max_in_flight=in_flight[0],
        consistent=reconciler.consistent_with(exchange),
    )


class DesignComparison(NamedTuple):
    """The result of :func:`compare_designs` (lesson 05).

    ``frame`` has one row per tick in the per-call format of ``timing.compare``
    (``candidate`` is the design, ``round``, ``position``, ``call`` the tick, ``latency_ns``
    from publication to decision, ``gen*_gcs``), so ``timing.summarize``,
    ``timing.per_round`` and ``timing.verdict`` read it. ``sessions`` has one row per
    design and round (:meth:`SessionReport.summary`); ``reports`` holds every
    :class:`SessionReport`.
    """

    frame: pd.DataFrame
    sessions: pd.DataFrame
    reports: tuple[SessionReport, ...]


def compare_designs(
    rounds: int = 5,
    *,
    ticks: int = 1_000,
    tick_gap_us: float = 1_000.0,
    io_us: float = 1_000.0,
    window: int = 1_000_000,
    refresh_ms: float = 50.0,
    capacity: int = 256,
    seed: int = 0,
    time_limit_s: float = 600.0,
) -> Coroutine[object, object, DesignComparison]:
    """The inline and the deferred design in interleaved rounds (lesson 05): use
    ``result = await compare_designs(...)``.

    Each round runs one :func:`run_session` of each design on the same seeded price path,
    the order alternating between rounds so neither always goes first; then
    ``timing.verdict(result.frame, "inline", "deferred", percentile=99)`` says whether every
    round agrees. ``time_limit_s`` bounds the whole comparison: a round is not started once
    it has passed (with a warning), and each session gets what is left.
    """
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    params = _session_params(
        ticks, tick_gap_us, io_us, window, refresh_ms, capacity, seed, time_limit_s
    )
    return _compare_designs(rounds, params)


async def _compare_designs(rounds: int, p: _SessionParams) -> DesignComparison:
    clock = time.perf_counter_ns
    deadline = clock() + round(p.time_limit_s * units.NS_PER_S)
    reports: list[tuple[int, int, SessionReport]] = []
    for r in range(rounds):
        left_s = (deadline - clock()) / units.NS_PER_S
        if left_s <= 0:
            warnings.warn(
                f"compare_designs stopped after {r} of {rounds} rounds: "
                f"time_limit_s={p.time_limit_s:g} was reached",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        for position, design in enumerate(DESIGNS if r % 2 == 0 else DESIGNS[::-1]):
            left_s = max((deadline - clock()) / units.NS_PER_S, 0.001)
            session = p._replace(time_limit_s=left_s, seed=_copy_seed(p.seed))
            reports.append((r, position, await _run_session(design, session)))
    frames, rows = [], []
    for r, position, report in reports:
        handled = np.flatnonzero(report.latency_ns >= 0)
        frame = pd.DataFrame(
            {
                "code": DESIGNS.index(report.design),
                "round": r,
                "position": position,
                "call": handled,
                "latency_ns": report.latency_ns[handled],
            }
        )
        for g in GENERATIONS:
            frame[f"gen{g}_gcs"] = report.gcs[handled, g]
        frames.append(frame)
        rows.append({"design": report.design, "round": r, **report.summary()})
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "candidate", pd.Categorical.from_codes(frame.pop("code"), DESIGNS))
    frame.attrs.update(
        mode="per_call",
        clock="perf_counter_ns",
        candidates=DESIGNS,
        rounds=len(reports) // len(DESIGNS),
        empty_call_ns=0.0,
    )
    sessions = pd.DataFrame(rows).set_index(["design", "round"]).sort_index()
    return DesignComparison(frame, sessions, tuple(report for _, _, report in reports))


def _copy_seed(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """The same seed for every session: equal price paths in every round and design."""
    return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
