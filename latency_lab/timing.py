"""Clocks and the course's one timing harness: what a clock read costs and resolves, and how
to compare candidates fairly in interleaved rounds (lesson 01; used by every later lesson).

:func:`compare` is the harness. Every candidate is a zero-argument callable; they are timed
in rounds, round-robin, with the order rotated each round, so a disturbance (another
process, a frequency change, a collection) hits them alike and no candidate always goes
first. Two modes:

- ``"bulk"``: each timed block is many calls between two clock reads, calibrated so a
  block lasts about ``block_ns`` — far above what a clock read costs or resolves. Gives
  ``ns_per_call`` per candidate and round.
- ``"per_call"``: two clock reads around every call, for latency distributions and tails
  of operations well above the clock's cost; ``attrs["empty_call_ns"]`` says how much of a
  sample is the clock itself.

:func:`compare_async` is the same harness for candidates that may be coroutines (lesson 05):
``frame = await compare_async(...)``; its result reads like :func:`compare`'s.

:func:`per_round` and :func:`ratios` turn the result into per-round figures, the raw
material of a verdict such as "A is 1.4× slower than B (1.3–1.5× over 7 rounds)".
"""

from __future__ import annotations

import gc
import inspect
import itertools
import math
import time
import warnings
from collections.abc import Callable, Coroutine, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from latency_lab import stats, units, validate
from latency_lab.gcwatch import GENERATIONS, GcWatch

#: The clocks a Python program can read, by the name ``time.get_clock_info`` knows them.
CLOCKS: dict[str, tuple[Callable[[], float | int], str, bool]] = {
    # name: (function, get_clock_info name, returns integer nanoseconds)
    "time": (time.time, "time", False),
    "time_ns": (time.time_ns, "time", True),
    "monotonic": (time.monotonic, "monotonic", False),
    "monotonic_ns": (time.monotonic_ns, "monotonic", True),
    "perf_counter": (time.perf_counter, "perf_counter", False),
    "perf_counter_ns": (time.perf_counter_ns, "perf_counter", True),
    "process_time": (time.process_time, "process_time", False),
    "process_time_ns": (time.process_time_ns, "process_time", True),
    "thread_time": (time.thread_time, "thread_time", False),
    "thread_time_ns": (time.thread_time_ns, "thread_time", True),
}

#: Bounds of :func:`compare`: rounds, candidates, calls in one block or round, per-call
#: samples kept in all (each costs about 30 bytes), and the longest run it accepts.
MAX_ROUNDS = 1_000
MAX_CANDIDATES = 100
MAX_CALLS = 100_000_000
MAX_SAMPLES = 5_000_000
MAX_TIME_LIMIT_S = 3_600.0
#: Shortest and longest block duration :func:`compare` calibrates bulk blocks to.
MIN_BLOCK_NS = 10 * units.NS_PER_US
MAX_BLOCK_NS = units.NS_PER_S
#: Most consecutive reads :func:`consecutive_reads` takes (they are held in a list first).
MAX_READS = 5_000_000

MODES = ("bulk", "per_call")
_GC_COLUMNS = [f"gen{g}_gcs" for g in GENERATIONS]
_PER_CALL_DEFAULT = 1_000
_EMPTY_CALLS = 10_000
_REWARM_CALLS = 3  # untimed calls before each per-call block


def _noop() -> None:
    pass


# -- the harness ---------------------------------------------------------------------------
class _Settings(NamedTuple):
    """A comparison's checked arguments (see :func:`compare`)."""

    names: list[str]
    ops: list[Callable[[], object]]
    rounds: int
    mode: str
    calls: int | None
    block_ns: int
    warmup: int
    collect_before: int | None
    time_limit_s: float


