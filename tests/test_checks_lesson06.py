"""Lesson 06's exercise checkers pass the reference answers and fail the usual wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latency_lab import checks, queueing, units


# -- exercise 1: M/M/1 mean wait ----------------------------------------------------------------
@pytest.mark.parametrize("right", [80, 80.0, np.float64(80), np.array(80.0), 80.04])
def test_mm1_wait_passes_the_reference_in_any_numeric_form(right):
    assert checks.check_mm1_wait(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [
        (100, "time in system"),  # the sojourn, wait + service
        (8e-5, "seconds"),
        (4, "not the mean wait"),  # rho / (1 - rho) without E[S]
        (80.3, "significant digits"),
        ("80", "without quotes"),
    ],
)
def test_mm1_wait_fails_usual_mistakes_with_a_hint(wrong, says):
    feedback = checks.check_mm1_wait(wrong)
    assert not feedback.passed
    assert says in feedback.message


def test_mm1_wait_without_an_answer_says_so():
    assert "No answer yet" in checks.check_mm1_wait(...).message


# -- exercise 2: Little's law -------------------------------------------------------------------
@pytest.mark.parametrize("right", [200, 200.0, np.int64(200), np.array(200.0), 200.04])
def test_littles_law_passes_the_reference_in_any_numeric_form(right):
    assert checks.check_littles_law(right).passed


@pytest.mark.parametrize(
    "wrong, says",
    [
        (0.0002, "seconds"),
        (0.2, "milliseconds"),
        (720_000, "W = L/λ"),  # L·λ
        (5_000, "W = L/λ"),  # λ/L
    ],
)
def test_littles_law_fails_usual_mistakes_with_a_hint(wrong, says):
    feedback = checks.check_littles_law(wrong)
    assert not feedback.passed
    assert says in feedback.message


# -- exercise 3: the P-K mean wait as a function ------------------------------------------------
def pk_mean_wait(arrival_rate, mean_service_us, service_cv):
    """The solution in lessons/solutions/06_queueing_theory.md."""
    rho = units.rate_to_count(arrival_rate, mean_service_us)
    if rho >= 1:
        return math.inf
    return rho / (1 - rho) * (1 + service_cv**2) / 2 * mean_service_us


def pk_raising(arrival_rate, mean_service_us, service_cv):
    rho = arrival_rate * mean_service_us / 1_000_000
    if rho >= 1:
        raise ValueError("unstable: rho >= 1")
    return np.float64(rho * (1 + service_cv * service_cv) * mean_service_us / (2 * (1 - rho)))


def pk_no_stability_check(arrival_rate, mean_service_us, service_cv):
    rho = arrival_rate * mean_service_us / 1_000_000
    return rho / (1 - rho) * (1 + service_cv**2) / 2 * mean_service_us


def pk_no_unit_conversion(arrival_rate, mean_service_us, service_cv):
    rho = arrival_rate * mean_service_us
    return rho / (1 - rho) * (1 + service_cv**2) / 2 * mean_service_us


def pk_in_seconds(arrival_rate, mean_service_us, service_cv):
    return pk_mean_wait(arrival_rate, mean_service_us, service_cv) / units.US_PER_S


def pk_sojourn(arrival_rate, mean_service_us, service_cv):
    return pk_mean_wait(arrival_rate, mean_service_us, service_cv) + mean_service_us


def pk_ignores_cv(arrival_rate, mean_service_us, service_cv):
    return pk_mean_wait(arrival_rate, mean_service_us, 1.0)


def pk_cv_not_squared(arrival_rate, mean_service_us, service_cv):
    rho = arrival_rate * mean_service_us / 1_000_000
    return rho / (1 - rho) * (1 + service_cv) / 2 * mean_service_us


def pk_calls_the_reference(arrival_rate, mean_service_us, service_cv):
    return queueing.mg1_mean_wait(arrival_rate, mean_service_us, service_cv)


def pk_stub(arrival_rate, mean_service_us, service_cv): ...


def pk_zero_for_unstable(arrival_rate, mean_service_us, service_cv):
    if units.rate_to_count(arrival_rate, mean_service_us) >= 1:
        return 0.0
    return pk_mean_wait(arrival_rate, mean_service_us, service_cv)


def pk_divides_by_zero(arrival_rate, mean_service_us, service_cv):
    return 1 / 0


@pytest.mark.parametrize("right", [pk_mean_wait, pk_raising])
def test_pk_passes_the_reference_in_any_reasonable_form(right):
    feedback = checks.check_pk_mean_wait(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (pk_no_stability_check, "rho >= 1"),
        (pk_zero_for_unstable, "rho >= 1"),
        (pk_no_unit_conversion, "10⁶"),
        (pk_in_seconds, "seconds"),
        (pk_sojourn, "time in system"),
        (pk_ignores_cv, "(1 + c_s²)/2"),
        (pk_cv_not_squared, "square"),
        (pk_calls_the_reference, "write the formula yourself"),
        (pk_stub, "No answer yet"),
        (pk_divides_by_zero, "ZeroDivisionError"),
        (lambda rate, service, cv: None, "forget `return`"),
        (lambda rate, service, cv: "80", "Expected a number"),
        (80.0, "Pass your function itself"),
    ],
)
def test_pk_fails_usual_mistakes_with_a_hint(wrong, says):
    feedback = checks.check_pk_mean_wait(wrong)
    assert not feedback.passed
    assert says in feedback.message, feedback.message


def test_pk_cases_are_unseen_and_cover_both_regimes():
    """The notebook's example (70,000/s, 10 µs, cv 2) is not among the judged cases, and the
    cases include loads on each side of rho = 1."""
    from latency_lab.checks import lesson06

    cases = lesson06.PK_STABLE_CASES + lesson06.PK_UNSTABLE_CASES
    assert (70_000, 10.0, 2.0) not in [tuple(map(float, c)) for c in cases]
    rhos = [units.rate_to_count(float(rate), float(service)) for rate, service, _ in cases]
    assert any(r < 1 for r in rhos) and any(r >= 1 for r in rhos)
