"""Checkers of lesson 05 (async and deferral): a bounded ``try_send`` that never blocks, a
staleness-aware reader of a cached estimate, and how long a channel takes to fill."""

from __future__ import annotations

from collections import deque

import numpy as np

from latency_lab.checks.core import (
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    number,
)
from latency_lab.deferral import Snapshot


def _function(func, example: str) -> None:
    if not callable(func):
        raise Rejected(f"Pass your function itself, not {describe(func)}: e.g. {example}.")


# -- exercise 1: try_send ----------------------------------------------------------------------
def _reference_try_send(items: deque, capacity: int, item) -> bool:
    """Reference for lesson 05's exercise 1: append ``item`` to ``items`` unless it already
    holds ``capacity`` items; never wait, never drop an item already queued."""
    if len(items) >= capacity:
        return False
    items.append(item)
    return True


def try_send_cases() -> list[tuple[str, int, int | None, list]]:
    """The (description, capacity, deque maxlen, operations) cases ``check_try_send``
    judges. An operation is ``("send", item)`` or ``("pop",)`` (the consumer takes one)."""
    rng = np.random.default_rng(5)
    mixed = [("send", f"order-{i}") if rng.random() < 0.6 else ("pop",) for i in range(300)]
    return [
        ("capacity 1", 1, None, [("send", "a"), ("send", "b"), ("pop",), ("send", "c")]),
        ("capacity 3, filled then overfilled", 3, None, [("send", i) for i in range(6)]),
        (
            "capacity 4 on a deque(maxlen=4)",
            4,
            4,
            [("send", i) for i in range(7)] + [("pop",), ("send", 7), ("send", 8)],
        ),
        ("capacity 5, 300 sends and receives", 5, None, mixed),
        ("capacity 2 holding falsy items", 2, None, [("send", 0), ("send", ""), ("send", None)]),
    ]


def _judge_try_send(func, description, capacity, maxlen, ops) -> None:
    mine: deque = deque(maxlen=maxlen)
    reference: deque = deque(maxlen=maxlen)
    for step, op in enumerate(ops, 1):
        if op[0] == "pop":
            if reference:
                reference.popleft()
                if mine:
                    mine.popleft()
            continue
        item = op[1]
        before = list(reference)
        want = _reference_try_send(reference, capacity, item)
        got = call_learner(func, mine, capacity, item)
        where = f"{description}, step {step}: try_send(items={before!r}, {capacity}, {item!r})"
        if not isinstance(got, bool | np.bool_):
            raise Rejected(
                f"{where} returned {describe(got)}: return True when the item was accepted "
                "and False when it was refused."
            )
        if list(mine) != list(reference) or bool(got) != want:
            if want is False and list(mine) == before[1:] + [item]:
                raise Rejected(
                    f"{where}: the channel was full, but your code made room by dropping "
                    f"{before[0]!r}, the oldest item — what deque(maxlen=...) does silently. "
                    "try_send must refuse the new item (return False) and keep the queue as is."
                )
            if want is False:
                raise Rejected(
                    f"{where}: the channel was full (len == capacity), so try_send must "
                    f"return False and leave the items as they were; you returned {bool(got)} "
                    f"and left {list(mine)!r}."
                )
            raise Rejected(
                f"{where}: there was room (len {len(before)} < capacity {capacity}), so the "
                f"item must be appended and True returned; you returned {bool(got)} and left "
                f"{list(mine)!r}. Off by one in the comparison?"
            )


@checker
def check_try_send(func) -> Feedback:
    """Lesson 05: ``func(items, capacity, item)`` appends ``item`` to the deque ``items`` and
    returns True if it holds fewer than ``capacity`` items; otherwise it returns False at once
    and leaves ``items`` unchanged (no waiting, no eviction)."""
    _function(func, "check_try_send(try_send)")
    cases = try_send_cases()
    for description, capacity, maxlen, ops in cases:
        _judge_try_send(func, description, capacity, maxlen, ops)
    sends = sum(op[0] == "send" for *_, ops in cases for op in ops)
    return Feedback(
        True,
        f"Correct on {sends} sends in {len(cases)} unseen cases: items accepted while there is "
        "room, refused at once when full, and nothing queued is ever dropped — even on a "
        "deque(maxlen=...).",
    )


# -- exercise 2: a staleness-aware reader --------------------------------------------------------
def _reference_read_estimate(snapshot: Snapshot | None, now_ns: int, max_age_ns: int, fallback):
    """Reference for lesson 05's exercise 2: the snapshot's value if there is one and it is
    at most ``max_age_ns`` old at ``now_ns`` (its age counts from ``as_of_ns``), else
    ``fallback``."""
    if snapshot is None or now_ns - snapshot.as_of_ns > max_age_ns:
        return fallback
    return snapshot.value


