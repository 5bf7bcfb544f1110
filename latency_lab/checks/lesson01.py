"""Checkers of lesson 01 (clocks and timer overhead): which clock, float resolution, and the
smallest step between consecutive reads."""

from __future__ import annotations

import math
import time

import numpy as np

from latency_lab import units
from latency_lab.checks.core import (
    NO_ANSWER,
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    number,
)

#: Why each clock other than ``perf_counter_ns`` is not the answer.
HINTS = {
    "time": "wall-clock time can jump (NTP, manual changes) and a float at ~1.7e9 s only "
    "resolves ~238 ns.",
    "time_ns": "wall-clock time can be adjusted while you measure, so an interval may even "
    "be negative.",
    "perf_counter": "close, but a float loses precision as the counter grows; prefer integer "
    "nanoseconds.",
    "monotonic": "monotonic is right, but a float loses precision; is there an integer version?",
    "monotonic_ns": "close; on Linux it is the same clock, but Python promises the highest "
    "resolution elsewhere.",
    "process_time": "CPU time of the process excludes sleeping and waiting, which are part of "
    "latency.",
    "process_time_ns": "CPU time of the process excludes sleeping and waiting, which are part "
    "of latency.",
    "thread_time": "CPU time of the thread excludes time spent blocked, which is part of latency.",
    "thread_time_ns": "CPU time of the thread excludes time spent blocked, which is part of "
    "latency.",
}


def _clock_name(answer) -> str | None:
    """The time module's name of the clock ``answer`` designates (the function itself, or
    its name as ``"perf_counter_ns"``, ``"time.perf_counter_ns"`` or ``"perf_counter_ns()"``)."""
    if isinstance(answer, str):
        name = answer.strip()
        name = name.removeprefix("time.").removesuffix("()").strip()
        return name if name in HINTS or name == "perf_counter_ns" else None
    for name in [*HINTS, "perf_counter_ns"]:
        if getattr(time, name, None) is answer:
            return name
    return None


@checker
def check_clock_choice(answer) -> Feedback:
    """Lesson 01: the clock to time a short operation with."""
    name = _clock_name(answer)
    if name == "perf_counter_ns":
        return Feedback(
            True, "Correct: monotonic, the highest resolution, and integer ns (no float rounding)."
        )
    if name is None:
        return Feedback(
            False,
            "That is not one of the time module's clocks: pass the function itself "
            "(e.g. time.monotonic) or its name.",
        )
    return Feedback(False, f"Not {name}: {HINTS[name]}")


@checker
def check_float_spacing(answer) -> Feedback:
    """Lesson 01: nanoseconds between adjacent float64 values near 1.7e9 seconds."""
    return close(
        answer,
        float(units.seconds_to_ns(np.spacing(1.7e9))),
        "the spacing of float64 near 1.7e9 s, in ns",
        "np.spacing(x) gives the gap to the next float; convert seconds to ns.",
    )


# -- exercise 3: the smallest step between consecutive clock reads ---------------------------
def _smallest_step_ns(reads: np.ndarray, is_ns: bool) -> float:
    """Lesson 01 reference: the smallest positive difference between consecutive ``reads``
    of one clock, in ns; ``is_ns`` says they are integer ns, otherwise float seconds."""
    steps = np.diff(reads)
    smallest = steps[steps > 0].min()
    return float(smallest) if is_ns else float(units.seconds_to_ns(smallest))


def _positive_min(steps: np.ndarray) -> float:
    return float(steps[steps > 0].min())


