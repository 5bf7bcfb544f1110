"""Percentiles, summaries, ECDFs and an HDR-style log histogram (lesson 02 onwards).

Every percentile in the course is **exact nearest-rank**: the p-th percentile of n samples
is the sample of rank ceil(p * n / 100) in sorted order (rank 1 for p = 0). It is always a
value that was actually observed and never interpolates between two. The rank is computed
in integer arithmetic from the decimal ``p`` as written (99.9 means 999/10), which is what
Java HdrHistogram's ``getValueAtPercentile`` intends: p99.9 of 1..1000 is 999, p99 of
1..100 is 99, p50 of [1, 2] is 1.

``numpy.percentile(..., method="inverted_cdf")`` follows the same rule but computes the
rank in floating point, so it is one rank too high whenever p * n / 100 is a whole number
that rounding pushes up (99.9 / 100 * 1000 = 999.0000000000001, numpy issue 22582): it
agrees with this module only away from such points.
"""

from __future__ import annotations

import math
from decimal import Decimal
from numbers import Integral, Rational

import numpy as np
import pandas as pd

from latency_lab import validate

#: The percentiles every summary reports together (never p50 alone, never the mean alone).
SUMMARY_PERCENTILES = (50.0, 90.0, 99.0, 99.9)

#: Upper bound on samples synthesized by coordinated-omission correction.
MAX_CORRECTED_SAMPLES = 50_000_000

#: Unit names a summary may carry as a key suffix (``p99_ns``); "µs" is spelled "us".
UNIT_NAMES = ("ns", "us", "ms", "s")


def _exact_ratio(p) -> tuple[int, int]:
    """``p`` (checked to be a number in [0, 100]) as an exact fraction (numerator, denominator).

    Integers and fractions are exact already; a float is taken as the shortest decimal that
    prints as it (``99.9`` -> 999/10), i.e. the number the user wrote, not its binary
    approximation 99.900000000000005684...
    """
    if type(p) is float and 0.0 <= p <= 100.0:  # the common case, checked cheaply (NaN fails)
        return (int(p), 1) if p.is_integer() else Decimal(repr(p)).as_integer_ratio()
    validate.real("p", p, low=0, high=100)
    if isinstance(p, np.ndarray):  # 0-d
        p = p[()]
    if isinstance(p, Integral):
        return int(p), 1
    if isinstance(p, Rational):
        return p.numerator, p.denominator
    return Decimal(str(p)).as_integer_ratio()  # str: shortest repr, numpy scalars included


def nearest_rank(n: int, p):
    """1-based rank of the nearest-rank ``p``-th percentile among ``n`` samples (lesson 02).

    ``max(1, ceil(p * n / 100))``, computed exactly in integers: ``nearest_rank(1000, 99.9)``
    is 999, where floating point gives ``ceil(999.0000000000001) = 1000``. ``p`` is a number
    or an array of numbers in [0, 100]; returns an int for a scalar ``p``, else an int64
    array shaped like ``p``. Strings and booleans raise ``TypeError``; NaN and values outside
    [0, 100] raise ``ValueError``.
    """
    n = validate.integer("n", n, low=1)
    if np.ndim(p) == 0:
        return _rank(n, p)
    return _ranks(n, p)


