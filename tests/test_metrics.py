"""metrics: the exporter's buckets, the loopback server's life cycle, scrape parsing, and
PromQL's histogram_quantile rules (lesson 10)."""

from __future__ import annotations

import math
import socket
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latency_lab import LatencyTracker, metrics, stats, units

INF = math.inf


# -- histogram_quantile: PromQL's rules ----------------------------------------------------------
def test_interpolates_linearly_inside_the_bucket_that_holds_the_rank():
    # rank 0.5 * 40 = 20 lies in (0.001, 0.002], 10 of its 20 observations in
    assert metrics.histogram_quantile(0.5, [0.001, 0.002, 0.004, INF], [10, 30, 40, 40]) == 0.0015


def test_the_first_bucket_starts_at_zero():
    assert metrics.histogram_quantile(0.2, [0.001, 0.002, INF], [16, 30, 40]) == 0.0005


def test_a_rank_in_the_inf_bucket_returns_the_highest_finite_bound():
    assert metrics.histogram_quantile(0.99, [0.001, 0.01, 0.1, INF], [90, 95, 98, 100]) == 0.1


def test_a_rank_equal_to_a_cumulative_count_is_that_buckets_upper_bound():
    # rank 10 = the count of the bucket <= 2; the empty bucket (2, 3] after it does not matter
    assert metrics.histogram_quantile(10 / 12, [1.0, 2.0, 3.0, INF], [5, 10, 10, 12]) == 2.0


def test_nan_without_inf_bucket_without_observations_or_with_one_bucket():
    assert math.isnan(metrics.histogram_quantile(0.5, [0.001, 0.002], [1, 2]))
    assert math.isnan(metrics.histogram_quantile(0.5, [0.001, INF], [0, 0]))
    assert math.isnan(metrics.histogram_quantile(0.5, [INF], [5]))


def test_unsorted_duplicate_and_non_monotonic_buckets_are_handled_as_prometheus_does():
    sorted_ = metrics.histogram_quantile(0.5, [0.001, 0.002, 0.004, INF], [10, 30, 40, 40])
    shuffled = metrics.histogram_quantile(0.5, [0.004, INF, 0.001, 0.002], [40, 40, 10, 30])
    assert shuffled == sorted_
    # equal bounds are merged by adding their counts (series of two instances)
    merged = metrics.histogram_quantile(0.5, [0.001, 0.001, 0.002, 0.002, INF, INF],
                                        [5, 5, 15, 15, 20, 20])  # fmt: skip
    assert merged == sorted_
    # a count below an earlier one is raised to it (a scrape that raced an observation)
    raced = metrics.histogram_quantile(0.5, [0.001, 0.002, 0.004, INF], [10, 30, 29, 40])
    assert raced == metrics.histogram_quantile(0.5, [0.001, 0.002, 0.004, INF], [10, 30, 30, 40])


def test_a_non_positive_lowest_bound_is_returned_as_is():
    assert metrics.histogram_quantile(0.1, [-1.0, 1.0, INF], [5, 10, 10]) == -1.0


@pytest.mark.parametrize("q", [-0.1, 1.5, math.nan, math.inf])
def test_q_outside_zero_one_is_refused(q):
    with pytest.raises(ValueError, match="q"):
        metrics.histogram_quantile(q, [0.001, INF], [1, 2])


@pytest.mark.parametrize(
    "le, cumulative, error",
    [
        ([0.001, INF], [1], ValueError),
        ([0.001, math.nan], [1, 2], ValueError),
        ([0.001, INF], [1, -2], ValueError),
        ([0.001, INF], [1, math.inf], ValueError),
        (["a", "b"], [1, 2], TypeError),
        ("0.001", [1, 2], TypeError),
        ([[0.001, INF]], [[1, 2]], ValueError),
    ],
)
def test_malformed_buckets_are_refused(le, cumulative, error):
    with pytest.raises(error):
        metrics.histogram_quantile(0.5, le, cumulative)


