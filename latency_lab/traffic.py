"""Arrival processes for the simulator: Poisson, MMPP bursts, Hawkes order flow (lesson 06).

Every process returns **sorted, finite float64 arrival times in microseconds** from 0, sized
by count (``n``) or by time (``duration_us``), from a ``seed``; rates are in **events per
second**. A process is a small frozen dataclass with ``arrivals(...)`` and ``mean_rate``.

One stream, cut two ways: for one seed, ``arrivals(n)`` is the first ``n`` events of the
very trace that ``arrivals(duration_us=...)`` cuts at a time. Each process draws its
randomness in blocks whose sizes never depend on the request, and draws only what the
request needs: asking for 10 events of a 5·10⁸ events/s process costs about 10 events.

Nothing is unbounded. A request is refused up front, with a message saying why, when on
average it would need more than :data:`MAX_EVENTS` events, more than :data:`MAX_EVENTS`
calm/burst periods of an MMPP, more than :data:`MAX_SEGMENTS` regime segments, or times
beyond :data:`MAX_TIME_US`; and generation stops with the same kind of message if an
unlucky trace needs more than that.
"""

from __future__ import annotations

import errno
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numba import njit

from latency_lab import units, validate

#: The one size limit of the course: the most events a trace (or a simulation) may hold,
#: 160 MB of float64 times. It also bounds the calm/burst periods one MMPP request may
#: draw, and the windows ``window_counts`` may build.
MAX_EVENTS = 20_000_000
#: The most regime segments one ``RegimeShift`` request may run through (each segment is a
#: step in Python, so this keeps such a request to seconds).
MAX_SEGMENTS = 100_000
#: The latest simulated time a trace may reach: 10¹² µs, about 11.6 days. float64 still
#: resolves 1.2·10⁻⁴ µs there; ever slower rates would make times coarse, then infinite.
MAX_TIME_US = 1e12
#: The shortest duration a process accepts (a mean calm or burst length, a decay, a
#: segment): 10⁻⁶ µs, one picosecond, far below what any clock resolves.
MIN_DURATION_US = 1e-6

_FIRST_EVENT_BLOCK = 256  # event (or candidate) draws: 256, 512, ... up to _BLOCK
_FIRST_PERIOD_BLOCK = 16  # MMPP periods: 16, 32, ... up to _BLOCK
_BLOCK = 1 << 16
# Hawkes thinning draws under 3 candidates per event on average (about 2.8 at worst, when
# the decay is much faster than the rate), so 4 per event of MAX_EVENTS bounds it.
_CANDIDATES_PER_EVENT = 4

_PERIODS, _SEGMENTS, _CANDIDATES = "calm/burst periods", "regime segments", "Hawkes candidates"


def _limits() -> dict[str, tuple[str, int]]:
    """Each kind of step a request spends, with the name and value of its limit (read at
    call time, so the limits are stated once, above)."""
    return {
        _PERIODS: ("MAX_EVENTS", MAX_EVENTS),
        _SEGMENTS: ("MAX_SEGMENTS", MAX_SEGMENTS),
        _CANDIDATES: (f"{_CANDIDATES_PER_EVENT}·MAX_EVENTS", _CANDIDATES_PER_EVENT * MAX_EVENTS),
    }


class _Budget:
    """What one request may still draw, by kind; raises ``ValueError`` once a kind runs out."""

    def __init__(self):
        self.left = {kind: limit for kind, (_, limit) in _limits().items()}

    def spend(self, kind: str, count: int) -> None:
        self.left[kind] -= count
        if self.left[kind] < 0:
            name, limit = _limits()[kind]
            raise ValueError(
                f"this trace needed more than {limit:,} {kind} (the limit {name} per "
                "request): ask for fewer events or a shorter duration"
            )


def _block_sizes(first: int) -> Iterator[int]:
    """Draw sizes ``first, 2·first, ...`` up to ``_BLOCK``: the same for every request."""
    size = first
    while True:
        yield size
        size = min(2 * size, _BLOCK)


