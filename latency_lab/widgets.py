"""Interactive explorers of bursts and batching: thin ipywidgets wrappers (lesson 07).

Each explorer is a row of controls, a figure and a readout. The work is done by the pure
functions of :mod:`latency_lab.explore` (:func:`~latency_lab.explore.burst_view`,
:func:`~latency_lab.explore.batch_view`, :func:`~latency_lab.explore.frontier`); this module
only turns control values into their arguments and their results into pixels.

What keeps a refresh interactive (a couple of hundred thousand events in well under a
tenth of a second):

- controls update on release (``continuous_update=False``), never once per pixel of a drag;
- the figure is built once and its artists are updated in place (``set_data``), then drawn
  with the Agg renderer and sent as one PNG to an ``ipywidgets.Image``;
- latency curves are a few hundred quantiles, not one point per event;
- the batch explorer's frontier is recomputed only when the scenario, the service or the
  seed changes, not when a batch size or a wait moves.

``explorer.refresh(**changes)`` runs one update without a browser (tests and benchmarks);
``explorer.snapshot()`` is the current figure as an image, for the static copy shown above
each widget so that the notebook reads well where widgets do not run.
"""

from __future__ import annotations

import io
import math

import ipywidgets as w
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator
from PIL import Image

from latency_lab import explore, plots, scenarios, stats, units, validate

#: Batch caps and waits (µs) the sliders offer.
BATCH_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
WAIT_CHOICES = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
#: Events the batch explorer's frontier simulates per run.
FRONTIER_EVENTS = 20_000
#: Latency levels marked on the curves.
_TAIL = tuple(p / 100 for p in stats.SUMMARY_PERCENTILES)
_LOGIT_TICKS = (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
_DPI = 72


def _new_figure(width: float, height: float) -> Figure:
    plots.use_style()
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _quiet_minor(ax) -> None:
    """No minor ticks: they cost most of a redraw on log and logit axes."""
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _decades(low: float, high: float) -> tuple[float, float]:
    """Limits snapped out to whole decades, so they change rarely as the data moves."""
    low, high = max(low, 1e-3), max(high, low * 1.01)
    return 10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high))


def _latency_axes(ax) -> None:
    ax.set_xscale("log")
    ax.set_yscale("logit")
    ax.set_yticks(_LOGIT_TICKS, [stats.percentile_label(100 * t) for t in _LOGIT_TICKS])
    ax.set_ylim(0.01, 0.99999)
    ax.set_xlabel(f"latency ({units.LABELS['us']}, log scale)")
    ax.set_ylabel("percentile (logit scale)")
    _quiet_minor(ax)
    plots.log_ticks(ax.xaxis, 1.0, 100.0)


def _latency_limits(quantiles_us: np.ndarray, max_us: float) -> tuple[float, float]:
    return _decades(float(quantiles_us[0]) / 1.2, float(max_us) * 1.2)


class Blitter:
    """Redraws only what changed (lesson 07): the figure's frame (axes, ticks, legends) is
    drawn once per set of axis limits and kept as a bitmap; each update restores it and
    draws the ``animated`` artists (curves, markers, titles) on top, then encodes a PNG."""

    def __init__(self, fig: Figure, animated):
        if not isinstance(fig, Figure):
            raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
        self.fig = fig
        self.canvas = (
            fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        )
        self.animated = list(animated)
        for artist in self.animated:
            artist.set_animated(True)
        self._key = None
        self._background = None
        self.full_draws = 0

    def png(self, frame_key) -> bytes:
        """The figure as PNG; the frame is redrawn only when ``frame_key`` differs from the
        last call's (pass the axis limits and anything else the frame shows)."""
        if frame_key != self._key or self._background is None:
            self.canvas.draw()  # everything but the animated artists
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._key = frame_key
            self.full_draws += 1
        else:
            self.canvas.restore_region(self._background)
        renderer = self.canvas.get_renderer()
        for artist in self.animated:
            artist.draw(renderer)
        return _encode(self.canvas)


