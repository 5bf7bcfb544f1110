"""Closed-form queueing results to validate the simulator against (lesson 06).

Units as everywhere in the course: arrival rates in events per second, times in µs.
Every function checks its domain: parameters are finite numbers (strings, NaN and infinity
are refused), rates are positive and the utilization
``ρ = arrival_rate · mean_service_us / 10⁶`` (per server) is below 1, otherwise no steady
state exists. A result too large for a float64 raises ``ValueError`` rather than returning
infinity.
"""

from __future__ import annotations

import math

from latency_lab import units, validate

#: The most servers the M/M/c formulas accept: the Erlang B recursion behind them takes
#: one step per server (a million steps take about 0.1 s).
MAX_SERVERS = 1_000_000


def _finite(what: str, value: float) -> float:
    """``value``, or a ``ValueError`` if it overflowed to infinity."""
    if not math.isfinite(value):
        raise ValueError(
            f"{what} overflows a float64 ({value}): the parameters are out of a usable range"
        )
    return value


def utilization(arrival_rate: float, mean_service_us: float, servers: int = 1) -> float:
    """``ρ = λ·E[S]/c``: the fraction of time each server is busy, < 1 (lesson 06).

    ``servers`` is an integer in [1, ``MAX_SERVERS``].
    """
    arrival_rate = validate.real("arrival_rate", arrival_rate, low=0, low_open=True)
    mean_service_us = validate.real("mean_service_us", mean_service_us, low=0, low_open=True)
    servers = validate.integer("servers", servers, low=1, high=MAX_SERVERS)
    rho = units.rate_to_count(arrival_rate, mean_service_us) / servers
    if rho >= 1:
        raise ValueError(
            f"utilization rho = arrival_rate * mean_service_us / servers = {rho:.3f} >= 1: "
            "arrivals outpace service and queues grow without bound; lower arrival_rate or "
            "mean_service_us"
        )
    return rho


def mm1_mean_wait(arrival_rate: float, mean_service_us: float) -> float:
    """M/M/1 mean time in queue (µs): ``ρ/(1−ρ) · E[S]`` (lesson 06)."""
    rho = utilization(arrival_rate, mean_service_us)
    return _finite("the mean wait", rho / (1 - rho) * mean_service_us)


def mm1_mean_sojourn(arrival_rate: float, mean_service_us: float) -> float:
    """M/M/1 mean time in system, wait + service (µs): ``E[S]/(1−ρ)`` (lesson 06)."""
    rho = utilization(arrival_rate, mean_service_us)
    return _finite("the mean sojourn", mean_service_us / (1 - rho))


def _percent_below_100(p) -> float:
    p = validate.real("p", p, low=0, high=100)
    if p == 100:
        raise ValueError("p must be below 100: the exponential distribution has no maximum")
    return p


def mm1_sojourn_percentile(arrival_rate: float, mean_service_us: float, p: float) -> float:
    """M/M/1 sojourn percentile (µs, lesson 06): ``−ln(1 − p/100)·E[S]/(1−ρ)``.

    The sojourn time is exponential with rate ``μ − λ``.

    ``p`` is a percentile in [0, 100).
    """
    p = _percent_below_100(p)
    return _finite(
        "the percentile", -math.log1p(-p / 100) * mm1_mean_sojourn(arrival_rate, mean_service_us)
    )


def mm1_wait_percentile(arrival_rate: float, mean_service_us: float, p: float) -> float:
    """M/M/1 wait percentile (µs, lesson 06): 0 up to percentile ``100·(1−ρ)``.

    The queueing delay has ``P(W > t) = ρ·e^{−(μ−λ)t}``.

    ``p`` is a percentile in [0, 100).
    """
    p = _percent_below_100(p)
    rho = utilization(arrival_rate, mean_service_us)
    tail = 1 - p / 100
    if tail >= rho:
        return 0.0
    return _finite("the percentile", math.log(rho / tail) * mean_service_us / (1 - rho))


def mg1_mean_wait(arrival_rate: float, mean_service_us: float, service_cv: float) -> float:
    """Pollaczek–Khinchine M/G/1 mean wait (µs, lesson 06): ``ρ/(1−ρ) · (1 + c_s²)/2 · E[S]``."""
    service_cv = validate.real("service_cv", service_cv, low=0)
    rho = utilization(arrival_rate, mean_service_us)
    return _finite(
        "the mean wait", rho / (1 - rho) * (1 + service_cv * service_cv) / 2 * mean_service_us
    )


def md1_mean_wait(arrival_rate: float, service_us: float) -> float:
    """M/D/1 mean wait (µs, lesson 06): P-K with ``c_s = 0``, half the M/M/1 wait."""
    return mg1_mean_wait(arrival_rate, service_us, 0.0)


def kingman_mean_wait(
    arrival_rate: float, mean_service_us: float, arrival_cv: float, service_cv: float
) -> float:
    """Kingman's G/G/1 mean wait (µs, lesson 06): ``ρ/(1−ρ) · (c_a² + c_s²)/2 · E[S]``.

    An approximation, exact in heavy traffic.
    """
    arrival_cv = validate.real("arrival_cv", arrival_cv, low=0)
    service_cv = validate.real("service_cv", service_cv, low=0)
    rho = utilization(arrival_rate, mean_service_us)
    variability = (arrival_cv * arrival_cv + service_cv * service_cv) / 2
    return _finite("the mean wait", rho / (1 - rho) * variability * mean_service_us)


def _erlang_b(a: float, servers: int) -> float:
    """Erlang B (M/M/c/c blocking) for offered load ``a`` Erlangs on ``servers`` servers.

    The recursion ``B₀ = 1``, ``Bₖ = a·Bₖ₋₁ / (k + a·Bₖ₋₁)`` keeps every step in [0, 1], so
    nothing overflows, where the textbook sum of ``aᵏ/k!`` reaches infinity (and
    infinity / infinity = NaN) near a thousand servers. One step per server.
    """
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
        if b == 0.0:  # underflowed: it stays 0
            break
    return b


def erlang_c(arrival_rate: float, mean_service_us: float, servers: int) -> float:
    """M/M/c probability that an arrival has to wait, Erlang C, in [0, 1] (lesson 06).

    Computed as ``C = B / (1 − ρ·(1 − B))`` from the Erlang B blocking probability ``B``,
    whose recursion stays in [0, 1] at every step: stable for any number of servers up to
    ``MAX_SERVERS`` (the textbook sum of ``aᵏ/k!`` overflows to NaN near a thousand).
    """
    rho = utilization(arrival_rate, mean_service_us, servers)
    b = _erlang_b(rho * servers, servers)
    return b / (1 - rho * (1 - b))


def mmc_mean_wait(arrival_rate: float, mean_service_us: float, servers: int) -> float:
    """M/M/c mean wait (µs, lesson 06): ``C(c, a) · E[S] / (c·(1 − ρ))``."""
    rho = utilization(arrival_rate, mean_service_us, servers)
    c = erlang_c(arrival_rate, mean_service_us, servers)
    return _finite("the mean wait", c * mean_service_us / (servers * (1 - rho)))


def littles_law_l(arrival_rate: float, mean_time_us: float) -> float:
    """Little's law ``L = λ·W`` (lesson 06): mean number in the system (or queue)."""
    arrival_rate = validate.real("arrival_rate", arrival_rate, low=0)
    mean_time_us = validate.real("mean_time_us", mean_time_us, low=0)
    return _finite("L", units.rate_to_count(arrival_rate, mean_time_us))
