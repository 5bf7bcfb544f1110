"""Explorer refresh speed (lesson 07): one slider move at 200k events, end to end, in ms.

Run: python benchmarks/bench_widgets.py [--events N] [--repeats R]. A refresh is what a
slider release costs in the kernel: generate the traffic, simulate, summarize, redraw and
encode the PNG. It prints the median and range of R refreshes for each explorer (the batch
explorer's batch slider moving between two values; the burst explorer's burst rate), the
breakdown of one batch refresh into its parts, one refresh per policy, and what the
adaptive policies' compiled rules save: the same AIMD run driven through the engine's Python
loop (``update`` called after every batch) against its compiled rule, side by side.

Target: median < 60 ms for every policy at 200,000 events on a 2-core machine.

The slider-to-update latency in a real browser (key press to new readout) is measured by
``tests/browser/test_batching_notebook.py``, which writes it to
``outputs/browser/slider_latency.json``; this script prints the last measurement if there is
one (it is not asserted anywhere: it depends on the machine and the browser).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from latency_lab import explore, scenarios, units, widgets
from latency_lab.engine import simulate

ROOT = Path(__file__).resolve().parents[1]
BROWSER_RESULT = ROOT / "outputs" / "browser" / "slider_latency.json"
TARGET_MS = 60.0


def ms(ns: int) -> float:
    return ns / units.NS_PER_MS


def timed(func, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        func()
        out.append(ms(time.perf_counter_ns() - t0))
    return out


def line(label: str, samples: list[float]) -> str:
    median = statistics.median(samples)
    flag = "" if median < TARGET_MS else f"  (above the {TARGET_MS:.0f} ms target)"
    return (
        f"{label:<44} median {median:6.1f} ms  (min {min(samples):6.1f}, "
        f"max {max(samples):6.1f}, {len(samples)} refreshes){flag}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=explore.DEFAULT_EVENTS)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    n, repeats = args.events, args.repeats
    print(f"Explorer refresh at {n:,} events (traffic + simulate + summary + redraw + PNG)")

    batch = widgets.BatchExplorer(events=n)
    sizes = iter([16, 32] * repeats)
    batch.refresh(max_batch=32)  # warm: compiled kernels, the frontier, the figure frame
    samples = timed(lambda: batch.refresh(max_batch=next(sizes)), repeats)
    print(line("batch explorer, max batch 16 <-> 32", samples))

    burst = widgets.BurstExplorer(events=n)
    rates = iter([150_000.0, 250_000.0] * repeats)
    burst.refresh(burst_rate=250_000.0)
    samples = timed(lambda: burst.refresh(burst_rate=next(rates)), repeats)
    print(line("burst explorer, burst rate 150k <-> 250k", samples))

    print("\nOne batch refresh, part by part (medians):")
    p = batch.params()
    instance = scenarios.get(p["scenario"]).instance(n, seed=p["seed"])
    policy = explore.make_policy(p["policy"], p["max_batch"], p["max_wait_us"])
    result = simulate(instance.arrivals, instance.service, policy=policy)
    parts = {
        "traffic (scenario instance)": lambda: scenarios.get(p["scenario"]).instance(
            n, seed=p["seed"]
        ),
        "simulate": lambda: simulate(instance.arrivals, instance.service, policy=policy),
        "latency curve (200 quantiles, one partition)": lambda: explore.latency_curve(
            result.latency
        ),
        "engine summary() for comparison": result.summary,
        "redraw + PNG (artists reused, blitted)": batch.redraw,
        "full redraw + PNG": lambda: widgets.render_png(batch.figure),
    }
    for label, func in parts.items():
        print(f"  {label:<46} {statistics.median(timed(func, repeats)):6.1f} ms")

    print("\nOne refresh per policy (batch explorer, bursty, max batch 32, max wait 50 µs):")
    batch.refresh(scenario="bursty", max_batch=32, max_wait_us=50.0)
    for name in explore.POLICIES:
        batch.refresh(policy=name)  # warm: the first refresh of a policy relayouts the figure
        samples = timed(lambda name=name: batch.refresh(policy=name), repeats)
        print("  " + line(name, samples))

    print("\nAIMD at 200k events, compiled rule vs the engine's Python loop (interleaved):")
    aimd = explore.make_policy("aimd", 32, 50.0)
    looped = explore.make_policy("aimd", 32, 50.0)
    looped.compiled = False  # the engine's Python loop calls update() after every batch
    runs = {"compiled rule": aimd, "Python loop": looped}
    times = {label: [] for label in runs}
    for _ in range(max(3, repeats // 3)):
        for label, controller in runs.items():
            times[label].extend(
                timed(
                    lambda c=controller: simulate(instance.arrivals, instance.service, policy=c), 1
                )
            )
    for label, samples in times.items():
        print(f"  {label:<46} {statistics.median(samples):6.1f} ms")
    ratio = statistics.median(times["Python loop"]) / statistics.median(times["compiled rule"])
    print(f"  the Python loop takes {ratio:.0f}x the compiled rule's time")

    if BROWSER_RESULT.exists():
        data = json.loads(BROWSER_RESULT.read_text())
        print(
            f"\nSlider-to-update latency in headless Chromium (from the browser test, "
            f"{data.get('when', '?')}): median {data['median_ms']:.0f} ms over "
            f"{len(data['samples_ms'])} key presses ({', '.join(f'{v:.0f}' for v in data['samples_ms'])} ms)"
        )
    else:
        print(
            "\nSlider-to-update latency in a browser: not measured yet (run "
            "`pytest tests/browser` with Chromium installed)."
        )


if __name__ == "__main__":
    main()
