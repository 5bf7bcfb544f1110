"""Engine speed: the compiled kernel vs its own .py_func vs a SimPy model, as ratios.

Run: python benchmarks/bench_engine.py [--events N]. Everything is measured side by side
in one run, and every implementation's results are checked equal to the compiled engine's
before anything is timed. Also reports an adaptive-policy run, the cost of one resume, the
controller protocol's cost per decision as a ratio to one kernel call, windowed reads
between steps against full-result reads, and the first-call cost with a warm numba cache
(in a fresh interpreter).

Targets (lesson 06): >= 100M events/s for a static policy with deterministic service,
>= 1000x SimPy, first call with a warm cache under 1 s.
"""

import argparse
import math
import statistics
import subprocess
import sys
import time

import numpy as np
import simpy

from latency_lab import engine, policies, traffic, units
from latency_lab.engine import ServiceModel, Simulator, simulate

SERVICE = ServiceModel(setup_us=20.0, per_item_us=2.0)
MEGA = 1_000_000  # events/s -> M events/s
MAX_BATCH, MAX_WAIT_US = 16, 50.0


def simpy_simulate(arrivals, service, max_batch, max_wait_us):
    """The engine's semantics as a SimPy model: one arrival process, one server process."""
    env = simpy.Environment()
    n = arrivals.size
    arrivals = arrivals.tolist()  # Python floats: numpy scalars would slow SimPy down unfairly
    state = {"arrived": 0, "wakeup": env.event()}
    start, departure = np.empty(n), np.empty(n)

    def source():
        for i in range(n):
            yield env.timeout(arrivals[i] - env.now)
            state["arrived"] = i + 1
            if not state["wakeup"].triggered:
                state["wakeup"].succeed()

    def server():
        head = 0
        while head < n:
            while state["arrived"] == head:  # idle until someone arrives
                state["wakeup"] = env.event()
                yield state["wakeup"]
            deadline = arrivals[head] + max_wait_us
            while state["arrived"] - head < max_batch and env.now < deadline:
                if state["arrived"] == n and math.isinf(deadline):
                    break  # input exhausted: serve the final partial batch now
                state["wakeup"] = env.event()
                if math.isinf(deadline):
                    yield state["wakeup"]
                else:
                    yield env.any_of([state["wakeup"], env.timeout(deadline - env.now)])
            k = min(state["arrived"] - head, max_batch)
            s = env.now
            yield env.timeout(service.setup_us + service.per_item_us * k)
            start[head : head + k], departure[head : head + k] = s, env.now
            head += k

    env.process(source())
    env.process(server())
    env.run()
    return start, departure


def timed(func, repeats):
    """Median wall time of ``repeats`` calls, and the last result."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def first_call_seconds() -> tuple[float, float]:
    """Import time and first simulate() call in a fresh interpreter, numba cache warm."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy as np;"
        "from latency_lab.engine import ServiceModel, simulate; t1 = time.perf_counter();"
        "simulate(np.arange(100.0), ServiceModel(1, 1), 4, 2.0);"
        "print(t1 - t0, time.perf_counter() - t1)"
    )
    for _ in range(2):  # the first run may compile and fill the cache
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    import_s, first_s = map(float, out.stdout.split())
    return import_s, first_s


def one_kernel_call_seconds(arrivals, calls: int) -> float:
    """Median time of one bare ``run_kernel`` call serving one batch (no Python around it)."""
    n = arrivals.size
    records = [np.empty(n), np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64)]
    istate = np.zeros(4, np.int64)
    fstate = np.array([-np.inf, -np.inf, arrivals[0], 0.0, np.nan, np.nan, np.nan])
    empty, kernel = np.empty(0), engine.run_kernel
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            kernel(arrivals, empty, 20.0, 2.0, 16, 50.0, istate, fstate, *records, math.inf, 1)
        rounds.append((time.perf_counter() - t0) / calls)
    return statistics.median(rounds)


