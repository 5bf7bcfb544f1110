"""Closed-form queueing results to validate the simulator against (lesson 06).

Units as everywhere in the course: arrival rates in events per second, times in µs.
Every function checks its domain: rates must be positive and the utilization
``ρ = arrival_rate · mean_service_us / 10⁶`` below 1, otherwise no steady state exists.
"""

from __future__ import annotations

import math

from latency_lab import units, validate


def utilization(arrival_rate: float, mean_service_us: float, servers: int = 1) -> float:
    """``ρ = λ·E[S]/c``: the fraction of time each server is busy; must be < 1."""
    arrival_rate = validate.real("arrival_rate", arrival_rate, low=0, low_open=True)
    mean_service_us = validate.real("mean_service_us", mean_service_us, low=0, low_open=True)
    servers = validate.integer("servers", servers, low=1)
    rho = units.rate_to_count(arrival_rate, mean_service_us) / servers
    if rho >= 1:
        raise ValueError(
            f"utilization rho = {rho:.3f} >= 1: arrivals outpace service and queues grow without bound"
        )
    return rho


def mm1_mean_wait(arrival_rate: float, mean_service_us: float) -> float:
    """M/M/1 mean time in queue: ``ρ/(1−ρ) · E[S]``."""
    rho = utilization(arrival_rate, mean_service_us)
    return rho / (1 - rho) * mean_service_us


def mm1_mean_sojourn(arrival_rate: float, mean_service_us: float) -> float:
    """M/M/1 mean time in system (wait + service): ``E[S]/(1−ρ)``."""
    rho = utilization(arrival_rate, mean_service_us)
    return mean_service_us / (1 - rho)


def mm1_sojourn_percentile(arrival_rate: float, mean_service_us: float, p: float) -> float:
    """M/M/1 sojourn time is exponential with rate ``μ − λ``: ``−ln(1 − p/100)·E[S]/(1−ρ)``."""
    p = validate.real("p", p, low=0, high=100)
    if p == 100:
        raise ValueError("p must be below 100: the exponential distribution has no maximum")
    return -math.log1p(-p / 100) * mm1_mean_sojourn(arrival_rate, mean_service_us)


def mm1_wait_percentile(arrival_rate: float, mean_service_us: float, p: float) -> float:
    """M/M/1 queueing delay: ``P(W > t) = ρ·e^{−(μ−λ)t}``, so 0 up to percentile ``1−ρ``."""
    p = validate.real("p", p, low=0, high=100)
    if p == 100:
        raise ValueError("p must be below 100: the exponential distribution has no maximum")
    rho = utilization(arrival_rate, mean_service_us)
    tail = 1 - p / 100
    if tail >= rho:
        return 0.0
    return math.log(rho / tail) * mean_service_us / (1 - rho)


def mg1_mean_wait(arrival_rate: float, mean_service_us: float, service_cv: float) -> float:
    """Pollaczek–Khinchine: M/G/1 mean wait ``ρ/(1−ρ) · (1 + c_s²)/2 · E[S]``."""
    service_cv = validate.real("service_cv", service_cv, low=0)
    rho = utilization(arrival_rate, mean_service_us)
    return rho / (1 - rho) * (1 + service_cv**2) / 2 * mean_service_us


def md1_mean_wait(arrival_rate: float, service_us: float) -> float:
    """M/D/1 mean wait: P-K with ``c_s = 0``, half the M/M/1 wait."""
    return mg1_mean_wait(arrival_rate, service_us, 0.0)


def kingman_mean_wait(
    arrival_rate: float, mean_service_us: float, arrival_cv: float, service_cv: float
) -> float:
    """Kingman's G/G/1 approximation: ``ρ/(1−ρ) · (c_a² + c_s²)/2 · E[S]`` (heavy traffic)."""
    arrival_cv = validate.real("arrival_cv", arrival_cv, low=0)
    service_cv = validate.real("service_cv", service_cv, low=0)
    rho = utilization(arrival_rate, mean_service_us)
    return rho / (1 - rho) * (arrival_cv**2 + service_cv**2) / 2 * mean_service_us


def erlang_c(arrival_rate: float, mean_service_us: float, servers: int) -> float:
    """M/M/c probability that an arrival has to wait (Erlang C)."""
    rho = utilization(arrival_rate, mean_service_us, servers)
    a = rho * servers  # offered load in Erlangs
    term, series = 1.0, 1.0  # a^k / k!, summed for k < c
    for k in range(1, servers):
        term *= a / k
        series += term
    last = term * a / servers / (1 - rho)  # a^c / c! / (1 - rho)
    return last / (series + last)


def mmc_mean_wait(arrival_rate: float, mean_service_us: float, servers: int) -> float:
    """M/M/c mean wait: ``C(c, a) · E[S] / (c·(1 − ρ))``."""
    rho = utilization(arrival_rate, mean_service_us, servers)
    return (
        erlang_c(arrival_rate, mean_service_us, servers) * mean_service_us / (servers * (1 - rho))
    )


def littles_law_l(arrival_rate: float, mean_time_us: float) -> float:
    """Little's law ``L = λ·W``: mean number in the system (or queue) from rate and time."""
    arrival_rate = validate.real("arrival_rate", arrival_rate, low=0)
    mean_time_us = validate.real("mean_time_us", mean_time_us, low=0)
    return units.rate_to_count(arrival_rate, mean_time_us)
