"""Lesson 04's timing claims as ratios, measured side by side in one run.

Run: python benchmarks/bench_structures.py [--items 100000] [--rounds 7] [--thread-rounds 3].
Single-thread operations and pool cases are timed in interleaved rounds by
latency_lab.timing.compare (bulk blocks for put/get pairs, per-call samples for pools);
the two-thread handoffs are whole runs of latency_lab.handoff.cross_thread_table, repeated
``--thread-rounds`` times. A ratio with a range is the median and the range of the
per-round ratios.
"""

import argparse
import queue
from collections import deque

import numpy as np

from latency_lab import allocation, handoff, timing
from latency_lab.structures import RingBuffer, make_channel


def line(label: str, ratios) -> None:
    ratios = np.asarray(ratios, dtype=float)
    spread = f"  ({ratios.min():.2f}–{ratios.max():.2f}x over {ratios.size} rounds)"
    print(f"{label:62s} {np.median(ratios):8.2f}x{spread}")


def put_get_pairs(capacity: int = 1024) -> dict:
    """One put and one get of each structure, and of each kind of Channel, per call."""
    d, q, ring = deque(), queue.Queue(maxsize=capacity), RingBuffer(capacity)

    def deque_pair():
        d.append(1)
        d.popleft()

    def queue_pair():
        q.put_nowait(1)
        q.get_nowait()

    def ring_pair():
        ring.push(1)
        ring.pop()

    cases = {"deque": deque_pair, "queue.Queue": queue_pair, "RingBuffer": ring_pair}
    for kind in handoff.KINDS:
        channel = make_channel(kind, capacity)

        def channel_pair(send=channel.try_send, recv=channel.try_recv):
            send(1)
            recv()

        cases[f"Channel({kind})"] = channel_pair
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items per two-thread run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--thread-rounds", type=int, default=3)
    args = parser.parse_args()

    pairs = timing.compare(put_get_pairs(), rounds=args.rounds)
    ns = timing.summarize(pairs)["median_ns"]
    print(
        "one thread, a put and a get per call (ns): "
        + ", ".join(f"{k} {v:.0f}" for k, v in ns.items())
    )
    line("one thread, put+get: RingBuffer / deque", timing.ratios(pairs, "RingBuffer", "deque"))
    line("one thread, put+get: queue.Queue / deque", timing.ratios(pairs, "queue.Queue", "deque"))
    for kind in handoff.KINDS:
        line(
            f"one thread, put+get: Channel({kind}) / bare {kind}",
            timing.ratios(pairs, f"Channel({kind})", kind),
        )

    flat, paced = [], []
    for _ in range(args.thread_rounds):
        flat.append(handoff.cross_thread_table(items=args.items))
        paced.append(handoff.cross_thread_table(items=args.items // 5, rate=20_000))

    def across(tables, column, a, b):
        return [t.loc[a, column] / t.loc[b, column] for t in tables]

    y, s = ", yield when idle", ", spin when idle"
    line(
        "two threads flat out, items/s: RingBuffer yield / spin",
        across(flat, "items_per_s", "RingBuffer" + y, "RingBuffer" + s),
    )
    line(
        "two threads flat out, items/s: deque / RingBuffer (yield)",
        across(flat, "items_per_s", "deque" + y, "RingBuffer" + y),
    )
    for kind in handoff.KINDS:
        line(
            f"two threads at 20k items/s, p50 {kind}: spin / yield",
            across(paced, "p50_ns", kind + s, kind + y),
        )
    line(
        "two threads at 20k items/s, p50 (yield): RingBuffer / deque",
        across(paced, "p50_ns", "RingBuffer" + y, "deque" + y),
    )

    cases = [
        (allocation.object_cases(), 3_000),
        (allocation.buffer_cases(1 << 10), 3_000),
        (allocation.buffer_cases(1 << 20), 300),
        (allocation.buffer_cases(64 << 20), 10),
    ]
    for case, calls in cases:
        frame = timing.compare(case, rounds=args.rounds, mode="per_call", calls=calls, warmup=5)
        fresh, pooled = case
        line(
            f"{fresh.rsplit(',', 1)[0]}: pooled / fresh, p50",
            timing.ratios(frame, pooled, fresh, 50),
        )

    cycles = allocation.cycle_cases()
    frame = timing.compare(
        cycles, rounds=args.rounds, mode="per_call", calls=20_000, collect_before=2
    )
    fresh, pooled = cycles
    line("order-fill cycles, fresh / pooled, p50", timing.ratios(frame, fresh, pooled, 50))
    line("order-fill cycles, fresh / pooled, p99.9", timing.ratios(frame, fresh, pooled, 99.9))
    gcs = timing.summarize(frame)["gen0_gcs"]
    print(f"order-fill cycles, gen0 collections: fresh {gcs[fresh]}, pooled {gcs[pooled]}")


if __name__ == "__main__":
    main()
