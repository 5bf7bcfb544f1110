"""Hot-path data structures: SPSC ring buffer, columnar tick buffer, object pool, and a
bounded try-send channel (lessons 03–05).

All of them allocate once, up front, so that the steady state allocates nothing — the point
of each in a low-latency system. In CPython that point is partly lost (every Python object
is on the heap anyway), and lessons 03–04 measure honestly where each one still pays.

Sizes are bounded: a ring or channel holds at most :data:`MAX_CAPACITY` items, a tick buffer
at most :data:`MAX_TICKS` rows, a pool at most :data:`MAX_POOL_SIZE` objects. A larger
request is refused with a ``ValueError`` naming the parameter, before anything is allocated.
"""

from __future__ import annotations

import itertools
import math
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import ClassVar, Generic, NamedTuple, TypeVar

import numpy as np

from latency_lab import validate

T = TypeVar("T")

#: Most slots of a :class:`RingBuffer` or a :class:`Channel` (2**24: a 128 MiB slot list).
MAX_CAPACITY = 1 << 24
#: Most rows of a :class:`TickBuffer` (10 million: 480 MiB of columns, each row stored twice).
MAX_TICKS = 10_000_000
#: Most objects an :class:`ObjectPool` makes up front (``initial``) or keeps (``max_size``).
MAX_POOL_SIZE = 1 << 20

_INT64_MAX = np.iinfo(np.int64).max
_INF = math.inf


class RingBuffer:
    """A bounded single-producer / single-consumer FIFO with power-of-two capacity (lesson 04).

    ``head`` and ``tail`` count pops and pushes forever; the slot of counter ``i`` is
    ``i & mask`` (``mask = capacity − 1``), which is why the capacity is a power of two:
    a bitwise AND replaces a modulo, and the counters never need resetting. ``push`` returns
    False when full and ``pop`` returns None when empty — neither blocks, neither allocates.

    **One producer thread and one consumer thread, never more.** Each counter has exactly
    one writer. Two threads that both push (or both pop) read the same ``tail`` (or
    ``head``), write the same slot and store the same new counter: one item silently
    overwrites the other and is lost, while both pushes report success. Two producers
    pushing 400,000 items with ``push_many`` lost tens of thousands of them in our runs.
    For several producers use ``queue.Queue`` (a lock), or one ring per producer.

    **Why one producer thread and one consumer thread are safe under CPython's GIL.** The
    producer is the only writer of ``tail`` and of the slot it fills; the consumer is the
    only writer of ``head`` and of the slot it empties. The producer fills the slot
    *before* it advances ``tail``, and the consumer empties a slot *before* it advances
    ``head``. The GIL runs one bytecode at a time and makes each thread's writes visible
    to the other in program order, so the consumer never sees a tail that runs ahead of
    its item, and the producer never reuses a slot the consumer is still reading.

    **What breaks in a free-threaded build (PEP 703, ``python3.13t``).** Without the GIL
    the two threads really run at once, and nothing orders the write of the slot (a list
    store) before the write of the counter (an attribute store) as seen from the other
    core: on weakly ordered CPUs (ARM) the consumer can observe the new ``tail`` and read
    a stale slot, and the producer can observe the new ``head`` and overwrite a slot the
    consumer has not yet cleared. A correct version needs acquire/release ordering on the
    counters — what C++ ``std::atomic`` or the LMAX Disruptor's sequence barriers provide.

    Parameters
    ----------
    capacity : int
        A power of two in [1, :data:`MAX_CAPACITY`].
    """

    __slots__ = ("_slots", "_mask", "_head", "_tail")

    def __init__(self, capacity: int):
        capacity = validate.integer("capacity", capacity, low=1, high=MAX_CAPACITY)
        if capacity & (capacity - 1):
            up = 1 << capacity.bit_length()
            raise ValueError(
                f"capacity must be a power of two, got {capacity} (try {up // 2} or {up})"
            )
        self._slots: list = [None] * capacity
        self._mask = capacity - 1
        self._head = 0  # pops so far: written by the consumer only
        self._tail = 0  # pushes so far: written by the producer only

    @property
    def capacity(self) -> int:
        return self._mask + 1

    @property
    def mask(self) -> int:
        """``capacity − 1``: counter ``i`` lives in slot ``i & mask``."""
        return self._mask

    @property
    def head(self) -> int:
        """Items popped so far (written by the consumer only)."""
        return self._head

    @property
    def tail(self) -> int:
        """Items pushed so far (written by the producer only)."""
        return self._tail

    @property
    def slots(self) -> tuple:
        """A copy of the slot array, for teaching and tests (costs O(capacity))."""
        return tuple(self._slots)

    def __len__(self) -> int:
        return self._tail - self._head

    @property
    def empty(self) -> bool:
        return self._tail == self._head

    @property
    def full(self) -> bool:
        return self._tail - self._head > self._mask

    def push(self, item) -> bool:
        """Append ``item`` (not None); False if the buffer is full."""
        tail = self._tail
        if tail - self._head > self._mask:
            return False
        if item is None:
            raise ValueError("item must not be None: pop() returns None to mean 'empty'")
        self._slots[tail & self._mask] = item
        self._tail = tail + 1  # publish only after the slot is written
        return True

    def pop(self):
        """Remove and return the oldest item, or None if the buffer is empty."""
        head = self._head
        if head == self._tail:
            return None
        index = head & self._mask
        item = self._slots[index]
        self._slots[index] = None  # drop the reference so the item can be freed
        self._head = head + 1  # hand the slot back only after it is emptied
        return item

    def peek(self):
        """The oldest item without removing it, or None if the buffer is empty."""
        head = self._head
        return None if head == self._tail else self._slots[head & self._mask]

    def push_many(self, items: Iterable) -> int:
        """Append as many of ``items`` as fit, in order; returns how many were pushed.

        Only the items that fit are taken: from an iterator (even an endless one) exactly
        that many are consumed, and the rest are left in it. Nothing is pushed if one of
        the items that fit is None.
        """
        tail = self._tail
        room = self.capacity - (tail - self._head)
        if isinstance(items, list | tuple):
            batch = items[:room]
        else:
            try:
                iterator = iter(items)
            except TypeError:
                raise TypeError(f"items must be iterable, got {type(items).__name__}") from None
            batch = list(itertools.islice(iterator, max(room, 0)))
        count = len(batch)
        if count == 0:
            return 0
        if any(item is None for item in batch):
            raise ValueError("items must not contain None: pop() returns None to mean 'empty'")
        start = tail & self._mask
        first = min(count, self.capacity - start)  # up to the end of the array, then wrap
        self._slots[start : start + first] = batch[:first]
        self._slots[: count - first] = batch[first:count]
        self._tail = tail + count
        return count

    def pop_many(self, max_items: int | None = None) -> list:
        """Remove and return up to ``max_items`` oldest items (all of them if None)."""
        head = self._head
        count = self._tail - head
        if max_items is not None:
            count = min(count, validate.integer("max_items", max_items, low=0))
        if count == 0:
            return []
        start = head & self._mask
        first = min(count, self.capacity - start)
        out = self._slots[start : start + first] + self._slots[: count - first]
        self._slots[start : start + first] = [None] * first
        self._slots[: count - first] = [None] * (count - first)
        self._head = head + count
        return out

    def __repr__(self) -> str:
        return f"RingBuffer(capacity={self.capacity}, len={len(self)})"


