"""The simulator against closed-form queueing theory, with statistically justified tolerances.

How the tolerances are set: each check runs R = 20 independent replications (own seeds) of
100,000 events, drops the first 10% as warm-up (the system starts empty), and takes one
estimate per replication. Waiting times within a run are strongly correlated, so a
naive per-event standard error would be far too small; replications are independent, so
their spread gives an honest standard error SE. A correct engine lands within 4 SE of the
formula except with probability < 0.1% (Student t, 19 degrees of freedom), and each check
also asserts that 4 SE is under 5% of the value, so an engine that is off by 5% fails.
"""

import numpy as np
import pytest

from latency_lab import queueing, scenarios, stats, traffic, units
from latency_lab.engine import ServiceModel, simulate

RATE, SERVICE_US = 70_000.0, 10.0  # utilization 0.7
REPLICATIONS, EVENTS, WARMUP = 20, 100_000, 10_000


def replicate(distribution, cv, statistic):
    estimates = []
    for r in range(REPLICATIONS):
        arrivals = traffic.Poisson(RATE).arrivals(EVENTS, seed=1_000 + r)
        service = ServiceModel(0.0, SERVICE_US, distribution, cv, seed=2_000 + r)
        estimates.append(statistic(simulate(arrivals, service, 1, 0.0)))
    estimates = np.array(estimates)
    return estimates.mean(), estimates.std(ddof=1) / np.sqrt(REPLICATIONS)


def assert_matches(theory, estimate, se):
    assert 4 * se < 0.05 * theory, "the check would be too loose to catch a 5% error"
    assert abs(estimate - theory) < 4 * se, (
        f"simulated {estimate:.3f} vs theory {theory:.3f} (SE {se:.3f})"
    )


@pytest.mark.parametrize(
    "name, distribution, cv, statistic, theory",
    [
        (
            "M/M/1 mean sojourn",
            "exponential",
            0.0,
            lambda r: r.latency[WARMUP:].mean(),
            queueing.mm1_mean_sojourn(RATE, SERVICE_US),
        ),
        (
            "M/M/1 p99 sojourn",
            "exponential",
            0.0,
            lambda r: stats.percentiles(r.latency[WARMUP:], 99),
            queueing.mm1_sojourn_percentile(RATE, SERVICE_US, 99),
        ),
        (
            "M/D/1 mean wait",
            "deterministic",
            0.0,
            lambda r: r.wait[WARMUP:].mean(),
            queueing.md1_mean_wait(RATE, SERVICE_US),
        ),
        (
            "M/G/1 mean wait (lognormal, cv 1.5)",
            "lognormal",
            1.5,
            lambda r: r.wait[WARMUP:].mean(),
            queueing.mg1_mean_wait(RATE, SERVICE_US, 1.5),
        ),
    ],
)
def test_simulator_matches_theory(name, distribution, cv, statistic, theory):
    estimate, se = replicate(distribution, cv, statistic)
    assert_matches(theory, estimate, se)


def time_in_system_area(enter, leave):
    """Integral over time of the number of events present, by sweeping enter/leave events."""
    times = np.concatenate([enter, leave])
    steps = np.concatenate([np.ones_like(enter), -np.ones_like(leave)])
    order = np.argsort(times, kind="stable")
    times, present = times[order], np.cumsum(steps[order])
    return np.sum(present[:-1] * np.diff(times))


@pytest.mark.parametrize("scenario", ["bursty", "hawkes_flow"])
def test_littles_law_holds_on_simulated_traces(scenario):
    r = scenarios.get(scenario).instance(50_000, seed=5).simulate(16, 30.0)
    span = r.departure.max() - r.arrival[0]  # one window for every average below
    rate = units.count_to_rate(r.arrival.size, span)  # events per second
    L = time_in_system_area(r.arrival, r.departure) / span
    assert L == pytest.approx(queueing.littles_law_l(rate, r.latency.mean()), rel=1e-9)
    Lq = time_in_system_area(r.arrival, r.start) / span
    assert Lq == pytest.approx(queueing.littles_law_l(rate, r.wait.mean()), rel=1e-9)
