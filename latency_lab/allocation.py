"""What allocation costs on a hot path: fresh vs preallocated vs pooled, and the garbage
collections it triggers (lessons 03–04).

Every comparison returns per-operation latency distributions (``LatencyTracker``), never
just a mean; wall-clock claims about them are printed as ratios by the benchmarks.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from latency_lab import stats, validate
from latency_lab.structures import ObjectPool, TickBuffer
from latency_lab.tracker import LatencyTracker


class Order:
    """A small order object, as a trading loop creates one per message."""

    __slots__ = ("order_id", "price", "size", "side")

    def __init__(self, order_id=0, price=0.0, size=0, side=0):
        self.order_id, self.price, self.size, self.side = order_id, price, size, side


@contextmanager
def count_gc() -> Iterator[dict[int, int]]:
    """Count garbage collections per generation while the block runs.

    >>> with count_gc() as collections:
    ...     work()
    >>> collections  # {0: gen-0 runs, 1: ..., 2: ...}
    """
    counts = {0: 0, 1: 0, 2: 0}

    def callback(phase, info):
        if phase == "start":
            counts[info["generation"]] += 1

    gc.callbacks.append(callback)
    try:
        yield counts
    finally:
        gc.callbacks.remove(callback)


def per_op(cases: dict[str, Callable[[], object]], calls: int, warmup: int = 1_000) -> pd.DataFrame:
    """Per-operation latency summary (ns) and GC runs for each case, measured in turn."""
    calls = validate.integer("calls", calls, low=1)
    rows = {}
    for name, op in cases.items():
        tracker = LatencyTracker(capacity=calls, warmup=warmup)
        gc.collect()  # every case starts with a clean collector
        with count_gc() as collections:
            tracker.time_calls(op, calls + warmup)
        summary = stats.summary(tracker.samples())
        rows[name] = {k: summary[k] for k in ("p50", "p99", "p99.9", "max")}
        rows[name].update({f"gen{g} GCs": n for g, n in collections.items()})
    return pd.DataFrame(rows).T


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
    buffer_bytes = validate.integer("buffer_bytes", buffer_bytes, low=8)
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
    window = validate.integer("window", window, low=1)
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
    levels = validate.integer("levels", levels, low=1)
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
