"""policies: each adaptive rule does what it says, and every policy keeps the engine's invariants."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from latency_lab import engine, policies, scenarios
from latency_lab.engine import ServiceModel, Simulator, StepReport, simulate
from latency_lab.traffic import Poisson


def report(service_us=10.0, queue_depth=0, batches=1):
    return StepReport(
        time_us=service_us, first_batch=0, batches=batches, events=batches,
        busy_us=service_us * batches, size=1, start_us=0.0, service_us=service_us,
        oldest_latency_us=service_us, queue_depth=queue_depth, done=False,
    )  # fmt: skip


def test_aimd_adds_under_the_slo_and_multiplies_down_over_it():
    aimd = policies.AIMD(slo_us=50, initial=4, increase=2, decrease=0.5, cap=9)
    assert aimd.reset() == (4, 0.0)
    assert aimd.update(report(40))[0] == 6
    assert aimd.update(report(40))[0] == 8
    assert aimd.update(report(40))[0] == 9  # capped
    assert aimd.update(report(60))[0] == 4  # 9 * 0.5 = 4.5, rounded down
    assert aimd.update(report(60, batches=0))[0] == 4  # an interval without a batch: keep
    for _ in range(10):
        size = aimd.update(report(60))[0]
    assert size == 1  # never below one
    assert aimd.reset() == (4, 0.0)  # a new run starts over


def test_queue_depth_takes_the_backlog_or_waits_for_its_target():
    policy = policies.QueueDepth(target=8, max_wait_us=40, cap=32)
    assert policy.reset() == (8, 40.0)
    assert policy.update(report(queue_depth=3)) == (8, 40.0)
    assert policy.update(report(queue_depth=20)) == (20, 0.0)
    assert policy.update(report(queue_depth=100)) == (32, 0.0)


def test_static_helpers_store_canonical_types_and_decide_once():
    assert policies.greedy(16) == policies.Static(16, 0.0)
    assert policies.timeout(16, 50) == policies.Static(np.int64(16), np.float32(50.0))
    static = policies.timeout(np.int32(16), 50)
    assert type(static.max_batch) is int and type(static.max_wait_us) is float
    assert static.interval_us == math.inf
    assert policies.AIMD(slo_us=10).interval_us is None


POLICIES = [
    policies.greedy(16),
    policies.timeout(16, 50.0),
    policies.AIMD(slo_us=40, cap=16),
    policies.QueueDepth(target=4, max_wait_us=30, cap=16),
    policies.AIMD(slo_us=40, cap=16, interval_us=500.0),
    policies.QueueDepth(target=4, max_wait_us=30, cap=16, interval_us=500.0),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{type(p).__name__}/{p.interval_us}")
def test_every_policy_serves_everything_fifo_within_its_cap(policy):
    r = scenarios.get("bursty").simulate(20_000, seed=2, policy=policy)
    assert r.batch_size.sum() == 20_000 and r.batch_size.max() <= 16
    assert (np.diff(r.start) >= 0).all() and (r.start >= r.arrival).all()
    assert r.summary()["stable"]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{type(p).__name__}/{p.interval_us}")
def test_drive_and_external_steps_give_the_same_run(policy):
    """The engine's loop and a caller stepping from outside share one protocol."""
    instance = scenarios.get("bursty").instance(5_000, seed=3)
    driven = instance.simulate(policy=policy)
    sim = instance.simulator()
    choice = policy.reset()
    while True:
        step = sim.step(*choice, interval_us=policy.interval_us)
        if step.done:
            break
        choice = policy.update(step)
    np.testing.assert_array_equal(sim.result().departure, driven.departure)


def test_aimd_sees_processing_time_only_so_its_limit_drifts_up_when_calm():
    s = scenarios.get("bursty")
    aimd = policies.AIMD(slo_us=40, cap=64)
    r = simulate(s.arrivals(50_000, seed=3), ServiceModel(20, 2), policy=aimd)
    # 20 + 2k <= 40 allows k <= 10, yet calm spells (batches of 1-2, well under the SLO)
    # let the limit grow to the cap, and the first batch of a burst overshoots the SLO.
    assert r.batch_size.max() > 10 and r.batch_service.max() > 40


