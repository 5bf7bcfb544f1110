"""Handing items from one thread to another: deque, queue.Queue and RingBuffer (lesson 04).

Two measurements, both as latency distributions:

- :func:`single_thread_ops`: what one ``put`` and one ``get`` cost, with no contention;
- :func:`cross_thread`: the time from ``put`` in a producer thread to ``get`` in a
  consumer thread, per item, and the throughput of the pair.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import pandas as pd

from latency_lab import stats, validate
from latency_lab.structures import RingBuffer
from latency_lab.tracker import LatencyTracker

KINDS = ("deque", "queue.Queue", "RingBuffer")


def _endpoints(kind: str, capacity: int) -> tuple[Callable[[object], bool], Callable[[], object]]:
    """Non-blocking ``put(item) -> accepted`` and ``get() -> item or None`` for a kind."""
    if kind == "deque":
        d = deque()

        def put(item):
            d.append(item)  # unbounded: a bounded deque would silently drop the oldest
            return True

        def get():
            return d.popleft() if d else None

        return put, get
    if kind == "queue.Queue":
        q = queue.Queue(maxsize=capacity)

        def put(item):
            try:
                q.put_nowait(item)
                return True
            except queue.Full:
                return False

        def get():
            try:
                return q.get_nowait()
            except queue.Empty:
                return None

        return put, get
    if kind == "RingBuffer":
        ring = RingBuffer(capacity)
        return ring.push, ring.pop
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def single_thread_ops(ops: int = 100_000, capacity: int = 1024) -> dict[str, dict[str, np.ndarray]]:
    """Per-call latency (ns) of ``put`` and of ``get`` for each kind, one thread, no waiting.

    Each put is followed by a get, so the structure never fills up.
    """
    ops = validate.integer("ops", ops, low=1)
    out = {}
    for kind in KINDS:
        put, get = _endpoints(kind, capacity)
        puts, gets = LatencyTracker(ops, warmup=1_000), LatencyTracker(ops, warmup=1_000)
        clock = time.perf_counter_ns
        for i in range(ops + 1_000):
            t0 = clock()
            put(i)
            t1 = clock()
            get()
            t2 = clock()
            puts.record(t1 - t0)
            gets.record(t2 - t1)
        out[kind] = {"put": np.array(puts.samples()), "get": np.array(gets.samples())}
    return out


def cross_thread(
    kind: str,
    items: int = 100_000,
    capacity: int = 1024,
    yield_when_idle: bool = True,
    rate: float | None = None,
):
    """Move ``items`` timestamps from a producer thread to a consumer thread.

    The consumer records ``now − stamp`` for every item. Without ``rate`` the producer
    sends as fast as it can (a throughput test; the stamp is the time of the put). With
    ``rate`` (items/s) it sends on a fixed schedule and stamps each item with its
    *scheduled* time — an open-loop measurement (lesson 02), so waiting caused by a slow
    consumer is counted. With ``yield_when_idle`` a thread that finds nothing to do calls
    ``time.sleep(0)`` to hand over the GIL instead of spinning through its time slice.

    Returns ``(latencies_ns, items_per_second)``.
    """
    items = validate.integer("items", items, low=1)
    interval_ns = None if rate is None else 1e9 / validate.real("rate", rate, low=0, low_open=True)
    latencies = np.empty(items, dtype=np.int64)
    clock = time.perf_counter_ns
    put, get = _endpoints(kind, capacity)
    idle = time.sleep if yield_when_idle else (lambda _: None)

    def produce():
        start = clock()
        for i in range(items):
            stamp = clock()
            if interval_ns is not None:
                stamp = start + int(i * interval_ns)
                while clock() < stamp:
                    idle(0)
            while not put(stamp):
                idle(0)

    def consume():
        received = 0
        while received < items:
            stamp = get()
            if stamp is None:
                idle(0)
            else:
                latencies[received] = clock() - stamp
                received += 1

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, items / (time.perf_counter() - began)


def cross_thread_table(
    items: int = 100_000, capacity: int = 1024, rate: float | None = None
) -> pd.DataFrame:
    """Per-item latency percentiles (µs) and throughput of every kind, polling with and
    without yielding (see :func:`cross_thread`)."""
    rows = {}
    for kind in KINDS:
        for yielding in (True, False):
            latencies, achieved = cross_thread(kind, items, capacity, yielding, rate)
            label = f"{kind}, {'yield' if yielding else 'spin'} when idle"
            summary = stats.summary(latencies / 1e3)
            rows[label] = {k: summary[k] for k in ("p50", "p99", "p99.9", "max")}
            rows[label]["items/s"] = achieved
    return pd.DataFrame(rows).T