#: Typical wrong versions of :func:`_smallest_step_ns`, with the hint each deserves.
SMALLEST_STEP_MISTAKES = (
    (
        lambda reads, is_ns: float(np.diff(reads).min()),
        "keep only the positive steps: a zero step means the clock did not tick between "
        "two reads (and a negative one that a wall clock was set back).",
    ),
    (
        lambda reads, is_ns: (
            float(np.abs(np.diff(reads))[np.diff(reads) != 0].min())
            * (1 if is_ns else units.NS_PER_S)
        ),
        "a negative step (a wall clock set back) is not a tick: keep the steps > 0 rather "
        "than taking their absolute value.",
    ),
    (
        lambda reads, is_ns: _positive_min(np.diff(reads)),
        "float clocks return seconds: convert the step to ns (units.seconds_to_ns).",
    ),
    (
        lambda reads, is_ns: _positive_min(np.diff(reads)) * units.NS_PER_S,
        "integer reads are already nanoseconds: convert only the float seconds.",
    ),
    (
        lambda reads, is_ns: _positive_min(np.diff(reads if is_ns else units.seconds_to_ns(reads))),
        "convert the steps, not the reads: a read near 1.7e9 s is 1.7e18 ns, where adjacent "
        "floats are 256 ns apart, so converting first rounds every read. Subtract, then "
        "convert.",
    ),
    (
        lambda reads, is_ns: (
            _positive_min(np.diff(reads.astype(float))) * (1 if is_ns else units.NS_PER_S)
        ),
        "keep integer nanoseconds as integers: near 1.7e18 ns (time.time_ns() today) "
        "adjacent float64 values are 256 ns apart, so a conversion to float rounds the reads.",
    ),
)


def smallest_step_cases() -> list[tuple[np.ndarray, bool]]:
    """Reads the learner has not seen: integer ns with repeats and a wall-clock step back,
    float seconds at Unix time and after a day of uptime, and seeded random tick patterns."""
    rng = np.random.default_rng(20240601)
    unix = 1.7e9 + np.spacing(1.7e9) * np.array([0, 0, 0, 1, 1, 1, 3, 3, 4, 4])
    day = 86_400.0 + np.array([0, 0, 51, 102, 160, 160, 215, 270]) / units.NS_PER_S
    base = int(rng.integers(20, 90))
    steps = base * rng.choice([0, 0, 1, 1, 2, 5], size=5_000)
    steps[0] = base  # at least one single tick
    uptime_steps = rng.choice([0, 0, 70, 71, 140, 3_000], size=2_000)
    uptime_steps[0] = 70
    uptime = 12_345.678 + np.cumsum(uptime_steps) / units.NS_PER_S
    return [
        (np.array([100, 100, 140, 180, 180, 260], dtype=np.int64), True),
        (np.array([1_000, 1_500, 1_450, 1_600, 1_600], dtype=np.int64), True),
        (unix, False),
        (day, False),
        (10**12 + np.cumsum(steps).astype(np.int64), True),
        (uptime, False),
        (1_700_000_000_000_000_000 + np.array([0, 900, 900, 700, 1_000, 1_040]), True),
    ]


def _describe_reads(reads: np.ndarray, is_ns: bool) -> str:
    kind = "integer ns" if is_ns else "float seconds"
    return f"{reads.size:,} reads in {kind} starting at {reads[0].item()!r} (is_ns={is_ns})"


@checker
def check_smallest_step(func) -> Feedback:
    """Lesson 01: the learner's ``smallest_step_ns(reads, is_ns)`` against the reference,
    on reads the learner has not seen (right to a millionth, so any order of float
    operations passes)."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: "
            "check_smallest_step(smallest_step_ns)."
        )
    for reads, is_ns in smallest_step_cases():
        want = _smallest_step_ns(reads, is_ns)
        got = call_learner(func, reads.copy(), is_ns)
        if got is Ellipsis:
            return Feedback(False, NO_ANSWER)
        where = _describe_reads(reads, is_ns)
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result for {where}")
        if math.isclose(value, want, rel_tol=1e-6):
            continue
        hint = None
        for mistake, text in SMALLEST_STEP_MISTAKES:
            theirs = mistake(reads, is_ns)
            if math.isclose(theirs, value, rel_tol=1e-6) and not math.isclose(
                theirs, want, rel_tol=1e-6
            ):
                hint = text
                break
        hint = hint or (
            "take the differences of consecutive reads, keep the positive ones, take the "
            "smallest, and convert it to ns if the reads are float seconds."
        )
        return Feedback(
            False, f"For {where} you returned {value:g}, expected {want:.6g}. Hint: {hint}"
        )
    return Feedback(
        True,
        "Correct on every hidden case: subtract consecutive reads, keep the ticks (steps > 0), "
        "and convert float seconds to ns only after subtracting.",
    )