class _Trace:
    """Collects sorted chunks: at most ``room`` events, all before ``until_us``."""

    def __init__(self, room: int, until_us: float):
        self.chunks: list[np.ndarray] = []
        self.room, self.until_us = room, until_us

    @property
    def complete(self) -> bool:
        return self.room == 0 or self.until_us <= 0

    def add(self, times: np.ndarray, *, copy: bool = False) -> bool:
        """Keep the leading ``times`` that fit (a copy of them if ``copy``: for a buffer
        that will be reused); True once the trace is complete."""
        keep = min(int(np.searchsorted(times, self.until_us, side="left")), self.room)
        if keep:
            self.chunks.append(times[:keep].copy() if copy else times[:keep])
            self.room -= keep
        return keep < times.size or self.room == 0

    def array(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.empty(0)


class ArrivalProcess:
    """Base of every arrival process (lesson 06): sizing, seeding and the shared limits."""

    mean_rate: float  # events per second, long-run

    def arrivals(self, n: int | None = None, *, duration_us: float | None = None, seed=None):
        """Sorted arrival times (µs, from 0): the first ``n`` events, or all in ``[0, duration_us)``.

        Parameters
        ----------
        n : int, optional
            How many events, 0 to ``MAX_EVENTS``.
        duration_us : float, optional
            A time span, 0 to ``MAX_TIME_US``. Give exactly one of ``n`` and ``duration_us``.
        seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
            An int >= 0 and ``SeedSequence(that int)`` give the same trace; a Generator is
            used (and advanced) as is; None draws fresh entropy.

        Raises ``ValueError`` up front when the request would need, on average, more than
        ``MAX_EVENTS`` events or calm/burst periods, more than ``MAX_SEGMENTS`` regime
        segments, or times beyond ``MAX_TIME_US``; and if an unlucky trace does.
        """
        if (n is None) == (duration_us is None):
            raise ValueError("give exactly one of n (a count) and duration_us (a time span)")
        if n is not None:
            n = validate.integer("n", n, low=0, high=MAX_EVENTS)
            span_us = n * units.rate_to_gap_us(self.mean_rate)  # expected, µs
            what = f"n={n:,} events"
            if span_us > MAX_TIME_US:
                raise ValueError(
                    f"{what} at a mean rate of {self.mean_rate:.3g} events/s take "
                    f"~{span_us:.3g} µs, beyond MAX_TIME_US = {MAX_TIME_US:.3g} µs of "
                    "simulated time: ask for fewer events or a faster process"
                )
            room, until_us = n, MAX_TIME_US
        else:
            duration_us = validate.real("duration_us", duration_us, low=0, high=MAX_TIME_US)
            span_us = duration_us
            what = f"duration_us={duration_us:g}"
            expected = units.rate_to_count(self.mean_rate, duration_us)
            if expected > MAX_EVENTS:
                raise ValueError(
                    f"{what} at {self.mean_rate:.3g} events/s means ~{expected:.3g} events, "
                    f"above MAX_EVENTS = {MAX_EVENTS:,}: ask for a shorter duration"
                )
            room, until_us = MAX_EVENTS + 1, duration_us
        for kind, expected in self._expected_steps(span_us).items():
            name, limit = _limits()[kind]
            if expected > limit:
                raise ValueError(
                    f"{what} needs on average ~{expected:.3g} {kind} (~{span_us:.3g} µs of "
                    f"this process), above the limit of {limit:,} per request ({name}): "
                    "ask for fewer events, or make the periods or segments longer"
                )
        rng = validate.rng("seed", seed)
        trace = _Trace(room, until_us)
        if not trace.complete:
            self._generate(rng, trace, _Budget())
        times = trace.array()
        if n is not None and times.size < n:
            raise ValueError(
                f"the trace reached MAX_TIME_US = {MAX_TIME_US:.3g} µs after {times.size:,} "
                f"of n={n:,} events: ask for fewer events or a faster process"
            )
        if n is None and times.size > MAX_EVENTS:
            raise ValueError(
                f"{what} produced more than MAX_EVENTS = {MAX_EVENTS:,} events: ask for a "
                "shorter duration"
            )
        return times

    def _expected_steps(self, span_us: float) -> Counter:
        """Expected steps (by kind) to cover ``span_us``; events are counted separately."""
        return Counter()

    def _generate(self, rng: np.random.Generator, trace: _Trace, budget: _Budget) -> None:
        """Add this process's arrivals, from time 0, to ``trace`` until it is complete."""
        raise NotImplementedError


@dataclass(frozen=True)
class Poisson(ArrivalProcess):
    """Memoryless arrivals at ``rate`` events/s (lesson 06): exponential gaps, dispersion 1."""

    rate: float

    def __post_init__(self):
        validate.real("rate", self.rate, low=0, low_open=True)

    @property
    def mean_rate(self) -> float:
        return self.rate

    def _generate(self, rng, trace, budget):
        gap_us = units.rate_to_gap_us(self.rate)
        total = 0.0  # sum of the unit exponentials drawn so far
        for size in _block_sizes(_FIRST_EVENT_BLOCK):
            times = np.cumsum(rng.standard_exponential(size))
            times += total
            total = times[-1]
            with np.errstate(over="ignore"):  # beyond any until_us: cut off below
                times *= gap_us
            if trace.add(times):
                return


@dataclass(frozen=True)
class MMPP(ArrivalProcess):
    """Two-state Markov-modulated Poisson process: calm periods and bursts (lesson 06).

    The process alternates between a calm state (``calm_rate`` events/s) and a burst state
    (``burst_rate``); each state lasts an exponential time with the given mean (µs). It
    starts calm. Generated by a time change: the events of a unit-rate Poisson process are
    mapped through the cumulative intensity of the calm/burst periods, both drawn in
    vectorised blocks and only as far as the request needs.
    """

    calm_rate: float
    burst_rate: float
    mean_calm_us: float
    mean_burst_us: float

    def __post_init__(self):
        for name in ("calm_rate", "burst_rate"):
            validate.real(name, getattr(self, name), low=0)
        for name in ("mean_calm_us", "mean_burst_us"):
            validate.real(name, getattr(self, name), low=MIN_DURATION_US, high=MAX_TIME_US)
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

    def _expected_steps(self, span_us):
        return Counter({_PERIODS: 1 + 2 * span_us / (self.mean_calm_us + self.mean_burst_us)})

    def _generate(self, rng, trace, budget):
        means = np.array([self.mean_calm_us, self.mean_burst_us])
        per_us = np.array([units.rate_to_count(r, 1.0) for r in (self.calm_rate, self.burst_rate)])
        periods = _block_sizes(_FIRST_PERIOD_BLOCK)
        # Periods drawn so far end at time t_end and at "operational time" lam_end (the
        # expected number of events up to t_end); the current block of periods starts at
        # (start_t[k], start_lam[k]) and has per-µs rate[k].
        t_end = lam_end = 0.0
        state = 0  # 0 calm, 1 burst: the state of the next period to draw
        start_t = start_lam = rate = None
        total = 0.0  # operational time of the last unit-rate event drawn
        for size in _block_sizes(_FIRST_EVENT_BLOCK):
            ops = np.cumsum(rng.standard_exponential(size))
            ops += total
            total = ops[-1]
            i = 0
            while i < size:
                if lam_end <= ops[i]:  # event i lies beyond the periods drawn so far
                    if t_end >= trace.until_us:
                        return  # so it, and every later one, lies beyond the trace
                    count = next(periods)
                    budget.spend(_PERIODS, count)
                    states = (np.arange(count) + state) & 1
                    length = rng.standard_exponential(count) * means[states]
                    rate = per_us[states]
                    start_t = t_end + np.concatenate(([0.0], np.cumsum(length)))
                    start_lam = lam_end + np.concatenate(([0.0], np.cumsum(length * rate)))
                    t_end, lam_end, state = start_t[-1], start_lam[-1], (state + count) & 1
                    continue
                j = i + int(np.searchsorted(ops[i:], lam_end, side="left"))
                # each ops value lies in a period k with start_lam[k] <= it < start_lam[k + 1],
                # so that period has a positive rate; clipping keeps float rounding inside it
                k = np.searchsorted(start_lam, ops[i:j], side="right") - 1
                times = start_t[k] + (ops[i:j] - start_lam[k]) / rate[k]
                times = np.minimum(np.maximum(times, start_t[k]), start_t[k + 1])
                if trace.add(times):
                    return
                i = j


@njit(cache=True)
def _ogata(t, excitation, mu, alpha, beta, unit_exponentials, uniforms, out):
    """Ogata thinning for an exponential-kernel Hawkes process, resumable.

    Consumes one exponential and one uniform draw per candidate; returns the new time,
    excitation and number of accepted events written to ``out``. Rates are per µs. Every
    index is bounded by the shortest of the three arrays.
    """
    accepted = 0
    size = min(unit_exponentials.size, uniforms.size, out.size)
    for j in range(size):
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
    """Self-exciting arrivals, like order flow: each event raises the rate a while (lesson 06).

    Intensity ``λ(t) = baseline_rate + Σ α·exp(−(t − tᵢ)/decay_us)`` over past events
    ``tᵢ``, with ``α`` chosen so that each event triggers ``branching_ratio`` further events
    on average (must be < 1 for a stationary process). Long-run rate:
    ``baseline_rate / (1 − branching_ratio)``. Simulated by Ogata thinning, which draws
    fewer than 3 candidates per event on average (at most ``4·MAX_EVENTS`` per request).
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
        validate.real("decay_us", self.decay_us, low=MIN_DURATION_US, high=MAX_TIME_US)
        if not math.isfinite(self.mean_rate):
            raise ValueError(
                "baseline_rate / (1 - branching_ratio) overflows: lower baseline_rate or "
                "branching_ratio"
            )

    @property
    def mean_rate(self) -> float:
        return self.baseline_rate / (1 - self.branching_ratio)

    def _generate(self, rng, trace, budget):
        mu = units.rate_to_count(self.baseline_rate, 1.0)  # events per µs
        if mu == 0:  # a rate below ~1e-302 events/s: no event before any finite time
            return
        beta = 1.0 / self.decay_us
        alpha = self.branching_ratio * beta
        t, excitation = 0.0, 0.0
        out = np.empty(_BLOCK)
        for size in _block_sizes(_FIRST_EVENT_BLOCK):
            budget.spend(_CANDIDATES, size)
            exponentials, uniforms = rng.standard_exponential(size), rng.random(size)
            t, excitation, k = _ogata(t, excitation, mu, alpha, beta, exponentials, uniforms, out)
            if trace.add(out[:k], copy=True) or t >= trace.until_us:
                return


@dataclass(frozen=True)
class RegimeShift(ArrivalProcess):
    """``(process, duration_us)`` segments in turn, repeated as needed (lessons 06, 08).

    Each segment runs its own process from a fresh start, shifted to begin where the
    previous segment ended. One request may run through at most ``MAX_SEGMENTS`` segments.
    """

    segments: Sequence[tuple[ArrivalProcess, float]]

    def __post_init__(self):
        if not isinstance(self.segments, Sequence) or isinstance(self.segments, str):
            raise TypeError("segments must be a list of (process, duration_us) pairs")
        if len(self.segments) == 0:
            raise ValueError("segments must name at least one (process, duration_us) pair")
        for i, segment in enumerate(self.segments):
            if not (isinstance(segment, tuple | list) and len(segment) == 2):
                raise TypeError(f"segments[{i}] must be a (process, duration_us) pair")
            process, duration = segment
            if not isinstance(process, ArrivalProcess):
                raise TypeError(f"segments[{i}][0] must be an arrival process, got {process!r}")
            validate.real(
                f"segments[{i}] duration_us", duration, low=MIN_DURATION_US, high=MAX_TIME_US
            )
        object.__setattr__(self, "segments", tuple((p, float(d)) for p, d in self.segments))

    @property
    def total_us(self) -> float:
        return sum(d for _, d in self.segments)

    @property
    def mean_rate(self) -> float:
        return sum(p.mean_rate * d for p, d in self.segments) / self.total_us

    @cached_property
    def _plan(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Segment end times within one pass, and the expected steps (by kind) of the
        first ``i`` whole segments at index ``i``."""
        ends = np.cumsum([d for _, d in self.segments])
        steps = [Counter({_SEGMENTS: 1}) + p._expected_steps(d) for p, d in self.segments]
        kinds = set().union(*steps)
        return ends, {k: np.cumsum([0.0] + [s[k] for s in steps]) for k in kinds}

    def _expected_steps(self, span_us):
        ends, cumulative = self._plan
        passes, rest = divmod(span_us, ends[-1])
        whole = int(np.searchsorted(ends, rest, side="right"))  # whole segments in the rest
        steps = Counter({k: passes * c[-1] + c[whole] for k, c in cumulative.items()})
        if whole < len(self.segments):  # the segment the span ends in, as far as it goes
            process, _ = self.segments[whole]
            steps += Counter({_SEGMENTS: 1}) + process._expected_steps(
                rest - (ends[whole - 1] if whole else 0.0)
            )
        return steps

    def _generate(self, rng, trace, budget):
        start = 0.0
        while True:
            for process, duration in self.segments:
                if start >= trace.until_us:
                    return
                budget.spend(_SEGMENTS, 1)
                part = _Trace(trace.room, min(duration, trace.until_us - start))
                process._generate(rng, part, budget)
                if trace.add(start + part.array()):
                    return
                start += duration


# -- helpers that teach ------------------------------------------------------------------
def window_counts(arrivals, window_us: float) -> np.ndarray:
    """Number of arrivals in consecutive windows of ``window_us`` µs, starting at 0 (lesson 06).

    Window ``k`` holds the arrivals ``t`` with ``floor(t / window_us) == k``; the last window
    is the one holding the last arrival. ``arrivals`` must be a valid trace (1-D, sorted,
    finite, not empty) starting at or after 0, and span at most ``MAX_EVENTS`` windows.
    """
    times = validate_arrivals(arrivals)
    window_us = validate.real("window_us", window_us, low=0, low_open=True)
    if times[0] < 0:
        raise ValueError(f"arrivals must be >= 0 (windows start at 0), got {times[0]:g}")
    last = times[-1] / window_us
    if not last < MAX_EVENTS:
        raise ValueError(
            f"arrivals span {times[-1]:.3g} µs, ~{last:.3g} windows of {window_us:g} µs, "
            f"above MAX_EVENTS = {MAX_EVENTS:,} windows: use a wider window_us"
        )
    return np.bincount((times / window_us).astype(np.int64), minlength=int(last) + 1)


def rate_over_time(arrivals, window_us: float) -> tuple[np.ndarray, np.ndarray]:
    """Empirical rate (events/s) per window: window start times (µs) and rates (lesson 06).

    Windows as in :func:`window_counts`.
    """
    counts = window_counts(arrivals, window_us)
    return np.arange(counts.size) * window_us, units.count_to_rate(counts, window_us)


def index_of_dispersion(arrivals, window_us: float) -> float:
    """Variance / mean of window counts: 1 for Poisson, > 1 for bursty traffic (lesson 06).

    Windows as in :func:`window_counts`; the arrivals must span at least two windows.
    """
    counts = window_counts(arrivals, window_us)
    if counts.size < 2:
        raise ValueError(
            f"the arrivals span one window of {window_us:g} µs: a dispersion needs at least "
            "two; use a narrower window_us or a longer trace"
        )
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
    """Return arrivals (µs) as a 1-D float64 array, or raise (lesson 06).

    Refused: a non-numeric input (``TypeError``); an array that is not one-dimensional, is
    empty, holds NaN or infinity, or is not sorted (``ValueError``, naming the shape or the
    first bad index). A float64 contiguous input is returned as is, not copied.
    """
    if isinstance(arrivals, str | bytes):
        raise TypeError(f"arrivals must be numbers, got {type(arrivals).__name__}")
    try:
        times = np.asarray(arrivals)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"arrivals must be a one-dimensional array of numbers: {e}") from None
    if times.dtype == object or times.dtype.kind not in "iuf":
        raise TypeError(f"arrivals must be numeric, got dtype {times.dtype}")
    if times.ndim != 1:
        raise ValueError(f"arrivals must be a one-dimensional array, got shape {times.shape}")
    times = np.ascontiguousarray(times, dtype=np.float64)
    if times.size == 0:
        raise ValueError("arrivals is empty: there is nothing to simulate")
    first, not_finite = _first_invalid(times)
    if not_finite:
        raise ValueError(f"arrivals contains NaN or infinite values (first at index {first})")
    if first >= 0:
        raise ValueError(f"arrivals must be sorted; arrivals[{first}] < arrivals[{first - 1}]")
    return times


