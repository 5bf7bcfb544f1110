"""Handing items from one thread to another: deque, queue.Queue and RingBuffer (lesson 04).

What one put and one get cost, in one thread with no contention:

- :func:`put_get_cases`: one non-blocking put and one get of each structure, as zero-argument
  functions for :func:`latency_lab.timing.compare` (in bulk mode: these operations take
  about as long as a clock read, so they are timed many to a block);
- :func:`single_thread_ops`: the same operations timed one call at a time (each sample
  includes a clock read), summarised by :func:`percentile_table`.

What a handoff between two threads costs: :func:`cross_thread` measures the time from
``try_send`` in a producer thread to ``try_recv`` in a consumer thread, per item, through a
bounded :class:`~latency_lab.structures.Channel`, and the throughput of the pair;
:func:`cross_thread_rounds` repeats such runs in interleaved rounds (so
:func:`latency_lab.timing.verdict` can compare them) and :func:`cross_thread_table` runs
each kind once.

The threaded runs never hang and never swallow an error: an exception in either thread
stops the other and is re-raised in the caller, and a run that outlives ``timeout_s`` is
stopped and reported with ``TimeoutError``.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from latency_lab import stats, timing, validate
from latency_lab.gcwatch import GENERATIONS, GcWatch
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
#: What a polling thread does when it finds nothing to do: ``time.sleep(0)``, or loop again.
IDLE_MODES = ("yield", "spin")
_IDLE_WORDS = {"yield": "yielding", "spin": "spinning"}
#: Longest :func:`cross_thread_rounds` may run in all, in seconds.
MAX_TIME_LIMIT_S = 3600.0

_WARMUP = 1_000
_GRACE_S = 2.0  # how long stopped threads get to notice the stop flag


def put_get_cases(capacity: int = 1024) -> dict[str, Callable[[], None]]:
    """One non-blocking put then one get of each structure, as zero-argument functions for
    :func:`latency_lab.timing.compare` (lesson 04).

    Keys are :data:`KINDS`: ``deque.append``/``popleft``, ``Queue.put_nowait``/``get_nowait``
    and ``RingBuffer.push``/``pop``. Each function is a small Python function that calls the
    two bound methods (looked up once, when the cases are made), so a timed call costs one
    Python-level call plus the put and the get; the structure never holds more than one
    item. ``capacity`` bounds the ``queue.Queue`` and the ``RingBuffer`` (a power of two).
    """
    ring = RingBuffer(capacity)  # validates capacity for every kind
    d, q = deque(), queue.Queue(maxsize=ring.capacity)

    def pair(put, get):
        def put_get() -> None:
            put(1)
            get()

        return put_get

    return {
        "deque": pair(d.append, d.popleft),
        "queue.Queue": pair(q.put_nowait, q.get_nowait),
        "RingBuffer": pair(ring.push, ring.pop),
    }


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
    items, rate, timeout_s = _check_run(items, rate, timeout_s)
    if not isinstance(yield_when_idle, bool):
        raise TypeError(f"yield_when_idle must be True or False, got {yield_when_idle!r}")
    interval_ns = None if rate is None else NS_PER_S / rate
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


class HandoffRounds(NamedTuple):
    """Interleaved rounds of threaded runs (see :func:`cross_thread_rounds`), in the two
    shapes :func:`latency_lab.timing.compare` returns, so that ``timing.per_round``,
    ``timing.summarize`` and ``timing.verdict`` read them."""

    #: One row per item, like ``compare(mode="per_call")``: ``latency_ns`` is the handoff.
    latency: pd.DataFrame
    #: One row per run, like ``compare(mode="bulk")``: ``calls`` is items moved, ``total_ns``
    #: the run's duration and ``ns_per_call`` the time per item moved (1 / throughput).
    runs: pd.DataFrame


def cross_thread_rounds(
    kinds: Iterable[str] = KINDS,
    idle: Iterable[str] = IDLE_MODES,
    *,
    rounds: int = 5,
    items: int = 20_000,
    capacity: int = 1024,
    rate: float | None = None,
    timeout_s: float = 60.0,
    time_limit_s: float = 600.0,
) -> HandoffRounds:
    """Runs of :func:`cross_thread` for every kind and idle mode, in interleaved rounds
    (lesson 04).

    The candidates are named ``"<kind> yielding"`` and ``"<kind> spinning"`` after the idle
    mode (:data:`IDLE_MODES`): ``"yield"`` calls ``time.sleep(0)`` when a thread finds
    nothing to do, ``"spin"`` polls again at once. Each round runs every candidate once, on
    a new channel, in an order rotated by one each round, so no candidate always goes first
    and a disturbance that lasts a while hits them alike. A short untimed run of each (up to
    1,000 items) comes first. Collections of the garbage collector during a run are counted.

    Parameters
    ----------
    kinds : iterable of str
        Distinct members of :data:`KINDS`.
    idle : iterable of str
        Distinct members of :data:`IDLE_MODES`.
    rounds : int in [1, ``timing.MAX_ROUNDS``]
        rounds × candidates × items must be at most ``timing.MAX_SAMPLES``.
    items, capacity, rate, timeout_s
        Of each run, as in :func:`cross_thread` (``timeout_s`` bounds one run).
    time_limit_s : float in (0, :data:`MAX_TIME_LIMIT_S`]
        Paced runs that would take longer in all are refused up front; once the limit has
        passed no new round starts (a ``RuntimeWarning`` says so; at least one round runs).

    Returns
    -------
    HandoffRounds
        ``latency``: one row per item — ``candidate`` (categorical, in order), ``round``,
        ``position`` (0 = first in its round), ``call`` (the item's index in its run),
        ``latency_ns`` (int64) and ``gen0_gcs``..``gen2_gcs`` (a run's collections are on
        its first item's row, so sums per candidate or round are right).
        ``runs``: one row per run — ``candidate``, ``round``, ``position``, ``calls``
        (items), ``total_ns``, ``ns_per_call`` and the run's ``gen*_gcs``.
        Both carry ``attrs`` ``mode`` (``"per_call"``, ``"bulk"``), ``clock``,
        ``candidates``, ``rounds`` (completed), ``items_per_run`` and ``rate``.
    """
    kinds = _distinct("kinds", kinds, KINDS)
    idle = _distinct("idle", idle, IDLE_MODES)
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    items, rate, timeout_s = _check_run(items, rate, timeout_s)
    time_limit_s = _real("time_limit_s", time_limit_s, low=0, low_open=True, high=MAX_TIME_LIMIT_S)
    candidates = [(kind, mode) for kind in kinds for mode in idle]
    names = [f"{kind} {_IDLE_WORDS[mode]}" for kind, mode in candidates]
    k = len(candidates)
    samples = rounds * k * items
    if samples > timing.MAX_SAMPLES:
        raise ValueError(
            f"items: {rounds} rounds × {k} candidates × {items:,} items = {samples:,} samples, "
            f"above timing.MAX_SAMPLES={timing.MAX_SAMPLES:,}; ask for fewer"
        )
    if rate is not None and samples / rate > time_limit_s:
        raise ValueError(
            f"rate: {samples:,} items at {rate:g} items/s take {samples / rate:.3g} s, longer "
            f"than time_limit_s={time_limit_s:g}; ask for fewer rounds or items"
        )
    for kind in kinds:
        make_channel(kind, capacity)  # refuses a bad capacity before any thread starts

    warm = min(items, _WARMUP)
    for kind, mode in candidates:
        cross_thread(kind, warm, capacity, mode == "yield", rate, timeout_s=timeout_s)

    latency = np.zeros((rounds, k, items), dtype=np.int64)
    order = np.zeros((rounds, k), dtype=np.int64)
    total_ns = np.zeros((rounds, k), dtype=np.int64)
    gcs = np.zeros((rounds, k, len(GENERATIONS)), dtype=np.int64)
    limit_ns = time_limit_s * NS_PER_S
    started, done = time.perf_counter_ns(), 0
    with GcWatch(capacity=0) as watch:
        for r in range(rounds):
            if r and time.perf_counter_ns() - started > limit_ns:
                break
            for position in range(k):
                c = (r + position) % k
                kind, mode = candidates[c]
                before = [watch.counts[g] for g in GENERATIONS]
                began = time.perf_counter_ns()
                latency[r, position], _ = cross_thread(
                    kind, items, capacity, mode == "yield", rate, timeout_s=timeout_s
                )
                total_ns[r, position] = time.perf_counter_ns() - began
                gcs[r, position] = np.subtract([watch.counts[g] for g in GENERATIONS], before)
                order[r, position] = c
            done = r + 1
    if done < rounds:
        warnings.warn(
            f"cross_thread_rounds stopped after {done} of {rounds} rounds: "
            f"time_limit_s={time_limit_s:g} was reached",
            RuntimeWarning,
            stacklevel=2,
        )
    latency, order, total_ns, gcs = latency[:done], order[:done], total_ns[:done], gcs[:done]
    shape = (done, k, items)
    per_item = pd.DataFrame(
        {
            "candidate": pd.Categorical.from_codes(
                np.broadcast_to(order[:, :, None], shape).ravel(), names
            ),
            "round": np.broadcast_to(np.arange(done)[:, None, None], shape).ravel(),
            "position": np.broadcast_to(np.arange(k)[None, :, None], shape).ravel(),
            "call": np.broadcast_to(np.arange(items)[None, None, :], shape).ravel(),
            "latency_ns": latency.ravel(),
        }
    )
    per_run = pd.DataFrame(
        {
            "candidate": pd.Categorical.from_codes(order.ravel(), names),
            "round": np.repeat(np.arange(done), k),
            "position": np.tile(np.arange(k), done),
            "calls": np.full(done * k, items, dtype=np.int64),
            "total_ns": total_ns.ravel(),
            "ns_per_call": total_ns.ravel() / items,
        }
    )
    first_item = np.zeros((done, k, items, len(GENERATIONS)), dtype=np.int32)
    first_item[:, :, 0] = gcs
    first_item = first_item.reshape(-1, len(GENERATIONS))
    for g in GENERATIONS:
        per_item[f"gen{g}_gcs"] = first_item[:, g]
        per_run[f"gen{g}_gcs"] = gcs[:, :, g].ravel()
    common = dict(
        clock="perf_counter_ns",
        candidates=tuple(names),
        rounds=done,
        items_per_run=items,
        rate=rate,
    )
    per_item.attrs.update(mode="per_call", **common)
    per_run.attrs.update(mode="bulk", **common)
    return HandoffRounds(per_item, per_run)


def _distinct(name: str, values, allowed: tuple[str, ...]) -> list[str]:
    """``values`` as a non-empty list of distinct members of ``allowed``."""
    if isinstance(values, str):
        values = [values]
    try:
        values = list(itertools.islice(values, len(allowed) + 1))
    except TypeError:
        raise TypeError(f"{name} must be an iterable of {allowed}, got {values!r}") from None
    if not values:
        raise ValueError(f"{name} must name at least one of {allowed}")
    for value in values:
        validate.one_of(name, value, allowed)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a value, got {values}")
    return values


def _check_run(items, rate, timeout_s) -> tuple[int, float | None, float]:
    """``items``, ``rate`` and ``timeout_s`` of one threaded run, checked."""
    items = validate.integer("items", items, low=1, high=MAX_ITEMS)
    timeout_s = _real("timeout_s", timeout_s, low=0, low_open=True, high=MAX_TIMEOUT_S)
    if rate is not None:
        rate = _real("rate", rate, low=0, low_open=True)
        if items / rate > timeout_s:
            raise ValueError(
                f"rate: sending {items:,} items at {rate:g} items/s takes {items / rate:.3g} s, "
                f"longer than timeout_s={timeout_s:g}"
            )
    return items, rate, timeout_s


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