def test_policies_use_only_the_engines_public_protocol():
    source = open(policies.__file__).read()
    owners = set(re.findall(r"(\w+)\._(?!_)\w", source))  # who owns each private name used
    assert owners <= {"self"}
    assert "from latency_lab.engine import _" not in source


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: policies.Static(0, 0.0), ValueError, "max_batch"),
        (lambda: policies.Static(8.5, 0.0), TypeError, "max_batch"),
        (lambda: policies.Static(True, 0.0), TypeError, "max_batch"),
        (lambda: policies.timeout(4, -1.0), ValueError, "max_wait_us"),
        (lambda: policies.timeout(4, "5"), TypeError, "max_wait_us"),
        (lambda: policies.timeout(4, float("nan")), ValueError, "max_wait_us"),
        (lambda: policies.AIMD(slo_us=0), ValueError, "slo_us"),
        (lambda: policies.AIMD(slo_us=10, decrease=1.5), ValueError, "decrease"),
        (lambda: policies.AIMD(slo_us=10, max_wait_us=-1), ValueError, "max_wait_us"),
        (lambda: policies.AIMD(slo_us=10, interval_us=0), ValueError, "interval_us"),
        (lambda: policies.QueueDepth(target=64, max_wait_us=1, cap=32), ValueError, "target"),
        (lambda: policies.QueueDepth(4, 1.0, interval_us="1"), TypeError, "interval_us"),
    ],
)
def test_bad_parameters_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_policy_returning_a_bad_decision_is_stopped_with_its_name():
    class Broken(policies.Policy):
        def reset(self):
            return 1, 0.0

        def update(self, report):
            return 0, 0.0

    with pytest.raises(ValueError, match="max_batch"):
        simulate(np.arange(10.0), ServiceModel(1, 1), policy=Broken())
    with pytest.raises(NotImplementedError):
        Simulator(np.arange(3.0), ServiceModel(1, 1)).drive(policies.Policy())
    assert engine.decision(*policies.greedy(4).reset()) == (4, 0.0)
    for policy in (policies.AIMD(10), policies.QueueDepth(2, 1.0)):
        with pytest.raises(TypeError, match="report"):
            policy.update({"queue_depth": 3})


def batches(result):
    return result.batch_start, result.batch_size, result.batch_service, result.batch_backlog


