"""Lesson 03's timing claims as ratios, measured side by side in one run.

Run: python benchmarks/bench_memory.py [--n 4096] [--ticks 1000000] [--rounds 7]. Every
figure comes from the same latency_lab.memory / latency_lab.allocation functions the
notebook uses, timed in interleaved rounds by latency_lab.timing.compare; a ratio with a
range is the median and the range of the per-round ratios.
"""

import argparse

from latency_lab import allocation, memory, timing


def line(label: str, ratio: float, low: float | None = None, high: float | None = None) -> None:
    spread = "" if low is None else f"  ({low:.2f}–{high:.2f}x over the rounds)"
    print(f"{label:52s} {ratio:8.2f}x{spread}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matrix side for traversal")
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    steps = 2_000_000
    small, large = memory.random_cycle((16 << 10) // 8), memory.random_cycle((256 << 20) // 8)
    loads = timing.compare(
        {
            "16 KiB": lambda: memory.chase(small, steps),
            "256 MiB": lambda: memory.chase(large, steps),
        },
        rounds=args.rounds,
    )
    ratio = timing.ratios(loads, "256 MiB", "16 KiB")
    ns = timing.summarize(loads)["median_ns"] / steps
    line("dependent load, 256 MiB working set / 16 KiB", ratio.median(), ratio.min(), ratio.max())
    print(f"{'':52s} ({ns['256 MiB']:.1f} vs {ns['16 KiB']:.1f} ns per load)")

    traversal = memory.traversal_table(args.n, 256, rounds=args.rounds)
    for method in ("compiled", "interpreted"):
        row = traversal.loc[method]
        line(
            f"sum by columns / by rows, {method}",
            row["ratio"],
            row["ratio_low"],
            row["ratio_high"],
        )
    copies = memory.strided_copy_table(args.n, rounds=args.rounds).iloc[1]
    line(
        "copy through transposed strides / memory order",
        copies["vs_memory_order"],
        copies["ratio_low"],
        copies["ratio_high"],
    )

    layouts = memory.layout_table(args.ticks, rounds=args.rounds)["ns_per_tick"]
    aos, soa, tuples = "array of structs", "struct of arrays", "list of tuples"
    vectorized, compiled, interpreted = "numpy vectorized", "compiled loop", "interpreted loop"
    print("VWAP (medians over the same interleaved rounds):")
    line(
        "  numpy, array of structs / struct of arrays",
        layouts[aos, vectorized] / layouts[soa, vectorized],
    )
    line("  compiled loop, AoS / SoA", layouts[aos, compiled] / layouts[soa, compiled])
    line("  compiled loop / numpy, SoA", layouts[soa, compiled] / layouts[soa, vectorized])
    line(
        "  Python loop over tuples / numpy SoA",
        layouts[tuples, interpreted] / layouts[soa, vectorized],
    )
    line(
        "  Python loop over numpy arrays / over tuples",
        layouts[soa, interpreted] / layouts[tuples, interpreted],
    )

    pre = allocation.per_op(allocation.preallocation_cases(), 50_000)["p50_ns"]
    line("mid prices, new arrays / preallocated (p50)", pre.iloc[0] / pre.iloc[1])
    rolling = allocation.per_op(allocation.rolling_vwap_cases(), 5_000)["p50_ns"]
    line("rolling VWAP, list -> arrays / TickBuffer (p50)", rolling.iloc[0] / rolling.iloc[1])


if __name__ == "__main__":
    main()