@given(
    values=st.lists(st.integers(1, 10**9), min_size=1, max_size=300),
    q=st.floats(0.001, 1.0),
    step=st.integers(1, 4),
)
def test_estimate_is_within_the_bucket_of_the_exact_nearest_rank_quantile(values, q, step):
    """The bucket found holds the exact nearest-rank sample, so the estimate is off by at most
    that bucket's width (or below it, when it is the +Inf bucket)."""
    buckets = metrics.LATENCY_BUCKETS_S[::step]
    h = metrics.bucket_histogram(values, buckets)
    estimate = h.quantile(q)
    exact_s = stats.percentiles(np.array(values), q * 100) / units.NS_PER_S
    b = int(np.searchsorted(h.le_s, exact_s, side="left"))  # the exact sample's bucket
    lower = h.le_s[b - 1] if b else 0.0
    if math.isinf(h.le_s[b]):
        assert estimate == h.le_s[-2] <= exact_s
    else:
        slack = 1e-12 * h.le_s[b]  # start + (end - start) * 1 may round one ulp past end
        assert lower - slack <= estimate <= h.le_s[b] + slack


# -- the exporter and bucket_histogram ---------------------------------------------------------
def test_bucket_histogram_matches_what_prometheus_client_exports():
    rng = np.random.default_rng(5)
    ns = rng.integers(0, 200_000_000, 5_000)
    ns[:16] = np.array(metrics.LATENCY_BUCKETS_S) * units.NS_PER_S  # values exactly on bounds
    exporter = metrics.LatencyExporter()
    assert exporter.observe_ns("signal", ns) == ns.size
    scraped = metrics.parse_histograms(exporter.text())["signal"]
    direct = metrics.bucket_histogram(ns)
    np.testing.assert_array_equal(scraped.le_s, direct.le_s)
    np.testing.assert_array_equal(scraped.cumulative, direct.cumulative)
    assert scraped.count == direct.count == ns.size
    assert math.isclose(scraped.sum_s, direct.sum_s, rel_tol=1e-9)
    assert math.isclose(scraped.mean_s(), ns.mean() / units.NS_PER_S, rel_tol=1e-9)


def test_observe_trackers_labels_each_operation():
    trackers = {"parse": LatencyTracker(capacity=10), "book": LatencyTracker(capacity=10)}
    for i in range(1, 6):
        trackers["parse"].record(i * 1_000)
    trackers["book"].record(3_000_000)
    exporter = metrics.LatencyExporter(buckets_s=[1e-6, 1e-3])
    assert exporter.observe_trackers(trackers) == 6
    scraped = metrics.parse_histograms(exporter.text())
    assert set(scraped) == {"parse", "book"}
    assert scraped["parse"].cumulative.tolist() == [1, 5, 5]
    assert scraped["book"].cumulative.tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"buckets_s": [1e-3, 1e-4]}, ValueError),
        ({"buckets_s": [0.0, 1e-3]}, ValueError),
        ({"buckets_s": []}, ValueError),
        ({"buckets_s": "1e-3"}, TypeError),
        ({"buckets_s": [1e-3, math.nan]}, ValueError),
        ({"name": "not a name"}, ValueError),
        ({"name": 5}, TypeError),
    ],
)
def test_exporter_refuses_bad_buckets_and_names(kwargs, error):
    with pytest.raises(error):
        metrics.LatencyExporter(**kwargs)


@pytest.mark.parametrize(
    "operation, latencies, error",
    [
        ("a b", [1], ValueError),
        ("", [1], ValueError),
        (5, [1], TypeError),
        ("ok", [-1], ValueError),
        ("ok", [1.5, math.nan], ValueError),
        ("ok", "123", TypeError),
    ],
)
def test_observe_ns_refuses_bad_labels_and_latencies(operation, latencies, error):
    with pytest.raises(error):
        metrics.LatencyExporter().observe_ns(operation, latencies)


def test_parse_histograms_keeps_operations_apart_and_ignores_other_metrics():
    text = (
        "# TYPE other_seconds histogram\n"
        'other_seconds_bucket{le="+Inf"} 3.0\n'
        "# TYPE latency_lab_operation_latency_seconds histogram\n"
        'latency_lab_operation_latency_seconds_bucket{le="0.001",operation="a"} 1.0\n'
        'latency_lab_operation_latency_seconds_bucket{le="+Inf",operation="a"} 2.0\n'
        'latency_lab_operation_latency_seconds_count{operation="a"} 2.0\n'
        'latency_lab_operation_latency_seconds_sum{operation="a"} 0.5\n'
        'latency_lab_operation_latency_seconds_bucket{le="+Inf",operation="b"} 7.0\n'
    )
    parsed = metrics.parse_histograms(text)
    assert set(parsed) == {"a", "b"}
    assert parsed["a"].le_s.tolist() == [0.001, INF] and parsed["a"].sum_s == 0.5
    assert parsed["b"].count == 7.0 and math.isnan(parsed["b"].sum_s)


