"""sweep: configs checked once, run_one pure, the same rows whatever the parallelism."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import policies, scenarios, sweep
from latency_lab.engine import ServiceModel

EVENTS = 2_000


def test_a_config_resolves_each_policys_defaults_and_equal_configs_share_a_key():
    timeout = sweep.Config("bursty", "timeout", max_batch=8, events=EVENTS)
    assert (timeout.max_wait_us, timeout.slo_us, timeout.target) == (50.0, None, None)
    assert (timeout.setup_us, timeout.per_item_us, timeout.service_cv) == (20.0, 2.0, 0.5)
    assert sweep.Config(policy="static").max_wait_us == math.inf
    assert sweep.Config(policy="greedy").max_wait_us == 0.0
    aimd = sweep.Config(policy="aimd")
    assert (aimd.max_wait_us, aimd.slo_us, aimd.target) == (0.0, sweep.DEFAULT_SLO_US, None)
    assert sweep.Config(policy="queue_depth", max_batch=4).target == 4  # min(8, max_batch)
    assert sweep.Config(policy="queue_depth", max_batch=32).target == sweep.DEFAULT_TARGET
    explicit = sweep.Config(
        "bursty", "timeout", np.int64(8), 50, events=EVENTS, setup_us=20, service_cv=0.5
    )
    assert explicit == timeout and explicit.key == timeout.key
    assert type(explicit.max_batch) is int and type(explicit.max_wait_us) is float
    assert sweep.as_config(timeout.to_dict()) == timeout
    assert sweep.Config(max_batch=9).key != timeout.key
    assert timeout.key.startswith("scenario=bursty/policy=timeout/max_batch=8/max_wait_us=50.0/")


@pytest.mark.parametrize(
    "fields, error, named",
    [
        ({"scenario": "windy"}, ValueError, "scenario"),
        ({"policy": "fifo"}, ValueError, "policy"),
        ({"max_batch": 0}, ValueError, "max_batch"),
        ({"max_batch": True}, TypeError, "max_batch"),
        ({"max_batch": 2.5}, TypeError, "max_batch"),
        ({"events": 0}, ValueError, "events"),
        ({"events": sweep.MAX_RUN_EVENTS + 1}, ValueError, "events"),
        ({"max_wait_us": -1}, ValueError, "max_wait_us"),
        ({"max_wait_us": math.nan}, ValueError, "max_wait_us"),
        ({"policy": "greedy", "max_wait_us": 10}, ValueError, "max_wait_us"),
        ({"policy": "timeout", "slo_us": 50}, ValueError, "slo_us"),
        ({"policy": "aimd", "target": 4}, ValueError, "target"),
        ({"policy": "static", "interval_us": 100}, ValueError, "interval_us"),
        ({"policy": "aimd", "slo_us": 0}, ValueError, "slo_us"),
        ({"policy": "queue_depth", "max_batch": 4, "target": 5}, ValueError, "target"),
        ({"policy": "aimd", "interval_us": 1e-300}, ValueError, "interval_us"),
        ({"setup_us": -1}, ValueError, "setup_us"),
        ({"setup_us": 0, "per_item_us": 0}, ValueError, "setup_us"),
        ({"service_cv": math.inf}, ValueError, "service_cv"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(fields, error, named):
    with pytest.raises(error, match=named):
        sweep.Config(**fields)


def test_an_unknown_field_in_a_mapping_is_named():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['max_bach'\]"):
        sweep.as_config({"max_bach": 4})
    with pytest.raises(TypeError, match="config must be"):
        sweep.run_one("bursty", 0)


def test_run_one_is_a_pure_function_of_config_and_seed():
    config = sweep.Config("hawkes_flow", "timeout", 8, 20.0, events=EVENTS)
    first, again = sweep.run_one(config, 3), sweep.run_one(config, 3)
    assert first == again
    assert list(first) == list(sweep.COLUMNS)
    assert sweep.run_one(config, 4)["p99_us"] != first["p99_us"]
    assert first["seed"] == 3 and first["key"] == config.key and first["count"] == EVENTS
    assert {k: first[k] for k in config.to_dict()} == config.to_dict()


@pytest.mark.parametrize(
    "config, policy",
    [
        (sweep.Config("bursty", "timeout", 16, 50.0, events=EVENTS), policies.Static(16, 50.0)),
        (sweep.Config("calm", "greedy", 4, events=EVENTS), policies.greedy(4)),
        (sweep.Config("calm", "static", 4, events=EVENTS), policies.Static(4, math.inf)),
        (
            sweep.Config("bursty", "aimd", 32, slo_us=80, events=EVENTS),
            policies.AIMD(80.0, 0.0, cap=32),
        ),
        (
            sweep.Config("regime_shift", "queue_depth", 32, 30.0, target=6, events=EVENTS),
            policies.QueueDepth(6, 30.0, cap=32),
        ),
        (
            sweep.Config("bursty", "queue_depth", 32, interval_us=500, events=EVENTS),
            policies.QueueDepth(8, 50.0, cap=32, interval_us=500),
        ),
    ],
)
def test_a_row_is_what_the_engine_gives_for_the_scenario_and_policy(config, policy):
    row = sweep.run_one(config, 5)
    result = scenarios.get(config.scenario).simulate(EVENTS, seed=5, policy=policy)
    summary = result.summary()
    assert {k: row[k] for k in sweep.METRICS} == {k: summary[k] for k in sweep.METRICS}
    assert row["capacity_per_s"] == scenarios.SERVICE.capacity(config.max_batch)


def test_service_overrides_change_the_run_and_are_recorded():
    config = sweep.Config("calm", "timeout", 8, 20.0, events=EVENTS, setup_us=5, service_cv=0)
    assert (config.setup_us, config.per_item_us, config.service_cv) == (5.0, 2.0, 0.0)
    row = sweep.run_one(config, 1)
    service = ServiceModel(5.0, 2.0, "lognormal", cv=0.0)
    instance = scenarios.get("calm").instance(EVENTS, seed=1)
    expected = scenarios.Instance("calm", instance.arrivals, service, instance.seed).simulate(
        8, 20.0
    )
    assert row["p99_us"] == expected.summary()["p99_us"]
    assert row["capacity_per_s"] == service.capacity(8)
    assert (
        row["p99_us"]
        != sweep.run_one(sweep.Config("calm", "timeout", 8, 20.0, events=EVENTS), 1)["p99_us"]
    )


def small_grid():
    return sweep.grid(
        scenario="bursty", policy=["timeout", "aimd"], max_batch=[2, 16], events=EVENTS
    )


def test_sweep_gives_the_same_rows_in_the_same_order_whatever_jobs():
    configs = small_grid()
    serial = sweep.sweep(configs, seeds=[0, 7])
    parallel = sweep.sweep(configs, seeds=[0, 7], jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    assert list(serial.columns) == list(sweep.COLUMNS)
    pairs = list(zip(serial["key"], serial["seed"], strict=True))
    assert pairs == [(c.key, s) for c, s in itertools.product(configs, [0, 7])]
    assert serial.iloc[3].to_dict() == pytest.approx(
        sweep.to_frame([sweep.run_one(configs[1], 7)]).iloc[0].to_dict(), nan_ok=True
    )


def test_iter_rows_yields_every_task_once_with_its_index():
    plan = sweep.tasks(small_grid()[:2], range(3))
    seen = dict(sweep.iter_rows(plan, jobs=2))
    assert sorted(seen) == list(range(6))
    for task in plan:
        assert seen[task.index] == sweep.run_one(task.config, task.seed)


def test_grid_is_the_product_in_field_order_with_the_last_field_fastest():
    configs = sweep.grid(max_wait_us=[0, 10], max_batch=[1, 2], scenario="calm")
    assert [(c.max_batch, c.max_wait_us) for c in configs] == [(1, 0), (1, 10), (2, 0), (2, 10)]
    assert all(c.scenario == "calm" for c in configs)
    with pytest.raises(ValueError, match="unknown field"):
        sweep.grid(batch=[1])
    with pytest.raises(ValueError, match="MAX_CONFIGS"):  # refused before building anything
        sweep.grid(max_batch=range(1, 200), max_wait_us=list(range(100)))
    with pytest.raises(ValueError, match="max_batch has no values"):
        sweep.grid(max_batch=[])


def test_a_grid_applies_policy_fields_to_the_policies_that_use_them():
    configs = sweep.grid(
        policy=["greedy", "timeout", "aimd"], max_wait_us=[0, 10], slo_us=[50, 100], max_batch=8
    )
    described = [(c.policy, c.max_wait_us, c.slo_us) for c in configs]
    assert described == [
        ("greedy", 0.0, None),
        ("timeout", 0.0, None),
        ("timeout", 10.0, None),
        ("aimd", 0.0, 50.0),
        ("aimd", 0.0, 100.0),
        ("aimd", 10.0, 50.0),
        ("aimd", 10.0, 100.0),
    ]
    with pytest.raises(ValueError, match="slo_us applies to policy 'aimd' only"):
        sweep.grid(policy=["greedy", "timeout"], slo_us=[50, 100])
    with pytest.raises(ValueError, match="policy must be one of"):
        sweep.grid(policy=["greedy", "nope"])


@pytest.mark.parametrize(
    "configs, seeds, error, match",
    [
        ([], [0], ValueError, "configs is empty"),
        ([sweep.Config()], [], ValueError, "seeds is empty"),
        (
            [sweep.Config(), {"max_batch": 16}],
            [0],
            ValueError,
            r"configs\[1\] repeats configs\[0\]",
        ),
        ([sweep.Config()], [1, 1], ValueError, "duplicates"),
        ([sweep.Config()], 10, TypeError, "range"),
        ([sweep.Config()], [-1], ValueError, r"seeds\[0\]"),
        ([sweep.Config()], ["1"], TypeError, r"seeds\[0\]"),
        ([{"policy": "nope"}], [0], ValueError, r"configs\[0\]: policy"),
        ([sweep.Config()], range(sweep.MAX_SEEDS + 1), ValueError, "MAX_SEEDS"),
        ([sweep.Config(events=sweep.MAX_RUN_EVENTS)], range(500), ValueError, "MAX_TOTAL_EVENTS"),
        (sweep.grid(max_batch=list(range(1, 201))), range(600), ValueError, "MAX_RUNS"),
        ((sweep.Config(max_batch=b) for b in itertools.count(1)), [0], ValueError, "MAX_CONFIGS"),
        ([sweep.Config()], itertools.count(), ValueError, "MAX_SEEDS"),
    ],
)
def test_tasks_refuses_bad_or_unbounded_sweeps_up_front(configs, seeds, error, match):
    with pytest.raises(error, match=match):
        sweep.tasks(configs, seeds)


def test_tasks_are_config_major_and_a_single_config_is_accepted():
    plan = sweep.tasks({"max_batch": 4, "events": EVENTS}, range(3))
    assert [(t.index, t.seed) for t in plan] == [(0, 0), (1, 1), (2, 2)]
    assert plan[0].config == sweep.Config(max_batch=4, events=EVENTS)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"jobs": 0}, ValueError, "jobs"),
        ({"jobs": sweep.MAX_JOBS + 1}, ValueError, "jobs"),
        ({"jobs": True}, TypeError, "jobs"),
        ({"jobs": "2"}, TypeError, "jobs"),
        ({"backend": "spark"}, ValueError, "backend"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, ValueError, "scheduler"),
        ({"backend": "dask"}, ValueError, "scheduler"),
        ({"progress": 1}, TypeError, "progress"),
    ],
)
def test_iter_rows_checks_its_arguments_before_any_run(kwargs, error, match, monkeypatch):
    monkeypatch.setattr(sweep, "run_one", lambda *a: pytest.fail("a run started"))
    plan = sweep.tasks(sweep.Config(events=EVENTS), [0])
    with pytest.raises(error, match=match):
        sweep.iter_rows(plan, **kwargs)
    with pytest.raises(TypeError, match="Task"):
        sweep.iter_rows([(0, sweep.Config(), 0)])


@pytest.mark.parametrize("records", [5, "rows", {"a": 1}, [1, 2]])
def test_to_frame_refuses_what_is_not_rows(records):
    with pytest.raises(TypeError, match="records"):
        sweep.to_frame(records)


def test_summarize_gives_the_median_and_range_over_seeds_per_config():
    configs = [sweep.Config("bursty", "timeout", b, events=EVENTS) for b in (1, 16)]
    frame = sweep.sweep(configs, range(3))
    summary = sweep.summarize(frame)
    assert list(summary["key"]) == [c.key for c in configs]
    assert list(summary["seeds"]) == [3, 3]
    for i, config in enumerate(configs):
        runs = frame[frame["key"] == config.key]
        assert summary["p99_us_median"][i] == np.median(runs["p99_us"])
        assert summary["p99_us_min"][i] == runs["p99_us"].min()
        assert summary["p99_us_max"][i] == runs["p99_us"].max()
        assert summary["stable_runs"][i] == runs["stable"].sum()
    with pytest.raises(ValueError, match="lacks"):
        sweep.summarize(frame.drop(columns="p99_us"))


def test_frontier_of_a_known_set():
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, np.nan], "y": [1.0, 3.0, 4.0, 2.0, 5.0, 5.0, 0.0]}
    )
    best = sweep.frontier(frame, x="x", y="y")
    # (3, 2) beats (2, 3) and (2, 4); the second (4, 5) only equals the first; NaN is left out
    assert list(best.index) == [0, 3, 4]
    with pytest.raises(ValueError, match="x='nope'"):
        sweep.frontier(frame, x="nope", y="y")


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_frontier_points_are_unbeaten_and_beat_or_equal_every_other_point(points):
    frame = pd.DataFrame(points, columns=["x", "y"], dtype=float)
    best = sweep.frontier(frame, x="x", y="y")

    def beats(a, b):
        return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])

    front = list(zip(best["x"], best["y"], strict=True))
    assert len(set(front)) == len(front)
    assert list(best["x"]) == sorted(best["x"])
    for p in front:
        assert not any(beats(q, p) for q in points)
    for q in points:
        assert any(beats(p, q) or p == q for p in front)
