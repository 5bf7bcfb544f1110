"""Checkers of lesson 02 (measuring latency): nearest-rank percentiles, coordinated omission,
and an open-loop load generator's latencies."""

from __future__ import annotations

import itertools
import math

import numpy as np

from latency_lab import stats
from latency_lab.checks.core import (
    Feedback,
    Rejected,
    call_learner,
    checker,
    describe,
    number,
    whole,
)

# -- exercise 1: nearest-rank percentile ---------------------------------------------------

#: (n, p) points where p·n/100 is a whole number that floating point pushes just above it,
#: so ``ceil`` of the float lands one rank too high (99.9 / 100 * 1000 = 999.0000000000001).
FLOAT_RANK_TRAPS = ((1_000, 99.9), (10_000, 99.9), (100, 7), (50, 14), (3_000, 1.1))


def nearest_rank_cases() -> list[tuple[np.ndarray, float | int]]:
    """The (samples, p) cases ``check_nearest_rank`` judges, in the order it judges them."""
    rng = np.random.default_rng(2)
    ten = rng.permutation(np.arange(1.0, 11.0))  # unsorted: the answer must sort
    cases: list[tuple[np.ndarray, float | int]] = [(np.array([7.0]), 50.0)]
    cases += [(ten, p) for p in (0.0, 90.0, 95.0, 100.0)]
    cases += [(rng.lognormal(3, 1, n), p) for n in (3, 101, 1_001) for p in (25, 50, 99, 99.9)]
    cases += [(rng.lognormal(3, 1, n), p) for n, p in FLOAT_RANK_TRAPS]
    cases.append((rng.integers(1_000, 10**6, 2_000), 99.9))  # integer nanoseconds
    return cases


def _float_rank_note(n: int, p) -> str:
    """Show how floating point computes the rank of (n, p) one too high, if it does."""
    exact = stats.nearest_rank(n, p)
    for text, value in ((f"{p!r} / 100 * {n}", p / 100 * n), (f"{p!r} * {n} / 100", p * n / 100)):
        if math.ceil(value) > exact:
            return (
                f" In floating point {text} = {value!r}, and ceil() of that is {math.ceil(value)}"
                f", but the exact rank is {exact}."
            )
    return ""


@checker
def check_nearest_rank(func) -> Feedback:
    """Lesson 02: ``func(samples, p)`` must return the nearest-rank p-th percentile, with the
    rank computed exactly (cases include p=99.9 of 1,000 samples and other whole ranks)."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: e.g. check_nearest_rank(nearest_rank)."
        )
    cases = nearest_rank_cases()
    for samples, p in cases:
        n = samples.size
        where = f"{n} samples and p={p!r}"
        got = call_learner(func, samples.copy(), p)
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result for {where}")
        ordered = np.sort(samples)
        rank = stats.nearest_rank(n, p)
        want = ordered[rank - 1].item()
        if value == want:
            continue
        start = (
            f"For {where} you returned {value!r}, expected {want!r} (the sample of rank {rank})."
        )
        if rank < n and value == ordered[rank]:
            note = _float_rank_note(n, p)
            if note:
                return Feedback(
                    False,
                    f"{start} Yours is the next sample, one rank too high.{note} Compute "
                    "p·n/100 exactly — e.g. with fractions.Fraction(str(p)) — before the "
                    "ceiling.",
                )
            return Feedback(
                False,
                f"{start} Yours is one rank too high: ranks count from 1, indices from 0.",
            )
        if rank > 1 and value == ordered[rank - 2]:
            return Feedback(
                False,
                f"{start} Yours is one rank too low: round the rank up (ceil), and remember "
                "that index = rank − 1.",
            )
        return Feedback(
            False,
            f"{start} Hint: sort, then take the value of rank ceil(p/100 · n), counting from 1 "
            "(rank 1 for p=0), with the rank computed exactly.",
        )
    return Feedback(
        True,
        f"Correct on {len(cases)} unseen cases, including p=0, p=100, a single sample and "
        "whole ranks such as p99.9 of 1,000 samples, where floating point rounds up.",
    )


# -- exercise 2: coordinated-omission correction --------------------------------------------
@checker
def check_corrected_count(answer) -> Feedback:
    """Lesson 02: samples added by CO correction for one 50 ms stall at a 1 ms interval."""
    expected = stats.correct_coordinated_omission([50_000_000], 1_000_000).size - 1
    if whole(answer, "the number of samples") == expected:
        return Feedback(True, f"Correct: {expected} requests (49, 48, ... 1 ms) were never sent.")
    return Feedback(
        False,
        f"{whole(answer, 'the number of samples')} is not it. Hint: correction adds v - I, "
        "v - 2I, ... while the value stays >= I.",
    )


# -- exercise 3: an open-loop load generator's latencies ------------------------------------
def _latencies_from_schedule(send_us, service_us) -> np.ndarray:
    """Reference for lesson 02's exercise 3: latency of every request of an open-loop load
    generator, measured from its *scheduled* send time, in front of one FIFO server.

    Request ``i`` is due at ``send_us[i]`` (non-decreasing) and needs ``service_us[i]`` of
    the server. The server starts it when it is both due and free, so a stall delays every
    request due behind it — time that a closed-loop client never measures.
    """
    send = np.asarray(send_us, dtype=float)
    service = np.asarray(service_us, dtype=float)
    latency = np.empty_like(send)
    free_at = -math.inf
    for i in range(send.size):
        free_at = max(send[i], free_at) + service[i]
        latency[i] = free_at - send[i]
    return latency


def schedule_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The (description, send_us, service_us) cases ``check_latencies_from_schedule`` judges."""
    rng = np.random.default_rng(8)
    cases = [
        ("one request", np.array([5.0]), np.array([3.0])),
        ("three requests, no queueing", np.array([0.0, 10.0, 20.0]), np.array([5.0, 5.0, 5.0])),
        (
            "a 35 µs stall among requests due every 10 µs",
            np.arange(0.0, 60.0, 10.0),
            np.array([5.0, 35.0, 5.0, 5.0, 5.0, 5.0]),
        ),
        (
            "a burst of four requests due at the same instant",
            np.array([0.0, 100.0, 100.0, 100.0, 100.0, 300.0]),
            np.full(6, 20.0),
        ),
    ]
    gaps = rng.exponential(10.0, 2_000)  # Poisson sends at 100,000 per second
    service = rng.lognormal(np.log(7.0), 0.5, 2_000)
    service[700] = 3_000.0  # a 3 ms stall
    cases.append(("2,000 Poisson sends with one 3 ms stall", np.cumsum(gaps), service))
    steady = np.arange(500) * 1_000.0 + 250.0  # due every 1 ms, starting at 250 µs
    slow = np.full(500, 100.0)
    slow[[10, 11, 300]] = [4_500.0, 2_000.0, 20_000.0]  # stalls back to back, then a long one
    cases.append(("500 sends every 1 ms with three stalls", steady, slow))
    return cases


