"""Exercise checkers: ``check_<exercise>(answer)`` gives friendly pass/fail feedback (all lessons).

A checker never raises because an answer is wrong or malformed: whatever goes wrong while
judging it becomes a hint. It returns a :class:`Feedback`, which notebooks display as text
and tests read through ``.passed``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np

from latency_lab import memory, queueing, stats
from latency_lab.structures import ObjectPool


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("✅ " if self.passed else "❌ ") + self.message


def _checker(func: Callable[..., Feedback]) -> Callable[..., Feedback]:
    """Turn a missing answer or any exception while judging it into a hint, not a traceback."""

    @functools.wraps(func)
    def check(answer=None):
        if answer is None or answer is Ellipsis:
            return Feedback(False, "No answer yet: replace the `...`/None in the cell above.")
        try:
            return func(answer)
        except Exception as exc:  # the learner's code may fail in any way
            return Feedback(False, f"Judging your answer raised {type(exc).__name__}: {exc}")

    return check


def _close(answer, expected: float, rel_tol: float, what: str, hint: str) -> Feedback:
    if isinstance(answer, bool) or not isinstance(answer, Real) or math.isnan(answer):
        return Feedback(False, f"Expected a number for {what}, got {answer!r}.")
    if math.isclose(answer, expected, rel_tol=rel_tol):
        return Feedback(True, f"Correct: {what} = {expected:.4g}.")
    return Feedback(False, f"{answer!r} is not {what}. Hint: {hint}")


def _same_as_reference(func, cases, reference, equal, describe, hint, success) -> Feedback:
    """Judge a learner's function: call it on every case (arrays copied, so it may modify
    them) and compare with ``reference``; the first mismatch becomes the hint."""
    if not callable(func):
        return Feedback(False, "Pass your function itself, not its result: check_...(my_function).")
    for case in cases:
        got = func(*(a.copy() if isinstance(a, np.ndarray) else a for a in case))
        want = reference(*case)
        if got is None:
            return Feedback(False, "Your function returned None: did you forget `return`?")
        if not equal(got, want):
            return Feedback(
                False,
                f"For {describe(*case)} you returned {got!r}, expected {want!r}. Hint: {hint}",
            )
    return Feedback(True, success)


# -- lesson 00 --------------------------------------------------------------------------
@_checker
def check_tail_probability(answer) -> Feedback:
    """Lesson 00: chance that a request fanning out to 50 services sees at least one p99."""
    if isinstance(answer, Real) and 1 < answer <= 100:
        return Feedback(False, "Give a probability between 0 and 1, not a percentage.")
    return _close(
        answer,
        1 - 0.99**50,
        1e-3,
        "1 - 0.99**50",
        "each call avoids its p99 with probability 0.99.",
    )


@_checker
def check_fanout_for_even_odds(answer) -> Feedback:
    """Lesson 00: the smallest k for which a p99.9 event hits more than half of requests."""
    expected = math.ceil(math.log(0.5) / math.log(0.999))
    if answer == expected:
        return Feedback(True, f"Correct: with k = {expected}, 1 - 0.999**k first exceeds 0.5.")
    return Feedback(
        False, f"{answer!r} is not it. Hint: solve 1 - 0.999**k > 0.5 for the smallest integer k."
    )


# -- lesson 01 --------------------------------------------------------------------------
@_checker
def check_clock_choice(answer) -> Feedback:
    """Lesson 01: the clock to time a short operation with."""
    name = getattr(answer, "__name__", answer)
    if name == "perf_counter_ns":
        return Feedback(
            True, "Correct: monotonic, the highest resolution, and integer ns (no float rounding)."
        )
    hints = {
        "time": "wall-clock time can jump (NTP, manual changes) and a float at ~1.7e9 s only resolves ~238 ns.",
        "time_ns": "wall-clock time can be adjusted while you measure, so an interval may even be negative.",
        "perf_counter": "close, but a float loses precision as the counter grows; prefer integer nanoseconds.",
        "monotonic": "monotonic is right, but a float loses precision; is there an integer version?",
        "monotonic_ns": "close; on Linux it is the same clock, but Python promises the highest resolution elsewhere.",
        "process_time_ns": "CPU time of the process excludes sleeping and waiting, which are part of latency.",
        "thread_time_ns": "CPU time of the thread excludes time spent blocked, which is part of latency.",
    }
    return Feedback(False, hints.get(name, f"{answer!r} is not one of the time module's clocks."))


@_checker
def check_float_spacing(answer) -> Feedback:
    """Lesson 01: nanoseconds between adjacent float64 values near 1.7e9 seconds."""
    return _close(
        answer,
        float(np.spacing(1.7e9)) * 1e9,
        1e-3,
        "the spacing of float64 near 1.7e9 s, in ns",
        "np.spacing(x) gives the gap to the next float; convert seconds to ns.",
    )


# -- lesson 02 --------------------------------------------------------------------------
@_checker
def check_nearest_rank(func) -> Feedback:
    """Lesson 02: ``func(samples, p)`` must return the nearest-rank p-th percentile."""
    rng = np.random.default_rng(2)
    ten = np.arange(1.0, 11.0)
    cases = [(np.array([7.0]), 50.0)] + [(ten, p) for p in (0.0, 90.0, 95.0, 100.0)]
    cases += [(rng.lognormal(3, 1, n), p) for n in (3, 100, 1001) for p in (25, 50, 99, 99.9)]
    return _same_as_reference(
        func,
        cases,
        stats.percentiles,
        lambda got, want: got == want,
        lambda samples, p: f"{samples.size} samples and p={p}",
        "sort, then take the value of rank ceil(p/100 * n), counting from 1 (rank 1 for p=0).",
        f"Correct on {len(cases)} cases, including p=0, p=100 and a single sample.",
    )


@_checker
def check_corrected_count(answer) -> Feedback:
    """Lesson 02: samples added by CO correction for one 50 ms stall at a 1 ms interval."""
    expected = stats.correct_coordinated_omission([50_000_000], 1_000_000).size - 1
    if answer == expected:
        return Feedback(True, f"Correct: {expected} requests (49, 48, ... 1 ms) were never sent.")
    return Feedback(
        False,
        f"{answer!r} is not it. Hint: correction adds v - I, v - 2I, ... while the value stays >= I.",
    )


# -- lesson 06 --------------------------------------------------------------------------
@_checker
def check_mm1_wait(answer) -> Feedback:
    """Lesson 06: M/M/1 mean queueing delay at 40,000 events/s and a 20 µs mean service."""
    return _close(
        answer,
        queueing.mm1_mean_wait(40_000, 20),
        1e-3,
        "the mean wait in µs",
        "rho = λ·E[S] = 0.8; the mean wait is rho/(1 - rho) · E[S].",
    )


@_checker
def check_littles_law(answer) -> Feedback:
    """Lesson 06: mean latency with 12 orders in the system on average at 60,000 orders/s."""
    return _close(
        answer,
        12 / 60_000 * 1e6,
        1e-3,
        "the mean latency in µs",
        "Little's law L = λ·W, so W = L/λ; mind the units (events per second, µs).",
    )


# -- lesson 03 --------------------------------------------------------------------------
@_checker
def check_row_stride(answer) -> Feedback:
    """Lesson 03: bytes between ``a[i, j]`` and ``a[i + 1, j]`` in a C-ordered (2048, 2048) float64 array."""
    expected = np.zeros((2, 2048)).strides[0]
    if answer == expected:
        return Feedback(True, f"Correct: {expected} bytes — a whole row of 2048 × 8 bytes apart.")
    return Feedback(
        False,
        f"{answer!r} is not it. Hint: in C order a row is contiguous; what lies between two rows?",
    )


@_checker
def check_vwap(func) -> Feedback:
    """Lesson 03: ``func(prices, sizes)`` must return the volume-weighted average price."""
    rng = np.random.default_rng(5)
    ticks = memory.make_ticks(1_000, seed=5)
    cases = [(100 + rng.random(n), rng.integers(1, 50, n).astype(float)) for n in (1, 7, 10_000)]
    cases.append((ticks["price"], ticks["size"]))  # strided views into an array of structs
    return _same_as_reference(
        func,
        cases,
        memory.vwap_vectorized,
        lambda got, want: bool(np.isclose(got, want, rtol=1e-9)),
        lambda prices, sizes: f"{prices.size} ticks",
        "Σ price·size / Σ size.",
        "Correct, including on strided columns of a structured array.",
    )


# -- lesson 04 --------------------------------------------------------------------------
@_checker
def check_ring_slot(answer) -> Feedback:
    """Lesson 04: the slot of push number 5000 (counting from 0) in a RingBuffer of capacity 1024."""
    expected = 5000 & (1024 - 1)
    if answer == expected:
        return Feedback(
            True, f"Correct: 5000 & 1023 = {expected}, the same as 5000 % 1024 without a division."
        )
    return Feedback(
        False, f"{answer!r} is not it. Hint: slot = counter & mask, with mask = capacity - 1."
    )


@_checker
def check_reset_hook(func) -> Feedback:
    """Lesson 04: a reset hook that makes a pooled numpy buffer safe to reuse (all zeros)."""
    if not callable(func):
        return Feedback(False, "Pass your function itself, e.g. check_reset_hook(zero).")
    pool = ObjectPool(lambda: np.empty(16), reset=func)
    first = pool.acquire()
    first.fill(7.0)
    pool.release(first)
    again = pool.acquire()
    if again is not first:
        return Feedback(False, "The pool made a new buffer instead of reusing the released one.")
    if again.any():
        return Feedback(
            False,
            f"After release and acquire the buffer holds {again[:3]}...: reset must clear it in place (e.g. buf.fill(0)).",
        )
    return Feedback(
        True, "Correct: the buffer is reused, and cleared in place, without allocating."
    )
