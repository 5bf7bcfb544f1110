"""Latency as Prometheus metrics: a histogram of the tracker's samples, served on loopback,
scraped back, and quantiles computed from its buckets as PromQL does (lesson 10).

A production service does not keep every latency sample: it counts them into a
``prometheus_client`` Histogram (cumulative buckets ``le`` = "less than or equal to" an upper
bound, plus a count and a sum) that a Prometheus server scrapes over HTTP every few seconds.
Alerts are then written in PromQL, e.g. ``histogram_quantile(0.99, rate(..._bucket[5m]))``.

- :class:`LatencyExporter` — a Histogram (seconds, Prometheus's base unit) labelled by
  ``operation``, on a registry of its own (no global state), fed from ns samples or trackers;
- :class:`MetricsServer` — the exporter's ``/metrics`` on 127.0.0.1, on a port the operating
  system picks, started and stopped by the caller; :func:`listening_ports` shows that nothing
  of this process listens any more once it stopped;
- :func:`parse_histograms` — the scraped text back into :class:`ScrapedHistogram` objects;
- :func:`histogram_quantile` — PromQL's estimate of a quantile from cumulative buckets
  (linear interpolation inside the bucket that holds the rank), and :func:`bucket_histogram`,
  what the exporter would hold for given samples, computed without a server;
- :func:`quantile_expr`, :func:`mean_expr` and :func:`alert_rule` — the PromQL and the
  alerting rule text for one operation.
"""

from __future__ import annotations

import math
import os
import re
import socket
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from latency_lab import units, validate
from latency_lab.tracker import LatencyTracker

#: The metric's name: Prometheus names say their unit, and its base unit of time is seconds.
METRIC_NAME = "latency_lab_operation_latency_seconds"
#: The label that tells the operations of the loop apart.
LABEL = "operation"
#: Upper bounds of the latency buckets in seconds: 1-2.5-5 steps from 1 µs to 100 ms (a
#: ``+Inf`` bucket is always added). Defined in ns, converted with ``units``.
LATENCY_BUCKETS_S = tuple(
    ns / units.NS_PER_S
    for ns in (1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
               1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
               100_000_000)
)  # fmt: skip
#: Most buckets a histogram may have (each is a time series in Prometheus).
MAX_BUCKETS = 200
#: Most samples one call may observe (each costs about a microsecond of Python).
MAX_OBSERVATIONS = 10_000_000
#: The address the server binds: loopback only, never reachable from another machine.
LOOPBACK = "127.0.0.1"
#: Seconds a scrape, a start or a stop may take before it is an error.
SCRAPE_TIMEOUT_S = 10.0
#: Largest scraped page read, in bytes.
MAX_SCRAPE_BYTES = 16 * 1024 * 1024
#: Longest alert threshold accepted, in seconds (an hour); the shortest is 1 ns.
MAX_THRESHOLD_S = 3_600.0

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_DURATION = re.compile(r"^[1-9][0-9]{0,5}(ms|s|m|h|d|w)$")
_LISTEN = "0A"  # the state of a listening socket in /proc/net/tcp


