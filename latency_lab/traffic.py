"""Arrival processes for the simulator: Poisson, MMPP bursts, Hawkes order flow (lesson 06).

Every process returns **sorted float64 arrival times in microseconds**, sized by count
(``n``) or by time (``duration_us``), from a ``seed``; rates are in **events per second**.
A process is a small frozen dataclass with ``arrivals(...)`` and ``mean_rate``; internally
each one is an endless stream of sorted chunks, which is what lets a ``RegimeShift`` splice
processes together and lets any of them be cut at a count or a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from latency_lab import units, validate

#: Largest trace any generator will build (about 400 MB of float64).
MAX_EVENTS = 50_000_000
_CHUNK = 1 << 16


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


class ArrivalProcess:
    """Base of every process: sizing, seeding and validation shared by all of them."""

    mean_rate: float  # events per second, long-run

    def arrivals(self, n: int | None = None, *, duration_us: float | None = None, seed=None):
        """Sorted arrival times (µs, from 0): the first ``n`` events, or all in ``[0, duration_us)``.

        Exactly one of ``n`` and ``duration_us`` must be given; ``seed`` is an int, a
        ``numpy.random.Generator`` or None.
        """
        if (n is None) == (duration_us is None):
            raise ValueError("give exactly one of n (a count) and duration_us (a time span)")
        if n is not None:
            n = validate.integer("n", n, low=1, high=MAX_EVENTS)
        else:
            duration_us = validate.real("duration_us", duration_us, low=0, low_open=True)
            expected = units.rate_to_count(self.mean_rate, duration_us)
            if expected > MAX_EVENTS:
                raise ValueError(
                    f"duration_us={duration_us:g} at {self.mean_rate:,.0f} events/s means "
                    f"~{expected:,.0f} events, above MAX_EVENTS={MAX_EVENTS:,}"
                )
        chunks, count = [], 0
        for chunk in self._stream(_rng(seed)):
            if duration_us is not None and chunk.size and chunk[0] >= duration_us:
                break
            chunks.append(chunk)
            count += chunk.size
            if n is not None and count >= n:
                break
            if count > MAX_EVENTS:
                raise ValueError(f"the trace grew past MAX_EVENTS={MAX_EVENTS:,}")
        times = np.concatenate(chunks) if chunks else np.empty(0)
        return times[:n] if n is not None else times[times < duration_us]

    def _stream(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        raise NotImplementedError


@dataclass(frozen=True)
class Poisson(ArrivalProcess):
    """Memoryless arrivals at ``rate`` events/s: exponential gaps, dispersion 1."""

    rate: float

    def __post_init__(self):
        validate.real("rate", self.rate, low=0, low_open=True)

    @property
    def mean_rate(self) -> float:
        return self.rate

    def _stream(self, rng):
        t, scale = 0.0, units.rate_to_gap_us(self.rate)
        while True:
            chunk = t + np.cumsum(rng.exponential(scale, _CHUNK))
            t = chunk[-1]
            yield chunk


@dataclass(frozen=True)
class MMPP(ArrivalProcess):
    """Two-state Markov-modulated Poisson process: calm periods and bursts.

    The process alternates between a calm state (``calm_rate``) and a burst state
    (``burst_rate``); each state lasts an exponential time with the given mean (µs). It
    starts calm.
    """

    calm_rate: float
    burst_rate: float
    mean_calm_us: float
    mean_burst_us: float

    def __post_init__(self):
        for name in ("calm_rate", "burst_rate"):
            validate.real(name, getattr(self, name), low=0)
        for name in ("mean_calm_us", "mean_burst_us"):
            validate.real(name, getattr(self, name), low=0, low_open=True)
        if self.calm_rate == 0 and self.burst_rate == 0:
            raise ValueError("calm_rate and burst_rate cannot both be 0")

    @property
    def burst_fraction(self) -> float:
        """Long-run share of time spent bursting."""
        return self.mean_burst_us / (self.mean_calm_us + self.mean_burst_us)

    @property
    def mean_rate(self) -> float:
        f = self.burst_fraction
        return (1 - f) * self.calm_rate + f * self.burst_rate

    def _stream(self, rng):
        t, bursting = 0.0, False
        while True:
            mean, rate = (
                (self.mean_burst_us, self.burst_rate)
                if bursting
                else (self.mean_calm_us, self.calm_rate)
            )
            length = rng.exponential(mean)
            k = rng.poisson(units.rate_to_count(rate, length))
            yield t + np.sort(rng.uniform(0.0, length, k))
            t, bursting = t + length, not bursting


@njit(cache=True)
def _ogata(t, excitation, mu, alpha, beta, unit_exponentials, uniforms, out):
    """Ogata thinning for an exponential-kernel Hawkes process, resumable.

    Consumes one exponential and one uniform draw per candidate; returns the new time,
    excitation and number of accepted events written to ``out``. Rates are per µs.
    """
    accepted = 0
    for j in range(unit_exponentials.size):
        bound = mu + excitation  # intensity only decays until the next event
        gap = unit_exponentials[j] / bound
        t += gap
        excitation *= math.exp(-beta * gap)
        if uniforms[j] * bound <= mu + excitation:
            out[accepted] = t
            accepted += 1
            excitation += alpha
    return t, excitation, accepted


@dataclass(frozen=True)
class Hawkes(ArrivalProcess):
    """Self-exciting arrivals (order flow): every event raises the rate for a while.

    Intensity ``λ(t) = baseline_rate + Σ α·exp(−(t − tᵢ)/decay_us)`` over past events
    ``tᵢ``, with ``α`` chosen so that each event triggers ``branching_ratio`` further events
    on average (must be < 1 for a stationary process). Long-run rate:
    ``baseline_rate / (1 − branching_ratio)``. Simulated by Ogata thinning.
    """

    baseline_rate: float
    branching_ratio: float
    decay_us: float

    def __post_init__(self):
        validate.real("baseline_rate", self.baseline_rate, low=0, low_open=True)
        validate.real("branching_ratio", self.branching_ratio, low=0)
        if self.branching_ratio >= 1:
            raise ValueError(
                f"branching_ratio must be in [0, 1) for a stationary process, got {self.branching_ratio}"
            )
        validate.real("decay_us", self.decay_us, low=0, low_open=True)

    @property
    def mean_rate(self) -> float:
        return self.baseline_rate / (1 - self.branching_ratio)

    def _stream(self, rng):
        mu = 1.0 / units.rate_to_gap_us(self.baseline_rate)
        beta = 1.0 / self.decay_us
        alpha = self.branching_ratio * beta
        t, excitation = 0.0, 0.0
        out = np.empty(_CHUNK)
        while True:
            t, excitation, k = _ogata(
                t,
                excitation,
                mu,
                alpha,
                beta,
                rng.exponential(1.0, _CHUNK),
                rng.random(_CHUNK),
                out,
            )
            yield out[:k].copy()


@dataclass(frozen=True)
class RegimeShift(ArrivalProcess):
    """A sequence of ``(process, duration_us)`` segments, repeated if more events are asked.

    Each segment runs its own process from a fresh start, shifted to begin where the
    previous segment ended.
    """

    segments: Sequence[tuple[ArrivalProcess, float]]

    def __post_init__(self):
        if len(self.segments) == 0:
            raise ValueError("segments must name at least one (process, duration_us) pair")
        for i, segment in enumerate(self.segments):
            if not (isinstance(segment, tuple | list) and len(segment) == 2):
                raise TypeError(f"segments[{i}] must be a (process, duration_us) pair")
            process, duration = segment
            if not isinstance(process, ArrivalProcess):
                raise TypeError(f"segments[{i}][0] must be an arrival process, got {process!r}")
            validate.real(f"segments[{i}] duration_us", duration, low=0, low_open=True)
        object.__setattr__(self, "segments", tuple(tuple(s) for s in self.segments))

    @property
    def total_us(self) -> float:
        return sum(d for _, d in self.segments)

    @property
    def mean_rate(self) -> float:
        return sum(p.mean_rate * d for p, d in self.segments) / self.total_us

    def _stream(self, rng):
        t = 0.0
        while True:
            for process, duration in self.segments:
                yield t + process.arrivals(duration_us=duration, seed=rng)
                t += duration


# -- helpers that teach ------------------------------------------------------------------
def window_counts(arrivals, window_us: float) -> np.ndarray:
    """Number of arrivals in consecutive windows of ``window_us`` starting at 0."""
    times = validate.samples("arrivals", arrivals)
    window_us = validate.real("window_us", window_us, low=0, low_open=True)
    edges = np.arange(0.0, times[-1] + window_us, window_us)
    return np.histogram(times, bins=edges)[0]


def rate_over_time(arrivals, window_us: float) -> tuple[np.ndarray, np.ndarray]:
    """Empirical rate (events/s) per window: window start times (µs) and rates."""
    counts = window_counts(arrivals, window_us)
    return np.arange(counts.size) * window_us, units.count_to_rate(counts, window_us)


def index_of_dispersion(arrivals, window_us: float) -> float:
    """Variance / mean of window counts: 1 for Poisson, > 1 for bursty traffic."""
    counts = window_counts(arrivals, window_us)
    return float(counts.var() / counts.mean())


@njit(cache=True)
def _first_invalid(times) -> tuple[int, bool]:
    """First index that is not finite or is below its predecessor, and whether it is
    not finite; (-1, False) if none. One pass, no temporary arrays."""
    for i in range(times.size):
        if not np.isfinite(times[i]):
            return i, True
        if i > 0 and times[i] < times[i - 1]:
            return i, False
    return -1, False


def validate_arrivals(arrivals) -> np.ndarray:
    """Return arrivals as float64, or raise if empty, non-finite or unsorted."""
    times = np.asarray(arrivals)
    if times.dtype.kind not in "iuf":
        raise TypeError(f"arrivals must be numeric, got dtype {times.dtype}")
    times = np.ascontiguousarray(times.reshape(-1), dtype=np.float64)
    if times.size == 0:
        raise ValueError("arrivals is empty: there is nothing to simulate")
    first, not_finite = _first_invalid(times)
    if not_finite:
        raise ValueError(f"arrivals contains NaN or infinite values (first at index {first})")
    if first >= 0:
        raise ValueError(f"arrivals must be sorted; arrivals[{first}] < arrivals[{first - 1}]")
    return times


def write_csv(path: str | Path, arrivals) -> None:
    """Save a trace as CSV with one column, ``arrival_us``."""
    times = validate_arrivals(arrivals)
    np.savetxt(path, times, fmt="%.6f", header="arrival_us", comments="")


def read_csv(path: str | Path) -> np.ndarray:
    """Load a trace written by :func:`write_csv` (or any one-column CSV with that header)."""
    with open(path) as f:
        header = f.readline().strip()
        if header != "arrival_us":
            raise ValueError(f"{path}: expected a header line 'arrival_us', got {header!r}")
        times = np.loadtxt(f, dtype=np.float64, ndmin=1)
    return validate_arrivals(times)
