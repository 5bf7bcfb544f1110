"""Handing items from one thread to another: deque, queue.Queue and RingBuffer (lesson 04).

Two measurements, both as latency distributions in integer nanoseconds:

- :func:`single_thread_ops`: what one non-blocking ``put`` and one ``get`` of each
  structure cost, in one thread, with no contention (:func:`percentile_table` summarises);
- :func:`cross_thread` / :func:`cross_thread_table`: the time from ``try_send`` in a
  producer thread to ``try_recv`` in a consumer thread, per item, through a bounded
  :class:`~latency_lab.structures.Channel`, and the throughput of the pair.

The threaded runs never hang and never swallow an error: an exception in either thread
stops the other and is re-raised in the caller, and a run that outlives ``timeout_s`` is
stopped and reported with ``TimeoutError``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Mapping

import numpy as np
import pandas as pd

from latency_lab import stats, validate
from latency_lab.structures import CHANNEL_KINDS, Channel, RingBuffer, make_channel
from latency_lab.units import NS_PER_S

#: The structures compared, as :func:`latency_lab.structures.make_channel` names them.
KINDS = CHANNEL_KINDS
#: Most operations or items one measurement takes (each keeps an int64 per sample).
MAX_ITEMS = 10_000_000
#: Longest a threaded run may take before it is stopped, in seconds.
MAX_TIMEOUT_S = 3600.0
#: Nearest-rank percentiles of every table here, by column name; ``max_ns`` follows them.
TABLE_PERCENTILES = {"p50_ns": 50, "p99_ns": 99, "p99.9_ns": 99.9}

_WARMUP = 1_000
_GRACE_S = 2.0  # how long stopped threads get to notice the stop flag


def single_thread_ops(ops: int = 100_000, capacity: int = 1024) -> dict[str, dict[str, np.ndarray]]:
    """Per-call latency (int64 ns) of each structure's own non-blocking put and get, in one
    thread: ``deque.append``/``popleft``, ``Queue.put_nowait``/``get_nowait`` and
    ``RingBuffer.push``/``pop``.

    Each put is followed by a get, so the structure never fills up; each call is timed on
    its own with two clock reads, so each sample includes one clock read's cost. The first
    1,000 pairs are a warm-up and are not kept. Returns ``{kind: {"put": ns, "get": ns}}``.

    Parameters
    ----------
    ops : int in [1, :data:`MAX_ITEMS`]
        Timed put/get pairs per kind.
    capacity : int
        Bound of the ``queue.Queue`` and ``RingBuffer`` (a power of two).
    """
    ops = validate.integer("ops", ops, low=1, high=MAX_ITEMS)
    ring = RingBuffer(capacity)  # validates capacity for every kind
    d, q = deque(), queue.Queue(maxsize=ring.capacity)
    operations = {
        "deque": (d.append, d.popleft),
        "queue.Queue": (q.put_nowait, q.get_nowait),
        "RingBuffer": (ring.push, ring.pop),
    }
    clock = time.perf_counter_ns
    out = {}
    for kind, (put, get) in operations.items():
        puts, gets = [0] * ops, [0] * ops
        for i in range(-_WARMUP, ops):
            t0 = clock()
            put(1)
            t1 = clock()
            get()
            t2 = clock()
            if i >= 0:
                puts[i] = t1 - t0
                gets[i] = t2 - t1
        out[kind] = {
            "put": np.array(puts, dtype=np.int64),
            "get": np.array(gets, dtype=np.int64),
        }
    return out


def percentile_table(samples_ns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per name of ``samples_ns`` (name → int64 ns samples): columns ``p50_ns``,
    ``p99_ns``, ``p99.9_ns`` (nearest rank) and ``max_ns``, all int64 nanoseconds."""
    if not isinstance(samples_ns, Mapping) or not samples_ns:
        raise TypeError("samples_ns must be a non-empty mapping of name to samples")
    rows = {str(name): _percentile_row(name, values) for name, values in samples_ns.items()}
    return pd.DataFrame.from_dict(rows, orient="index").astype(np.int64)


