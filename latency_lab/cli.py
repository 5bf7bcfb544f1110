"""The ``latency-lab`` command line (lesson 07): a baseline run and parameter sweeps, as CSV and PNG.

``latency-lab baseline`` simulates one scenario under one policy for one seed and writes
``summary.csv`` (one row), ``batches.csv`` (one row per batch), ``latency_cdf.png`` and
``percentile_bars.png``, with a summary table on stdout. ``latency-lab sweep`` runs every
combination of its list flags with every seed, one :func:`latency_lab.sweep.run_one` row
per (config, seed), appended to ``sweep.csv`` as each run completes; at the end it puts the
rows in sweep order (the same file whatever ``--jobs``) and writes ``sweep_summary.csv``
(one line per config over its seeds), ``p99_heatmap.png`` and ``frontier.png``.

List flags take comma-separated values; ``...`` continues the pattern of the values before
it up to the value after it, which must be reached exactly: arithmetic from the last two
(``0,10,...,50`` is 0, 10, 20, 30, 40, 50), or geometric when the last three have a common
ratio and not a common difference (``1,2,4,...,256`` is the powers of two). Integer lists
also take inclusive ranges: ``0-9``. Values may be written ``1e6`` or ``1_000_000``.

Exit codes: 0 done; 2 a bad flag or value (one line on stderr naming it); 130 interrupted
(a sweep keeps the rows written so far: rerun with ``--resume``); 1 anything unexpected
(one line; set ``LATENCY_LAB_DEBUG=1`` for the traceback). Commands are entries of
:data:`COMMANDS`, so a new one is a function that adds its flags and a function that runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import EngFormatter

import latency_lab
from latency_lab import plots, scenarios, sweep, units, validate

#: Environment variable that makes unexpected errors print their traceback.
DEBUG_ENV = "LATENCY_LAB_DEBUG"
#: Most values one list flag may expand to.
MAX_LIST_VALUES = 10_000
#: Most panels in the sweep's heatmap (one per combination of the settings besides
#: max_batch and max_wait_us); the CSV files hold every config.
MAX_PANELS = 12
#: Exit status of an interrupted command (128 + SIGINT).
INTERRUPTED = 130

_ELLIPSES = ("...", "…")
_RANGE = re.compile(r"^(\d[\d_]*)-(\d[\d_]*)$")
_CONFIG_FIELDS = tuple(f.name for f in fields(sweep.Config))


class UsageError(Exception):
    """A bad flag or value found after parsing; the message names the flag (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2), no usage dump."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


# -- list syntax ---------------------------------------------------------------------------
def _number(item: str, integer: bool, allow_inf: bool) -> Fraction | float:
    if allow_inf and item.lower() in ("inf", "infinity"):
        return math.inf
    try:
        value = Fraction(item)
    except (ValueError, ZeroDivisionError):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{item!r} is not {kind}") from None
    if integer and value.denominator != 1:
        raise ValueError(f"{item!r} is not an integer")
    return value


def _log(value: Fraction) -> float:
    """Natural log of a positive fraction, however large its numerator or denominator."""
    return math.log(value.numerator) - math.log(value.denominator)


def _continue(before: list, end, text: str) -> list:
    """The values after ``before[-1]`` up to ``end`` (included) by the pattern of ``before``."""
    if len(before) < 2 or any(isinstance(v, float) for v in (*before[-3:], end)):
        raise ValueError(f"{text}: '...' needs two or more finite numbers before it and one after")
    a, b = before[-2], before[-1]
    geometric = False
    if len(before) >= 3:
        z = before[-3]
        if b - a != a - z:
            if z == 0 or a == 0 or Fraction(a, z) != Fraction(b, a):
                raise ValueError(
                    f"{text}: {z}, {a}, {b} is neither arithmetic nor geometric, so '...' "
                    "cannot continue it"
                )
            geometric = True
    if not geometric:
        step = b - a
        count = (end - b) / step if step else -1
        if step == 0 or count <= 0 or count.denominator != 1:
            raise ValueError(f"{text}: steps of {step} from {b} do not reach {end}")
        if count > MAX_LIST_VALUES:
            raise ValueError(f"{text}: more than MAX_LIST_VALUES = {MAX_LIST_VALUES:,} values")
        return [b + step * i for i in range(1, int(count) + 1)]
    ratio = Fraction(b, a)
    quotient = Fraction(end, b) if b else Fraction(-1)
    steps = _log(quotient) / _log(ratio) if ratio > 0 and quotient > 0 and ratio != 1 else -1.0
    if steps > MAX_LIST_VALUES:
        raise ValueError(f"{text}: more than MAX_LIST_VALUES = {MAX_LIST_VALUES:,} values")
    count = round(steps)
    if count < 1 or b * ratio**count != end:
        raise ValueError(f"{text}: ×{ratio} from {b} does not reach {end}")
    return [b * ratio**i for i in range(1, count + 1)]