def staleness_cases() -> list[tuple[str, Snapshot | None, int, int, float]]:
    """The (description, snapshot, now_ns, max_age_ns, fallback) cases the checker judges."""
    fresh = Snapshot(0.0123, 1_000_000, 1_000_000, 7)  # computed in no time
    zero = Snapshot(0.0, 5_000, 5_100, 3)
    slow = Snapshot(0.02, 1_000, 900_000, 2)  # took 899 µs to compute
    cases = [
        ("no snapshot yet", None, 10_000, 50_000, 0.05),
        ("a fresh snapshot", fresh, 1_010_000, 50_000, 0.05),
        ("a snapshot exactly max_age_ns old", fresh, 1_050_000, 50_000, 0.05),
        ("a snapshot 1 ns too old", fresh, 1_050_001, 50_000, 0.05),
        ("a fresh snapshot whose value is 0.0", zero, 6_000, 50_000, 0.05),
        ("a snapshot published recently but computed from old data", slow, 950_000, 500_000, 0.05),
        ("a stale snapshot with a zero fallback", fresh, 9_000_000, 50_000, 0.0),
    ]
    rng = np.random.default_rng(11)
    for k in range(20):
        as_of = int(rng.integers(0, 10**9))
        snapshot = Snapshot(float(rng.uniform(0.001, 0.05)), as_of, as_of + 1_000, k + 1)
        max_age = int(rng.integers(1, 10**6))
        now = as_of + max_age + int(rng.integers(-5, 6))
        cases.append((f"random case {k + 1}", snapshot, now, max_age, 0.05))
    return cases


@checker
def check_staleness_reader(func) -> Feedback:
    """Lesson 05: ``func(snapshot, now_ns, max_age_ns, fallback)`` returns
    ``snapshot.value`` when a snapshot exists and ``now_ns − snapshot.as_of_ns ≤ max_age_ns``,
    otherwise ``fallback``."""
    _function(func, "check_staleness_reader(read_estimate)")
    cases = staleness_cases()
    for description, snapshot, now_ns, max_age_ns, fallback in cases:
        want = _reference_read_estimate(snapshot, now_ns, max_age_ns, fallback)
        got = call_learner(func, snapshot, now_ns, max_age_ns, fallback)
        where = f"{description} (now_ns={now_ns:,}, max_age_ns={max_age_ns:,})"
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result for {where}")
        if value == want:
            continue
        age = None if snapshot is None else now_ns - snapshot.as_of_ns
        if snapshot is not None and age == max_age_ns:
            hint = "an estimate exactly max_age_ns old is still fresh enough (use <=)."
        elif snapshot is not None and snapshot.value == 0 and value == fallback:
            hint = (
                "a value of 0.0 is a real estimate: test the age, not the value's truth "
                "(`value or fallback` treats 0.0 as missing)."
            )
        elif snapshot is not None and now_ns - snapshot.published_ns <= max_age_ns < age:
            hint = (
                "the age counts from as_of_ns, when computing began: the data behind it is "
                "that old, however recently it was published."
            )
        else:
            hint = (
                "fresh means now_ns - snapshot.as_of_ns <= max_age_ns; otherwise return fallback."
            )
        return Feedback(
            False, f"For {where} you returned {value!r}, expected {want!r}. Hint: {hint}"
        )
    return Feedback(
        True,
        f"Correct on {len(cases)} unseen cases: no snapshot, the exact boundary, a value of "
        "0.0, and an estimate published late from old data.",
    )


# -- exercise 3: how long until the channel is full ----------------------------------------------
@checker
def check_channel_fill_time(answer) -> Feedback:
    """Lesson 05: seconds until a channel of 256 fills when 600 commands/s arrive and one
    leaves every 2 ms, starting empty."""
    expected = 256 / (600 - 500)
    value = number(answer, "the time until the channel is full")
    if abs(value - 256 / 600) < 0.005 or abs(value - 256 / 500) < 0.005:
        return Feedback(
            False,
            f"{value:g} s would be right if nothing left the channel (or nothing arrived). "
            "Hint: it fills at the *difference* between the arrival and the departure rates.",
        )
    return close(
        answer,
        expected,
        "the time until the channel is full, in seconds",
        "the backlog grows by (600 − 1/0.002) commands per second until it reaches 256.",
        digits=3,
    )
