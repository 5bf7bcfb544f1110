"""engine: the kernel against a literal reference, invariants, resumability, errors."""

import math

import numpy as np
import pytest
from engine_reference import reference_simulate
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import engine, policies, traffic
from latency_lab.engine import ServiceModel, Simulator, simulate


@st.composite
def traces(draw, max_size=60):
    """Sorted arrival times with ties and idle gaps, on a coarse grid (exact floats)."""
    gaps = draw(
        st.lists(st.sampled_from([0, 0, 1, 2, 5, 10, 40, 200]), min_size=1, max_size=max_size)
    )
    return np.cumsum(np.array(gaps, dtype=float)) * 0.5


services = st.builds(
    ServiceModel,
    setup_us=st.sampled_from([0.0, 1.0, 7.5]),
    per_item_us=st.sampled_from([0.5, 2.0, 3.0]),
    distribution=st.sampled_from(["deterministic", "exponential", "lognormal"]),
    seed=st.integers(0, 3),
).map(
    lambda s: (
        s
        if s.distribution != "lognormal"
        else ServiceModel(s.setup_us, s.per_item_us, "lognormal", 0.8, s.seed)
    )
)
max_batches = st.integers(1, 6)
max_waits = st.sampled_from([0.0, 0.5, 3.0, 12.5, 100.0, math.inf])


@given(traces(), services, max_batches, max_waits)
def test_kernel_matches_the_literal_reference(arrivals, service, max_batch, max_wait):
    result = simulate(arrivals, service, max_batch, max_wait)
    start, departure, batch_id = reference_simulate(
        arrivals.tolist(), service.setup_us, service.per_item_us, max_batch, max_wait,
        service.multipliers(arrivals.size).tolist(),
    )  # fmt: skip
    np.testing.assert_array_equal(result.start, start)
    np.testing.assert_array_equal(result.departure, departure)
    np.testing.assert_array_equal(result.batch_id, batch_id)


def test_kernel_py_func_gives_identical_results(monkeypatch):
    arrivals = traffic.MMPP(20_000, 200_000, 5_000, 1_000).arrivals(5_000, seed=4)
    service = ServiceModel(10, 2, "lognormal", cv=0.7, seed=1)
    compiled = simulate(arrivals, service, 8, 25.0)
    monkeypatch.setattr(engine, "run_kernel", engine.run_kernel.py_func)
    interpreted = simulate(arrivals, service, 8, 25.0)
    for name in ["start", "departure", "batch_id", "batch_size", "batch_service"]:
        np.testing.assert_array_equal(getattr(compiled, name), getattr(interpreted, name))


@given(traces(max_size=200), services, max_batches, max_waits)
def test_invariants(arrivals, service, max_batch, max_wait):
    r = simulate(arrivals, service, max_batch, max_wait)
    n = arrivals.size
    # every event departs exactly once, in a batch of at most max_batch
    assert r.departure.size == n and np.isfinite(r.departure).all()
    assert (
        r.batch_size.sum() == n and (r.batch_size >= 1).all() and (r.batch_size <= max_batch).all()
    )
    np.testing.assert_array_equal(np.bincount(r.batch_id), r.batch_size)
    # FIFO: batches take events in arrival order; nobody starts before arriving
    assert (np.diff(r.batch_id) >= 0).all() and (np.diff(r.start) >= 0).all()
    assert (r.start >= r.arrival).all()
    # one server: a batch starts after the previous one departs; departures never go back
    batch_end = r.batch_start + r.batch_service
    assert (r.batch_start[1:] >= batch_end[:-1]).all()
    assert (np.diff(batch_end) >= 0).all()
    # nobody waits longer than max_wait while the server idles
    first = np.concatenate([[0], np.cumsum(r.batch_size)[:-1]])
    free_before = np.concatenate([[-np.inf], batch_end[:-1]])
    if np.isfinite(max_wait):
        assert (r.batch_start <= np.maximum(free_before, arrivals[first] + max_wait)).all()


@given(traces(max_size=150), services, max_batches, max_waits, st.data())
def test_resuming_in_pieces_changes_nothing(arrivals, service, max_batch, max_wait, data):
    whole = simulate(arrivals, service, max_batch, max_wait)
    sim = Simulator(arrivals, service)
    stops = sorted(data.draw(st.lists(st.floats(0, float(arrivals[-1]) + 50), max_size=6)))
    for stop in stops:
        before = sim.batches
        sim.run(max_batch, max_wait, until_us=stop)
        assert (sim.result().batch_start[before:] <= stop).all()
        sim.run(max_batch, max_wait, max_batches=data.draw(st.integers(0, 3)))
    sim.run(max_batch, max_wait)
    pieces = sim.result()
    np.testing.assert_array_equal(whole.departure, pieces.departure)
    np.testing.assert_array_equal(whole.batch_id, pieces.batch_id)


def test_parameters_changed_at_a_time_apply_from_that_time_on():
    arrivals = np.array([0.0, 1.0, 2.0, 3.0])
    sim = Simulator(arrivals, ServiceModel(1.0, 0.0))
    sim.run(max_batch=4, max_wait_us=math.inf, until_us=2.5)  # would wait for the 4th event
    assert sim.served == 0
    sim.run(max_batch=4, max_wait_us=0.0)  # greedy now: starts at 2.5, not in the past
    r = sim.result()
    assert r.batch_start.tolist() == [2.5, 3.5] and r.batch_size.tolist() == [3, 1]


