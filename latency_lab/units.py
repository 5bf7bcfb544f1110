"""Units of the course, in one place: simulated µs, measured ns, rates in events/s (all lessons).

Simulated times and durations are float microseconds; wall-clock measurements are int64
nanoseconds from ``time.perf_counter_ns``; rates are events per second. Every other module
converts through these names, so no other module writes ``1e6`` or ``1e9``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

NS_PER_US = 1_000
US_PER_MS = 1_000
US_PER_S = 1_000_000
NS_PER_MS = NS_PER_US * US_PER_MS
NS_PER_S = NS_PER_US * US_PER_S


def ns_to_us(ns):
    """Nanoseconds (a number or an array) to microseconds."""
    return _quantity("ns", ns) / NS_PER_US


def us_to_ns(us):
    """Microseconds to nanoseconds (a float: round before storing as int64)."""
    return _quantity("us", us) * NS_PER_US


def seconds_to_ns(seconds):
    """Seconds (as float clocks and ``time.get_clock_info`` report them) to nanoseconds."""
    return _quantity("seconds", seconds) * NS_PER_S


def rate_to_gap_us(rate_per_s):
    """Mean gap between events (µs) at ``rate_per_s`` events per second (> 0)."""
    return US_PER_S / _positive("rate_per_s", rate_per_s)


def count_to_rate(count, span_us):
    """Events per second from a count of events over ``span_us`` microseconds (> 0)."""
    return _quantity("count", count) * US_PER_S / _positive("span_us", span_us)


def rate_to_count(rate_per_s, span_us):
    """Expected number of events in ``span_us`` at ``rate_per_s`` events per second."""
    return _quantity("rate_per_s", rate_per_s) * _quantity("span_us", span_us) / US_PER_S


def _quantity(name: str, value):
    """``value`` if it is a number (not a bool) or numeric array-like (numpy, pandas)."""
    if isinstance(value, Real) and not isinstance(value, bool | np.bool_):
        return value
    if hasattr(value, "dtype") or hasattr(value, "dtypes"):  # numpy arrays, pandas objects
        if np.asarray(value).dtype.kind in "iuf":
            return value
    raise TypeError(f"{name} must be a number or a numeric array, got {type(value).__name__}")


def _positive(name: str, value):
    value = _quantity(name, value)
    if not np.all(value > 0):
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


#: Labels for tables and axes, by unit name.
LABELS = {"ns": "ns", "us": "µs", "ms": "ms", "s": "s"}
