"""engine: the kernel against a literal reference, invariants, resumability, the controller
protocol, windowed reads, stability, seeds and hostile input."""

import math

import numpy as np
import pytest
from engine_reference import reference_simulate
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import engine, traffic, units
from latency_lab.engine import ServiceModel, Simulator, StepReport, simulate


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
max_batches = st.one_of(st.integers(1, 6), st.just(2**63 - 1), st.just(10**30))
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
    for name in ["start", "departure", "batch_id", "batch_size", "batch_service", "batch_backlog"]:
        np.testing.assert_array_equal(getattr(compiled, name), getattr(interpreted, name))


@given(traces(max_size=200), services, max_batches, max_waits)
def test_invariants(arrivals, service, max_batch, max_wait):
    r = simulate(arrivals, service, max_batch, max_wait)
    n = arrivals.size
    # every event departs exactly once, in a batch of at most max_batch
    assert r.departure.size == n and np.isfinite(r.departure).all()
    assert r.batch_size.sum() == n and (r.batch_size >= 1).all()
    assert (r.batch_size <= max_batch).all()
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
    # the backlog a batch leaves is the events arrived by its start and not yet taken
    arrived = np.searchsorted(arrivals, r.batch_start, side="right")
    np.testing.assert_array_equal(r.batch_backlog, arrived - np.cumsum(r.batch_size))


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
        if data.draw(st.booleans()):
            sim.step(max_batch, max_wait, interval_us=data.draw(st.sampled_from([0.5, 7.0])))
    sim.run(max_batch, max_wait)
    pieces = sim.result()
    np.testing.assert_array_equal(whole.departure, pieces.departure)
    np.testing.assert_array_equal(whole.batch_id, pieces.batch_id)


def test_batch_b_gets_the_bth_multiplier_however_the_run_is_split():
    service = ServiceModel(5, 1, "lognormal", cv=0.5, seed=9)
    arrivals = traffic.Poisson(30_000).arrivals(30_000, seed=1)  # ~thousands of batches
    sim = Simulator(arrivals, service)
    while not sim.done:  # one batch at a time: the multipliers are drawn as the run grows
        sim.step(2, 0.0)
    r = sim.result()
    assert r.batch_size.size > 10_000  # well past the first allocation of batch records
    expected = (5 + 1.0 * r.batch_size) * service.multipliers(r.batch_size.size)
    np.testing.assert_array_equal(r.batch_service, expected)
    np.testing.assert_array_equal(r.departure, simulate(arrivals, service, 2, 0.0).departure)


def test_parameters_changed_at_a_time_apply_from_that_time_on():
    arrivals = np.array([0.0, 1.0, 2.0, 3.0])
    sim = Simulator(arrivals, ServiceModel(1.0, 0.0))
    sim.run(max_batch=4, max_wait_us=math.inf, until_us=2.5)  # would wait for the 4th event
    assert sim.served == 0 and sim.clock == 2.5
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
    # the last, partial batch waits for the input to end
    assert full.batch_start.tolist() == [2.0, 11.0]


def test_same_seed_same_result_other_seed_other_result():
    arrivals = traffic.Poisson(50_000).arrivals(2_000, seed=1)
    a = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=3), 4, 10.0)
    b = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=3), 4, 10.0)
    c = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=4), 4, 10.0)
    d = simulate(arrivals, ServiceModel(5, 1, "exponential", seed=np.random.SeedSequence(3)), 4, 10.0)  # fmt: skip
    np.testing.assert_array_equal(a.departure, b.departure)
    np.testing.assert_array_equal(a.departure, d.departure)  # an int seed is its SeedSequence
    assert not np.array_equal(a.departure, c.departure)


def test_a_fresh_seed_is_kept_so_the_run_can_be_repeated():
    service = ServiceModel(5, 1, "exponential", seed=None)
    assert isinstance(service.seed, np.random.SeedSequence)
    again = ServiceModel(5, 1, "exponential", seed=service.seed.entropy)
    np.testing.assert_array_equal(service.multipliers(50), again.multipliers(50))
    np.testing.assert_array_equal(service.multipliers(50), service.multipliers(50))


@pytest.mark.parametrize(
    "seed, error", [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)]
)
def test_bad_seeds_are_refused(seed, error):
    with pytest.raises(error, match="seed"):
        ServiceModel(1, 1, "exponential", seed=seed)