def parse_list(text: str, *, integer: bool = False, allow_inf: bool = False) -> list:
    """Values of a list flag (lesson 07): ``'1,2,4,...,256'``, ``'0,10,100'``, ``'0-9'``.

    Comma-separated numbers; ``...`` continues the values before it to the one after it
    (arithmetic from the last two, or geometric when the last three share a ratio but not
    a difference; the end must be reached exactly); with ``integer``, ``a-b`` is the
    inclusive range a..b; with ``allow_inf``, ``inf`` is a value. Returns ints (``integer``)
    or floats, in the order written. Raises ``ValueError`` for anything else, repeated
    values, or more than :data:`MAX_LIST_VALUES` values.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise ValueError(f"{text!r} has an empty item")
    values: list = []
    i = 0
    while i < len(items):
        item = items[i]
        if item in _ELLIPSES:
            if i + 1 >= len(items) or items[i + 1] in _ELLIPSES:
                raise ValueError(f"{text}: '...' needs a value after it")
            end = _number(items[i + 1], integer, allow_inf)
            values.extend(_continue(values, end, text))
            i += 2
        elif integer and (match := _RANGE.match(item)):
            low, high = (int(g) for g in match.groups())
            if high < low:
                raise ValueError(f"{text}: the range {item} is empty")
            if high - low + 1 + len(values) > MAX_LIST_VALUES:
                raise ValueError(f"{text}: more than MAX_LIST_VALUES = {MAX_LIST_VALUES:,} values")
            values.extend(Fraction(v) for v in range(low, high + 1))
            i += 1
        else:
            values.append(_number(item, integer, allow_inf))
            i += 1
        if len(values) > MAX_LIST_VALUES:
            raise ValueError(f"{text}: more than MAX_LIST_VALUES = {MAX_LIST_VALUES:,} values")
    out = [int(v) if integer else float(v) for v in values]
    repeated = sorted({v for v in out if out.count(v) > 1}) if len(set(out)) < len(out) else []
    if repeated:
        raise ValueError(f"{text}: {repeated[0]} appears more than once")
    return out


def _flag_type(convert: Callable[[str], object], name: str) -> Callable[[str], object]:
    """An argparse type: ``convert``'s ValueError/TypeError becomes argparse's error line."""

    def parse(text: str):
        try:
            return convert(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _names(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def convert(text: str) -> list[str]:
        names = [item.strip() for item in text.split(",")]
        for name in names:
            if name not in allowed:
                raise ValueError(f"{name!r} is not one of {', '.join(allowed)}")
        if len(set(names)) < len(names):
            raise ValueError(f"{text}: a name appears more than once")
        return names

    return convert


def _one(convert: Callable[[str], list]) -> Callable[[str], object]:
    def single(text: str):
        values = convert(text)
        if len(values) != 1:
            raise ValueError(f"{text!r}: give one value, not a list")
        return values[0]

    return single


_INTS = lambda text: parse_list(text, integer=True)  # noqa: E731
_FLOATS = lambda text: parse_list(text)  # noqa: E731
_WAITS = lambda text: parse_list(text, allow_inf=True)  # noqa: E731
_SCENARIOS = _names(tuple(scenarios.SCENARIOS))
_POLICIES = _names(sweep.POLICIES)

#: Config flags: (field, list parser, metavar, help). The sweep takes lists, baseline one value.
_CONFIG_FLAGS = (
    ("scenario", _SCENARIOS, "NAME", f"workload: {', '.join(scenarios.SCENARIOS)}"),
    ("policy", _POLICIES, "NAME", f"batch policy: {', '.join(sweep.POLICIES)}"),
    ("max_batch", _INTS, "N", "batch size (static, greedy, timeout) or limit (aimd, queue_depth)"),
    ("max_wait_us", _WAITS, "US", "longest wait of the oldest event, µs (inf allowed)"),
    ("slo_us", _FLOATS, "US", "aimd: service time objective, µs"),
    ("target", _INTS, "N", "queue_depth: backlog that triggers a batch of everything waiting"),
    ("interval_us", _WAITS, "US", "aimd, queue_depth: decide every US µs instead of per batch"),
    ("setup_us", _FLOATS, "US", "override the service's cost per batch, µs"),
    ("per_item_us", _FLOATS, "US", "override the service's cost per event, µs"),
    ("service_cv", _FLOATS, "CV", "override the service time's coefficient of variation"),
)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _add_config_flags(parser: argparse.ArgumentParser, lists: bool) -> None:
    defaults = sweep.Config()
    for field, convert, metavar, help_text in _CONFIG_FLAGS:
        default = getattr(defaults, field) if field in ("scenario", "policy", "max_batch") else None
        if default is not None:
            help_text += f" (default {default})"
        elif field in ("max_wait_us", "slo_us", "target"):
            help_text += " (default: the policy's)"
        elif field in ("setup_us", "per_item_us", "service_cv"):
            help_text += " (default: the scenario's)"
        parser.add_argument(
            _flag(field),
            dest=field,
            type=_flag_type(convert if lists else _one(convert), field),
            metavar=f"{metavar}[,{metavar}...]" if lists else metavar,
            help=help_text,
        )
    parser.add_argument(
        "--events",
        type=_flag_type(_one(_INTS), "events"),
        default=defaults.events,
        metavar="N",
        help=f"events per run, 1 to {sweep.MAX_RUN_EVENTS:,} (default {defaults.events:,})",
    )


def _translate(message: str) -> str:
    """A library message in terms of the command's flags (``max_wait_us`` -> ``--max-wait-us``)."""
    first, sep, rest = message.partition(" ")
    lead = first.rstrip(":")
    if lead in _CONFIG_FIELDS or lead in ("seed", "seeds", "jobs", "scheduler", "backend"):
        message = _flag(lead) + first[len(lead) :] + sep + rest
    elif lead in ("grid", "configs"):
        message = "the list flags' combinations" + first[len(lead) :] + sep + rest
    for field in _CONFIG_FIELDS:
        if "_" in field:
            message = re.sub(rf"(?<![\w-]){field}(?!\w)", _flag(field), message)
    return message