def decision_overhead(arrivals, aimd_per_decision_s: float) -> None:
    """The controller protocol's cost per decision, as a ratio to one kernel call."""
    calls = 20_000
    kernel_s = one_kernel_call_seconds(arrivals, calls)
    sim = Simulator(arrivals, SERVICE)
    rounds = []
    for _ in range(5):  # external stepping: validate, one batch, build the report
        t0 = time.perf_counter()
        for _ in range(calls):
            sim.step(16, 50.0)
        rounds.append((time.perf_counter() - t0) / calls)
    step_s = statistics.median(rounds)
    us = units.US_PER_S
    print(f"\none kernel call (one batch, no Python around it): {kernel_s * us:.2f} µs")
    print(
        f"Simulator.step (decision checked, one batch, StepReport): {step_s * us:.2f} µs "
        f"= {step_s / kernel_s:.1f}x one kernel call"
    )
    print(
        f"drive(AIMD) through the Python loop, per decision incl. update(): "
        f"{aimd_per_decision_s * us:.2f} µs "
        f"= {aimd_per_decision_s / kernel_s:.1f}x one kernel call"
    )


def windowed_reads(arrivals, steps: int = 200) -> None:
    """Reading the latencies of the batches since the last step vs rebuilding all of them."""
    interval = (arrivals[-1] - arrivals[0]) / steps

    def loop(read):
        sim = Simulator(arrivals, SERVICE)
        t0 = time.perf_counter()
        total = 0
        while not sim.done:
            report = sim.step(MAX_BATCH, MAX_WAIT_US, interval_us=interval)
            total += read(sim, report)
        return time.perf_counter() - t0, total

    warm = Simulator(arrivals[:100], SERVICE)  # compile (or load) the helpers outside timing
    warm.latencies(warm.step(MAX_BATCH, MAX_WAIT_US, interval_us=interval).first_batch)
    none_s, _ = loop(lambda sim, report: 0)
    window_s, window_n = loop(lambda sim, r: sim.result(since_batch=r.first_batch).latency.size)
    compiled_s, compiled_n = loop(lambda sim, r: sim.latencies(r.first_batch).size)
    full_s, _ = loop(lambda sim, report: sim.result().latency.size)
    assert window_n == compiled_n == arrivals.size, "windows must cover every event once"
    print(
        f"\n{steps} steps over {arrivals.size:,} events, reading latencies after every step:"
        f"\n  no reads {none_s:.3f} s; result(since_batch=...).latency {window_s:.3f} s; "
        f"latencies(since_batch) {compiled_s:.3f} s; result().latency (all) {full_s:.3f} s"
    )
    print(
        f"full-result reads / windowed reads: {full_s / window_s:.0f}x "
        f"({full_s / compiled_s:.0f}x with latencies()); "
        f"windowed reads / no reads: {window_s / none_s:.1f}x"
    )
    sim, calls = Simulator(arrivals, SERVICE), 20_000
    t0 = time.perf_counter()
    for _ in range(calls):
        report = sim.step(MAX_BATCH, MAX_WAIT_US)
        sim.latencies(report.first_batch)
    per_step = (time.perf_counter() - t0) / calls
    print(f"one step + latencies() of its batch: {per_step * units.US_PER_S:.2f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    n = parser.parse_args().events
    arrivals = traffic.Poisson(100_000).arrivals(n, seed=0)  # offered load 0.33 at batch 16

    def compiled():
        return simulate(arrivals, SERVICE, MAX_BATCH, MAX_WAIT_US)

    def interpreted():
        original, engine.run_kernel = engine.run_kernel, engine.run_kernel.py_func
        try:
            return simulate(arrivals, SERVICE, MAX_BATCH, MAX_WAIT_US)
        finally:
            engine.run_kernel = original

    compiled()  # compile outside the timing
    t_fast, reference = timed(compiled, 7)
    t_py, py_result = timed(interpreted, 1)
    assert np.array_equal(py_result.departure, reference.departure), ".py_func differs"
    t_simpy, (s_start, s_departure) = timed(
        lambda: simpy_simulate(arrivals, SERVICE, MAX_BATCH, MAX_WAIT_US), 1
    )
    # SimPy computes times as now + (t - now), which can differ in the last bits.
    assert np.allclose(s_start, reference.start, rtol=0, atol=1e-6), "SimPy differs"
    assert np.allclose(s_departure, reference.departure, rtol=0, atol=1e-6), "SimPy differs"
    print(
        f"{n:,} Poisson events, static policy ({MAX_BATCH}, {MAX_WAIT_US} µs), deterministic service"
    )
    print("results equal: compiled = .py_func (exactly) = SimPy (to 1e-6 µs)\n")

    rate = {
        name: n / t for name, t in [("compiled", t_fast), (".py_func", t_py), ("SimPy", t_simpy)]
    }
    for name, r in rate.items():
        print(f"{name:10s} {r / MEGA:10.3f} M events/s")
    print(f"\ncompiled / .py_func: {t_py / t_fast:8.0f}x")
    print(
        f"compiled / SimPy:    {t_simpy / t_fast:8.0f}x   (target >= 1000x: {'met' if t_simpy / t_fast >= 1000 else 'NOT met'})"
    )
    print(
        f"compiled rate target >= 100M events/s: {'met' if rate['compiled'] >= 100 * MEGA else 'NOT met'}"
    )

    lognormal = ServiceModel(20.0, 2.0, "lognormal", cv=0.5)
    t_logn, _ = timed(lambda: simulate(arrivals, lognormal, MAX_BATCH, MAX_WAIT_US), 5)
    print(
        f"\nlognormal service (static):  {n / t_logn / MEGA:8.2f} M events/s ({t_logn / t_fast:.1f}x the deterministic run)"
    )
    aimd_policy = policies.AIMD(slo_us=60, cap=64)
    t_aimd, aimd = timed(lambda: simulate(arrivals, SERVICE, policy=aimd_policy), 3)
    python_policy = policies.AIMD(slo_us=60, cap=64)
    python_policy.compiled = False  # the engine's Python loop calls update() after every batch
    t_loop, looped = timed(lambda: simulate(arrivals, SERVICE, policy=python_policy), 1)
    assert np.array_equal(looped.batch_start, aimd.batch_start), "compiled rule differs"
    batches = aimd.batch_size.size
    per_batch = units.US_PER_S / batches
    print(
        f"adaptive (AIMD, one decision per batch, compiled rule): {n / t_aimd / MEGA:6.2f} M events/s, "
        f"{t_aimd * per_batch:.2f} µs per decision ({t_aimd / t_fast:.0f}x the static run)"
    )
    print(
        f"the same AIMD through the Python loop (update() per batch): {n / t_loop / MEGA:6.2f} M events/s, "
        f"{t_loop * per_batch:.2f} µs per decision ({t_loop / t_aimd:.0f}x the compiled rule; same batches)"
    )

    sim = Simulator(arrivals, SERVICE)
    steps = 20_000
    step_us = arrivals[-1] / steps
    t0 = time.perf_counter()
    for k in range(1, steps + 1):
        sim.run(MAX_BATCH, MAX_WAIT_US, until_us=k * step_us)
    sim.run(MAX_BATCH, MAX_WAIT_US)
    t_chunked = time.perf_counter() - t0
    assert np.array_equal(sim.result().departure, reference.departure), "resumed run differs"
    print(
        f"one resume (stop at a time, continue): {(t_chunked - t_fast) / steps * units.US_PER_S:.2f} µs ({steps:,} resumes, results identical)"
    )
    decision_overhead(arrivals, t_loop / batches)
    windowed_reads(arrivals)
    import_s, first = first_call_seconds()
    verdict = "met" if first < 1 else "NOT met"
    print(
        f"fresh interpreter, warm numba cache: import {import_s:.2f} s, first simulate() {first:.3f} s (target < 1 s: {verdict})"
    )


if __name__ == "__main__":
    main()