def _as_latencies(got, n: int, where: str) -> np.ndarray:
    """The learner's result as a float array of ``n`` numbers, or :class:`Rejected`."""
    if got is None:
        raise Rejected(f"For {where} your function returned None: did you forget `return`?")
    if isinstance(got, str | bytes | dict) or (np.ndim(got) == 0 and not hasattr(got, "__iter__")):
        raise Rejected(
            f"For {where} your function returned {describe(got)}: return one latency per "
            "request (a list or an array)."
        )
    if not isinstance(got, np.ndarray | list | tuple) and not hasattr(got, "to_numpy"):
        got = list(itertools.islice(got, n + 1))  # a generator or other iterable
    try:
        values = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Rejected(
            f"For {where} your function returned {describe(got)}, which is not a sequence of "
            "numbers."
        ) from None
    if values.shape != (n,):
        raise Rejected(
            f"For {where} ({n} requests) your function returned {describe(got)} of shape "
            f"{values.shape}: return one latency per request, in request order."
        )
    return values


@checker
def check_latencies_from_schedule(func) -> Feedback:
    """Lesson 02: ``func(send_us, service_us)`` must return every request's latency from its
    scheduled send time, in front of one FIFO server (an open-loop load generator)."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: e.g. "
            "check_latencies_from_schedule(latencies_from_schedule)."
        )
    cases = schedule_cases()
    for where, send, service in cases:
        want = _latencies_from_schedule(send, service)
        got = call_learner(func, send.copy(), service.copy())
        got = _as_latencies(got, send.size, where)
        if np.allclose(got, want, rtol=1e-9, atol=1e-9 * float(want.max())):
            continue
        i = int(np.flatnonzero(~np.isclose(got, want, rtol=1e-9, atol=1e-9 * want.max()))[0])
        start = (
            f"For {where}, request {i} (due at {send[i]:,.2f} µs, service {service[i]:,.2f} µs) "
            f"got {got[i]:,.2f} µs, expected {want[i]:,.2f} µs."
        )
        if np.allclose(got, service):
            hint = (
                "You returned the service times: that is latency measured from when each "
                "request was actually sent, as a closed-loop client does. Measure from the "
                "scheduled send time, so the time a request waits behind a stall counts."
            )
        elif np.allclose(got, want - service):
            hint = "That is the wait before service starts; the latency includes the service too."
        elif np.allclose(got, want + send):
            hint = "That is the completion time: subtract the scheduled send time."
        else:
            hint = (
                "The server starts a request when it is both due and free, and it stays busy "
                "until that request completes: start = max(send, when the previous one "
                "finished), latency = start + service − send."
            )
        return Feedback(False, f"{start} {hint}")
    return Feedback(
        True,
        f"Correct on {len(cases)} unseen schedules, including bursts and back-to-back stalls: "
        "every request waiting behind a stall is measured.",
    )