def test_lognormal_multipliers_have_mean_one_and_the_given_cv():
    m = ServiceModel(1, 1, "lognormal", cv=0.5, seed=0).multipliers(400_000)
    # standard errors: cv/sqrt(n) = 0.0008 for the mean; a few thousandths for the cv
    assert m.mean() == pytest.approx(1.0, abs=0.004)
    assert m.std() / m.mean() == pytest.approx(0.5, abs=0.01)


# -- the controller protocol ---------------------------------------------------------------
class Scripted:
    """A controller that replays decisions and keeps every report it was given."""

    def __init__(self, first, then, interval_us=None):
        self.first, self.then, self.interval_us = first, then, interval_us
        self.reports = []

    def reset(self):
        return self.first

    def update(self, report):
        self.reports.append(report)
        return self.then


def test_report_after_one_batch_by_hand():
    sim = Simulator(np.array([0.0, 1.0, 2.0, 3.0, 50.0]), ServiceModel(5.0, 0.0))
    before = sim.report()
    assert (before.batches, before.size, before.queue_depth, before.time_us) == (0, 0, 1, 0.0)
    assert math.isnan(before.start_us) and not before.done
    report = sim.step(2, 0.0)
    # events 1, 2 and 3 wait when the first batch (event 0 alone) completes at t = 5
    assert report == StepReport(
        time_us=5.0, first_batch=0, batches=1, events=1, busy_us=5.0, size=1, start_us=0.0,
        service_us=5.0, oldest_latency_us=5.0, queue_depth=3, done=False,
    )  # fmt: skip
    assert sim.queue_depth(5.0) == 3 and sim.report() == report._replace(
        first_batch=1, batches=0, events=0, busy_us=0.0
    )
    report = sim.step(2, 0.0)
    assert (report.time_us, report.first_batch, report.size, report.queue_depth) == (10.0, 1, 2, 1)


def test_interval_steps_report_every_batch_of_the_interval():
    arrivals = np.arange(0.0, 100.0, 1.0)  # one event per µs
    sim = Simulator(arrivals, ServiceModel(2.0, 0.0))
    report = sim.step(4, 0.0, interval_us=10.0)
    # greedy batches of up to 4, each 2 µs: starts 0, 2, 4, 6, 8, 10 (the one at 10 counts)
    assert report.time_us == 10.0 and report.first_batch == 0 and report.batches == 6
    assert report.busy_us == 12.0 and report.events == sim.served
    assert report.queue_depth == 11 - sim.served  # 0..10 have arrived by t = 10
    window = sim.result(since_batch=report.first_batch)
    assert window.batch_size.sum() == report.events
    assert sim.step(4, 0.0, interval_us=10.0).time_us == 20.0


def test_drive_per_batch_calls_update_after_every_batch_but_the_last():
    arrivals = traffic.Poisson(50_000).arrivals(3_000, seed=2)
    controller = Scripted((3, 5.0), (3, 5.0))
    r = simulate(arrivals, ServiceModel(5, 1), policy=controller)
    assert len(controller.reports) == r.batch_size.size - 1
    assert all(rep.batches == 1 for rep in controller.reports)
    np.testing.assert_array_equal(r.departure, simulate(arrivals, ServiceModel(5, 1), 3, 5.0).departure)  # fmt: skip


@pytest.mark.parametrize(
    "service", [ServiceModel(5, 1), ServiceModel(5, 1, "lognormal", cv=1.0, seed=3)]
)
def test_drive_by_interval_decides_on_a_regular_clock(service):
    # 20,000 events in batches of 1-3: multipliers run out and are drawn again mid-interval
    arrivals = traffic.Poisson(50_000).arrivals(20_000, seed=2)
    controller = Scripted((3, 5.0), (3, 5.0), interval_us=250.0)
    r = simulate(arrivals, service, policy=controller)
    assert r.batch_size.size > 5_000
    times = np.array([rep.time_us for rep in controller.reports])
    np.testing.assert_allclose(np.diff(times), 250.0)
    np.testing.assert_allclose(times[0], arrivals[0] + 250.0)
    for rep in controller.reports:  # the queue a report shows is the one at its time
        arrived = np.searchsorted(arrivals, rep.time_us, side="right")
        served = r.batch_size[: rep.first_batch + rep.batches].sum()
        assert rep.queue_depth == arrived - served
    assert sum(rep.batches for rep in controller.reports) < r.batch_size.size
    np.testing.assert_array_equal(r.departure, simulate(arrivals, service, 3, 5.0).departure)