@settings(max_examples=40, deadline=None)
@given(
    scenario=st.sampled_from(["calm", "bursty", "regime_shift", "hawkes_flow"]),
    seed=st.integers(0, 2**16),
    events=st.integers(1, 12_000),  # past the first 4,096 multipliers drawn
    kind=st.sampled_from(["aimd", "queue_depth"]),
    cap=st.integers(1, 200),
    wait=st.sampled_from([0.0, 7.5, 50.0, math.inf]),
    slo=st.floats(1.0, 500.0),
)
def test_compiled_rules_give_the_run_the_python_loop_gives(
    scenario, seed, events, kind, cap, wait, slo
):
    """A policy's compiled rule is its update(): the same batches, to the last bit."""
    instance = scenarios.get(scenario).instance(events, seed=seed)

    def make():
        if kind == "aimd":
            return policies.AIMD(slo, wait, cap=cap, initial=max(1, cap // 3), decrease=0.7)
        return policies.QueueDepth(max(1, cap // 4), wait, cap=cap)

    policy, python = make(), make()
    python.compiled = False
    assert policy.rule is not None and python.rule is None
    compiled = instance.simulate(policy=policy)
    looped = instance.simulate(policy=python)
    for a, b in zip(batches(compiled), batches(looped), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(policy._memory, python._memory)  # the same state at the end


def test_a_subclass_that_overrides_update_is_called_not_bypassed():
    class Halving(policies.AIMD):
        def update(self, report):
            return max(1, super().update(report)[0] // 2), 0.0

    policy = Halving(slo_us=40, cap=16)
    assert policy.rule is None
    r = scenarios.get("bursty").simulate(5_000, seed=1, policy=policy)
    assert r.batch_size.max() <= 8


@njit
def _refusing(params, memory, report):
    """A rule that returns what ``params`` says: (max_batch, max_wait_us)."""
    return int(params[0]), params[1]


@njit
def _refusing_driver(params, memory, state, max_batch, max_wait_us):
    """A driver in CompiledRule's protocol: serve, decide; serve_batch refuses bad decisions."""
    while True:
        status = engine.serve_batch(state, max_batch, max_wait_us)
        if status != engine.SERVED:
            return status, max_batch, max_wait_us
        max_batch, max_wait_us = _refusing(params, memory, state[-1])


@pytest.mark.parametrize("bad, name", [((0, 0.0), "max_batch"), ((4, math.nan), "max_wait_us")])
def test_a_compiled_rule_returning_a_bad_decision_is_stopped_with_its_name(bad, name):
    class Broken(policies.RulePolicy):
        _function = staticmethod(_refusing)
        _driver = staticmethod(_refusing_driver)
        _memory = np.empty(0)

        def _params(self):
            return bad

        def reset(self):
            return 1, 0.0

    assert Broken().rule is not None
    with pytest.raises(ValueError, match=name):
        simulate(np.arange(10.0), ServiceModel(1, 1), policy=Broken())


@pytest.mark.parametrize(
    "driver, params, memory, error",
    [
        (lambda *args: (0, 1, 0.0), np.empty(0), np.empty(0), TypeError),  # not compiled
        (policies._aimd_driver, np.zeros(5, np.float32), np.zeros(1), TypeError),
        (policies._aimd_driver, np.zeros((5, 1)), np.zeros(1), TypeError),
        (policies._aimd_driver, np.zeros(5), np.zeros(4)[::2], ValueError),
        (policies._aimd_driver, np.zeros(5), np.zeros(1).view(), None),
    ],
)
def test_compiled_rules_check_what_they_are_given(driver, params, memory, error):
    if error is None:
        engine.CompiledRule(driver, params, memory)
        return
    with pytest.raises(error):
        engine.CompiledRule(driver, params, memory)
    frozen = np.zeros(1)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        engine.CompiledRule(policies._aimd_driver, np.zeros(5), frozen)


def test_a_controller_rule_that_is_not_a_compiled_rule_is_refused():
    class Odd(policies.AIMD):
        rule = "fast please"

    with pytest.raises(TypeError, match="CompiledRule"):
        simulate(np.arange(10.0), ServiceModel(1, 1), policy=Odd(10))


def test_huge_caps_and_increases_are_refused_up_front():
    with pytest.raises(ValueError, match="cap"):
        policies.AIMD(10, cap=10**30)
    with pytest.raises(ValueError, match="increase"):
        policies.AIMD(10, increase=10**30)
    with pytest.raises(ValueError, match="cap"):
        policies.QueueDepth(1, 0.0, cap=10**30)


def lazy_batcher_reference(arrivals, max_batch, timeout_us, service_us):
    """The classic batcher, event by event: on each arrival append, then flush if full or
    if the oldest has waited the timeout; flush what is left at the end. Batches are served
    in order by one server taking ``service_us`` per batch. Returns latencies."""
    latency = np.empty(len(arrivals))
    pending, free = [], -math.inf

    def flush(now):
        nonlocal free
        start = max(now, free)
        free = start + service_us
        for i in pending:
            latency[i] = free - arrivals[i]
        pending.clear()

    for i, t in enumerate(arrivals):
        pending.append(i)
        if len(pending) >= max_batch or t - arrivals[pending[0]] >= timeout_us:
            flush(t)
    if pending:
        flush(arrivals[-1])
    return latency


@pytest.mark.parametrize("seed", range(3))
def test_arrival_checked_timeout_matches_the_classic_batcher(seed):
    # a server much faster than the gaps is always free when a batch is flushed
    arrivals = Poisson(1_000).arrivals(400, seed=seed)
    service = ServiceModel(0.001, 0.0)
    controller = policies.ArrivalCheckedTimeout(arrivals, 4, 1_500.0)
    result = simulate(arrivals, service, policy=controller)
    expected = lazy_batcher_reference(arrivals, 4, 1_500.0, 0.001)
    np.testing.assert_allclose(result.latency, expected, rtol=0, atol=1e-6)
    exact = simulate(arrivals, service, policy=policies.timeout(4, 1_500.0))
    assert result.latency.max() >= exact.latency.max()
    assert np.all(exact.latency <= 1_500.0 + 0.002)


def test_arrival_checked_timeout_waits_for_the_next_arrival():
    arrivals = np.array([0.0, 10.0, 500.0, 510.0])
    sim = Simulator(arrivals, ServiceModel(1.0, 0.0))
    sim.drive(policies.ArrivalCheckedTimeout(arrivals, 8, 50.0))
    result = sim.result()
    # the deadline of the event at 0 passes at 50, but nothing arrives until 500
    assert result.batch_start.tolist() == [500.0, 510.0]
    assert result.batch_size.tolist() == [3, 1]
    with pytest.raises(TypeError, match="StepReport"):
        policies.ArrivalCheckedTimeout(arrivals, 8, 50.0).update((1, 2))