def compare(
    candidates: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 7,
    mode: str = "bulk",
    calls: int | None = None,
    block_ns: int = 200 * units.NS_PER_US,
    warmup: int = 1,
    collect_before: int | None = 0,
    time_limit_s: float = 120.0,
) -> pd.DataFrame:
    """Time ``candidates`` (name → zero-argument callable) in interleaved rounds, in ns.

    Each round times every candidate once, round-robin; round ``r`` starts with candidate
    ``r mod k`` so no candidate always goes first. Before the first round each candidate is
    called ``warmup`` times untimed; before each timed block, ``gc.collect(collect_before)``
    runs and the candidate is called untimed again (once in bulk mode, three times per
    call), because the collection and the other candidates evicted its data from the caches.

    Parameters
    ----------
    candidates : mapping of str to callable, 1 to ``MAX_CANDIDATES`` entries
    rounds : int, 1 to ``MAX_ROUNDS``
    mode : ``"bulk"`` or ``"per_call"``
        ``"bulk"`` times blocks of ``calls`` calls between two clock reads (for operations
        shorter than a few clock reads); ``"per_call"`` times every call on its own.
    calls : int or None, 1 to ``MAX_CALLS``
        Bulk: calls per timed block; None calibrates it per candidate (doubling from one
        call) until a block lasts at least ``block_ns``. Per call: calls per candidate and
        round (None means 1,000); rounds × calls × candidates ≤ ``MAX_SAMPLES``.
    block_ns : int, ``MIN_BLOCK_NS`` to ``MAX_BLOCK_NS``
        Target duration of a calibrated bulk block.
    warmup : int, 0 to ``MAX_CALLS``
        Untimed calls per candidate before the first round (compilation, caches); one more
        timed call after the first of them estimates the run's duration.
    collect_before : 0, 1, 2 or None
        Generation ``gc.collect`` runs before every timed block: 0 is cheap and gives each
        block the same young-generation budget; 2 (a full collection, tens of ms in a big
        process) also makes collections during a block the block's own doing; None: none.
    time_limit_s : float, > 0 and ≤ ``MAX_TIME_LIMIT_S``
        A run estimated (from the calibration, or one probe call) to take longer is refused
        before it starts; a run that turns out slower starts no new round after the limit
        (it warns and returns the rounds done, always at least one).

    Returns
    -------
    pandas.DataFrame
        ``"bulk"``: one row per candidate and round — ``candidate`` (categorical, in input
        order), ``round``, ``position`` (order within the round, 0 = first), ``calls``,
        ``total_ns`` (int64, the block), ``ns_per_call`` (float64, ``total_ns / calls``,
        loop overhead of a few ns included) and ``gen0_gcs``, ``gen1_gcs``, ``gen2_gcs``
        (collections that started during the block).
        ``"per_call"``: one row per call — ``candidate``, ``round``, ``position``, ``call``
        (index within the round), ``latency_ns`` (int64) and the ``gen*_gcs`` columns.
        ``attrs``: ``mode``, ``clock`` (``"perf_counter_ns"``), ``candidates`` (names in
        order), ``rounds`` (completed) and, per call, ``empty_call_ns`` (median sample of an
        empty call: the clock's share of every sample).

    Examples
    --------
    >>> frame = compare({"sum": lambda: sum(range(100)), "len": lambda: len("abc")})
    >>> summarize(frame)  # per candidate: median, min and max ns per call over rounds
    >>> ratios(frame, "sum", "len")  # one ratio per round
    """
    settings = _check_arguments(
        candidates, rounds, mode, calls, block_ns, warmup, collect_before, time_limit_s
    )
    # Plain calls never suspend the coroutine: it runs to its end in one step, no event loop.
    frame, done, extra = _run_to_end(_measure(settings, detect_awaitables=False))
    return _finish(frame, done, extra, settings, "compare")


