"""latency-lab train and evaluate (lesson 08): outputs, reproducibility, one-line errors."""

import pandas as pd
import pytest

from latency_lab import cli

SMALL = ["--scenario", "bursty", "--events", "1500", "--episodes", "4", "--no-progress"]


def train(tmp_path, *extra):
    out = tmp_path / "r1"
    assert cli.main(["train", *SMALL, "--seed", "0", "--out", str(out), *extra]) == 0
    return out


def test_train_then_evaluate_writes_everything(tmp_path, capsys):
    out = train(tmp_path)
    for name in ("training_log.csv", "agent.npz", "training_curve.png"):
        assert (out / name).stat().st_size > 0
    log = pd.read_csv(out / "training_log.csv")
    assert len(log) == 4 and {"reward", "p99_us", "epsilon"} <= set(log.columns)
    status = cli.main(["evaluate", "--agent", str(out), "--seeds", "100-101", "--jobs", "1"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "greedy (cap 64)" in printed and "bursty: the agent's p99 is" in printed
    for name in ("evaluation_runs.csv", "evaluation_summary.csv", "latency_cdf.png",
                 "percentile_bars.png"):  # fmt: skip
        assert (out / "eval" / name).stat().st_size > 0


def test_training_is_reproducible(tmp_path):
    a = pd.read_csv(train(tmp_path / "a") / "training_log.csv")
    b = pd.read_csv(train(tmp_path / "b") / "training_log.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["train", "--alpha", "2"], "--alpha"),
        (["train", "--epsilon-decay", "-1"], "--epsilon-decay"),
        (["train", "--episodes", "0"], "--episodes"),
        (["train", "--scenario", "nope"], "--scenario"),
        (["evaluate", "--agent", "/nonexistent/dir"], "--agent"),
        (["evaluate"], "--agent"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, argv, flag):
    assert cli.main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]


def test_corrupt_agent_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "agent.npz"
    bad.write_bytes(b"garbage")
    assert cli.main(["evaluate", "--agent", str(bad), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a saved agent" in err[0]


def test_evaluate_refuses_training_seeds(tmp_path, capsys):
    out = train(tmp_path)
    seed = pd.read_csv(out / "training_log.csv")["seed"].iloc[0]
    assert cli.main(["evaluate", "--agent", str(out), "--seeds", str(seed)]) == 2
    assert "training" in capsys.readouterr().err