def test_static_policy_is_one_decision():
    controller = Scripted((3, 5.0), (3, 5.0), interval_us=math.inf)
    simulate(traffic.Poisson(50_000).arrivals(3_000, seed=2), ServiceModel(5, 1), policy=controller)
    assert controller.reports == []


def test_decisions_of_any_numeric_type_never_recompile_the_kernel():
    arrivals = traffic.Poisson(50_000).arrivals(500, seed=2)
    simulate(arrivals, ServiceModel(5, 1), 3, 5.0)
    compiled = len(engine.run_kernel.signatures)
    for first, then in [
        ((8, 10), (np.int64(4), np.float32(2.5))),
        ((np.int32(2), np.float64(1.0)), (np.uint8(3), 7)),
        ((np.array(5), np.array(0.0)), (10**30, math.inf)),
    ]:
        simulate(arrivals, ServiceModel(5, 1), policy=Scripted(first, then))
        sim = Simulator(arrivals, ServiceModel(5, 1))
        sim.step(*first)
        sim.step(*then, interval_us=np.int64(3))
        sim.run(*then, until_us=np.float32(1e3), max_batches=np.int16(4))
    assert len(engine.run_kernel.signatures) == compiled


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ((8.5, 1.0), TypeError, "max_batch"),
        ((8.0, 1.0), TypeError, "max_batch"),
        ((True, 1.0), TypeError, "max_batch"),
        ((0, 1.0), ValueError, "max_batch"),
        ((-3, 1.0), ValueError, "max_batch"),
        ((4, -1.0), ValueError, "max_wait_us"),
        ((4, float("nan")), ValueError, "max_wait_us"),
        ((4, "5"), TypeError, "max_wait_us"),
        ((4, None), TypeError, "max_wait_us"),
        (None, TypeError, "pair"),
        ((1, 2, 3), TypeError, "pair"),
        (7, TypeError, "pair"),
    ],
)
def test_bad_decisions_are_named_wherever_they_come_from(bad, error, match):
    arrivals = np.arange(10.0)
    with pytest.raises(error, match=match):
        simulate(arrivals, ServiceModel(1, 1), policy=Scripted((1, 0.0), bad))
    with pytest.raises(error, match=match):
        simulate(arrivals, ServiceModel(1, 1), policy=Scripted(bad, (1, 0.0)))
    if isinstance(bad, tuple) and len(bad) == 2:
        with pytest.raises(error, match=match):
            Simulator(arrivals, ServiceModel(1, 1)).step(*bad)
        with pytest.raises(error, match=match):
            engine.decision(*bad)


def test_an_infinite_wait_is_a_valid_decision():
    assert engine.decision(np.int64(4), math.inf) == (4, math.inf)
    assert type(engine.decision(np.int64(4), 2).max_wait_us) is float


def test_controllers_and_intervals_are_checked_before_any_work():
    sim = Simulator(np.arange(10.0), ServiceModel(1, 1))
    with pytest.raises(TypeError, match="reset"):
        sim.drive(object())
    for interval, error in [(0, ValueError), (-1.0, ValueError), ("1", TypeError)]:
        with pytest.raises(error, match="interval_us"):
            sim.drive(Scripted((1, 0.0), (1, 0.0), interval_us=interval))
        with pytest.raises(error, match="interval_us"):
            sim.step(1, 0.0, interval_us=interval)
    with pytest.raises(ValueError, match="decisions"):  # 1e-300 µs steps: unbounded work
        sim.drive(Scripted((1, 0.0), (1, 0.0), interval_us=1e-300))
    assert sim.batches == 0


def test_steps_after_the_end_do_nothing():
    sim = Simulator(np.arange(3.0), ServiceModel(1, 0))
    sim.run(1, 0.0)
    for interval in (None, 5.0):
        report = sim.step(1, 0.0, interval_us=interval)
        assert report.done and report.batches == 0 and report.first_batch == 3


