"""queueing: closed forms at known values, identities between them, and their domains."""

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import queueing as q


def test_mm1_by_hand():
    # 50,000 events/s into a 10 µs server: rho = 0.5
    assert q.utilization(50_000, 10) == 0.5
    assert q.mm1_mean_wait(50_000, 10) == pytest.approx(10)
    assert q.mm1_mean_sojourn(50_000, 10) == pytest.approx(20)
    assert q.mm1_sojourn_percentile(50_000, 10, 50) == pytest.approx(20 * math.log(2))
    assert q.mm1_wait_percentile(50_000, 10, 40) == 0.0  # 50% of arrivals never wait
    assert q.mm1_wait_percentile(50_000, 10, 99) == pytest.approx(20 * math.log(50))


def test_pk_formula_special_cases():
    assert q.mg1_mean_wait(70_000, 10, 1.0) == pytest.approx(q.mm1_mean_wait(70_000, 10))
    assert q.md1_mean_wait(70_000, 10) == pytest.approx(q.mm1_mean_wait(70_000, 10) / 2)
    assert q.kingman_mean_wait(70_000, 10, 1.0, 1.0) == pytest.approx(q.mm1_mean_wait(70_000, 10))
    assert q.kingman_mean_wait(70_000, 10, 1.0, 0.0) == pytest.approx(q.md1_mean_wait(70_000, 10))


def test_erlang_c():
    assert q.erlang_c(50_000, 10, 1) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert q.mmc_mean_wait(50_000, 10, 1) == pytest.approx(q.mm1_mean_wait(50_000, 10))
    # textbook value: a = 2 Erlangs on c = 3 servers -> C = 4/9
    assert q.erlang_c(200_000, 10, 3) == pytest.approx(4 / 9)


def _erlang_c_direct(a, c, precision=None):
    """The textbook formula: (aᶜ/c!)/(1 − ρ) over Σ_{k<c} aᵏ/k! + (aᶜ/c!)/(1 − ρ), in
    float64 (overflows near a thousand servers), or in Decimal at ``precision`` digits."""
    one = Decimal(1) if precision else 1.0
    a = Decimal(a) if precision else a
    term, series = one, one  # a^k / k!
    for k in range(1, c):
        term = term * a / k
        series += term
    last = term * a / c / (1 - a / c)
    return last / (series + last)


@pytest.mark.parametrize("c", [1, 2, 3, 5, 10, 20, 50, 100])
@pytest.mark.parametrize("rho", [0.05, 0.5, 0.9, 0.99])
def test_erlang_c_matches_the_direct_formula_for_few_servers(c, rho):
    a = rho * c  # Erlangs: an arrival rate of a/E[S] with E[S] = 10 µs
    assert q.erlang_c(a * 100_000, 10, c) == pytest.approx(_erlang_c_direct(a, c), rel=1e-12)


@pytest.mark.parametrize("c", [700, 1_000, 1_400, 2_000, 10_000])
@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_erlang_c_stays_exact_where_the_direct_formula_overflows(c, rho):
    a = rho * c
    arrival_rate, service_us = a * 100_000, 10.0
    with localcontext() as ctx:
        ctx.prec = 50
        exact = _erlang_c_direct(Decimal(q.utilization(arrival_rate, service_us, c) * c), c, 50)
    value = q.erlang_c(arrival_rate, service_us, c)
    assert 0 <= value <= 1 and value == pytest.approx(float(exact), rel=1e-9, abs=1e-300)
    assert math.isfinite(q.mmc_mean_wait(arrival_rate, service_us, c))


@given(c=st.integers(1, 10_000), rho=st.floats(1e-6, 0.999))
def test_erlang_c_is_a_probability_monotone_in_servers_and_load(c, rho):
    a = rho * c
    value = q.erlang_c(a * 100_000, 10, c)
    assert 0 <= value <= 1
    # one more server for the same traffic: waiting is no more likely
    assert q.erlang_c(a * 100_000, 10, c + 1) <= value * (1 + 1e-12)
    # more traffic on the same servers: waiting is no less likely
    heavier = min(rho * 1.01, 0.9999) * c
    assert q.erlang_c(heavier * 100_000, 10, c) >= value * (1 - 1e-12)


def test_littles_law():
    assert q.littles_law_l(100_000, 30) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: q.mm1_mean_wait(100_000, 10),
        lambda: q.md1_mean_wait(150_000, 10),
        lambda: q.kingman_mean_wait(100_000, 10, 1, 1),
        lambda: q.erlang_c(300_000, 10, 3),
    ],
)
def test_unstable_systems_are_rejected(call):
    with pytest.raises(ValueError, match="rho"):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: q.mm1_mean_wait(-1, 10), "arrival_rate"),
        (lambda: q.mm1_mean_wait(1, 0), "mean_service_us"),
        (lambda: q.mg1_mean_wait(1, 1, -1), "service_cv"),
        (lambda: q.mm1_sojourn_percentile(1, 1, 100), "below 100"),
        (lambda: q.mm1_wait_percentile(1, 1, 101), "p must be"),
        (lambda: q.erlang_c(1, 1, 0), "servers"),
        (lambda: q.erlang_c(1, 1, q.MAX_SERVERS + 1), "servers"),
        (lambda: q.mmc_mean_wait(1, 1, 10**12), "servers"),
        (lambda: q.mm1_mean_wait(float("inf"), 10), "arrival_rate must be finite"),
        (lambda: q.mm1_mean_wait(1, float("nan")), "mean_service_us"),
        (lambda: q.kingman_mean_wait(1, 1, float("inf"), 1), "arrival_cv"),
        (lambda: q.littles_law_l(1, float("inf")), "mean_time_us"),
    ],
)
def test_bad_parameters_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: q.utilization("50000", 10), "arrival_rate"),
        (lambda: q.mm1_sojourn_percentile(1, 1, "99"), "p must be a number"),
        (lambda: q.erlang_c(1, 1, 2.0), "servers"),
        (lambda: q.littles_law_l(True, 1), "arrival_rate"),
    ],
)
def test_wrong_types_are_named(call, match):
    with pytest.raises(TypeError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: q.mm1_mean_wait(0.99 * 1e6 / 1e308, 1e308),
        lambda: q.mm1_mean_sojourn(0.99 * 1e6 / 1e308, 1e308),
        lambda: q.mg1_mean_wait(1_000, 1, 1e200),
        lambda: q.kingman_mean_wait(1_000, 1, 1e200, 1),
        lambda: q.littles_law_l(1e300, 1e300),
    ],
)
def test_results_that_overflow_are_refused_not_infinite(call):
    with pytest.raises(ValueError, match="overflows"):
        call()
