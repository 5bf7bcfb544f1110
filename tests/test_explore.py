"""Lesson 07's pure functions: policies by name, latency curves, explorer views, frontier,
traced and arrival-checked controllers."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import explore, policies, scenarios, traffic, units
from latency_lab.engine import simulate
from latency_lab.traffic import MMPP

SHARED_KEYS = ("count", "mean_us", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us",
               "throughput_per_s", "offered_rate_per_s", "utilization", "mean_batch", "stable")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind", "decision"),
    [
        ("static", policies.Static, (16, math.inf)),
        ("greedy", policies.Static, (16, 0.0)),
        ("timeout", policies.Static, (16, 30.0)),
        ("aimd", policies.AIMD, (1, 30.0)),
        ("queue_depth", policies.QueueDepth, (8, 30.0)),
    ],
)
def test_make_policy_builds_each_policy(name, kind, decision):
    policy = explore.make_policy(name, 16, 30.0)
    assert type(policy) is kind
    assert policy.reset() == decision


def test_make_policy_limits_are_the_cap():
    assert explore.make_policy("aimd", 16, 0.0).cap == 16
    qd = explore.make_policy("queue_depth", 4, 10.0)
    assert (qd.cap, qd.target) == (4, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"policy": "fifo"}, ValueError, "policy"),
        ({"max_batch": 0}, ValueError, "max_batch"),
        ({"max_batch": 2.5}, TypeError, "max_batch"),
        ({"max_wait_us": -1}, ValueError, "max_wait_us"),
        ({"slo_us": 0}, ValueError, "slo_us"),
    ],
)
def test_make_policy_refuses_bad_values(kwargs, error, name):
    with pytest.raises(error, match=name):
        explore.make_policy(**kwargs)


def test_uses_wait():
    assert [explore.uses_wait(p) for p in explore.POLICIES] == [False, False, True, True, True]


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=400),
    st.integers(2, 300),
)
def test_latency_curve_quantiles_are_nearest_rank_samples(values, points):
    values = np.array(values)
    levels, quantiles = explore.latency_curve(values, points)
    n = values.size
    assert levels.size <= points and np.all(np.diff(levels) > 0)
    assert levels[0] == pytest.approx(0.01) and levels[-1] <= 1 - 1 / n + 1e-12
    assert np.all(np.diff(quantiles) >= 0)
    ordered = np.sort(values)
    for level, q in zip(levels, quantiles, strict=True):
        rank = max(1, math.ceil(level * n - 1e-9))
        assert q == ordered[rank - 1]


def test_latency_curve_refuses_too_few_samples_and_points():
    with pytest.raises(ValueError, match="at least 2"):
        explore.latency_curve([1.0])
    with pytest.raises(ValueError, match="points"):
        explore.latency_curve([1.0, 2.0], points=1)


@pytest.mark.parametrize(
    ("kwargs", "stable"),
    [
        ({"scenario": "calm", "policy": "timeout", "max_batch": 8, "max_wait_us": 20.0}, True),
        ({"scenario": "calm", "policy": "greedy", "max_batch": 1, "setup_us": 60.0}, False),
        ({"scenario": "bursty", "policy": "static", "max_batch": 64}, True),
        ({"scenario": "hawkes_flow", "policy": "aimd", "max_batch": 32, "cv": 0.0}, True),
        ({"scenario": "calm", "events": 2}, True),
    ],
)
def test_views_summarize_as_the_engine_does(kwargs, stable):
    """The explorers' one-partition summary equals the engine's own summary."""
    kwargs = {"events": 5_000, **kwargs}
    view = explore.batch_view(**kwargs)
    instance = scenarios.get(kwargs["scenario"]).instance(kwargs["events"], seed=1)
    policy = explore.make_policy(view.policy, view.max_batch, view.max_wait_us)
    full = simulate(instance.arrivals, view.service, policy=policy).summary()
    assert view.summary == {key: full[key] for key in SHARED_KEYS}
    assert view.summary["stable"] is stable
    result = simulate(instance.arrivals, view.service, policy=policy)
    assert np.array_equal(
        (view.levels, view.quantiles_us), explore.latency_curve(result.latency, 200)
    )


def test_batch_view_is_the_scenario_run_it_describes():
    view = explore.batch_view("hawkes_flow", "timeout", 8, 20.0, seed=4, events=20_000)
    instance = scenarios.get("hawkes_flow").instance(20_000, seed=4)
    direct = instance.simulate(policy=policies.timeout(8, 20.0)).summary()
    assert view.summary == {key: direct[key] for key in SHARED_KEYS}
    assert view.capacity_per_s == pytest.approx(units.count_to_rate(8, 20 + 2 * 8))
    again = explore.batch_view("hawkes_flow", "timeout", 8, 20.0, seed=4, events=20_000)
    assert again.summary == view.summary


def test_batch_view_service_and_batch_change_the_result():
    base = explore.batch_view("calm", "greedy", 4, events=20_000)
    assert explore.batch_view("calm", "greedy", 1, events=20_000).summary != base.summary
    slower = explore.batch_view("calm", "greedy", 4, per_item_us=4.0, events=20_000)
    assert slower.summary["p50_us"] > base.summary["p50_us"]
    exact = explore.batch_view("calm", "greedy", 4, cv=0.0, events=20_000)
    assert exact.service.distribution == "deterministic"


def test_batch_view_refuses_unbounded_work():
    with pytest.raises(ValueError, match="events"):
        explore.batch_view(events=10**12)
    with pytest.raises(ValueError, match="scenario|name"):
        explore.batch_view(scenario="storm")


def test_burst_view_counts_and_dispersion():
    view = explore.burst_view(10_000, 100_000, 20_000, 2_000, seed=5, events=30_000,
                              view_us=50_000, window_us=500)  # fmt: skip
    traffic_seed, _ = scenarios.children(5)
    arrivals = MMPP(10_000, 100_000, 20_000, 2_000).arrivals(30_000, seed=traffic_seed)
    assert view.window_start_us.size == 100
    counts = units.rate_to_count(view.rate_per_s, 500)
    assert counts.sum() == pytest.approx(np.sum(arrivals < 50_000))
    assert view.dispersion == traffic.index_of_dispersion(arrivals, 1_000)
    direct = scenarios.Scenario("x", "x", MMPP(10_000, 100_000, 20_000, 2_000)).simulate(
        30_000, seed=5, policy=policies.greedy(32)
    )
    assert view.summary["p99_us"] == direct.summary()["p99_us"]


def test_burst_view_bursts_raise_dispersion_and_tail():
    calm = explore.burst_view(36_000, 36_000, events=50_000)
    bursty = explore.burst_view(20_000, 200_000, events=50_000)
    assert calm.dispersion < 1.5 < bursty.dispersion
    assert calm.summary["p99.9_us"] < bursty.summary["p99.9_us"]


def test_frontier_rows_and_best_per_load():
    configs = [("greedy", 1, 0.0), ("greedy", 16, 0.0), ("timeout", 16, 100.0)]
    table = explore.frontier("calm", events=5_000, loads=(0.5, 1.0, 2.0), configs=configs)
    assert len(table) == 9 and set(table["load"]) == {0.5, 1.0, 2.0}
    one = table[table["load"] == 1.0]
    instance = scenarios.get("calm").instance(5_000, seed=1)
    offered = instance.simulate().summary()["offered_rate_per_s"]
    assert one["offered_per_s"].iloc[0] == pytest.approx(offered)
    assert table[table["load"] == 2.0]["offered_per_s"].iloc[0] == pytest.approx(2 * offered)
    best = explore.best_per_load(table)
    for _, row in best.iterrows():
        same = table[(table["load"] == row["load"]) & table["stable"]]
        assert row["p99_us"] == same["p99_us"].min()
    assert not table[(table["max_batch"] == 1) & (table["load"] == 2.0)]["stable"].any()


def test_frontier_takes_sweep_configs_as_settings():
    from latency_lab import sweep

    tuples = explore.frontier("calm", events=5_000, loads=(1.0,), configs=[("aimd", 8, 0.0)])
    configs = [sweep.Config("bursty", "aimd", 8, 0.0, slo_us=100.0, events=64)]
    table = explore.frontier("calm", events=5_000, loads=(1.0,), configs=configs)
    assert table.equals(tuples)  # same policy and parameters; scenario and events not used
    with pytest.raises(TypeError, match="configs"):
        explore.frontier(configs=["greedy"])


def test_frontier_refuses_too_much_work_and_bad_frames():
    with pytest.raises(ValueError, match="too much"):
        explore.frontier(events=2_000_000, loads=np.linspace(1, 2, 100))
    with pytest.raises(TypeError):
        explore.best_per_load([1, 2])
    with pytest.raises(ValueError, match="columns"):
        explore.best_per_load(pd.DataFrame({"load": [1.0]}))


def test_traced_records_every_decision_and_changes_nothing():
    instance = scenarios.get("bursty").instance(20_000, seed=2)
    traced = explore.Traced(policies.AIMD(slo_us=40, cap=64))
    result = instance.simulate(policy=traced)
    plain = instance.simulate(policy=policies.AIMD(slo_us=40, cap=64))
    assert np.array_equal(result.latency, plain.latency)
    frame = traced.frame()
    assert len(frame) == result.batch_size.size  # one decision before each batch
    assert frame["batch_size"].iloc[1:].tolist() == result.batch_size[:-1].tolist()
    assert frame["max_batch"].max() <= 64
    with pytest.raises(TypeError, match="controller"):
        explore.Traced(object())


def test_batch_capacity():
    assert explore.batch_capacity(20, 2, 32) == pytest.approx(32 / 84 * units.US_PER_S)
    with pytest.raises(ValueError, match="k must"):
        explore.batch_capacity(20, 2, 0)