def compare_async(
    candidates: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 7,
    mode: str = "bulk",
    calls: int | None = None,
    block_ns: int = 200 * units.NS_PER_US,
    warmup: int = 1,
    time_limit_s: float = 120.0,
) -> Coroutine[object, object, pd.DataFrame]:
    """:func:`compare` for candidates that may be coroutines (lesson 05): use
    ``frame = await compare_async(...)`` (top-level ``await`` in a notebook).

    Each candidate is a zero-argument callable; if its first call returns an awaitable,
    every call is awaited (``await op()``), otherwise it is called (``op()``) — so a plain
    function and an ``async def`` doing the same work can be compared on one event loop.
    That first call is the first warm-up call (it is made even when ``warmup=0``). Rounds,
    calibration, warm-up, time limit, the young-generation collection before each timed
    block (``collect_before=0``) and the result are those of :func:`compare`, so
    :func:`summarize`, :func:`ratios` and :func:`verdict` read it. In per-call mode
    ``attrs["empty_call_ns"]`` is the median per-call sample of an empty plain call. The
    arguments are checked when it is called, before anything is awaited.
    """
    settings = _check_arguments(candidates, rounds, mode, calls, block_ns, warmup, 0, time_limit_s)
    return _compare_async(settings)


async def _compare_async(settings: _Settings) -> pd.DataFrame:
    frame, done, extra = await _measure(settings, detect_awaitables=True)
    return _finish(frame, done, extra, settings, "compare_async")


def _check_arguments(
    candidates, rounds, mode, calls, block_ns, warmup, collect_before, time_limit_s
) -> _Settings:
    """Every argument of :func:`compare` and :func:`compare_async`, checked before any work."""
    if not isinstance(candidates, Mapping):
        raise TypeError(
            "candidates must be a mapping of name -> zero-argument callable, "
            f"got {type(candidates).__name__}"
        )
    if not 1 <= len(candidates) <= MAX_CANDIDATES:
        raise ValueError(f"candidates must hold 1 to {MAX_CANDIDATES}, got {len(candidates)}")
    names, ops = [], []
    for name, op in candidates.items():
        if not isinstance(name, str):
            raise TypeError(f"candidates: names must be str, got {type(name).__name__}")
        if not callable(op):
            raise TypeError(f"candidates[{name!r}] must be callable, got {type(op).__name__}")
        names.append(name)
        ops.append(op)
    rounds = validate.integer("rounds", rounds, low=1, high=MAX_ROUNDS)
    mode = validate.one_of("mode", mode, MODES)
    if calls is not None:
        calls = validate.integer("calls", calls, low=1, high=MAX_CALLS)
    block_ns = validate.integer("block_ns", block_ns, low=MIN_BLOCK_NS, high=MAX_BLOCK_NS)
    warmup = validate.integer("warmup", warmup, low=0, high=MAX_CALLS)
    if collect_before is not None:
        collect_before = validate.integer("collect_before", collect_before, low=0, high=2)
    time_limit_s = validate.real(
        "time_limit_s", time_limit_s, low=0.0, high=MAX_TIME_LIMIT_S, low_open=True
    )
    if mode == "per_call":
        calls = _PER_CALL_DEFAULT if calls is None else calls
        total = len(ops) * rounds * calls
        if total > MAX_SAMPLES:
            raise ValueError(
                f"calls: {len(ops)} candidates × {rounds} rounds × {calls:,} calls = "
                f"{total:,} per-call samples, above MAX_SAMPLES={MAX_SAMPLES:,}; ask for fewer"
            )
    return _Settings(
        names, ops, rounds, mode, calls, block_ns, warmup, collect_before, time_limit_s
    )


