"""checks: right answers pass in any reasonable form, wrong or hostile ones get a hint, and
nothing a learner's code does (loop, exit, crash) escapes as a traceback or a hang."""

import math
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from latency_lab import checks
from latency_lab.checks import core

LIMIT_S = 0.5  # time limit given to learner code that never returns


def nearest_rank(samples, p):
    ordered = np.sort(samples)
    return ordered[max(math.ceil(Fraction(str(p)) * len(ordered) / 100), 1) - 1]


def interpolated(samples, p):
    return np.percentile(samples, p)


def broken(*args):
    raise RuntimeError("half-written")


def spin(*args):
    """Stands for a learner's infinite loop, bounded so a broken time limit fails, not hangs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pass


def leave(*args):
    sys.exit("bye")


def interrupt(*args):
    raise KeyboardInterrupt


def hard_exit(*args):
    os._exit(3)


def segfault(*args):
    os.kill(os.getpid(), signal.SIGSEGV)


def zero(buffer):
    buffer.fill(0)


@pytest.mark.parametrize(
    "checker, right, wrong",
    [
        (checks.check_tail_probability, 1 - 0.99**50, 0.5),
        (checks.check_fanout_for_even_odds, 693, 500),
        (checks.check_clock_choice, time.perf_counter_ns, time.time),
        (checks.check_float_spacing, 238.4185791015625, 1.0),
        (checks.check_nearest_rank, nearest_rank, interpolated),
        (checks.check_corrected_count, 49, 50),
        (checks.check_mm1_wait, 80.0, 20.0),
        (checks.check_littles_law, 200.0, 0.0002),
        (checks.check_row_stride, 16384, 8),
        (checks.check_vwap, lambda p, s: np.dot(p, s) / s.sum(), lambda p, s: p.mean()),
        (checks.check_ring_slot, 904, 5000 % 1000),
        (checks.check_reset_hook, zero, lambda buf: None),
    ],
)
def test_checkers_tell_right_from_wrong(checker, right, wrong):
    assert checker(right).passed
    feedback = checker(wrong)
    assert not feedback.passed and "✅" not in repr(feedback)


@pytest.mark.parametrize(
    "checker, right",
    [
        (checks.check_tail_probability, np.array(1 - 0.99**50)),
        (checks.check_tail_probability, np.float32(0.395)),
        (checks.check_fanout_for_even_odds, np.int64(693)),
        (checks.check_fanout_for_even_odds, np.array(693)),
        (checks.check_fanout_for_even_odds, 693.0),
        (checks.check_float_spacing, np.array(238.4185791015625)),
        (checks.check_float_spacing, 238.4),
        (checks.check_corrected_count, np.int32(49)),
        (checks.check_mm1_wait, np.array(80.0)),
        (checks.check_mm1_wait, np.float64(80)),
        (checks.check_mm1_wait, 80),
        (checks.check_mm1_wait, 80.04),
        (checks.check_littles_law, np.array(200)),
        (checks.check_row_stride, np.array(16384)),
        (checks.check_ring_slot, np.uint16(904)),
        (checks.check_clock_choice, "time.perf_counter_ns"),
        (checks.check_clock_choice, " perf_counter_ns() "),
        (checks.check_nearest_rank, lambda s, p: np.array(nearest_rank(s, p))),
        (checks.check_nearest_rank, lambda s, p: float(nearest_rank(s, p))),
        (checks.check_vwap, lambda p, s: np.array(np.dot(p, s) / s.sum())),
    ],
)
def test_any_numeric_form_of_a_right_answer_passes(checker, right):
    assert checker(right).passed, checker(right).message


@pytest.mark.parametrize(
    "checker, wrong, says",
    [
        (checks.check_mm1_wait, 80.3, "significant digits"),
        (checks.check_float_spacing, 237, "significant digits"),
        (checks.check_mm1_wait, "80", "without quotes"),
        (checks.check_mm1_wait, np.array([80.0]), ".item()"),
        (checks.check_mm1_wait, True, "Expected a number"),
        (checks.check_mm1_wait, float("nan"), "NaN"),
        (checks.check_fanout_for_even_odds, 693.5, "whole number"),
        (checks.check_tail_probability, 39.5, "percentage"),
        (checks.check_clock_choice, print, "not one of the time module's clocks"),
        (checks.check_clock_choice, time.process_time_ns, "CPU time"),
        (checks.check_nearest_rank, lambda s, p: np.array([nearest_rank(s, p)]), ".item()"),
        (checks.check_nearest_rank, lambda s, p: None, "forget `return`"),
        (checks.check_vwap, 101.5, "Pass your function itself"),
    ],
)
def test_wrong_answers_get_a_specific_hint(checker, wrong, says):
    feedback = checker(wrong)
    assert not feedback.passed and says in feedback.message


@pytest.mark.parametrize("answer", [None, ..., "text", broken, [1, 2], object()])
@pytest.mark.parametrize(
    "checker",
    [checks.check_tail_probability, checks.check_nearest_rank, checks.check_float_spacing],
)
def test_malformed_answers_get_feedback_not_exceptions(checker, answer):
    feedback = checker(answer)
    assert isinstance(feedback, checks.Feedback) and not feedback
    assert repr(feedback).startswith("❌")


@pytest.mark.parametrize(
    "checker", [checks.check_nearest_rank, checks.check_vwap, checks.check_reset_hook]
)
def test_a_function_that_never_returns_is_stopped_with_a_friendly_message(checker):
    start = time.monotonic()
    feedback = checker(spin, time_limit_s=LIMIT_S)
    assert time.monotonic() - start < 10 * LIMIT_S + 5
    assert not feedback.passed
    assert f"did not return within {LIMIT_S:g} s" in feedback.message


def test_an_answer_whose_conversion_never_returns_is_stopped():
    class Stuck(int):
        def __int__(self):
            spin()
            return 904

    feedback = checks.check_ring_slot(Stuck(904), time_limit_s=LIMIT_S)
    assert not feedback.passed and "did not return" in feedback.message


@pytest.mark.parametrize(
    "learner, says",
    [
        (leave, "raised SystemExit"),
        (interrupt, "raised KeyboardInterrupt"),
        (hard_exit, "exit status 3"),
        (segfault, "SIGSEGV"),
        (broken, "raised RuntimeError"),
    ],
)
@pytest.mark.parametrize(
    "checker", [checks.check_nearest_rank, checks.check_vwap, checks.check_reset_hook]
)
def test_exits_interrupts_and_crashes_in_learner_code_become_feedback(checker, learner, says):
    feedback = checker(learner, time_limit_s=5)
    assert not feedback.passed and says in feedback.message
    assert "checker itself failed" not in feedback.message


def test_a_learner_error_names_the_exception_and_the_line():
    feedback = checks.check_nearest_rank(broken)
    line = broken.__code__.co_firstlineno + 1
    assert feedback.message.startswith(f"Your code raised RuntimeError (line {line} of broken)")
    assert "half-written" in feedback.message


def test_the_learners_printed_output_is_shown(capsys):
    def chatty(samples, p):
        print("looking at", samples.size, "samples")
        return nearest_rank(samples, p)

    assert checks.check_nearest_rank(chatty).passed
    assert "looking at 1001 samples" in capsys.readouterr().out


def test_a_checkers_own_error_is_reported_as_the_checkers_bug():
    @core.checker
    def buggy(answer):
        return 1 / 0

    @core.checker
    def not_feedback(answer):
        return True

    for check in (buggy, not_feedback):
        for answer in (1.0, nearest_rank):  # judged in this process, and in a child
            message = check(answer).message
            assert "checker itself failed" in message and "please report" in message
            assert "Your code" not in message


def test_a_learner_error_wrapped_by_library_code_is_still_the_learners():
    @core.checker
    def wrapping(func):
        try:
            core.call_learner(func, 1)
        except core.LearnerError as exc:
            raise RuntimeError("the pool failed") from exc
        return core.Feedback(True, "ok")

    message = wrapping(broken).message
    assert message.startswith("Your code raised RuntimeError") and "half-written" in message


@pytest.mark.parametrize(
    "hook, says",
    [
        (lambda buf: np.zeros_like(buf), "returned an array"),
        (lambda buf: np.zeros(buf.size), "returned an array"),
        (lambda buf: buf.resize(0, refcheck=False), "shape or type"),
        (lambda buf: buf.resize(2 * buf.size, refcheck=False), "shape or type"),
        (lambda buf: setattr(buf, "shape", (buf.size, 1)), "shape or type"),
        (lambda buf: setattr(buf, "dtype", np.int64) or buf.fill(0), "shape or type"),
        (lambda buf: buf.__imul__(0), "Multiplying by 0"),
        (lambda buf: buf.__setitem__(slice(0, 16), 0), "still holds"),
        (lambda buf: None, "still holds"),
    ],
)
def test_reset_hooks_that_do_not_clear_the_same_buffer_in_place_fail(hook, says):
    feedback = checks.check_reset_hook(hook)
    assert not feedback.passed and says in feedback.message


@pytest.mark.parametrize(
    "hook",
    [zero, lambda buf: buf.__setitem__(slice(None), 0), lambda buf: buf.fill(0) or buf],
)
def test_reset_hooks_that_clear_in_place_pass(hook):
    assert checks.check_reset_hook(hook).passed


def test_in_process_judging_has_a_time_limit_on_the_main_thread():
    judge = checks.check_nearest_rank.__wrapped__
    start = time.monotonic()
    feedback = core.run_judge(judge, spin, time_limit_s=LIMIT_S, isolate=False)
    assert time.monotonic() - start < 10 * LIMIT_S + 5
    assert "did not return within" in feedback.message
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm is disarmed
    right = core.run_judge(judge, nearest_rank, time_limit_s=LIMIT_S, isolate=False)
    assert right.passed


def test_in_process_judging_contains_exits_even_off_the_main_thread():
    judge = checks.check_nearest_rank.__wrapped__
    results = []
    thread = threading.Thread(
        target=lambda: results.append(core.run_judge(judge, leave, time_limit_s=5, isolate=False))
    )
    thread.start()
    thread.join(30)
    assert "raised SystemExit" in results[0].message


@pytest.mark.parametrize("limit, error", [(0, ValueError), (-1, ValueError), ("5", TypeError)])
def test_a_bad_time_limit_is_refused(limit, error):
    with pytest.raises(error, match="time_limit_s"):
        checks.check_vwap(nearest_rank, time_limit_s=limit)


def test_every_checker_is_reachable_and_unknown_names_are_not():
    for name in checks.CHECKERS:
        assert callable(getattr(checks, name)) and name in dir(checks)
    with pytest.raises(AttributeError):
        checks.check_nothing  # noqa: B018


def test_lesson_00_checking_imports_nothing_later_lessons_need():
    code = (
        "import sys\n"
        "from latency_lab import checks\n"
        "assert checks.check_tail_probability(0.395).passed\n"
        "assert checks.check_fanout_for_even_odds(693).passed\n"
        "later = ['latency_lab.checks.lesson0' + n for n in '12346']\n"
        "later += ['latency_lab.' + m for m in ('memory', 'queueing', 'structures', 'engine',\n"
        "          'traffic', 'policies', 'scenarios', 'plots', 'handoff', 'allocation')]\n"
        "later += ['numba', 'matplotlib']\n"
        "print([m for m in later if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_an_untouched_stub_is_no_answer_for_every_checker():
    def dots(samples, p): ...

    def passes(samples, p):
        """A docstring and nothing else."""

    def returns_dots(samples, p):
        return ...

    def answer(samples, p):
        return samples[0]

    for stub in (dots, passes, returns_dots):
        assert core.is_stub(stub)
        feedback = checks.check_nearest_rank(stub)
        assert not feedback.passed and feedback.message == core.NO_ANSWER
    assert not core.is_stub(answer)
    assert not core.is_stub(lambda samples, p: None)  # a wrong answer, not a stub
    assert not core.is_stub(np.sort)  # no bytecode: judged like any answer


def test_names_used_sees_nested_functions():
    def outer():
        def inner():
            return math.floor(1.5)

        return inner()

    assert {"math", "floor"} <= core.names_used(outer.__code__)