def cross_thread(
    kind: str | Channel,
    items: int = 100_000,
    capacity: int = 1024,
    yield_when_idle: bool = True,
    rate: float | None = None,
    *,
    timeout_s: float = 60.0,
) -> tuple[np.ndarray, float]:
    """Move ``items`` timestamps from a producer thread to a consumer thread.

    The consumer records ``now − stamp`` for every item. Without ``rate`` the producer
    sends as fast as it can (a throughput test; the stamp is the time of the first
    ``try_send``, and a refused send is retried). With ``rate`` (items/s) it sends on a
    fixed schedule and stamps each item with its *scheduled* time — an open-loop
    measurement (lesson 02), so waiting caused by a slow consumer is counted. With
    ``yield_when_idle`` a thread that finds nothing to do calls ``time.sleep(0)`` to hand
    over the GIL instead of spinning through its time slice.

    Nothing hangs and no error is lost: both threads poll a shared stop flag whenever they
    find nothing to do. If either thread raises, it sets the flag, the other thread stops,
    and the exception is re-raised here (with a note naming the thread). If the run is not
    done within ``timeout_s`` seconds, the flag is set and ``TimeoutError`` is raised; a
    thread stuck *inside* a channel call cannot be interrupted and is left behind as a
    daemon thread (the channels of :func:`~latency_lab.structures.make_channel` never block).

    Parameters
    ----------
    kind : str or Channel
        One of :data:`KINDS` (a new channel of ``capacity`` is made), or an empty
        :class:`~latency_lab.structures.Channel` to use as it is.
    items : int in [1, :data:`MAX_ITEMS`]
    capacity : int
        Bound of the channel made for ``kind`` (a power of two for ``"RingBuffer"``).
    yield_when_idle : bool
    rate : float > 0, or None
        Items per second; ``items / rate`` must fit in ``timeout_s``.
    timeout_s : float in (0, :data:`MAX_TIMEOUT_S`]

    Returns
    -------
    (latencies_ns, items_per_second) : (int64 array of ``items``, float)
    """
    items = validate.integer("items", items, low=1, high=MAX_ITEMS)
    if not isinstance(yield_when_idle, bool):
        raise TypeError(f"yield_when_idle must be True or False, got {yield_when_idle!r}")
    timeout_s = _real("timeout_s", timeout_s, low=0, low_open=True, high=MAX_TIMEOUT_S)
    interval_ns = None
    if rate is not None:
        rate = _real("rate", rate, low=0, low_open=True)
        if items / rate > timeout_s:
            raise ValueError(
                f"rate: sending {items:,} items at {rate:g} items/s takes {items / rate:.3g} s, "
                f"longer than timeout_s={timeout_s:g}"
            )
        interval_ns = NS_PER_S / rate
    if isinstance(kind, Channel):
        channel = kind
        if len(channel):
            raise ValueError(f"kind: the channel passed in must be empty, it holds {len(channel)}")
    else:
        channel = make_channel(kind, capacity)

    latencies = np.zeros(items, dtype=np.int64)
    stop = threading.Event()
    errors: list[tuple[str, BaseException]] = []
    clock, sleep = time.perf_counter_ns, time.sleep
    send, recv, yielding = channel.try_send, channel.try_recv, yield_when_idle

    def produce():
        try:
            start = clock()
            for i in range(items):
                if interval_ns is None:
                    stamp = clock()
                else:
                    stamp = start + round(i * interval_ns)
                    while clock() < stamp:
                        if stop.is_set():
                            return
                        if yielding:
                            sleep(0)
                while not send(stamp):
                    if stop.is_set():
                        return
                    if yielding:
                        sleep(0)
        except BaseException as exc:  # surfaced in the caller, never lost in the thread
            errors.append(("producer", exc))
            stop.set()

    def consume():
        try:
            received = 0
            while received < items:
                stamp = recv()
                if stamp is None:
                    if stop.is_set():
                        return
                    if yielding:
                        sleep(0)
                else:
                    latencies[received] = clock() - stamp
                    received += 1
        except BaseException as exc:
            errors.append(("consumer", exc))
            stop.set()

    threads = [
        threading.Thread(target=produce, name="handoff-producer", daemon=True),
        threading.Thread(target=consume, name="handoff-consumer", daemon=True),
    ]
    began = clock()
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout_s
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        elapsed_ns = clock() - began
        timed_out = any(t.is_alive() for t in threads)
    finally:
        stop.set()  # on success a no-op; on timeout or interrupt, the threads stop polling
        for t in threads:
            t.join(_GRACE_S)
    if errors:
        role, exc = errors[0]
        exc.add_note(f"raised in the {role} thread of handoff.cross_thread ({channel.kind})")
        raise exc
    if timed_out:
        stuck = [t.name for t in threads if t.is_alive()]
        raise TimeoutError(
            f"cross_thread: {channel.kind} did not move {items:,} items within "
            f"timeout_s={timeout_s:g} s; stopped"
            + (f" (still running inside a channel call: {', '.join(stuck)})" if stuck else "")
        )
    return latencies, items * NS_PER_S / max(elapsed_ns, 1)


def cross_thread_table(
    items: int = 100_000,
    capacity: int = 1024,
    rate: float | None = None,
    *,
    timeout_s: float = 60.0,
) -> pd.DataFrame:
    """Per-item latency percentiles and throughput of every kind, polling with and without
    yielding (see :func:`cross_thread`).

    One row per ``"<kind>, <yield|spin> when idle"``; columns ``p50_ns``, ``p99_ns``,
    ``p99.9_ns``, ``max_ns`` (int64 nanoseconds) and ``items_per_s`` (float). Each run
    gets its own ``timeout_s``.
    """
    rows = {}
    for kind in KINDS:
        for yielding in (True, False):
            latencies, achieved = cross_thread(
                kind, items, capacity, yielding, rate, timeout_s=timeout_s
            )
            label = f"{kind}, {'yield' if yielding else 'spin'} when idle"
            rows[label] = {**_percentile_row(label, latencies), "items_per_s": achieved}
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.astype({name: np.int64 for name in (*TABLE_PERCENTILES, "max_ns")})


def _real(name: str, value, **limits) -> float:
    """``validate.real``, with an int too large for a float refused as a ValueError too."""
    try:
        return validate.real(name, value, **limits)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got an integer too large for a float") from None


def _percentile_row(name, samples_ns) -> dict[str, int]:
    values = validate.samples(f"samples_ns[{name!r}]", samples_ns)
    if values.dtype.kind not in "iu":
        raise TypeError(f"samples_ns[{name!r}] must be integer nanoseconds, got {values.dtype}")
    picked = stats.percentiles(values, list(TABLE_PERCENTILES.values()))
    row = {column: int(v) for column, v in zip(TABLE_PERCENTILES, picked, strict=True)}
    row["max_ns"] = int(values.max())
    return row
