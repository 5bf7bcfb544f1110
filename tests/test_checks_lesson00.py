"""Lesson 00's checkers: the reference answers pass in any reasonable form, typical wrong
answers fail with the hint they deserve, and an unanswered stub says so."""

import math

import numpy as np
import pytest

from latency_lab import checks
from latency_lab.checks import core, lesson00


# -- exercise 1 and 2: numbers --------------------------------------------------------------
@pytest.mark.parametrize("right", [1 - 0.99**50, 0.395, np.float64(0.395), np.array(0.3950)])
def test_tail_probability_accepts_the_value_at_the_precision_shown(right):
    assert checks.check_tail_probability(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [(0.99**50, "Hint"), (0.5, "Hint"), (39.5, "percentage"), (0.39, "Hint")],
)
def test_tail_probability_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_tail_probability(wrong)
    assert not feedback.passed and says in feedback.message


@pytest.mark.parametrize("right", [693, np.int64(693), 693.0])
def test_fanout_accepts_693(right):
    assert checks.check_fanout_for_even_odds(right).passed


@pytest.mark.parametrize("wrong", [692, 694, 69, math.log(0.5) / math.log(0.999)])
def test_fanout_rejects_off_by_one_and_unrounded(wrong):
    assert not checks.check_fanout_for_even_odds(wrong).passed


# -- exercise 3: the learner's slow_action_fraction ------------------------------------------
def reference(calls_us, limit_us):
    return np.mean((calls_us > limit_us).any(axis=1))


def row_loop(calls_us, limit_us):
    """The same answer in plain Python, returning a Python float."""
    slow = sum(1 for row in calls_us.tolist() if max(row) > limit_us)
    return slow / len(calls_us)


def via_max(calls_us, limit_us):
    return (calls_us.max(axis=1) > limit_us).mean()


def stub(calls_us, limit_us):
    return ...


@pytest.mark.parametrize("right", [reference, row_loop, via_max])
def test_slow_action_fraction_accepts_any_right_function(right):
    feedback = checks.check_slow_action_fraction(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (lambda c, limit: np.mean(c > limit), "fraction of slow calls"),
        (lambda c, limit: np.mean((c > limit).any(axis=0)), "columns"),
        (lambda c, limit: np.mean((c >= limit).any(axis=1)), "rather than >="),
        (lambda c, limit: np.sum((c > limit).any(axis=1)), "count"),
        (lambda c, limit: 100 * reference(c, limit), "percentage"),
        (lambda c, limit: 1 - 0.99 ** c.shape[1], "ANY of its calls"),
        (lambda c, limit: None, "forget `return`"),
        (lambda c, limit: [reference(c, limit)], "Expected a number"),
        (0.395, "Pass your function itself"),
    ],
)
def test_slow_action_fraction_rejects_typical_mistakes_with_their_hint(wrong, says):
    feedback = checks.check_slow_action_fraction(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_slow_action_fraction_stub_is_not_an_answer_yet():
    for unanswered in (..., None, stub):
        feedback = checks.check_slow_action_fraction(unanswered)
        assert not feedback.passed and feedback.message == core.NO_ANSWER


def test_slow_action_fraction_hidden_cases_cover_ties_shapes_and_types():
    """The cases tell >= from >, rows from columns and from calls, and include integers."""
    cases = lesson00.slow_action_cases()
    assert any(calls.dtype.kind == "i" for calls, _ in cases)
    assert any(calls.shape[0] == 1 for calls, _ in cases)
    assert any(calls.shape[1] == 1 for calls, _ in cases)
    wants = [float(reference(*case)) for case in cases]
    assert {0.0, 1.0} <= set(wants) and any(0 < w < 1 for w in wants)
    for mistake, _ in lesson00.SLOW_ACTION_MISTAKES:
        assert any(
            not math.isclose(float(mistake(*case)), want)
            for case, want in zip(cases, wants, strict=True)
        )


def test_slow_action_fraction_does_not_let_the_learner_change_the_cases():
    def vandal(calls_us, limit_us):
        calls_us[:] = 0
        return 0.0

    assert not checks.check_slow_action_fraction(vandal).passed
    assert checks.check_slow_action_fraction(reference).passed
