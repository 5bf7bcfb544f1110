"""Checkers of lesson 04 (ring buffers and pools): ring slots, a ring buffer's ``push``, and
a pool's reset hook."""

from __future__ import annotations

import numpy as np

from latency_lab.checks.core import (
    Feedback,
    LearnerError,
    Rejected,
    call_learner,
    checker,
    describe,
    whole,
)
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


# -- a ring buffer's push -------------------------------------------------------------------
class _Slots(list):
    """A ring's slot list that logs every write, so the order of writes can be judged."""

    def __init__(self, size: int, log: list):
        super().__init__([None] * size)
        self.log = log

    def __setitem__(self, index, value):
        self.log.append(("slot", index))
        super().__setitem__(index, value)


def _logged(name: str) -> property:
    """An attribute of :class:`_Ring` whose every assignment is logged."""

    def get(ring):
        return getattr(ring, "_" + name)

    def set_(ring, value):
        ring.log.append((name, value))
        setattr(ring, "_" + name, value)

    return property(get, set_)


class _Ring:
    """The state the learner's ``push`` receives: ``slots``, ``mask``, ``head``, ``tail``
    (and ``capacity``, ``len()``), with every write logged in ``log``."""

    def __init__(self, capacity: int):
        self.log: list = []
        self._slots = _Slots(capacity, self.log)
        self._mask = capacity - 1
        self._head = self._tail = 0

    slots = _logged("slots")
    mask = _logged("mask")
    head = _logged("head")
    tail = _logged("tail")

    @property
    def capacity(self) -> int:
        return len(self._slots)

    def __len__(self) -> int:
        return self._tail - self._head

    def pop_as_consumer(self):
        """The reference pop (RingBuffer.pop), without logging: the consumer's side."""
        head = self._head
        if head == self._tail:
            return None
        index = head & self._mask
        item = self._slots[index]
        list.__setitem__(self._slots, index, None)
        self._head = head + 1
        return item


def _push_sequences() -> list[tuple[int, list[str]]]:
    """(capacity, operations) the learner has not seen: fills, refusals, wrap-arounds."""
    sequences = [(4, ["push"] * 5 + ["pop"] * 2 + ["push"] * 3 + ["pop"] * 4 + ["push"] * 6)]
    rng = np.random.default_rng(404)
    for capacity in (1, 2, 8, 16, 4, 32):
        for share in (0.5, 0.75, 0.3):
            ops = rng.choice(["push", "pop"], size=6 * capacity + 20, p=[share, 1 - share])
            sequences.append((capacity, ops.tolist()))
    return sequences


def _as_bool(returned, where: str) -> bool:
    if returned is None:
        raise Rejected(
            f"On {where} your push returned None: return True when the item went in and "
            "False when the ring was full."
        )
    if isinstance(returned, bool | np.bool_):
        return bool(returned)
    if isinstance(returned, int | np.integer) and returned in (0, 1):
        return bool(returned)
    raise Rejected(f"On {where} your push returned {describe(returned)}: return True or False.")


def _judge_push(func, ring: _Ring, item: str, expected_slots: list) -> None:
    """Push ``item`` with the learner's ``func`` and reject anything the reference would not do."""
    head, tail, capacity, mask = ring.head, ring.tail, ring.capacity, ring.mask
    slots_list = ring.slots
    full = tail - head == capacity
    where = (
        f"a push into a ring of capacity {capacity} holding {tail - head} "
        f"(head={head}, tail={tail})"
    )
    ring.log.clear()
    try:
        returned = call_learner(func, ring, item)
    except LearnerError as error:
        raise Rejected(
            f"{error.message} — on {where}. Hint: counter tail lives in slot tail & mask."
        ) from None
    accepted = _as_bool(returned, where)
    names = [entry[0] for entry in ring.log]
    if ring.slots is not slots_list or len(slots_list) != capacity or ring.mask != mask:
        raise Rejected(
            f"On {where} your push replaced or resized the slots, or changed the mask: a ring "
            "allocates its slots once and only writes into them."
        )
    if "head" in names:
        raise Rejected(
            f"On {where} your push wrote head: only the consumer (pop) writes head. The "
            "producer reads it, to see whether the ring is full."
        )
    if full:
        if accepted or "slot" in names or ring.tail != tail:
            raise Rejected(
                f"On {where} the ring was full (tail − head == capacity), but your push "
                + ("returned True" if accepted else "wrote a slot or tail")
                + f": slot {tail & mask} still holds an item the consumer has not read. A "
                "full ring refuses the item: return False and write nothing."
            )
        return
    if not accepted:
        raise Rejected(
            f"On {where} there was room for {capacity - (tail - head)} more, but your push "
            "returned False. The ring is full only when tail − head == capacity."
        )
    if ring.tail != tail + 1:
        if ring.tail == tail:
            problem = "did not advance tail"
        elif ring.tail == (tail + 1) & mask:
            problem = f"set tail to {ring.tail}: the counters never wrap, only the slot index does"
        else:
            problem = f"set tail to {describe(ring.tail)}, not tail + 1 = {tail + 1}"
        raise Rejected(f"On {where} your push {problem}.")
    expected_slots[tail & mask] = item
    if list(slots_list) != expected_slots:
        raise Rejected(
            f"On {where} the item should go in slot tail & mask = {tail & mask}; after your "
            f"push the slots are {list(slots_list)}."
        )
    first_tail = names.index("tail")
    if "slot" not in names[:first_tail]:
        raise Rejected(
            f"On {where} your push advanced tail before writing the slot. With a consumer in "
            "another thread, it could see the new tail and read the slot before your item is "
            "in it: write the slot first, then publish it by advancing tail."
        )


@checker
def check_ring_push(func) -> Feedback:
    """Lesson 04: ``func(ring, item)`` must push ``item`` into an SPSC ring (``ring.slots``,
    ``ring.mask``, ``ring.head``, ``ring.tail``) as ``RingBuffer.push`` does: True and the
    item in slot ``tail & mask`` then ``tail`` advanced, or False when full."""
    if not callable(func):
        raise Rejected("Pass your function itself, e.g. check_ring_push(push).")
    pushes = 0
    for capacity, ops in _push_sequences():
        ring = _Ring(capacity)
        expected = [None] * capacity
        for op in ops:
            if op == "pop":
                index = ring.head & ring.mask
                if ring.pop_as_consumer() is not None:
                    expected[index] = None
                continue
            _judge_push(func, ring, f"order-{pushes}", expected)
            pushes += 1
    return Feedback(
        True,
        f"Correct on {pushes} pushes into rings of capacity 1 to 32, full ones and "
        "wrap-arounds included, writing the slot before publishing it.",
    )
