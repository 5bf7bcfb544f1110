"""Hostile input: every public function works or refuses cleanly — no crash, hang or blow-up.

The calls run in child processes (``tests/hostile_cases.py``, one per latency_lab module)
with a 2 GiB address-space limit and a time limit per call, so a segfault, an endless loop
or a runaway allocation fails a test here instead of killing or stalling pytest. A crashed
or stuck child is killed, the call it was running is blamed, and a fresh child goes on
with the calls after it.

Two kinds of cases (see ``tests/hostile_cases.py``): named hostile calls, each with its
stated expectation, and a generic sweep of every public function, class and method with
hostile numeric values (huge, negative, zero, infinite, NaN, tiny, a string, a bool), one
parameter at a time. A sweep call must return or raise ``ValueError``/``TypeError``
(:func:`test_hostile_calls_are_handled`), and a refusal must name the parameter
(:func:`test_refusals_name_the_parameter`).
"""

from __future__ import annotations

import functools
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hostile_cases  # noqa: E402

SCRIPT = Path(hostile_cases.__file__)
CASE_TIMEOUT_S = 20.0  # one hostile call (a bounded refusal takes milliseconds)
START_TIMEOUT_S = 120.0  # a child's imports and the building of its cases
PARALLEL_CHILDREN = 2
GROUPS = [name.removeprefix("latency_lab.") for name in hostile_cases.public_modules()]


def _run_child(group: str, start: int, case_timeout_s: float, stderr) -> tuple[list, str | None]:
    """Run one child from case ``start``: its events, and why it stopped early (or None)."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), group, str(start)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    events, buffer = [], b""
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                limit = case_timeout_s if events else START_TIMEOUT_S
                return events, f"did not finish within {limit:g} s (killed)"
            if not selector.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                events.append(json.loads(line))
                deadline = time.monotonic() + case_timeout_s
    code = proc.wait()
    proc.stdout.close()
    if events and events[-1]["event"] in ("end", "error", "done"):
        return events, None
    if code < 0:
        return events, f"crashed the process ({signal.Signals(-code).name})"
    return events, f"ended the process (exit status {code})"


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=PARALLEL_CHILDREN)


_STARTED: dict[str, Future] = {}  # group -> its run, shared by the two tests of a group


def run_group(group: str) -> tuple[dict, ...]:
    """Every case of ``group`` as ``{"name", "verdict", "detail"}``, in order; the next
    group starts at the same time, so two children run at once."""
    at = GROUPS.index(group)
    for name in GROUPS[at : at + PARALLEL_CHILDREN]:
        if name not in _STARTED:
            _STARTED[name] = _pool().submit(_run_group, name, CASE_TIMEOUT_S)
    return _STARTED[group].result()


def _run_group(group: str, case_timeout_s: float) -> tuple[dict, ...]:
    results: list[dict] = []
    start = 0
    with tempfile.TemporaryFile() as stderr:
        while True:
            stderr.seek(0)
            stderr.truncate()
            events, stopped = _run_child(group, start, case_timeout_s, stderr)
            done = {e["index"]: e for e in events if e["event"] == "done"}
            results += [done[i] for i in sorted(done)]
            if events and events[-1]["event"] == "end":
                return tuple(results)
            if events and events[-1]["event"] == "error":
                results.append({"name": group, "verdict": "fail", "detail": events[-1]["detail"]})
                return tuple(results)
            started = [e for e in events if e["event"] == "start" and e["index"] not in done]
            if not started:
                if done:  # the child left after a case that left threads running
                    start = max(done) + 1
                    continue
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-2_000:]
                detail = f"the child {stopped or 'stopped'} before any case; stderr: {tail}"
                results.append({"name": group, "verdict": "fail", "detail": detail})
                return tuple(results)
            culprit = started[-1]
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace").strip()[-1_500:]
            detail = f"it {stopped}" + (f"; stderr ends with: {tail}" if tail else "")
            results.append({"name": culprit["name"], "verdict": "fail", "detail": detail})
            start = culprit["index"] + 1


def _format(results) -> str:
    return "\n".join(f"- {r['name']}: {r['detail']}" for r in results)


def test_the_harness_catches_crashes_hangs_blowups_and_stray_threads():
    verdicts = {r["name"]: r for r in _run_group("selftest", case_timeout_s=3.0)}
    expected = {
        "selftest: returns": "pass",
        "selftest: segfault": "fail",
        "selftest: after a crash": "pass",
        "selftest: hang": "fail",
        "selftest: memory": "fail",
        "selftest: unnamed": "unnamed",
        "selftest: stray thread": "fail",
        "selftest: last": "pass",
    }
    assert {name: r["verdict"] for name, r in verdicts.items()} == expected
    assert "SIGSEGV" in verdicts["selftest: segfault"]["detail"]
    assert "within 3 s" in verdicts["selftest: hang"]["detail"]
    assert "MemoryError" in verdicts["selftest: memory"]["detail"]
    assert "thread" in verdicts["selftest: stray thread"]["detail"]


def test_every_issue_7_case_is_covered():
    named = hostile_cases.named_cases()
    names = " ".join(case.name for cases in named.values() for case in cases)
    for needle in [
        "simulate(np.arange(1000.0)",
        "chase(",
        "vwap_loop(",
        "sum_by_rows(",
        "traversal_table(",
        "MMPP(5e8",
        "MMPP(10, 10",
        "MMPP(0, 1e-3",
        "RegimeShift(",
        "Poisson(inf)",
        "Poisson(1e-300)",
        "window_counts([0.0, 4e8]",
        "read_csv(0)",
        "read_csv(two",
        "erlang_c",
        "percentiles(samples, '50')",
        'Simulator.run(until_us="5")',
        "2-D arrivals",
        "clock=time.perf_counter",
        "record(1.9)",
        "TickBuffer.append(price=nan)",
        "TickBuffer.extend(negative sizes)",
        "ObjectPool(tuple)",
        "ObjectPool(list, 10**9)",
        "push_many(itertools.count())",
        "reads=10**12",
        "loops forever",
    ]:
        assert needle in names, needle


@pytest.mark.parametrize("group", GROUPS)
def test_hostile_calls_are_handled(group):
    """Named cases meet their expectation; sweep calls return or raise ValueError/TypeError."""
    failures = [r for r in run_group(group) if r["verdict"] == "fail"]
    assert not failures, f"{len(failures)} hostile call(s) mishandled:\n{_format(failures)}"


@pytest.mark.parametrize("group", GROUPS)
def test_refusals_name_the_parameter(group):
    """A sweep call refused with ValueError/TypeError says which parameter was wrong."""
    unnamed = [r for r in run_group(group) if r["verdict"] == "unnamed"]
    assert not unnamed, f"{len(unnamed)} refusal(s) without the parameter:\n{_format(unnamed)}"
