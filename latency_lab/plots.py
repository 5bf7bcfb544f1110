"""One visual style for the course: latency ECDFs on a log axis, percentile bars (all lessons).

Every figure labels its latency axis with a unit, taken from the data where the data carries
one: a ``LatencyTracker`` is in ns, an engine ``SimulationResult`` in µs (its ``latency``),
a pandas Series or DataFrame column named ``..._ns``/``..._us``/``..._ms``/``..._s`` in that
unit, a summary with keys such as ``p99_ns`` in ns. Plain arrays carry none: pass ``unit=``.
An explicit ``unit=`` always wins; data whose own unit differs is converted to it.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter

from latency_lab import stats, units, validate
from latency_lab.tracker import LatencyTracker

#: The percentiles drawn as markers and bars.
TAIL = stats.SUMMARY_PERCENTILES

#: Nanoseconds per unit, for the units a latency may carry.
_NS_PER = {"ns": 1, "us": units.NS_PER_US, "ms": units.NS_PER_MS, "s": units.NS_PER_S}
_SUFFIX = re.compile(r"_(ns|us|µs|ms|s)$")
_LATENCY_KEY = re.compile(r"^(mean|std|min|max|p\d+(\.\d+)?)$")
_SI = EngFormatter(sep="")  # 20k, 2M


def use_style() -> None:
    """Apply the course's plotting style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.figsize": (8, 4.5), "figure.dpi": 100, "axes.titleweight": "bold"})


def _axes(ax):
    return ax if ax is not None else plt.subplots()[1]


def _unit_name(unit) -> str:
    unit = "us" if unit == "µs" else unit
    return validate.one_of("unit", unit, tuple(_NS_PER))


def _suffix_unit(name) -> str | None:
    match = _SUFFIX.search(name) if isinstance(name, str) else None
    return None if match is None else _unit_name(match.group(1))


def _latencies(data) -> tuple[np.ndarray, str | None]:
    """Samples and their unit (None if the data does not say) from one series-like object."""
    if isinstance(data, LatencyTracker):
        return data.samples(), data.unit
    # a SimulationResult can only exist if the engine was imported: no import cost otherwise
    engine = sys.modules.get("latency_lab.engine")
    if engine is not None and isinstance(data, engine.SimulationResult):
        return data.latency, "us"
    if isinstance(data, pd.Series):
        return data.to_numpy(), _suffix_unit(data.name)
    return data, None


def _series(data) -> dict[str, object]:
    """Label -> series-like object, from a mapping, a DataFrame or one series-like object."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, pd.DataFrame):
        return {str(column): data[column] for column in data.columns}
    if isinstance(data, pd.Series) and data.name is not None:
        return {str(data.name): data}
    return {type(data).__name__: data}


def _common_unit(found: dict[str, str | None], unit) -> tuple[str, dict[str, float]]:
    """The axis unit and the factor that converts each label's values to it."""
    if not found:
        raise ValueError("data is empty: there is nothing to plot")
    if unit is not None:
        target = _unit_name(unit)
    else:
        missing = [label for label, u in found.items() if u is None]
        if missing:
            raise ValueError(
                f"unit is needed: the data of {missing[0]!r} does not say its unit; pass "
                f"unit= one of {tuple(_NS_PER)} or 'µs'"
            )
        target = next(iter(found.values()))
    factors = {
        label: 1.0 if u is None or u == target else _NS_PER[u] / _NS_PER[target]
        for label, u in found.items()
    }
    return target, factors


def _plain(value: float) -> str:
    """A tick label: 0.5, 20, 1,500, 20k, 2M."""
    return _SI(value) if value >= 10_000 else f"{value:,g}"


def log_ticks(axis, low: float, high: float) -> None:
    """Label a log axis spanning ``low``..``high`` with short numbers that never collide: at
    1, 1.5, 2, 3, 4, 5, 6, 8 × 10ⁿ under 0.6 decades, 1, 2, 3, 5 × 10ⁿ under one, 1, 2, 5 × 10ⁿ
    up to three, powers of ten beyond; minor ticks stay unlabelled."""
    low = validate.real("low", low, low=0, low_open=True)
    high = validate.real("high", high, low=0, low_open=True)
    if high < low:
        raise ValueError(f"low must be <= high, got low={low:g} and high={high:g}")
    decades = math.log10(high / low)
    if decades < 0.6:
        subs = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
    elif decades < 1.0:
        subs = (1.0, 2.0, 3.0, 5.0)
    else:
        subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    axis.set_minor_formatter(NullFormatter())


def _log_ticks_if_positive(axis, limits) -> None:
    low, high = limits
    if 0 < low <= high < math.inf:  # otherwise matplotlib's own ticks stay
        log_ticks(axis, low, high)


