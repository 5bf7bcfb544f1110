"""Lesson 04's comparisons as verdict lines, measured in interleaved rounds in one run.

Run: python benchmarks/bench_structures.py [--items 50000] [--rounds 7] [--thread-rounds 3].

- One thread: a put and a get of each structure, and of each kind of Channel, timed in
  bulk by latency_lab.timing.compare (they last about as long as a clock read); an empty
  Python function shows how much of each figure is the call itself.
- Two threads: latency_lab.handoff.cross_thread_rounds, flat out (time per item moved) and
  paced at 20,000 items/s (per-item latency at p50 and p99).
- Pools: small objects, numpy buffers of growing size and order-fill reference cycles,
  fresh vs pooled, per call at p50 and in the tail (collections counted).

Every line is printed by latency_lab.timing.verdict: which candidate is faster and by how
much, with the range over rounds, or "no clear difference" when the rounds' ranges overlap.
"""

import argparse

from latency_lab import allocation, handoff, timing
from latency_lab.structures import make_channel


def show(label: str, frame, a: str, b: str, percentile: float | None = None) -> None:
    print(f"{label:34s} {timing.verdict(frame, a, b, percentile)}")


def put_get_cases(capacity: int = 1024) -> dict:
    """An empty function, the bare structures, and each kind of Channel: one put + one get."""

    def empty_function():
        pass

    cases = {"empty function": empty_function, **handoff.put_get_cases(capacity)}
    for kind in handoff.KINDS:
        channel = make_channel(kind, capacity)

        def channel_pair(send=channel.try_send, recv=channel.try_recv):
            send(1)
            recv()

        cases[f"Channel({kind})"] = channel_pair
    return cases


def fresh_vs_pooled(cases: dict) -> dict:
    """allocation's two cases, renamed "fresh" and "pooled" so the verdicts read well."""
    return dict(zip(["fresh", "pooled"], cases.values(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="items per two-thread run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--thread-rounds", type=int, default=3)
    args = parser.parse_args()

    pairs = timing.compare(put_get_cases(), rounds=args.rounds)
    ns = timing.summarize(pairs)["median_ns"]
    print("one thread, ns per put + get call: " + ", ".join(f"{k} {v:.0f}" for k, v in ns.items()))
    show("one thread, put + get", pairs, "RingBuffer", "deque")
    show("one thread, put + get", pairs, "queue.Queue", "deque")
    for kind in handoff.KINDS:
        show("one thread, Channel vs bare", pairs, f"Channel({kind})", kind)

    flat = handoff.cross_thread_rounds(rounds=args.thread_rounds, items=args.items)
    for kind in handoff.KINDS:
        show("two threads flat out, per item", flat.runs, f"{kind} spinning", f"{kind} yielding")
    show("two threads flat out, per item", flat.runs, "RingBuffer yielding", "deque yielding")
    paced = handoff.cross_thread_rounds(
        rounds=args.thread_rounds, items=max(args.items // 5, 1), rate=20_000
    )
    for kind in handoff.KINDS:
        show("two threads at 20k/s, latency", paced.latency, f"{kind} spinning", f"{kind} yielding")
    for kind in ("queue.Queue", "RingBuffer"):
        for p in (50, 99):
            show("two threads at 20k/s, latency", paced.latency, f"{kind} yielding",
                 "deque yielding", p)  # fmt: skip

    small = fresh_vs_pooled(allocation.object_cases())
    show("small object, mean (bulk)", timing.compare(small, rounds=args.rounds), "pooled", "fresh")
    frame = timing.compare(small, rounds=args.rounds, mode="per_call", calls=3_000)
    print(f"(per call: an empty call measures {frame.attrs['empty_call_ns']:.0f} ns)")
    for p in (50, 99):
        show("small object, per call", frame, "pooled", "fresh", p)
    for size, calls in [(1 << 10, 3_000), (1 << 20, 300), (16 << 20, 30), (64 << 20, 20)]:
        cases = allocation.buffer_cases(size)
        label = next(iter(cases)).split(",")[0]
        frame = timing.compare(
            fresh_vs_pooled(cases), rounds=args.rounds, mode="per_call", calls=calls, warmup=5
        )
        for p in (50, 99):
            show(label, frame, "pooled", "fresh", p)

    cycles = timing.compare(
        fresh_vs_pooled(allocation.cycle_cases()),
        rounds=args.rounds,
        mode="per_call",
        calls=20_000,
        collect_before=2,
    )
    for p in (50, 99.9):
        show("order-fill cycles", cycles, "pooled", "fresh", p)
    gcs = timing.summarize(cycles)["gen0_gcs"]
    print(f"order-fill cycles, gen-0 collections: fresh {gcs['fresh']}, pooled {gcs['pooled']}")


if __name__ == "__main__":
    main()