# -- windowed reads ------------------------------------------------------------------------
@pytest.mark.parametrize("interval_us", [None, 300.0])
def test_windowed_reads_add_up_to_the_whole_result(interval_us):
    arrivals = traffic.MMPP(20_000, 200_000, 5_000, 1_000).arrivals(20_000, seed=4)
    sim = Simulator(arrivals, ServiceModel(10, 2, "lognormal", cv=0.5, seed=1))
    latencies, ids, sizes = [], [], []
    while not sim.done:
        report = sim.step(np.int64(8), 25, interval_us=interval_us)
        window = sim.result(since_batch=report.first_batch)
        assert window.batch_size.size == report.batches and window.arrival.size == report.events
        latencies.append(window.latency)
        np.testing.assert_array_equal(sim.latencies(report.first_batch), window.latency)
        ids.append(window.batch_id)
        sizes.append(window.batch_size)
    whole = sim.result()
    np.testing.assert_array_equal(np.concatenate(latencies), whole.latency)
    np.testing.assert_array_equal(np.concatenate(ids), whole.batch_id)
    np.testing.assert_array_equal(np.concatenate(sizes), whole.batch_size)
    middle = sim.result(since_batch=whole.batch_size.size // 2)
    np.testing.assert_array_equal(middle.latency, whole.latency[-middle.latency.size :])
    np.testing.assert_array_equal(sim.latencies(whole.batch_size.size // 2), middle.latency)
    np.testing.assert_array_equal(sim.latencies(), whole.latency)
    assert sim.latencies(sim.batches).size == 0
    assert middle.batches_frame().index[0] == whole.batch_size.size // 2


def test_results_are_read_only_and_outlive_later_steps():
    sim = Simulator(np.arange(10_000.0), ServiceModel(1, 0.5))
    sim.run(4, 0.0, max_batches=10)
    early = sim.result()
    frozen = early.latency.copy()
    sim.run(4, 0.0)
    np.testing.assert_array_equal(early.latency, frozen)
    for array in (early.latency, early.batch_size, early.arrival, sim.arrivals):
        with pytest.raises(ValueError):
            array[0] = 0


def test_mutating_the_callers_arrivals_changes_nothing():
    arrivals = np.arange(100.0)
    sim = Simulator(arrivals, ServiceModel(1, 1))
    sim.run(2, 0.0, max_batches=3)
    arrivals[:] = 0.0
    sim.run(2, 0.0)
    np.testing.assert_array_equal(
        sim.result().departure, simulate(np.arange(100.0), ServiceModel(1, 1), 2, 0.0).departure
    )


# -- stability -----------------------------------------------------------------------------
def test_stable_static_run_is_stable_and_overloaded_static_run_is_not():
    arrivals = traffic.Poisson(20_000).arrivals(20_000, seed=0)
    service = ServiceModel(10, 1)  # capacity 91k/s unbatched
    assert simulate(arrivals, service, 1, 0.0).summary()["stable"]
    overload = traffic.Poisson(200_000).arrivals(20_000, seed=0)  # 2.2x the capacity
    summary = simulate(overload, service, 1, 0.0).summary()
    assert summary["count"] == 20_000 and not summary["stable"]
    assert summary["offered_rate_per_s"] == pytest.approx(200_000, rel=0.05)
    # batching raises capacity to 16 / 26 µs = 615k/s: the same overload becomes stable
    assert simulate(overload, service, 16, 0.0).summary()["stable"]


def test_adaptive_run_that_once_tried_a_huge_batch_is_still_judged_unstable():
    overload = traffic.Poisson(200_000).arrivals(20_000, seed=0)
    tried_big = Scripted((100_000, 0.0), (1, 0.0))  # one huge batch, then one at a time
    summary = simulate(overload, ServiceModel(10, 1), policy=tried_big).summary()
    assert not summary["stable"]


def test_stability_by_hand():
    # a queue that empties in the second half of the arrival span: stable
    calm = simulate(np.array([0.0, 10.0, 20.0, 30.0]), ServiceModel(1, 0), 1, 0.0)
    assert calm.batch_backlog.tolist() == [0, 0, 0, 0] and calm.stable
    # one event per µs, 2 µs each: the backlog only grows
    jam = simulate(np.arange(50.0), ServiceModel(2, 0), 1, 0.0)
    assert (jam.batch_backlog[10:40] > 0).all() and not jam.stable


def test_summary_and_frames():
    arrivals = traffic.Poisson(20_000).arrivals(5_000, seed=0)
    r = simulate(arrivals, ServiceModel(10, 1), 4, 20.0)
    s = r.summary()
    assert s["stable"] and 0 < s["utilization"] < 1 and s["batches"] == r.batch_size.size
    assert s["p99_us"] == np.sort(r.latency)[math.ceil(0.99 * 5_000) - 1]
    span = r.departure.max() - arrivals[0]
    assert s["throughput_per_s"] == pytest.approx(units.count_to_rate(5_000, span))
    frame = r.to_frame()
    assert list(frame.columns) == [
        "arrival_us", "start_us", "departure_us", "latency_us", "wait_us", "batch_id",
    ]  # fmt: skip
    assert (frame.latency_us >= frame.wait_us).all()
    assert r.batches_frame()["size"].sum() == 5_000


def test_summary_of_simultaneous_and_single_arrivals():
    burst = simulate(np.zeros(5), ServiceModel(1, 1), 2, 0.0).summary()
    assert burst["offered_rate_per_s"] == np.inf and not burst["stable"] and burst["count"] == 5
    single = simulate(np.zeros(1), ServiceModel(1, 1), 2, 0.0).summary()
    assert single["offered_rate_per_s"] == 0 and single["stable"]
    assert single["throughput_per_s"] == 500_000


# -- hostile input -------------------------------------------------------------------------
def test_a_max_batch_beyond_the_trace_behaves_like_the_trace_length():
    arrivals = np.arange(1000.0)
    expected = simulate(arrivals, ServiceModel(1, 0.001), 1000, 100.0)
    assert expected.batch_size.tolist() == [101] * 9 + [91]
    for huge in (1001, 2**63 - 1, 10**30, np.uint64(2**64 - 1)):
        r = simulate(arrivals, ServiceModel(1, 0.001), huge, 100.0)
        np.testing.assert_array_equal(r.batch_start, expected.batch_start)
        np.testing.assert_array_equal(r.batch_size, expected.batch_size)


def test_a_huge_max_batch_on_a_long_trace_is_deterministic():
    arrivals = np.arange(3_000_000.0)
    runs = [simulate(arrivals, ServiceModel(1, 0.001), 2**63 - 1, 100.0) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].batch_size, runs[1].batch_size)
    assert runs[0].batch_size.sum() == 3_000_000 and (runs[0].batch_size[:-1] == 101).all()


def test_the_kernel_refuses_inconsistent_state_instead_of_reading_out_of_bounds():
    arrivals, empty = np.arange(5.0), np.empty(0)
    records = [np.empty(5), np.empty(5, np.int64), np.empty(5), np.empty(5, np.int64)]
    fstate = np.array([-np.inf, -np.inf, 0.0, 0.0, np.nan, np.nan, np.nan])
    good = np.zeros(4, np.int64)
    assert engine.run_kernel(arrivals, empty, 1.0, 1.0, 2**62, 0.0, good, fstate.copy(), *records, np.inf, 10) >= 1  # fmt: skip
    for istate, recs in [
        (np.array([9, 9, 0, 0]), records),  # head beyond the trace
        (np.array([0, 0, 7, 0]), records),  # more batches than records
        (np.zeros(2, np.int64), records),  # too few state slots
        (np.zeros(4, np.int64), [np.empty(1), *records[1:]]),  # records of different sizes
    ]:
        with pytest.raises(ValueError, match="run_kernel"):
            engine.run_kernel(arrivals, empty, 1.0, 1.0, 2, 0.0, istate, fstate.copy(), *recs, np.inf, 10)  # fmt: skip
    # two multipliers drawn: the kernel serves two batches and stops there, to be resumed
    istate, state = np.zeros(4, np.int64), fstate.copy()
    assert engine.run_kernel(arrivals, np.ones(2), 1.0, 1.0, 1, 0.0, istate, state, *records, np.inf, 10) == 2  # fmt: skip
    assert istate[2] == 2 and state[2] == 0.0  # two batches; the clock has not moved on


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"until_us": "5"}, TypeError),
        ({"until_us": float("nan")}, ValueError),
        ({"until_us": None}, TypeError),
        ({"max_batches": -1}, ValueError),
        ({"max_batches": 2.0}, TypeError),
    ],
)
def test_bad_run_arguments_are_named(kwargs, error):
    sim = Simulator(np.arange(10.0), ServiceModel(1, 1))
    with pytest.raises(error, match=next(iter(kwargs))):
        sim.run(2, 0.0, **kwargs)
    assert sim.batches == 0


