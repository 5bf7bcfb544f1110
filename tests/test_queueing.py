"""queueing: closed forms at known values, identities between them, and their domains."""

import math

import pytest

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
        (lambda: q.erlang_c(1, 1, 0), "servers"),
    ],
)
def test_bad_parameters_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
