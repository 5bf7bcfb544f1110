"""plots: the course's figures have log latency axes, labelled units and one line per series."""

import numpy as np
from matplotlib import pyplot as plt

from latency_lab import plots, stats

SAMPLES = {"a": np.arange(1.0, 1001.0), "b": np.arange(10.0, 10_010.0, 10)}


def test_ecdf_log_x_with_units_and_percentile_markers():
    ax = plots.ecdf(SAMPLES, unit="µs", title="t")
    assert ax.get_xscale() == "log" and "µs" in ax.get_xlabel() and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    markers = ax.get_lines()[1]  # p50, p90, p99, p99.9 of the first series
    np.testing.assert_array_equal(markers.get_xdata(), stats.percentiles(SAMPLES["a"], plots.TAIL))
    plt.close("all")


def test_ecdf_tail_view_uses_a_logit_axis_from_p25():
    ax = plots.ecdf(SAMPLES, tail=True)
    assert ax.get_yscale() == "logit" and ax.get_xlim()[0] >= 250 / 1.5 - 1e-9
    plt.close("all")


def test_percentile_bars_one_group_per_percentile():
    summaries = {name: stats.summary(v) for name, v in SAMPLES.items()}
    ax = plots.percentile_bars(summaries, unit="ns")
    assert ax.get_yscale() == "log" and "ns" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["p50", "p90", "p99", "p99.9", "max"]
    assert len(ax.patches) == 2 * 5
    plt.close("all")