def test_infinite_until_and_wait_are_allowed():
    sim = Simulator(np.arange(10.0), ServiceModel(1, 1))
    assert sim.run(2, math.inf, until_us=-math.inf) == 0
    sim.run(2, math.inf, until_us=math.inf)
    assert sim.done


@pytest.mark.parametrize(
    "arrivals, error, match",
    [
        ([2.0, 1.0], ValueError, "sorted"),
        ([0.0, np.nan], ValueError, "NaN"),
        ([0.0, np.inf], ValueError, "infinite"),
        ([], ValueError, "empty"),
        (["a", "b"], TypeError, "numeric"),
    ],
)
def test_bad_arrivals_are_rejected(arrivals, error, match):
    with pytest.raises(error, match=match):
        simulate(arrivals, ServiceModel(1, 1))


def test_too_many_events_are_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(traffic, "MAX_EVENTS", 50)
    with pytest.raises(ValueError, match="MAX_EVENTS"):
        Simulator(np.arange(100.0), ServiceModel(1, 1))
    with pytest.raises(ValueError, match="MAX_EVENTS"):
        Simulator(list(range(100)), ServiceModel(1, 1))
    with pytest.raises(ValueError, match="count"):
        ServiceModel(1, 1, "exponential").multipliers(51)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"setup_us": -1, "per_item_us": 1}, ValueError, "setup_us"),
        ({"setup_us": 0, "per_item_us": 0}, ValueError, "both be 0"),
        ({"setup_us": "1", "per_item_us": 1}, TypeError, "setup_us"),
        ({"setup_us": 1, "per_item_us": math.inf}, ValueError, "per_item_us"),
        ({"setup_us": 1e300, "per_item_us": 1}, ValueError, "setup_us"),
        ({"setup_us": 1, "per_item_us": 1, "distribution": "pareto"}, ValueError, "distribution"),
        ({"setup_us": 1, "per_item_us": 1, "distribution": ["x"]}, ValueError, "distribution"),
        (
            {"setup_us": 1, "per_item_us": 1, "distribution": "lognormal", "cv": -0.1},
            ValueError,
            "cv",
        ),  # fmt: skip
        (
            {"setup_us": 1, "per_item_us": 1, "distribution": "lognormal", "cv": 1e200},
            ValueError,
            "cv",
        ),  # fmt: skip
        (
            {"setup_us": 1, "per_item_us": 1, "distribution": "exponential", "cv": 2},
            ValueError,
            "lognormal",
        ),  # fmt: skip
    ],
)
def test_bad_service_models_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        ServiceModel(**kwargs)


