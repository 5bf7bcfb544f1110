"""checks: right answers pass, wrong or broken ones get a hint and never a traceback."""

import math
import time

import numpy as np
import pytest

from latency_lab import checks


def nearest_rank(samples, p):
    ordered = np.sort(samples)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def interpolated(samples, p):
    return np.percentile(samples, p)


def broken(samples, p):
    raise RuntimeError("half-written")


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
        (checks.check_reset_hook, lambda buf: buf.fill(0), lambda buf: None),
    ],
)
def test_checkers_tell_right_from_wrong(checker, right, wrong):
    assert checker(right).passed
    feedback = checker(wrong)
    assert not feedback.passed and "✅" not in repr(feedback)


@pytest.mark.parametrize("answer", [None, ..., "text", broken, [1, 2]])
@pytest.mark.parametrize(
    "checker",
    [checks.check_tail_probability, checks.check_nearest_rank, checks.check_float_spacing],
)
def test_malformed_answers_get_feedback_not_exceptions(checker, answer):
    feedback = checker(answer)
    assert isinstance(feedback, checks.Feedback) and not feedback
    assert repr(feedback).startswith("❌")


def test_percent_instead_of_probability_gets_a_specific_hint():
    assert "percentage" in checks.check_tail_probability(39.5).message


def test_clock_choice_accepts_a_name_and_explains_wrong_ones():
    assert checks.check_clock_choice("perf_counter_ns")
    assert "CPU time" in checks.check_clock_choice(time.process_time_ns).message