@contextlib.contextmanager
def _flags_named():
    """Turn a library's ValueError/TypeError into a UsageError naming the flags."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise UsageError(_translate(str(exc))) from None


def _out_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {str(path)!r}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise UsageError(f"--out: {str(path)!r} is not writable")
    return path


# -- writing rows --------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _write_row(writer, row: dict) -> None:
    writer.writerow([_cell(row[c]) for c in sweep.COLUMNS])


def _csv_writer(handle):
    return csv.writer(handle, lineterminator="\n")


_HEADER = ",".join(sweep.COLUMNS) + "\n"
_KEY, _SEED = sweep.COLUMNS.index("key"), sweep.COLUMNS.index("seed")


def _read_rows(path: Path) -> dict[tuple[str, int], str]:
    """The finished rows of a sweep file, by (key, seed), as their lines; a last line cut
    short by a kill is dropped from the file."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith(_HEADER):
        raise UsageError(
            f"--resume: {str(path)!r} does not start with this version's sweep columns: use "
            "another --out, or --overwrite"
        )
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a row cut short: run it again
        path.write_text(text, encoding="utf-8")
    done: dict[tuple[str, int], str] = {}
    lines = text[len(_HEADER) :].splitlines(keepends=True)
    for number, (line, fields_) in enumerate(zip(lines, csv.reader(lines), strict=True), 2):
        if len(fields_) != len(sweep.COLUMNS) or not fields_[_SEED].isdigit():
            raise UsageError(f"--resume: line {number} of {str(path)!r} is not a sweep row")
        done.setdefault((fields_[_KEY], int(fields_[_SEED])), line)
    return done


def _put_in_order(path: Path, plan: list[sweep.Task]) -> None:
    """Rewrite the file with the plan's rows in plan order (then any others, as they were)."""
    rows = _read_rows(path)
    ordered = [rows.pop((t.config.key, t.seed)) for t in plan]
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(_HEADER + "".join(ordered) + "".join(rows.values()), encoding="utf-8")
    os.replace(temporary, path)


