"""Lesson 07's checkers: the reference answers pass in any reasonable form, typical wrong
answers fail with a useful hint, and an unanswered stub says so."""

import math

import numpy as np
import pytest

from latency_lab import checks, units
from latency_lab.checks import core


# -- exercise 1: a timeout's latency ----------------------------------------------------------
@pytest.mark.parametrize("right", [122, 122.0, np.float64(122), np.array(122), 122.04])
def test_timeout_latency_accepts_122(right):
    assert checks.check_timeout_latency(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [(100, "Hint"), (22, "Hint"), (136, "Hint"), (1_122, "Hint"), ("122", "without quotes")],
)
def test_timeout_latency_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_timeout_latency(wrong)
    assert not feedback.passed and says in feedback.message


# -- exercise 2: batch capacity -----------------------------------------------------------------
def capacity(setup_us, per_item_us, k):
    return k / (setup_us + per_item_us * k) * units.US_PER_S


def capacity_numpy(setup_us, per_item_us, k):
    return np.float64(k) * units.US_PER_S / np.add(setup_us, np.multiply(per_item_us, k))


def per_microsecond(setup_us, per_item_us, k):
    return k / (setup_us + per_item_us * k)


def batches_per_second(setup_us, per_item_us, k):
    return units.US_PER_S / (setup_us + per_item_us * k)


def setup_per_item(setup_us, per_item_us, k):
    return units.US_PER_S / (setup_us + per_item_us)


def forgot_return(setup_us, per_item_us, k):
    k / (setup_us + per_item_us * k) * units.US_PER_S


@pytest.mark.parametrize("right", [capacity, capacity_numpy])
def test_batch_capacity_accepts_right_functions(right):
    feedback = checks.check_batch_capacity(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (per_microsecond, "Hint"),
        (batches_per_second, "Hint"),
        (setup_per_item, "Hint"),
        (forgot_return, "return"),
        (lambda s, p, k: 1 / 0, "ZeroDivisionError"),
        (42, "function itself"),
    ],
)
def test_batch_capacity_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_batch_capacity(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


# -- exercise 3: an AIMD that sees the queue ----------------------------------------------------
class QueueAwareAIMD:
    def __init__(self, slo_us, cap):
        self.slo_us, self.cap, self.limit = slo_us, cap, 1

    def reset(self):
        self.limit = 1
        return 1, 0.0

    def update(self, report):
        if report.batches > 0:
            if report.queue_depth > 0 or report.service_us <= self.slo_us:
                self.limit = min(self.limit + 1, self.cap)
            else:
                self.limit = max(1, self.limit // 2)
        return self.limit, 0.0


class NumpyAnswers(QueueAwareAIMD):
    """Right decisions in numpy types and a list: any reasonable form passes."""

    def reset(self):
        super().reset()
        return [np.int64(1), np.float32(0)]

    def update(self, report):
        limit, _ = super().update(report)
        return np.int64(limit), 0


class FloatLimit(QueueAwareAIMD):
    """Halves as a float and floors only on the way out: the same decisions."""

    def update(self, report):
        if report.batches > 0:
            if report.queue_depth > 0 or report.service_us <= self.slo_us:
                self.limit = min(self.limit + 1, self.cap)
            else:
                self.limit = max(1.0, self.limit / 2)
        return math.floor(self.limit), 0.0


class PlainAIMD(QueueAwareAIMD):
    """Clipper's AIMD: blind to the queue (the mistake the exercise fixes)."""

    def update(self, report):
        if report.batches > 0:
            if report.service_us <= self.slo_us:
                self.limit = min(self.limit + 1, self.cap)
            else:
                self.limit = max(1, self.limit // 2)
        return self.limit, 0.0


class NoCap(QueueAwareAIMD):
    def update(self, report):
        if report.batches > 0:
            if report.queue_depth > 0 or report.service_us <= self.slo_us:
                self.limit += 1
            else:
                self.limit = max(1, self.limit // 2)
        return self.limit, 0.0


class Waits(QueueAwareAIMD):
    def update(self, report):
        limit, _ = super().update(report)
        return limit, 50.0


class ReturnsNothing(QueueAwareAIMD):
    def update(self, report):
        super().update(report)


class ZeroLimit(QueueAwareAIMD):
    def update(self, report):
        super().update(report)
        return 0, 0.0


class NoUpdate:
    def __init__(self, slo_us, cap):
        pass

    def reset(self):
        return 1, 0.0


@pytest.mark.parametrize("right", [QueueAwareAIMD, NumpyAnswers, FloatLimit])
def test_queue_aware_aimd_accepts_right_controllers(right):
    feedback = checks.check_queue_aware_aimd(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (PlainAIMD, "queue_depth"),
        (NoCap, "at decision"),
        (Waits, "0.0"),
        (ReturnsNothing, "returned None"),
        (ZeroLimit, "engine refuses"),
        (NoUpdate, "no update()"),
        (QueueAwareAIMD(100.0, 8), "class itself"),
        (lambda slo_us, cap: 1 / 0, "ZeroDivisionError"),
        ("QueueAwareAIMD", "class itself"),
    ],
)
def test_queue_aware_aimd_rejects_typical_wrong_answers(wrong, says):
    feedback = checks.check_queue_aware_aimd(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


@pytest.mark.parametrize(
    "check",
    [checks.check_timeout_latency, checks.check_batch_capacity, checks.check_queue_aware_aimd],
)
def test_an_unanswered_stub_says_so(check):
    assert check(...).message == core.NO_ANSWER


class StubAIMD:  # as the notebook hands it out
    def __init__(self, slo_us, cap): ...  # your code

    def reset(self): ...

    def update(self, report): ...


def capacity_stub(setup_us, per_item_us, k): ...  # your code


def test_the_notebooks_stubs_say_no_answer_yet():
    assert checks.check_queue_aware_aimd(StubAIMD).message == core.NO_ANSWER
    assert checks.check_batch_capacity(capacity_stub).message == core.NO_ANSWER


class HalfDone(StubAIMD):
    def reset(self):
        return 1, 0.0


def test_a_half_written_controller_is_judged():
    feedback = checks.check_queue_aware_aimd(HalfDone)
    assert not feedback.passed and feedback.message != core.NO_ANSWER
