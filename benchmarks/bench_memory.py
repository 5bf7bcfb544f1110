"""Lesson 03's timing comparisons as verdicts, measured side by side in one run.

Run: python benchmarks/bench_memory.py [--n 4096] [--ticks 1000000] [--rounds 7]. Every
comparison uses the same latency_lab.memory / latency_lab.allocation candidates as the
notebook, timed in interleaved rounds by latency_lab.timing.compare, and prints
latency_lab.timing.verdict's line: which is faster, by how much (median and range of the
per-round ratios), or "no clear difference" when the two ranges overlap.
"""

import argparse

from latency_lab import allocation, memory, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matrix side for traversal")
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rounds = args.rounds

    def show(question: str, frame, a: str, b: str, percentile: float | None = None) -> None:
        print(f"{question}\n    {timing.verdict(frame, a, b, percentile)}")

    steps = 2_000_000
    loads = timing.compare(memory.chase_cases([16 << 10, 256 << 20], steps), rounds=rounds)
    per_load = timing.summarize(loads)["median_ns"] / steps
    show("dependent load, 256 MiB vs 16 KiB working set", loads, "256 MiB", "16 KiB")
    print(f"    ({per_load['256 MiB']:.1f} vs {per_load['16 KiB']:.1f} ns per load, medians)")

    traversal = timing.compare(memory.traversal_cases(args.n, 256), rounds=rounds)
    for method in memory.TRAVERSAL_METHODS:
        columns, rows = f"{method}, by columns", f"{method}, by rows"
        show(f"sum by columns vs by rows, {method}", traversal, columns, rows)
    compiled = timing.verdict(traversal, "compiled, by columns", "compiled, by rows")
    print(f"    compiled: columns slower in every round: {compiled.clear and compiled.low > 1}")

    copies = timing.compare(memory.strided_copy_cases(args.n), rounds=rounds)
    show(
        "copy through transposed strides vs memory order",
        copies,
        memory.STRIDED_COPY,
        memory.MEMORY_ORDER_COPY,
    )

    layouts = timing.compare(memory.layout_cases(args.ticks), rounds=rounds)
    name = memory.layout_name
    aos, soa, tuples = "array of structs", "struct of arrays", "list of tuples"
    vectorized, compiled_loop, interpreted = "numpy vectorized", "compiled loop", "interpreted loop"
    for question, a, b in [
        ("VWAP, numpy: AoS vs SoA", name(aos, vectorized), name(soa, vectorized)),
        ("VWAP, compiled loop: AoS vs SoA", name(aos, compiled_loop), name(soa, compiled_loop)),
        ("VWAP, SoA: compiled loop vs numpy", name(soa, compiled_loop), name(soa, vectorized)),
        (
            "VWAP: Python loop over tuples vs numpy SoA",
            name(tuples, interpreted),
            name(soa, vectorized),
        ),
        (
            "VWAP: Python loop over numpy arrays vs over tuples",
            name(soa, interpreted),
            name(tuples, interpreted),
        ),
    ]:
        show(question, layouts, a, b)

    mids = allocation.per_op_frame(allocation.preallocation_cases(), 50_000, rounds=rounds)
    rolling = allocation.per_op_frame(allocation.rolling_vwap_cases(), 5_000, rounds=rounds)
    for p in (50, 99):
        show(f"mid prices, out= vs new arrays (p{p})", mids, "preallocated (out=)", "new arrays", p)
        show(
            f"rolling VWAP, list -> arrays vs TickBuffer (p{p})",
            rolling,
            "list -> new arrays",
            "TickBuffer (preallocated)",
            p,
        )


if __name__ == "__main__":
    main()
