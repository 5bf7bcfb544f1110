"""What LatencyTracker costs on top of two bare clock reads (lesson 02), as ratios.

Run: python benchmarks/bench_tracker.py [--calls N] [--rounds R]. The forms are timed in
interleaved rounds by latency_lab.timing.compare (bulk blocks of N calls); each ratio is
given with its range over the rounds. The bias table is latency_lab.tracker's
measurement_overhead, the function lesson 02 displays.
"""

import argparse
import time

from latency_lab import LatencyTracker, timing
from latency_lab.tracker import measurement_overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    calls, rounds = args.calls, args.rounds

    clock = time.perf_counter_ns
    # room for every call the harness makes (warm-up, probe, re-warm, rounds): a full
    # tracker takes a cheaper path and would flatter its cost
    capacity = calls * rounds + 2 * rounds + 10
    ctx, dec = LatencyTracker(capacity=capacity), LatencyTracker(capacity=capacity)

    def noop():
        pass

    def bare():
        t0 = clock()
        return clock() - t0

    def with_block():
        with ctx.measure():
            pass

    forms = {
        "no-op call": noop,
        "two bare reads": bare,
        "with measure()": with_block,
        "@measure()": dec.measure()(noop),
    }
    frame = timing.compare(forms, rounds=rounds, calls=calls)
    per_round = timing.per_round(frame)
    cost = per_round.drop(columns="no-op call").sub(per_round["no-op call"], axis=0)
    print(f"hot-path cost per measurement, ns (median over {frame.attrs['rounds']} rounds):")
    print(cost.median().round(1).to_string())

    def line(label, ratio):
        print(
            f"{label:44s} {ratio.median():5.2f}x  "
            f"({ratio.min():.2f}–{ratio.max():.2f}x over {ratio.size} rounds)"
        )

    print("\nratios of hot-path cost, per round:")
    for name in ("with measure()", "@measure()"):
        line(f"{name} / two bare reads", cost[name] / cost["two bare reads"])
    line("context manager / decorator", cost["with measure()"] / cost["@measure()"])

    print("\nwhat each form records for an empty block (lesson 02's table):")
    print(measurement_overhead(calls=calls).round(1).to_string())


if __name__ == "__main__":
    main()