def test_greedy_timeout_and_full_batch_by_hand():
    arrivals = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    service = ServiceModel(setup_us=1.0, per_item_us=1.0)
    greedy = simulate(arrivals, service, 2, 0.0)
    assert greedy.batch_start.tolist() == [0.0, 2.0, 10.0, 12.0]
    assert greedy.batch_size.tolist() == [1, 2, 1, 1]
    timed = simulate(arrivals, service, 3, 5.0)
    assert timed.batch_start.tolist() == [2.0, 15.0] and timed.batch_size.tolist() == [3, 2]
    full = simulate(arrivals, service, 3, math.inf)
    assert full.batch_start.tolist() == [
        2.0,
        11.0,
    ]  # the last, partial batch waits for the input to end


def test_same_seed_same_result_other_seed_other_result():
    arrivals = traffic.Poisson(50_000).arrivals(2_000, seed=1)
    a = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=3), 4, 10.0)
    b = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=3), 4, 10.0)
    c = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=4), 4, 10.0)
    np.testing.assert_array_equal(a.departure, b.departure)
    assert not np.array_equal(a.departure, c.departure)


def test_lognormal_multipliers_have_mean_one_and_the_given_cv():
    m = ServiceModel(1, 1, "lognormal", cv=0.5, seed=0).multipliers(400_000)
    # standard errors: cv/sqrt(n) = 0.0008 for the mean; a few thousandths for the cv
    assert m.mean() == pytest.approx(1.0, abs=0.004)
    assert m.std() / m.mean() == pytest.approx(0.5, abs=0.01)


def test_overload_completes_and_is_reported_unstable():
    arrivals = traffic.Poisson(200_000).arrivals(20_000, seed=0)  # 4.4x the capacity
    summary = simulate(arrivals, ServiceModel(20, 2), 1, 0.0).summary()
    assert summary["count"] == 20_000
    assert not summary["stable"] and summary["offered_load"] > 4


def test_summary_and_frames():
    arrivals = traffic.Poisson(20_000).arrivals(5_000, seed=0)
    r = simulate(arrivals, ServiceModel(10, 1), 4, 20.0)
    s = r.summary()
    assert s["stable"] and 0 < s["utilization"] < 1 and s["batches"] == r.batch_size.size
    assert s["throughput"] == pytest.approx(5_000 / (r.departure.max() - arrivals[0]) * 1e6)
    frame = r.to_frame()
    assert list(frame.columns) == [
        "arrival_us",
        "start_us",
        "departure_us",
        "latency_us",
        "wait_us",
        "batch_id",
    ]
    assert (frame.latency_us >= frame.wait_us).all()
    assert r.batches_frame()["size"].sum() == 5_000
    with pytest.raises(ValueError):
        r.latency[0] = 0  # results are read-only


def test_last_batch_reports_what_a_controller_needs():
    sim = Simulator(np.array([0.0, 1.0, 2.0, 3.0, 50.0]), ServiceModel(5.0, 0.0))
    with pytest.raises(ValueError, match="no batch"):
        sim.last_batch()
    sim.run(2, 0.0, max_batches=1)
    report = sim.last_batch()
    assert (report.start_us, report.size, report.service_us) == (0.0, 1, 5.0)
    assert report.oldest_latency_us == 5.0 and report.queue_depth == 3  # 1, 2, 3 wait at t=5
    assert sim.queue_depth(5.0) == 3


@pytest.mark.parametrize(
    "arrivals, match",
    [
        ([2.0, 1.0], "sorted"),
        ([0.0, np.nan], "NaN"),
        ([0.0, np.inf], "infinite"),
        ([], "empty"),
    ],
)
def test_bad_arrivals_are_rejected(arrivals, match):
    with pytest.raises(ValueError, match=match):
        simulate(arrivals, ServiceModel(1, 1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_batch": 0}, ValueError, "max_batch"),
        ({"max_batch": 2.5}, TypeError, "max_batch"),
        ({"max_wait_us": -1.0}, ValueError, "max_wait_us"),
        ({"max_wait_us": float("nan")}, ValueError, "max_wait_us"),
    ],
)
def test_bad_batching_parameters_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate([0.0, 1.0], ServiceModel(1, 1), **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"setup_us": -1, "per_item_us": 1}, "setup_us"),
        ({"setup_us": 0, "per_item_us": 0}, "both be 0"),
        ({"setup_us": 1, "per_item_us": 1, "distribution": "pareto"}, "distribution"),
        ({"setup_us": 1, "per_item_us": 1, "distribution": "lognormal", "cv": -0.1}, "cv"),
        ({"setup_us": 1, "per_item_us": 1, "distribution": "exponential", "cv": 2}, "lognormal"),
    ],
)
def test_bad_service_models_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ServiceModel(**kwargs)


def test_memory_cap_is_enforced_before_allocating(monkeypatch):
    monkeypatch.setattr(engine, "MEMORY_CAP_BYTES", 1_000)
    with pytest.raises(ValueError, match="MEMORY_CAP_BYTES"):
        Simulator(np.arange(100.0), ServiceModel(1, 1))


def test_policy_returning_bad_parameters_is_stopped():
    class Broken(policies.Policy):
        def reset(self):
            return 1, 0.0

        def update(self, report):
            return 0, 0.0

    with pytest.raises(ValueError, match="max_batch"):
        simulate(np.arange(10.0), ServiceModel(1, 1), policy=Broken())


def test_summary_of_simultaneous_and_single_arrivals():
    burst = simulate(np.zeros(5), ServiceModel(1, 1), 2, 0.0).summary()
    assert burst["offered_load"] == np.inf and not burst["stable"] and burst["count"] == 5
    single = simulate(np.zeros(1), ServiceModel(1, 1), 2, 0.0).summary()
    assert single["offered_load"] == 0 and single["stable"] and single["throughput"] == 500_000
