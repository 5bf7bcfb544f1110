"""Lesson 08's checkers: the reference answers pass in any reasonable form, typical wrong
answers fail with a useful hint, and an unanswered stub says so."""

import numpy as np
import pytest

from latency_lab import checks
from latency_lab.checks import core


# -- exercise 1: the cost of a step ------------------------------------------------------------
@pytest.mark.parametrize("right", [3.75, np.float64(3.75), np.array(3.75), 3.7504])
def test_step_cost_accepts_the_reference(right):
    assert checks.check_step_cost(right).passed


@pytest.mark.parametrize("wrong", [1.25, 2.5, 4.5, 6.5, 375])
def test_step_cost_rejects_typical_wrong_answers(wrong):
    # 1.25 forgets the backlog, 2.5 the tail, 4.5 counts 150 µs too, 6.5 whole latencies
    feedback = checks.check_step_cost(wrong)
    assert not feedback.passed and "Hint" in feedback.message


def test_step_cost_stub_says_no_answer():
    assert checks.check_step_cost(...).message.endswith(core.NO_ANSWER) or (
        "No answer yet" in checks.check_step_cost(...).message
    )


# -- exercise 2: the Q-learning update -------------------------------------------------------
def in_place(q, s, a, r, s2, terminal, alpha, gamma):
    target = r if terminal else r + gamma * np.max(q[s2])
    q[s, a] = q[s, a] + alpha * (target - q[s, a])


def returns_new(q, s, a, r, s2, terminal, alpha, gamma):
    q = q.copy()
    best = 0.0 if terminal else max(q[s2])
    q[s][a] = (1 - alpha) * q[s][a] + alpha * (r + gamma * best)
    return q


@pytest.mark.parametrize("right", [in_place, returns_new])
def test_q_update_accepts_reference_forms(right):
    feedback = checks.check_q_update(right)
    assert feedback.passed, feedback.message


def always_bootstraps(q, s, a, r, s2, terminal, alpha, gamma):
    q[s, a] += alpha * (r + gamma * q[s2].max() - q[s, a])


def sarsa_like_mean(q, s, a, r, s2, terminal, alpha, gamma):
    target = r if terminal else r + gamma * q[s2].mean()
    q[s, a] += alpha * (target - q[s, a])


def no_alpha(q, s, a, r, s2, terminal, alpha, gamma):
    q[s, a] = r if terminal else r + gamma * q[s2].max()


def bootstraps_from_old_state(q, s, a, r, s2, terminal, alpha, gamma):
    target = r if terminal else r + gamma * q[s].max()
    q[s, a] += alpha * (target - q[s, a])


def updates_whole_row(q, s, a, r, s2, terminal, alpha, gamma):
    target = r if terminal else r + gamma * q[s2].max()
    q[s] += alpha * (target - q[s, a])


@pytest.mark.parametrize(
    "wrong", [always_bootstraps, sarsa_like_mean, no_alpha, bootstraps_from_old_state,
              updates_whole_row],
)  # fmt: skip
def test_q_update_rejects_typical_mistakes(wrong):
    feedback = checks.check_q_update(wrong)
    assert not feedback.passed and "Hint" in feedback.message


def test_q_update_stub_and_non_function():
    assert "No answer yet" in checks.check_q_update(...).message
    assert not checks.check_q_update(3).passed


def test_q_update_unwritten_stub_says_no_answer():
    def stub(q, state, action, reward, next_state, terminal, alpha, gamma): ...

    feedback = checks.check_q_update(stub)
    assert not feedback.passed and "No answer yet" in feedback.message
