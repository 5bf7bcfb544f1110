"""Checkers of lesson 06 (queueing theory): M/M/1 wait, Little's law, and a P-K function."""

from __future__ import annotations

import math
import types

import numpy as np

from latency_lab import queueing, units
from latency_lab.checks.core import (
    Feedback,
    LearnerError,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    names_used,
    number,
)

#: How close a learner's function must come to the reference: any algebraic form of the
#: formula is within rounding of it, and no usual mistake comes near.
REL_TOL = 1e-6

#: The reference functions a learner's P-K function may not call.
_REFERENCES = frozenset({"mm1_mean_wait", "md1_mean_wait", "mg1_mean_wait", "kingman_mean_wait"})


def _near(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=REL_TOL)


@checker
def check_mm1_wait(answer) -> Feedback:
    """Lesson 06: M/M/1 mean queueing delay at 40,000 events/s and a 20 µs mean service."""
    value = number(answer, "the mean wait in µs")
    wait = queueing.mm1_mean_wait(40_000, 20)
    if _near(value, queueing.mm1_mean_sojourn(40_000, 20)):
        return Feedback(
            False,
            f"{value:g} µs is the mean time in system (wait + 20 µs of service). Hint: the "
            "question asks for the wait before service starts.",
        )
    if _near(value, wait / units.US_PER_S):
        return Feedback(False, f"{value:g} is the wait in seconds. Hint: give it in µs.")
    return close(
        answer,
        wait,
        "the mean wait in µs",
        "rho = λ·E[S] = 0.8; the mean wait is rho/(1 - rho) · E[S].",
    )


@checker
def check_littles_law(answer) -> Feedback:
    """Lesson 06: mean latency with 12 orders in the system on average at 60,000 orders/s."""
    value = number(answer, "the mean latency in µs")
    latency_s = 12 / 60_000
    if _near(value, latency_s):
        return Feedback(False, f"{value:g} is the latency in seconds. Hint: give it in µs.")
    if _near(value, latency_s * units.US_PER_S / units.US_PER_MS):
        return Feedback(False, f"{value:g} is the latency in milliseconds. Hint: give it in µs.")
    return close(
        answer,
        latency_s * units.US_PER_S,
        "the mean latency in µs",
        "Little's law L = λ·W, so W = L/λ; mind the units (events per second, µs).",
    )


# -- exercise 3: the Pollaczek-Khinchine mean wait as a function ------------------------------
#: Cases the learner has not seen: (arrival_rate in events/s, mean_service_us, service_cv).
#: Stable ones (rho < 1) in plain and numpy numbers, then two unstable loads (rho >= 1).
PK_STABLE_CASES = (
    (40_000, 20.0, 1.0),  # M/M/1, rho = 0.8
    (70_000, 10, 0.0),  # M/D/1, rho = 0.7
    (12_500, 64.0, 0.5),  # rho = 0.8
    (250_000, 2.5, 2.0),  # rho = 0.625
    (900, 1_000.0, 1.5),  # rho = 0.9, a millisecond of service
    (np.int64(33_000), np.float64(15.0), np.float64(0.8)),  # rho = 0.495
)
PK_UNSTABLE_CASES = (
    (60_000, 20.0, 1.0),  # rho = 1.2
    (1_000_000, 5.0, 0.0),  # rho = 5
)

_PK_FORMULA = (
    "rho = λ·E[S] with λ in events/s and E[S] in µs, so rho = λ·E[S]/10⁶ "
    "(units.rate_to_count(λ, E[S])); then Wq = rho/(1 − rho) · (1 + c_s²)/2 · E[S], in µs."
)


def _pk(rho: float, mean_service_us: float, service_cv: float) -> float:
    """The P-K mean wait for a given utilization, valid or not (to recognise mistakes)."""
    with np.errstate(all="ignore"):
        return float(rho / (1 - rho) * (1 + service_cv**2) / 2 * mean_service_us)


