"""Sweep wall time (lesson 07): ``latency-lab sweep`` with --jobs 1 against --jobs 2, as a ratio.

Run: python benchmarks/bench_sweep.py [--events N] [--seeds LIST] [--rounds R]. The default
is the lesson's reference sweep: 1,000,000 events × 30 configs (bursty; timeout policy;
max_batch 1, 2, 4, ..., 512; max_wait_us 0, 10, 100) × 10 seeds. Each round runs the command
once with each --jobs value, alternating, in a fresh interpreter (so --jobs 2 pays for
starting its worker processes, as a user does), and checks that both wrote the same
sweep.csv. It prints each wall time and the ratio jobs 1 / jobs 2 per round: on a machine
with two free cores it approaches 2; on a busy or smaller one it may not.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["--scenario", "bursty", "--policy", "timeout", "--max-batch", "1,2,4,...,512"]
GRID += ["--max-wait-us", "0,10,100"]


def run(jobs: int, events: int, seeds: str, out: Path) -> float:
    """Wall time (s) of one ``latency-lab sweep`` in a fresh interpreter."""
    argv = [sys.executable, "-m", "latency_lab.cli", "sweep", *GRID, "--events", str(events)]
    argv += ["--seeds", seeds, "--jobs", str(jobs), "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"latency-lab sweep --jobs {jobs} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per run")
    parser.add_argument("--seeds", default="0-9", help="seeds, as the CLI takes them")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of both")
    args = parser.parse_args()
    print(f"latency-lab sweep: 30 configs × seeds {args.seeds} × {args.events:,} events")
    print(f"cores visible: {os.cpu_count()}; {args.rounds} round(s), jobs 1 then jobs 2")
    ratios, times = [], {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            files = {}
            for jobs in (1, 2):
                out = Path(tmp) / f"r{round_}j{jobs}"
                times[jobs].append(run(jobs, args.events, args.seeds, out))
                files[jobs] = (out / "sweep.csv").read_bytes()
            if files[1] != files[2]:
                sys.exit("the two sweeps wrote different rows: a bug, not a timing result")
            ratios.append(times[1][-1] / times[2][-1])
            print(
                f"round {round_ + 1}: --jobs 1 {times[1][-1]:7.1f} s   --jobs 2 "
                f"{times[2][-1]:7.1f} s   ratio {ratios[-1]:.2f}×  (same sweep.csv)"
            )
    if args.rounds > 1:
        print(
            f"median: --jobs 1 {statistics.median(times[1]):.1f} s, --jobs 2 "
            f"{statistics.median(times[2]):.1f} s, ratio {statistics.median(ratios):.2f}× "
            f"({min(ratios):.2f}–{max(ratios):.2f}× over {args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