def _encode(canvas: FigureCanvasAgg) -> bytes:
    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    out = io.BytesIO()
    image.save(out, format="png", compress_level=1)
    return out.getvalue()


def render_png(fig: Figure) -> bytes:
    """Draw ``fig`` with Agg and encode it as PNG (fast compression) (lesson 07)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return _encode(canvas)


def _fmt(value: float, digits: int = 1) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.{digits}f}"


def _readout(summary: dict, extra: list[tuple[str, str, str]]) -> str:
    """An HTML line of the numbers the learner watches; each value has a class ``ll-KEY``."""
    items = [
        ("p50", f"{_fmt(summary['p50_us'])} µs", "p50"),
        ("p99", f"{_fmt(summary['p99_us'])} µs", "p99"),
        ("p99.9", f"{_fmt(summary['p99.9_us'])} µs", "p999"),
        ("max", f"{_fmt(summary['max_us'])} µs", "max"),
        ("throughput", f"{_fmt(summary['throughput_per_s'], 0)} events/s", "throughput"),
        ("utilization", f"{summary['utilization']:.2f}", "utilization"),
        ("mean batch", f"{summary['mean_batch']:.2f}", "mean-batch"),
        ("stable", "yes" if summary["stable"] else "NO (backlog grows)", "stable"),
        *extra,
    ]
    cells = " · ".join(f'{label} <b class="ll-{key}">{value}</b>' for label, value, key in items)
    return f'<div class="ll-readout" style="font-family: monospace">{cells}</div>'


class _Explorer:
    """Shared plumbing: controls, image, readout; ``refresh`` on every control change."""

    def _build(self, controls: dict) -> None:
        self.controls = controls
        self.image = w.Image(format="png", layout=w.Layout(width="auto"))
        self.readout = w.HTML()
        rows = list(controls.values())
        half = (len(rows) + 1) // 2
        self.widget = w.VBox(
            [w.HBox([w.VBox(rows[:half]), w.VBox(rows[half:])]), self.readout, self.image]
        )
        self._quiet = False
        for control in controls.values():
            control.observe(self._on_change, names="value")

    def params(self) -> dict:
        """The current control values, as the pure function's keyword arguments."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.refresh()

    def _set(self, changes: dict) -> None:
        unknown = set(changes) - set(self.controls)
        if unknown:
            raise TypeError(
                f"unknown control(s) {sorted(unknown)}; the controls are {sorted(self.controls)}"
            )
        self._quiet = True
        try:
            for name, value in changes.items():
                self.controls[name].value = value
        finally:
            self._quiet = False

    def snapshot(self):
        """The current figure as an ``IPython.display.Image`` (the static copy of a widget)."""
        from IPython.display import Image as DisplayImage

        return DisplayImage(data=self.image.value, format="png")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _slider(options, value, description: str, fmt=None) -> w.SelectionSlider:
    labels = [(fmt(v) if fmt else str(v), v) for v in options]
    return w.SelectionSlider(
        options=labels, value=value, description=description, continuous_update=False,
        style={"description_width": "110px"}, layout=w.Layout(width="380px"),
    )  # fmt: skip


def _log_slider(value, low_exp, high_exp, description: str, readout_format=",.0f"):
    return w.FloatLogSlider(
        value=value, base=10, min=low_exp, max=high_exp, step=0.05, description=description,
        continuous_update=False, readout_format=readout_format,
        style={"description_width": "110px"}, layout=w.Layout(width="380px"),
    )  # fmt: skip


def _wait_label(us: float) -> str:
    return f"{us:g} µs"


