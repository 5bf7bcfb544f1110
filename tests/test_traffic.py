"""traffic: sizing, seeding, rates and dispersion within statistical error, CSV, errors."""

import numpy as np
import pytest

from latency_lab import scenarios, traffic
from latency_lab.traffic import MMPP, Hawkes, Poisson, RegimeShift

PROCESSES = [
    Poisson(50_000),
    MMPP(20_000, 200_000, 5_000, 1_000),
    Hawkes(10_000, 0.7, 100),
    RegimeShift([(Poisson(20_000), 10_000.0), (Poisson(80_000), 5_000.0)]),
]


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


def test_rate_over_time():
    starts, rates = traffic.rate_over_time(np.array([0.0, 10.0, 20.0, 1_500.0]), 1_000)
    assert starts.tolist() == [0.0, 1_000.0] and rates.tolist() == [3_000.0, 1_000.0]


def test_csv_round_trip(tmp_path):
    a = Poisson(1_000).arrivals(100, seed=0)
    traffic.write_csv(tmp_path / "trace.csv", a)
    np.testing.assert_allclose(traffic.read_csv(tmp_path / "trace.csv"), a, atol=1e-6)
    (tmp_path / "bad.csv").write_text("time\n1\n")
    with pytest.raises(ValueError, match="arrival_us"):
        traffic.read_csv(tmp_path / "bad.csv")
    (tmp_path / "unsorted.csv").write_text("arrival_us\n2\n1\n")
    with pytest.raises(ValueError, match="sorted"):
        traffic.read_csv(tmp_path / "unsorted.csv")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Poisson(0), "rate"),
        (lambda: MMPP(0, 0, 1, 1), "both be 0"),
        (lambda: MMPP(1, 1, 0, 1), "mean_calm_us"),
        (lambda: Hawkes(1_000, 1.0, 10), "branching_ratio"),
        (lambda: Hawkes(1_000, 0.5, 0), "decay_us"),
        (lambda: RegimeShift([]), "at least one"),
        (lambda: Poisson(1).arrivals(), "exactly one"),
        (lambda: Poisson(1).arrivals(5, duration_us=5), "exactly one"),
        (lambda: Poisson(1e9).arrivals(duration_us=1e9), "MAX_EVENTS"),
    ],
)
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_scenarios_are_named_and_documented():
    table = scenarios.describe()
    assert {"calm", "bursty", "regime_shift", "hawkes_flow"} <= set(table.index)
    assert (table["mean_rate"] > 0).all()
    with pytest.raises(ValueError, match="calm"):
        scenarios.get("nope")
