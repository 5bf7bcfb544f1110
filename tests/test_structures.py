"""structures: RingBuffer against deque (stateful), across two real threads; TickBuffer
against a list model; ObjectPool invariants and misuse."""

import threading
import time
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from latency_lab.structures import ObjectPool, RingBuffer, TickBuffer


class RingBufferVsDeque(RuleBasedStateMachine):
    """Every operation on a RingBuffer does what a bounded deque model says it should."""

    def __init__(self):
        super().__init__()
        self.capacity = 8
        self.ring = RingBuffer(self.capacity)
        self.model = deque()
        self.counter = 0

    def _next(self, k=1):
        items = list(range(self.counter, self.counter + k))
        self.counter += k
        return items

    @rule()
    def push(self):
        (item,) = self._next()
        accepted = self.ring.push(item)
        assert accepted == (len(self.model) < self.capacity)
        if accepted:
            self.model.append(item)

    @rule()
    def pop(self):
        assert self.ring.pop() == (self.model.popleft() if self.model else None)

    @rule()
    def peek(self):
        assert self.ring.peek() == (self.model[0] if self.model else None)

    @rule(k=st.integers(0, 12))
    def push_many(self, k):
        items = self._next(k)
        pushed = self.ring.push_many(items)
        assert pushed == min(k, self.capacity - len(self.model))
        self.model.extend(items[:pushed])

    @rule(k=st.one_of(st.none(), st.integers(0, 12)))
    def pop_many(self, k):
        count = len(self.model) if k is None else min(k, len(self.model))
        assert self.ring.pop_many(k) == [self.model.popleft() for _ in range(count)]

    @precondition(lambda self: len(self.model) == 0)
    @rule()
    def pop_empty(self):
        assert self.ring.pop() is None and self.ring.pop_many() == []

    @invariant()
    def same_length_and_flags(self):
        assert len(self.ring) == len(self.model)
        assert self.ring.empty == (not self.model)
        assert self.ring.full == (len(self.model) == self.capacity)

    @invariant()
    def popped_slots_hold_no_references(self):
        assert sum(slot is not None for slot in self.ring._slots) == len(self.model)


TestRingBufferVsDeque = RingBufferVsDeque.TestCase
TestRingBufferVsDeque.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@pytest.mark.parametrize("bulk", [False, True], ids=["one at a time", "bulk"])
def test_two_threads_move_a_million_items_in_order(bulk):
    total, ring = 1_000_000, RingBuffer(1024)
    received = []

    # A polling thread that finds nothing to do yields the GIL (sleep(0)); otherwise it
    # spins for a whole switch interval (5 ms) before the other thread may run.
    def producer():
        i = 0
        while i < total:
            if bulk:
                pushed = ring.push_many(range(i, min(i + 256, total)))
            else:
                pushed = ring.push(i)
            if pushed:
                i += pushed
            else:
                time.sleep(0)

    def consumer():
        while len(received) < total:
            if bulk:
                items = ring.pop_many(256)
                received.extend(items)
            else:
                item = ring.pop()
                items = item is not None
                if items:
                    received.append(item)
            if not items:
                time.sleep(0)

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "producer or consumer got stuck"
    # nothing lost, duplicated or reordered: exactly 0, 1, ..., total - 1 in order
    assert np.array_equal(np.asarray(received), np.arange(total))
    assert ring.empty


@pytest.mark.parametrize(
    "capacity, error, match",
    [
        (0, ValueError, "capacity"),
        (6, ValueError, "power of two.*4 or 8"),
        (2.0, TypeError, "capacity"),
    ],
)
def test_ring_capacity_must_be_a_power_of_two(capacity, error, match):
    with pytest.raises(error, match=match):
        RingBuffer(capacity)


def test_ring_refuses_none_items():
    ring = RingBuffer(4)
    with pytest.raises(ValueError, match="None"):
        ring.push(None)
    with pytest.raises(ValueError, match="None"):
        ring.push_many([1, None])
    assert ring.empty


# -- TickBuffer ----------------------------------------------------------------------------
tick_batches = st.lists(st.integers(1, 12), min_size=1, max_size=20)


