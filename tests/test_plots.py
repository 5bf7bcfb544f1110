"""plots: the course's figures have log latency axes, labelled units and one line per series."""

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from latency_lab import LatencyTracker, plots, stats, units
from latency_lab.engine import ServiceModel, simulate

SAMPLES = {"a": np.arange(1.0, 1001.0), "b": np.arange(10.0, 10_010.0, 10)}
MARKERS = "p50, p90, p99, p99.9"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tracker_with(values_ns):
    tracker = LatencyTracker(capacity=len(values_ns))
    for v in values_ns:
        tracker.record(int(v))
    return tracker


def test_ecdf_log_x_with_units_and_labelled_percentile_markers():
    ax = plots.ecdf(SAMPLES, unit="µs", title="t")
    assert ax.get_xscale() == "log" and "µs" in ax.get_xlabel() and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", MARKERS]
    markers = ax.get_lines()[1]  # p50, p90, p99, p99.9 of the first series
    np.testing.assert_array_equal(markers.get_xdata(), stats.percentiles(SAMPLES["a"], plots.TAIL))
    np.testing.assert_allclose(markers.get_ydata(), [0.5, 0.9, 0.99, 0.999])


def test_ecdf_tail_view_uses_a_logit_axis_from_p25():
    ax = plots.ecdf(SAMPLES, unit="ns", tail=True)
    assert ax.get_yscale() == "logit" and ax.get_xlim()[0] >= 250 / 1.5 - 1e-9


def test_plain_arrays_need_a_unit():
    with pytest.raises(ValueError, match="unit is needed"):
        plots.ecdf(SAMPLES)
    with pytest.raises(ValueError, match="unit"):
        plots.ecdf(SAMPLES, unit="minutes")
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.ecdf({}, unit="ns")


def test_unit_comes_from_a_tracker_a_named_series_or_a_simulation():
    tracker = tracker_with([1_000, 2_000, 3_000])
    assert "(ns," in plots.ecdf({"t": tracker}).get_xlabel()
    assert "(ns," in plots.ecdf(tracker.to_frame()).get_xlabel()  # column latency_ns
    series = pd.Series([1.0, 2.0, 3.0], name="wait_us")
    ax = plots.ecdf(series)
    assert "(µs," in ax.get_xlabel() and ax.get_legend().get_texts()[0].get_text() == "wait_us"
    result = simulate(np.arange(50.0), ServiceModel(1.0, 0.5))
    ax = plots.ecdf({"sim": result})
    assert "(µs," in ax.get_xlabel()
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.sort(result.latency))


def test_explicit_unit_converts_data_that_carries_another():
    tracker = tracker_with([1_000, 2_000, 3_000])
    result = simulate(np.arange(50.0), ServiceModel(1.0, 0.5))
    ax = plots.ecdf({"t": tracker, "sim": result})
    assert "(ns," in ax.get_xlabel()  # the first series' unit; the simulation is converted
    np.testing.assert_allclose(
        ax.get_lines()[2].get_xdata(), units.us_to_ns(np.sort(result.latency))
    )
    ax = plots.ecdf({"t": tracker}, unit="µs")
    assert "(µs," in ax.get_xlabel()
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1.0, 2.0, 3.0])


def test_percentile_bars_one_group_per_percentile():
    summaries = {name: stats.summary(v) for name, v in SAMPLES.items()}
    ax = plots.percentile_bars(summaries, unit="ns")
    assert ax.get_yscale() == "log" and "ns" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["p50", "p90", "p99", "p99.9", "max"]
    assert len(ax.patches) == 2 * 5
    assert [p.get_height() for p in ax.patches[:5]] == [500, 900, 990, 999, 1000]


def test_percentile_bars_take_the_unit_from_summary_keys_and_convert():
    tracker = tracker_with(np.arange(1_000, 1_001_000, 1_000))
    ax = plots.percentile_bars({"tracker": tracker.summary()})
    assert "(ns," in ax.get_ylabel()
    assert [p.get_height() for p in ax.patches] == [500_000, 900_000, 990_000, 999_000, 1_000_000]
    ax = plots.percentile_bars(tracker.summary(), unit="µs")  # one summary on its own
    assert "(µs," in ax.get_ylabel()
    assert [p.get_height() for p in ax.patches] == [500, 900, 990, 999, 1000]
    ax = plots.percentile_bars({"samples": tracker})  # samples are summarised
    assert [p.get_height() for p in ax.patches] == [500_000, 900_000, 990_000, 999_000, 1_000_000]
    with pytest.raises(ValueError, match="unit is needed"):
        plots.percentile_bars({"bare": stats.summary([1, 2, 3])})
