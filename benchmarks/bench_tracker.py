"""What LatencyTracker costs on top of two bare clock reads (lesson 02), as ratios.

Run: python benchmarks/bench_tracker.py [--calls N]. All forms are timed side by side in
one run by latency_lab.tracker.measurement_overhead, the function lesson 02 displays.
"""

import argparse

from latency_lab.tracker import measurement_overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per repeat")
    table = measurement_overhead(calls=parser.parse_args().calls)
    print(table.round(1).to_string())
    ratios = table / table.loc["two bare reads"]
    print("\nratios to two bare perf_counter_ns reads:")
    print(ratios.drop(index="two bare reads").round(2).to_string())
    ctx, dec = table.loc["with measure()", "cost_ns"], table.loc["@measure()", "cost_ns"]
    print(f"\nhot-path cost, context manager / decorator: {ctx / dec:.2f}x")


if __name__ == "__main__":
    main()
