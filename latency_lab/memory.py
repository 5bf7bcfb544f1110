"""Memory-hierarchy experiments: cache sizes, traversal order, data layout (lesson 03).

Each experiment is a small compiled kernel whose ``.py_func`` is the same code run by the
interpreter, so the lesson can show both without writing anything twice. Timings come from
:func:`best_of`; wall-clock claims about them live in ``benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from latency_lab import validate

#: A tick record as an array of structs (40 bytes a row).
TICK_DTYPE = np.dtype(
    [
        ("ts", "i8"),
        ("price", "f8"),
        ("size", "f8"),
        ("venue", "i4"),
        ("side", "i4"),
        ("order_id", "i8"),
    ]
)


def best_of(func: Callable[[], object], repeats: int = 5) -> float:
    """Fastest of ``repeats`` calls, in seconds (the least disturbed run)."""
    repeats = validate.integer("repeats", repeats, low=1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        func()
        times.append(time.perf_counter_ns() - start)
    return min(times) / 1e9


def cache_sizes() -> dict[str, int]:
    """Data-cache sizes in bytes by level (``L1``, ``L2``, ``L3``), read from Linux sysfs.

    Returns an empty dict where sysfs does not describe the caches (macOS, Windows).
    """
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes[f"L{level}"] = int(text[:-1]) * {"K": 1024, "M": 1024**2}.get(text[-1], 1)
    return sizes


# -- the cache hierarchy: dependent random loads ----------------------------------------------
def random_cycle(n: int, seed=0) -> np.ndarray:
    """A random permutation forming one single cycle through all ``n`` slots (Sattolo)."""
    n = validate.integer("n", n, low=2)
    order = np.random.default_rng(seed).permutation(n)
    nxt = np.empty(n, dtype=np.int64)
    nxt[order] = np.roll(order, -1)  # each slot points to the next one in the shuffled order
    return nxt


@njit(cache=True)
def chase(nxt, steps):
    """Follow ``steps`` links: each load's address depends on the previous load."""
    i = 0
    for _ in range(steps):
        i = nxt[i]
    return i