class BatchExplorer(_Explorer):
    """Scenario, policy, batch cap, wait and service → latency ECDF, percentiles, throughput,
    utilization, stability, and the setting's point against the frontier (lesson 07).

    Parameters
    ----------
    events : int
        Events simulated per refresh (2 to ``explore.MAX_EXPLORE_EVENTS``).
    frontier_events : int
        Events per run of the frontier (recomputed when the scenario, service or seed change).
    """

    def __init__(
        self, events: int = explore.DEFAULT_EVENTS, frontier_events: int = FRONTIER_EVENTS
    ):
        self.events = validate.integer("events", events, low=2, high=explore.MAX_EXPLORE_EVENTS)
        self.frontier_events = validate.integer(
            "frontier_events", frontier_events, low=2, high=explore.MAX_EXPLORE_EVENTS
        )
        style = {"description_width": "110px"}
        layout = w.Layout(width="380px")
        controls = {
            "scenario": w.Dropdown(options=list(scenarios.SCENARIOS), value="bursty",
                                   description="scenario", style=style, layout=layout),
            "policy": w.Dropdown(options=list(explore.POLICIES), value="timeout",
                                 description="policy", style=style, layout=layout),
            "max_batch": _slider(BATCH_CHOICES, 16, "max batch"),
            "max_wait_us": _slider(WAIT_CHOICES, 50.0, "max wait", _wait_label),
            "setup_us": w.FloatSlider(value=20.0, min=0.0, max=100.0, step=1.0,
                                      description="setup (µs)", continuous_update=False,
                                      style=style, layout=layout),
            "per_item_us": w.FloatSlider(value=2.0, min=0.1, max=20.0, step=0.1,
                                         description="per item (µs)", continuous_update=False,
                                         style=style, layout=layout),
            "cv": w.FloatSlider(value=0.5, min=0.0, max=2.0, step=0.1, description="service cv",
                                continuous_update=False, style=style, layout=layout),
            "seed": w.BoundedIntText(value=1, min=0, max=1_000_000, description="seed",
                                     style=style, layout=layout),
        }  # fmt: skip
        self._frontiers: dict[tuple, tuple] = {}
        self._figure()
        self._build(controls)
        self.view = None
        self.refresh()

    def _figure(self) -> None:
        self.figure = fig = _new_figure(11.0, 3.8)
        self.ax_cdf, self.ax_front = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        ax = self.ax_cdf
        _latency_axes(ax)
        (self.curve,) = ax.plot([1, 2], [0.5, 0.6], lw=2, label="latency ECDF")
        (self.marks,) = ax.plot([1] * 4, _TAIL, "o", ms=5, color=self.curve.get_color(),
                                label="p50, p90, p99, p99.9")  # fmt: skip
        ax.legend(loc="lower right", fontsize=9)
        self.title = ax.set_title("", fontsize=10, loc="left")
        ax = self.ax_front
        ax.set_xscale("log")
        ax.set_yscale("log")
        _quiet_minor(ax)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1_000:g}k"))
        ax.set_xlabel("throughput (events/s, log scale)")
        ax.set_ylabel(f"p99 ({units.LABELS['us']}, log scale)")
        ax.set_title("frontier: lowest p99 at each load", fontsize=10, loc="left")
        (self.cloud,) = ax.plot([], [], ".", color="0.7", ms=4, label="greedy/timeout settings")
        (self.front,) = ax.plot([], [], "-", color="0.2", lw=1.5, label="frontier")
        (self.point,) = ax.plot([], [], "*", color="C3", ms=14, label="this setting")
        ax.legend(loc="upper left", fontsize=9)
        self.title.set_text("scenario, policy: p99 0.0 µs, max 0.0 µs")
        fig.tight_layout()
        self.blitter = Blitter(fig, [self.curve, self.marks, self.title, self.point])

    def frontier(self, scenario: str = "bursty", setup_us: float = 20.0,
                 per_item_us: float = 2.0, cv: float = 0.5, seed=1):  # fmt: skip
        """The scenario's frontier table and its best-per-load rows (the last one is kept,
        so moving a batch or wait slider does not recompute it)."""
        key = (scenario, setup_us, per_item_us, cv, seed)
        if key not in self._frontiers:
            table = explore.frontier(scenario, setup_us, per_item_us, cv, seed,
                                     events=self.frontier_events)  # fmt: skip
            self._frontiers = {key: (table, explore.best_per_load(table))}  # keep one
        return self._frontiers[key]

    def refresh(self, **changes) -> explore.BatchView:
        """Set any controls given (by name), recompute, redraw; return the new view."""
        self._set(changes)
        p = self.params()
        view = explore.batch_view(events=self.events, **p)
        table, best = self.frontier(p["scenario"], p["setup_us"], p["per_item_us"], p["cv"],
                                    p["seed"])  # fmt: skip
        self.view, self._table, self._best = view, table, best
        self.redraw()
        wait = _wait_label(view.max_wait_us) if explore.uses_wait(view.policy) else "not used"
        extra = [
            ("capacity of full batches", f"{_fmt(view.capacity_per_s, 0)} events/s", "capacity"),
            ("max wait", wait, "wait"),
        ]
        self.readout.value = _readout(view.summary, extra)
        return view

    def redraw(self) -> bytes:
        """Draw the current view again (no simulation) and return the PNG shown: the
        drawing half of a refresh."""
        view, table, best = self.view, self._table, self._best
        s = view.summary
        self.curve.set_data(view.quantiles_us, view.levels)
        self.marks.set_xdata([s["p50_us"], s["p90_us"], s["p99_us"], s["p99.9_us"]])
        cdf_limits = _latency_limits(view.quantiles_us, s["max_us"])
        self.ax_cdf.set_xlim(*cdf_limits)
        plots.log_ticks(self.ax_cdf.xaxis, *cdf_limits)
        self.title.set_text(
            f"{view.scenario}, {view.policy}: p99 {_fmt(s['p99_us'])} µs, max {_fmt(s['max_us'])} µs"
        )
        stable = table[table["stable"]]
        self.cloud.set_data(stable["throughput_per_s"], stable["p99_us"])
        self.front.set_data(best["throughput_per_s"], best["p99_us"])
        self.point.set_data([s["throughput_per_s"]], [s["p99_us"]])
        xs = np.concatenate([stable["throughput_per_s"], [s["throughput_per_s"]]])
        ys = np.concatenate([stable["p99_us"], [s["p99_us"]]])
        x_limits = _decades(xs.min() / 1.2, xs.max() * 1.2)
        y_limits = _decades(ys.min() / 1.2, ys.max() * 1.2)
        self.ax_front.set_xlim(*x_limits)
        self.ax_front.set_ylim(*y_limits)
        key = (cdf_limits, x_limits, y_limits, id(table))
        self.image.value = self.blitter.png(key)
        return self.image.value