# -- Channel: bounded, non-blocking handoff ------------------------------------------------
class Channel:
    """A bounded channel whose ``try_send`` never blocks: when full it refuses the item and
    counts a drop (lesson 04 measures the kinds; lessons 05 and 09 build on it).

    Make one with :func:`make_channel`; the kinds (:data:`CHANNEL_KINDS`) differ only in
    the structure underneath — ``collections.deque``, ``queue.Queue`` or :class:`RingBuffer`
    — and all are bounded to ``capacity`` items.

    - ``try_send(item) -> bool``: True if accepted; False if full (``dropped`` grows by
      one). Never blocks, never waits. ``item`` must not be None.
    - ``try_recv() -> item or None``: the oldest item, or None if the channel is empty.
      Never blocks.
    - ``sent``, ``dropped``, ``received``: counters of accepted sends, refused sends and
      received items. ``sent`` is also the sequence number (from 0) that the next accepted
      item gets; ``len(channel)`` is ``sent − received``.

    **One producer thread and one consumer thread.** ``sent`` and ``dropped`` are written
    by the sending thread only, ``received`` by the receiving thread only. Under CPython's
    GIL that makes one sender plus one receiver safe for every kind; with several senders
    the counters (and, for the RingBuffer kind, the items themselves) can be lost.
    """

    __slots__ = ("_capacity", "_sent", "_dropped", "_received")
    kind: ClassVar[str] = ""

    def __init__(self, capacity: int):
        if type(self) is Channel:
            raise TypeError("Channel is abstract: use make_channel(kind, capacity)")
        self._capacity = validate.integer("capacity", capacity, low=1, high=MAX_CAPACITY)
        self._sent = self._dropped = self._received = 0

    @property
    def capacity(self) -> int:
        """Most items the channel holds at once."""
        return self._capacity

    @property
    def sent(self) -> int:
        """Items accepted by ``try_send`` so far."""
        return self._sent

    @property
    def dropped(self) -> int:
        """Items refused by ``try_send`` because the channel was full."""
        return self._dropped

    @property
    def received(self) -> int:
        """Items returned by ``try_recv`` so far."""
        return self._received

    def __len__(self) -> int:
        return self._sent - self._received

    def try_send(self, item) -> bool:  # pragma: no cover - every kind overrides it
        """Add ``item`` (not None) if there is room: True if accepted, False if dropped."""
        raise NotImplementedError

    def try_recv(self):  # pragma: no cover - every kind overrides it
        """Remove and return the oldest item, or None if the channel is empty."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"Channel(kind={self.kind!r}, capacity={self._capacity}, len={len(self)}, "
            f"sent={self._sent}, dropped={self._dropped}, received={self._received})"
        )


_NONE_ITEM = "item must not be None: try_recv() returns None to mean 'empty'"


class _DequeChannel(Channel):
    """``collections.deque`` with an explicit bound (``maxlen`` would drop the oldest)."""

    __slots__ = ("_items",)
    kind = "deque"

    def __init__(self, capacity: int):
        super().__init__(capacity)
        self._items: deque = deque()

    def try_send(self, item) -> bool:
        if item is None:
            raise ValueError(_NONE_ITEM)
        if len(self._items) >= self._capacity:
            self._dropped += 1
            return False
        self._items.append(item)
        self._sent += 1
        return True

    def try_recv(self):
        if not self._items:
            return None
        self._received += 1
        return self._items.popleft()


class _QueueChannel(Channel):
    """``queue.Queue(maxsize=capacity)`` with ``put_nowait`` and ``get_nowait``."""

    __slots__ = ("_queue",)
    kind = "queue.Queue"

    def __init__(self, capacity: int):
        super().__init__(capacity)
        self._queue: queue.Queue = queue.Queue(maxsize=self._capacity)

    def try_send(self, item) -> bool:
        if item is None:
            raise ValueError(_NONE_ITEM)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._dropped += 1
            return False
        self._sent += 1
        return True

    def try_recv(self):
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        self._received += 1
        return item


class _RingChannel(Channel):
    """A :class:`RingBuffer` (``capacity`` must be a power of two)."""

    __slots__ = ("_ring",)
    kind = "RingBuffer"

    def __init__(self, capacity: int):
        super().__init__(capacity)
        self._ring = RingBuffer(self._capacity)

    def try_send(self, item) -> bool:
        if item is None:
            raise ValueError(_NONE_ITEM)
        if self._ring.push(item):
            self._sent += 1
            return True
        self._dropped += 1
        return False

    def try_recv(self):
        item = self._ring.pop()
        if item is not None:
            self._received += 1
        return item


_CHANNELS: dict[str, type[Channel]] = {
    cls.kind: cls for cls in (_DequeChannel, _QueueChannel, _RingChannel)
}
#: The structures a :class:`Channel` can be built on.
CHANNEL_KINDS: tuple[str, ...] = tuple(_CHANNELS)


def make_channel(kind: str = "RingBuffer", capacity: int = 1024) -> Channel:
    """A new, empty bounded :class:`Channel` of ``kind`` holding at most ``capacity`` items
    (lesson 04).

    Parameters
    ----------
    kind : {"deque", "queue.Queue", "RingBuffer"}
        The structure underneath (see :data:`CHANNEL_KINDS`).
    capacity : int
        In [1, :data:`MAX_CAPACITY`]; a power of two for ``"RingBuffer"``.
    """
    return _CHANNELS[validate.one_of("kind", kind, CHANNEL_KINDS)](capacity)


# -- TickBuffer ------------------------------------------------------------------------------
class TickView(NamedTuple):
    """The latest rows of a :class:`TickBuffer`, oldest first (read-only views)."""

    timestamps: np.ndarray
    prices: np.ndarray
    sizes: np.ndarray


class TickBuffer:
    """A preallocated columnar buffer of ticks (timestamp ns, price, size) that keeps the
    latest ``capacity`` rows, overwriting the oldest (lesson 03).

    Columns are separate numpy arrays (struct-of-arrays), so an aggregate over prices and
    sizes reads only those two columns. Every row is written twice, at ``i`` and at
    ``i + capacity`` of arrays twice the capacity long: the latest ``n`` rows are then
    always one contiguous slice, so :meth:`latest` returns views, never copies, even when
    the rows wrap around the end.

    Rows are checked before anything is written: a timestamp is an integer in
    [0, 2**63 − 1] (nanoseconds), a price a finite number (it may be negative), a size a
    finite number >= 0. A refused row or batch leaves the buffer unchanged.

    Parameters
    ----------
    capacity : int
        Rows kept, in [1, :data:`MAX_TICKS`].
    """

    def __init__(self, capacity: int):
        self._capacity = validate.integer("capacity", capacity, low=1, high=MAX_TICKS)
        self._timestamps = np.zeros(2 * self._capacity, dtype=np.int64)
        self._prices = np.zeros(2 * self._capacity, dtype=np.float64)
        self._sizes = np.zeros(2 * self._capacity, dtype=np.float64)
        self._count = 0  # rows ever appended

    @property
    def capacity(self) -> int:
        """Most rows kept."""
        return self._capacity

    def __len__(self) -> int:
        return min(self._count, self._capacity)

    def append(self, timestamp_ns: int, price: float, size: float) -> None:
        """Add one tick, overwriting the oldest if full."""
        if not (
            (type(timestamp_ns) is int or type(timestamp_ns) is np.int64)
            and 0 <= timestamp_ns <= _INT64_MAX
            and isinstance(price, float)
            and -_INF < price < _INF
            and isinstance(size, float)
            and 0.0 <= size < _INF
        ):  # the fast path above covers ints and floats (Python's or numpy's 64-bit ones)
            timestamp_ns = validate.integer("timestamp_ns", timestamp_ns, low=0, high=_INT64_MAX)
            price = _real("price", price)
            size = _real("size", size, low=0)
        i = self._count % self._capacity
        j = i + self._capacity
        self._timestamps[i] = self._timestamps[j] = timestamp_ns
        self._prices[i] = self._prices[j] = price
        self._sizes[i] = self._sizes[j] = size
        self._count += 1

    def extend(self, timestamps_ns, prices, sizes) -> None:
        """Add many ticks at once (vectorized); only the last ``capacity`` can survive.

        ``timestamps_ns`` must be integers in [0, 2**63 − 1]; ``prices`` finite;
        ``sizes`` finite and >= 0; all three one-dimensional and of the same length.
        """
        timestamps = _column("timestamps_ns", timestamps_ns, integer=True)
        columns = (timestamps, _column("prices", prices), _column("sizes", sizes))
        k = timestamps.size
        if any(c.size != k for c in columns):
            raise ValueError("timestamps_ns, prices and sizes must have the same length")
        if k and (timestamps.min() < 0 or timestamps.max() > _INT64_MAX):
            raise ValueError("timestamps_ns must be in [0, 2**63 - 1] nanoseconds")
        if k and columns[2].min() < 0:
            raise ValueError(f"sizes must be >= 0, got {columns[2].min()}")
        keep = min(k, self._capacity)
        slots = (self._count + k - keep + np.arange(keep)) % self._capacity
        for column, values in zip(
            (self._timestamps, self._prices, self._sizes), columns, strict=True
        ):
            column[slots] = values[k - keep :]
            column[slots + self._capacity] = values[k - keep :]
        self._count += k

    def latest(self, n: int | None = None) -> TickView:
        """Views of the latest ``n`` rows (all held rows if None), oldest first."""
        held = len(self)
        n = held if n is None else validate.integer("n", n, low=0, high=held)
        end = self._count % self._capacity + self._capacity
        if self._count < self._capacity:
            end = self._count  # not yet wrapped: the first copy holds everything
        views = [column[end - n : end] for column in (self._timestamps, self._prices, self._sizes)]
        for view in views:
            view.flags.writeable = False
        return TickView(*views)

    def vwap(self, n: int | None = None) -> float:
        """Volume-weighted average price of the latest ``n`` rows (NaN if no volume)."""
        view = self.latest(n)
        volume = view.sizes.sum()
        return float(np.dot(view.prices, view.sizes) / volume) if volume else float("nan")

    def __repr__(self) -> str:
        return f"TickBuffer(capacity={self._capacity}, len={len(self)})"


def _real(name: str, value, **limits) -> float:
    """``validate.real``, with an int too large for a float refused as a ValueError too."""
    try:
        return validate.real(name, value, **limits)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got an integer too large for a float") from None


def _column(name: str, values, *, integer: bool = False) -> np.ndarray:
    """One column for :meth:`TickBuffer.extend`: 1-D, numeric, finite (integers if asked)."""
    arr = validate.samples(name, values, allow_empty=True)
    if integer and arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers (nanoseconds), got dtype {arr.dtype}")
    return arr


# -- ObjectPool ------------------------------------------------------------------------------
class ObjectPool(Generic[T]):
    """Reuse objects instead of allocating them: ``acquire``, ``release``, ``borrow()``
    (lesson 04).

    Parameters
    ----------
    factory : callable
        Makes a new object when the pool has none free (a *miss*). It must return a new
        object on every call: a factory that returns an object already on loan or free
        (``tuple`` returns the one shared empty tuple, a lambda may return one global)
        raises ``TypeError`` instead of handing one object out twice.
    initial : int in [0, :data:`MAX_POOL_SIZE`]
        Objects made up front.
    reset : callable or None
        Called on every released object before it is reused (clear it, zero it). If it
        raises, the object is dropped (counted in ``discarded`` and ``reset_errors``, never
        reused) and the exception propagates to the caller of ``release``.
    max_size : int in [max(initial, 1), :data:`MAX_POOL_SIZE`], or None
        Most free objects kept; extra releases are dropped (counted in ``discarded``).

    Every object the factory made is accounted for: ``free + in_use + discarded ==
    initial + misses``. Releasing an object twice, or one this pool did not hand out,
    raises ``ValueError``. The pool holds a reference to every object out on loan, so one
    that is never released shows up in ``in_use`` instead of silently vanishing.
    """

    def __init__(self, factory: Callable[[], T], initial: int = 0, *,
                 reset: Callable[[T], object] | None = None, max_size: int | None = None):  # fmt: skip
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
        if reset is not None and not callable(reset):
            raise TypeError(f"reset must be callable or None, got {type(reset).__name__}")
        initial = validate.integer("initial", initial, low=0, high=MAX_POOL_SIZE)
        if max_size is not None:
            max_size = validate.integer(
                "max_size", max_size, low=max(initial, 1), high=MAX_POOL_SIZE
            )
        self.factory, self.reset, self.max_size = factory, reset, max_size
        self._out: dict[int, T] = {}
        self._free: list[T] = []
        made: set[int] = set()
        for _ in range(initial):
            obj = factory()
            if id(obj) in made:
                raise TypeError(_SHARED_OBJECT.format(obj=_short_repr(obj)))
            made.add(id(obj))
            self._free.append(obj)
        self.hits = self.misses = self.discarded = self.reset_errors = self.high_water = 0

    @property
    def in_use(self) -> int:
        """Objects acquired and not yet released."""
        return len(self._out)

    @property
    def free(self) -> int:
        """Objects ready to be handed out without allocating."""
        return len(self._free)

    def acquire(self) -> T:
        """An object from the pool (a hit) or a new one from the factory (a miss)."""
        if self._free:
            obj = self._free.pop()
            self.hits += 1
        else:
            obj = self.factory()
            # The free list is empty here, so the only objects the new one could repeat
            # are those on loan.
            if id(obj) in self._out:
                raise TypeError(_SHARED_OBJECT.format(obj=_short_repr(obj)))
            self.misses += 1
        self._out[id(obj)] = obj
        if len(self._out) > self.high_water:
            self.high_water = len(self._out)
        return obj

    def release(self, obj: T) -> None:
        """Give ``obj`` back; it is reset and kept for reuse (or dropped if the pool is full).

        If ``reset`` raises, ``obj`` is dropped and counted (``discarded``,
        ``reset_errors``), and the exception propagates.
        """
        if self._out.pop(id(obj), _MISSING) is _MISSING:
            raise ValueError("release of an object this pool did not hand out, or released twice")
        if self.reset is not None:
            try:
                self.reset(obj)
            except BaseException:
                self.discarded += 1
                self.reset_errors += 1
                raise
        if self.max_size is not None and len(self._free) >= self.max_size:
            self.discarded += 1
        else:
            self._free.append(obj)

    @contextmanager
    def borrow(self) -> Iterator[T]:
        """``with pool.borrow() as obj:`` acquires, and releases even if the block raises."""
        obj = self.acquire()
        try:
            yield obj
        finally:
            self.release(obj)

    def stats(self) -> dict[str, int]:
        """Hits, misses, discarded releases (and how many of them because ``reset`` raised),
        high-water mark, and objects in use and free."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "discarded": self.discarded,
            "reset_errors": self.reset_errors,
            "high_water": self.high_water,
            "in_use": self.in_use,
            "free": self.free,
        }

    def __repr__(self) -> str:
        return f"ObjectPool(in_use={self.in_use}, free={self.free}, hits={self.hits}, misses={self.misses})"


_MISSING = object()
_SHARED_OBJECT = (
    "factory returned {obj}, an object this pool already holds: the factory must return a "
    "new object on every call (tuple() and other immutable empties are shared singletons; "
    "pool a mutable type, or use lambda: [..] / a class)"
)


def _short_repr(obj) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."
