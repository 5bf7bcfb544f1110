"""Every Python clock, measured: what it reports, costs and resolves (lesson 01)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from latency_lab import validate

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


def call_overhead_ns(func: Callable[[], object], calls: int = 100_000, repeats: int = 7) -> float:
    """Median over ``repeats`` of the cost of one ``func()`` call in a tight loop, in ns.

    The loop is ``for _ in itertools.repeat(None, calls)`` (what ``timeit`` uses), so the
    figure includes a few nanoseconds of loop overhead; it is timed with ``perf_counter_ns``.
    """
    calls = validate.integer("calls", calls, low=1)
    repeats = validate.integer("repeats", repeats, low=1)
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in itertools.repeat(None, calls):
            func()
        per_call.append((time.perf_counter_ns() - start) / calls)
    return float(np.median(per_call))


def consecutive_reads(func: Callable[[], float | int], reads: int = 100_000) -> np.ndarray:
    """``reads`` back-to-back reads of a clock, as an array in its own unit."""
    reads = validate.integer("reads", reads, low=2)
    return np.array([func() for _ in itertools.repeat(None, reads)])


def smallest_gap_ns(func: Callable[[], float | int], is_ns: bool, reads: int = 100_000) -> float:
    """Smallest positive difference between consecutive reads, in ns (NaN if it never ticked)."""
    diffs = np.diff(consecutive_reads(func, reads)).astype(float)
    if not is_ns:
        diffs *= 1e9
    positive = diffs[diffs > 0]
    return float(positive.min()) if positive.size else float("nan")


def clock_table(calls: int = 100_000, repeats: int = 7, reads: int = 100_000) -> pd.DataFrame:
    """One row per Python clock: implementation, resolution, flags, measured cost and tick.

    Columns: ``implementation``, ``resolution_ns`` (as reported by ``time.get_clock_info``),
    ``monotonic``, ``adjustable``, ``overhead_ns`` (median per-call cost, see
    :func:`call_overhead_ns`) and ``smallest_gap_ns`` (see :func:`smallest_gap_ns`).
    """
    rows = []
    for name, (func, info_name, is_ns) in CLOCKS.items():
        info = time.get_clock_info(info_name)
        rows.append(
            {
                "clock": name,
                "implementation": info.implementation,
                "resolution_ns": info.resolution * 1e9,
                "monotonic": info.monotonic,
                "adjustable": info.adjustable,
                "overhead_ns": call_overhead_ns(func, calls, repeats),
                "smallest_gap_ns": smallest_gap_ns(func, is_ns, reads),
            }
        )
    return pd.DataFrame(rows).set_index("clock")