# -- the loopback server -------------------------------------------------------------------------
def test_server_serves_on_loopback_and_leaves_nothing_listening():
    exporter = metrics.LatencyExporter()
    exporter.observe_ns("signal", [1_000, 2_000, 3_000_000])
    before_ports, before_threads = metrics.listening_ports(), threading.active_count()
    with metrics.MetricsServer(exporter.registry) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        assert server.is_listening()
        if before_ports is not None:
            assert server.port in metrics.listening_ports()
        text = server.scrape()
    assert metrics.parse_histograms(text)["signal"].count == 3
    assert not server.is_listening()
    assert metrics.listening_ports() == before_ports
    assert threading.active_count() == before_threads
    with pytest.raises(RuntimeError):
        server.start()  # a server runs once
    with pytest.raises(RuntimeError):
        server.scrape()
    server.stop()  # stopping twice is harmless


def test_server_binds_loopback_only():
    with metrics.MetricsServer(metrics.LatencyExporter().registry) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            assert conn.getpeername()[0] == "127.0.0.1"
        ip = socket.gethostbyname(socket.gethostname())
        if not ip.startswith("127."):  # another address of this machine is not served
            with socket.socket() as probe:
                probe.settimeout(5)
                assert probe.connect_ex((ip, server.port)) != 0


def test_server_stops_when_the_block_raises():
    server = metrics.MetricsServer(metrics.LatencyExporter().registry)
    with pytest.raises(KeyError):
        with server:
            raise KeyError("boom")
    assert server.stopped and not server.is_listening()


def test_server_refuses_what_is_not_a_registry_and_scrape_before_start():
    with pytest.raises(TypeError, match="registry"):
        metrics.MetricsServer("registry")
    server = metrics.MetricsServer(metrics.LatencyExporter().registry)
    assert server.port is None and server.url is None and not server.is_listening()
    with pytest.raises(RuntimeError, match="start"):
        server.scrape()
    server.stop()  # never started: nothing to do


def test_listening_ports_sees_a_socket_of_this_process():
    if metrics.listening_ports() is None:
        pytest.skip("this operating system does not list sockets in /proc")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert listener.getsockname()[1] in metrics.listening_ports()
    assert listener.getsockname is not None


# -- PromQL and alert rules ----------------------------------------------------------------------
def test_alert_rule_text():
    rule = metrics.alert_rule("signal", 0.0005, q=0.999, rate_window="1m", for_="30s")
    assert "alert: SignalLatencyP999High" in rule
    assert (
        "expr: histogram_quantile(0.999, sum by (le) (rate("
        'latency_lab_operation_latency_seconds_bucket{operation="signal"}[1m]))) > 0.0005'
    ) in rule
    assert "for: 30s" in rule and "p99.9 of signal above 500 µs for 30s" in rule


def test_mean_expr_divides_rates_of_sum_and_count():
    expr = metrics.mean_expr("book", rate_window="2m")
    assert expr == (
        'sum(rate(latency_lab_operation_latency_seconds_sum{operation="book"}[2m])) / '
        'sum(rate(latency_lab_operation_latency_seconds_count{operation="book"}[2m]))'
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"threshold_s": 0.0}, ValueError),
        ({"threshold_s": 10**6}, ValueError),
        ({"threshold_s": "1"}, TypeError),
        ({"q": 1.5}, ValueError),
        ({"rate_window": "5 minutes"}, ValueError),
        ({"for_": 5}, TypeError),
        ({"operation": 'x"} or vector(1) #'}, ValueError),
    ],
)
def test_alert_rule_refuses_bad_parameters(kwargs, error):
    args = {"operation": "signal", "threshold_s": 0.001, **kwargs}
    with pytest.raises(error):
        metrics.alert_rule(**args)
