"""Lesson 02's checkers: the reference solutions pass in any reasonable form, and the typical
wrong answers fail with the hint that names their mistake."""

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from latency_lab import checks, stats
from latency_lab.checks import lesson02


# -- exercise 1: nearest rank ----------------------------------------------------------------
def nearest_rank(samples, p):
    """The solution in lessons/solutions/02_measuring_latency.md."""
    ordered = np.sort(samples)
    rank = max(math.ceil(Fraction(str(p)) * len(ordered) / 100), 1)
    return ordered[rank - 1]


def nearest_rank_decimal(samples, p):
    ordered = sorted(samples)
    rank = max(math.ceil(Decimal(str(p)) * len(ordered) / 100), 1)
    return ordered[rank - 1]


def nearest_rank_integers(samples, p):
    """Exact through integers: p as a ratio of integers, ceiling by negated floor division."""
    ordered = np.sort(samples)
    num, den = Fraction(str(p)).as_integer_ratio()
    rank = max(-(-num * len(ordered) // (den * 100)), 1)
    return float(ordered[rank - 1])


@pytest.mark.parametrize("right", [nearest_rank, nearest_rank_decimal, nearest_rank_integers])
def test_exact_nearest_rank_passes(right):
    feedback = checks.check_nearest_rank(right)
    assert feedback.passed, feedback.message


def test_the_checker_s_own_cases_agree_with_stats_percentiles():
    for samples, p in lesson02.nearest_rank_cases():
        assert nearest_rank(samples, p) == stats.percentiles(samples, p)


@pytest.mark.parametrize(
    "rank_of",
    [
        lambda p, n: p / 100 * n,
        lambda p, n: p * n / 100,
        lambda p, n: n * (p / 100),
        lambda p, n: p * 0.01 * n,
    ],
)
def test_floating_point_rank_fails_with_a_hint_about_floating_point(rank_of):
    def float_rank(samples, p):
        ordered = np.sort(samples)
        return ordered[max(math.ceil(rank_of(p, len(ordered))), 1) - 1]

    feedback = checks.check_nearest_rank(float_rank)
    assert not feedback.passed
    assert "floating point" in feedback.message and "one rank too high" in feedback.message


def test_cases_hold_whole_ranks_that_floating_point_rounds_up():
    cases = [(samples.size, p) for samples, p in lesson02.nearest_rank_cases()]

    def traps(rank_of):
        return [(n, p) for n, p in cases if math.ceil(rank_of(p, n)) > stats.nearest_rank(n, p)]

    assert (1_000, 99.9) in traps(lambda p, n: p / 100 * n)
    assert len(traps(lambda p, n: p / 100 * n)) >= 4
    assert traps(lambda p, n: p * n / 100)


def test_numpy_inverted_cdf_fails_at_p999_of_1000():
    feedback = checks.check_nearest_rank(
        lambda s, p: np.percentile(s, p, method="inverted_cdf").item()
    )
    assert not feedback.passed and "1000 samples and p=99.9" in feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (lambda s, p: np.percentile(s, p), "rank ceil"),  # linear interpolation
        (lambda s, p: np.sort(s)[math.ceil(p / 100 * len(s)) - 1], "rank"),  # p=0 -> max
        (lambda s, p: np.sort(s)[min(math.ceil(p / 100 * len(s)), len(s) - 1)], "too high"),
        (lambda s, p: np.sort(s)[max(math.floor(p / 100 * len(s)), 1) - 1], "too low"),
        (lambda s, p: s[max(math.ceil(Fraction(str(p)) * len(s) / 100), 1) - 1], "Hint: sort"),
        (lambda s, p: None, "forget `return`"),
        (lambda s, p: [nearest_rank(s, p)], "Expected a number"),
    ],
)
def test_typical_wrong_percentiles_fail(wrong, says):
    feedback = checks.check_nearest_rank(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_nearest_rank_wants_the_function_itself():
    feedback = checks.check_nearest_rank(42.0)
    assert not feedback.passed and "Pass your function itself" in feedback.message


# -- exercise 2: corrected count -------------------------------------------------------------
@pytest.mark.parametrize("right", [49, 49.0, np.int64(49), np.array(49)])
def test_corrected_count_accepts_49_in_any_form(right):
    assert checks.check_corrected_count(right).passed


@pytest.mark.parametrize("wrong", [50, 48, 1, 0])  # the stall itself counted, off by one, ...
def test_corrected_count_rejects_near_misses(wrong):
    feedback = checks.check_corrected_count(wrong)
    assert not feedback.passed and "Hint" in feedback.message


def test_corrected_count_rejects_a_string():
    assert "without quotes" in checks.check_corrected_count("49").message


# -- exercise 3: an open-loop load generator's latencies -------------------------------------
def latencies_from_schedule(send_us, service_us):
    """The solution in lessons/solutions/02_measuring_latency.md."""
    latencies, free_at = [], 0.0
    for send, service in zip(send_us, service_us, strict=True):
        start = max(send, free_at)  # due, and the server is free
        free_at = start + service
        latencies.append(free_at - send)  # from the schedule, not from the start
    return latencies


def as_waits_plus_service(send_us, service_us):
    """Right, computed another way (wait + service: rounding differs from the reference)."""
    out = np.empty(len(send_us))
    free_at = 0.0
    for i, (send, service) in enumerate(zip(send_us, service_us, strict=True)):
        wait = max(free_at - send, 0.0)
        out[i] = wait + service
        free_at = send + wait + service
    return pd.Series(out)


def as_generator(send_us, service_us):
    free_at = 0.0
    for send, service in zip(send_us, service_us, strict=True):
        free_at = max(send, free_at) + service
        yield free_at - send


@pytest.mark.parametrize(
    "right",
    [
        latencies_from_schedule,
        as_waits_plus_service,
        as_generator,
        lambda a, s: tuple(latencies_from_schedule(a, s)),
    ],
)
def test_open_loop_latencies_pass(right):
    feedback = checks.check_latencies_from_schedule(right)
    assert feedback.passed, feedback.message


def closed_loop(send_us, service_us):
    """Measured from the actual send: the service time, whatever waited before."""
    return list(service_us)


def waits_only(send_us, service_us):
    return np.asarray(latencies_from_schedule(send_us, service_us)) - service_us


def completion_times(send_us, service_us):
    return np.asarray(latencies_from_schedule(send_us, service_us)) + send_us


def previous_only(send_us, service_us):
    """Queues behind the previous request only (forgets that it may itself have waited)."""
    out = [service_us[0]]
    for i in range(1, len(send_us)):
        start = max(send_us[i], send_us[i - 1] + service_us[i - 1])
        out.append(start + service_us[i] - send_us[i])
    return out


def from_start(send_us, service_us):
    """Timestamps when service starts, like a client that measures from when it got to send."""
    out, free_at = [], 0.0
    for send, service in zip(send_us, service_us, strict=True):
        start = max(send, free_at)
        free_at = start + service
        out.append(free_at - start)
    return out


@pytest.mark.parametrize(
    "wrong, says",
    [
        (closed_loop, "closed-loop"),
        (from_start, "closed-loop"),
        (waits_only, "includes the service"),
        (completion_times, "subtract the scheduled send time"),
        (previous_only, "start = max(send, when the previous one finished)"),
        (lambda a, s: latencies_from_schedule(a, s)[:-1], "one latency per request"),
        (lambda a, s: 5.0, "one latency per request"),
        (lambda a, s: None, "forget `return`"),
        (lambda a, s: ["fast"] * len(a), "not a sequence of numbers"),
    ],
)
def test_typical_wrong_load_generators_fail_with_their_hint(wrong, says):
    feedback = checks.check_latencies_from_schedule(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_schedule_cases_queue_behind_stalls():
    """Every kind of mistake above can only be caught if some request waits behind another."""
    for where, send, _ in lesson02.schedule_cases():
        assert np.all(np.diff(send) >= 0), where
    waited = [
        np.any(np.asarray(latencies_from_schedule(send, service)) > service)
        for _, send, service in lesson02.schedule_cases()
    ]
    assert sum(waited) >= 3


def test_the_learner_may_modify_the_arrays():
    def destructive(send_us, service_us):
        out = latencies_from_schedule(send_us, service_us)
        send_us[:] = 0
        service_us[:] = 0
        return out

    assert checks.check_latencies_from_schedule(destructive).passed


@pytest.mark.parametrize(
    "checker", [checks.check_nearest_rank, checks.check_latencies_from_schedule]
)
def test_a_stub_left_as_it_is_is_no_answer_yet(checker):
    def stub(*args): ...

    def stub_with_docstring(*args):
        """Your code here."""

    def returns_ellipsis(*args):
        return ...

    for unanswered in (stub, stub_with_docstring, returns_ellipsis):
        feedback = checker(unanswered)
        assert not feedback.passed and feedback.message.startswith("No answer yet")
    feedback = checker(lambda *args: None)  # a lambda is an answer, a wrong one
    assert not feedback.passed and "forget `return`" in feedback.message
