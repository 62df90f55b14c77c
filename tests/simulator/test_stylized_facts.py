"""Stylized facts of returns (simulator/stylized_facts.py) on processes with known answers.

Oracles, written here from their definitions:
- Student-t with ν = 3 has tail index 3; a Gaussian has no power tail (Hill grows with the
  threshold, far above 5 at k = √n);
- GARCH(1,1) returns cluster (ACF(|r|) > 0), i.i.d. returns do not;
- i.i.d. Laplace returns: excess kurtosis 3 at one step and exactly 3/h for sums of h
  (percentile intervals of a kurtosis under-cover a little: ≈ 88% at one step over 60 seeds,
  so each level is checked within 3 bootstrap standard errors);
- under i.i.d. returns ACF(ℓ) ± 1.96/√n_ℓ covers 0 for 95% of lags; under GARCH returns only
  the heteroskedasticity-robust band does;
- a Gaussian series made with autocorrelation c·ℓ^(−μ) exactly (circulant embedding) gives
  ACF(|r|) = c·ℓ^(−μ) for r = ±(10 + y) with random signs;
- MA(2) returns are correlated at lags 1 and 2 only;
- segments: sums, differences, pairs and bootstrap blocks computed by hand, per segment;
- every bootstrap replicate's kurtosis and ACF recomputed from its materialised blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from acsim.simulator import stylized_facts as facts
from acsim.simulator.stylized_facts import (
    FAILS,
    HOLDS,
    UNDECIDED,
    BlockBootstrap,
    FactSettings,
    SegmentedReturns,
    autocorrelation,
    measure,
    power_law_fit,
    price_changes,
)
from acsim.strategies.errors import ParameterError
from tests.bars import FIRSTRATE, YAHOO

QUICK = FactSettings(max_lag=50, replicates=200)


def single(values: np.ndarray) -> SegmentedReturns:
    return SegmentedReturns.from_segments([values])


def outcome(measured: facts.StylizedFacts, fact_start: str) -> str:
    rows = measured.verdicts[measured.verdicts["fact"].str.startswith(fact_start)]
    assert len(rows) == 1, fact_start
    return rows["outcome"].iloc[0]


def garch(size: int, seed: int, omega: float = 0.05, alpha: float = 0.1,
          beta: float = 0.85) -> np.ndarray:
    """GARCH(1,1): r_t = √v_t·z_t, v_{t+1} = ω + α r_t² + β v_t, Gaussian z, v_0 stationary."""
    shocks = np.random.default_rng(seed).standard_normal(size)
    returns = np.empty(size)
    variance = omega / (1.0 - alpha - beta)
    for t in range(size):
        returns[t] = np.sqrt(variance) * shocks[t]
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    return returns


def gaussian_with_acf(acf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stationary Gaussian series of len(acf) values with autocorrelation acf[ℓ−1] at lag ℓ,
    by circulant embedding (exact when the embedding's eigenvalues are >= 0, checked)."""
    size = acf.size
    row = np.concatenate([[1.0], acf[:size - 1], [acf[size - 1]], acf[:size - 1][::-1]])
    eigenvalues = np.fft.fft(row).real
    assert eigenvalues.min() > -1e-9
    noise = rng.standard_normal(row.size) + 1j * rng.standard_normal(row.size)
    return np.fft.fft(np.sqrt(np.maximum(eigenvalues, 0.0) / row.size) * noise).real[:size]


# ---------------------------------------------------------------------------------------------
# Segments: nothing crosses a gap


def test_price_changes_never_difference_across_a_session_gap():
    prices = [100.0, 101.0, 100.5, 150.0, 151.0, 149.0, 149.5, 80.0]
    sessions = ["mon", "mon", "mon", "tue", "tue", "tue", "tue", "wed"]
    returns = price_changes(prices, sessions)
    np.testing.assert_array_equal(returns.lengths, [2, 3])  # a one-price session gives none
    np.testing.assert_allclose(returns.values, [1.0, -0.5, 1.0, -2.0, 0.5])
    np.testing.assert_allclose(price_changes(prices).values, np.diff(prices))


