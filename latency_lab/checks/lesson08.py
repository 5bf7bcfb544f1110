"""Checkers of lesson 08 (RL adaptive batching): the cost of one step, and the Q-learning
update."""

from __future__ import annotations

import numpy as np

from latency_lab.checks.core import (
    NO_ANSWER,
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
)


@checker
def check_step_cost(answer) -> Feedback:
    """Lesson 08: the cost (in SLOs) of a step that served latencies 150, 250 and 400 µs and
    ended with 5 events waiting, with slo_us=200, interval_us=1,000 and weights tail 1,
    mean 0, backlog 0.1."""
    return close(
        answer,
        (50 + 200) / 200 + 0.1 * 5 * 1_000 / 200,
        "the step's cost in SLOs",
        "only the part of each latency above the SLO counts in the tail term (150 µs adds "
        "nothing), divided by slo_us; the backlog term is 0.1 · depth · interval_us / slo_us.",
    )


def _reference_update(q, state, action, reward, next_state, terminal, alpha, gamma):
    target = reward if terminal else reward + gamma * q[next_state].max()
    q[state, action] += alpha * (target - q[state, action])
    return q


def _cases():
    rng = np.random.default_rng(808)
    cases = []
    for terminal in (False, True, False, False, True, False):
        q = rng.normal(-5, 3, size=(6, 4))
        s, s2 = (int(x) for x in rng.integers(0, 6, size=2))
        cases.append((q, s, int(rng.integers(0, 4)), float(rng.normal(-2, 1)), s2, terminal,
                      float(rng.choice([0.1, 0.5, 1.0])), float(rng.choice([0.0, 0.9, 0.99]))))  # fmt: skip
    q = np.zeros((3, 2))
    cases.append((q, 1, 0, -1.0, 1, False, 0.5, 0.9))  # the same state: bootstrap from itself
    return cases


@checker
def check_q_update(func) -> Feedback:
    """Lesson 08: ``func(q, state, action, reward, next_state, terminal, alpha, gamma)``
    applies one Q-learning update to the table ``q`` (in place, or returning the new table)."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: e.g. check_q_update(q_update)."
        )
    for case in _cases():
        q, s, a, r, s2, terminal, alpha, gamma = case
        want = _reference_update(q.copy(), s, a, r, s2, terminal, alpha, gamma)
        mine = q.copy()
        got = call_learner(func, mine, s, a, r, s2, terminal, alpha, gamma)
        table = got if isinstance(got, np.ndarray) and got.shape == q.shape else mine
        if got is None and np.array_equal(mine, q):
            raise Rejected(NO_ANSWER + " (your function returned None and changed nothing)")
        where = (f"state={s}, action={a}, reward={r:.3f}, next_state={s2}, terminal={terminal}, "
                 f"alpha={alpha}, gamma={gamma}")  # fmt: skip
        if not np.allclose(table, want, rtol=1e-9, atol=1e-12):
            changed = np.argwhere(~np.isclose(table, want, rtol=1e-9, atol=1e-12))
            cell = tuple(int(i) for i in changed[0])
            hint = ("the target is reward + gamma · max over actions of q[next_state] — or just "
                    "reward when terminal — and q[state, action] moves alpha of the way to it; "
                    "no other cell changes.")  # fmt: skip
            return Feedback(
                False,
                f"For {where}, q{list(cell)} is {table[cell]!r}, expected {want[cell]!r}. "
                f"Hint: {hint}",
            )
    return Feedback(True, "Correct: Q[s, a] += α·(r + γ·max Q[s'] − Q[s, a]), without the "
                          "bootstrap at the end of an episode.")  # fmt: skip
