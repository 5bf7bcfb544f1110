"""A trading-style loop with switchable latency-spike sources, and a spike detector (lesson 09).

The loop handles one market-data update per iteration, in five operations, each timed with
its own :class:`~latency_lab.tracker.LatencyTracker` (plus one for the whole iteration):

``parse``
    a FIX-style market-by-order message (``tag=value`` fields separated by SOH, ``\\x01``):
    a new order, a deleted order or a trade, parsed as ``str`` (decoded first) or as ``bytes``;
``book``
    the order book: a lazy-deletion heap per side, rebuilt when stale entries outnumber live
    ones, or an array of price levels that never needs a rebuild; then the best bid and ask;
``signal``
    a fast and a slow moving average of the mid price, and a position that flips when they
    cross (an "order" is counted each time);
``log``
    one log line per update (timestamp, prices, sizes), buffered and written to a file every
    ``buffer_lines`` lines as CSV or JSON lines, inline or by an executor's worker threads;
``jobs``
    periodic work: a text display of recent updates every ``display_every`` updates and a
    JSON snapshot of recent state every ``snapshot_every`` updates.

Each spike source of :data:`SOURCES` can be switched to its fix; :func:`config` builds a
:class:`LoopConfig` with the named sources on and every other one fixed, :func:`run_loop`
runs it and returns per-operation trackers, the iterations' start times and the collector's
pauses (timestamped with :class:`~latency_lab.gcwatch.GcWatch`). :func:`detect` finds the
slow iterations and says which operation (or the collector) made each one slow and how
often; :func:`compare_loops` runs configurations in interleaved rounds and returns a frame
that :func:`latency_lab.timing.verdict` reads like one of its own.

Everything is bounded: updates (:data:`MAX_UPDATES`), the log file (one short line per
update), the executor's backlog (``max_pending`` batches, or at most the whole run), the
long-lived heap (:data:`MAX_HEAP_OBJECTS`). A run writes into a temporary directory that it
removes, shuts its executor down, and restores the collector's state (enabled, frozen) even
when it fails.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import heapq
import json
import locale
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from latency_lab import stats, timing, units, validate
from latency_lab.gcwatch import GENERATIONS, GcWatch
from latency_lab.tracker import LatencyTracker

#: Linux's per-thread scheduler statistics: time on the CPU, time waiting for one, switch-ins.
SCHEDSTAT = "/proc/thread-self/schedstat"

#: The timed operations of one iteration, in order; ``"iteration"`` is their whole.
OPS = ("parse", "book", "signal", "log", "jobs")
ITERATION = "iteration"

#: Most updates a run records (each costs 48 bytes of samples and one ~90-byte message).
MAX_UPDATES = 200_000
#: Most untimed warm-up updates before the recorded ones.
MAX_WARMUP = 50_000
#: Most long-lived objects a run or :func:`full_collection_pauses` builds (~100 bytes each).
MAX_HEAP_OBJECTS = 1_000_000
#: Most live orders per side the synthetic feed keeps in the book.
MAX_DEPTH = 20_000
#: Most lines per log batch, and most worker threads of the executor.
MAX_BUFFER_LINES = 100_000
MAX_WORKERS = 8
#: Most updates (warm-up included) :func:`compare_loops` runs in all.
MAX_COMPARE_UPDATES = 5_000_000
#: Most timed collections :func:`full_collection_pauses` runs in all.
MAX_COLLECTIONS = 1_000

#: Prices are whole ticks of 0.01; the feed keeps every price within ``BAND`` ticks of 100.00.
TICKS_PER_UNIT = 100
MID_TICK = 100 * TICKS_PER_UNIT
BAND = 4_096

NEW, DELETE, TRADE = 0, 1, 2
BID, ASK = 0, 1
_KIND_TEXT = ("new", "delete", "trade")
_DISPLAY_ROWS = 150  # rows of the periodic display
_RECENT = 256  # updates the jobs remember for the display


class Source(NamedTuple):
    """A spike source: the :class:`LoopConfig` settings that make it spike and that fix it."""

    spike: dict[str, object]
    fix: dict[str, object]
    description: str


#: The spike sources, by name: which settings make spikes and which fix them.
SOURCES: dict[str, Source] = {
    "gc": Source(
        {"cycles": True},
        {"cycles": False},
        "each order keeps its fill handler, a bound method that refers back to the order: "
        "a reference cycle, so every removed order is garbage only the cyclic collector frees "
        "(fix: no back-reference, and reference counting frees the order at once)",
    ),
    "disk": Source(
        {"log": "sync", "buffer_lines": 100, "fsync": True},
        {"log": "executor", "buffer_lines": 1_000, "fsync": True},
        "every 100 lines the audit log is written and fsynced inline (fix: batches of 1,000 "
        "lines handed to an executor's two worker threads, which write and fsync them, with "
        "a bounded backlog)",
    ),
    "aligned_jobs": Source(
        {"display_every": 500},
        {"display_every": 503},
        "a display every 500 updates lands on the same update as the snapshot every 1,000 "
        "(fix: a period of 503, a prime, so the two meet only every 503,000 updates)",
    ),
    "datetime": Source(
        {"timestamp": "datetime"},
        {"timestamp": "cached"},
        "each log line formats datetime.now() with strftime (fix: format the date and time "
        "once per second, and add the microseconds)",
    ),
    "locale": Source(
        {"numbers": "locale"},
        {"numbers": "fstring"},
        "prices and sizes go through locale.format_string (fix: an f-string)",
    ),
    "heap_rebuild": Source(
        {"book": "heap"},
        {"book": "levels"},
        "a lazy-deletion heap per side, rebuilt in one go when stale entries outnumber live "
        "ones (fix: an array of sizes per price level, which never needs a rebuild)",
    ),
    "str_match": Source(
        {"match": "str"},
        {"match": "bytes"},
        "each message is decoded to str before its fields are split and matched (fix: split "
        "and match the bytes as they arrived)",
    ),
}

_CHOICES = {
    "gc_mode": ("enabled", "disabled", "freeze"),
    "log": ("sync", "executor", "discard"),
    "log_format": ("csv", "json"),
    "timestamp": ("datetime", "cached"),
    "numbers": ("locale", "fstring"),
    "book": ("heap", "levels"),
    "match": ("str", "bytes"),
}


# -- configuration ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Everything a run of the loop depends on (lesson 09); the defaults turn every source on.

    Parameters
    ----------
    updates : int, 1 to ``MAX_UPDATES``
        Updates recorded (one sample per operation each).
    warmup : int, 0 to ``MAX_WARMUP``
        Updates run first and not recorded (caches, the book filling up).
    seed : int >= 0
        Seed of the synthetic feed (the same seed gives the same messages).
    depth : int, 1 to ``MAX_DEPTH``
        Live orders per side the feed aims to keep in the book.
    cycles : bool
        Orders keep a fill handler that refers back to them (the ``"gc"`` source).
    gc_mode : ``"enabled"``, ``"disabled"`` or ``"freeze"``
        The collector during the run: as it is; ``gc.disable()`` (and one explicit
        collection of generation 0, where everything the run allocated still is, after the
        run, timed: ``counters["safe_point_collect_ns"]``); or
        ``gc.freeze()`` after setup, which exempts everything alive then from collections.
    heap_objects : int, 0 to ``MAX_HEAP_OBJECTS``
        Long-lived objects (small lists) built before the run, e.g. reference data.
    log : ``"sync"``, ``"executor"`` or ``"discard"``
        Where full log buffers go: written inline, handed to a thread pool, or dropped.
    log_format : ``"csv"`` or ``"json"``
    fsync : bool
        ``os.fsync`` after every batch written (the data reaches the disk, not just the
        page cache).
    buffer_lines : int, 1 to ``MAX_BUFFER_LINES``
        Lines per batch.
    workers : int, 1 to ``MAX_WORKERS``
        Threads of the executor (``log="executor"``).
    max_pending : int or None
        Most batches handed to the executor and not yet written; when it is reached the
        loop waits for the oldest (back-pressure, counted). None: no bound other than the
        run's own length.
    display_every, snapshot_every : int, 0 (never) to ``MAX_UPDATES``
        Periods, in updates, of the two periodic jobs.
    timestamp : ``"datetime"`` or ``"cached"``
    numbers : ``"locale"`` or ``"fstring"``
    book : ``"heap"`` or ``"levels"``
    match : ``"str"`` or ``"bytes"``
    directory : str or None
        Where the run's temporary directory goes (the system's temporary directory if None);
        it is removed when the run ends.
    schedstat : bool
        Read the thread's scheduler statistics once per iteration (:data:`SCHEDSTAT`, about
        a microsecond, outside the timed operations), so :func:`detect` can tell when the
        thread was ready to run but another thread or process had its CPU. Linux only;
        elsewhere (or where the file is missing) it is ignored.
    """

    updates: int = 5_000
    warmup: int = 500
    seed: int = 0
    depth: int = 1_000
    cycles: bool = True
    gc_mode: str = "enabled"
    heap_objects: int = 0
    log: str = "sync"
    log_format: str = "csv"
    fsync: bool = True
    buffer_lines: int = 100
    workers: int = 2
    max_pending: int | None = 8
    display_every: int = 500
    snapshot_every: int = 1_000
    timestamp: str = "datetime"
    numbers: str = "locale"
    book: str = "heap"
    match: str = "str"
    directory: str | None = None
    schedstat: bool = True

    def __post_init__(self):
        checked = {
            "updates": validate.integer("updates", self.updates, low=1, high=MAX_UPDATES),
            "warmup": validate.integer("warmup", self.warmup, low=0, high=MAX_WARMUP),
            "seed": validate.integer("seed", self.seed, low=0),
            "depth": validate.integer("depth", self.depth, low=1, high=MAX_DEPTH),
            "heap_objects": validate.integer(
                "heap_objects", self.heap_objects, low=0, high=MAX_HEAP_OBJECTS
            ),
            "buffer_lines": validate.integer(
                "buffer_lines", self.buffer_lines, low=1, high=MAX_BUFFER_LINES
            ),
            "workers": validate.integer("workers", self.workers, low=1, high=MAX_WORKERS),
            "display_every": validate.integer(
                "display_every", self.display_every, low=0, high=MAX_UPDATES
            ),
            "snapshot_every": validate.integer(
                "snapshot_every", self.snapshot_every, low=0, high=MAX_UPDATES
            ),
        }
        if self.max_pending is not None:
            checked["max_pending"] = validate.integer(
                "max_pending", self.max_pending, low=1, high=MAX_UPDATES
            )
        for name in ("cycles", "fsync", "schedstat"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
            checked[name] = bool(getattr(self, name))
        for name, allowed in _CHOICES.items():
            checked[name] = validate.one_of(name, getattr(self, name), allowed)
        if self.directory is not None:
            if not isinstance(self.directory, str | os.PathLike):
                raise TypeError(
                    f"directory must be a path or None, got {type(self.directory).__name__}"
                )
            if not os.path.isdir(self.directory):
                raise ValueError(f"directory must be an existing directory, got {self.directory!r}")
            checked["directory"] = os.fspath(self.directory)
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def config(on: Iterable[str] | str = "all", **overrides) -> LoopConfig:
    """A :class:`LoopConfig` with the sources named in ``on`` spiking and every other fixed.

    ``on`` is ``"all"``, ``"none"`` or an iterable of names from :data:`SOURCES`;
    ``overrides`` set any other field (``updates=20_000``, ``fsync=True``) and win over
    what ``on`` implies.

    >>> config(on=["gc"], updates=2_000).cycles, config(on=["gc"]).log
    (True, 'executor')

    ``LoopConfig()`` itself has every source on.
    """
    names = _source_names(on)
    fields: dict[str, object] = {}
    for name, source in SOURCES.items():
        fields.update(source.spike if name in names else source.fix)
    fields.update(overrides)
    return LoopConfig(**fields)


def _source_names(on) -> set[str]:
    if isinstance(on, str):
        if on == "all":
            return set(SOURCES)
        if on == "none":
            return set()
        on = [on]
    try:
        names = list(on)
    except TypeError:
        raise TypeError(
            f"on must be 'all', 'none' or an iterable of source names, got {type(on).__name__}"
        ) from None
    for name in names:
        if name not in SOURCES:
            raise ValueError(f"on: unknown source {name!r}; the sources are {tuple(SOURCES)}")
    return set(names)


def active_sources(loop_config: LoopConfig) -> tuple[str, ...]:
    """The names of the sources that ``loop_config`` leaves spiking (in :data:`SOURCES` order)."""
    if not isinstance(loop_config, LoopConfig):
        raise TypeError(f"loop_config must be a LoopConfig, got {type(loop_config).__name__}")
    return tuple(
        name
        for name, source in SOURCES.items()
        if all(getattr(loop_config, k) == v for k, v in source.spike.items())
    )


# -- the feed -------------------------------------------------------------------------------
def feed(updates: int = 1_000, *, seed: int = 0, depth: int = 1_000) -> list[bytes]:
    """``updates`` synthetic market-by-order messages, the same ones for the same seed.

    Each message is FIX-style: ``35=X`` (incremental refresh), ``279`` the action (0 new,
    2 delete), ``269`` the entry type (0 bid, 1 offer, 2 trade), ``278`` the order id, and
    for new orders and trades ``270`` the price and ``271`` the size. A trade executes a
    whole resting order. About ``depth`` orders per side stay live; prices stay within
    :data:`BAND` ticks of 100.00 and move with a slow random walk of the mid price. The
    stream is simplified (no partial fills, no modifies) but shaped like a real feed:
    most orders are cancelled away from the top of the book.
    """
    updates = validate.integer("updates", updates, low=1, high=MAX_UPDATES + MAX_WARMUP)
    depth = validate.integer("depth", depth, low=1, high=MAX_DEPTH)
    draws = validate.rng("seed", seed).random((updates, 5))  # uniform draws only: stable
    live: tuple[list[int], list[int]] = ([], [])
    place: dict[int, int] = {}  # order id -> index in its side's list
    resting: dict[int, tuple[int, int]] = {}  # order id -> (tick, size)
    mid, next_id = MID_TICK, 1
    log_keep = math.log(1 - 0.15)  # offsets from the mid: geometric, mean about 6.7 ticks
    out = []
    for r_kind, r_side, r_pick, r_mid, r_size in draws.tolist():
        if r_mid < 0.02:
            mid += 1 if r_mid < 0.01 else -1
            mid = min(max(mid, MID_TICK - BAND // 2), MID_TICK + BAND // 2)
        side = BID if r_side < 0.5 else ASK
        orders = live[side]
        if not orders or r_kind < (0.75 if len(orders) < depth else 0.45):
            offset = 1 + int(math.log(1.0 - r_pick) / log_keep)
            tick = mid - offset if side == BID else mid + offset
            tick = min(max(tick, MID_TICK - BAND + 1), MID_TICK + BAND - 1)
            size = 100 * (1 + int(r_size * 10))
            oid, next_id = next_id, next_id + 1
            place[oid] = len(orders)
            orders.append(oid)
            resting[oid] = (tick, size)
            out.append(b"35=X\x01279=0\x01269=%d\x01278=%d\x01270=%d.%02d\x01271=%d\x01"
                       % (side, oid, *divmod(tick, TICKS_PER_UNIT), size))  # fmt: skip
            continue
        k = int(r_pick * len(orders))
        oid = orders[k]
        last = orders.pop()  # swap-remove: O(1), order of the list does not matter
        if last != oid:
            orders[k] = last
            place[last] = k
        del place[oid]
        tick, size = resting.pop(oid)
        if r_kind > 0.95:
            out.append(b"35=X\x01279=0\x01269=2\x01278=%d\x01270=%d.%02d\x01271=%d\x01"
                       % (oid, *divmod(tick, TICKS_PER_UNIT), size))  # fmt: skip
        else:
            out.append(b"35=X\x01279=2\x01269=%d\x01278=%d\x01" % (side, oid))
    return out


# -- parse --------------------------------------------------------------------------------------
def parse_str(raw: bytes) -> tuple[int, int, int, int, int]:
    """Parse one message after decoding it to ``str``: ``(kind, side, order_id, tick, size)``.

    ``kind`` is ``NEW``, ``DELETE`` or ``TRADE``; ``side`` is ``BID`` or ``ASK`` (0 for a
    trade: the book knows the order's side); ``tick`` and ``size`` are 0 for a delete.
    A message this module's feed cannot have written raises ``ValueError``.
    """
    try:
        fields = {}
        for item in raw.decode("ascii").split("\x01"):
            tag, _, value = item.partition("=")
            fields[tag] = value
        entry = fields["269"]
        if entry == "2":
            kind, side = TRADE, BID
        else:
            kind = NEW if fields["279"] == "0" else DELETE
            side = ASK if entry == "1" else BID
        if kind == DELETE:
            return kind, side, int(fields["278"]), 0, 0
        return kind, side, int(fields["278"]), round(float(fields["270"]) * 100), int(fields["271"])
    except (AttributeError, KeyError, TypeError, ValueError, UnicodeError):
        raise _not_a_message(raw) from None


def parse_bytes(raw: bytes) -> tuple[int, int, int, int, int]:
    """Parse one message as the ``bytes`` it arrived as; same result as :func:`parse_str`.

    The same steps on ``bytes``: split on ``b"\\x01"``, match tags and values as bytes
    (``int`` and ``float`` accept bytes directly), so nothing is decoded.
    """
    try:
        fields = {}
        for item in raw.split(b"\x01"):
            tag, _, value = item.partition(b"=")
            fields[tag] = value
        entry = fields[b"269"]
        if entry == b"2":
            kind, side = TRADE, BID
        else:
            kind = NEW if fields[b"279"] == b"0" else DELETE
            side = ASK if entry == b"1" else BID
        if kind == DELETE:
            return kind, side, int(fields[b"278"]), 0, 0
        return (
            kind,
            side,
            int(fields[b"278"]),
            round(float(fields[b"270"]) * 100),
            int(fields[b"271"]),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise _not_a_message(raw) from None


def _not_a_message(raw) -> ValueError:
    shown = raw[:60] if isinstance(raw, bytes | str) else type(raw).__name__
    return ValueError(f"raw must be a market-data message from spikes.feed(), got {shown!r}")


_PARSERS = {"str": parse_str, "bytes": parse_bytes}


def parse_cases(message: bytes | None = None) -> dict[str, Callable[[], object]]:
    """Zero-argument callables for ``timing.compare``: parse one message as str or as bytes."""
    raw = feed(1)[0] if message is None else message
    parse_bytes(raw)  # refuses anything but a message, before the callables exist
    return {"str": lambda: parse_str(raw), "bytes": lambda: parse_bytes(raw)}


# -- the book ---------------------------------------------------------------------------------
class _Order:
    """A resting order. With ``cycles`` it keeps its fill handler, a bound method of itself."""

    __slots__ = ("oid", "side", "tick", "size", "filled", "on_fill")

    def __init__(self, oid, side, tick, size, cycles):
        self.oid, self.side, self.tick, self.size, self.filled = oid, side, tick, size, 0
        self.on_fill = self.fill if cycles else None  # order -> bound method -> order

    def fill(self, quantity):
        self.filled += quantity


class _HeapBook:
    """Best bid and ask from one heap per side, with lazy deletion and periodic rebuilds."""

    def __init__(self, cycles: bool):
        self.cycles = cycles
        self.orders: dict[int, _Order] = {}
        self.heaps: tuple[list, list] = ([], [])  # bids keyed by -tick, asks by tick
        self.live = [0, 0]
        self.stale = [0, 0]
        self.rebuilds = 0

    def apply(self, kind, side, oid, tick, size):
        orders = self.orders
        if kind == NEW:
            orders[oid] = _Order(oid, side, tick, size, self.cycles)
            heapq.heappush(self.heaps[side], (-tick if side == BID else tick, oid))
            self.live[side] += 1
        else:
            order = orders.pop(oid, None)
            if order is not None:
                side = order.side
                if kind == TRADE:
                    order.fill(order.size)
                self.live[side] -= 1
                self.stale[side] += 1
                if self.stale[side] > self.live[side] and self.stale[side] >= 64:
                    self._rebuild(side)
        return self._best(BID), self._best(ASK)

    def _best(self, side):
        heap, orders = self.heaps[side], self.orders
        while heap and heap[0][1] not in orders:  # lazy deletion: drop stale tops only
            heapq.heappop(heap)
            self.stale[side] -= 1
        if not heap:
            return 0
        key = heap[0][0]
        return -key if side == BID else key

    def _rebuild(self, side):
        orders = self.orders
        heap = [entry for entry in self.heaps[side] if entry[1] in orders]
        heapq.heapify(heap)
        self.heaps = (heap, self.heaps[ASK]) if side == BID else (self.heaps[BID], heap)
        self.stale[side] = 0
        self.rebuilds += 1


class _LevelBook:
    """Best bid and ask from an array of sizes per price tick: no deletion to clean up."""

    rebuilds = 0

    def __init__(self, cycles: bool):
        self.cycles = cycles
        self.orders: dict[int, _Order] = {}
        self.low = MID_TICK - BAND
        self.levels = ([0] * (2 * BAND), [0] * (2 * BAND))
        self.best = [-1, 2 * BAND]  # index of the best bid (-1: none) and ask (2·BAND: none)

    def apply(self, kind, side, oid, tick, size):
        orders, best = self.orders, self.best
        if kind == NEW:
            orders[oid] = _Order(oid, side, tick, size, self.cycles)
            i = tick - self.low
            self.levels[side][i] += size
            if (side == BID and i > best[BID]) or (side == ASK and i < best[ASK]):
                best[side] = i
        else:
            order = orders.pop(oid, None)
            if order is not None:
                side = order.side
                if kind == TRADE:
                    order.fill(order.size)
                i = order.tick - self.low
                level = self.levels[side]
                level[i] -= order.size
                if i == best[side] and level[i] == 0:  # scan to the next level: bounded
                    if side == BID:
                        while i >= 0 and level[i] == 0:
                            i -= 1
                    else:
                        while i < 2 * BAND and level[i] == 0:
                            i += 1
                    best[side] = i
        bid = best[BID] + self.low if best[BID] >= 0 else 0
        ask = best[ASK] + self.low if best[ASK] < 2 * BAND else 0
        return bid, ask


_BOOKS = {"heap": _HeapBook, "levels": _LevelBook}


# -- signal -------------------------------------------------------------------------------------
class _Signal:
    """Fast minus slow moving average of the mid price; the position flips when it crosses."""

    def __init__(self):
        self.fast = self.slow = 0.0
        self.started = False
        self.position = 0
        self.orders = 0

    def update(self, bid, ask):
        if not bid or not ask:
            return 0.0
        mid = 0.5 * (bid + ask)
        if not self.started:
            self.fast = self.slow = mid
            self.started = True
        self.fast += 0.2 * (mid - self.fast)
        self.slow += 0.02 * (mid - self.slow)
        value = self.fast - self.slow
        want = 1 if value > 0.5 else -1 if value < -0.5 else self.position
        if want != self.position:
            self.position = want
            self.orders += 1
        return value


# -- formatting ---------------------------------------------------------------------------------
_STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class CachedTimestamp:
    """Wall-clock timestamps as text, formatting the date and time once per second (lesson 09).

    ``text(ns)`` gives what ``datetime.fromtimestamp(...).strftime("%Y-%m-%d %H:%M:%S.%f")``
    gives for that instant (local time, microseconds truncated), but only the first call in
    each second pays for ``strftime``; the others add six digits to the cached text.
    """

    def __init__(self):
        self._second = -1
        self._prefix = ""

    def text(self, ns: int | None = None) -> str:
        """The timestamp of ``ns`` (``time.time_ns()`` nanoseconds; now if None) as text."""
        if ns is None:
            ns = time.time_ns()
        return self._text(validate.integer("ns", ns, low=0, high=2**63 - 1))

    def _text(self, ns: int) -> str:
        second, rest = divmod(ns, units.NS_PER_S)
        if second != self._second:
            self._prefix = time.strftime(_STAMP_FORMAT, time.localtime(second))
            self._second = second
        return f"{self._prefix}.{rest // units.NS_PER_US:06d}"


def datetime_text(ns: int | None = None) -> str:
    """The timestamp of ``ns`` (now if None) formatted by ``datetime`` and ``strftime``."""
    if ns is None:
        return datetime.datetime.now().strftime(_STAMP_FORMAT + ".%f")
    ns = validate.integer("ns", ns, low=0, high=2**63 - 1)
    second, rest = divmod(ns, units.NS_PER_S)
    moment = datetime.datetime.fromtimestamp(second) + datetime.timedelta(
        microseconds=rest // units.NS_PER_US
    )
    return moment.strftime(_STAMP_FORMAT + ".%f")


def _now_datetime() -> str:
    return datetime.datetime.now().strftime(_STAMP_FORMAT + ".%f")


def _price_locale(tick: int) -> str:
    return locale.format_string("%.2f", tick / TICKS_PER_UNIT, grouping=True)


def _size_locale(size: int) -> str:
    return locale.format_string("%d", size, grouping=True)


def _price_fstring(tick: int) -> str:
    return f"{tick / TICKS_PER_UNIT:.2f}"


def format_cases() -> dict[str, Callable[[], object]]:
    """Zero-argument callables for ``timing.compare``: a log line's timestamp and price, each
    formatted the spiky way and the fixed way."""
    cached = CachedTimestamp()
    clock = time.time_ns
    return {
        "datetime.now().strftime": _now_datetime,
        "cached timestamp": lambda: cached._text(clock()),
        "locale.format_string": lambda: _price_locale(10_025),
        "f-string": lambda: _price_fstring(10_025),
    }


# -- log ----------------------------------------------------------------------------------------
def _csv_line(stamp, seq, kind, side, price, size, signal) -> str:
    return f"{stamp},{seq},{_KIND_TEXT[kind]},{side},{price},{size},{signal:.4f}\n"


def _json_line(stamp, seq, kind, side, price, size, signal) -> str:
    row = {"time": stamp, "seq": seq, "kind": _KIND_TEXT[kind], "side": side,
           "price": price, "size": size, "signal": round(signal, 4)}  # fmt: skip
    return json.dumps(row) + "\n"


def log_line(
    seq: int = 1, action: int = NEW, side: int = BID, tick: int = MID_TICK,
    quantity: int = 100, signal: float = 0.0, *, log_format: str = "csv",
    numbers: str = "fstring", stamp: str = "2024-01-02 09:30:00.000001",
) -> str:  # fmt: skip
    """One line of the loop's log, as the loop formats it (lesson 09): CSV or JSON lines,
    prices and sizes by an f-string or by ``locale.format_string``. ``action`` is ``NEW``,
    ``DELETE`` or ``TRADE``; ``tick`` a price in ticks of 0.01; ``quantity`` a size."""
    seq = validate.integer("seq", seq, low=0)
    action = validate.integer("action", action, low=NEW, high=TRADE)
    side = validate.integer("side", side, low=BID, high=ASK)
    tick = validate.integer("tick", tick, low=0, high=2**53)
    quantity = validate.integer("quantity", quantity, low=0, high=2**53)
    signal = validate.real("signal", signal)
    log_format = validate.one_of("log_format", log_format, _CHOICES["log_format"])
    numbers = validate.one_of("numbers", numbers, _CHOICES["numbers"])
    if not isinstance(stamp, str):
        raise TypeError(f"stamp must be str, got {type(stamp).__name__}")
    price_text = _price_locale if numbers == "locale" else _price_fstring
    size_text = _size_locale if numbers == "locale" else str
    line = _csv_line if log_format == "csv" else _json_line
    return line(stamp, seq, action, side, price_text(tick), size_text(quantity), signal)


def _write_bytes(fd: int, data: bytes, fsync: bool) -> int:
    """Write all of ``data`` (the GIL is released during the system calls), then fsync."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if fsync:
        os.fsync(fd)
    return len(data)


class _Log:
    """Formats one line per update, buffers lines, and writes full buffers (sink by config)."""

    def __init__(self, cfg: LoopConfig, directory: str):
        self.cfg = cfg
        cached = CachedTimestamp()
        clock = time.time_ns
        self.stamp = _now_datetime if cfg.timestamp == "datetime" else lambda: cached._text(clock())
        locale_numbers = cfg.numbers == "locale"
        self.price = _price_locale if locale_numbers else _price_fstring
        self.size = _size_locale if locale_numbers else str
        self.format = _csv_line if cfg.log_format == "csv" else _json_line
        self.buffer: list[str] = []
        self.limit = cfg.buffer_lines
        self.fsync = cfg.fsync
        self.sink = cfg.log
        self.path = os.path.join(
            directory, "loop." + ("csv" if cfg.log_format == "csv" else "jsonl")
        )
        self.fd = -1
        self.pool = None
        self.pending: deque = deque()  # (future, bytes)
        self.pending_bytes = 0
        self.max_pending = MAX_UPDATES if cfg.max_pending is None else cfg.max_pending
        self.batches = self.lines = self.bytes = self.fsyncs = 0
        self.waits = self.peak_batches = self.peak_bytes = 0
        if cfg.log != "discard":
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if cfg.log == "executor":
            self.pool = ThreadPoolExecutor(cfg.workers, thread_name_prefix="latency-lab-log")

    def line(self, seq, kind, side, tick, size, signal):
        buffer = self.buffer
        buffer.append(
            self.format(self.stamp(), seq, kind, side, self.price(tick), self.size(size), signal)
        )
        if len(buffer) >= self.limit:
            self.flush()

    def flush(self):
        lines, self.buffer = self.buffer, []
        if not lines:
            return
        self.batches += 1
        self.lines += len(lines)
        if self.sink == "discard":
            return
        data = "".join(lines).encode()
        if self.sink == "sync":
            self.bytes += _write_bytes(self.fd, data, self.fsync)
            self.fsyncs += self.fsync
            return
        self._reap()
        if len(self.pending) >= self.max_pending:  # back-pressure: wait for the oldest
            self.waits += 1
            self._finish(*self.pending.popleft())
        self.pending.append((self.pool.submit(_write_bytes, self.fd, data, self.fsync), len(data)))
        self.pending_bytes += len(data)
        self.peak_batches = max(self.peak_batches, len(self.pending))
        self.peak_bytes = max(self.peak_bytes, self.pending_bytes)

    def _reap(self):
        while self.pending and self.pending[0][0].done():
            self._finish(*self.pending.popleft())

    def _finish(self, future, size):
        self.bytes += future.result()
        self.fsyncs += self.fsync
        self.pending_bytes -= size

    def close(self, error: bool) -> None:
        """Write what is left (unless the run failed), wait for the workers, close the file."""
        try:
            if not error:
                self.flush()
                while self.pending:
                    self._finish(*self.pending.popleft())
        finally:
            if self.pool is not None:
                for future, _ in self.pending:
                    future.cancel()
                self.pool.shutdown(wait=True)
            if self.fd >= 0:
                os.close(self.fd)


# -- periodic jobs ------------------------------------------------------------------------------
class _Jobs:
    """Remembers recent updates; runs a display and a book snapshot at their periods."""

    def __init__(self, cfg: LoopConfig, book):
        self.display_every, self.snapshot_every = cfg.display_every, cfg.snapshot_every
        self.book = book
        self.recent: deque = deque(maxlen=_RECENT)
        self.displays = self.snapshots = self.together = 0
        self.screen = ""
        self.snapshot_bytes = 0

    def run(self, update, tick, size, signal):
        self.recent.append((update, tick, size, signal))
        display = self.display_every and update % self.display_every == 0
        snapshot = self.snapshot_every and update % self.snapshot_every == 0
        if display:
            self._display()
        if snapshot:
            self._snapshot()
        if display and snapshot:
            self.together += 1

    def _display(self):
        rows = list(self.recent)[-_DISPLAY_ROWS:]
        lines = [f"{'update':>8} {'price':>10} {'size':>7} {'signal':>9}"]
        lines += [f"{u:>8,} {t / TICKS_PER_UNIT:>10.2f} {s:>7,} {g:>+9.4f}" for u, t, s, g in rows]
        self.screen = "\n".join(lines)
        self.displays += 1

    def _snapshot(self):
        state = {"live_orders": len(self.book.orders), "recent": list(self.recent)}
        text = json.dumps(state)
        self.snapshot_bytes = len(text)
        self.snapshots += 1


# -- the run --------------------------------------------------------------------------------------
class LoopResult(NamedTuple):
    """What :func:`run_loop` returns (lesson 09).

    ``trackers`` maps each of :data:`OPS` and ``"iteration"`` to a ``LatencyTracker`` of
    ``config.updates`` samples in ns, in update order (sample k is update ``warmup + k + 1``
    of the loop); ``start_ns`` is when each recorded iteration started
    (``time.perf_counter_ns``); ``gc_pauses`` are the collections during the recorded part
    (``GcWatch.pauses()``: ``generation``, ``start_ns``, ``duration_ns``, ...); ``counters``
    are what the run did (rebuilds, batches, fsyncs, back-pressure waits, jobs, collections).

    ``scheduler`` has one row per recorded update, from the kernel's scheduler statistics
    read just before the iteration's first clock read and just after its last:
    ``waiting_ns`` (time the thread was ready to run but waited for a CPU because another
    process or thread had it: it was *preempted*) and ``switches`` (times the thread was
    switched back in: after a preemption, or after it blocked on the disk, a lock or the
    GIL). Empty when ``config.schedstat`` is off or the system has no :data:`SCHEDSTAT`.
    """

    config: LoopConfig
    trackers: dict[str, LatencyTracker]
    start_ns: np.ndarray
    gc_pauses: pd.DataFrame
    counters: dict[str, int]
    scheduler: pd.DataFrame

    def samples_ns(self) -> dict[str, np.ndarray]:
        """Per operation (and ``"iteration"``), the recorded samples in ns, in update order."""
        return {name: tracker.samples() for name, tracker in self.trackers.items()}

    def summary(self) -> pd.DataFrame:
        """p50, p99, p99.9 and max per operation, in ns (nearest rank)."""
        keys = ["p50_ns", "p99_ns", "p99.9_ns", "max_ns"]
        rows = {name: {k: t.summary()[k] for k in keys} for name, t in self.trackers.items()}
        table = pd.DataFrame.from_dict(rows, orient="index").astype(np.int64)
        table.index.name = "operation"
        return table


def run_loop(loop_config: LoopConfig | None = None) -> LoopResult:
    """Run the loop once: ``loop_config.warmup`` untimed updates, then ``updates`` timed ones.

    ``None`` runs ``LoopConfig()`` (every source on). The run writes its log into a
    temporary directory that it removes, joins its executor's threads, and restores the
    collector's state (enabled or not, frozen objects) before returning or raising.

    >>> result = run_loop(config(on=["heap_rebuild"], updates=2_000))
    >>> result.trackers["book"].summary()["p99_ns"]  # the book's p99 in ns
    """
    if loop_config is None:
        loop_config = LoopConfig()
    if not isinstance(loop_config, LoopConfig):
        raise TypeError(
            f"loop_config must be a LoopConfig (see spikes.config), got {type(loop_config).__name__}"
        )
    messages = feed(loop_config.warmup + loop_config.updates, seed=loop_config.seed,
                    depth=loop_config.depth)  # fmt: skip
    return _run(loop_config, messages)


def _run(cfg: LoopConfig, messages: list[bytes]) -> LoopResult:
    trackers = {
        name: LatencyTracker(capacity=cfg.updates, warmup=cfg.warmup) for name in (*OPS, ITERATION)
    }
    start_ns = np.zeros(cfg.updates, dtype=np.int64)
    usage: list[bytes] | None = [] if cfg.schedstat and os.path.exists(SCHEDSTAT) else None
    watch = GcWatch(capacity=max(1_000, cfg.updates // 4))  # collections beyond are counted
    was_enabled, frozen_before = gc.isenabled(), gc.get_freeze_count()
    threshold = gc.get_threshold()
    counters: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="latency-lab-spikes-", dir=cfg.directory) as tmp:
        log, failed = None, True
        try:
            log = _Log(cfg, tmp)
            book = _BOOKS[cfg.book](cfg.cycles)
            signal = _Signal()
            jobs = _Jobs(cfg, book)
            heap = [[i] for i in range(cfg.heap_objects)]  # long-lived: survives the run
            gc.collect()
            if cfg.gc_mode == "freeze":
                gc.freeze()
            elif cfg.gc_mode == "disabled":
                gc.disable()
            counters["gc_threshold_unchanged"] = int(gc.get_threshold() == threshold)
            counters["gc_count_start"] = gc.get_count()[0]
            parse = _PARSERS[cfg.match]
            _loop(messages, cfg.warmup, trackers, start_ns, usage, watch, book, signal, log,
                  jobs, parse)  # fmt: skip
            counters["gc_count_end"] = gc.get_count()[0]
            counters["gc_enabled_during"] = int(gc.isenabled())
            failed = False
        finally:
            try:
                if log is not None:
                    log.close(error=failed)
            finally:
                if cfg.gc_mode == "disabled" and not failed:  # the safe point after the run
                    start = time.perf_counter_ns()  # all the run made is still generation 0
                    counters["safe_point_collected"] = gc.collect(0)
                    counters["safe_point_collect_ns"] = time.perf_counter_ns() - start
                if was_enabled:
                    gc.enable()
                if cfg.gc_mode == "freeze" and frozen_before == 0:
                    gc.unfreeze()
    del heap
    counters.update(
        updates=cfg.updates,
        warmup=cfg.warmup,
        rebuilds=book.rebuilds,
        live_orders=len(book.orders),
        signal_orders=signal.orders,
        log_batches=log.batches,
        log_lines=log.lines,
        log_bytes=log.bytes,
        fsyncs=log.fsyncs,
        backpressure_waits=log.waits,
        peak_pending_batches=log.peak_batches,
        peak_pending_bytes=log.peak_bytes,
        displays=jobs.displays,
        snapshots=jobs.snapshots,
        jobs_together=jobs.together,
        snapshot_bytes=jobs.snapshot_bytes,
        **{f"gen{g}_gcs": watch.counts[g] for g in GENERATIONS},
        gc_pauses_dropped=watch.dropped,
    )
    scheduler = _scheduler(cfg.updates, usage)
    counters["waiting_ns"] = int(scheduler["waiting_ns"].sum())
    counters["switches"] = int(scheduler["switches"].sum())
    return LoopResult(cfg, trackers, start_ns, watch.pauses(), counters, scheduler)


def _scheduler(updates: int, usage: list[bytes] | None) -> pd.DataFrame:
    """Per recorded update: time its thread waited for a CPU, and times it was switched in."""
    if usage is None or len(usage) != 2 * updates:
        return pd.DataFrame(
            {"waiting_ns": np.zeros(0, np.int64), "switches": np.zeros(0, np.int64)}
        )
    # each line: time on a CPU (ns), time waiting on a run queue (ns), times switched in;
    # read before and after each iteration
    stat = np.array([line.split()[:3] for line in usage], dtype=np.int64).reshape(-1, 2, 3)
    delta = stat[:, 1] - stat[:, 0]
    return pd.DataFrame({"waiting_ns": delta[:, 1], "switches": delta[:, 2]})


def _loop(messages, warmup, trackers, start_ns, usage, watch, book, signal, log, jobs, parse):
    """The hot loop: five timed operations per update, recorded after the last clock read."""
    clock = time.perf_counter_ns
    apply, update_signal, log_line, run_jobs = book.apply, signal.update, log.line, jobs.run
    record = [trackers[name].record for name in (*OPS, ITERATION)]
    r_parse, r_book, r_signal, r_log, r_jobs, r_iteration = record
    fd = os.open(SCHEDSTAT, os.O_RDONLY) if usage is not None else -1
    pread, keep = os.pread, usage.append if usage is not None else None
    recording = False
    try:
        for i, raw in enumerate(messages):
            if i == warmup:  # watch collections from the first recorded update on
                watch.__enter__()
                recording = True
            if recording and fd >= 0:  # outside the timed operations; parsed after the run
                keep(pread(fd, 128, 0))
            t0 = clock()
            kind, side, oid, tick, size = parse(raw)
            t1 = clock()
            bid, ask = apply(kind, side, oid, tick, size)
            t2 = clock()
            value = update_signal(bid, ask)
            t3 = clock()
            log_line(i, kind, side, tick, size, value)
            t4 = clock()
            run_jobs(i + 1, tick, size, value)
            t5 = clock()
            if recording and fd >= 0:
                keep(pread(fd, 128, 0))
            r_parse(t1 - t0)
            r_book(t2 - t1)
            r_signal(t3 - t2)
            r_log(t4 - t3)
            r_jobs(t5 - t4)
            r_iteration(t5 - t0)
            if recording:
                start_ns[i - warmup] = t0
    finally:
        if fd >= 0:
            os.close(fd)
        if watch.active:
            watch.__exit__(None, None, None)


# -- the spike detector ---------------------------------------------------------------------------
class SpikeReport(NamedTuple):
    """What :func:`detect` found (lesson 09).

    ``iterations``: one row per slow iteration, indexed by update number — ``iteration_ns``,
    each operation's ns, ``gc_ns`` (collector pauses overlapping the iteration),
    ``waiting_ns`` and ``switches`` (from ``LoopResult.scheduler``; 0 when unknown)
    and ``culprit`` (see :func:`detect`). ``breakdown``: one row per culprit — ``spikes``,
    ``share`` of all spikes' time above the median iteration, ``per_1000`` updates,
    ``typical_gap`` (median updates between consecutive spikes of that culprit: a steady
    period points to periodic work), ``switched`` (spikes during which the thread was
    switched out and back in: preempted, or blocked on the disk, a lock or the GIL) and
    ``max_ns``.
    """

    threshold_ns: int
    rule: str
    updates: int
    spikes: int
    per_1000: float
    iterations: pd.DataFrame
    breakdown: pd.DataFrame

    def __str__(self) -> str:
        head = (
            f"{self.spikes:,} spikes above {self.threshold_ns:,} ns ({self.rule}) in "
            f"{self.updates:,} updates: {self.per_1000:.2f} per 1,000"
        )
        if not self.spikes:
            return head
        table = self.breakdown.to_string(
            formatters={
                "share": "{:.0%}".format,
                "per_1000": "{:.2f}".format,
                "typical_gap": lambda g: "-" if np.isnan(g) else f"{g:,.0f}",
                "switched": "{:,}".format,
                "max_ns": "{:,}".format,
            }
        )
        return f"{head}\n{table}"


def detect(samples_ns, threshold_ns: int | None = None, *, multiple: float = 10.0) -> SpikeReport:
    """Find the slow iterations, say what made each slow, and how often (lesson 09).

    ``samples_ns`` is a :class:`LoopResult` or a mapping of operation name to per-iteration
    samples in ns (aligned: element k of every array belongs to iteration k), optionally with
    an ``"iteration"`` entry (else the operations' sum is the iteration). An iteration is a
    spike when it takes more than ``threshold_ns``, or, if that is None, more than
    ``multiple`` times the median iteration.

    A spike's culprit is the operation whose time exceeded that operation's own median by
    most. A ``LoopResult`` also says when the collector paused and how long the thread
    waited for a CPU (``LoopResult.scheduler``), and then the culprit is ``"gc (<op>)"``
    when collector pauses overlapping the iteration, or ``"preempted (<op>)"`` when its
    wait for a CPU, make up at least half of the iteration's time above the median iteration
    (the larger of the two wins; ``<op>`` is still the operation that took longest, the one
    during which the pause or the wait happened).
    """
    multiple = validate.real("multiple", multiple, low=1.0, high=1e6)
    if threshold_ns is not None:
        threshold_ns = validate.integer("threshold_ns", threshold_ns, low=1)
    sched = None
    if isinstance(samples_ns, LoopResult):
        per_op = samples_ns.samples_ns()
        start, pauses = samples_ns.start_ns, samples_ns.gc_pauses
        first = samples_ns.config.warmup + 1
        if len(samples_ns.scheduler) == samples_ns.start_ns.size:
            sched = samples_ns.scheduler
    elif isinstance(samples_ns, Mapping):
        per_op = {}
        for name, values in samples_ns.items():
            if not isinstance(name, str):
                raise TypeError(f"samples_ns: names must be str, got {type(name).__name__}")
            per_op[name] = validate.samples(f"samples_ns[{name!r}]", values)
        start, pauses, first = None, None, 1
    else:
        raise TypeError(
            "samples_ns must be a LoopResult or a mapping of operation -> samples, "
            f"got {type(samples_ns).__name__}"
        )
    ops = [name for name in per_op if name != ITERATION]
    if not ops:
        raise ValueError("samples_ns holds no operation besides 'iteration'")
    sizes = {values.size for values in per_op.values()}
    if len(sizes) != 1:
        raise ValueError(f"samples_ns: every operation needs one sample per iteration, got {sizes}")
    matrix = np.column_stack([per_op[name] for name in ops])
    total = per_op[ITERATION] if ITERATION in per_op else matrix.sum(axis=1)
    median_total = stats.percentiles(total, 50)
    if threshold_ns is None:
        threshold = max(1, math.ceil(multiple * median_total))
        rule = f"{multiple:g}× the median iteration"
    else:
        threshold, rule = threshold_ns, "threshold_ns"
    slow = np.flatnonzero(total > threshold)
    medians = np.array([stats.percentiles(matrix[:, j], 50) for j in range(len(ops))])
    excess = matrix[slow] - medians
    above = np.maximum(total[slow] - median_total, 0)
    gc_ns = _pause_overlap(start, total, pauses, slow)
    if sched is not None:
        waiting = sched["waiting_ns"].to_numpy()[slow]
        switches = sched["switches"].to_numpy()[slow]
    else:
        waiting = switches = np.zeros(slow.size, dtype=np.int64)
    culprit = np.array(ops, dtype=object)[excess.argmax(axis=1)] if slow.size else []
    culprit = np.array(culprit, dtype=object)
    mostly_gc = (gc_ns > 0) & (2 * gc_ns >= above) & (gc_ns >= waiting)
    mostly_preempted = (waiting > 0) & (2 * waiting >= above) & ~mostly_gc
    culprit[mostly_gc] = [f"gc ({op})" for op in culprit[mostly_gc]]
    culprit[mostly_preempted] = [f"preempted ({op})" for op in culprit[mostly_preempted]]
    iterations = pd.DataFrame(
        {"iteration_ns": total[slow].astype(np.int64)}, index=pd.Index(slow + first, name="update")
    )
    for j, name in enumerate(ops):
        iterations[f"{name}_ns"] = matrix[slow, j].astype(np.int64)
    iterations["gc_ns"] = gc_ns
    iterations["waiting_ns"] = waiting.astype(np.int64)
    iterations["switches"] = switches.astype(np.int64)
    iterations["culprit"] = pd.Series(culprit, index=iterations.index, dtype=object)
    n = int(total.size)
    above = above.astype(float)
    rows = {}
    for name in pd.unique(iterations["culprit"]):
        mask = iterations["culprit"].to_numpy() == name
        mine = iterations.index.to_numpy()[mask]
        rows[name] = {
            "spikes": int(mask.sum()),
            "share": float(above[mask].sum() / above.sum() if above.sum() > 0 else mask.mean()),
            "per_1000": mask.sum() * 1_000 / n,
            "typical_gap": float(np.median(np.diff(mine))) if mine.size > 1 else math.nan,
            "switched": int((switches[mask] > 0).sum()),
            "max_ns": int(total[slow][mask].max()),
        }
    breakdown = pd.DataFrame.from_dict(rows, orient="index", columns=list(_BREAKDOWN_COLUMNS))
    breakdown = breakdown.sort_values(["spikes", "max_ns"], ascending=False)
    breakdown.index.name = "culprit"
    return SpikeReport(
        threshold_ns=int(threshold),
        rule=rule,
        updates=n,
        spikes=int(slow.size),
        per_1000=slow.size * 1_000 / n,
        iterations=iterations,
        breakdown=breakdown,
    )


_BREAKDOWN_COLUMNS = ("spikes", "share", "per_1000", "typical_gap", "switched", "max_ns")


def _pause_overlap(start, total, pauses, slow) -> np.ndarray:
    """Nanoseconds of collector pauses overlapping each slow iteration (0 without pauses)."""
    out = np.zeros(slow.size, dtype=np.int64)
    if start is None or pauses is None or pauses.empty or not slow.size:
        return out
    p_start = pauses["start_ns"].to_numpy()
    p_end = p_start + pauses["duration_ns"].to_numpy()
    order = np.argsort(p_start, kind="stable")
    p_start, p_end = p_start[order], p_end[order]
    for k, i in enumerate(slow):
        begin, end = start[i], start[i] + total[i]
        j = np.searchsorted(p_start, end, side="left") - 1
        while j >= 0 and p_end[j] > begin:
            out[k] += min(end, p_end[j]) - max(begin, p_start[j])
            j -= 1
    return out


# -- comparisons ------------------------------------------------------------------------------------
class LoopComparison(NamedTuple):
    """What :func:`compare_loops` returns: ``frame`` (the iterations, in the format of
    ``timing.compare(..., mode="per_call")``, plus ``waiting_ns``: the time the thread
    waited for a CPU during that iteration, see ``LoopResult.scheduler``) and ``results``
    (name -> one ``LoopResult`` per round)."""

    frame: pd.DataFrame
    results: dict[str, list[LoopResult]]

    def frame_for(self, op: str) -> pd.DataFrame:
        """The same frame for one operation's samples instead of the whole iteration."""
        op = validate.one_of("op", op, (*OPS, ITERATION))
        return _frame(self.results, op)

    def table(self, op: str | None = None, threshold_ns: int | None = None) -> pd.DataFrame:
        """Before/after in one table: :func:`spike_table` of the whole iteration and, if
        ``op`` is given, of that operation, with the same ``threshold_ns`` (default
        :func:`spike_threshold` of the iterations); rows ``(scope, candidate)``."""
        threshold_ns = _threshold(self.frame, threshold_ns)
        columns = ["count", "p50_ns", "p99_ns", "p99.9_ns", "max_ns", "spikes"]
        parts = {ITERATION: spike_table(self.frame, threshold_ns)[columns]}
        if op is not None and op != ITERATION:
            parts[op] = spike_table(self.frame_for(op), threshold_ns)[columns]
        table = pd.concat(parts, names=["scope", "candidate"])
        table.attrs["threshold_ns"] = threshold_ns
        return table


def compare_loops(
    loops: Mapping[str, LoopConfig] | None = None, *, rounds: int = 5
) -> LoopComparison:
    """Run each configuration once per round, in rotated order, like ``timing.compare``.

    ``loops`` maps names to :class:`LoopConfig`; None compares ``"all sources on"`` with
    ``"all fixed"``. Round ``r`` starts with configuration ``r mod k``. Returns a
    :class:`LoopComparison`, whose ``frame`` ``timing.verdict``, ``timing.summarize``,
    :func:`spike_table` and :func:`spike_verdict` read. ``rounds`` × the updates of every
    configuration (warm-up included) is at most ``MAX_COMPARE_UPDATES``.
    """
    if loops is None:
        loops = {"all sources on": config("all"), "all fixed": config("none")}
    if not isinstance(loops, Mapping) or not loops:
        raise TypeError("loops must be a non-empty mapping of name -> LoopConfig")
    for name, cfg in loops.items():
        if not isinstance(name, str):
            raise TypeError(f"loops: names must be str, got {type(name).__name__}")
        if not isinstance(cfg, LoopConfig):
            raise TypeError(f"loops[{name!r}] must be a LoopConfig, got {type(cfg).__name__}")
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    work = rounds * sum(c.warmup + c.updates for c in loops.values())
    if work > MAX_COMPARE_UPDATES:
        raise ValueError(
            f"rounds: {rounds} rounds of {work // rounds:,} updates is {work:,}, above "
            f"MAX_COMPARE_UPDATES={MAX_COMPARE_UPDATES:,}; ask for fewer rounds or updates"
        )
    names = list(loops)
    feeds: dict[tuple, list[bytes]] = {}
    results: dict[str, list[LoopResult]] = {name: [] for name in names}
    for r in range(rounds):
        for c in [(r + i) % len(names) for i in range(len(names))]:
            cfg = loops[names[c]]
            key = (cfg.seed, cfg.warmup + cfg.updates, cfg.depth)
            if key not in feeds:
                feeds[key] = feed(key[1], seed=key[0], depth=key[2])
            results[names[c]].append(_run(cfg, feeds[key]))
    return LoopComparison(_frame(results, ITERATION), results)


def _gc_per_iteration(result: LoopResult) -> np.ndarray:
    """Collections that started during each recorded iteration, by generation."""
    counts = np.zeros((result.start_ns.size, len(GENERATIONS)), dtype=np.int32)
    pauses = result.gc_pauses
    if pauses.empty:
        return counts
    total = result.trackers[ITERATION].samples()
    where = np.searchsorted(result.start_ns, pauses["start_ns"].to_numpy(), side="right") - 1
    inside = (where >= 0) & (pauses["start_ns"].to_numpy() < result.start_ns[where] + total[where])
    for g, i in zip(pauses["generation"].to_numpy()[inside], where[inside], strict=True):
        counts[i, g] += 1
    return counts


def _frame(results: dict[str, list[LoopResult]], op: str) -> pd.DataFrame:
    names = list(results)
    rounds = len(next(iter(results.values())))
    parts = []
    for r in range(rounds):
        for position in range(len(names)):
            c = (r + position) % len(names)
            result = results[names[c]][r]
            latency = result.trackers[op].samples()
            gcs = _gc_per_iteration(result)
            part = pd.DataFrame(
                {
                    "code": np.full(latency.size, c, dtype=np.int64),
                    "round": r,
                    "position": position,
                    "call": np.arange(latency.size),
                    "latency_ns": latency.astype(np.int64),
                }
            )
            for g in GENERATIONS:
                part[f"gen{g}_gcs"] = gcs[:, g]
            if op == ITERATION and len(result.scheduler) == latency.size:
                part["waiting_ns"] = result.scheduler["waiting_ns"].to_numpy()
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    if "waiting_ns" in frame:  # a run without scheduler statistics knows of no preemption
        frame["waiting_ns"] = frame["waiting_ns"].fillna(0).astype(np.int64)
    frame.insert(0, "candidate", pd.Categorical.from_codes(frame.pop("code"), names))
    frame.attrs.update(mode="per_call", clock="perf_counter_ns", candidates=tuple(names),
                       rounds=rounds, operation=op)  # fmt: skip
    return frame


def _check_frame(frame) -> None:
    if not isinstance(frame, pd.DataFrame) or not {"candidate", "round", "latency_ns"} <= set(
        frame.columns
    ):
        raise TypeError("frame must be a per-call frame from compare_loops or timing.compare")


def spike_threshold(frame: pd.DataFrame, multiple: float = 10.0) -> int:
    """``multiple`` times the median of the frame's last candidate, in ns (rounded up).

    The default threshold of :func:`spike_counts`, :func:`spike_table` and
    :func:`spike_verdict`: put the fixed configuration last, and a spike is an iteration
    ``multiple`` times slower than the fixed loop's median.
    """
    _check_frame(frame)
    multiple = validate.real("multiple", multiple, low=1.0, high=1e6)
    last = frame["candidate"].astype(str).iloc[-1]
    if isinstance(frame["candidate"].dtype, pd.CategoricalDtype):
        present = set(frame["candidate"].unique())
        last = [c for c in frame["candidate"].cat.categories if c in present][-1]
    values = frame.loc[frame["candidate"] == last, "latency_ns"].to_numpy()
    return max(1, math.ceil(multiple * stats.percentiles(values, 50)))


def _threshold(frame, threshold_ns) -> int:
    _check_frame(frame)
    if threshold_ns is None:
        return spike_threshold(frame)
    return validate.integer("threshold_ns", threshold_ns, low=1)


def without_preemption(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with the time the thread waited for a CPU taken out of each sample.

    ``latency_ns`` minus ``waiting_ns`` (at least 0): about what the iterations would have
    taken had no other process or thread taken the CPU — the loop's own latency. A frame
    without ``waiting_ns`` (from
    ``timing.compare``, or runs without scheduler statistics) comes back as it is. The
    result reads like any per-call frame (``timing.verdict``, :func:`spike_table`).
    """
    _check_frame(frame)
    out = frame.copy()
    if "waiting_ns" in out:
        out["latency_ns"] = np.maximum(out["latency_ns"] - out["waiting_ns"], 0)
        out["waiting_ns"] = 0
        out.attrs["preemption"] = "removed"
    return out


def spike_counts(frame: pd.DataFrame, threshold_ns: int | None = None) -> pd.DataFrame:
    """Samples above ``threshold_ns`` (default :func:`spike_threshold`) per round (rows) and
    candidate (columns)."""
    threshold_ns = _threshold(frame, threshold_ns)
    above = frame.assign(spike=frame["latency_ns"] > threshold_ns)
    table = above.pivot_table(
        index="round", columns="candidate", values="spike", aggfunc="sum", observed=True
    )
    table.attrs["threshold_ns"] = threshold_ns
    return table.astype(np.int64)


def spike_table(frame: pd.DataFrame, threshold_ns: int | None = None) -> pd.DataFrame:
    """Per candidate: p50, p99, p99.9 and max in ns over all rounds' samples (nearest rank),
    the samples above ``threshold_ns`` (``spikes``, and ``per_1000`` samples) and the
    collections counted. With ``waiting_ns`` in the frame, ``preempted`` counts the spikes
    that are not spikes any more once the time the thread was preempted is taken out (see
    :func:`without_preemption`). ``attrs["threshold_ns"]`` says the threshold used."""
    threshold_ns = _threshold(frame, threshold_ns)
    table = timing.summarize(frame)
    spikes = spike_counts(frame, threshold_ns).sum().reindex(table.index).to_numpy()
    table.insert(5, "spikes", spikes)
    column = 6
    if "waiting_ns" in frame:
        own = spike_counts(without_preemption(frame), threshold_ns).sum()
        table.insert(6, "preempted", spikes - own.reindex(table.index).to_numpy())
        column = 7
    table.insert(column, "per_1000", table["spikes"] * 1_000 / table["count"])
    table.attrs["threshold_ns"] = threshold_ns
    return table


def spike_verdict(
    frame: pd.DataFrame,
    before: str | None = None,
    after: str | None = None,
    threshold_ns: int | None = None,
) -> str:
    """One line: spikes per round of ``before`` and ``after`` (default: the first two
    candidates) above ``threshold_ns``, and whether every round agrees (the two ranges over
    the rounds do not overlap)."""
    table = spike_counts(frame, threshold_ns)
    threshold_ns = table.attrs.get("threshold_ns", threshold_ns)
    names = list(table.columns)
    if len(names) < 2 and (before is None or after is None):
        raise ValueError("frame must hold two candidates to compare")
    before = names[0] if before is None else before
    after = names[1] if after is None else after
    for name, value in (("before", before), ("after", after)):
        if not isinstance(value, str) or value not in names:
            raise ValueError(f"{name} must be one of {tuple(names)}, got {value!r}")
    lo_a, hi_a = int(table[before].min()), int(table[before].max())
    lo_b, hi_b = int(table[after].min()), int(table[after].max())

    def span(lo, hi):
        return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"

    head = (
        f"on this machine: spikes above {threshold_ns:,} ns per round: {before} "
        f"{span(lo_a, hi_a)}, {after} {span(lo_b, hi_b)} (over {len(table)} rounds"
    )
    if hi_b < lo_a:
        return f"{head}; {after} has fewer in every round)"
    if hi_a < lo_b:
        return f"{head}; {before} has fewer in every round)"
    return f"{head}; ranges overlap)"


# -- full collections ---------------------------------------------------------------------------
def full_collection_pauses(
    heap_sizes: Iterable[int] = (0, 50_000, 200_000), *, rounds: int = 3, collections: int = 3
) -> pd.DataFrame:
    """Pause of a full collection (``gc.collect()``) with extra long-lived objects, plain and
    after ``gc.freeze()`` (lesson 09).

    For each size in ``heap_sizes`` (0 to ``MAX_HEAP_OBJECTS`` small lists), in every round
    (sizes in rotated order): build the objects, collect once untimed, then time
    ``collections`` full collections with :class:`GcWatch`; the same again after
    ``gc.freeze()``, then ``gc.unfreeze()`` (only if nothing was frozen before) and free
    them. Returns a per-call frame (candidates ``"<n> objects"`` and ``"<n> objects,
    frozen"``, ``latency_ns`` = the pause) that ``timing.verdict`` reads; ``attrs["tracked"]``
    gives, per candidate, the objects the collector tracked outside the frozen generation
    when it was measured — what a full collection has to traverse.
    """
    if isinstance(heap_sizes, str | bytes):
        raise TypeError("heap_sizes must be a sequence of integers")
    sizes = [validate.integer("heap_sizes", n, low=0, high=MAX_HEAP_OBJECTS) for n in heap_sizes]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"heap_sizes must be distinct sizes, at least one, got {sizes}")
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    collections = validate.integer("collections", collections, low=1, high=MAX_COLLECTIONS)
    if rounds * collections * 2 * len(sizes) > MAX_COLLECTIONS:
        raise ValueError(
            f"rounds × collections × 2 × sizes = {rounds * collections * 2 * len(sizes):,} "
            f"collections, above MAX_COLLECTIONS={MAX_COLLECTIONS:,}"
        )
    names = [f"{n:,} objects{suffix}" for n in sizes for suffix in ("", ", frozen")]
    rows, tracked = [], {}
    frozen_before = gc.get_freeze_count()
    for r in range(rounds):
        for position, s in enumerate([(r + i) % len(sizes) for i in range(len(sizes))]):
            heap = [[i] for i in range(sizes[s])]
            try:
                for frozen in (False, True):
                    gc.collect()
                    if frozen:
                        gc.freeze()
                    code = 2 * s + frozen
                    tracked.setdefault(names[code], _tracked())
                    with GcWatch(capacity=collections) as watch:
                        for _ in range(collections):
                            gc.collect()
                    pauses = watch.pauses()
                    full = pauses.loc[pauses["generation"] == 2, "duration_ns"].to_numpy()
                    for call, duration in enumerate(full):
                        rows.append((code, r, 2 * position + frozen, call, duration))
                    if frozen and frozen_before == 0:
                        gc.unfreeze()
            finally:
                if frozen_before == 0 and gc.get_freeze_count():
                    gc.unfreeze()
                del heap
    data = np.array(rows, dtype=np.int64).reshape(-1, 5)
    frame = pd.DataFrame(
        {
            "code": data[:, 0],
            "round": data[:, 1],
            "position": data[:, 2],
            "call": data[:, 3],
            "latency_ns": data[:, 4],
            "gen0_gcs": 0,
            "gen1_gcs": 0,
            "gen2_gcs": 1,
        }
    )
    frame.insert(0, "candidate", pd.Categorical.from_codes(frame.pop("code"), names))
    frame.attrs.update(mode="per_call", clock="perf_counter_ns", candidates=tuple(names),
                       rounds=rounds, tracked=tracked)  # fmt: skip
    return frame


def _tracked() -> int:
    """Objects a full collection traverses: every generation's, frozen ones excluded."""
    return sum(len(gc.get_objects(generation=g)) for g in GENERATIONS)