def _file_path(path) -> str | bytes:
    """A file name from a ``str`` or ``os.PathLike``; anything else (``0``, which ``open``
    would take as stdin, a file object) is refused."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike file name, got {type(path).__name__}")
    return os.fspath(path)


def write_csv(path: str | Path, arrivals) -> None:
    """Save a trace as CSV with one column, ``arrival_us``, exactly (lesson 06)."""
    path = _file_path(path)
    times = validate_arrivals(arrivals)
    np.savetxt(path, times, fmt="%.17g", header="arrival_us", comments="")


def read_csv(path: str | Path) -> np.ndarray:
    """Load a trace written by :func:`write_csv` (lesson 06).

    The file must start with the header line ``arrival_us`` and hold one number per line
    after it (at most ``MAX_EVENTS``), sorted and finite. Anything else raises
    ``ValueError`` naming the file; a missing file raises ``FileNotFoundError`` naming it.
    """
    path = _file_path(path)
    try:
        f = open(path, encoding="utf-8")  # closed by the with block below
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such arrival trace file", path) from None
    with f:
        try:
            header = f.readline().strip().lstrip("\ufeff")
            if header != "arrival_us":
                raise ValueError(f"expected the header line 'arrival_us', got {header!r}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                rows = np.loadtxt(f, dtype=np.float64, ndmin=2, max_rows=MAX_EVENTS + 1)
            if rows.shape[1] != 1:
                raise ValueError(
                    f"expected one column (arrival_us) per line, got {rows.shape[1]} columns"
                )
            if rows.shape[0] == 0:
                raise ValueError("no arrival times after the header")
            if rows.shape[0] > MAX_EVENTS:
                raise ValueError(f"more than MAX_EVENTS = {MAX_EVENTS:,} arrival times")
            return validate_arrivals(rows[:, 0])
        except ValueError as e:  # numpy's parse errors and ours, with the file named
            raise ValueError(f"{os.fsdecode(path)}: {e}") from None
