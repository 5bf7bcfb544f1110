"""The explorers are thin wrappers: same numbers as the pure functions, a PNG that follows
the controls, updates on release only, and a blitted redraw identical to a full one."""

import io

import ipywidgets as w
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from latency_lab import explore, widgets

EVENTS = 5_000


def pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def batch():
    return widgets.BatchExplorer(events=EVENTS, frontier_events=2_000)


@pytest.fixture(scope="module")
def burst():
    return widgets.BurstExplorer(events=EVENTS)


def test_batch_explorer_shows_what_batch_view_computes(batch):
    view = batch.refresh(max_batch=32, policy="timeout", max_wait_us=20.0)
    params = batch.params()
    assert params["max_batch"] == 32 and params["max_wait_us"] == 20.0
    expected = explore.batch_view(events=EVENTS, **params)
    assert view.summary == expected.summary
    assert np.array_equal(view.quantiles_us, expected.quantiles_us)
    assert f"{view.summary['p99_us']:,.1f} µs" in batch.readout.value
    assert 'class="ll-p99"' in batch.readout.value
    assert "20 µs" in batch.readout.value


def test_batch_explorer_figure_follows_the_batch_slider(batch):
    batch.refresh(max_batch=16, policy="timeout", max_wait_us=50.0)
    before, readout = batch.image.value, batch.readout.value
    batch.controls["max_batch"].value = 256  # as a browser would: through the control
    assert batch.view.max_batch == 256
    assert batch.readout.value != readout
    assert not np.array_equal(pixels(before), pixels(batch.image.value))


def test_batch_explorer_keeps_the_frontier_until_the_service_changes(batch):
    batch.refresh(max_batch=8, cv=0.5)
    table = batch.frontier("bursty", 20.0, 2.0, 0.5, 1)[0]
    batch.refresh(max_batch=64, max_wait_us=100.0)
    assert batch.frontier("bursty", 20.0, 2.0, 0.5, 1)[0] is table
    batch.refresh(cv=1.0)
    assert batch.frontier("bursty", 20.0, 2.0, 1.0, 1)[0] is not table
    batch.refresh(cv=0.5)


def test_batch_explorer_marks_an_unstable_setting(batch):
    view = batch.refresh(scenario="calm", policy="greedy", max_batch=1, setup_us=60.0)
    assert view.capacity_per_s < 20_000 and not view.summary["stable"]
    assert "NO (backlog grows)" in batch.readout.value
    batch.refresh(scenario="bursty", policy="timeout", max_batch=16, setup_us=20.0)


def test_sliders_update_on_release_only(batch, burst):
    for explorer in (batch, burst):
        sliders = [c for c in explorer.controls.values() if hasattr(c, "continuous_update")]
        assert sliders and all(not c.continuous_update for c in sliders)


def test_refresh_refuses_unknown_controls(batch):
    with pytest.raises(TypeError, match="unknown control"):
        batch.refresh(batch_size=4)


def test_burst_explorer_shows_what_burst_view_computes(burst):
    view = burst.refresh(burst_rate=100_000.0, max_batch=8)
    expected = explore.burst_view(events=EVENTS, **burst.params())
    assert view.summary == expected.summary
    assert np.array_equal(view.rate_per_s, expected.rate_per_s)
    assert f"{view.dispersion:,.2f}" in burst.readout.value
    before = burst.image.value
    burst.refresh(burst_rate=400_000.0)
    assert not np.array_equal(pixels(before), pixels(burst.image.value))


def test_blitted_update_is_pixel_identical_to_a_full_redraw(batch):
    batch.refresh(max_batch=16)
    key = batch.blitter._key  # the frame of the last draw
    blitted = batch.blitter.png(key)  # restores the frame, redraws the changing artists
    full = batch.blitter.png(("another frame",))  # redraws everything
    assert np.array_equal(pixels(blitted), pixels(full))


def test_redraw_draws_the_same_view_again(batch, burst):
    for explorer in (batch, burst):
        explorer.refresh(max_batch=16)
        shown = explorer.image.value
        assert np.array_equal(pixels(explorer.redraw()), pixels(shown))


def test_only_a_new_frame_costs_a_full_draw(batch):
    batch.refresh(max_batch=16, policy="timeout")
    draws = batch.blitter.full_draws
    batch.refresh(max_batch=16, policy="timeout", seed=1)  # same setting: same limits
    assert batch.blitter.full_draws == draws


def test_snapshot_and_display(batch):
    image = batch.snapshot()
    assert image.data == batch.image.value
    bundle = batch._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(batch.widget, w.VBox)


def test_render_png_and_blitter_refuse_non_figures():
    with pytest.raises(TypeError, match="Figure"):
        widgets.render_png("figure")
    with pytest.raises(TypeError, match="Figure"):
        widgets.Blitter(None, [])
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([1, 2], [3, 4])
    assert pixels(widgets.render_png(fig)).shape[2] == 3


@pytest.mark.parametrize("cls", [widgets.BatchExplorer, widgets.BurstExplorer])
def test_explorers_refuse_unbounded_sizes(cls):
    with pytest.raises(ValueError, match="events"):
        cls(events=10**12)
