"""Lesson 04's exercises: the reference answers pass in any reasonable form, typical wrong
answers fail with a hint that names the mistake, and an untouched stub says "No answer yet"."""

import numpy as np
import pytest

from latency_lab import checks
from latency_lab.checks.core import NO_ANSWER


# -- exercise 1: the slot of counter 5000 ---------------------------------------------------
@pytest.mark.parametrize("answer", [904, np.int64(904), 904.0, np.array(904)])
def test_ring_slot_accepts_904_in_any_numeric_form(answer):
    assert checks.check_ring_slot(answer).passed


@pytest.mark.parametrize("answer", [5000 % 1000, 5000 // 1024, 905, 5000 & 1024, "904"])
def test_ring_slot_rejects_typical_mistakes(answer):
    assert not checks.check_ring_slot(answer).passed


# -- exercise 2: a reset hook -----------------------------------------------------------------
def zero(buffer):
    buffer.fill(0)


def zero_by_slice(buffer):
    buffer[:] = 0


def new_zeros(buffer):
    return np.zeros_like(buffer)


def scale_by_zero(buffer):
    buffer *= 0


def stub_hook(buffer): ...


@pytest.mark.parametrize("hook", [zero, zero_by_slice])
def test_reset_hook_reference_passes(hook):
    assert checks.check_reset_hook(hook).passed


@pytest.mark.parametrize(
    "hook, says",
    [(new_zeros, "returned an array"), (scale_by_zero, "Multiplying by 0")],
)
def test_reset_hook_typical_mistakes_fail_with_a_hint(hook, says):
    feedback = checks.check_reset_hook(hook)
    assert not feedback.passed and says in feedback.message


def test_reset_hook_stub_says_no_answer_yet():
    assert checks.check_reset_hook(stub_hook).message == NO_ANSWER


# -- exercise 3: a ring buffer's push -----------------------------------------------------------
def push(ring, item):
    """The reference: RingBuffer.push on the exercise's public fields."""
    tail = ring.tail
    if tail - ring.head > ring.mask:
        return False
    ring.slots[tail & ring.mask] = item
    ring.tail = tail + 1
    return True


def push_with_modulo(ring, item):
    if len(ring) == ring.capacity:
        return 0
    ring.slots[ring.tail % len(ring.slots)] = item
    ring.tail += 1
    return 1


def push_returning_numpy_bools(ring, item):
    room = np.bool_(ring.tail - ring.head < ring.capacity)
    if room:
        ring.slots[ring.tail & ring.mask] = item
        ring.tail += 1
    return room


def overwrites_when_full(ring, item):
    ring.slots[ring.tail & ring.mask] = item
    ring.tail += 1
    return True


def full_one_early(ring, item):
    if ring.tail - ring.head >= ring.mask:
        return False
    ring.slots[ring.tail & ring.mask] = item
    ring.tail += 1
    return True


def no_mask(ring, item):
    if ring.tail - ring.head == ring.capacity:
        return False
    ring.slots[ring.tail] = item
    ring.tail += 1
    return True


def wrapping_counter(ring, item):
    if ring.tail - ring.head == ring.capacity:
        return False
    ring.slots[ring.tail & ring.mask] = item
    ring.tail = (ring.tail + 1) & ring.mask
    return True


def publishes_before_writing(ring, item):
    tail = ring.tail
    if tail - ring.head == ring.capacity:
        return False
    ring.tail = tail + 1
    ring.slots[tail & ring.mask] = item
    return True


def forgets_to_return(ring, item):
    tail = ring.tail
    if tail - ring.head == ring.capacity:
        return False
    ring.slots[tail & ring.mask] = item
    ring.tail = tail + 1


def drops_the_oldest(ring, item):
    if ring.tail - ring.head == ring.capacity:
        ring.head += 1
    ring.slots[ring.tail & ring.mask] = item
    ring.tail += 1
    return True


def forgets_tail(ring, item):
    if ring.tail - ring.head == ring.capacity:
        return False
    ring.slots[ring.tail & ring.mask] = item
    return True


def writes_at_head(ring, item):
    if ring.tail - ring.head == ring.capacity:
        return False
    ring.slots[ring.head & ring.mask] = item
    ring.tail += 1
    return True


def appends(ring, item):
    if ring.tail - ring.head == ring.capacity:
        return False
    ring.slots.append(item)
    ring.tail += 1
    return True


def returns_a_string(ring, item):
    push(ring, item)
    return "ok"


def stub_push(ring, item):
    """Put item in the ring's next slot and return True, or return False if it is full."""
    ...  # your code


@pytest.mark.parametrize("answer", [push, push_with_modulo, push_returning_numpy_bools])
def test_ring_push_reference_passes_in_any_reasonable_form(answer):
    feedback = checks.check_ring_push(answer)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "answer, says",
    [
        (overwrites_when_full, "the ring was full"),
        (full_one_early, "there was room for 1 more"),
        (no_mask, "IndexError"),
        (wrapping_counter, "counters never wrap"),
        (publishes_before_writing, "advanced tail before writing the slot"),
        (forgets_to_return, "returned None"),
        (drops_the_oldest, "wrote head"),
        (forgets_tail, "did not advance tail"),
        (writes_at_head, "should go in slot"),
        (appends, "replaced or resized the slots"),
        (returns_a_string, "return True or False"),
        (lambda ring, item: None, "returned None"),
    ],
)
def test_ring_push_typical_mistakes_fail_with_a_hint(answer, says):
    feedback = checks.check_ring_push(answer)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_ring_push_judges_wrap_around_and_full_rings():
    """A push that is right until the counters pass the capacity once is still caught."""

    def right_until_wrap(ring, item):
        if ring.tail >= ring.capacity:  # wrong after the first lap
            return False
        return push(ring, item)

    feedback = checks.check_ring_push(right_until_wrap)
    assert not feedback.passed and "there was room" in feedback.message


def test_ring_push_stub_and_non_functions():
    assert checks.check_ring_push(stub_push).message == NO_ANSWER
    assert checks.check_ring_push(...).message == NO_ANSWER
    feedback = checks.check_ring_push(3)
    assert not feedback.passed and "Pass your function itself" in feedback.message