# -- figures -------------------------------------------------------------------------------
@contextlib.contextmanager
def _figure(path: Path, **subplots):
    """A figure in the course's style (no pyplot state), saved to ``path`` on exit."""
    with matplotlib.rc_context():
        plots.use_style()
        fig = Figure(figsize=subplots.pop("figsize", (8, 4.5)), layout="constrained")
        yield fig, fig.subplots(**subplots)
        fig.savefig(path, dpi=100)


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _heatmap(summary: pd.DataFrame, path: Path, varied: list[str]) -> None:
    """p99 (median over seeds) over (max_batch, max_wait_us): one panel per scenario, policy
    and combination of the ``varied`` settings (at most :data:`MAX_PANELS`); hatched cells
    were unstable in some seed."""
    fixed = ("scenario", "policy", "max_batch", "max_wait_us")
    others = ["scenario", "policy", *(f for f in varied if f not in fixed)]
    panels = [group for _, group in summary.groupby(others, sort=False, dropna=False)]
    panels = panels[:MAX_PANELS]
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    values = summary["p99_us_median"]
    low, high = float(values.min()), float(values.max())
    norm = LogNorm(vmin=low, vmax=high if high > low else low * 1.01)
    short = EngFormatter(places=0, sep="")
    size = (4.5 * columns + 1.5, 3.8 * rows + 0.6)
    with _figure(path, nrows=rows, ncols=columns, squeeze=False, figsize=size) as (fig, axes):
        for ax, panel in zip(axes.flat, panels, strict=False):
            batches = sorted(panel["max_batch"].unique())
            waits = sorted(panel["max_wait_us"].unique())
            grid = np.full((len(waits), len(batches)), np.nan)
            unstable = np.zeros(grid.shape, dtype=bool)
            for line in panel.itertuples():
                i, j = waits.index(line.max_wait_us), batches.index(line.max_batch)
                grid[i, j] = line.p99_us_median
                unstable[i, j] = line.stable_runs < line.seeds
            image = ax.imshow(grid, norm=norm, cmap="viridis", aspect="auto", origin="lower")
            ax.grid(False)
            for i, j in zip(*np.nonzero(unstable), strict=True):
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="xx", lw=0, color="0.9")
                )
            if grid.size <= 160:
                for (i, j), value in np.ndenumerate(grid):
                    if not np.isnan(value):
                        color = "k" if norm(value) > 0.6 else "w"
                        ax.text(j, i, short(value), ha="center", va="center", fontsize=7,
                                color=color)  # fmt: skip
            ax.set_xticks(range(len(batches)), [_label(b) for b in batches])
            ax.set_yticks(range(len(waits)), [_label(w) for w in waits])
            ax.set_xlabel("max_batch")
            ax.set_ylabel("max_wait_us (µs)")
            first = panel.iloc[0]
            title = [first.scenario, first.policy, *(f"{f}={_label(first[f])}" for f in others[2:])]
            ax.set_title(", ".join(title), fontsize=10)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        fig.colorbar(image, ax=axes, label="p99 latency (µs), median over seeds")
        fig.suptitle("p99 over (max_batch, max_wait_us); hatched: unstable in some seed")


def _frontier(summary: pd.DataFrame, path: Path) -> None:
    """p99 (median over seeds) against the throughput each config can sustain, and the
    configs no other beats on both (the frontier), one colour per scenario."""
    with _figure(path) as (fig, ax):
        for name, group in summary.groupby("scenario", sort=False):
            points = ax.scatter(
                group["capacity_per_s"], group["p99_us_median"], s=18, alpha=0.5, label=name
            )
            best = sweep.frontier(group, x="capacity_per_s", y="p99_us_median")
            ax.plot(
                best["capacity_per_s"], best["p99_us_median"], "-o", ms=5,
                color=points.get_facecolor()[0][:3], label=f"{name}: frontier",
            )  # fmt: skip
            for k, line in enumerate(best.itertuples()):
                text = f"{line.policy} b={line.max_batch} w={_label(line.max_wait_us)}"
                ax.annotate(text, (line.capacity_per_s, line.p99_us_median), fontsize=7,
                            xytext=(4, 6 if k % 2 else -10), textcoords="offset points")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sustainable throughput at max_batch (events/s, log scale)")
        ax.set_ylabel("p99 latency (µs, median over seeds, log scale)")
        ax.set_title("latency–throughput frontier: the line joins configs no other beats on both")
        ax.legend(fontsize=8)


# -- commands ------------------------------------------------------------------------------
def _config_from(args: argparse.Namespace) -> dict[str, object]:
    given = {f: getattr(args, f) for f, *_ in _CONFIG_FLAGS if getattr(args, f) is not None}
    return {**given, "events": args.events}


def _add_baseline(parser: argparse.ArgumentParser) -> None:
    _add_config_flags(parser, lists=False)
    parser.add_argument(
        "--seed", type=_flag_type(_one(_INTS), "seed"), default=0, metavar="N",
        help="seed of the whole run: traffic and service (default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("results"), metavar="DIR",
        help="folder for summary.csv, batches.csv, latency_cdf.png, percentile_bars.png "
        "(default results; files there are replaced)",
    )  # fmt: skip