def _bounds(name: str, buckets_s) -> tuple[float, ...]:
    """Finite, positive, strictly increasing upper bounds (seconds), at most MAX_BUCKETS."""
    if isinstance(buckets_s, str | bytes) or not isinstance(buckets_s, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of upper bounds in seconds")
    if not 1 <= len(buckets_s) <= MAX_BUCKETS:
        raise ValueError(f"{name} must hold 1 to {MAX_BUCKETS} bounds, got {len(buckets_s)}")
    bounds = tuple(
        validate.real(f"{name}[{i}]", b, low=0.0, low_open=True, allow_inf=i == len(buckets_s) - 1)
        for i, b in enumerate(buckets_s)
    )
    if any(b >= c for b, c in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {bounds}")
    return bounds if math.isinf(bounds[-1]) else (*bounds, math.inf)


def _label_value(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{name} must be 1 to 100 letters, digits or _.:- (it becomes a label value), "
            f"got {value!r}"
        )
    return value


def _latencies_s(name: str, latencies_ns) -> np.ndarray:
    arr = validate.samples(name, latencies_ns, allow_empty=True)
    if arr.size > MAX_OBSERVATIONS:
        raise ValueError(f"{name} may hold at most {MAX_OBSERVATIONS:,} samples, got {arr.size:,}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0 ns, got {arr.min()}")
    return arr / units.NS_PER_S  # the same float division prometheus_client's observe() sees


class LatencyExporter:
    """A ``prometheus_client`` Histogram of per-operation latencies, on its own registry
    (lesson 10).

    The tracker stays the hot path's tool (a preallocated int64 store); the exporter counts
    its samples into buckets afterwards, off the hot path, the way a service would publish
    them in batches. Values are observed in seconds (``ns / units.NS_PER_S``).

    Parameters
    ----------
    buckets_s : sequence of float
        Upper bounds in seconds, positive and strictly increasing (``+Inf`` is added).
    name : str
        The metric's name (Prometheus appends ``_bucket``, ``_count`` and ``_sum``).

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        What :class:`MetricsServer` serves.
    histogram : prometheus_client.Histogram
        Labelled by ``operation``.
    """

    def __init__(self, buckets_s: Sequence[float] = LATENCY_BUCKETS_S, name: str = METRIC_NAME):
        self.buckets_s = _bounds("buckets_s", buckets_s)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}", name):
            raise ValueError(
                f"name must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got {name!r}"
            )
        self.name = name
        self.registry = CollectorRegistry()
        self.histogram = Histogram(
            name,
            "Latency of one operation of the loop, in seconds (latency_lab lesson 10).",
            labelnames=(LABEL,),
            buckets=self.buckets_s,
            registry=self.registry,
        )

    def observe_ns(self, operation: str, latencies_ns) -> int:
        """Count latencies (ns, at most ``MAX_OBSERVATIONS``) into ``operation``'s buckets;
        returns how many were observed."""
        operation = _label_value("operation", operation)
        values_s = _latencies_s("latencies_ns", latencies_ns)
        observe = self.histogram.labels(operation).observe
        for value in values_s.tolist():
            observe(value)
        return values_s.size

    def observe_trackers(self, trackers: Mapping[str, LatencyTracker]) -> int:
        """Observe every stored sample of each tracker under its operation name (the key);
        returns how many were observed in all."""
        if not isinstance(trackers, Mapping):
            raise TypeError("trackers must map operation names to LatencyTracker objects")
        for operation, tracker in trackers.items():
            _label_value("operation", operation)
            if not isinstance(tracker, LatencyTracker):
                raise TypeError(f"trackers[{operation!r}] must be a LatencyTracker")
        return sum(self.observe_ns(op, t.samples()) for op, t in trackers.items())

    def text(self) -> str:
        """The exposition text a scrape of this registry returns."""
        return generate_latest(self.registry).decode()


class MetricsServer:
    """Serves a registry's ``/metrics`` over HTTP on 127.0.0.1, on a free port (lesson 10).

    ``with MetricsServer(exporter.registry) as server:`` starts it (the operating system picks
    the port: :attr:`port`, :attr:`url`) and stops it on leaving the block: the listening
    socket is closed and the server's threads are joined, so nothing listens afterwards. A
    server runs once; make a new one to serve again. It binds loopback only: no other
    machine can reach it.
    """

    def __init__(self, registry: CollectorRegistry):
        if not isinstance(registry, CollectorRegistry):
            raise TypeError("registry must be a prometheus_client.CollectorRegistry")
        self.registry = registry
        self._server = None
        self._thread = None
        self._port: int | None = None
        self.stopped = False

    @property
    def port(self) -> int | None:
        """The port it listens on (None before :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>/metrics`` (None before :meth:`start`)."""
        return None if self._port is None else f"http://{LOOPBACK}:{self._port}/metrics"

    def start(self) -> MetricsServer:
        """Bind 127.0.0.1 on a port the operating system picks and serve in a thread."""
        if self._server is not None or self.stopped:
            raise RuntimeError("this server was already started; make a new one")
        self._server, self._thread = start_http_server(0, addr=LOOPBACK, registry=self.registry)
        self._port = self._server.server_port
        return self

    def scrape(self) -> str:
        """What a Prometheus server would fetch: ``GET /metrics``, as text (no proxy)."""
        if self._port is None or self.stopped:
            raise RuntimeError("the server is not running: start() it first")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url, timeout=SCRAPE_TIMEOUT_S) as response:
            body = response.read(MAX_SCRAPE_BYTES + 1)
        if len(body) > MAX_SCRAPE_BYTES:
            raise RuntimeError(f"the scraped page is larger than {MAX_SCRAPE_BYTES:,} bytes")
        return body.decode()

    def is_listening(self) -> bool:
        """True if something accepts connections on this server's port now."""
        if self._port is None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(SCRAPE_TIMEOUT_S)
            return probe.connect_ex((LOOPBACK, self._port)) == 0

    def stop(self) -> None:
        """Stop serving, close the listening socket and join the threads (no-op if never
        started or already stopped)."""
        if self._server is None or self.stopped:
            return
        self.stopped = True
        self._server.shutdown()  # ends serve_forever() within its poll interval
        self._server.server_close()  # closes the socket and joins the request threads
        self._thread.join(SCRAPE_TIMEOUT_S)
        if self._thread.is_alive():
            raise RuntimeError(f"the metrics server did not stop within {SCRAPE_TIMEOUT_S:g} s")

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "not started" if self._port is None else self.url
        return f"MetricsServer({state})"