def _run_to_end(coroutine):
    """Run a coroutine that never suspends (it awaits nothing that waits) and return its value."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("a plain-call comparison suspended: only compare_async may await")


def _finish(frame: pd.DataFrame, done: int, extra: dict, s: _Settings, who: str) -> pd.DataFrame:
    """Warn if the time limit cut the run short; name the candidates; set ``attrs`` (the
    common ones, then the mode's ``extra``)."""
    if done < s.rounds:
        warnings.warn(
            f"{who} stopped after {done} of {s.rounds} rounds: time_limit_s={s.time_limit_s:g} "
            "was reached",
            RuntimeWarning,
            stacklevel=3,
        )
    frame.insert(0, "candidate", pd.Categorical.from_codes(frame.pop("code"), s.names))
    frame.attrs.update(
        mode=s.mode, clock="perf_counter_ns", candidates=tuple(s.names), rounds=int(done)
    )
    frame.attrs.update(extra)
    return frame


class _Plain:
    """Times a plain candidate: the tight loops run as they are, the coroutine never waits."""

    __slots__ = ("op",)

    def __init__(self, op: Callable[[], object]):
        self.op = op

    async def block(self, calls: int) -> int:
        return _time_block(self.op, calls)

    async def each(self, out: np.ndarray, watch: GcWatch, gcs: np.ndarray) -> None:
        _time_calls(self.op, out, watch, gcs)


class _Awaited:
    """Times a candidate whose calls return awaitables: every call is awaited."""

    __slots__ = ("op",)

    def __init__(self, op: Callable[[], object]):
        self.op = op

    async def block(self, calls: int) -> int:
        op, loop = self.op, itertools.repeat(None, calls)
        clock = time.perf_counter_ns
        start = clock()
        for _ in loop:
            await op()
        return clock() - start

    async def each(self, out: np.ndarray, watch: GcWatch, gcs: np.ndarray) -> None:
        op, clock = self.op, time.perf_counter_ns
        seen = watch.total
        for i in range(out.size):
            start = clock()
            await op()
            out[i] = clock() - start
            if watch.total != seen:
                seen = _count_gcs(watch, gcs, i)


async def _measure(s: _Settings, detect_awaitables: bool) -> tuple[pd.DataFrame, int, dict]:
    """Warm up, probe, plan, check the estimate and run the rounds: the frame (without
    candidate names), the rounds done and the mode's own ``attrs``.

    With ``detect_awaitables`` each candidate's first call (its first warm-up call) says
    whether its calls are awaited; otherwise every candidate is a plain call.
    """
    limit_ns = s.time_limit_s * units.NS_PER_S
    timers, probes = [], []
    for name, op in zip(s.names, s.ops, strict=True):
        if detect_awaitables:
            first = op()  # also the first warm-up call: it tells a coroutine from a plain call
            if inspect.isawaitable(first):
                await first
                timers.append(_Awaited(op))
            else:
                timers.append(_Plain(op))
        else:
            timers.append(_Plain(op))
            if s.warmup:
                op()  # the first call may compile or fill caches: do not judge the cost by it
        probes.append(await timers[-1].block(1))
        if (s.warmup - 1) * probes[-1] > limit_ns:
            raise ValueError(
                f"warmup: {s.warmup:,} calls of {name!r} would take about "
                f"{(s.warmup - 1) * probes[-1] / units.NS_PER_S:,.1f} s, above "
                f"time_limit_s={s.time_limit_s:g}"
            )
        if s.warmup > 1:
            await timers[-1].block(s.warmup - 1)
    if s.mode == "bulk" and s.calls is None:
        plan = [await _calibrate(timer, s.block_ns) for timer in timers]  # (calls, ns per call)
    else:
        plan = [(s.calls, probe) for probe in probes]
    estimate = s.rounds * sum(n * per_call for n, per_call in plan)
    if estimate > limit_ns:
        raise ValueError(
            f"this comparison would take about {estimate / units.NS_PER_S:,.1f} s, above "
            f"time_limit_s={s.time_limit_s:g}; ask for fewer rounds or calls"
        )
    with GcWatch(capacity=0) as watch:
        if s.mode == "bulk":
            return await _run_bulk(timers, plan, s, limit_ns, watch)
        return await _run_per_call(timers, s, limit_ns, watch)


def _time_block(op: Callable[[], object], calls: int) -> int:
    """Nanoseconds for ``calls`` calls of ``op`` between two clock reads (timeit's loop)."""
    loop = itertools.repeat(None, calls)
    clock = time.perf_counter_ns
    start = clock()
    for _ in loop:
        op()
    return clock() - start


async def _calibrate(timer, block_ns: int) -> tuple[int, float]:
    """Calls per block so one block lasts at least ``block_ns``, and the ns per call seen."""
    calls = 1
    while True:
        elapsed = await timer.block(calls)
        if elapsed >= block_ns or calls >= MAX_CALLS:
            return calls, elapsed / calls
        aim = math.ceil(calls * 1.25 * block_ns / elapsed) if elapsed > 0 else 100 * calls
        calls = min(MAX_CALLS, max(2 * calls, min(100 * calls, aim)))


def _rotation(k: int, r: int) -> list[int]:
    """Candidate order in round ``r``: a rotation by ``r``, so each takes every position."""
    return [(r + i) % k for i in range(k)]


def _rounds(k: int, rounds: int, limit_ns: float):
    """``(round, position, candidate)`` in interleaved, rotated order; no round starts after
    ``limit_ns`` (the first always does). The caller counts the rounds it finished."""
    started = time.perf_counter_ns()
    for r in range(rounds):
        if r and time.perf_counter_ns() - started > limit_ns:
            return
        for position, c in enumerate(_rotation(k, r)):
            yield r, position, c


def _gc_snapshot(watch: GcWatch) -> tuple[int, ...]:
    return tuple(watch.counts[g] for g in GENERATIONS)


def _count_gcs(watch: GcWatch, gcs: np.ndarray, i: int) -> int:
    """Charge the collections since the last snapshot to call ``i``: the last row of ``gcs``
    keeps the running snapshot. Returns the watch's new total."""
    now = _gc_snapshot(watch)
    gcs[i] = np.subtract(now, gcs[-1])
    gcs[-1] = now
    return watch.total


async def _run_bulk(timers, plan, s: _Settings, limit_ns, watch):
    k = len(timers)
    rows = np.zeros((s.rounds * k, 5 + len(GENERATIONS)), dtype=np.int64)
    done = 0
    for r, position, c in _rounds(k, s.rounds, limit_ns):
        calls = plan[c][0]
        if s.collect_before is not None:
            gc.collect(s.collect_before)
        await timers[c].block(1)  # re-warm: the collection and the others evicted its data
        before = _gc_snapshot(watch)
        elapsed = await timers[c].block(calls)
        after = _gc_snapshot(watch)
        rows[r * k + position] = (c, r, position, calls, elapsed, *np.subtract(after, before))
        done = r + 1 if position == k - 1 else done
    rows = rows[: done * k]
    frame = pd.DataFrame(
        {
            "code": rows[:, 0],
            "round": rows[:, 1],
            "position": rows[:, 2],
            "calls": rows[:, 3],
            "total_ns": rows[:, 4],
            "ns_per_call": rows[:, 4] / rows[:, 3],
        }
    )
    for j, column in enumerate(_GC_COLUMNS):
        frame[column] = rows[:, 5 + j]
    return frame, done, {}


def _time_calls(op, out: np.ndarray, watch: GcWatch, gcs: np.ndarray) -> None:
    """Fill ``out`` with one latency per call of ``op``; add collections per call to ``gcs``."""
    clock = time.perf_counter_ns
    seen = watch.total
    for i in range(out.size):
        start = clock()
        op()
        out[i] = clock() - start
        if watch.total != seen:  # rare: a collection started during (or right after) call i
            seen = _count_gcs(watch, gcs, i)


async def _run_per_call(timers, s: _Settings, limit_ns, watch):
    k, calls = len(timers), s.calls
    empty = np.empty(min(calls, _EMPTY_CALLS), dtype=np.int64)
    scratch = np.zeros((empty.size + 1, len(GENERATIONS)), dtype=np.int64)
    scratch[-1] = _gc_snapshot(watch)
    _time_calls(_noop, empty, watch, scratch)
    latency = np.empty((s.rounds, k, calls), dtype=np.int64)
    gcs = np.zeros((s.rounds, k, calls + 1, len(GENERATIONS)), dtype=np.int32)
    done = 0
    for r, position, c in _rounds(k, s.rounds, limit_ns):
        if s.collect_before is not None:
            gc.collect(s.collect_before)
        await timers[c].block(_REWARM_CALLS)  # the collection and the others evicted caches
        block_gcs = gcs[r, position]
        block_gcs[-1] = _gc_snapshot(watch)
        await timers[c].each(latency[r, position], watch, block_gcs)
        done = r + 1 if position == k - 1 else done
    order = np.array([_rotation(k, r) for r in range(done)], dtype=np.int64).reshape(done, k)
    shape = (done, k, calls)
    frame = pd.DataFrame(
        {
            "code": np.broadcast_to(order[:, :, None], shape).ravel(),
            "round": np.broadcast_to(np.arange(done)[:, None, None], shape).ravel(),
            "position": np.broadcast_to(np.arange(k)[None, :, None], shape).ravel(),
            "call": np.broadcast_to(np.arange(calls)[None, None, :], shape).ravel(),
            "latency_ns": latency[:done].ravel(),
        }
    )
    per_call_gcs = gcs[:done, :, :calls].reshape(-1, len(GENERATIONS))
    for j, column in enumerate(_GC_COLUMNS):
        frame[column] = per_call_gcs[:, j]
    return frame, done, {"empty_call_ns": float(np.median(empty))}


# -- reading a comparison -------------------------------------------------------------------
def _is_per_call(frame: pd.DataFrame) -> bool:
    if not isinstance(frame, pd.DataFrame) or "candidate" not in frame or "round" not in frame:
        raise TypeError("frame must be a DataFrame returned by timing.compare")
    if "latency_ns" in frame:
        return True
    if "ns_per_call" in frame:
        return False
    raise TypeError("frame must be a DataFrame returned by timing.compare")


def _candidate_order(frame: pd.DataFrame) -> list[str]:
    candidate = frame["candidate"]
    if isinstance(candidate.dtype, pd.CategoricalDtype):
        present = set(candidate.unique())
        return [c for c in candidate.cat.categories if c in present]
    return list(pd.unique(candidate))


def per_round(frame: pd.DataFrame, percentile: float | None = None) -> pd.DataFrame:
    """One figure per round and candidate, in ns: rows are rounds, columns candidates.

    Bulk results give ``ns_per_call``; per-call results give the nearest-rank
    ``percentile`` (default 50) of each candidate's samples in that round.
    """
    per_call = _is_per_call(frame)
    order = _candidate_order(frame)
    if not per_call:
        if percentile is not None:
            raise ValueError("percentile applies to per-call results only; bulk gives means")
        table = frame.pivot_table(
            index="round", columns="candidate", values="ns_per_call", observed=True
        )
    else:
        p = 50.0 if percentile is None else validate.real("percentile", percentile, low=0, high=100)
        table = (
            frame.groupby(["round", "candidate"], observed=True)["latency_ns"]
            .agg(lambda s: stats.percentiles(s.to_numpy(), p))
            .unstack("candidate")
        )
    table = table[order]
    table.columns = pd.Index(order, name="candidate")
    return table


def ratios(
    frame: pd.DataFrame, numerator: str, denominator: str, percentile: float | None = None
) -> pd.Series:
    """``numerator`` / ``denominator`` in each round (see :func:`per_round`), by round."""
    table = per_round(frame, percentile)
    for name, value in (("numerator", numerator), ("denominator", denominator)):
        if value not in table.columns:
            raise ValueError(f"{name} must be one of {tuple(table.columns)}, got {value!r}")
    out = table[numerator] / table[denominator]
    out.name = f"{numerator} / {denominator}"
    return out


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per candidate (in input order): what :func:`compare` measured, in ns.

    Bulk: ``rounds``, ``calls`` (per block), ``median_ns``, ``min_ns``, ``max_ns`` of
    ``ns_per_call`` over rounds. Per call: ``count``, ``p50_ns``, ``p99_ns``, ``p99.9_ns``,
    ``max_ns`` over all samples (nearest rank). Both: total ``gen0_gcs``..``gen2_gcs``.
    """
    per_call = _is_per_call(frame)
    order = _candidate_order(frame)
    grouped = frame.groupby("candidate", observed=True)
    if per_call:
        rows = {}
        for name, group in grouped:
            values = group["latency_ns"].to_numpy()
            p50, p99, p999 = stats.percentiles(values, [50, 99, 99.9])
            rows[name] = {
                "count": values.size,
                "p50_ns": p50,
                "p99_ns": p99,
                "p99.9_ns": p999,
                "max_ns": values.max(),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
    else:
        ns_per_call = grouped["ns_per_call"]
        table = pd.DataFrame(
            {
                "rounds": grouped["round"].nunique(),
                "calls": grouped["calls"].median().astype(np.int64),
                "median_ns": ns_per_call.median(),
                "min_ns": ns_per_call.min(),
                "max_ns": ns_per_call.max(),
            }
        )
    gcs = grouped[_GC_COLUMNS].sum()
    gcs.index = pd.Index([str(name) for name in gcs.index])
    table = table.join(gcs)
    table = table.loc[order]
    table.index = pd.Index(order, name="candidate")
    return table


class Verdict(NamedTuple):
    """What interleaved rounds say about ``a`` against ``b`` (see :func:`verdict`)."""

    a: str
    b: str
    ratio: float  # median over rounds of a / b (above 1: a is slower)
    low: float  # smallest per-round ratio
    high: float  # largest per-round ratio
    rounds: int
    clear: bool  # a's and b's per-round figures do not overlap: every round agrees
    at: str  # "" for bulk means, or the percentile compared ("p50", "p99", ...)

    def __str__(self) -> str:
        at = f" at {self.at}" if self.at else ""
        over = f"over {self.rounds} round{'s' if self.rounds != 1 else ''}"
        if not self.clear:
            return (
                f"on this machine: no clear difference between {self.a} and {self.b}{at} "
                f"(ranges overlap; {self.a} / {self.b} = {self.low:.2f}–{self.high:.2f}× {over})"
            )
        if self.ratio >= 1:
            word, r, lo, hi = "slower", self.ratio, self.low, self.high
        else:
            word, r, lo, hi = "faster", 1 / self.ratio, 1 / self.high, 1 / self.low
        return (
            f"on this machine: {self.a} is {r:.{_digits(r)}f}× {word} than {self.b}{at} "
            f"({lo:.{_digits(lo)}f}–{hi:.{_digits(hi)}f}× {over})"
        )


def _digits(x: float) -> int:
    """Decimals that show how far a ratio is from 1 (1.004, 1.08, 1.4, 12, 130)."""
    return 3 if x < 1.02 else 2 if x < 1.1 else 1 if x < 10 else 0


def verdict(frame: pd.DataFrame, a: str, b: str, percentile: float | None = None) -> Verdict:
    """Is ``a`` faster or slower than ``b`` here, by how much, and does every round agree?

    Computed from a :func:`compare` result: per-round figures (``ns_per_call`` in bulk mode,
    the nearest-rank ``percentile`` of each round's samples per call, p50 by default). The
    difference is *clear* only when the two candidates' ranges over the rounds do not
    overlap; otherwise the verdict says so. ``print(verdict(...))`` gives one line such as
    "on this machine: pooled is 1.4× slower than fresh at p50 (1.3–1.5× over 7 rounds)".
    """
    table = per_round(frame, percentile)
    ratio = ratios(frame, a, b, percentile).to_numpy(dtype=float)
    clear = bool(table[a].max() < table[b].min() or table[b].max() < table[a].min())
    at = (
        ""
        if not _is_per_call(frame)
        else stats.percentile_label(50.0 if percentile is None else percentile)
    )
    return Verdict(
        a=a,
        b=b,
        ratio=float(np.median(ratio)),
        low=float(ratio.min()),
        high=float(ratio.max()),
        rounds=int(ratio.size),
        clear=clear,
        at=at,
    )


# -- clocks ---------------------------------------------------------------------------------
def call_overhead_ns(
    func: Callable[[], object], calls: int | None = None, repeats: int = 7
) -> float:
    """Median over ``repeats`` bulk blocks of the cost of one ``func()`` call, in ns.

    A thin use of :func:`compare` with one candidate: ``calls`` per block (None calibrates
    blocks of about 200 µs). The loop is ``for _ in itertools.repeat(None, calls)`` (what
    ``timeit`` uses), so the figure includes a few nanoseconds of loop overhead.
    """
    repeats = validate.integer("repeats", repeats, low=1, high=MAX_ROUNDS)
    frame = compare({"func": func}, rounds=repeats, calls=calls)
    return float(frame["ns_per_call"].median())


def consecutive_reads(func: Callable[[], float | int], reads: int = 100_000) -> np.ndarray:
    """``reads`` back-to-back reads of a clock (2 to ``MAX_READS``), as an array in its unit."""
    if not callable(func):
        raise TypeError(f"func must be a clock function, got {type(func).__name__}")
    reads = validate.integer("reads", reads, low=2, high=MAX_READS)
    values = np.array([func() for _ in itertools.repeat(None, reads)])
    if values.dtype.kind not in "iuf":
        raise TypeError(f"func must return numbers, got dtype {values.dtype}")
    return values


def smallest_gap_ns(func: Callable[[], float | int], is_ns: bool, reads: int = 100_000) -> float:
    """Smallest positive difference between consecutive reads, in ns (NaN if it never ticked).

    ``is_ns`` says the clock returns integer nanoseconds; otherwise it returns float seconds.
    """
    if not isinstance(is_ns, bool | np.bool_):
        raise TypeError(f"is_ns must be True or False, got {type(is_ns).__name__}")
    diffs = np.diff(consecutive_reads(func, reads)).astype(float)
    if not is_ns:
        diffs = units.seconds_to_ns(diffs)
    positive = diffs[diffs > 0]
    return float(positive.min()) if positive.size else float("nan")


def clock_table(calls: int | None = None, repeats: int = 7, reads: int = 100_000) -> pd.DataFrame:
    """One row per Python clock: implementation, resolution, flags, measured cost and tick.

    Columns: ``implementation``, ``resolution_ns`` (as reported by ``time.get_clock_info``),
    ``monotonic``, ``adjustable``, ``overhead_ns`` (median over ``repeats`` interleaved rounds
    of :func:`compare` of all clocks, ``calls`` reads per block, None to calibrate) and
    ``smallest_gap_ns`` (see :func:`smallest_gap_ns`, ``reads`` reads per clock).
    """
    repeats = validate.integer("repeats", repeats, low=1, high=MAX_ROUNDS)
    reads = validate.integer("reads", reads, low=2, high=MAX_READS)
    funcs = {name: func for name, (func, _, _) in CLOCKS.items()}
    overhead = summarize(compare(funcs, rounds=repeats, calls=calls))["median_ns"]
    rows = []
    for name, (func, info_name, is_ns) in CLOCKS.items():
        info = time.get_clock_info(info_name)
        rows.append(
            {
                "clock": name,
                "implementation": info.implementation,
                "resolution_ns": units.seconds_to_ns(info.resolution),
                "monotonic": info.monotonic,
                "adjustable": info.adjustable,
                "overhead_ns": float(overhead[name]),
                "smallest_gap_ns": smallest_gap_ns(func, is_ns, reads),
            }
        )
    return pd.DataFrame(rows).set_index("clock")