def _rank(n: int, p) -> int:
    num, den = _exact_ratio(p)
    return max(1, -((-num * n) // (den * 100)))


def _ranks(n: int, p) -> np.ndarray:
    if isinstance(p, str | bytes):
        raise TypeError(f"p must be numbers, got {type(p).__name__}")
    q = np.asarray(p)
    if q.dtype.kind in "iu":  # whole percentiles: exact in vectorised integer arithmetic
        if q.size and (q.min() < 0 or q.max() > 100):
            bad = q[(q < 0) | (q > 100)][0]
            raise ValueError(f"p must be in [0, 100], got {bad}")
        if n <= np.iinfo(np.int64).max // 100:
            return np.maximum(1, -((-q.astype(np.int64) * n) // 100))
    elif q.dtype.kind not in "fO":
        raise TypeError(f"p must be numbers, got dtype {q.dtype}")
    # float64 and object elements as Python objects; narrower floats keep their own repr
    flat = q.ravel().tolist() if q.dtype in (np.float64, object) else q.ravel()
    return np.array([_rank(n, v) for v in flat], dtype=np.int64).reshape(q.shape)


def percentiles(samples, p):
    """Exact nearest-rank percentile(s) of ``samples`` (lesson 02).

    ``p`` is a number or a sequence of numbers in [0, 100] (see :func:`nearest_rank` for
    how the rank is computed). Returns a scalar for scalar ``p`` and an array otherwise.
    Uses ``np.partition`` at the few ranks asked, so it costs O(n) rather than a sort.
    """
    values = validate.samples("samples", samples)
    if np.ndim(p) == 0:
        idx = _rank(values.size, p) - 1
        return np.partition(values, idx)[idx].item()
    idx = _ranks(values.size, p) - 1
    if idx.size == 0:
        return values[:0].reshape(idx.shape)
    return np.partition(values, np.unique(idx))[idx]


def summary(samples, unit: str | None = None) -> dict[str, float]:
    """Count, mean, std, min, p50, p90, p99, p99.9 and max of ``samples`` (lesson 02).

    With ``unit`` (one of :data:`UNIT_NAMES`, or "µs") every value carrying that unit gets
    it as a key suffix (``mean_ns``, ``p99.9_ns``, ``max_ns``; ``count`` has none), so the
    table says its unit; without it the keys are bare and the caller states the unit.
    """
    suffix = _unit_suffix(unit)
    values = validate.samples("samples", samples)
    pcts = percentiles(values, SUMMARY_PERCENTILES)
    return _summary(
        values.size, values.mean(), values.std(), values.min(), pcts, values.max(), suffix
    )


def _unit_suffix(unit) -> str:
    if unit is None:
        return ""
    unit = "us" if unit == "µs" else unit
    return "_" + validate.one_of("unit", unit, UNIT_NAMES)


def _summary(count, mean, std, low, pcts, high, suffix="") -> dict[str, float]:
    out = {"count": int(count)}
    out.update({f"mean{suffix}": float(mean), f"std{suffix}": float(std)})
    out[f"min{suffix}"] = float(low)
    for p, v in zip(SUMMARY_PERCENTILES, pcts, strict=True):
        out[percentile_label(p) + suffix] = float(v)
    out[f"max{suffix}"] = float(high)
    return out


def percentile_label(p: float) -> str:
    """'p50', 'p99', 'p99.9': the label a percentile gets in tables."""
    return f"p{validate.real('p', p, low=0, high=100):g}"


def ecdf(samples) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF: sorted values ``x`` and ``y[i]`` = fraction of samples <= ``x[i]``."""
    x = np.sort(validate.samples("samples", samples))
    return x, np.arange(1, x.size + 1) / x.size


def correct_coordinated_omission(samples, expected_interval) -> np.ndarray:
    """Samples plus the ones a stalled closed-loop client never sent (HdrHistogram semantics).

    For every value ``v`` above ``expected_interval`` (``I``), the requests that would have
    been issued during the stall are added back as ``v - I, v - 2I, ...`` down to ``I``,
    exactly like HdrHistogram's ``recordValueWithExpectedInterval``. Originals come first,
    in their order, followed by the synthesized values.
    """
    values = validate.samples("samples", samples, allow_empty=True)
    interval = validate.real("expected_interval", expected_interval, low=0, low_open=True)
    # Bound the work first, in floating point, so a tiny interval cannot overflow the counts.
    approx_total = float(np.maximum(values / interval - 1, 0).sum())
    if approx_total <= MAX_CORRECTED_SAMPLES + values.size:
        if np.issubdtype(values.dtype, np.integer) and interval.is_integer() and interval < 2**62:
            interval = int(interval)  # exact integer steps for integer samples
        missing = np.maximum(values // interval - 1, 0).astype(np.int64)
        total = int(missing.sum())
    else:
        total = approx_total
    if total > MAX_CORRECTED_SAMPLES:
        raise ValueError(
            f"expected_interval={interval} would synthesize {total:,} samples "
            f"(limit {MAX_CORRECTED_SAMPLES:,}); is it in the same unit as the samples?"
        )
    starts = np.repeat(np.cumsum(missing) - missing, missing)
    step = np.arange(total) - starts + 1
    return np.concatenate([values, np.repeat(values, missing) - step * interval])


class LogHistogram:
    """An HDR-style histogram of non-negative integers (e.g. nanoseconds); lesson 02.

    Values below ``2 * 10**significant_digits`` (rounded up to a power of two) get a bucket
    each; above that, every power-of-two range is split into the same number of linear
    sub-buckets, so a bucket's width is at most ``10**-significant_digits`` of its value.
    Memory depends on the range, not the number of samples, and two histograms with the
    same settings merge by adding counts — which is how percentiles from many runs or
    hosts are combined (never by averaging percentiles).

    Parameters
    ----------
    significant_digits : int, 1..5
        Decimal digits every reported value is accurate to.
    highest : int, 2..2**52
        Largest value that can be recorded (default: one hour in nanoseconds). The counts
        array grows with ``log2(highest)``, so even the largest setting stays small.
    """

    def __init__(self, significant_digits: int = 3, highest: int = 3_600_000_000_000):
        self.significant_digits = validate.integer(
            "significant_digits", significant_digits, low=1, high=5
        )
        self.highest = validate.integer("highest", highest, low=2, high=2**52)
        sub_bucket_count = 1 << math.ceil(math.log2(2 * 10**self.significant_digits))
        self._half_bits = sub_bucket_count.bit_length() - 2  # sub-buckets per range = 2**half
        self.counts = np.zeros(int(self._index(np.array([self.highest]))[0]) + 1, np.int64)
        self.min: int | None = None
        self.max: int | None = None

    # -- bucket arithmetic -------------------------------------------------------------
    def _index(self, values: np.ndarray) -> np.ndarray:
        bit_length = np.frexp(values | 1)[1].astype(np.int64)
        shift = np.maximum(bit_length - (self._half_bits + 1), 0)
        return (shift << self._half_bits) + (values >> shift)

    def _bounds(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = np.maximum((index >> self._half_bits) - 1, 0)
        sub = index - (shift << self._half_bits)
        return sub << shift, ((sub + 1) << shift) - 1

    # -- recording ---------------------------------------------------------------------
    def record(self, values) -> LogHistogram:
        """Add one or many values (rounded to integers) in [0, highest]; returns self.

        Out-of-range values are refused with their real value, checked before any
        conversion to int64 (so 2**64 is reported as 2**64, not as a wrapped negative).
        """
        arr = self._checked(values)
        if arr.size == 0:
            return self
        lo, hi = int(arr.min()), int(arr.max())
        self.counts += np.bincount(self._index(arr), minlength=self.counts.size)
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        return self

    def _checked(self, values) -> np.ndarray:
        """``values`` as int64, or an error stating the real out-of-range value."""
        if isinstance(values, Integral) and not isinstance(values, bool):
            self._check_range(int(values), int(values))  # Python ints have no upper bound
        elif isinstance(values, list | tuple) and any(type(v) is int for v in values):
            ints = [v for v in values if type(v) is int]
            self._check_range(min(ints), max(ints))
        arr = validate.samples("values", values, allow_empty=True)
        if arr.size == 0:
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            arr = np.rint(arr)
        lo, hi = arr.min(), arr.max()  # in the input's own dtype: no wrap-around yet
        self._check_range(lo.item(), hi.item())
        return arr.astype(np.int64)

    def _check_range(self, lo, hi) -> None:
        if lo < 0 or hi > self.highest:
            bad = lo if lo < 0 else hi
            raise ValueError(f"values must be in [0, highest={self.highest:,}], got {bad:,}")

    def record_corrected(self, values, expected_interval) -> LogHistogram:
        """Record values with coordinated-omission correction (see
        :func:`correct_coordinated_omission`)."""
        return self.record(correct_coordinated_omission(values, expected_interval))

    def merge(self, other: LogHistogram) -> LogHistogram:
        """Add ``other``'s counts into this histogram (same settings required); returns self."""
        if not isinstance(other, LogHistogram):
            raise TypeError(f"other must be a LogHistogram, got {type(other).__name__}")
        if (other.significant_digits, other.highest) != (self.significant_digits, self.highest):
            raise ValueError("histograms must share significant_digits and highest to merge")
        self.counts += other.counts
        if other.count:
            self.min = other.min if self.min is None else min(self.min, other.min)
            self.max = other.max if self.max is None else max(self.max, other.max)
        return self

    # -- queries -----------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Number of recorded values."""
        return int(self.counts.sum())

    @property
    def nbytes(self) -> int:
        """Memory held by the counts, whatever the number of samples."""
        return self.counts.nbytes

    def percentiles(self, p):
        """Nearest-rank percentile(s) (exact rank, as :func:`nearest_rank`) from the buckets.

        The answer is the highest value equivalent to the sample of that rank: never below
        the exact nearest-rank percentile, above it by less than ``10**-significant_digits``
        of its value, and capped at the recorded max. Rank 1 (p0) is the recorded min.
        """
        n = self.count
        if n == 0:
            raise ValueError("the histogram is empty: record values before asking percentiles")
        rank = nearest_rank(n, p)
        bucket = np.searchsorted(np.cumsum(self.counts), rank, side="left")
        values = np.where(rank == 1, self.min, np.minimum(self._bounds(bucket)[1], self.max))
        return int(values) if np.ndim(p) == 0 else values

    def summary(self, unit: str | None = None) -> dict[str, float]:
        """The same keys as :func:`summary` (with ``unit``, suffixed); mean and std use
        bucket midpoints."""
        suffix = _unit_suffix(unit)
        if self.count == 0:
            raise ValueError("the histogram is empty: record values before asking a summary")
        nonzero = np.flatnonzero(self.counts)
        low, high = self._bounds(nonzero)
        mid, weights = (low + high) / 2, self.counts[nonzero]
        mean = np.average(mid, weights=weights)
        std = np.sqrt(np.average((mid - mean) ** 2, weights=weights))
        pcts = self.percentiles(SUMMARY_PERCENTILES)
        return _summary(self.count, mean, std, self.min, pcts, self.max, suffix)

    def buckets(self) -> pd.DataFrame:
        """Non-empty buckets as a table: ``low``, ``high`` (inclusive) and ``count``."""
        nonzero = np.flatnonzero(self.counts)
        low, high = self._bounds(nonzero)
        return pd.DataFrame({"low": low, "high": high, "count": self.counts[nonzero]})

    def __repr__(self) -> str:
        return (
            f"LogHistogram(significant_digits={self.significant_digits}, "
            f"count={self.count}, buckets={self.counts.size})"
        )
