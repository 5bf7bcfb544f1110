"""env.step cost (lesson 08): median of BatchingEnv.step (observation and reward included)
beside one engine decision (Simulator.step over the same interval, with its latencies read),
printed as ns and as a ratio. Target: env.step median <= 20 µs."""

from __future__ import annotations

import time

import numpy as np

from latency_lab import units
from latency_lab.env import BatchingEnv


def main(seeds: int = 5) -> None:
    env = BatchingEnv()
    env_ns, engine_ns = [], []
    for seed in range(seeds):
        for which in ("engine", "env"):
            obs, _ = env.reset(seed=1_000 + seed)
            sim = env.simulator
            actions = np.random.default_rng(seed).integers(2, env.action_space.n, size=5_000)
            i = 0
            while True:
                action = int(actions[i % actions.size])
                i += 1
                if which == "env":
                    t = time.perf_counter_ns()
                    _, _, term, trunc, _ = env.step(action)
                    env_ns.append(time.perf_counter_ns() - t)
                    if term or trunc:
                        break
                else:
                    cap, wait = env.decision(action)
                    t = time.perf_counter_ns()
                    report = sim.step(cap, wait, interval_us=env.interval_us)
                    sim.latencies(report.first_batch)
                    engine_ns.append(time.perf_counter_ns() - t)
                    if report.done:
                        break
    env_med, engine_med = float(np.median(env_ns)), float(np.median(engine_ns))
    print(
        f"env.step:         median {units.ns_to_us(env_med):6.2f} µs, "
        f"p99 {units.ns_to_us(np.percentile(env_ns, 99)):6.2f} µs over {len(env_ns):,} steps"
    )
    print(
        f"engine decision:  median {units.ns_to_us(engine_med):6.2f} µs "
        f"(Simulator.step + latencies)"
    )
    print(
        f"ratio env/engine: {env_med / engine_med:.2f}×;  target env.step <= 20 µs: "
        f"{'met' if units.ns_to_us(env_med) <= 20 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