class BurstExplorer(_Explorer):
    """Calm and burst rates and durations, seed and policy → the arrivals' rate over time,
    their index of dispersion, and the latency ECDF and percentiles (lesson 07).

    Parameters
    ----------
    events : int
        Events simulated per refresh (2 to ``explore.MAX_EXPLORE_EVENTS``).
    """

    def __init__(self, events: int = explore.DEFAULT_EVENTS):
        self.events = validate.integer("events", events, low=2, high=explore.MAX_EXPLORE_EVENTS)
        style = {"description_width": "110px"}
        layout = w.Layout(width="380px")
        controls = {
            "calm_rate": _log_slider(20_000.0, 3, 5.3, "calm rate (/s)"),
            "burst_rate": _log_slider(200_000.0, 4, 6, "burst rate (/s)"),
            "mean_calm_us": _log_slider(50_000.0, 3, 6, "calm for (µs)"),
            "mean_burst_us": _log_slider(5_000.0, 2, 5, "burst for (µs)"),
            "seed": w.BoundedIntText(value=1, min=0, max=1_000_000, description="seed",
                                     style=style, layout=layout),
            "policy": w.Dropdown(options=list(explore.POLICIES), value="greedy",
                                 description="policy", style=style, layout=layout),
            "max_batch": _slider(BATCH_CHOICES, 32, "max batch"),
            "max_wait_us": _slider(WAIT_CHOICES, 0.0, "max wait", _wait_label),
        }  # fmt: skip
        self._figure()
        self._build(controls)
        self.view = None
        self.refresh()

    def _figure(self) -> None:
        self.figure = fig = _new_figure(11.0, 3.8)
        self.ax_rate, self.ax_cdf = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        ax = self.ax_rate
        (self.rate,) = ax.plot([], [], lw=0.9, label="arrival rate, 1 ms windows")
        self.capacity = ax.axhline(1, color="C3", ls="--", lw=1, label="capacity at max batch")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("rate (k events/s)")
        ax.set_xlim(0, 300)
        ax.legend(loc="upper right", fontsize=9)
        self.rate_title = ax.set_title("", fontsize=10, loc="left")
        _quiet_minor(ax)
        ax = self.ax_cdf
        _latency_axes(ax)
        (self.curve,) = ax.plot([1, 2], [0.5, 0.6], lw=2, label="latency ECDF")
        (self.marks,) = ax.plot([1] * 4, _TAIL, "o", ms=5, color=self.curve.get_color(),
                                label="p50, p90, p99, p99.9")  # fmt: skip
        ax.legend(loc="lower right", fontsize=9)
        self.title = ax.set_title("p99 0.0 µs, max 0.0 µs", fontsize=10, loc="left")
        self.rate_title.set_text("mean 0.0k/s, dispersion (1 ms) 0.00")
        fig.tight_layout()
        self.blitter = Blitter(
            fig, [self.rate, self.capacity, self.rate_title, self.curve, self.marks, self.title]
        )

    def refresh(self, **changes) -> explore.BurstView:
        """Set any controls given (by name), recompute, redraw; return the new view."""
        self._set(changes)
        view = explore.burst_view(events=self.events, **self.params())
        self.view = view
        self.redraw()
        extra = [("dispersion (1 ms)", _fmt(view.dispersion, 2), "dispersion")]
        self.readout.value = _readout(view.summary, extra)
        return view

    def redraw(self) -> bytes:
        """Draw the current view again (no simulation) and return the PNG shown: the
        drawing half of a refresh."""
        view = self.view
        s = view.summary
        per_ms = units.US_PER_MS
        self.rate.set_data(view.window_start_us / per_ms, view.rate_per_s / 1_000)
        self.capacity.set_ydata([view.capacity_per_s / 1_000] * 2)
        top = max(float(view.rate_per_s.max(initial=0.0)), view.capacity_per_s) / 1_000
        rate_limit = float(_decades(top / 10, top * 1.1)[1])
        rate_limit = next(
            m * rate_limit / 10 for m in (1, 2, 5, 10) if m * rate_limit / 10 >= top * 1.1
        )
        self.ax_rate.set_ylim(0, rate_limit)
        self.rate_title.set_text(
            f"mean {_fmt(view.process.mean_rate / 1_000)}k/s, "
            f"dispersion (1 ms) {_fmt(view.dispersion, 2)}"
        )
        self.curve.set_data(view.quantiles_us, view.levels)
        self.marks.set_xdata([s["p50_us"], s["p90_us"], s["p99_us"], s["p99.9_us"]])
        cdf_limits = _latency_limits(view.quantiles_us, s["max_us"])
        self.ax_cdf.set_xlim(*cdf_limits)
        plots.log_ticks(self.ax_cdf.xaxis, *cdf_limits)
        self.title.set_text(f"p99 {_fmt(s['p99_us'])} µs, max {_fmt(s['max_us'])} µs")
        self.image.value = self.blitter.png((cdf_limits, rate_limit))
        return self.image.value
