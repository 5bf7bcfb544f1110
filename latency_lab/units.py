"""Units of the course, in one place: simulated µs, measured ns, rates in events/s (all lessons).

Simulated times and durations are float microseconds; wall-clock measurements are int64
nanoseconds from ``time.perf_counter_ns``; rates are events per second. Every other module
converts through these names, so no other module writes ``1e6`` or ``1e9``.
"""

from __future__ import annotations

NS_PER_US = 1_000
US_PER_MS = 1_000
US_PER_S = 1_000_000
NS_PER_MS = NS_PER_US * US_PER_MS
NS_PER_S = NS_PER_US * US_PER_S


def ns_to_us(ns):
    """Nanoseconds (a number or an array) to microseconds."""
    return ns / NS_PER_US


def us_to_ns(us):
    """Microseconds to nanoseconds (a float: round before storing as int64)."""
    return us * NS_PER_US


def seconds_to_ns(seconds):
    """Seconds (as float clocks and ``time.get_clock_info`` report them) to nanoseconds."""
    return seconds * NS_PER_S


def rate_to_gap_us(rate_per_s: float) -> float:
    """Mean gap between events (µs) at ``rate_per_s`` events per second."""
    return US_PER_S / rate_per_s


def count_to_rate(count, span_us):
    """Events per second from a count of events over ``span_us`` microseconds."""
    return count * US_PER_S / span_us


def rate_to_count(rate_per_s, span_us):
    """Expected number of events in ``span_us`` at ``rate_per_s`` events per second."""
    return rate_per_s * span_us / US_PER_S


#: Labels for tables and axes, by unit name.
LABELS = {"ns": "ns", "us": "µs", "ms": "ms", "s": "s"}