def test_other_public_arguments_are_checked():
    service = ServiceModel(1, 1)
    with pytest.raises(TypeError, match="service"):
        Simulator(np.arange(3.0), "fast")
    with pytest.raises(ValueError, match="one-dimensional|1-D|dimension"):
        Simulator(np.zeros((2, 2)), service)
    with pytest.raises(ValueError, match="max_batch"):
        service.capacity(0)
    with pytest.raises(ValueError, match="k"):
        service.mean_batch_us(-1)
    sim = Simulator(np.arange(3.0), service)
    with pytest.raises(ValueError, match="since_batch"):
        sim.result(since_batch=1)
    for bad, error in [(1, ValueError), (-1, ValueError), (0.0, TypeError), ("0", TypeError)]:
        with pytest.raises(error, match="since_batch"):
            sim.latencies(bad)
    with pytest.raises(TypeError, match="at_us"):
        sim.queue_depth("now")
    with pytest.raises(ValueError, match="nothing was served"):
        sim.result().summary()


def test_a_hand_built_result_is_checked():
    r = simulate(np.arange(10.0), ServiceModel(1, 1), 3, 0.0)
    parts = [r.arrival, r.batch_start, r.batch_size, r.batch_service, r.batch_backlog]
    assert engine.SimulationResult(*[p.tolist() for p in parts], r.service).summary() == r.summary()
    with pytest.raises(ValueError, match="add up"):
        engine.SimulationResult(r.arrival[1:], *parts[1:], r.service)
    with pytest.raises(ValueError, match="one entry per batch"):
        engine.SimulationResult(r.arrival, r.batch_start[1:], *parts[2:], r.service)
    with pytest.raises(TypeError, match="batch_size"):
        engine.SimulationResult(r.arrival, r.batch_start, r.batch_service, *parts[3:], r.service)
    with pytest.raises(TypeError, match="service"):
        engine.SimulationResult(*parts, "fast")
    with pytest.raises(ValueError, match="first_batch"):
        engine.SimulationResult(*parts, r.service, first_batch=2**63)