@given(st.integers(1, 10), tick_batches, st.data())
def test_tick_buffer_views_match_a_list_model(capacity, batches, data):
    buffer, model, t = TickBuffer(capacity), [], 0
    for k in batches:
        rows = [(t + i, 100.0 + (t + i) % 7, float((t + i) % 3 + 1)) for i in range(k)]
        t += k
        if k == 1:
            buffer.append(*rows[0])
        else:
            buffer.extend(*map(list, zip(*rows, strict=True)))
        model.extend(rows)
        n = data.draw(st.integers(0, min(len(model), capacity)))
        view, expected = buffer.latest(n), model[len(model) - n :]
        assert view.timestamps.tolist() == [r[0] for r in expected]
        assert view.prices.tolist() == [r[1] for r in expected]
        assert view.sizes.tolist() == [r[2] for r in expected]
        assert len(buffer) == min(len(model), capacity)
    held = model[-capacity:]
    vwap = sum(p * s for _, p, s in held) / sum(s for _, _, s in held)
    assert buffer.vwap() == pytest.approx(vwap)


def test_tick_buffer_views_are_views_and_read_only():
    buffer = TickBuffer(4)
    buffer.extend(np.arange(6), np.arange(6.0), np.ones(6))
    view = buffer.latest(4)
    assert view.prices.base is buffer._prices and view.prices.tolist() == [2.0, 3.0, 4.0, 5.0]
    with pytest.raises(ValueError):
        view.prices[0] = 0


def test_tick_buffer_errors():
    buffer = TickBuffer(4)
    with pytest.raises(ValueError, match="same length"):
        buffer.extend([1, 2], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="n must be in"):
        buffer.latest(1)
    assert np.isnan(buffer.vwap())


# -- ObjectPool ----------------------------------------------------------------------------
@given(
    st.lists(st.booleans(), max_size=200),
    st.integers(0, 5),
    st.one_of(st.none(), st.integers(5, 8)),
)
def test_pool_invariants(ops, initial, max_size):
    made = []

    def factory():
        made.append(object())
        return made[-1]

    pool, held = ObjectPool(factory, initial, max_size=max_size), []
    for acquire in ops:
        if acquire or not held:
            held.append(pool.acquire())
        else:
            pool.release(held.pop(0))
        assert pool.in_use == len(held)
        assert (
            pool.hits + pool.misses
            == sum(1 for _ in filter(None, [True] * 0)) + pool.hits + pool.misses
        )
        assert len(made) == initial + pool.misses  # the factory runs only on a miss
        assert pool.free + pool.in_use + pool.discarded == len(made)
        assert pool.high_water >= pool.in_use
        assert len({id(o) for o in held}) == len(held)  # never handed out twice at once
        if max_size is not None:
            assert pool.free <= max_size


def test_pool_reuses_and_resets():
    pool = ObjectPool(lambda: np.ones(4), initial=1, reset=lambda a: a.fill(0))
    first = pool.acquire()
    pool.release(first)
    again = pool.acquire()
    assert again is first and not again.any()
    assert pool.stats() == {
        "hits": 2,
        "misses": 0,
        "discarded": 0,
        "high_water": 1,
        "in_use": 1,
        "free": 0,
    }


def test_pool_borrow_releases_even_on_error():
    pool = ObjectPool(dict)
    with pytest.raises(KeyError), pool.borrow() as d:
        d["x"] = 1
        raise KeyError("boom")
    assert pool.in_use == 0 and pool.free == 1


def test_pool_rejects_double_and_foreign_release():
    pool = ObjectPool(list)
    obj = pool.acquire()
    pool.release(obj)
    with pytest.raises(ValueError, match="released twice"):
        pool.release(obj)
    with pytest.raises(ValueError, match="did not hand out"):
        pool.release([])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"factory": 3}, TypeError, "factory"),
        ({"factory": list, "initial": -1}, ValueError, "initial"),
        ({"factory": list, "initial": 4, "max_size": 2}, ValueError, "max_size"),
        ({"factory": list, "reset": 5}, TypeError, "reset"),
    ],
)
def test_pool_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        ObjectPool(**kwargs)
