"""Checkers of lesson 04 (ring buffers and pools): ring slots, and a pool's reset hook."""

from __future__ import annotations

import numpy as np

from latency_lab.checks.core import Feedback, Rejected, call_learner, checker, describe, whole
from latency_lab.structures import ObjectPool


@checker
def check_ring_slot(answer) -> Feedback:
    """Lesson 04: the slot of push number 5000 (counting from 0) in a RingBuffer of
    capacity 1024."""
    expected = 5000 & (1024 - 1)
    if whole(answer, "the slot") == expected:
        return Feedback(
            True, f"Correct: 5000 & 1023 = {expected}, the same as 5000 % 1024 without a division."
        )
    return Feedback(
        False,
        f"{whole(answer, 'the slot')} is not it. Hint: slot = counter & mask, with "
        "mask = capacity - 1.",
    )


def _used_buffer(size: int, dtype) -> np.ndarray:
    """A buffer as a previous user leaves it: values everywhere, NaN and inf included."""
    buffer = np.full(size, 7, dtype=dtype)
    if buffer.dtype.kind == "f":
        buffer[1], buffer[-1] = np.nan, -np.inf
    return buffer


def _judge_reset(func, buffer: np.ndarray) -> None:
    """Reject unless ``func(buffer)`` clears ``buffer`` in place: same object, shape, dtype."""
    shape, dtype = buffer.shape, buffer.dtype
    returned = call_learner(func, buffer)
    what = f"a {buffer.size}-element {dtype} buffer"
    if buffer.shape != shape or buffer.dtype != dtype:
        raise Rejected(
            f"Your hook changed the buffer's shape or type (to {buffer.shape}, {buffer.dtype}): "
            "the next user needs the same buffer, cleared, e.g. buf.fill(0)."
        )
    if returned is not None and returned is not buffer and buffer.any():
        raise Rejected(
            f"Your hook returned {describe(returned)}, but a pool ignores what reset returns "
            "and hands out the same buffer again: clear that one in place (e.g. buf.fill(0))."
        )
    if buffer.any():
        bad = int(np.flatnonzero(buffer)[0])
        value = buffer[bad].item()
        nan_hint = (
            " Multiplying by 0 leaves NaN and inf as NaN: assign zeros instead."
            if value != value
            else ""
        )
        raise Rejected(
            f"After your hook, {what} still holds {value!r} at index {bad}: reset must "
            f"clear it in place (e.g. buf.fill(0)).{nan_hint}"
        )


@checker
def check_reset_hook(func) -> Feedback:
    """Lesson 04: a reset hook that makes a pooled numpy buffer safe to reuse (all zeros)."""
    if not callable(func):
        raise Rejected("Pass your function itself, e.g. check_reset_hook(zero).")
    for size, dtype in ((16, np.float64), (1_000, np.float64), (8, np.int64)):
        _judge_reset(func, _used_buffer(size, dtype))
    pool = ObjectPool(lambda: np.empty(16), reset=lambda buffer: call_learner(func, buffer))
    first = pool.acquire()
    first[:] = _used_buffer(16, np.float64)
    pool.release(first)
    again = pool.acquire()
    if again is not first or again.shape != (16,) or again.any():
        raise Rejected("Through an ObjectPool, the released buffer did not come back cleared.")
    return Feedback(
        True, "Correct: the buffer is reused, and cleared in place, without allocating."
    )
