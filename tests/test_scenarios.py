"""scenarios: one seed drives a whole run (traffic and service), named workloads, bad input."""

import numpy as np
import pytest

from latency_lab import policies, scenarios
from latency_lab.engine import ServiceModel
from latency_lab.traffic import Poisson


def test_one_seed_reproduces_a_whole_run_and_another_seed_changes_it():
    bursty = scenarios.get("bursty")
    a, b = bursty.instance(5_000, seed=7), bursty.instance(5_000, seed=7)
    np.testing.assert_array_equal(a.arrivals, b.arrivals)
    np.testing.assert_array_equal(a.service.multipliers(100), b.service.multipliers(100))
    np.testing.assert_array_equal(a.simulate(8, 20.0).departure, b.simulate(8, 20.0).departure)
    c = bursty.instance(5_000, seed=8)
    assert not np.array_equal(a.arrivals, c.arrivals)
    assert not np.array_equal(a.service.multipliers(100), c.service.multipliers(100))


def test_traffic_and_service_get_the_two_spawned_children_of_the_seed():
    instance = scenarios.get("calm").instance(1_000, seed=7)
    traffic_seed, service_seed = np.random.SeedSequence(7).spawn(2)
    np.testing.assert_array_equal(
        instance.arrivals, Poisson(30_000).arrivals(1_000, seed=traffic_seed)
    )
    expected = ServiceModel(20.0, 2.0, "lognormal", cv=0.5, seed=service_seed)
    np.testing.assert_array_equal(instance.service.multipliers(50), expected.multipliers(50))
    assert instance.seed.entropy == 7


def test_a_seed_sequence_means_the_same_as_its_int_even_after_being_spawned():
    calm = scenarios.get("calm")
    sequence = np.random.SeedSequence(11)
    sequence.spawn(3)  # spawning mutates a SeedSequence: the scenario must not depend on it
    for seed in (sequence, sequence, 11, np.int64(11)):
        instance = calm.instance(500, seed=seed)
        np.testing.assert_array_equal(instance.arrivals, calm.arrivals(500, seed=11))
        np.testing.assert_array_equal(
            instance.service.multipliers(20), calm.instance(500, seed=11).service.multipliers(20)
        )


def test_no_seed_draws_fresh_entropy_that_is_kept():
    calm = scenarios.get("calm")
    first = calm.instance(300)
    assert not np.array_equal(first.arrivals, calm.instance(300).arrivals)
    np.testing.assert_array_equal(first.arrivals, calm.instance(300, seed=first.seed).arrivals)


def test_instances_are_read_only_and_simulate_as_the_engine_does():
    instance = scenarios.get("hawkes_flow").instance(duration_us=50_000, seed=1)
    with pytest.raises(ValueError):
        instance.arrivals[0] = 1.0
    assert (instance.arrivals < 50_000).all()
    policy = policies.QueueDepth(4, 30.0, 32)
    direct = instance.simulate(policy=policy)
    via_scenario = scenarios.get("hawkes_flow").simulate(duration_us=50_000, seed=1, policy=policy)
    np.testing.assert_array_equal(direct.departure, via_scenario.departure)
    sim = instance.simulator()
    sim.run(4, 30.0, max_batches=5)
    assert sim.batches == 5


@pytest.mark.parametrize(
    "seed, error",
    [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError), ([1], TypeError)],
)
def test_bad_seeds_are_refused_before_any_work(seed, error):
    with pytest.raises(error, match="seed"):
        scenarios.get("calm").instance(10**7, seed=seed)


def test_bad_sizes_and_names_are_refused():
    calm = scenarios.get("calm")
    with pytest.raises(ValueError, match="exactly one"):
        calm.instance(seed=0)
    with pytest.raises(ValueError, match="n"):
        calm.instance(-1, seed=0)
    with pytest.raises(ValueError, match="duration_us=1e-06 gives no arrivals"):
        calm.simulate(duration_us=1e-6, seed=0)
    with pytest.raises(ValueError, match="n=0 gives no arrivals"):
        calm.simulate(0, seed=0)
    with pytest.raises(ValueError, match="unknown|name"):
        scenarios.get("nope")
    with pytest.raises(ValueError, match="name"):
        scenarios.get(["calm"])
    with pytest.raises(TypeError, match="process"):
        scenarios.Scenario("x", "y", "Poisson")
    with pytest.raises(TypeError, match="service"):
        scenarios.Scenario("x", "y", Poisson(1.0), service=3)


def test_every_scenario_is_described_and_runs():
    table = scenarios.describe()
    assert list(table.index) == list(scenarios.SCENARIOS)
    for name in scenarios.SCENARIOS:
        summary = scenarios.get(name).simulate(5_000, seed=0, max_batch=32).summary()
        assert summary["count"] == 5_000


def test_a_hand_built_instance_is_checked():
    good = scenarios.get("calm").instance(10, seed=0)
    with pytest.raises(TypeError, match="arrivals"):
        scenarios.Instance("calm", [1.0, 2.0], good.service, good.seed)
    with pytest.raises(TypeError, match="seed"):
        scenarios.Instance("calm", good.arrivals, good.service, 0)