def _print_summary(config: sweep.Config, row: dict) -> None:
    us = units.LABELS["us"]
    params = [f"{f}={_label(getattr(config, f))}" for f in _CONFIG_FIELDS[2:]]
    params = [p for p in params if not p.endswith("=None") and not p.startswith("events=")]
    lines = [
        f"{config.scenario}, policy {config.policy}, {config.events:,} events, seed {row['seed']}",
        "  " + " ".join(params),
        *(
            f"  {k.removesuffix('_us'):<12}{row[k]:>14.1f} {us}"
            for k in ("p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "mean_us")
        ),  # fmt: skip
        f"  {'throughput':<12}{row['throughput_per_s']:>14,.0f} events/s",
        f"  {'offered':<12}{row['offered_rate_per_s']:>14,.0f} events/s",
        f"  {'capacity':<12}{row['capacity_per_s']:>14,.0f} events/s at max_batch",
        f"  {'utilization':<12}{row['utilization']:>14.3f}",
        f"  {'batches':<12}{row['batches']:>14,} (mean size {row['mean_batch']:.2f})",
        f"  {'stable':<12}{'yes' if row['stable'] else 'no':>14}",
    ]
    print("\n".join(lines))


def _run_baseline(args: argparse.Namespace) -> int:
    with _flags_named():
        config = sweep.as_config(_config_from(args))
        seed = validate.integer("seed", args.seed, low=0, high=sweep.MAX_SEED)
    out = _out_dir(args.out)
    with _flags_named():
        result = sweep.simulate(config, seed)
    row = sweep.make_row(config, seed, result)
    _print_summary(config, row)
    with open(out / "summary.csv", "w", newline="", encoding="utf-8") as handle:
        handle.write(_HEADER)
        _write_row(_csv_writer(handle), row)
    result.batches_frame().to_csv(out / "batches.csv", index_label="batch")
    label = f"{config.policy} b={config.max_batch} w={_label(config.max_wait_us)}"
    title = f"{config.scenario}: {config.events:,} events, seed {seed}"
    with _figure(out / "latency_cdf.png") as (_, ax):
        plots.ecdf({label: result}, ax=ax, title=title)
    with _figure(out / "percentile_bars.png") as (_, ax):
        plots.percentile_bars({label: result}, ax=ax, title=title)
    names = ("summary.csv", "batches.csv", "latency_cdf.png", "percentile_bars.png")
    print(f"wrote {', '.join(str(out / n) for n in names)}", file=sys.stderr)
    return 0


_SWEEP_EPILOG = """\
list flags: comma-separated values. '...' continues the values before it up to the value
after it, which must be reached exactly: arithmetic from the last two (0,10,...,50 is
0 10 20 30 40 50), or geometric when the last three share a ratio but not a difference
(1,2,4,...,256 is the powers of two). Integer lists also take inclusive ranges (0-9).

writes DIR/sweep.csv (one row per config and seed, appended as runs complete, then put in
sweep order: the same file whatever --jobs), DIR/sweep_summary.csv (one line per config:
median, min and max over seeds), DIR/p99_heatmap.png and DIR/frontier.png.
Ctrl-C keeps the rows written so far; the same command with --resume finishes the sweep.

limits: {limits}
exit status: 0 done, 2 bad flag or value, 130 interrupted, 1 unexpected error
"""


def _add_sweep(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    limits = (
        f"{sweep.MAX_RUN_EVENTS:,} events per run, {sweep.MAX_CONFIGS:,} configs, "
        f"{sweep.MAX_SEEDS:,} seeds,\n  {sweep.MAX_RUNS:,} runs and {sweep.MAX_TOTAL_EVENTS:,} "
        f"events per sweep, {MAX_LIST_VALUES:,} values per list"
    )
    parser.epilog = _SWEEP_EPILOG.format(limits=limits)
    _add_config_flags(parser, lists=True)
    parser.add_argument(
        "--seeds", type=_flag_type(_INTS, "seeds"), default=[0], metavar="LIST",
        help="seeds, e.g. 0-9 or 1,5,9 (default 0); every config runs with every seed",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=_flag_type(_one(_INTS), "jobs"), default=None, metavar="N",
        help=f"local worker processes, 1 to {sweep.MAX_JOBS} (default 1: in this process)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=sweep.BACKENDS, default="loky",
        help="loky: local processes (default); dask: a Dask cluster, see --scheduler",
    )  # fmt: skip
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="Dask scheduler address with --backend dask, e.g. tcp://127.0.0.1:8786",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("sweep"), metavar="DIR",
        help="folder for sweep.csv, sweep_summary.csv, p99_heatmap.png, frontier.png "
        "(default sweep)",
    )  # fmt: skip
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume", action="store_true",
        help="continue DIR/sweep.csv: skip the (config, seed) runs it already holds",
    )  # fmt: skip
    existing.add_argument(
        "--overwrite", action="store_true", help="start DIR/sweep.csv over if it exists"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _check_size(args: argparse.Namespace) -> None:
    """Refuse a sweep beyond the limits of :mod:`latency_lab.sweep`, naming the flags."""
    lists = {f: getattr(args, f) for f, *_ in _CONFIG_FLAGS if getattr(args, f) is not None}
    flags = [_flag(f) for f, values in lists.items() if len(values) > 1]
    count = math.prod(len(values) for values in lists.values())
    if count > sweep.MAX_CONFIGS:
        raise UsageError(
            f"{' × '.join(flags)}: {count:,} combinations, above MAX_CONFIGS = "
            f"{sweep.MAX_CONFIGS:,}"
        )
    runs = count * len(args.seeds)
    if runs > sweep.MAX_RUNS:
        raise UsageError(
            f"{' × '.join([*flags, '--seeds'])}: {runs:,} runs, above MAX_RUNS = {sweep.MAX_RUNS:,}"
        )
    total = runs * args.events
    if total > sweep.MAX_TOTAL_EVENTS:
        raise UsageError(
            f"{' × '.join(['--events', *flags, '--seeds'])}: {total:,} events in all, above "
            f"MAX_TOTAL_EVENTS = {sweep.MAX_TOTAL_EVENTS:,}"
        )


def _run_sweep(args: argparse.Namespace) -> int:
    given = _config_from(args)
    with _flags_named():
        validate.integer("events", args.events, low=1, high=sweep.MAX_RUN_EVENTS)
    _check_size(args)
    with _flags_named():
        configs = sweep.grid(**given)
        plan = sweep.tasks(configs, args.seeds)
        jobs = 1 if args.jobs is None else args.jobs
        jobs = validate.integer("jobs", jobs, low=1, high=sweep.MAX_JOBS)
    if args.backend == "dask" and not args.scheduler:
        raise UsageError("--scheduler ADDRESS is required with --backend dask")
    if args.backend != "dask" and args.scheduler:
        raise UsageError("--scheduler applies to --backend dask only")
    if args.backend == "dask" and args.jobs is not None:
        print("note: --jobs is not used with --backend dask (the workers set it)", file=sys.stderr)
    out = _out_dir(args.out)
    path = out / "sweep.csv"
    done: dict = {}
    if path.exists() and path.stat().st_size > 0:
        if args.resume:
            done = _read_rows(path)
        elif args.overwrite:
            path.unlink()
        else:
            raise UsageError(
                f"--out: {str(path)!r} exists: pass --resume to continue it or --overwrite "
                "to start over"
            )
    todo = [task for task in plan if (task.config.key, task.seed) not in done]
    if done:
        skipped = len(plan) - len(todo)
        print(f"resuming: {skipped:,} of {len(plan):,} runs already in {path}", file=sys.stderr)
    written = 0
    with _flags_named():
        rows = sweep.iter_rows(
            todo, jobs=jobs, backend=args.backend, scheduler=args.scheduler,
            progress=not args.no_progress,
        )  # fmt: skip
    try:
        with open(path, "a", newline="", encoding="utf-8") as handle:
            if handle.tell() == 0:
                handle.write(_HEADER)
            writer = _csv_writer(handle)
            for _, row in rows:
                _write_row(writer, row)
                handle.flush()
                written += 1
    except KeyboardInterrupt:
        rows.close()
        kept = len(plan) - len(todo) + written
        print(
            f"interrupted: {kept:,} of {len(plan):,} runs are in {path}; run the same command "
            "with --resume to finish",
            file=sys.stderr,
        )
        return INTERRUPTED
    _put_in_order(path, plan)
    varied = [f for f, *_ in _CONFIG_FLAGS if len(getattr(args, f) or ()) > 1]
    _report_sweep(path, plan, out, varied)
    return 0


def _report_sweep(path: Path, plan: list[sweep.Task], out: Path, varied: list[str]) -> None:
    frame = pd.read_csv(path)
    wanted = {(t.config.key, t.seed) for t in plan}
    frame = frame[[pair in wanted for pair in zip(frame["key"], frame["seed"], strict=True)]]
    summary = sweep.summarize(frame)
    summary.to_csv(out / "sweep_summary.csv", index=False)
    _heatmap(summary, out / "p99_heatmap.png", varied)
    _frontier(summary, out / "frontier.png")
    configs, seeds = summary.shape[0], len(plan) // max(summary.shape[0], 1)
    print(f"{len(plan):,} runs ({configs:,} configs × {seeds:,} seeds) in {path}")
    stable = summary[summary["stable_runs"] == summary["seeds"]]
    best = stable.loc[stable.groupby(["scenario", "policy"], sort=False)["p99_us_median"].idxmin()]
    if best.empty:
        print("no config kept up with the arrivals in every seed (see the stable column)")
    else:
        print("per scenario and policy, the config with the lowest p99 (median over seeds, µs)")
        print("among those stable in every seed:")
        shown = ["scenario", "policy", "max_batch", "max_wait_us", "p99_us_median",
                 "p99_us_min", "p99_us_max", "throughput_per_s_median"]  # fmt: skip
        print(best[shown].to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    names = ("sweep_summary.csv", "p99_heatmap.png", "frontier.png")
    print(f"wrote {', '.join(str(out / n) for n in names)}", file=sys.stderr)


# -- lesson 08: train and evaluate a Q-learning agent -----------------------------------------
_HYPER_FLAGS = ("alpha", "gamma", "epsilon_decay", "epsilon_min", "epsilon", "episodes", "seeds",
                "seed", "events", "scenarios", "scenario", "jobs")  # fmt: skip


def _rl_usage(message: str) -> UsageError:
    """A library message with the RL flags named (``epsilon_decay`` -> ``--epsilon-decay``)."""
    for name in _HYPER_FLAGS:
        message = re.sub(rf"(?<![\w-]){name}(?=\W|$)", _flag(name), message)
    return UsageError(message)


def _add_train(parser: argparse.ArgumentParser) -> None:
    from latency_lab import agent

    hyper = agent.Hyper()
    parser.add_argument(
        "--scenario",
        type=_flag_type(_one(_SCENARIOS), "scenario"),
        default="regime_shift",
        metavar="NAME",
        help=f"workload: {', '.join(scenarios.SCENARIOS)} (default regime_shift)",
    )
    parser.add_argument(
        "--episodes",
        type=_flag_type(_one(_INTS), "episodes"),
        default=200,
        metavar="N",
        help="training episodes (default 200)",
    )
    parser.add_argument(
        "--events",
        type=_flag_type(_one(_INTS), "events"),
        default=36_000,
        metavar="N",
        help="events per episode (default 36,000: one regime cycle)",
    )
    for name, help_text in [("alpha", "step size"), ("gamma", "discount per 1 ms step"),
                            ("epsilon", "exploration rate at the start"),
                            ("epsilon_decay", "ε multiplier after each episode"),
                            ("epsilon_min", "floor of ε")]:  # fmt: skip
        default = getattr(hyper, name)
        parser.add_argument(
            _flag(name),
            dest=name,
            type=_flag_type(_one(_FLOATS), name),
            default=default,
            metavar="X",
            help=f"{help_text} (default {default:g})",
        )
    parser.add_argument(
        "--seed",
        type=_flag_type(_one(_INTS), "seed"),
        default=0,
        metavar="N",
        help="agent seed: its random choices and its training instances (default 0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/r1"),
        metavar="DIR",
        help="folder for training_log.csv, agent.npz, training_curve.png "
        "(default runs/r1; files there are replaced)",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar on stderr"
    )


def _run_train(args: argparse.Namespace) -> int:
    from latency_lab import agent

    try:
        hyper = agent.Hyper(alpha=args.alpha, gamma=args.gamma, epsilon=args.epsilon,
                            epsilon_decay=args.epsilon_decay, epsilon_min=args.epsilon_min,
                            seed=args.seed)  # fmt: skip
        learner = agent.QAgent(hyper, {"scenario": args.scenario, "events": args.events})
        validate.integer("episodes", args.episodes, low=1, high=agent.MAX_EPISODES)
    except (TypeError, ValueError) as exc:
        raise _rl_usage(str(exc)) from None
    out = _out_dir(args.out)
    log = agent.train(learner, args.episodes, progress=args.progress)
    log.to_csv(out / "training_log.csv", index=False)
    learner.save(out / "agent.npz")
    with _figure(out / "training_curve.png", nrows=2, sharex=True, figsize=(8, 6)) as (_, axes):
        _training_curve(log, axes)
    last = log.tail(max(1, len(log) // 10))
    print(f"trained {len(log)} episodes of {args.scenario} ({args.events:,} events each); "
          f"last {len(last)}: median reward {last['reward'].median():.3g}, "
          f"median p99 {last['p99_us'].median():.1f} µs, ε {learner.epsilon:.3g}")  # fmt: skip
    names = ("training_log.csv", "agent.npz", "training_curve.png")
    print(f"wrote {', '.join(str(out / n) for n in names)}", file=sys.stderr)
    return 0


def _training_curve(log: pd.DataFrame, axes) -> None:
    """Reward and p99 per episode, each with a rolling median over 10 episodes."""
    top, bottom = axes
    for ax, column, label in [(top, "reward", "episode reward"), (bottom, "p99_us", "p99 (µs)")]:
        ax.plot(log["episode"], log[column], ".", ms=3, alpha=0.5, label="per episode")
        ax.plot(log["episode"], log[column].rolling(10, min_periods=1).median(),
                label="rolling median (10)")  # fmt: skip
        ax.set_ylabel(label)
        ax.legend()
    top.set_yscale("symlog")
    bottom.set_yscale("log")
    bottom.set_xlabel("episode")
    top.set_title("Q-learning: training curve")


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--agent",
        type=Path,
        required=True,
        metavar="PATH",
        help="a folder written by train (its agent.npz) or an agent .npz file",
    )
    parser.add_argument(
        "--seeds",
        type=_flag_type(_INTS, "seeds"),
        default=list(range(100, 120)),
        metavar="N[,N...]",
        help="held-out seeds, e.g. 100-119 (the default)",
    )
    parser.add_argument(
        "--scenarios",
        type=_flag_type(_SCENARIOS, "scenarios"),
        default=None,
        metavar="NAME[,NAME...]",
        help="workloads (default: the agent's own)",
    )
    parser.add_argument(
        "--jobs",
        type=_flag_type(_one(_INTS), "jobs"),
        default=2,
        metavar="N",
        help="worker processes for the baselines (default 2)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for evaluation_runs.csv, evaluation_summary.csv, "
        "latency_cdf.png, percentile_bars.png (default AGENT/eval)",
    )


def _run_evaluate(args: argparse.Namespace) -> int:
    from latency_lab import agent

    path = args.agent / "agent.npz" if args.agent.is_dir() else args.agent
    try:
        learner = agent.QAgent.load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"--agent: {exc}") from None
    try:
        evaluation = agent.evaluate(learner, args.seeds, args.scenarios, jobs=args.jobs)
    except (TypeError, ValueError) as exc:
        raise _rl_usage(str(exc)) from None
    base = args.agent if args.agent.is_dir() else args.agent.parent
    out = _out_dir(args.out if args.out is not None else base / "eval")
    evaluation.runs.to_csv(out / "evaluation_runs.csv", index=False)
    evaluation.table.to_csv(out / "evaluation_summary.csv", index=False)
    chosen = list(dict.fromkeys(evaluation.runs["scenario"]))
    with _figure(out / "latency_cdf.png", ncols=len(chosen), squeeze=False,
                 figsize=(7 * len(chosen), 4.5)) as (_, axes):  # fmt: skip
        for ax, scenario in zip(axes[0], chosen, strict=True):
            pooled = {p: v for (s, p), v in evaluation.latencies.items() if s == scenario}
            plots.ecdf(pooled, unit="us", ax=ax, tail=True,
                       title=f"{scenario}: pooled over the first seeds")  # fmt: skip
    with _figure(out / "percentile_bars.png", ncols=len(chosen), squeeze=False,
                 figsize=(7 * len(chosen), 4.5)) as (_, axes):  # fmt: skip
        for ax, scenario in zip(axes[0], chosen, strict=True):
            pooled = {p: v for (s, p), v in evaluation.latencies.items() if s == scenario}
            plots.percentile_bars(pooled, unit="us", ax=ax, title=scenario)
    for scenario in chosen:
        table = agent.percentile_table(evaluation, scenario)
        print(f"{scenario}: median over {len(args.seeds)} held-out seeds (µs; throughput events/s)")
        print(table.to_string(float_format=lambda v: f"{v:,.1f}"))
    for scenario in chosen:
        print(evaluation.verdicts[scenario])
    names = ("evaluation_runs.csv", "evaluation_summary.csv", "latency_cdf.png",
             "percentile_bars.png")  # fmt: skip
    print(f"wrote {', '.join(str(out / n) for n in names)}", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, a function adding its flags, and its runner
    (which returns the exit status)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: The subcommands, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (
    Command(
        "baseline",
        "simulate one scenario under one policy: summary table, CSVs and figures",
        _add_baseline,
        _run_baseline,
    ),
    Command(
        "sweep",
        "every combination of the list flags with every seed: one CSV row per run, figures",
        _add_sweep,
        _run_sweep,
    ),
    Command(
        "train",
        "train a tabular Q-learning batching agent (lesson 08): log CSV, agent file, curve",
        _add_train,
        _run_train,
    ),
    Command(
        "evaluate",
        "judge a trained agent on held-out seeds against every baseline (lesson 08)",
        _add_evaluate,
        _run_evaluate,
    ),
)


def build_parser(commands: tuple[Command, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The ``latency-lab`` argument parser with one subparser per command."""
    parser = _Parser(
        prog="latency-lab",
        description="Simulate batching under bursty traffic (latency-lab course, lesson 07). "
        "Errors exit with status 2 and one line naming the flag.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=latency_lab.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            allow_abbrev=False,
        )
        command.add_arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``latency-lab`` with ``argv`` (default: the process's arguments); returns the
    exit status: 0 done, 2 bad flag or value, 130 interrupted, 1 unexpected error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a parse error already printed
        return exc.code if isinstance(exc.code, int) else 2
    prog = f"latency-lab {args.command}"
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return args.run(args)
    except UsageError as exc:
        error, message, status = exc, str(exc), 2
    except (ConnectionError, ValueError, TypeError) as exc:  # a refused value, a bad address
        error, message, status = exc, _translate(str(exc)), 2
    except KeyboardInterrupt as exc:
        error, message, status = exc, "interrupted", INTERRUPTED
    except Exception as exc:  # anything else is a bug or the machine: one line, status 1
        error, status = exc, 1
        message = f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)"
    if debug:
        traceback.print_exception(error)
    first_line = message.splitlines()[0] if message.strip() else type(error).__name__
    sys.stderr.write(f"{prog}: error: {first_line}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
