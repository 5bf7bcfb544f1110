"""Checkers of lesson 00 (welcome): why the tail matters when requests fan out."""

from __future__ import annotations

import math

from latency_lab.checks.core import Feedback, checker, close, number, whole


@checker
def check_tail_probability(answer) -> Feedback:
    """Lesson 00: chance that a request fanning out to 50 services sees at least one p99."""
    if 1 < number(answer, "the probability") <= 100:
        return Feedback(False, "Give a probability between 0 and 1, not a percentage.")
    return close(
        answer,
        1 - 0.99**50,
        "1 - 0.99**50",
        "each call avoids its p99 with probability 0.99.",
    )


@checker
def check_fanout_for_even_odds(answer) -> Feedback:
    """Lesson 00: the smallest k for which a p99.9 event hits more than half of requests."""
    expected = math.ceil(math.log(0.5) / math.log(0.999))
    if whole(answer, "k") == expected:
        return Feedback(True, f"Correct: with k = {expected}, 1 - 0.999**k first exceeds 0.5.")
    return Feedback(
        False,
        f"{whole(answer, 'k')} is not it. Hint: solve 1 - 0.999**k > 0.5 for the smallest "
        "integer k.",
    )
