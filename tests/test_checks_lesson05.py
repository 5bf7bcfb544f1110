"""Lesson 05's checkers: the reference solutions pass in any reasonable form, and the typical
wrong answers fail with the hint that names their mistake."""

import numpy as np
import pytest

from latency_lab import checks
from latency_lab.checks import lesson05
from latency_lab.deferral import Snapshot


# -- exercise 1: try_send ----------------------------------------------------------------------
def try_send(items, capacity, item):
    """The solution in lessons/solutions/05_async_and_deferral.md."""
    if len(items) >= capacity:
        return False
    items.append(item)
    return True


def try_send_numpy_bool(items, capacity, item):
    room = np.int64(len(items)) < capacity
    if room:
        items.append(item)
    return room


def try_send_room_first(items, capacity, item):
    full = len(items) == capacity
    if not full:
        items.extend([item])
    return not full


@pytest.mark.parametrize("right", [try_send, try_send_numpy_bool, try_send_room_first])
def test_right_try_sends_pass(right):
    feedback = checks.check_try_send(right)
    assert feedback.passed, feedback.message


def test_the_stub_is_no_answer_yet():
    def stub(items, capacity, item): ...

    assert checks.check_try_send(stub).message.startswith("No answer yet")


def append_always(items, capacity, item):
    items.append(item)  # on a deque(maxlen=...) this evicts the oldest
    return True


def evict_oldest(items, capacity, item):
    if len(items) >= capacity:
        items.popleft()
    items.append(item)
    return True


def off_by_one(items, capacity, item):
    if len(items) > capacity:
        return False
    items.append(item)
    return True


def too_strict(items, capacity, item):
    if len(items) >= capacity - 1:
        return False
    items.append(item)
    return True


def returns_the_length(items, capacity, item):
    if len(items) >= capacity:
        return 0
    items.append(item)
    return len(items)


def refuses_falsy_items(items, capacity, item):
    if not item or len(items) >= capacity:
        return False
    items.append(item)
    return True


@pytest.mark.parametrize(
    "wrong, says",
    [
        (append_always, "full"),
        (evict_oldest, "dropping"),
        (off_by_one, "full"),
        (too_strict, "Off by one"),
        (returns_the_length, "return True"),
        (refuses_falsy_items, "there was room"),
    ],
)
def test_wrong_try_sends_fail_with_a_hint(wrong, says):
    feedback = checks.check_try_send(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_a_try_send_that_waits_for_room_is_stopped():
    def waits(items, capacity, item):
        while len(items) >= capacity:
            pass
        items.append(item)
        return True

    feedback = checks.check_try_send(waits, time_limit_s=0.5)
    assert not feedback.passed and "did not return" in feedback.message


def test_the_cases_include_a_full_deque_with_maxlen():
    cases = lesson05.try_send_cases()
    assert any(maxlen is not None for _, _, maxlen, _ in cases)
    assert sum(op[0] == "send" for *_, ops in cases for op in ops) > 100


# -- exercise 2: a staleness-aware reader ------------------------------------------------------
def read_estimate(snapshot, now_ns, max_age_ns, fallback):
    """The solution in lessons/solutions/05_async_and_deferral.md."""
    if snapshot is None or snapshot.age_ns(now_ns) > max_age_ns:
        return fallback
    return snapshot.value


def read_estimate_numpy(snapshot, now_ns, max_age_ns, fallback):
    fresh = snapshot is not None and np.int64(now_ns) - snapshot.as_of_ns <= max_age_ns
    return np.float64(snapshot.value) if fresh else np.float64(fallback)


@pytest.mark.parametrize("right", [read_estimate, read_estimate_numpy])
def test_right_readers_pass(right):
    feedback = checks.check_staleness_reader(right)
    assert feedback.passed, feedback.message


def strict_age(snapshot, now_ns, max_age_ns, fallback):
    if snapshot is None or now_ns - snapshot.as_of_ns >= max_age_ns:
        return fallback
    return snapshot.value


def value_or_fallback(snapshot, now_ns, max_age_ns, fallback):
    if snapshot is None or now_ns - snapshot.as_of_ns > max_age_ns:
        return fallback
    return snapshot.value or fallback


def age_from_publication(snapshot, now_ns, max_age_ns, fallback):
    if snapshot is None or now_ns - snapshot.published_ns > max_age_ns:
        return fallback
    return snapshot.value


def ignores_age(snapshot, now_ns, max_age_ns, fallback):
    return fallback if snapshot is None else snapshot.value


@pytest.mark.parametrize(
    "wrong, says",
    [
        (strict_age, "use <="),
        (value_or_fallback, "0.0 is a real estimate"),
        (age_from_publication, "as_of_ns"),
        (ignores_age, "fresh means"),
        (lambda s, now, age, fallback: s.value, "AttributeError"),
        (lambda s, now, age, fallback: None, "forget `return`"),
    ],
)
def test_wrong_readers_fail_with_a_hint(wrong, says):
    feedback = checks.check_staleness_reader(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_staleness_cases_include_the_boundary_and_a_zero_value():
    cases = lesson05.staleness_cases()
    assert any(s is not None and now - s.as_of_ns == age for _, s, now, age, _ in cases)
    assert any(s is not None and s.value == 0.0 for _, s, *_ in cases)
    assert any(s is None for _, s, *_ in cases)


def test_snapshot_age_is_counted_from_as_of():
    snapshot = Snapshot(1.0, as_of_ns=100, published_ns=400, version=1)
    assert snapshot.age_ns(1_000) == 900 and snapshot.compute_ns == 300


# -- exercise 3: channel fill time ---------------------------------------------------------------
@pytest.mark.parametrize("right", [2.56, np.float64(2.56), np.array(2.56), 256 / 100, 2.564])
def test_the_fill_time_passes_in_any_numeric_form(right):
    assert checks.check_channel_fill_time(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [(256 / 600, "difference"), (256 / 500, "difference"), (2.6, "significant"), (0.5, "is not")],
)
def test_wrong_fill_times_fail_with_a_hint(wrong, says):
    feedback = checks.check_channel_fill_time(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_unanswered_exercises_say_so():
    for check in (checks.check_try_send, checks.check_staleness_reader):
        assert check(...).message.startswith("No answer yet")
    assert checks.check_channel_fill_time(...).message.startswith("No answer yet")
