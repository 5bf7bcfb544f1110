"""``LatencyTracker``: record wall-clock latencies in ns without disturbing them (lesson 02).

The buffer is a preallocated int64 array, so recording a sample allocates nothing; the
first ``warmup`` samples are counted and discarded (cold caches, lazy imports, JIT); when
the buffer is full further samples are counted in ``dropped`` rather than silently lost
or grown into, and ``summary()`` reports them. Samples are whole nanoseconds: a float is
refused rather than truncated, and so is a clock that does not return integers.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from latency_lab import stats, timing, validate

#: Largest ``capacity`` a tracker accepts: 10**8 int64 samples are 800 MB, allocated up front.
MAX_CAPACITY = 100_000_000

#: The unit of every stored sample and every value in ``summary()`` (keys end in ``_ns``).
UNIT = "ns"

#: Largest ``calls * repeats`` of :func:`measurement_overhead` (it keeps every sample).
MAX_OVERHEAD_SAMPLES = 5_000_000

_INT64_MAX = int(np.iinfo(np.int64).max)


class LatencyTracker:
    """Collects latency samples (ns) with warm-up, overflow accounting and CO correction.

    Parameters
    ----------
    capacity : int, 1..MAX_CAPACITY
        Samples kept after warm-up; the buffer is allocated once, up front.
    warmup : int, >= 0
        Number of initial samples to discard.
    expected_interval_ns : int or None
        The interval at which requests *should* have been issued (open-loop rate). When
        set, ``summary()`` and ``samples(corrected=True)`` add back the samples a stall
        suppressed (coordinated-omission correction, see
        :func:`latency_lab.stats.correct_coordinated_omission`).
    clock : callable returning int nanoseconds
        ``time.perf_counter_ns`` unless a test or lesson needs another. It is called once
        here to check that it returns an integer: a float clock such as
        ``time.perf_counter`` (seconds) would record spans of 0 ns.

    Attributes
    ----------
    unit : str
        ``"ns"``: the unit of every stored sample (plots read it to label their axes).

    Examples
    --------
    >>> tracker = LatencyTracker(capacity=1_000, warmup=10)
    >>> for _ in range(100):
    ...     with tracker.measure():
    ...         sum(range(100))
    >>> tracker.count
    90
    """

    unit = UNIT
    MAX_CAPACITY = MAX_CAPACITY

    def __init__(
        self,
        capacity: int = 100_000,
        warmup: int = 0,
        expected_interval_ns: int | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
    ):
        self.capacity = validate.integer("capacity", capacity, low=1, high=MAX_CAPACITY)
        self.warmup = validate.integer("warmup", warmup, low=0)
        if expected_interval_ns is not None:
            expected_interval_ns = validate.integer(
                "expected_interval_ns", expected_interval_ns, low=1
            )
        self.expected_interval_ns = expected_interval_ns
        if not callable(clock):
            raise TypeError("clock must be a callable returning int nanoseconds")
        reading = clock()
        if isinstance(reading, bool) or not isinstance(reading, int | np.integer):
            name = getattr(clock, "__name__", type(clock).__name__)
            raise TypeError(
                f"clock must return int nanoseconds, but {name}() returned "
                f"{type(reading).__name__} {reading!r}: use time.perf_counter_ns"
            )
        self.clock = clock
        self._buffer = np.zeros(self.capacity, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget every sample and restart the warm-up (the buffer is reused)."""
        self._count = 0
        self._seen = 0
        self.dropped = 0

    # -- recording ---------------------------------------------------------------------
    def record(self, latency_ns: int) -> None:
        """Record one latency in whole nanoseconds (ignored during warm-up, counted if full).

        Python ints and numpy integers are accepted; a float (``1.9``) is a ``TypeError``
        rather than a silently truncated sample, a negative value a ``ValueError``.
        """
        if type(latency_ns) is not int:  # the hot path is a plain int: one cheap test
            latency_ns = _whole_ns(latency_ns)
        if latency_ns < 0 or latency_ns > _INT64_MAX:
            raise ValueError(f"latency_ns must be in [0, {_INT64_MAX:,}], got {latency_ns}")
        self._seen += 1
        if self._seen <= self.warmup:
            return
        if self._count == self.capacity:
            if self.dropped == 0:
                warnings.warn(
                    f"LatencyTracker is full (capacity={self.capacity}); further samples are "
                    "counted in .dropped, not stored",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self.dropped += 1
            return
        self._buffer[self._count] = latency_ns
        self._count += 1

    def measure(self) -> _Span:
        """Time a block (``with tracker.measure(): ...``) or every call of a function
        (``@tracker.measure()``), including ones that raise."""
        return _Span(self)

    def time_calls(self, func: Callable[[], object], calls: int) -> LatencyTracker:
        """Call ``func()`` ``calls`` times, recording each call's latency; returns self.

        Two bare clock reads around each call (the least biased form, see
        :func:`measurement_overhead`), so per-operation distributions of cheap operations
        stay comparable. ``calls`` is at most ``warmup + capacity``: more could only be
        dropped.
        """
        calls = validate.integer("calls", calls, low=0, high=self.warmup + self.capacity)
        clock = self.clock
        for _ in range(calls):
            start = clock()
            func()
            self.record(clock() - start)
        return self

    # -- reading -----------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Samples stored (after warm-up, excluding dropped ones)."""
        return self._count

    def samples(self, corrected: bool = False) -> np.ndarray:
        """The stored samples in recording order (a read-only view), or a corrected copy."""
        view = self._buffer[: self._count]
        view.flags.writeable = False
        if corrected:
            if self.expected_interval_ns is None:
                raise ValueError("corrected=True needs expected_interval_ns to be set")
            return stats.correct_coordinated_omission(view, self.expected_interval_ns)
        return view

    def summary(self, corrected: bool | None = None) -> dict[str, float]:
        """:func:`latency_lab.stats.summary` of the samples in ns, plus ``dropped``.

        Keys say the unit: ``count``, ``mean_ns``, ``std_ns``, ``min_ns``, ``p50_ns``,
        ``p90_ns``, ``p99_ns``, ``p99.9_ns``, ``max_ns``, ``dropped``. ``corrected``
        defaults to True exactly when ``expected_interval_ns`` is set.
        """
        if self._count == 0:
            raise ValueError("the tracker has no samples yet (all warm-up, or none recorded)")
        if corrected is None:
            corrected = self.expected_interval_ns is not None
        out = stats.summary(self.samples(corrected=corrected), unit=UNIT)
        out["dropped"] = self.dropped
        return out

    def to_frame(self) -> pd.DataFrame:
        """Stored samples as a DataFrame with column ``latency_ns``, indexed by sample number."""
        return pd.DataFrame(
            {"latency_ns": self.samples()}, index=pd.RangeIndex(self._count, name="sample")
        )

    def __repr__(self) -> str:
        return (
            f"LatencyTracker(count={self._count}, capacity={self.capacity}, "
            f"warmup={self.warmup}, dropped={self.dropped})"
        )


def _whole_ns(value) -> int:
    """``value`` as an int if it is an integer (numpy ones included); else ``TypeError``."""
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(
        f"latency_ns must be an integer number of nanoseconds, got {type(value).__name__} "
        f"{value!r} (time spans from time.perf_counter_ns are ints)"
    )


class _Span:
    """What ``LatencyTracker.measure()`` returns: a context manager and a decorator."""

    __slots__ = ("_tracker", "_start")

    def __init__(self, tracker: LatencyTracker):
        self._tracker = tracker

    def __enter__(self) -> _Span:
        self._start = self._tracker.clock()
        return self

    def __exit__(self, *exc) -> None:
        self._tracker.record(self._tracker.clock() - self._start)

    def __call__(self, func: Callable) -> Callable:
        tracker = self._tracker

        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = tracker.clock()
            try:
                return func(*args, **kwargs)
            finally:
                tracker.record(tracker.clock() - start)

        return timed


def measurement_overhead(
    calls: int = 100_000, repeats: int = 7, clock: Callable[[], int] = time.perf_counter_ns
) -> pd.DataFrame:
    """What measuring costs, per form: two bare reads, ``with measure()``, ``@measure()``.

    ``bias_ns`` is the median of what each form *records* for an empty block: time that
    lands in every sample on top of the code measured. ``cost_ns`` is what the hot path
    *pays* per measurement: its bulk cost minus that of a plain no-op call, median over
    ``repeats`` interleaved rounds of ``calls`` calls (:func:`latency_lab.timing.compare`).
    ``attrs["cost_per_round_ns"]`` holds that cost round by round (rounds × forms), from
    which ``benchmarks/bench_tracker.py`` prints ratios with their ranges. ``clock`` is the
    clock every form reads (a test may pass a fake one); ``calls * repeats`` is at most
    ``MAX_OVERHEAD_SAMPLES``, since every sample is kept.
    """
    calls = validate.integer("calls", calls, low=1, high=MAX_OVERHEAD_SAMPLES)
    repeats = validate.integer("repeats", repeats, low=1, high=MAX_OVERHEAD_SAMPLES)
    if calls * repeats > MAX_OVERHEAD_SAMPLES:
        raise ValueError(
            f"calls * repeats must be <= {MAX_OVERHEAD_SAMPLES:,} (every recorded sample is "
            f"kept), got {calls:,} * {repeats:,}"
        )
    # room for every call the harness makes (warm-up, probe, one re-warm per round), so a
    # tracker never fills up (a full tracker takes a cheaper path and would flatter its cost)
    capacity = calls * repeats + 2 * repeats + 10
    ctx = LatencyTracker(capacity=capacity, clock=clock)
    dec = LatencyTracker(capacity=capacity, clock=clock)

    def noop():
        pass

    def bare():
        t0 = clock()
        return clock() - t0

    def with_block():
        with ctx.measure():
            pass

    bare_bias = float(np.median([bare() for _ in range(calls)]))
    forms = {
        "two bare reads": bare,
        "with measure()": with_block,
        "@measure()": dec.measure()(noop),
        "no-op call": noop,
    }
    per_round = timing.per_round(timing.compare(forms, rounds=repeats, calls=calls))
    cost = per_round.drop(columns="no-op call").sub(per_round["no-op call"], axis=0)
    bias = {
        "two bare reads": bare_bias,
        "with measure()": float(np.median(ctx.samples())),
        "@measure()": float(np.median(dec.samples())),
    }
    table = pd.DataFrame({"cost_ns": cost.median(), "bias_ns": bias})
    table.index.name = None
    table.attrs["cost_per_round_ns"] = cost
    return table
