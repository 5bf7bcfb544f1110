"""Hot-path data structures: SPSC ring buffer, columnar tick buffer, object pool (lessons 03–04).

All three allocate once, up front, so that the steady state allocates nothing — the point
of each in a low-latency system. In CPython that point is partly lost (every Python object
is on the heap anyway), and lessons 03–04 measure honestly where each one still pays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, NamedTuple, TypeVar

import numpy as np

from latency_lab import validate

T = TypeVar("T")


class RingBuffer:
    """A bounded single-producer / single-consumer FIFO with power-of-two capacity.

    ``head`` and ``tail`` count pops and pushes forever; the slot of counter ``i`` is
    ``i & mask`` (``mask = capacity − 1``), which is why the capacity is a power of two:
    a bitwise AND replaces a modulo, and the counters never need resetting. ``push`` returns
    False when full and ``pop`` returns None when empty — neither blocks, neither allocates.

    **Why one producer thread and one consumer thread are safe under CPython's GIL.** The
    producer is the only writer of ``_tail`` and of the slot it fills; the consumer is the
    only writer of ``_head`` and of the slot it empties. The producer fills the slot
    *before* it advances ``_tail``, and the consumer empties a slot *before* it advances
    ``_head``. The GIL runs one bytecode at a time and makes each thread's writes visible
    to the other in program order, so the consumer never sees a tail that runs ahead of
    its item, and the producer never reuses a slot the consumer is still reading.

    **What breaks in a free-threaded build (PEP 703, ``python3.13t``).** Without the GIL
    the two threads really run at once, and nothing orders the write of the slot (a list
    store) before the write of the counter (an attribute store) as seen from the other
    core: on weakly ordered CPUs (ARM) the consumer can observe the new ``_tail`` and read
    a stale slot, and the producer can observe the new ``_head`` and overwrite a slot the
    consumer has not yet cleared. A correct version needs acquire/release ordering on the
    counters — what C++ ``std::atomic`` or the LMAX Disruptor's sequence barriers provide.
    """

    __slots__ = ("_slots", "_mask", "_head", "_tail")

    def __init__(self, capacity: int):
        capacity = validate.integer("capacity", capacity, low=1)
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
        """Append as many of ``items`` as fit, in order; returns how many were pushed."""
        items = items if isinstance(items, list | tuple) else list(items)
        tail = self._tail
        count = min(len(items), self.capacity - (tail - self._head))
        if count <= 0:
            return 0
        if any(item is None for item in items[:count]):
            raise ValueError("items must not contain None: pop() returns None to mean 'empty'")
        start = tail & self._mask
        first = min(count, self.capacity - start)  # up to the end of the array, then wrap
        self._slots[start : start + first] = items[:first]
        self._slots[: count - first] = items[first:count]
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


class TickView(NamedTuple):
    """The latest rows of a :class:`TickBuffer`, oldest first (read-only views)."""

    timestamps: np.ndarray
    prices: np.ndarray
    sizes: np.ndarray


class TickBuffer:
    """A preallocated columnar buffer of ticks (timestamp ns, price, size) that keeps the
    latest ``capacity`` rows, overwriting the oldest.

    Columns are separate numpy arrays (struct-of-arrays), so an aggregate over prices and
    sizes reads only those two columns. Every row is written twice, at ``i`` and at
    ``i + capacity`` of arrays twice the capacity long: the latest ``n`` rows are then
    always one contiguous slice, so :meth:`latest` returns views, never copies, even when
    the rows wrap around the end.
    """

    def __init__(self, capacity: int):
        self.capacity = validate.integer("capacity", capacity, low=1)
        self._timestamps = np.zeros(2 * self.capacity, dtype=np.int64)
        self._prices = np.zeros(2 * self.capacity, dtype=np.float64)
        self._sizes = np.zeros(2 * self.capacity, dtype=np.float64)
        self._count = 0  # rows ever appended

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    def append(self, timestamp_ns: int, price: float, size: float) -> None:
        """Add one tick, overwriting the oldest if full."""
        i = self._count % self.capacity
        for column, value in (
            (self._timestamps, timestamp_ns),
            (self._prices, price),
            (self._sizes, size),
        ):
            column[i] = column[i + self.capacity] = value
        self._count += 1

    def extend(self, timestamps_ns, prices, sizes) -> None:
        """Add many ticks at once (vectorized); only the last ``capacity`` can survive."""
        columns = [np.asarray(c).reshape(-1) for c in (timestamps_ns, prices, sizes)]
        k = columns[0].size
        if any(c.size != k for c in columns):
            raise ValueError("timestamps_ns, prices and sizes must have the same length")
        keep = min(k, self.capacity)
        slots = (self._count + k - keep + np.arange(keep)) % self.capacity
        for column, values in zip(
            (self._timestamps, self._prices, self._sizes), columns, strict=True
        ):
            column[slots] = values[k - keep :]
            column[slots + self.capacity] = values[k - keep :]
        self._count += k

    def latest(self, n: int | None = None) -> TickView:
        """Views of the latest ``n`` rows (all held rows if None), oldest first."""
        held = len(self)
        n = held if n is None else validate.integer("n", n, low=0, high=held)
        end = self._count % self.capacity + self.capacity
        if self._count < self.capacity:
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
        return f"TickBuffer(capacity={self.capacity}, len={len(self)})"


class ObjectPool(Generic[T]):
    """Reuse objects instead of allocating them: ``acquire``, ``release``, ``borrow()``.

    Parameters
    ----------
    factory : callable
        Makes a new object when the pool has none free (a *miss*).
    initial : int, >= 0
        Objects made up front.
    reset : callable or None
        Called on every released object before it is reused (clear it, zero it).
    max_size : int or None
        Most free objects kept; extra releases are dropped (counted in ``discarded``).

    Releasing an object twice, or one this pool did not hand out, raises ``ValueError``.
    The pool holds a reference to every object out on loan, so one that is never released
    shows up in ``in_use`` instead of silently vanishing.
    """

    def __init__(self, factory: Callable[[], T], initial: int = 0, *,
                 reset: Callable[[T], object] | None = None, max_size: int | None = None):  # fmt: skip
        if not callable(factory):
            raise TypeError("factory must be callable")
        if reset is not None and not callable(reset):
            raise TypeError("reset must be callable or None")
        initial = validate.integer("initial", initial, low=0)
        if max_size is not None:
            max_size = validate.integer("max_size", max_size, low=max(initial, 1))
        self.factory, self.reset, self.max_size = factory, reset, max_size
        self._free: list[T] = [factory() for _ in range(initial)]
        self._out: dict[int, T] = {}
        self.hits = self.misses = self.discarded = self.high_water = 0

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
            self.misses += 1
        self._out[id(obj)] = obj
        if len(self._out) > self.high_water:
            self.high_water = len(self._out)
        return obj

    def release(self, obj: T) -> None:
        """Give ``obj`` back; it is reset and kept for reuse (or dropped if the pool is full)."""
        if self._out.pop(id(obj), None) is None:
            raise ValueError("release of an object this pool did not hand out, or released twice")
        if self.reset is not None:
            self.reset(obj)
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
        """Hits, misses, discarded releases, high-water mark, and objects in use and free."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "discarded": self.discarded,
            "high_water": self.high_water,
            "in_use": self.in_use,
            "free": self.free,
        }

    def __repr__(self) -> str:
        return f"ObjectPool(in_use={self.in_use}, free={self.free}, hits={self.hits}, misses={self.misses})"
