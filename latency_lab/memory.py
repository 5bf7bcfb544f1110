"""Memory-hierarchy experiments: cache sizes, traversal order, data layout (lesson 03).

Each experiment is a small compiled kernel whose ``.py_func`` is the same code run by the
interpreter, so the lesson can show both without writing anything twice. The kernels are
public and check their own sizes and indices (a bad call raises ``ValueError``, never
reads out of bounds); their array types are fixed, so other dtypes raise ``TypeError``.
Timings come from :func:`latency_lab.timing.compare` in interleaved rounds, in ns;
wall-clock claims about them live in ``benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from latency_lab import timing, validate

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

#: Largest array an experiment allocates (bytes); bigger requests are refused up front.
MAX_ARRAY_BYTES = 1 << 30
#: Largest working set :func:`load_latency_ns` and :func:`random_cycle` build (bytes).
MAX_WORKING_SET_BYTES = MAX_ARRAY_BYTES
#: Most links :func:`chase` follows in one call (about 10 s at main-memory latency).
MAX_STEPS = 100_000_000
#: Largest matrix side of the traversal and copy experiments (n × n float64 ≤ 1 GiB).
MAX_SIDE = math.isqrt(MAX_ARRAY_BYTES // 8)
#: Largest side of :func:`strided_copy_table` (an n × n source and its copy ≤ 1 GiB).
MAX_COPY_SIDE = math.isqrt(MAX_ARRAY_BYTES // 16)
#: Most ticks :func:`make_ticks` builds (40 bytes each).
MAX_TICKS = MAX_ARRAY_BYTES // TICK_DTYPE.itemsize
#: Most ticks :func:`layout_table` compares (it also holds them as Python tuples).
MAX_LAYOUT_TICKS = 5_000_000

_STEPS_MESSAGE = f"steps must be in [0, {MAX_STEPS:,}]"

# Kernel signatures: C-contiguous arrays first (the fast path), then any strides.
_F1 = ("float64[::1]", "float64[:]")
_F2 = ("float64[:, ::1]", "float64[:, :]")


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
    """A random permutation forming one single cycle through all ``n`` slots (Sattolo).

    ``n`` is 2 to ``MAX_WORKING_SET_BYTES // 8``; ``seed`` is an int >= 0 or a Generator.
    """
    n = validate.integer("n", n, low=2, high=MAX_WORKING_SET_BYTES // 8)
    order = validate.rng("seed", seed).permutation(n)
    nxt = np.empty(n, dtype=np.int64)
    nxt[order[:-1]] = order[1:]  # each slot points to the next one in the shuffled order
    nxt[order[-1]] = order[0]
    return nxt


@njit([f"int64({a}, int64)" for a in ("int64[::1]", "int64[:]")], cache=True)
def chase(nxt, steps):
    """Follow ``steps`` links from slot 0: each load's address depends on the previous load.

    ``steps`` is 0 to ``MAX_STEPS``; a link outside ``nxt`` raises ``ValueError``.
    """
    if steps < 0 or steps > MAX_STEPS:
        raise ValueError(_STEPS_MESSAGE)
    n = nxt.size
    i = 0
    for _ in range(steps):
        if i < 0 or i >= n:
            raise ValueError("nxt holds a link outside the array (or is empty)")
        i = nxt[i]
    return i


def load_latency_ns(
    working_set_bytes: int, steps: int = 2_000_000, seed=0, rounds: int = 3
) -> float:
    """Nanoseconds per dependent load when chasing pointers through a working set.

    ``working_set_bytes`` is 16 to ``MAX_WORKING_SET_BYTES``, ``steps`` 1 to ``MAX_STEPS``;
    the figure is the median over ``rounds`` of :func:`latency_lab.timing.compare`.
    """
    working_set_bytes = validate.integer(
        "working_set_bytes", working_set_bytes, low=16, high=MAX_WORKING_SET_BYTES
    )
    steps = validate.integer("steps", steps, low=1, high=MAX_STEPS)
    nxt = random_cycle(working_set_bytes // 8, seed)  # writing it maps every page
    frame = timing.compare({"chase": lambda: chase(nxt, steps)}, rounds=rounds)
    return float(frame["ns_per_call"].median()) / steps


def size_label(n: int) -> str:
    """``n`` bytes (an integer >= 0) as a short label: ``"512 B"``, ``"64 KiB"``, ``"3 MiB"``."""
    n = validate.integer("n", n, low=0)
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def _check_sizes(sizes_bytes) -> np.ndarray:
    sizes = validate.samples("sizes_bytes", sizes_bytes)
    if sizes.dtype.kind not in "iu" or not 1 <= sizes.size <= 64:
        raise ValueError("sizes_bytes must be 1 to 64 integer sizes in bytes")
    if sizes.min() < 16 or sizes.max() > MAX_WORKING_SET_BYTES:
        raise ValueError(f"sizes_bytes must each be in [16, {MAX_WORKING_SET_BYTES:,}] bytes")
    if int(sizes.sum()) > MAX_WORKING_SET_BYTES:
        raise ValueError(
            f"sizes_bytes add up to more than MAX_WORKING_SET_BYTES={MAX_WORKING_SET_BYTES:,} "
            "(every working set is held at once)"
        )
    return sizes.astype(np.int64)


def chase_cases(sizes_bytes, steps: int = 2_000_000, seed=0) -> dict[str, Callable[[], int]]:
    """One pointer-chasing candidate per working-set size, for :func:`latency_lab.timing.compare`.

    Names are :func:`size_label` of each size (``"4 KiB"``, ``"256 MiB"``); each candidate
    follows ``steps`` links of its own random cycle, so its time divided by ``steps`` is
    the latency of one dependent load. ``sizes_bytes`` holds 1 to 64 distinct integer sizes,
    each 16 to ``MAX_WORKING_SET_BYTES`` and together at most that (all are held at once);
    ``steps`` is 1 to ``MAX_STEPS``.
    """
    sizes = _check_sizes(sizes_bytes)
    steps = validate.integer("steps", steps, low=1, high=MAX_STEPS)
    rng = validate.rng("seed", seed)
    labels = [size_label(int(size)) for size in sizes]
    if len(set(labels)) != len(labels):
        raise ValueError("sizes_bytes must be distinct")
    cases = {}
    for label, size in zip(labels, sizes, strict=True):
        nxt = random_cycle(int(size) // 8, rng)  # writing it maps every page
        cases[label] = lambda nxt=nxt: chase(nxt, steps)
    return cases


def cache_sweep(sizes_bytes, steps: int = 2_000_000, rounds: int = 3) -> pd.DataFrame:
    """Load latency for each working-set size, all sizes timed in the same interleaved
    rounds: steps appear at each cache's size.

    One row per size (see :func:`chase_cases` for the limits): ``bytes``, ``label``,
    ``ns_per_load`` (median over ``rounds``) and its range over the rounds,
    ``ns_per_load_low`` and ``ns_per_load_high``.
    """
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    steps = validate.integer("steps", steps, low=1, high=MAX_STEPS)
    cases = chase_cases(sizes_bytes, steps)
    per_load = timing.per_round(timing.compare(cases, rounds=rounds)) / steps
    return pd.DataFrame(
        {
            "bytes": _check_sizes(sizes_bytes),
            "label": list(cases),
            "ns_per_load": per_load.median().to_numpy(),
            "ns_per_load_low": per_load.min().to_numpy(),
            "ns_per_load_high": per_load.max().to_numpy(),
        }
    )


# -- traversal order -----------------------------------------------------------------------------
@njit([f"float64({a}, int64)" for a in _F2], cache=True)
def sum_by_rows(a, rows):
    """Sum the first ``rows`` rows, walking each row left to right (contiguous in C order).

    ``rows`` is 0 to ``a.shape[0]``, else ``ValueError``.
    """
    if rows < 0 or rows > a.shape[0]:
        raise ValueError("rows must be in [0, a.shape[0]]")
    total = 0.0
    for i in range(rows):
        for j in range(a.shape[1]):
            total += a[i, j]
    return total


@njit([f"float64({a}, int64)" for a in _F2], cache=True)
def sum_by_columns(a, cols):
    """Sum the first ``cols`` columns, walking each column top to bottom (one row apart).

    ``cols`` is 0 to ``a.shape[1]``, else ``ValueError``.
    """
    if cols < 0 or cols > a.shape[1]:
        raise ValueError("cols must be in [0, a.shape[1]]")
    total = 0.0
    for j in range(cols):
        for i in range(a.shape[0]):
            total += a[i, j]
    return total


def _ratio_row(frame: pd.DataFrame, numerator: str, denominator: str) -> dict[str, float]:
    ratio = timing.ratios(frame, numerator, denominator)
    return {"ratio": ratio.median(), "ratio_low": ratio.min(), "ratio_high": ratio.max()}


#: The methods :func:`traversal_cases` times, and how each runs the kernels.
TRAVERSAL_METHODS = ("compiled", "interpreted")


def traversal_cases(n: int = 4096, lines: int = 256, seed=0) -> dict[str, Callable[[], float]]:
    """Sum ``lines`` rows vs ``lines`` columns of one random n×n C-ordered float64 array —
    the same number of elements — compiled and interpreted (``.py_func``), as candidates
    for :func:`latency_lab.timing.compare`.

    Names: ``"compiled, by rows"``, ``"compiled, by columns"``, ``"interpreted, by rows"``,
    ``"interpreted, by columns"``. Each call sums ``lines × n`` elements. ``n`` is 2 to
    ``MAX_SIDE``, ``lines`` 1 to ``n``; ``seed`` is an int >= 0 or a Generator.
    """
    n = validate.integer("n", n, low=2, high=MAX_SIDE)
    lines = validate.integer("lines", lines, low=1, high=n)
    a = validate.rng("seed", seed).random((n, n))
    kernels = {
        "compiled": (sum_by_rows, sum_by_columns),
        "interpreted": (sum_by_rows.py_func, sum_by_columns.py_func),
    }
    cases = {}
    for method, (by_rows, by_columns) in kernels.items():
        cases[f"{method}, by rows"] = lambda f=by_rows: f(a, lines)
        cases[f"{method}, by columns"] = lambda f=by_columns: f(a, lines)
    return cases


def traversal_table(n: int = 4096, lines: int = 256, rounds: int = 7) -> pd.DataFrame:
    """Sum ``lines`` rows vs ``lines`` columns of an n×n C-ordered array (the same number of
    elements), compiled and interpreted, all four timed in the same interleaved rounds.

    One row per method (``compiled``, ``interpreted``); columns ``rows_ns`` and
    ``columns_ns`` (median ns per sum over rounds), and the per-round ratio columns / rows
    as ``ratio`` (median), ``ratio_low`` and ``ratio_high`` (its range), and ``rounds``.
    ``n`` is 2 to ``MAX_SIDE``, ``lines`` 1 to ``n``, ``rounds`` 1 to ``timing.MAX_ROUNDS``.
    """
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    frame = timing.compare(traversal_cases(n, lines), rounds=rounds)
    medians = timing.summarize(frame)["median_ns"]
    table = {}
    for method in TRAVERSAL_METHODS:
        rows, columns = f"{method}, by rows", f"{method}, by columns"
        table[method] = {
            "rows_ns": medians[rows],
            "columns_ns": medians[columns],
            **_ratio_row(frame, columns, rows),
            "rounds": frame.attrs["rounds"],
        }
    return pd.DataFrame(table).T.astype({"rounds": np.int64}).rename_axis("method")


# -- array of structs vs struct of arrays --------------------------------------------------------
def make_ticks(n: int, seed=0) -> np.ndarray:
    """``n`` synthetic ticks (1 to ``MAX_TICKS``) as a structured array (array of structs,
    40 bytes a row); ``seed`` is an int >= 0 or a Generator."""
    n = validate.integer("n", n, low=1, high=MAX_TICKS)
    rng = validate.rng("seed", seed)
    ticks = np.zeros(n, dtype=TICK_DTYPE)
    ticks["ts"] = np.cumsum(rng.integers(1, 1_000, n))
    ticks["price"] = 100 + np.cumsum(rng.normal(0, 0.01, n))
    ticks["size"] = rng.integers(1, 100, n)
    ticks["venue"] = rng.integers(0, 8, n)
    ticks["side"] = rng.integers(0, 2, n)
    ticks["order_id"] = np.arange(n)
    return ticks


@njit([f"float64({a}, {a})" for a in _F1], cache=True)
def vwap_loop(prices, sizes):
    """Volume-weighted average price by an explicit loop (compiled, or interpreted via py_func).

    ``prices`` and ``sizes`` are float64 arrays of one length, not empty, with a non-zero
    total size; otherwise ``ValueError``.
    """
    if prices.size != sizes.size:
        raise ValueError("prices and sizes must have the same length")
    if prices.size == 0:
        raise ValueError("prices is empty: there is no VWAP")
    notional = 0.0
    volume = 0.0
    for i in range(prices.size):
        notional += prices[i] * sizes[i]
        volume += sizes[i]
    if volume == 0.0:
        raise ValueError("sizes sum to zero: there is no VWAP")
    return notional / volume


def vwap_vectorized(prices, sizes) -> float:
    """Volume-weighted average price with numpy: one sum of products, one sum.

    The sum of products is ``np.einsum("i,i->", ...)``, a single-threaded SIMD kernel, not
    ``np.dot``: numpy hands a long dot product to a multithreaded BLAS whose worker threads
    must be woken whenever the dot is not called back to back, and on a small virtual
    machine that wake-up can cost milliseconds — hiding the memory effects lesson 03 shows.

    Takes 1-D arrays of one length (strided columns of a structured array are fine), not
    empty, with a non-zero total size; otherwise ``ValueError``.
    """
    prices, sizes = np.asarray(prices), np.asarray(sizes)
    if prices.ndim != 1 or sizes.ndim != 1 or prices.size != sizes.size:
        raise ValueError(
            f"prices and sizes must be 1-D of one length, got shapes {prices.shape} and "
            f"{sizes.shape}"
        )
    if prices.size == 0:
        raise ValueError("prices is empty: there is no VWAP")
    volume = sizes.sum()
    if volume == 0:
        raise ValueError("sizes sum to zero: there is no VWAP")
    return float(np.einsum("i,i->", prices, sizes) / volume)


#: The name of the memory-order copy among :func:`strided_copy_cases`.
MEMORY_ORDER_COPY = "a.copy() (memory order)"
#: The name of the copy through the transpose's strides among :func:`strided_copy_cases`.
STRIDED_COPY = "np.ascontiguousarray(a.T) (strided reads)"


def strided_copy_cases(n: int = 4096, seed=0) -> dict[str, Callable[[], np.ndarray]]:
    """Copy one random n×n float64 array in memory order (``MEMORY_ORDER_COPY``) vs through
    its transpose's strides (``STRIDED_COPY``), as candidates for
    :func:`latency_lab.timing.compare`. ``n`` is 2 to ``MAX_COPY_SIDE`` (source and copy
    within ``MAX_ARRAY_BYTES``)."""
    n = validate.integer("n", n, low=2, high=MAX_COPY_SIDE)
    a = validate.rng("seed", seed).random((n, n))
    return {MEMORY_ORDER_COPY: a.copy, STRIDED_COPY: lambda: np.ascontiguousarray(a.T)}


def strided_copy_table(n: int = 4096, rounds: int = 7) -> pd.DataFrame:
    """Copy an n×n array in memory order vs through its transpose's strides, interleaved.

    One row per copy; columns ``time_ns`` (median over rounds) and, per round, the copy's
    time over the memory-order copy: ``vs_memory_order`` (median), ``ratio_low`` and
    ``ratio_high``. ``n`` is 2 to ``MAX_COPY_SIDE`` (source and copy within ``MAX_ARRAY_BYTES``).
    """
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    cases = strided_copy_cases(n)
    frame = timing.compare(cases, rounds=rounds)
    medians = timing.summarize(frame)["median_ns"]
    rows = {}
    for name in cases:
        ratio = _ratio_row(frame, name, MEMORY_ORDER_COPY)
        rows[name] = {
            "time_ns": medians[name],
            "vs_memory_order": ratio["ratio"],
            "ratio_low": ratio["ratio_low"],
            "ratio_high": ratio["ratio_high"],
        }
    return pd.DataFrame(rows).T


#: The (layout, method) pairs of :func:`layout_cases`, with the bytes per tick each layout
#: stores for the fields a VWAP reads (None: Python objects, no fixed size).
LAYOUTS = {
    ("list of tuples", "interpreted loop"): None,
    ("struct of arrays", "interpreted loop"): 16,
    ("array of structs", "numpy vectorized"): 40,
    ("struct of arrays", "numpy vectorized"): 16,
    ("array of structs", "compiled loop"): 40,
    ("struct of arrays", "compiled loop"): 16,
}


def layout_name(layout: str, method: str) -> str:
    """The candidate name of a (layout, method) pair in :func:`layout_cases`:
    ``"layout / method"``, e.g. ``"struct of arrays / numpy vectorized"``."""
    if (layout, method) not in LAYOUTS:
        raise ValueError(
            f"(layout, method) must be one of {list(LAYOUTS)}, got {(layout, method)!r}"
        )
    return f"{layout} / {method}"


def layout_cases(n: int = 1_000_000, seed=0) -> dict[str, Callable[[], float]]:
    """The VWAP of ``n`` ticks (1 to ``MAX_LAYOUT_TICKS``) by layout and method, as
    candidates for :func:`latency_lab.timing.compare`, named by :func:`layout_name`.

    Layouts: a list of Python tuples, an array of structs (``TICK_DTYPE``, 40 bytes a row)
    and a struct of arrays (contiguous price and size columns, 16 bytes a row). Methods:
    an interpreted loop, numpy vectorized (:func:`vwap_vectorized`), a compiled loop
    (:func:`vwap_loop`). Every candidate computes the same VWAP of the same ticks.
    """
    n = validate.integer("n", n, low=1, high=MAX_LAYOUT_TICKS)
    aos = make_ticks(n, seed)
    prices, sizes = np.ascontiguousarray(aos["price"]), np.ascontiguousarray(aos["size"])
    tuples = list(zip(prices.tolist(), sizes.tolist(), strict=True))

    def tuple_loop():
        notional = volume = 0.0
        for price, size in tuples:
            notional += price * size
            volume += size
        return notional / volume

    functions = {
        ("list of tuples", "interpreted loop"): tuple_loop,
        ("struct of arrays", "interpreted loop"): lambda: vwap_loop.py_func(prices, sizes),
        ("array of structs", "numpy vectorized"): lambda: vwap_vectorized(
            aos["price"], aos["size"]
        ),
        ("struct of arrays", "numpy vectorized"): lambda: vwap_vectorized(prices, sizes),
        ("array of structs", "compiled loop"): lambda: vwap_loop(aos["price"], aos["size"]),
        ("struct of arrays", "compiled loop"): lambda: vwap_loop(prices, sizes),
    }
    return {layout_name(*key): functions[key] for key in LAYOUTS}


def layout_table(n: int = 1_000_000, rounds: int = 5) -> pd.DataFrame:
    """VWAP over ``n`` ticks by layout and method: nanoseconds per tick and bytes per tick.

    The six :func:`layout_cases` are timed in the same interleaved rounds. One row per
    (layout, method): ``ns_per_tick`` (median over rounds), its range over the rounds
    ``ns_per_tick_low`` and ``ns_per_tick_high``, and ``bytes_per_tick`` (see
    :data:`LAYOUTS`). ``n`` is 1 to ``MAX_LAYOUT_TICKS``.
    """
    rounds = validate.integer("rounds", rounds, low=1, high=timing.MAX_ROUNDS)
    n = validate.integer("n", n, low=1, high=MAX_LAYOUT_TICKS)
    per_tick = timing.per_round(timing.compare(layout_cases(n), rounds=rounds)) / n
    rows = [
        {
            "layout": layout,
            "method": method,
            "ns_per_tick": per_tick[layout_name(layout, method)].median(),
            "ns_per_tick_low": per_tick[layout_name(layout, method)].min(),
            "ns_per_tick_high": per_tick[layout_name(layout, method)].max(),
            "bytes_per_tick": np.nan if b is None else b,
        }
        for (layout, method), b in LAYOUTS.items()
    ]
    return pd.DataFrame(rows).set_index(["layout", "method"])
