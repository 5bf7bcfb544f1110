"""One visual style for the course: latency ECDFs on a log axis, percentile bars (all lessons)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import NullFormatter

from latency_lab import stats

#: The percentiles drawn as markers and bars.
TAIL = stats.SUMMARY_PERCENTILES


def use_style() -> None:
    """Apply the course's plotting style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.figsize": (8, 4.5), "figure.dpi": 100, "axes.titleweight": "bold"})


def _axes(ax):
    return ax if ax is not None else plt.subplots()[1]


def ecdf(
    samples_by_label: Mapping[str, np.ndarray], unit: str = "ns", ax=None, title=None, tail=False
):
    """Latency ECDFs on a log-x axis, one line per label, with p50/p90/p99/p99.9 marked.

    With ``tail=True`` the y axis is a logit scale labelled p50 ... p99.99, which gives the
    top 1% and 0.1% of samples as much room as the bulk. Returns the matplotlib Axes.
    """
    ax = _axes(ax)
    for label, samples in samples_by_label.items():
        x, y = stats.ecdf(samples)
        if tail:  # the last point (y = 1) has no place on a logit axis
            x, y = x[:-1], y[:-1]
        (line,) = ax.step(x, y, where="post", label=label)
        ax.plot(
            stats.percentiles(samples, TAIL),
            np.array(TAIL) / 100,
            "o",
            color=line.get_color(),
            ms=4,
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"latency ({unit}, log scale)")
    if tail:
        ticks = [0.5, 0.9, 0.99, 0.999, 0.9999]
        ax.set_yscale("logit")
        ax.set_yticks(ticks, [stats.percentile_label(100 * t) for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.25, 0.99995)
        ax.set_ylabel("percentile (logit scale)")
        # start the x axis where the visible part (from p25) begins, not at the minimum
        lowest = min(stats.percentiles(samples, 25) for samples in samples_by_label.values())
        if lowest > 0:
            ax.set_xlim(left=lowest / 1.5)
    else:
        ax.set_ylim(0, 1.01)
        ax.set_ylabel("fraction of samples ≤ x")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def percentile_bars(
    summaries_by_label: Mapping[str, Mapping[str, float]], unit: str = "ns", ax=None, title=None
):
    """Grouped bars of p50, p90, p99, p99.9 and max per label, on a log-y axis."""
    ax = _axes(ax)
    keys = [stats.percentile_label(p) for p in TAIL] + ["max"]
    width = 0.8 / max(len(summaries_by_label), 1)
    for i, (label, summary) in enumerate(summaries_by_label.items()):
        ax.bar(np.arange(len(keys)) + i * width, [summary[k] for k in keys], width, label=label)
    ax.set_xticks(np.arange(len(keys)) + width * (len(summaries_by_label) - 1) / 2, keys)
    ax.set_yscale("log")
    ax.set_ylabel(f"latency ({unit}, log scale)")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
