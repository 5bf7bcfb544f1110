"""What allocation costs on a hot path: fresh vs preallocated vs pooled, and the garbage
collections it triggers (lessons 03–04).

Every comparison returns per-operation latency distributions in ns, never just a mean,
measured by :func:`latency_lab.timing.compare` in interleaved rounds with collections
counted by :class:`latency_lab.gcwatch.GcWatch`; wall-clock claims about them are printed
as ratios by the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from latency_lab import timing, validate
from latency_lab.structures import ObjectPool, TickBuffer

#: Largest buffer :func:`buffer_cases` allocates per message, and the longest window or
#: book depth the other case builders accept.
MAX_BUFFER_BYTES = 1 << 30
MAX_WINDOW = 10_000_000


class Order:
    """A small order object, as a trading loop creates one per message."""

    __slots__ = ("order_id", "price", "size", "side")

    def __init__(self, order_id=0, price=0.0, size=0, side=0):
        self.order_id, self.price, self.size, self.side = order_id, price, size, side


def per_op_frame(
    cases: dict[str, Callable[[], object]], calls: int, warmup: int = 1_000, rounds: int = 5
) -> pd.DataFrame:
    """Every per-operation sample behind :func:`per_op`, for :func:`latency_lab.timing.verdict`.

    ``calls`` samples per case (at least), split over ``rounds`` interleaved rounds of
    :func:`latency_lab.timing.compare` in per-call mode; each timed block starts after a
    full collection, so the collections counted in a block are the case's own doing.
    ``warmup`` untimed calls per case come first. Returns the comparison's frame: one row
    per call with ``candidate``, ``round``, ``latency_ns`` and the ``gen*_gcs`` columns;
    ``attrs["empty_call_ns"]`` is the median sample of an empty call (the clock's share).
    """
    calls = validate.integer("calls", calls, low=1, high=timing.MAX_SAMPLES)
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    rounds = min(rounds, calls)
    return timing.compare(
        cases,
        rounds=rounds,
        mode="per_call",
        calls=-(-calls // rounds),
        warmup=warmup,
        collect_before=2,
    )


def per_op(
    cases: dict[str, Callable[[], object]], calls: int, warmup: int = 1_000, rounds: int = 5
) -> pd.DataFrame:
    """Per-operation latency summary (ns) and garbage collections for each case.

    Measured by :func:`per_op_frame` (``calls`` samples per case over ``rounds``
    interleaved rounds, after ``warmup`` untimed calls): one row per case with ``p50_ns``,
    ``p99_ns``, ``p99.9_ns``, ``max_ns`` (nearest rank) and ``gen0_gcs``, ``gen1_gcs``,
    ``gen2_gcs``.
    ``attrs["empty_call_ns"]`` is the median sample of an empty call: the part of every
    sample that is the clock and the loop, not the operation.
    """
    frame = per_op_frame(cases, calls, warmup, rounds)
    table = timing.summarize(frame).drop(columns="count")
    table.index.name = None
    table.attrs["empty_call_ns"] = frame.attrs["empty_call_ns"]
    return table


def object_cases() -> dict[str, Callable[[], object]]:
    """A small order object per message, made fresh vs taken from a pool (lesson 04).

    Each case is a full lifecycle — get the object, fill it, let it go — so the fresh case
    pays for freeing too.
    """
    orders = ObjectPool(Order, initial=16)

    def fresh():
        Order(1, 101.25, 100, 1)

    def pooled():
        order = orders.acquire()
        order.order_id, order.price, order.size, order.side = 1, 101.25, 100, 1
        orders.release(order)

    return {"small object, fresh": fresh, "small object, pooled": pooled}


def buffer_cases(buffer_bytes: int) -> dict[str, Callable[[], object]]:
    """A numpy buffer per message, allocated fresh vs pooled, and written once (lesson 04).

    The write matters: fresh memory from the operating system is mapped lazily, so its cost
    shows up when the pages are first touched.
    """
    buffer_bytes = validate.integer("buffer_bytes", buffer_bytes, low=8, high=MAX_BUFFER_BYTES)
    n, label = buffer_bytes // 8, _size_label(buffer_bytes)
    buffers = ObjectPool(lambda: np.empty(n), initial=2)

    def fresh():
        np.empty(n).fill(1.0)

    def pooled():
        buffer = buffers.acquire()
        buffer.fill(1.0)
        buffers.release(buffer)

    return {f"{label} buffer, fresh": fresh, f"{label} buffer, pooled": pooled}


def cycle_cases() -> dict[str, Callable[[], object]]:
    """An order and its fill that refer to each other, fresh vs pooled (lesson 04).

    Reference counting cannot free a cycle; only the garbage collector can, so fresh cycles
    make the collector run — and its pauses land on whatever message is being handled.
    """
    orders = ObjectPool(dict, initial=2, reset=dict.clear)
    fills = ObjectPool(dict, initial=2, reset=dict.clear)

    def fresh():
        order = {"px": 101.25, "qty": 100}
        order["fill"] = {"order": order}

    def pooled():
        order, fill = orders.acquire(), fills.acquire()
        order["px"], order["qty"], fill["order"], order["fill"] = 101.25, 100, order, fill
        fills.release(fill)  # reset (clear) breaks the cycle before reuse
        orders.release(order)

    return {"order-fill cycle, fresh": fresh, "order-fill cycle, pooled": pooled}


def rolling_vwap_cases(window: int = 1_000) -> dict[str, Callable[[], object]]:
    """Append a tick and compute the VWAP of the last ``window`` ticks (lesson 03): from a
    Python list converted to arrays each time, vs from a preallocated ``TickBuffer``."""
    window = validate.integer("window", window, low=1, high=MAX_WINDOW)
    rng = np.random.default_rng(0)
    prices, sizes = 100 + rng.random(window), rng.integers(1, 100, window).astype(float)
    history = list(zip(range(window), prices.tolist(), sizes.tolist(), strict=True))
    buffer = TickBuffer(window)
    buffer.extend(np.arange(window), prices, sizes)
    tick = (window, 100.5, 10.0)

    def from_list():
        history.append(tick)
        recent = np.array(history[-window:])  # a new array from a slice of tuples, every tick
        return np.dot(recent[:, 1], recent[:, 2]) / recent[:, 2].sum()

    def from_tick_buffer():
        buffer.append(*tick)
        return buffer.vwap()

    return {"list -> new arrays": from_list, "TickBuffer (preallocated)": from_tick_buffer}


def _size_label(n_bytes: int) -> str:
    for unit, scale in (("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:g} {unit}"
    return f"{n_bytes} B"


def preallocation_cases(levels: int = 64) -> dict[str, Callable[[], object]]:
    """Mid prices of a ``levels``-deep book, with new arrays each time vs written into a
    buffer allocated once with numpy's ``out=`` (lesson 03)."""
    levels = validate.integer("levels", levels, low=1, high=MAX_WINDOW)
    rng = np.random.default_rng(0)
    bids = 100 - np.sort(rng.random(levels))
    asks = 100 + np.sort(rng.random(levels))
    mids = np.empty(levels)

    def allocating():
        return (bids + asks) / 2  # two temporary arrays per call

    def preallocated():
        np.add(bids, asks, out=mids)
        np.multiply(mids, 0.5, out=mids)
        return mids

    return {"new arrays": allocating, "preallocated (out=)": preallocated}
