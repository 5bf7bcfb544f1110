"""latency-lab: list syntax, baseline and sweep outputs, one-line errors, Ctrl-C and --resume."""

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from latency_lab import cli, sweep

EVENTS = "2000"
#: A small sweep: 2 batch sizes × 2 waits × 2 seeds.
SMALL = ["sweep", "--max-batch", "2,16", "--max-wait-us", "0,50", "--seeds", "0-1"]
SMALL += ["--events", EVENTS, "--no-progress"]


def run(argv, capsys):
    """Exit status, stdout and stderr lines of ``latency-lab argv`` in this process."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


# -- list syntax ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("1,2,4,...,256", {"integer": True}, [2**k for k in range(9)]),
        ("0,10,...,50", {"integer": True}, [0, 10, 20, 30, 40, 50]),
        ("1,2,...,5", {"integer": True}, [1, 2, 3, 4, 5]),
        ("0-9", {"integer": True}, list(range(10))),
        ("0-2,7,10-11", {"integer": True}, [0, 1, 2, 7, 10, 11]),
        ("5", {"integer": True}, [5]),
        ("1e3, 1_000_000", {"integer": True}, [1000, 1_000_000]),
        ("3,6,9,...,15", {"integer": True}, [3, 6, 9, 12, 15]),  # arithmetic, not ×2 then ×1.5
        ("100,10,1,...,0.01", {}, [100.0, 10.0, 1.0, 0.1, 0.01]),
        ("0,0.5,...,2", {}, [0.0, 0.5, 1.0, 1.5, 2.0]),
        ("0,10,100,inf", {"allow_inf": True}, [0.0, 10.0, 100.0, math.inf]),
        ("1,2,4,…,16", {"integer": True}, [1, 2, 4, 8, 16]),
    ],
)
def test_parse_list_expands_as_written(text, kwargs, expected):
    values = cli.parse_list(text, **kwargs)
    assert values == expected
    assert all(type(v) is (int if kwargs.get("integer") else float) for v in values)


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("1,2,4,...,100", {"integer": True}, "does not reach 100"),
        ("0,10,...,55", {"integer": True}, "do not reach 55"),
        ("1,2,5,...,9", {"integer": True}, "neither arithmetic nor geometric"),
        ("1,...,5", {"integer": True}, "two or more"),
        ("...,5", {"integer": True}, "two or more"),
        ("1,2,...", {"integer": True}, "a value after it"),
        ("1,,2", {"integer": True}, "empty item"),
        ("a", {}, "'a' is not a number"),
        ("1.5", {"integer": True}, "not an integer"),
        ("9-0", {"integer": True}, "range 9-0 is empty"),
        ("0-1000000", {"integer": True}, "MAX_LIST_VALUES"),
        ("1,2,...,100000", {"integer": True}, "MAX_LIST_VALUES"),
        ("1,1.0001,1.00020001,...,1e9", {}, "MAX_LIST_VALUES"),
        ("4,1,4", {}, "4.0 appears more than once"),
        ("1,-2,4,...,16", {"integer": True}, "does not reach"),
        ("inf", {}, "not a number"),
        ("0,inf,...,5", {"allow_inf": True}, "finite"),
        ("2,1,...,5", {"integer": True}, "do not reach 5"),
    ],
)
def test_parse_list_refuses_what_it_cannot_expand_exactly(text, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cli.parse_list(text, **kwargs)


# -- baseline ---------------------------------------------------------------------------------
def test_baseline_prints_a_summary_and_writes_csvs_and_figures(tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["baseline", "--scenario", "bursty", "--policy", "timeout", "--max-batch", "16"]
    argv += ["--max-wait-us", "50", "--events", EVENTS, "--seed", "1", "--out", out]
    status, stdout, stderr = run(argv, capsys)
    assert status == 0, stderr
    row = sweep.run_one(sweep.Config("bursty", "timeout", 16, 50.0, events=2000), 1)
    assert f"{row['p99_us']:.1f} µs" in stdout and f"{row['p99.9_us']:.1f} µs" in stdout
    assert "stable" in stdout and f"{row['throughput_per_s']:,.0f} events/s" in stdout
    with open(out / "summary.csv", newline="") as f:
        (written,) = list(csv.DictReader(f))
    assert list(written) == list(sweep.COLUMNS)
    for key, value in row.items():
        assert written[key] == ("" if value is None else str(value)), key
    batches = pd.read_csv(out / "batches.csv")
    assert list(batches.columns) == ["batch", "start_us", "size", "service_us", "backlog"]
    assert batches["size"].sum() == 2000 and len(batches) == row["batches"]
    for name in ("latency_cdf.png", "percentile_bars.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- sweep ------------------------------------------------------------------------------------
def test_sweep_writes_one_row_per_run_the_same_whatever_jobs(tmp_path, capsys):
    status, stdout, stderr = run([*SMALL, "--jobs", "1", "--out", tmp_path / "a"], capsys)
    assert status == 0, stderr
    status, _, stderr = run([*SMALL, "--jobs", "2", "--out", tmp_path / "b"], capsys)
    assert status == 0, stderr
    one = (tmp_path / "a" / "sweep.csv").read_bytes()
    assert one == (tmp_path / "b" / "sweep.csv").read_bytes()
    configs = sweep.grid(max_batch=[2, 16], max_wait_us=[0, 50], events=2000)
    expected = sweep.sweep(configs, [0, 1])
    got = pd.read_csv(tmp_path / "a" / "sweep.csv")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    summary = pd.read_csv(tmp_path / "a" / "sweep_summary.csv")
    assert len(summary) == 4 and set(summary["seeds"]) == {2}
    for name in ("p99_heatmap.png", "frontier.png"):
        assert (tmp_path / "a" / name).read_bytes()[:4] == b"\x89PNG"
    assert "8 runs (4 configs × 2 seeds)" in stdout


def test_sweep_shows_progress_on_stderr(tmp_path, capsys):
    argv = [a for a in SMALL if a != "--no-progress"]
    status, _, stderr = run([*argv, "--out", tmp_path], capsys)
    assert status == 0
    assert any("8/8" in line for line in stderr)


def test_an_existing_sweep_is_not_overwritten_unless_asked(tmp_path, capsys):
    assert run([*SMALL, "--out", tmp_path], capsys)[0] == 0
    status, _, stderr = run([*SMALL, "--out", tmp_path], capsys)
    assert status == 2 and len(stderr) == 1
    assert "--resume" in stderr[0] and "--overwrite" in stderr[0]
    assert run([*SMALL, "--out", tmp_path, "--overwrite"], capsys)[0] == 0


def test_resume_runs_only_the_missing_rows_and_mends_a_cut_line(tmp_path, capsys, monkeypatch):
    full = tmp_path / "full"
    assert run([*SMALL, "--out", full], capsys)[0] == 0
    lines = (full / "sweep.csv").read_text().splitlines(keepends=True)
    part = tmp_path / "part"
    part.mkdir()
    # a header, rows 0 and 2 (out of order, as a parallel run writes them), half of row 3
    (part / "sweep.csv").write_text(lines[0] + lines[3] + lines[1] + lines[4][:40])
    calls = []
    real = sweep.run_one
    monkeypatch.setattr(sweep, "run_one", lambda c, s: calls.append((c.key, s)) or real(c, s))
    status, _, stderr = run([*SMALL, "--out", part, "--resume"], capsys)
    assert status == 0, stderr
    assert len(calls) == 6  # 8 runs, 2 of them finished
    assert (part / "sweep.csv").read_bytes() == (full / "sweep.csv").read_bytes()
    assert any("resuming: 2 of 8 runs" in line for line in stderr)


def test_resume_refuses_a_file_that_is_not_a_sweep(tmp_path, capsys):
    (tmp_path / "sweep.csv").write_text("a,b\n1,2\n")
    status, _, stderr = run([*SMALL, "--out", tmp_path, "--resume"], capsys)
    assert status == 2 and len(stderr) == 1 and "--resume" in stderr[0]


def _default_sigint():
    """In the child: Python's own Ctrl-C handling, even if these tests were started with
    SIGINT ignored (as a shell's background jobs are), which the child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_the_rows_written_so_far(tmp_path):
    """A real SIGINT to a running sweep: exit status 130, whole rows kept, a hint to resume."""
    out = tmp_path / "interrupted"
    argv = ["sweep", "--policy", "aimd", "--max-batch", "1-200", "--seeds", "0-4"]
    argv += ["--events", "20000", "--no-progress", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "latency_lab.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
    )
    path = out / "sweep.csv"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if path.exists() and path.read_text().count("\n") >= 3:  # header and two rows
                break
            time.sleep(0.02)
        assert child.poll() is None, "the sweep ended before it could be interrupted"
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == cli.INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert "--resume" in stderr.strip().splitlines()[-1]
    text = path.read_text()
    assert text.endswith("\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert 2 <= len(rows) < 1000
    first = sweep.run_one(sweep.Config(policy="aimd", max_batch=1, events=20000), 0)
    assert rows[0]["p99_us"] == repr(first["p99_us"])


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, flag",
    [
        (["baseline", "--max-batch", "0"], "--max-batch"),
        (["baseline", "--max-batch", "x"], "--max-batch"),
        (["baseline", "--max-batch", "1,2"], "--max-batch"),
        (["baseline", "--policy", "fifo"], "--policy"),
        (["baseline", "--scenario", "windy"], "--scenario"),
        (["baseline", "--bogus"], "--bogus"),
        (["baseline", "--events", "0"], "--events"),
        (["baseline", "--events", "1e10"], "--events"),
        (["baseline", "--seed", "-1"], "--seed"),
        (["baseline", "--policy", "greedy", "--max-wait-us", "5"], "--max-wait-us"),
        (["baseline", "--policy", "timeout", "--slo-us", "50"], "--slo-us"),
        (["baseline", "--policy", "queue_depth", "--max-batch", "4", "--target", "9"], "--target"),
        (["baseline", "--policy", "aimd", "--interval-us", "1"], "--interval-us"),
        (["baseline", "--setup-us", "0", "--per-item-us", "0"], "--setup-us"),
        (["baseline", "--service-cv", "-1"], "--service-cv"),
        (["baseline", "--max-wait-us", "nan"], "--max-wait-us"),
        (["baseline", "--out", "/proc/latency-lab"], "--out"),
        (["sweep", "--max-batch", "1,2,4,...,100"], "--max-batch"),
        (["sweep", "--seeds", "5-1"], "--seeds"),
        (["sweep", "--seeds", "0-1000000"], "--seeds"),
        (["sweep", "--seeds", "0-999"] + ["--max-batch", "1-200"], "--seeds"),
        (["sweep", "--max-batch", "1-200", "--max-wait-us", "0,1,...,100"], "--max-wait-us"),
        (["sweep", "--events", "5000000", "--seeds", "0-500"], "--events"),
        (["sweep", "--jobs", "0"], "--jobs"),
        (["sweep", "--jobs", "65"], "--jobs"),
        (["sweep", "--backend", "dask"], "--scheduler"),
        (["sweep", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler"),
        (["sweep", "--backend", "spark"], "--backend"),
        (["sweep", "--policy", "greedy,timeout", "--slo-us", "50"], "--slo-us"),
        (["sweep", "--resume", "--overwrite"], "--overwrite"),
        (["sweep", "--max-b", "4"], "--max-b"),  # no abbreviations
        (["fly"], "fly"),
        ([], "COMMAND"),
    ],
)
def test_a_bad_flag_or_value_exits_2_with_one_line_naming_it(argv, flag, capsys, tmp_path):
    if "--out" not in argv:
        argv = (
            [*argv, "--out", str(tmp_path)] if argv and argv[0] in ("baseline", "sweep") else argv
        )
    status, stdout, stderr = run(argv, capsys)
    assert status == 2
    assert len(stderr) == 1, stderr
    assert flag in stderr[0] and "Traceback" not in stderr[0]
    assert stderr[0].startswith("latency-lab")
    assert not any(tmp_path.iterdir())  # refused before any output


@pytest.mark.parametrize("argv", [["--help"], ["baseline", "--help"], ["sweep", "--help"]])
def test_help_everywhere(argv, capsys):
    status, stdout, stderr = run(argv, capsys)
    assert status == 0 and stdout.startswith("usage: latency-lab")
    assert "--max-batch" in stdout or argv == ["--help"]
    if argv[0] == "sweep":
        assert "1,2,4,...,256" in stdout and "--resume" in stdout


def test_an_unexpected_error_is_one_line_with_status_1_and_a_traceback_on_request(
    tmp_path, capsys, monkeypatch
):
    def broken(config, seed):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(sweep, "simulate", broken)
    argv = ["baseline", "--events", EVENTS, "--out", tmp_path]
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    status, _, stderr = run(argv, capsys)
    assert status == 1 and len(stderr) == 1
    assert "RuntimeError: the disk caught fire" in stderr[0] and cli.DEBUG_ENV in stderr[0]
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    status, _, stderr = run(argv, capsys)
    assert status == 1 and stderr[0].startswith("Traceback")


def test_a_validation_error_from_the_engine_is_one_line_with_status_2(
    tmp_path, capsys, monkeypatch
):
    def refused(config, seed):
        raise ValueError("max_wait_us must be in [0, inf], got -1")

    monkeypatch.setattr(sweep, "simulate", refused)
    status, _, stderr = run(["baseline", "--events", EVENTS, "--out", tmp_path], capsys)
    assert status == 2 and stderr == [
        "latency-lab baseline: error: --max-wait-us must be in [0, inf], got -1"
    ]


def test_the_console_script_is_declared():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'latency-lab = "latency_lab.cli:main"' in text


def test_commands_are_a_table_that_a_new_command_can_join(capsys):
    def add(parser):
        parser.add_argument("--episodes", type=int, default=1)

    extra = cli.Command("demo", "a demo command", add, lambda args: args.episodes + 40)
    parser = cli.build_parser((*cli.COMMANDS, extra))
    args = parser.parse_args(["demo", "--episodes", "2"])
    assert args.run(args) == 42
