"""Q-learning agent (lesson 08): the update, seeded reproducible training, save/load, and an
evaluation on held-out seeds against the baselines."""

import numpy as np
import pandas as pd
import pytest

from latency_lab import agent as A

SMALL = {"scenario": "bursty", "events": 1_500}


def fresh(seed=0, **hyper):
    return A.QAgent(A.Hyper(seed=seed, **hyper), dict(SMALL))


def test_q_update_is_sutton_barto():
    q = np.zeros((3, 2))
    q[1] = [1.0, 4.0]
    err = A.q_update(q, 0, 1, -2.0, 1, False, alpha=0.5, gamma=0.9)
    assert err == pytest.approx(-2.0 + 0.9 * 4.0)
    assert q[0, 1] == pytest.approx(0.5 * 1.6)
    A.q_update(q, 2, 0, -1.0, 1, True, alpha=1.0, gamma=0.9)  # terminal: no bootstrap
    assert q[2, 0] == -1.0


def test_training_is_reproducible_from_its_seed():
    a, b = fresh(3), fresh(3)
    log_a, log_b = A.train(a, 5), A.train(b, 5)
    pd.testing.assert_frame_equal(log_a, log_b)
    np.testing.assert_array_equal(a.q, b.q)
    c = fresh(4)
    A.train(c, 5)
    assert not np.array_equal(a.q, c.q)


def test_training_in_pieces_is_training_at_once():
    a, b = fresh(1), fresh(1)
    A.train(a, 6)
    A.train(b, 3)
    A.train(b, 3)
    np.testing.assert_array_equal(a.q, b.q)
    assert a.training_seeds == b.training_seeds


def test_log_columns_and_epsilon_decay():
    agent = fresh(epsilon=0.5, epsilon_decay=0.5, epsilon_min=0.1)
    log = A.train(agent, 4)
    assert list(log.columns) == list(A.LOG_COLUMNS)
    assert log["epsilon"].tolist() == [0.5, 0.25, 0.125, 0.1]
    assert (log["p99_us"] >= log["p50_us"]).all() and (log["reward"] < 0).all()


def test_training_seeds_never_meet_small_evaluation_seeds():
    seeds = A.training_seeds(0, 1_000)
    assert min(seeds) >= 2**32 and len(set(seeds)) == 1_000


def test_save_and_load_round_trip(tmp_path):
    agent = fresh(2, alpha=0.3)
    A.train(agent, 3)
    path = agent.save(tmp_path / "agent.npz")
    back = A.QAgent.load(path)
    np.testing.assert_array_equal(back.q, agent.q)
    np.testing.assert_array_equal(back.visits, agent.visits)
    assert back.hyper == agent.hyper and back.epsilon == agent.epsilon
    assert back.training_seeds == agent.training_seeds and back.env_config == SMALL


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        A.QAgent.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        A.QAgent.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, q=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved agent"):
        A.QAgent.load(other)


def test_bad_hyper_parameters_are_refused():
    for kwargs, name in [({"alpha": 0}, "alpha"), ({"gamma": 1.5}, "gamma"),
                         ({"epsilon": -0.1}, "epsilon"), ({"seed": -1}, "seed")]:  # fmt: skip
        with pytest.raises(ValueError, match=name):
            A.Hyper(**kwargs)
    with pytest.raises(ValueError, match="episodes"):
        A.train(fresh(), 0)


def test_evaluation_is_reproducible_and_judges_against_every_baseline():
    agent = fresh(5)
    A.train(agent, 4)
    one = A.evaluate(agent, [100, 101], cdf_seeds=1)
    two = A.evaluate(agent, [100, 101], cdf_seeds=1)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    policies = set(one.runs["policy"])
    assert A.AGENT in policies and "greedy (cap 64)" in policies
    assert {p.split(" (")[0] for p in policies} >= {"timeout", "AIMD", "queue-depth"}
    assert one.best_static["bursty"] in policies
    assert "bursty:" in one.verdicts["bursty"] and "greedy" in one.verdicts["bursty"]
    table = A.percentile_table(one, "bursty")
    assert (table["p99_min_us"] <= table["p99_us"]).all()


def test_best_static_is_best_of_the_grid_on_these_seeds():
    agent = fresh()
    ev = A.evaluate(agent, [7], cdf_seeds=0)
    best = ev.runs[ev.runs["policy"] == ev.best_static["bursty"]]["p99_us"].iloc[0]
    from latency_lab import sweep

    grid = A.static_grid("bursty", SMALL["events"], agent.make_env().caps)
    assert best == sweep.sweep(grid, [7])["p99_us"].min()


def test_evaluation_refuses_training_seeds():
    agent = fresh()
    A.train(agent, 1)
    with pytest.raises(ValueError, match="training"):
        A.evaluate(agent, [agent.training_seeds[0]])


def test_verdict_says_when_the_agent_matches_greedy():
    """An agent that always picks the largest cap IS greedy with a cap: no win claimed."""
    agent = fresh()
    ev = A.evaluate(agent, [100, 101, 102], cdf_seeds=0)  # untrained: falls back to cap 64
    assert "does NOT beat" in ev.verdicts["bursty"]
    assert "1.000×" in ev.verdicts["bursty"]