def _label(unit: str) -> str:
    return units.LABELS[unit]


def ecdf(data, unit: str | None = None, ax=None, title=None, tail=False):
    """Latency ECDFs on a log-x axis, one line per label, with p50/p90/p99/p99.9 marked.

    ``data`` is a mapping label -> samples, a DataFrame (one line per column) or one
    series-like object; samples are arrays, pandas Series, ``LatencyTracker`` or engine
    ``SimulationResult`` objects. The axis unit comes from the data (see the module
    docstring) unless ``unit`` is given. With ``tail=True`` the y axis is a logit scale
    labelled p50 ... p99.99, which gives the top 1% and 0.1% of samples as much room as the
    bulk. Returns the matplotlib Axes.
    """
    ax = _axes(ax)
    raw = {label: _latencies(obj) for label, obj in _series(data).items()}
    target, factors = _common_unit({label: u for label, (_, u) in raw.items()}, unit)
    converted = {}
    for label, (samples, _) in raw.items():
        samples = validate.samples(f"samples of {label!r}", samples)
        converted[label] = samples * factors[label] if factors[label] != 1.0 else samples
    for label, samples in converted.items():
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
    ax.set_xlabel(f"latency ({_label(target)}, log scale)")
    if tail:
        ticks = [0.5, 0.9, 0.99, 0.999, 0.9999]
        ax.set_yscale("logit")
        ax.set_yticks(ticks, [stats.percentile_label(100 * t) for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.25, 0.99995)
        ax.set_ylabel("percentile (logit scale)")
        # start the x axis where the visible part (from p25) begins, not at the minimum
        lowest = min(stats.percentiles(samples, 25) for samples in converted.values())
        if lowest > 0:
            ax.set_xlim(left=lowest / 1.5)
    else:
        ax.set_ylim(0, 1.01)
        ax.set_ylabel("fraction of samples ≤ x")
    _log_ticks_if_positive(ax.xaxis, ax.get_xlim())
    marker = Line2D([], [], ls="none", marker="o", ms=4, color="0.4")
    handles, labels = ax.get_legend_handles_labels()
    markers_label = ", ".join(stats.percentile_label(p) for p in TAIL)
    ax.legend([*handles, marker], [*labels, markers_label], loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def _is_summary(obj) -> bool:
    return isinstance(obj, Mapping) and any(
        _LATENCY_KEY.match(_SUFFIX.sub("", key)) for key in obj if isinstance(key, str)
    )


def _summary_of(obj) -> tuple[dict[str, float], str | None]:
    """A summary with bare keys (p50 ... max) and its unit, from a summary or samples."""
    if not isinstance(obj, Mapping):
        samples, unit = _latencies(obj)
        return stats.summary(samples), unit
    bare, found = {}, set()
    for key, value in obj.items():
        name = _SUFFIX.sub("", key) if isinstance(key, str) else key
        if isinstance(name, str) and _LATENCY_KEY.match(name):  # only latency keys carry one
            bare[name] = value
            found.add(_suffix_unit(key))
    if len(found) > 1:
        raise ValueError(f"a summary mixes units: {sorted(map(str, found))}")
    return bare, found.pop() if found else None


def percentile_bars(data, unit: str | None = None, ax=None, title=None):
    """Grouped bars of p50, p90, p99, p99.9 and max per label, on a log-y axis.

    ``data`` maps labels to summaries (from :func:`latency_lab.stats.summary`,
    ``LatencyTracker.summary()`` or the engine) or to samples (anything :func:`ecdf`
    takes). The unit comes from the data (keys such as ``p99_ns``, a tracker, a result)
    unless ``unit`` is given; values in another known unit are converted to it.
    """
    ax = _axes(ax)
    if _is_summary(data):  # one summary, not a mapping of them
        data = {"": data}
    summaries = {label: _summary_of(obj) for label, obj in _series(data).items()}
    target, factors = _common_unit({label: u for label, (_, u) in summaries.items()}, unit)
    keys = [stats.percentile_label(p) for p in TAIL] + ["max"]
    width = 0.8 / max(len(summaries), 1)
    for i, (label, (summary, _)) in enumerate(summaries.items()):
        missing = [k for k in keys if k not in summary]
        if missing:
            raise ValueError(f"the summary of {label!r} lacks {missing}")
        heights = [summary[k] * factors[label] for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, heights, width, label=label or None)
    ax.set_xticks(np.arange(len(keys)) + width * (len(summaries) - 1) / 2, keys)
    ax.set_yscale("log")
    _log_ticks_if_positive(ax.yaxis, ax.get_ylim())
    ax.set_ylabel(f"latency ({_label(target)}, log scale)")
    if any(summaries):
        ax.legend()
    if title:
        ax.set_title(title)
    return ax
