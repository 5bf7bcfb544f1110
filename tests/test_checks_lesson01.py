"""Lesson 01's checkers: the reference answers pass in any reasonable form (the clock's full
name, the value at the precision the text shows), typical wrong answers fail with the hint
they deserve, and an unanswered stub says so."""

import math
import time

import numpy as np
import pytest

from latency_lab import checks, units
from latency_lab.checks import core, lesson01


# -- exercise 1: the clock -------------------------------------------------------------------
@pytest.mark.parametrize(
    "right",
    [
        time.perf_counter_ns,
        "time.perf_counter_ns",
        "perf_counter_ns",
        "time.perf_counter_ns()",
        " perf_counter_ns() ",
    ],
)
def test_clock_choice_accepts_perf_counter_ns_in_any_form(right):
    feedback = checks.check_clock_choice(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (time.time, "wall-clock"),
        ("time.time", "wall-clock"),
        (time.perf_counter, "float"),
        (time.monotonic_ns, "same clock"),
        (time.process_time_ns, "CPU time"),
        ("time.thread_time_ns", "CPU time"),
        ("datetime.now", "not one of the time module's clocks"),
        (print, "not one of the time module's clocks"),
    ],
)
def test_clock_choice_rejects_other_clocks_with_the_reason(wrong, says):
    feedback = checks.check_clock_choice(wrong)
    assert not feedback.passed and says in feedback.message


# -- exercise 2: float spacing ----------------------------------------------------------------
@pytest.mark.parametrize(
    "right", [238, 238.4, 238.42, 238.4185791015625, np.float64(238.4), np.array(238)]
)
def test_float_spacing_accepts_the_value_the_text_shows(right):
    """The notebook prints 238.4186 and the text says 238 ns: both pass (3 digits)."""
    assert checks.check_float_spacing(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [(239, "significant digits"), (2.384e-7, "Hint"), (256, "Hint"), ("238", "without quotes")],
)
def test_float_spacing_rejects_wrong_units_and_values(wrong, says):
    feedback = checks.check_float_spacing(wrong)
    assert not feedback.passed and says in feedback.message


# -- exercise 3: the learner's smallest_step_ns -----------------------------------------------
def reference(reads, is_ns):
    steps = np.diff(reads)
    smallest = steps[steps > 0].min()
    return smallest if is_ns else units.seconds_to_ns(smallest)


def plain_python(reads, is_ns):
    """A loop over Python numbers, converting each step with a literal-free factor."""
    values = reads.tolist()
    best = min(b - a for a, b in zip(values, values[1:], strict=False) if b > a)
    return best if is_ns else best * units.NS_PER_S


def convert_steps_then_min(reads, is_ns):
    steps = np.diff(reads).astype(float)
    if not is_ns:
        steps = steps * units.NS_PER_S
    return float(np.min(steps[steps > 0]))


def stub(reads, is_ns):
    return ...


@pytest.mark.parametrize("right", [reference, plain_python, convert_steps_then_min])
def test_smallest_step_accepts_any_right_function(right):
    feedback = checks.check_smallest_step(right)
    assert feedback.passed, feedback.message


def forgot_to_convert(reads, is_ns):
    steps = np.diff(reads)
    return steps[steps > 0].min()


def converted_reads_first(reads, is_ns):
    values = reads if is_ns else units.seconds_to_ns(reads)
    steps = np.diff(values)
    return steps[steps > 0].min()


def via_float(reads, is_ns):
    steps = np.diff(reads.astype(float))
    smallest = steps[steps > 0].min()
    return smallest if is_ns else units.seconds_to_ns(smallest)


@pytest.mark.parametrize(
    "wrong, says",
    [
        (lambda reads, is_ns: np.diff(reads).min(), "keep only the positive steps"),
        (
            lambda reads, is_ns: np.abs(np.diff(reads))[np.diff(reads) != 0].min(),
            "absolute value",
        ),
        (forgot_to_convert, "convert the step to ns"),
        (lambda reads, is_ns: reference(reads, is_ns) * units.NS_PER_S, "already nanoseconds"),
        (converted_reads_first, "convert the steps, not the reads"),
        (via_float, "keep integer nanoseconds as integers"),
        (lambda reads, is_ns: round(reference(reads, is_ns)), "Hint"),
        (lambda reads, is_ns: None, "forget `return`"),
        (lambda reads, is_ns: np.diff(reads), "Expected a number"),
        (238.4, "Pass your function itself"),
    ],
)
def test_smallest_step_rejects_typical_mistakes_with_their_hint(wrong, says):
    feedback = checks.check_smallest_step(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_smallest_step_stub_is_not_an_answer_yet():
    for unanswered in (..., None, stub):
        feedback = checks.check_smallest_step(unanswered)
        assert not feedback.passed and feedback.message == core.NO_ANSWER


def test_smallest_step_hidden_cases_cover_both_units_repeats_and_steps_back():
    cases = lesson01.smallest_step_cases()
    assert {is_ns for _, is_ns in cases} == {True, False}
    assert all(reads.ndim == 1 and reads.size >= 2 for reads, _ in cases)
    assert any(is_ns and (np.diff(reads) < 0).any() for reads, is_ns in cases)
    assert any((np.diff(reads) == 0).any() for reads, _ in cases)
    wants = [float(reference(*case)) for case in cases]
    assert math.isclose(wants[2], 238.4185791015625)  # time.time() near 1.7e9 s
    for mistake, _ in lesson01.SMALLEST_STEP_MISTAKES:
        assert any(
            not math.isclose(mistake(*case), want, rel_tol=1e-6)
            for case, want in zip(cases, wants, strict=True)
        )


def test_smallest_step_does_not_let_the_learner_change_the_reads():
    def vandal(reads, is_ns):
        reads[:] = reads[0]
        return 1.0

    assert not checks.check_smallest_step(vandal).passed
    assert checks.check_smallest_step(reference).passed
