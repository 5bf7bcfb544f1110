"""Percentiles, summaries, ECDFs and an HDR-style log histogram (lesson 02 onwards).

Every percentile in the course is **nearest-rank**: the p-th percentile of n samples is
the sample of rank ceil(p/100 * n) in sorted order (rank 1 for p = 0). It is always a
value that was actually observed, it never interpolates between two, and it is the
definition of ``numpy.percentile(..., method="inverted_cdf")`` and of HdrHistogram.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from latency_lab import validate

#: The percentiles every summary reports together (never p50 alone, never the mean alone).
SUMMARY_PERCENTILES = (50.0, 90.0, 99.0, 99.9)

#: Upper bound on samples synthesized by coordinated-omission correction.
MAX_CORRECTED_SAMPLES = 50_000_000


def _percentile_array(p) -> np.ndarray:
    q = np.asarray(p, dtype=float)
    if np.isnan(q).any() or (q < 0).any() or (q > 100).any():
        raise ValueError(f"percentile must be in [0, 100], got {p!r}")
    return q


def _nearest_rank_index(n: int, p) -> np.ndarray:
    """0-based index of the nearest-rank p-th percentile among n sorted samples."""
    q = _percentile_array(p) / 100.0
    # rank = ceil(q*n), written as numpy writes it so that results agree to the last bit.
    return np.clip(np.ceil(n * q - 1), 0, n - 1).astype(np.int64)


def percentiles(samples, p):
    """Nearest-rank percentile(s) of ``samples``; ``p`` is a number or a sequence in [0, 100].

    Returns a scalar for scalar ``p`` and an array otherwise. Uses ``np.partition``, so
    it costs O(n) per percentile rather than a full sort.
    """
    values = validate.samples("samples", samples)
    idx = _nearest_rank_index(values.size, p)
    picked = np.partition(values, np.unique(idx))[idx]
    return picked.item() if np.ndim(p) == 0 else picked


def summary(samples) -> dict[str, float]:
    """Count, mean, std, min, p50, p90, p99, p99.9 and max of ``samples``, in their unit."""
    values = validate.samples("samples", samples)
    pcts = percentiles(values, SUMMARY_PERCENTILES)
    return _summary(values.size, values.mean(), values.std(), values.min(), pcts, values.max())


def _summary(count, mean, std, low, pcts, high) -> dict[str, float]:
    out = {"count": int(count), "mean": float(mean), "std": float(std), "min": float(low)}
    out.update(
        {percentile_label(p): float(v) for p, v in zip(SUMMARY_PERCENTILES, pcts, strict=True)}
    )
    out["max"] = float(high)
    return out


def percentile_label(p: float) -> str:
    """'p50', 'p99', 'p99.9': the label a percentile gets in tables."""
    return f"p{p:g}"


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
    if np.issubdtype(values.dtype, np.integer) and float(interval).is_integer():
        interval = int(interval)
    missing = np.maximum(values // interval - 1, 0).astype(np.int64)
    total = int(missing.sum())
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
    highest : int
        Largest value that can be recorded (default: one hour in nanoseconds).
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
        """Add one or many values (rounded to integers); returns self for chaining."""
        arr = validate.samples("values", values, allow_empty=True)
        if arr.size == 0:
            return self
        arr = np.rint(arr).astype(np.int64)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > self.highest:
            raise ValueError(f"values must be in [0, highest={self.highest}], got {lo}..{hi}")
        self.counts += np.bincount(self._index(arr), minlength=self.counts.size)
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        return self

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
        """Nearest-rank percentile(s): the highest value equivalent to the sample of that rank.

        The answer is never below the exact nearest-rank percentile and exceeds it by less
        than ``10**-significant_digits`` of its value; it is capped at the recorded max.
        """
        n = self.count
        if n == 0:
            raise ValueError("the histogram is empty: record values before asking percentiles")
        rank = _nearest_rank_index(n, p) + 1
        bucket = np.searchsorted(np.cumsum(self.counts), rank, side="left")
        values = np.minimum(self._bounds(bucket)[1], self.max)
        return int(values) if np.ndim(p) == 0 else values

    def summary(self) -> dict[str, float]:
        """The same keys as :func:`summary`; mean and std use bucket midpoints."""
        if self.count == 0:
            raise ValueError("the histogram is empty: record values before asking a summary")
        nonzero = np.flatnonzero(self.counts)
        low, high = self._bounds(nonzero)
        mid, weights = (low + high) / 2, self.counts[nonzero]
        mean = np.average(mid, weights=weights)
        std = np.sqrt(np.average((mid - mean) ** 2, weights=weights))
        pcts = self.percentiles(SUMMARY_PERCENTILES)
        return _summary(self.count, mean, std, self.min, pcts, self.max)

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
