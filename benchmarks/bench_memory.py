"""Lesson 03's timing claims as ratios, measured side by side in one run.

Run: python benchmarks/bench_memory.py [--n 4096] [--ticks 1000000]. Every figure comes
from the same latency_lab.memory / latency_lab.allocation functions the notebook uses.
"""

import argparse

from latency_lab import allocation, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matrix side for traversal")
    parser.add_argument("--ticks", type=int, default=1_000_000)
    args = parser.parse_args()

    l1, ram = memory.load_latency_ns(16 << 10), memory.load_latency_ns(256 << 20)
    print(
        f"dependent load, 256 MiB working set / 16 KiB:       {ram / l1:7.1f}x  ({ram:.1f} vs {l1:.1f} ns)"
    )

    traversal = memory.traversal_table(args.n, 256)
    print(
        f"sum by columns / by rows, compiled:                 {traversal.loc['columns / rows', 'compiled']:7.1f}x"
    )
    print(
        f"sum by columns / by rows, interpreted:              {traversal.loc['columns / rows', 'interpreted']:7.2f}x"
    )
    copies = memory.strided_copy_table(args.n)
    print(
        f"copy through transposed strides / memory order:     {copies['vs memory order'].iloc[1]:7.1f}x"
    )

    layouts = memory.layout_table(args.ticks)["ns_per_tick"]
    soa_np = layouts[("struct of arrays", "numpy vectorized")]
    print(
        f"VWAP numpy, array of structs / struct of arrays:    {layouts[('array of structs', 'numpy vectorized')] / soa_np:7.1f}x"
    )
    print(
        f"VWAP compiled loop, AoS / SoA:                      {layouts[('array of structs', 'compiled loop')] / layouts[('struct of arrays', 'compiled loop')]:7.1f}x"
    )
    print(
        f"VWAP compiled loop / numpy, SoA:                    {layouts[('struct of arrays', 'compiled loop')] / soa_np:7.1f}x"
    )
    print(
        f"VWAP Python loop over tuples / numpy SoA:           {layouts[('list of tuples', 'interpreted loop')] / soa_np:7.0f}x"
    )
    print(
        f"Python loop over numpy arrays / over tuples:        {layouts[('struct of arrays', 'interpreted loop')] / layouts[('list of tuples', 'interpreted loop')]:7.1f}x"
    )

    pre = allocation.per_op(allocation.preallocation_cases(), 50_000)["p50"]
    print(f"mid prices, new arrays / preallocated (p50):        {pre.iloc[0] / pre.iloc[1]:7.2f}x")
    rolling = allocation.per_op(allocation.rolling_vwap_cases(), 5_000)["p50"]
    print(
        f"rolling VWAP, list -> arrays / TickBuffer (p50):    {rolling.iloc[0] / rolling.iloc[1]:7.1f}x"
    )


if __name__ == "__main__":
    main()