def listening_ports() -> list[int] | None:
    """TCP ports that sockets of this process listen on (Linux: ``/proc``), sorted; None
    where the operating system does not say. A Jupyter kernel listens on a few ports of its
    own (its ZeroMQ channels), so compare the list before and after, not with ``[]``."""
    fd_dir, tables = Path("/proc/self/fd"), ("/proc/self/net/tcp", "/proc/self/net/tcp6")
    try:
        inodes = set()
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(fd_dir / fd)
            except OSError:  # closed meanwhile (e.g. the directory listing's own fd)
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        ports = set()
        for table in tables:
            if not os.path.exists(table):
                continue
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == _LISTEN and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        return None
    return sorted(ports)


# -- scraped buckets and PromQL's quantile -----------------------------------------------------
class ScrapedHistogram(NamedTuple):
    """One histogram's buckets as Prometheus sees them (lesson 10).

    ``le_s`` are the upper bounds in seconds (the last is ``inf``), ``cumulative`` the count
    of observations at most each bound, ``count`` and ``sum_s`` the ``_count`` and ``_sum``
    series.
    """

    le_s: np.ndarray
    cumulative: np.ndarray
    count: float
    sum_s: float

    def quantile(self, q: float) -> float:
        """:func:`histogram_quantile` of these buckets, in seconds."""
        return histogram_quantile(q, self.le_s, self.cumulative)

    def mean_s(self) -> float:
        """``_sum / _count``: the mean latency in seconds (NaN without observations)."""
        return self.sum_s / self.count if self.count else math.nan


def bucket_histogram(
    latencies_ns, buckets_s: Sequence[float] = LATENCY_BUCKETS_S
) -> ScrapedHistogram:
    """What a :class:`LatencyExporter` with ``buckets_s`` holds after observing
    ``latencies_ns``, computed with numpy and no server (same ``value <= le`` rule)."""
    bounds = np.array(_bounds("buckets_s", buckets_s))
    values_s = np.sort(_latencies_s("latencies_ns", latencies_ns))
    cumulative = np.searchsorted(values_s, bounds, side="right").astype(np.float64)
    return ScrapedHistogram(bounds, cumulative, float(values_s.size), float(values_s.sum()))