def _pk_mistake(value: float, rate: float, service_us: float, cv: float) -> str | None:
    """A hint for a usual mistake that gives ``value`` for a stable case, or None."""
    rho = float(units.rate_to_count(float(rate), float(service_us)))
    right = _pk(rho, service_us, cv)
    if _near(value, right / units.US_PER_S):
        return "that is the wait in seconds: return it in µs, like mean_service_us."
    if _near(value, right + service_us):
        return (
            "that is the time in system (wait + service); the function returns the wait "
            "in queue, before service starts."
        )
    if cv != 1 and _near(value, _pk(rho, service_us, 1.0)):
        return "that is the M/M/1 wait: the factor (1 + c_s²)/2 makes it depend on service_cv."
    if cv not in (0, 1) and _near(value, rho / (1 - rho) * (1 + cv) / 2 * service_us):
        return "square the coefficient of variation: the factor is (1 + c_s²)/2."
    unconverted = float(rate) * float(service_us)  # events/s times µs, not divided by µs/s
    for wrong_rho in (unconverted, unconverted / units.US_PER_MS):
        if _near(value, _pk(wrong_rho, service_us, cv)):
            return (
                "rho must be a fraction below 1: events/s times µs needs dividing by 10⁶ "
                "(µs per second), e.g. units.rate_to_count(arrival_rate, mean_service_us)."
            )
    if value < 0:
        return "a wait cannot be negative: check how rho is computed, units included."
    return None


def _describe_pk_case(rate, service_us, cv) -> str:
    rho = units.rate_to_count(float(rate), float(service_us))
    return (
        f"pk_mean_wait({describe(rate)}, {describe(service_us)}, {describe(cv)}) (rho = {rho:.3g})"
    )


def _result_or_refusal(func, case) -> tuple[bool, object]:
    """``(True, None)`` if ``func(*case)`` raises ValueError, else ``(False, its result)``;
    the learner's other errors reach the learner."""
    try:
        return False, call_learner(func, *case)
    except LearnerError as error:
        # call_learner raises "from None": the learner's exception is still the context
        if isinstance(error.__context__, ValueError):
            return True, None
        raise


@checker
def check_pk_mean_wait(func) -> Feedback:
    """Lesson 06: ``func(arrival_rate, mean_service_us, service_cv)`` must return the M/G/1
    (Pollaczek–Khinchine) mean wait in µs, and ``math.inf`` (or raise ``ValueError``) when
    the load is unstable (rho >= 1)."""
    if not callable(func):
        raise Rejected(
            f"Pass your function itself, not {describe(func)}: e.g. "
            "check_pk_mean_wait(pk_mean_wait)."
        )
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        called = sorted(names_used(code) & _REFERENCES)
        if called:
            raise Rejected(
                f"Your function calls queueing.{called[0]}, the reference it is checked "
                "against: write the formula yourself."
            )
    for case in PK_STABLE_CASES:
        where = _describe_pk_case(*case)
        got = call_learner(func, *case)
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result of {where}")
        want = queueing.mg1_mean_wait(*case)
        if not _near(value, want):
            hint = _pk_mistake(value, *case) or _PK_FORMULA
            return Feedback(
                False, f"For {where} you returned {value:.6g}, expected {want:.6g}. Hint: {hint}"
            )
    for case in PK_UNSTABLE_CASES:
        refused, got = _result_or_refusal(func, case)
        if refused:
            continue
        where = _describe_pk_case(*case)
        if got is None:
            raise Rejected(f"For {where} your function returned None: did you forget `return`?")
        value = number(got, f"the result of {where}")
        if value != math.inf:
            return Feedback(
                False,
                f"For {where} you returned {value:.6g}. Hint: with rho >= 1 arrivals outpace "
                "the server and the queue grows without end, so the formula's number means "
                "nothing: check rho < 1 first and return math.inf (or raise ValueError).",
            )
    return Feedback(
        True,
        "Correct on every unseen case, units and unstable loads included: this is "
        "queueing.mg1_mean_wait.",
    )