def load_latency_ns(working_set_bytes: int, steps: int = 2_000_000, seed=0) -> float:
    """Nanoseconds per dependent load when chasing pointers through a working set."""
    nxt = random_cycle(max(working_set_bytes // 8, 2), seed)
    chase(nxt, 1_000)  # compile, and touch the pages once
    return best_of(lambda: chase(nxt, steps), repeats=3) / steps * 1e9


def cache_sweep(sizes_bytes, steps: int = 2_000_000) -> pd.DataFrame:
    """Load latency (ns) for each working-set size: steps appear at each cache's size."""
    return pd.DataFrame(
        {
            "bytes": list(sizes_bytes),
            "ns_per_load": [load_latency_ns(s, steps) for s in sizes_bytes],
        }
    )


# -- traversal order -----------------------------------------------------------------------------
@njit(cache=True)
def sum_by_rows(a, rows):
    """Sum the first ``rows`` rows, walking each row left to right (contiguous in C order)."""
    total = 0.0
    for i in range(rows):
        for j in range(a.shape[1]):
            total += a[i, j]
    return total


@njit(cache=True)
def sum_by_columns(a, cols):
    """Sum the first ``cols`` columns, walking each column top to bottom (one row apart)."""
    total = 0.0
    for j in range(cols):
        for i in range(a.shape[0]):
            total += a[i, j]
    return total


def traversal_table(n: int = 4096, lines: int = 256) -> pd.DataFrame:
    """Seconds to sum ``lines`` rows vs ``lines`` columns of an n×n C-ordered array
    (the same number of elements), compiled and interpreted, with their ratios."""
    a = np.random.default_rng(0).random((n, n))
    kernels = {"by rows": sum_by_rows, "by columns": sum_by_columns}
    rows = {}
    for name, kernel in kernels.items():
        kernel(a, 1)  # compile
        rows[name] = {
            "compiled": best_of(lambda k=kernel: k(a, lines)),
            "interpreted": best_of(lambda k=kernel: k.py_func(a, lines), repeats=1),
        }
    table = pd.DataFrame(rows).T
    table.loc["columns / rows"] = table.loc["by columns"] / table.loc["by rows"]
    return table


# -- array of structs vs struct of arrays --------------------------------------------------------
def make_ticks(n: int, seed=0) -> np.ndarray:
    """``n`` synthetic ticks as a structured array (array of structs, 40 bytes a row)."""
    rng = np.random.default_rng(seed)
    ticks = np.zeros(n, dtype=TICK_DTYPE)
    ticks["ts"] = np.cumsum(rng.integers(1, 1_000, n))
    ticks["price"] = 100 + np.cumsum(rng.normal(0, 0.01, n))
    ticks["size"] = rng.integers(1, 100, n)
    ticks["venue"] = rng.integers(0, 8, n)
    ticks["side"] = rng.integers(0, 2, n)
    ticks["order_id"] = np.arange(n)
    return ticks


@njit(cache=True)
def vwap_loop(prices, sizes):
    """Volume-weighted average price by an explicit loop (compiled, or interpreted via py_func)."""
    notional = 0.0
    volume = 0.0
    for i in range(prices.size):
        notional += prices[i] * sizes[i]
        volume += sizes[i]
    return notional / volume


def vwap_vectorized(prices, sizes) -> float:
    """Volume-weighted average price with numpy: one dot product, one sum."""
    return float(np.dot(prices, sizes) / sizes.sum())


def strided_copy_table(n: int = 4096) -> pd.DataFrame:
    """Seconds to copy an n×n array in memory order vs through its transpose's strides."""
    n = validate.integer("n", n, low=2)
    a = np.random.default_rng(0).random((n, n))
    table = pd.DataFrame(
        {
            "seconds": {
                "a.copy() (memory order)": best_of(a.copy, repeats=3),
                "np.ascontiguousarray(a.T) (strided reads)": best_of(
                    lambda: np.ascontiguousarray(a.T), repeats=3
                ),
            }
        }
    )
    table["vs memory order"] = table["seconds"] / table["seconds"].iloc[0]
    return table


def layout_table(n: int = 1_000_000) -> pd.DataFrame:
    """VWAP over ``n`` ticks by layout and method: nanoseconds per tick and bytes per tick.

    Layouts: a list of Python tuples, an array of structs (``TICK_DTYPE``, 40 bytes a row)
    and a struct of arrays (contiguous price and size columns, 16 bytes a row). Methods:
    an interpreted loop, numpy vectorized, a compiled loop.
    """
    n = validate.integer("n", n, low=1)
    aos = make_ticks(n)
    prices, sizes = np.ascontiguousarray(aos["price"]), np.ascontiguousarray(aos["size"])
    tuples = list(zip(prices.tolist(), sizes.tolist(), strict=True))
    vwap_loop(prices, sizes)  # compile outside the timing

    def tuple_loop():
        return sum(p * s for p, s in tuples) / sum(s for _, s in tuples)

    cases = {
        ("list of tuples", "interpreted loop"): (tuple_loop, 1, None),
        ("struct of arrays", "interpreted loop"): (lambda: vwap_loop.py_func(prices, sizes), 1, 16),
        ("array of structs", "numpy vectorized"): (
            lambda: vwap_vectorized(aos["price"], aos["size"]),
            5,
            40,
        ),
        ("struct of arrays", "numpy vectorized"): (lambda: vwap_vectorized(prices, sizes), 5, 16),
        ("array of structs", "compiled loop"): (
            lambda: vwap_loop(aos["price"], aos["size"]),
            5,
            40,
        ),
        ("struct of arrays", "compiled loop"): (lambda: vwap_loop(prices, sizes), 5, 16),
    }
    rows = [
        {
            "layout": layout,
            "method": method,
            "ns_per_tick": best_of(f, repeats) / n * 1e9,
            "bytes_per_tick": b,
        }
        for (layout, method), (f, repeats, b) in cases.items()
    ]
    return pd.DataFrame(rows).set_index(["layout", "method"])