def test_aggregation_sums_runs_inside_each_segment_only():
    first, second = np.arange(1.0, 6.0), 100.0 * np.arange(1.0, 8.0)
    returns = SegmentedReturns.from_segments([first, second])
    twos = returns.aggregate(2)
    np.testing.assert_array_equal(twos.lengths, [2, 3])
    np.testing.assert_allclose(twos.values, [3.0, 7.0, 300.0, 700.0, 1100.0])
    sixes = returns.aggregate(6)  # the first segment is too short: it contributes nothing
    np.testing.assert_array_equal(sixes.lengths, [1])
    np.testing.assert_allclose(sixes.values, [2100.0])
    with pytest.raises(ParameterError, match="steps = 8 exceeds every segment"):
        returns.aggregate(8)


def test_autocorrelation_pairs_stay_inside_segments():
    rng = np.random.default_rng(5)
    first, second = rng.standard_normal(40), rng.standard_normal(30)
    first[-1], second[0] = 50.0, 50.0  # would dominate lag 1 if the gap were paired
    returns = SegmentedReturns.from_segments([first, second])
    table = autocorrelation(returns, 3)
    values = returns.values
    centred, variance = values - values.mean(), np.mean((values - values.mean()) ** 2)
    for lag in (1, 2, 3):
        products = [a[:-lag] * a[lag:] for a in (centred[:40], centred[40:])]
        expected = np.mean(np.concatenate(products)) / variance
        row = table[table["lag"] == lag].iloc[0]
        assert row["pairs"] == 70 - 2 * lag
        assert row["acf"] == pytest.approx(expected, rel=1e-12)
        assert row["iid_band"] == pytest.approx(1.959963984540054 / np.sqrt(70 - 2 * lag))


