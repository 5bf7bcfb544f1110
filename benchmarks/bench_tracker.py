"""What LatencyTracker costs on top of two bare clock reads (lesson 02), as ratios.

Run: python benchmarks/bench_tracker.py [--calls N] [--rounds R]. Everything comes from
latency_lab.tracker.measurement_overhead, which times the forms in interleaved rounds with
latency_lab.timing.compare (bulk blocks of N calls); each ratio is given with its range
over the rounds.
"""

import argparse

from latency_lab.tracker import measurement_overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    calls, rounds = args.calls, args.rounds

    table = measurement_overhead(calls=calls, repeats=rounds)
    cost = table.attrs["cost_per_round_ns"]
    print(f"hot-path cost per measurement, ns (median over {len(cost)} rounds):")
    print(table["cost_ns"].round(1).to_string())

    def line(label, ratio):
        print(
            f"{label:44s} {ratio.median():5.2f}x  "
            f"({ratio.min():.2f}–{ratio.max():.2f}x over {ratio.size} rounds)"
        )

    print("\nratios of hot-path cost, per round:")
    for name in ("with measure()", "@measure()"):
        line(f"{name} / two bare reads", cost[name] / cost["two bare reads"])
    line("context manager / decorator", cost["with measure()"] / cost["@measure()"])

    print("\nwhat each form records for an empty block (bias), ns:")
    print(table["bias_ns"].round(1).to_string())


if __name__ == "__main__":
    main()
