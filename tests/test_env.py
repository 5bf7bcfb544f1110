"""BatchingEnv (lesson 08): Gymnasium's checker, seeding, the engine underneath, the reward."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from latency_lab import env as envmod
from latency_lab import scenarios, sweep
from latency_lab.env import BatchingEnv


def small(**kw):
    return BatchingEnv(events=kw.pop("events", 2_000), **kw)


def test_check_env_passes():
    check_env(gymnasium.make(envmod.ENV_ID, events=2_000).unwrapped, skip_render_check=False)


def test_registered_id_builds_the_env():
    env = gymnasium.make(envmod.ENV_ID, scenario="calm", events=500)
    assert isinstance(env.unwrapped, BatchingEnv)
    assert env.unwrapped.scenario == "calm"


def test_reset_seed_is_the_scenario_instance_of_that_seed():
    env = small(scenario="bursty")
    env.reset(seed=7)
    expected = scenarios.get("bursty").instance(2_000, seed=7).arrivals
    np.testing.assert_array_equal(env.simulator.arrivals, expected)
    env.reset(seed=8)
    assert not np.array_equal(env.simulator.arrivals, expected)


def test_fixed_action_reproduces_the_static_run_of_sweep():
    """No second simulator: holding cap 64 with wait 0 is exactly sweep's greedy run."""
    env = small()
    env.reset(seed=3)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.n - 1)
        done = terminated or truncated
    ours = env.result().summary()
    row = sweep.run_one(
        dict(scenario="regime_shift", policy="greedy", max_batch=64, events=2_000), 3
    )
    for key in ("p50_us", "p99_us", "max_us", "throughput_per_s"):
        assert ours[key] == pytest.approx(row[key], rel=1e-12)


def test_options_pick_the_scenario_and_unknown_options_are_refused():
    env = small()
    _, info = env.reset(seed=1, options={"scenario": "calm"})
    assert info["scenario"] == "calm" and env.scenario == "calm"
    with pytest.raises(ValueError, match="scenario"):
        env.reset(seed=1, options={"scenario": "nope"})
    with pytest.raises(ValueError, match="unknown"):
        env.reset(seed=1, options={"speed": 2})


def test_same_seed_same_episode():
    def episode(env):
        obs, _ = env.reset(seed=11)
        out, done, i = [obs], False, 0
        while not done:
            obs, r, term, trunc, _ = env.step(i % env.action_space.n)
            out.append(np.append(obs, r))
            done, i = term or trunc, i + 1
        return np.concatenate(out)

    np.testing.assert_array_equal(episode(small()), episode(small()))


def test_observation_tracks_queue_rate_and_cap():
    env = small(scenario="calm", events=5_000)
    env.reset(seed=2)
    rates = []
    for _ in range(50):
        obs, *_ = env.step(3)
        rates.append(obs[1])
    assert obs[3] == env.caps[3]
    assert 15_000 < np.median(rates[10:]) < 45_000  # calm is 30,000 events/s
    assert obs[0] == env.simulator.report().queue_depth


def test_reward_is_minus_step_cost_over_scale():
    env = small(scenario="bursty")
    env.reset(seed=4)
    for _ in range(30):
        before = env.simulator.batches
        obs, reward, *_ = env.step(0)
        lat = env.simulator.latencies(before)
        cost = envmod.step_cost(lat, int(obs[0]), env.interval_us, env.slo_us)
        assert reward == pytest.approx(-cost / env.reward_scale)


def test_step_cost_counts_the_tail_above_the_slo():
    assert envmod.step_cost([100.0, 300.0], 0, 1_000, 200, mean_weight=0) == pytest.approx(0.5)
    assert envmod.step_cost([], 3, 1_000, 200, mean_weight=0, backlog_weight=1) == 15.0
    assert envmod.step_cost([50.0], 0, 1_000, 200, mean_weight=1) == pytest.approx(0.25)


def test_discretization_bins_and_inverse():
    assert envmod.state_index(0, 0, 0) == 0
    assert envmod.state_index(1e9, 1e9, 1e9) == envmod.N_STATES - 1
    for state in range(envmod.N_STATES):
        d, r, t = envmod.state_bins(state)
        depth = [0, *envmod.DEPTH_EDGES][d]
        rate = [0, *envmod.RATE_EDGES][r]
        tail = [0, *envmod.TAIL_EDGES][t]
        assert envmod.state_index(depth, rate, tail) == state
        assert envmod.bins(depth, rate, tail) == (d, r, t)


def test_actions_combine_caps_and_waits():
    env = small(caps=(2, 8), waits=(0, 50))
    assert env.action_space.n == 4
    assert env.decision(3) == (8, 50.0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)


def test_render_draws_an_rgb_trace():
    env = small(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(20):
        env.step(2)
    image = env.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert image.std() > 0
    assert small().render() is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scenario": "x"}, "scenario"),
        ({"events": 0}, "events"),
        ({"events": 10**9}, "events"),
        ({"interval_us": 0}, "interval_us"),
        ({"interval_us": 1.0}, "mean gap"),
        ({"caps": ()}, "caps"),
        ({"caps": (1, 1)}, "duplicates"),
        ({"waits": (-1,)}, "waits"),
        ({"slo_us": 0}, "slo_us"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BatchingEnv(**kwargs)


def test_step_before_reset_is_an_error():
    with pytest.raises(RuntimeError, match="reset"):
        small().step(0)
