"""traffic: sizing, seeding, rates and dispersion within statistical error, bounded work and
memory, hostile input, CSV."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latency_lab import scenarios, traffic, units
from latency_lab.traffic import MMPP, Hawkes, Poisson, RegimeShift

PROCESSES = [
    Poisson(50_000),
    MMPP(20_000, 200_000, 5_000, 1_000),
    Hawkes(10_000, 0.7, 100),
    RegimeShift([(Poisson(20_000), 10_000.0), (Poisson(80_000), 5_000.0)]),
]


class CountingGenerator(np.random.Generator):
    """A numpy Generator that counts the calls and values drawn through it, and fails a
    runaway request at once: more than ``max_calls`` calls, or one call asking for more than
    ``max_size`` values (before numpy allocates them)."""

    SIZE_ARG = {"standard_exponential": 0, "random": 0, "exponential": 1, "poisson": 1}
    SIZE_ARG |= {"uniform": 2, "normal": 2, "lognormal": 2, "integers": 2}

    def __init__(self, seed: int, *, max_calls: int = 1_000, max_size: int = 1 << 16):
        super().__init__(np.random.PCG64(seed))
        self.calls, self.values = 0, 0
        self.max_calls, self.max_size = max_calls, max_size

    def count(self, name, args, kwargs):
        position = self.SIZE_ARG[name]
        size = kwargs.get("size", args[position] if len(args) > position else None)
        values = 1 if size is None else int(np.prod(size))
        self.calls += 1
        self.values += values
        if self.calls > self.max_calls:
            raise AssertionError(f"more than {self.max_calls} calls to the generator")
        if values > self.max_size:
            raise AssertionError(f"{name} asked for {values:,} values at once")


def _counted(name):
    def method(self, *args, **kwargs):
        self.count(name, args, kwargs)
        return getattr(np.random.Generator, name)(self, *args, **kwargs)

    return method


for _name in CountingGenerator.SIZE_ARG:
    setattr(CountingGenerator, _name, _counted(_name))


def peak_bytes(call) -> int:
    """Peak memory traced while running ``call`` (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        call()
    except ValueError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- sizing and seeding --------------------------------------------------------------------
@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_sized_by_count_or_duration_sorted_and_seeded(process):
    by_count = process.arrivals(5_000, seed=1)
    by_time = process.arrivals(duration_us=200_000, seed=1)
    assert by_count.size == 5_000 and by_count.dtype == np.float64
    assert (np.diff(by_count) >= 0).all() and (by_time < 200_000).all() and by_time[0] >= 0
    n = min(by_count.size, by_time.size)
    np.testing.assert_array_equal(by_count[:n], by_time[:n])  # one stream, cut two ways
    np.testing.assert_array_equal(by_count, process.arrivals(5_000, seed=1))
    assert not np.array_equal(by_count, process.arrivals(5_000, seed=2))


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_a_seed_means_the_same_trace_whatever_its_form(process):
    expected = process.arrivals(1_000, seed=42)
    sequence = np.random.SeedSequence(42)
    for seed in (np.int64(42), np.array(42), sequence, sequence, np.random.default_rng(42)):
        np.testing.assert_array_equal(process.arrivals(1_000, seed=seed), expected)
    generator = np.random.default_rng(42)  # a Generator is advanced: a new trace next time
    process.arrivals(1_000, seed=generator)
    assert not np.array_equal(process.arrivals(1_000, seed=generator), expected)


@pytest.mark.parametrize(
    "seed, error", [(-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)]
)
def test_bad_seeds_are_refused(seed, error):
    with pytest.raises(error, match="seed"):
        Poisson(1_000).arrivals(10, seed=seed)


def test_empty_requests_give_empty_traces():
    for process in PROCESSES:
        for trace in (process.arrivals(0, seed=1), process.arrivals(duration_us=0, seed=1)):
            assert trace.shape == (0,) and trace.dtype == np.float64


def test_one_size_limit():
    assert traffic.MAX_EVENTS == 20_000_000
    with pytest.raises(ValueError, match="n must be in"):
        Poisson(1).arrivals(traffic.MAX_EVENTS + 1)


# -- statistics ----------------------------------------------------------------------------
def test_poisson_count_and_dispersion_match_theory():
    rate, duration = 50_000, 2e6  # expect 100,000 events, SD sqrt(100,000) = 316
    a = Poisson(rate).arrivals(duration_us=duration, seed=3)
    assert abs(a.size - 100_000) < 4 * 316
    # index of dispersion of 2,000 window counts: mean 1, SE ~ sqrt(2/2000) = 0.032
    assert traffic.index_of_dispersion(a, 1_000) == pytest.approx(1.0, abs=4 * 0.032)


def test_mmpp_is_overdispersed_with_the_right_mean_rate():
    process = MMPP(20_000, 200_000, 5_000, 1_000)
    a = process.arrivals(duration_us=5e6, seed=4)
    # ~833 calm/burst cycles; their random lengths dominate the count's error (~2%)
    assert a.size / 5 == pytest.approx(process.mean_rate, rel=0.08)
    assert traffic.index_of_dispersion(a, 1_000) > 5


def _mmpp_reference(process: MMPP, duration_us: float, rng) -> np.ndarray:
    """The MMPP generator this module had before it was bounded: a Python loop over the
    calm/burst periods, each with a Poisson count of sorted uniform times."""
    t, bursting, chunks = 0.0, False, []
    while t < duration_us:
        mean, rate = (
            (process.mean_burst_us, process.burst_rate)
            if bursting
            else (process.mean_calm_us, process.calm_rate)
        )
        length = rng.exponential(mean)
        k = rng.poisson(units.rate_to_count(rate, length))
        chunks.append(t + np.sort(rng.uniform(0.0, length, k)))
        t, bursting = t + length, not bursting
    a = np.concatenate(chunks)
    return a[a < duration_us]


def _ks_distance(x, y) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two ECDFs."""
    grid = np.union1d(x, y)
    fx = np.searchsorted(np.sort(x), grid, side="right") / x.size
    fy = np.searchsorted(np.sort(y), grid, side="right") / y.size
    return float(np.abs(fx - fy).max())


def test_bounded_mmpp_has_the_same_count_statistics_as_before():
    process = MMPP(20_000, 200_000, 5_000, 1_000)
    runs, spans = 1_000, (2_000.0, 20_000.0)
    new = np.array(
        [
            np.searchsorted(process.arrivals(duration_us=spans[1], seed=s), spans)
            for s in range(runs)
        ]
    )
    rng = np.random.default_rng(2024)
    old = np.array(
        [np.searchsorted(_mmpp_reference(process, spans[1], rng), spans) for _ in range(runs)]
    )
    # Exact mean count over [0, T) for an MMPP that starts calm: with per-µs calm rate
    # calm, long-run rate mean and switching rate kappa = 1/mean_calm + 1/mean_burst,
    # E N(T) = mean·T + (calm − mean)·(1 − exp(−kappa·T))/kappa.
    calm = units.rate_to_count(process.calm_rate, 1.0)
    mean = units.rate_to_count(process.mean_rate, 1.0)
    kappa = 1 / process.mean_calm_us + 1 / process.mean_burst_us
    for column, span in enumerate(spans):
        exact = mean * span + (calm - mean) * (1 - math.exp(-kappa * span)) / kappa
        for counts in (new[:, column], old[:, column]):
            standard_error = counts.std(ddof=1) / math.sqrt(runs)
            assert abs(counts.mean() - exact) < 4 * standard_error
        # Same distribution: the KS distance stays below its 0.1% critical value,
        # 1.95·sqrt(2/runs) (the counts are discrete, which only makes the test stricter).
        assert _ks_distance(new[:, column], old[:, column]) < 1.95 * math.sqrt(2 / runs)


def test_hawkes_mean_rate_and_clustering():
    process = Hawkes(10_000, 0.7, 100)
    a = process.arrivals(duration_us=5e6, seed=5)
    # count variance of a Hawkes process ~ rate*T/(1-n)^2: SD = sqrt(166,667)/0.3 = 1,361
    assert abs(a.size - process.mean_rate * 5) < 4 * 1_361
    assert traffic.index_of_dispersion(a, 1_000) > 3


def test_regime_shift_follows_its_segments():
    process = RegimeShift([(Poisson(10_000), 100_000.0), (Poisson(100_000), 100_000.0)])
    a = process.arrivals(duration_us=400_000, seed=6)
    counts = np.histogram(a, bins=[0, 1e5, 2e5, 3e5, 4e5])[0]
    # expected 1,000 / 10,000 / 1,000 / 10,000; 4 SD of a Poisson count is 4*sqrt(mean)
    assert np.all(
        np.abs(counts - [1_000, 10_000, 1_000, 10_000])
        < 4 * np.sqrt([1_000, 10_000, 1_000, 10_000])
    )


# -- properties ----------------------------------------------------------------------------
# rates of at least 100 events/s, 1,000 events at most: at most 10⁷ µs of traffic, so at
# most ~10⁶ periods of 10 µs or 10⁴ segments of 1 ms per example
rates = st.floats(1e2, 1e6)
durations = st.floats(10.0, 1e5)
processes = st.one_of(
    st.builds(Poisson, rates),
    st.builds(MMPP, rates, st.one_of(st.just(0.0), rates), durations, durations),
    st.builds(Hawkes, rates, st.floats(0.0, 0.95), durations),
    st.builds(
        lambda a, b, d1, d2: RegimeShift([(a, d1), (b, d2)]),
        st.builds(Poisson, rates),
        st.builds(MMPP, rates, rates, durations, durations),
        st.floats(1e3, 1e5),
        st.floats(1e3, 1e5),
    ),
)


@settings(max_examples=60)
@given(process=processes, n=st.integers(1, 1_000), seed=st.integers(0, 2**63))
def test_traces_are_exact_sorted_finite_and_cut_consistently(process, n, seed):
    try:
        a = process.arrivals(n, seed=seed)
    except ValueError as e:  # refused up front: the message names the limit
        assert "MAX_" in str(e)
        return
    assert a.shape == (n,) and a.dtype == np.float64
    assert np.isfinite(a).all() and a[0] >= 0 and (np.diff(a) >= 0).all()
    # cut at the last time: the same trace, without the events at that time
    by_time = process.arrivals(duration_us=a[-1], seed=seed)
    np.testing.assert_array_equal(by_time, a[: np.searchsorted(a, a[-1])])


@settings(max_examples=100)
@given(
    log_rate=st.floats(-300, 300),
    expected=st.floats(0.0, 20_000.0),
    seed=st.integers(0, 1_000),
)
def test_poisson_times_stay_finite_and_below_the_duration(log_rate, expected, seed):
    rate = 10.0**log_rate
    duration = min(traffic.MAX_TIME_US, expected * units.rate_to_gap_us(rate))
    a = Poisson(rate).arrivals(duration_us=duration, seed=seed)
    assert np.isfinite(a).all() and (a < duration).all() and (np.diff(a) >= 0).all()


# -- bounded work and memory ---------------------------------------------------------------
def test_a_fast_mmpp_draws_only_what_is_asked():
    rng = CountingGenerator(1)  # one burst holds ~5e8 events: only ~10 may be drawn
    a = MMPP(5e8, 5e8, 1e6, 1e6).arrivals(10, seed=rng)
    assert a.size == 10 and rng.values < 2_000
    assert peak_bytes(lambda: MMPP(5e8, 5e8, 1e6, 1e6).arrivals(10, seed=1)) < 1_000_000


def test_many_short_periods_are_drawn_in_blocks():
    rng = CountingGenerator(1, max_calls=2_000)  # ~10⁷ periods of 1 µs: not one call each
    a = MMPP(10, 10, 1.0, 1.0).arrivals(100, seed=rng)
    assert a.size == 100 and rng.calls < 2_000


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda s: MMPP(0, 1e-3, 1, 1).arrivals(1, seed=s), "calm/burst periods"),
        (lambda s: MMPP(10, 10, 1, 1).arrivals(duration_us=1e9, seed=s), "calm/burst periods"),
        (lambda s: RegimeShift([(Poisson(1e3), 1e-3)]).arrivals(10, seed=s), "regime segments"),
        (lambda s: RegimeShift([(Poisson(1e3), 1)]).arrivals(duration_us=1e9, seed=s), "segments"),
        (
            lambda s: RegimeShift([(MMPP(1e3, 1e3, 1e-3, 1e-3), 1e6)]).arrivals(100, seed=s),
            "calm/burst periods",
        ),
        (lambda s: Poisson(1e-300).arrivals(10**5, seed=s), "MAX_TIME_US"),
        (lambda s: Hawkes(1e-3, 0.5, 10).arrivals(10**5, seed=s), "MAX_TIME_US"),
        (lambda s: Poisson(1e9).arrivals(duration_us=1e9, seed=s), "MAX_EVENTS"),
    ],
)
def test_requests_that_would_not_end_are_refused_up_front(make, match):
    # the counting generator turns a request that starts an endless loop into a failure
    with pytest.raises(ValueError, match=match):
        make(CountingGenerator(0))


def test_unlucky_traces_are_stopped_at_the_limits(monkeypatch):
    monkeypatch.setattr(traffic, "MAX_SEGMENTS", 10)
    one_per_segment = RegimeShift([(Poisson(1_000), 1_000.0)])
    one_per_segment.arrivals(5, seed=0)  # ~5 segments on average: within the limit
    with pytest.raises(ValueError, match="more than 10 regime segments"):
        one_per_segment.arrivals(9, seed=9)  # ~9 on average: allowed, but this one needs more

    monkeypatch.setattr(traffic, "MAX_EVENTS", 100)
    with pytest.raises(ValueError, match="more than 100 calm/burst periods"):
        MMPP(1_000, 1_000, 500, 500).arrivals(45, seed=0)  # ~91 periods on average
    with pytest.raises(ValueError, match="more than MAX_EVENTS = 100 events"):
        Poisson(1e6).arrivals(duration_us=99, seed=2)  # ~99 events on average

    monkeypatch.setattr(traffic, "MAX_TIME_US", 1_000.0)
    with pytest.raises(ValueError, match="reached MAX_TIME_US"):
        Poisson(10_000).arrivals(9, seed=1)  # ~900 µs on average


def test_tiny_rates_give_empty_finite_traces():
    assert Poisson(1e-300).arrivals(duration_us=1e6, seed=1).size == 0
    assert Hawkes(1e-320, 0.5, 10).arrivals(duration_us=1e6, seed=1).size == 0
    assert MMPP(0, 1e-300, 1e3, 1e3).arrivals(duration_us=1e6, seed=1).size == 0


# -- window helpers ------------------------------------------------------------------------
def test_rate_over_time():
    starts, rates = traffic.rate_over_time(np.array([0.0, 10.0, 20.0, 1_500.0]), 1_000)
    assert starts.tolist() == [0.0, 1_000.0] and rates.tolist() == [3_000.0, 1_000.0]


def test_windows_are_half_open_from_zero():
    assert traffic.window_counts([0.0, 0.5, 1.0, 2.5, 3.0], 1.0).tolist() == [2, 1, 1, 1]
    with pytest.raises(ValueError, match="two"):
        traffic.index_of_dispersion([0.0, 0.5], 1.0)


@pytest.mark.parametrize(
    "helper", [traffic.window_counts, traffic.rate_over_time, traffic.index_of_dispersion]
)
@pytest.mark.parametrize(
    "arrivals, error, match",
    [
        ([3.0, 1.0, 2.0], ValueError, "sorted"),
        ([[0.0, 1.0], [2.0, 3.0]], ValueError, r"\(2, 2\)"),
        ([0.0, np.nan], ValueError, "NaN"),
        ([-1.0, 1.0], ValueError, ">= 0"),
        ([], ValueError, "empty"),
        ("0 1 2", TypeError, "numbers"),
        ([0.0, 4e8], ValueError, "windows"),
    ],
)
def test_window_helpers_check_their_arrivals(helper, arrivals, error, match):
    with pytest.raises(error, match=match):
        helper(arrivals, 1.0)


def test_too_many_windows_are_refused_before_allocating():
    assert peak_bytes(lambda: traffic.window_counts([0.0, 4e8], 1.0)) < 1_000_000
    with pytest.raises(ValueError, match="window_us"):
        traffic.window_counts([0.0, 1.0], 0.0)


@pytest.mark.parametrize(
    "arrivals, error, match",
    [
        (np.ones((2, 3)), ValueError, r"one-dimensional.*\(2, 3\)"),
        (np.float64(1.0), ValueError, r"shape \(\)"),
        ([1.0, [2.0, 3.0]], ValueError, "arrivals"),
        (np.array([True, False]), TypeError, "numeric"),
        ("123", TypeError, "numbers"),
        (np.array([1.0, np.inf]), ValueError, "infinite"),
    ],
)
def test_validate_arrivals_refuses_what_is_not_a_trace(arrivals, error, match):
    with pytest.raises(error, match=match):
        traffic.validate_arrivals(arrivals)


# -- CSV -----------------------------------------------------------------------------------
def test_csv_round_trip_is_exact(tmp_path):
    a = Poisson(1_000).arrivals(100, seed=0)
    traffic.write_csv(tmp_path / "trace.csv", a)
    np.testing.assert_array_equal(traffic.read_csv(tmp_path / "trace.csv"), a)
    np.testing.assert_array_equal(traffic.read_csv(str(tmp_path / "trace.csv")), a)


@pytest.mark.parametrize(
    "text, match",
    [
        ("time\n1\n", "header line 'arrival_us'"),
        ("arrival_us\n2\n1\n", "sorted"),
        ("arrival_us\n1\t2\n3\t4\n", "one column"),
        ("arrival_us\n1 2\n", "one column"),
        ("arrival_us\n1,2\n", "1,2"),
        ("arrival_us\n", "no arrival times"),
        ("arrival_us\n1\nnan\n", "NaN"),
        ("arrival_us\tother\n1\t2\n", "header"),
    ],
)
def test_read_csv_refuses_anything_but_one_arrival_us_column(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        traffic.read_csv(path)
    assert "bad.csv" in str(error.value)


def test_read_csv_needs_a_file_name(tmp_path):
    with pytest.raises(TypeError, match="path"):
        traffic.read_csv(0)  # open(0) would read stdin
    with pytest.raises(TypeError, match="path"):
        traffic.write_csv(1, [1.0])
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        traffic.read_csv(tmp_path / "missing.csv")
    (tmp_path / "binary.csv").write_bytes(b"arrival_us\n\xff\xfe\n")
    with pytest.raises(ValueError, match="binary.csv"):
        traffic.read_csv(tmp_path / "binary.csv")
    with pytest.raises(ValueError, match="one-dimensional"):
        traffic.write_csv(tmp_path / "two.csv", np.ones((2, 2)))


# -- construction ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Poisson(0), "rate"),
        (lambda: Poisson(float("inf")), "rate must be finite"),
        (lambda: Poisson(float("nan")), "rate"),
        (lambda: MMPP(0, 0, 1, 1), "both be 0"),
        (lambda: MMPP(1, 1, 0, 1), "mean_calm_us"),
        (lambda: MMPP(1, 1, 1, 1e300), "mean_burst_us"),
        (lambda: Hawkes(1_000, 1.0, 10), "branching_ratio"),
        (lambda: Hawkes(1_000, 0.5, 0), "decay_us"),
        (lambda: Hawkes(1_000, 0.5, 1e-300), "decay_us"),
        (lambda: Hawkes(1e300, 1 - 1e-16, 1.0), "overflows"),
        (lambda: RegimeShift([]), "at least one"),
        (lambda: RegimeShift([(Poisson(1), 1e-300)]), "duration_us"),
        (lambda: Poisson(1).arrivals(), "exactly one"),
        (lambda: Poisson(1).arrivals(5, duration_us=5), "exactly one"),
        (lambda: Poisson(1).arrivals(-1), "n must be"),
        (lambda: Poisson(1).arrivals(duration_us=-1), "duration_us"),
        (lambda: Poisson(1).arrivals(duration_us=float("inf")), "duration_us"),
        (lambda: Poisson(1).arrivals(duration_us=2e12), "duration_us"),
    ],
)
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Poisson("5"), "rate"),
        (lambda: Poisson(1).arrivals(2.5), "n"),
        (lambda: RegimeShift(iter([(Poisson(1), 1.0)])), "segments"),
        (lambda: RegimeShift([Poisson(1)]), r"segments\[0\]"),
        (lambda: RegimeShift([("poisson", 1.0)]), "arrival process"),
    ],
)
def test_wrong_types_are_named(make, match):
    with pytest.raises(TypeError, match=match):
        make()


# -- scenarios -----------------------------------------------------------------------------
def test_scenarios_are_named_and_documented():
    table = scenarios.describe()
    assert {"calm", "bursty", "regime_shift", "hawkes_flow"} <= set(table.index)
    assert (table["mean_rate"] > 0).all()
    with pytest.raises(ValueError, match="calm"):
        scenarios.get("nope")


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_scenario_generates_traffic(name):
    a = scenarios.SCENARIOS[name].arrivals(10_000, seed=1)
    assert a.size == 10_000 and np.isfinite(a).all() and (np.diff(a) >= 0).all()