def parse_histograms(text: str, name: str = METRIC_NAME) -> dict[str, ScrapedHistogram]:
    """The histograms called ``name`` in scraped exposition ``text``, by ``operation`` label
    value (``""`` for a histogram without that label)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    buckets: dict[str, dict[float, float]] = {}
    totals: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            key = sample.labels.get(LABEL, "")
            if sample.name == name + "_bucket":
                buckets.setdefault(key, {})[float(sample.labels["le"])] = sample.value
            elif sample.name in (name + "_count", name + "_sum"):
                totals.setdefault(key, {})[sample.name.rsplit("_", 1)[1]] = sample.value
    out = {}
    for key, by_bound in buckets.items():
        le = np.array(sorted(by_bound))
        cumulative = np.array([by_bound[b] for b in le])
        extra = totals.get(key, {})
        out[key] = ScrapedHistogram(
            le, cumulative, extra.get("count", cumulative[-1]), extra.get("sum", math.nan)
        )
    return out


def histogram_quantile(q: float, le_s, cumulative) -> float:
    """The ``q``-quantile (0 ≤ q ≤ 1) of a histogram as PromQL's ``histogram_quantile``
    computes it from cumulative buckets (lesson 10).

    Buckets are sorted by bound, buckets of equal bound merged, counts made non-decreasing
    (Prometheus does the same to survive scrapes that raced with observations). The rank is
    ``q · total``; the first bucket whose cumulative count reaches it holds the quantile,
    which is interpolated linearly between the bucket's lower bound (the previous bound, or
    0 for the first bucket if its bound is positive) and its upper bound. If the rank falls
    in the ``+Inf`` bucket, the highest finite bound is returned: nothing larger can be
    known. NaN is returned, as by PromQL, when the last bound is not ``+Inf``, when there
    are fewer than two buckets, or no observations. Unlike PromQL, ``q`` outside [0, 1] is
    an error here rather than ∓Inf.
    """
    q = validate.real("q", q, low=0.0, high=1.0)
    if isinstance(le_s, str | bytes) or isinstance(cumulative, str | bytes):
        raise TypeError("le_s and cumulative must be sequences of numbers")
    bounds = np.asarray(le_s)
    counts = np.asarray(cumulative)
    for label, arr in (("le_s", bounds), ("cumulative", counts)):
        if arr.dtype == object or arr.dtype.kind not in "iuf":
            raise TypeError(f"{label} must be numeric, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{label} must be one-dimensional, got shape {arr.shape}")
    if bounds.size != counts.size or bounds.size == 0:
        raise ValueError(
            f"le_s and cumulative must have the same length >= 1, got {bounds.size} and "
            f"{counts.size}"
        )
    if bounds.size > 100_000:
        raise ValueError(f"le_s may hold at most 100,000 buckets, got {bounds.size:,}")
    bounds, counts = bounds.astype(np.float64), counts.astype(np.float64)
    if np.isnan(bounds).any():
        raise ValueError("le_s must not contain NaN")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("cumulative must hold finite counts >= 0")
    order = np.argsort(bounds, kind="stable")
    pairs = _coalesce(bounds[order].tolist(), counts[order].tolist())
    if not math.isinf(pairs[-1][0]) or pairs[-1][0] < 0:
        return math.nan
    _correct_precision(pairs, 1e-12)
    _ensure_monotonic(pairs)
    if len(pairs) < 2:
        return math.nan
    observations = pairs[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(pairs) - 1) if pairs[i][1] >= rank), len(pairs) - 1)
    if b == len(pairs) - 1:
        return pairs[-2][0]
    if b == 0 and pairs[0][0] <= 0:
        return pairs[0][0]
    start, end, count = 0.0, pairs[b][0], pairs[b][1]
    if b > 0:
        start = pairs[b - 1][0]
        count -= pairs[b - 1][1]
        rank -= pairs[b - 1][1]
    return start + (end - start) * (rank / count) if count else math.nan


def _coalesce(bounds: list[float], counts: list[float]) -> list[list[float]]:
    """Merge buckets of equal bound (sorted input), adding their counts, as PromQL does."""
    pairs = [[bounds[0], counts[0]]]
    for bound, count in zip(bounds[1:], counts[1:], strict=True):
        if bound == pairs[-1][0]:
            pairs[-1][1] += count
        else:
            pairs.append([bound, count])
    return pairs


def _correct_precision(pairs: list[list[float]], tolerance: float) -> None:
    """Flatten relative differences below ``tolerance`` between neighbouring counts."""
    previous = pairs[0][1]
    for pair in pairs[1:]:
        delta = abs(pair[1] - previous)
        if delta == 0:
            continue
        if pair[1] and delta / pair[1] <= tolerance:
            pair[1] = previous
        else:
            previous = pair[1]


def _ensure_monotonic(pairs: list[list[float]]) -> None:
    """Raise any count below an earlier one to it: the envelope of the cumulative counts."""
    highest = pairs[0][1]
    for pair in pairs[1:]:
        highest = max(highest, pair[1])
        pair[1] = highest


# -- PromQL and alerting rules -------------------------------------------------------------------
def _duration(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a Prometheus duration string such as '5m'")
    if not _DURATION.match(value):
        raise ValueError(
            f"{name} must be a Prometheus duration such as '30s' or '5m', got {value!r}"
        )
    return value


def quantile_expr(
    operation: str, q: float = 0.99, rate_window: str = "5m", name: str = METRIC_NAME
) -> str:
    """PromQL for the ``q``-quantile of ``operation``'s latency over the last ``rate_window``
    (in seconds), from the bucket rates summed over every instance (``by (le)``)."""
    operation = _label_value("operation", operation)
    q = validate.real("q", q, low=0.0, high=1.0)
    rate_window = _duration("rate_window", rate_window)
    return (
        f"histogram_quantile({q!r}, sum by (le) "
        f'(rate({name}_bucket{{{LABEL}="{operation}"}}[{rate_window}])))'
    )


def mean_expr(operation: str, rate_window: str = "5m", name: str = METRIC_NAME) -> str:
    """PromQL for ``operation``'s mean latency over the last ``rate_window``: rate of the sum
    over rate of the count (in seconds)."""
    operation = _label_value("operation", operation)
    rate_window = _duration("rate_window", rate_window)
    selector = f'{{{LABEL}="{operation}"}}[{rate_window}]'
    return f"sum(rate({name}_sum{selector})) / sum(rate({name}_count{selector}))"


def alert_rule(
    operation: str,
    threshold_s: float,
    q: float = 0.99,
    rate_window: str = "5m",
    for_: str = "2m",
    name: str = METRIC_NAME,
) -> str:
    """A Prometheus alerting rule (YAML) that fires when ``operation``'s ``q``-quantile over
    ``rate_window`` stays above ``threshold_s`` seconds for ``for_``."""
    operation = _label_value("operation", operation)
    low = 1 / units.NS_PER_S
    threshold_s = validate.real("threshold_s", threshold_s, low=low, high=MAX_THRESHOLD_S)
    expr = quantile_expr(operation, q, rate_window, name)
    for_ = _duration("for_", for_)
    percent = f"{q * 100:.6g}"
    words = re.split(r"[^A-Za-z0-9]+", operation)
    alert = (
        "".join(w[:1].upper() + w[1:] for w in words) + f"LatencyP{percent.replace('.', '')}High"
    )
    threshold_us = units.ns_to_us(threshold_s * units.NS_PER_S)
    return (
        "groups:\n"
        "  - name: latency-lab\n"
        "    rules:\n"
        f"      - alert: {alert}\n"
        f"        expr: {expr} > {threshold_s!r}\n"
        f"        for: {for_}\n"
        "        labels:\n"
        "          severity: page\n"
        "        annotations:\n"
        f'          summary: "p{percent} of {operation} above {threshold_us:g} µs for {for_}"\n'
    )
