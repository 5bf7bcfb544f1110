"""Lesson 04's timing claims as ratios, measured side by side in one run.

Run: python benchmarks/bench_structures.py [--ops N]. Every figure comes from the same
latency_lab.handoff / latency_lab.allocation functions the notebook uses.
"""

import argparse

from latency_lab import allocation, handoff, stats


def p50(samples) -> float:
    return stats.percentiles(samples, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    ops = parser.parse_args().ops

    single = handoff.single_thread_ops(ops)
    for op in ("put", "get"):
        base = p50(single["deque"][op])
        print(
            f"one thread, {op} p50: queue.Queue / deque {p50(single['queue.Queue'][op]) / base:5.1f}x,"
            f"  RingBuffer / deque {p50(single['RingBuffer'][op]) / base:5.2f}x"
        )

    flat_out = handoff.cross_thread_table(items=ops)
    rate = flat_out["items/s"]
    print(
        f"two threads flat out, items/s: RingBuffer yield / spin {rate['RingBuffer, yield when idle'] / rate['RingBuffer, spin when idle']:6.1f}x,"
        f"  deque / RingBuffer (both yield) {rate['deque, yield when idle'] / rate['RingBuffer, yield when idle']:5.2f}x"
    )
    paced = handoff.cross_thread_table(items=ops // 10, rate=20_000)["p50"]
    for kind in handoff.KINDS:
        print(
            f"two threads at 20k items/s, p50 {kind:12s}: spin / yield {paced[f'{kind}, spin when idle'] / paced[f'{kind}, yield when idle']:6.1f}x"
        )
    print(
        f"two threads at 20k items/s, p50 with yield: RingBuffer / deque {paced['RingBuffer, yield when idle'] / paced['deque, yield when idle']:5.2f}x"
    )

    cases = [allocation.object_cases()] + [
        allocation.buffer_cases(b) for b in (1 << 10, 1 << 20, 64 << 20)
    ]
    calls = [20_000, 20_000, 2_000, 50]
    for case, n in zip(cases, calls, strict=True):
        table = allocation.per_op(case, n, warmup=5)
        fresh, pooled = table.index
        print(
            f"{fresh.rsplit(',', 1)[0]:14s} pooled / fresh, p50: {table.loc[pooled, 'p50'] / table.loc[fresh, 'p50']:5.2f}x"
        )
    cycles = allocation.per_op(allocation.cycle_cases(), 200_000)
    fresh, pooled = cycles.index
    print(
        f"order-fill cycles, fresh / pooled: p50 {cycles.loc[fresh, 'p50'] / cycles.loc[pooled, 'p50']:5.2f}x,"
        f" p99.9 {cycles.loc[fresh, 'p99.9'] / cycles.loc[pooled, 'p99.9']:5.1f}x;"
        f" gen0 GCs {cycles.loc[fresh, 'gen0 GCs']:.0f} vs {cycles.loc[pooled, 'gen0 GCs']:.0f}"
    )


if __name__ == "__main__":
    main()
