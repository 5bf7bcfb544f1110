"""Checkers of lesson 01 (clocks and timer overhead): which clock, and float resolution."""

from __future__ import annotations

import time

import numpy as np

from latency_lab import units
from latency_lab.checks.core import Feedback, checker, close

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
