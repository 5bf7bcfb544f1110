"""plots: the course's figures have log latency axes, labelled units and one line per series."""

import itertools

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


def visible_labels(axis):
    ax = axis.axes
    ax.figure.canvas.draw()
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    low, high = sorted(axis.get_view_interval())
    labels = [
        t.label1 for t in ticks
        if t.label1.get_visible() and t.label1.get_text() and low <= t.get_loc() <= high
    ]  # fmt: skip
    return [(label.get_text(), label.get_window_extent()) for label in labels]


@pytest.mark.parametrize(
    "low, spread",
    [(100, 0.4), (700, 0.6), (1000, 0.05), (30, 0.7), (5, 3000), (1e5, 30), (0.2, 4), (1, 1e7)],
)
@pytest.mark.parametrize("draw", ["ecdf", "tail", "bars"])
def test_latency_axis_labels_never_collide_and_never_vanish(low, spread, draw):
    """Narrow and wide ranges alike: some tick labels, none overlapping (matplotlib's own
    log labels write 3×10², 4×10² on top of each other on a narrow range)."""
    samples = low * (1 + spread * np.random.default_rng(0).random(5_000) ** 3)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    if draw == "bars":
        plots.percentile_bars({"a": samples}, unit="us", ax=ax)
        axis = ax.yaxis
    else:
        plots.ecdf({"a": samples}, unit="us", ax=ax, tail=draw == "tail")
        axis = ax.xaxis
    labels = visible_labels(axis)
    assert labels, "no tick label at all"
    boxes = sorted((box for _, box in labels), key=lambda b: (b.x0, b.y0))
    for a, b in itertools.pairwise(boxes):
        assert not a.overlaps(b), [text for text, _ in labels]


def test_log_ticks_refuses_a_range_it_cannot_label():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="low"):
        plots.log_ticks(ax.xaxis, 0, 10)
    with pytest.raises(ValueError, match="high"):
        plots.log_ticks(ax.xaxis, 10, 1)