def test_bootstrap_blocks_wrap_inside_their_segment_and_cover_evenly():
    lengths = np.array([7, 3, 12])
    bootstrap = BlockBootstrap(lengths, block_length=5, replicates=400, seed=3)
    ids = np.repeat(np.arange(3), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    positions = bootstrap.positions()
    assert positions.shape == (400, 5, 5)  # ⌈22/5⌉ blocks of 5 per replicate
    for block in positions.reshape(-1, 5):
        segment = ids[block[0]]
        assert np.all(ids[block] == segment)  # never reaches another segment
        local = block - offsets[segment]
        steps = np.diff(local) % lengths[segment]
        assert np.all(steps == 1 % lengths[segment])  # consecutive, wrapping at the end
    coverage = np.bincount(positions.ravel(), minlength=22) / positions.size
    np.testing.assert_allclose(coverage, 1 / 22, rtol=0.15)  # circular: no end effect


def test_bootstrap_statistics_equal_those_of_the_materialised_blocks():
    rng = np.random.default_rng(11)
    returns = SegmentedReturns.from_segments([rng.standard_t(5, 37), rng.standard_t(5, 29)])
    bootstrap = BlockBootstrap(returns.lengths, block_length=8, replicates=6, seed=2)
    kurtosis = facts._bootstrap_kurtosis(returns.values, bootstrap, level=4)
    acf = facts._bootstrap_acf(returns.values, returns.segment_ids, bootstrap, max_lag=10)
    values, ids = returns.values, returns.segment_ids
    centred = values - values.mean()
    for replicate in range(6):
        blocks = bootstrap.positions(slice(replicate, replicate + 1))[0]
        sums = values[blocks].reshape(-1, 2, 4).sum(axis=2).ravel()  # 4-step sums in blocks
        assert kurtosis[replicate] == pytest.approx(facts.excess_kurtosis(sums), rel=1e-9)
        drawn = blocks.ravel()
        for lag in (1, 4, 10):
            later = drawn + lag
            same = (later < values.size) & (ids[np.minimum(later, values.size - 1)] == ids[drawn])
            cross = np.mean(centred[drawn[same]] * centred[later[same]])
            expected = cross / np.mean(centred[drawn] ** 2)
            assert acf[replicate, lag - 1] == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Known answers


def test_student_t_tail_index_is_three_and_gaussian_tails_are_thin():
    rng = np.random.default_rng(2024)
    student = measure(single(rng.standard_t(3, 20_000)), seed=1, settings=QUICK)
    assert student.tail_count == round(np.sqrt(20_000))
    assert student.tail_index_ci_low < 3.0 < student.tail_index_ci_high
    assert student.tail_index_bootstrap_low < 3.0 < student.tail_index_bootstrap_high
    assert outcome(student, "heavy tails") == HOLDS
    gaussian = measure(single(rng.standard_normal(20_000)), seed=1, settings=QUICK)
    assert gaussian.tail_index_ci_low > 5.0
    assert outcome(gaussian, "heavy tails") == FAILS


def test_garch_clustering_is_found_and_iid_returns_show_none():
    clustered = measure(single(garch(20_000, seed=7)), seed=1, settings=QUICK)
    assert outcome(clustered, "volatility clustering") == HOLDS
    assert outcome(clustered, "returns uncorrelated") == HOLDS
    acf = clustered.acf[clustered.acf["series"] == "|r|"]
    assert (acf["acf"].head(5) > acf["iid_band"].head(5)).all()
    iid = measure(single(np.random.default_rng(7).standard_normal(20_000)), 1, QUICK)
    assert outcome(iid, "volatility clustering") == FAILS
    assert outcome(iid, "power-law decay") == UNDECIDED  # nothing to fit a decay to


def test_iid_laplace_kurtosis_falls_as_three_over_the_level():
    returns = single(np.random.default_rng(9).laplace(size=40_000))
    measured = measure(returns, seed=4, settings=QUICK)
    table = measured.kurtosis
    assert list(table["level"]) == [1, 2, 4, 8, 16]
    assert list(table["observations"]) == [40_000 // level for level in (1, 2, 4, 8, 16)]
    for row in table.itertuples():  # each level within 3 bootstrap standard errors of 3/h
        standard_error = (row.ci_high - row.ci_low) / (2 * 1.96)
        assert abs(row.excess_kurtosis - 3.0 / row.level) < 3.0 * standard_error
    assert table["excess_kurtosis"].is_monotonic_decreasing
    assert outcome(measured, "aggregational Gaussianity") == HOLDS


def test_iid_band_covers_95_percent_and_only_the_robust_band_survives_garch():
    def coverage(series: list[np.ndarray], band: str) -> float:
        inside = [np.abs(table["acf"]) <= table[band]
                  for table in (autocorrelation(single(values), 40) for values in series)]
        return float(np.mean(np.concatenate(inside)))

    rng = np.random.default_rng(1)
    iid = [rng.standard_normal(4_000) for _ in range(10)]
    assert 0.92 <= coverage(iid, "iid_band") <= 0.98
    assert 0.92 <= coverage(iid, "robust_band") <= 0.98
    clustered = [garch(4_000, seed, alpha=0.2, beta=0.75) for seed in range(10)]
    robust, naive = coverage(clustered, "robust_band"), coverage(clustered, "iid_band")
    assert robust >= 0.92
    assert naive < robust - 0.02


def test_power_law_fit_is_exact_on_a_power_law():
    lags = np.arange(1, 60)
    amplitude, exponent = power_law_fit(lags, 0.3 * lags**-0.35)
    assert amplitude == pytest.approx(0.3, rel=1e-5)
    assert exponent == pytest.approx(0.35, abs=1e-5)
    assert np.isnan(power_law_fit(lags, -0.1 * lags**-0.35)[1])  # no positive amplitude


def test_measure_recovers_a_known_decay_exponent():
    size, amplitude, exponent = 2**15, 0.5, 0.8  # the ACF c·ℓ^(−μ) is convex: a valid ACF
    rng = np.random.default_rng(12)
    level = gaussian_with_acf(amplitude * np.arange(1, size + 1) ** -exponent, rng)
    signs = rng.choice([-1.0, 1.0], size)
    measured = measure(single(signs * (10.0 + level)), seed=5,
                       settings=FactSettings(max_lag=30, replicates=200))
    assert measured.decay_exponent_ci_low < exponent < measured.decay_exponent_ci_high
    assert measured.decay_exponent == pytest.approx(exponent, abs=0.06)
    assert measured.decay_amplitude == pytest.approx(amplitude, abs=0.03)
    assert outcome(measured, "returns uncorrelated") == HOLDS
    assert outcome(measured, "power-law decay") == FAILS  # 0.8 decays faster than 0.2-0.4


def test_short_lags_correlated_by_design_are_excused_beyond_lag_l():
    shocks = np.random.default_rng(3).standard_normal(20_002)
    moving_average = shocks[2:] + 0.6 * shocks[1:-1] + 0.4 * shocks[:-2]  # ACF 0 beyond lag 2
    returns = single(moving_average)
    strict = measure(returns, seed=1, settings=QUICK)
    assert outcome(strict, "returns uncorrelated beyond lag 0") == FAILS
    excused = measure(returns, seed=1, settings=FactSettings(max_lag=50, replicates=200,
                                                             correlated_lags=2))
    assert outcome(excused, "returns uncorrelated beyond lag 2") == HOLDS


def test_measurement_is_a_pure_function_of_the_seed():
    returns = single(garch(3_000, seed=1))
    settings = FactSettings(max_lag=20, replicates=100)
    first, again = measure(returns, 8, settings), measure(returns, 8, settings)
    sequence = measure(returns, np.random.SeedSequence(8), settings)
    for name, table in first.tables().items():
        pd.testing.assert_frame_equal(table, again.tables()[name])
        pd.testing.assert_frame_equal(table, sequence.tables()[name])
    other = measure(returns, 9, settings)
    assert other.tail_index == first.tail_index  # point estimates do not use the seed
    assert other.kurtosis["ci_low"].iloc[0] != first.kurtosis["ci_low"].iloc[0]


# ---------------------------------------------------------------------------------------------
# Reports, figures, errors


def test_report_tables_and_figures_for_named_sets(tmp_path):
    rng = np.random.default_rng(0)
    settings = FactSettings(max_lag=20, replicates=50)
    named = {"simulated": measure(single(garch(2_000, 2)), 0, settings),
             "i.i.d. Student-t": measure(single(rng.standard_t(4, 2_000)), 0, settings)}
    text = facts.markdown_section(named, title="Stylized facts")
    assert text.startswith("## Stylized facts")
    assert "### simulated" in text and "### i.i.d. Student-t" in text
    assert text.count("| heavy tails") == 2 and "ACF(\\|r\\|)" in text
    tables = facts.combined_tables(named)
    assert set(tables) == {"summary", "kurtosis", "hill", "acf", "density", "verdicts"}
    assert list(tables["verdicts"]["set"].unique()) == ["simulated", "i.i.d. Student-t"]
    assert len(tables["verdicts"]) == 10
    tables["acf"].to_parquet(tmp_path / "acf.parquet")
    paths = facts.save_figures(named, tmp_path)
    assert [path.name for path in paths] == [f"stylized_facts_{name}.png" for name in
                                              ("density", "autocorrelation", "kurtosis", "hill")]
    assert all(path.stat().st_size > 10_000 for path in paths)


@pytest.mark.parametrize("call, message", [
    (lambda: SegmentedReturns(np.ones(3), np.array([2, 2])), "sum to the 3 returns"),
    (lambda: SegmentedReturns.from_segments([[], []]), "at least one return"),
    (lambda: price_changes([1.0, np.nan]), "prices must contain only finite"),
    (lambda: price_changes([1.0, 2.0], ["a"]), "one value per price"),
    (lambda: measure(single(np.ones(10)), 0), "at least 20"),
    (lambda: measure(single(np.arange(100.0)), -1), "seed must be an integer >= 0"),
    (lambda: FactSettings(levels=(2, 4)), "starting at 1"),
    (lambda: FactSettings(confidence=1.0), r"confidence must be in \[0.5, 1\)"),
    (lambda: FactSettings(fit_lags=(1, 200)), "fit_lags last must be <= max_lag"),
    (lambda: facts.hill_estimate(np.ones(10), 10), r"tail_count must be in \[2, 9\]"),
    (lambda: BlockBootstrap(np.array([5]), 0, 10, 0), "block_length must be an integer"),
])
def test_bad_input_raises_a_named_parameter_error(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


@pytest.mark.parametrize("path", [FIRSTRATE, YAHOO], ids=["firstrate", "yahoo"])
def test_real_bars_measure_to_finite_numbers(path):
    if not path.exists():
        pytest.skip(f"{path.name} not present (set ACSIM_DATA)")
    from acsim.simulator.market_data import load_bars, session_dates

    bars = load_bars(path)
    returns = price_changes(bars["close"], session_dates(bars))
    assert returns.lengths.tolist() == [77] * returns.lengths.size  # 78 bars, no overnight
    measured = measure(returns, seed=0, settings=FactSettings(replicates=100))
    numbers = [measured.tail_index, measured.decay_exponent, measured.mean_absolute_acf,
               *measured.kurtosis["excess_kurtosis"], *measured.acf["acf"]]
    assert np.all(np.isfinite(numbers))
    assert set(measured.verdicts["outcome"]) <= {HOLDS, FAILS, UNDECIDED}
