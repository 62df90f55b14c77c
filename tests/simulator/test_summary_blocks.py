"""Many rows summarised together (simulator/statistics.py `summarise_blocks`) and the utility's
delta-method intervals.

Oracles:
- numpy on each row held in memory: np.quantile (linear) EXACTLY, np.mean/np.var within
  1e-12 relative; the one-row summary `summarise` of the same values BIT FOR BIT for the
  mean, std and quantiles (a row's figures do not depend on the other rows);
- the same exact quantiles for any number of blocks;
- a fixed number of passes (each block read once per pass): 3 without narrowing;
- the utility's standard error against its closed form for Gaussian shortfall,
  √((σ² + 2λ²σ⁴)/n), within 3% at n = 200,000; paired against
  √((Var(a − b) + λ²(2σ_a⁴ + 2σ_b⁴ − 4·Cov(a, b)²))/n) for a bivariate Gaussian;
- seeded coverage of the 95% utility intervals (single and paired) over 400 independent
  replications of 400 episodes: within [0.92, 0.98] (±2.7 binomial standard deviations).
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.simulator import statistics
from acsim.simulator.statistics import summarise_blocks


def split(values: np.ndarray, blocks: int):
    """A callable giving a fresh pass over (rows × episodes) blocks, counting the passes."""
    pieces = np.array_split(values, blocks, axis=1)
    passes = []

    def read():
        passes.append(1)
        return iter(pieces)
    return read, passes


def sample(rows: int, episodes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 10.0, (rows, episodes))
    values[1] = rng.lognormal(3.0, 1.5, episodes)  # a heavy tail
    values[2] = rng.integers(0, 4, episodes)  # ties
    values[3] = 7.25  # constant
    return values


@pytest.mark.parametrize("blocks", [1, 3, 17])
def test_many_rows_equal_numpy_and_the_one_row_summary(blocks):
    values = sample(6, 9_000, 1)
    aversion = [0.0, 0.001, 0.002, 0.003, 0.004, 0.005]
    notional = [1e5, 2e5, 3e5, 4e5, 5e5, 6e5]
    read, passes = split(values, blocks)
    summaries, _, moments = summarise_blocks(read, notional, aversion)
    assert len(passes) == 3  # moments, histograms, values: each block read once per pass
    for row, summary in enumerate(summaries):
        x = values[row]
        for key, p in (("q05", 0.05), ("q50", 0.5), ("q95", 0.95), ("var95", 0.95)):
            assert summary[key] == np.quantile(x, p), (row, key)
        assert summary["mean_is"] == pytest.approx(np.mean(x), rel=1e-12)
        assert summary["std_is"] == pytest.approx(np.std(x, ddof=1), rel=1e-12, abs=1e-12)
        assert summary["utility"] == pytest.approx(np.mean(x) + aversion[row] * np.var(x, ddof=1),
                                                   rel=1e-12)
        assert summary["mean_is_bps"] == pytest.approx(1e4 * np.mean(x) / notional[row],
                                                       rel=1e-12)
        tail = x[x >= np.quantile(x, 0.95)]
        assert summary["cvar95"] == pytest.approx(tail.mean(), rel=1e-12)
        assert (moments.low[row], moments.high[row]) == (x.min(), x.max())
        # one row alone (summarise_chunks is summarise_blocks on one row): rows do not interact
        alone = statistics.summarise_chunks(
            lambda x=x: np.array_split(x, blocks), notional[row], aversion[row])
        for key in ("mean_is", "std_is", "q05", "q50", "q95", "var95", "utility"):
            assert summary[key] == alone[key], (row, key)
    with_one_block = summarise_blocks(split(values, 1)[0], notional, aversion)[0]
    for mine, other in zip(summaries, with_one_block):
        for key in ("q05", "q50", "q95", "var95"):
            assert mine[key] == other[key], key


def test_narrowed_bins_stay_exact_with_the_tail_pass(monkeypatch):
    """KEEP_LIMIT 1 forces every bin to be narrowed (more passes) and the CVaR tail pass."""
    monkeypatch.setattr(statistics, "KEEP_LIMIT", 1)
    values = sample(5, 3_000, 2)
    values[0, 0] = 1e7  # one outlier: every other value in one bin of the first histogram
    summaries, _, _ = summarise_blocks(split(values, 4)[0], [1.0] * 5, [0.0] * 5)
    for row, summary in enumerate(summaries):
        x = values[row]
        for key, p in (("q05", 0.05), ("q50", 0.5), ("q95", 0.95)):
            assert summary[key] == np.quantile(x, p), (row, key)
        assert summary["cvar95"] == pytest.approx(x[x >= np.quantile(x, 0.95)].mean(), rel=1e-12)


def test_paired_rows_equal_numpy_on_the_differences():
    values = sample(5, 5_000, 3)
    pairs = [(0, 4), (1, 4), (3, 0)]
    aversion = [0.01, 0.02, 0.0, 0.03, 0.04]
    summaries, paired, _ = summarise_blocks(split(values, 5)[0], [1.0] * 5, aversion, pairs)
    for (a, b), row in zip(pairs, paired):
        difference = values[a] - values[b]
        assert row["episodes"] == 5_000
        assert row["mean_difference"] == pytest.approx(difference.mean(), rel=1e-12)
        assert row["std_difference"] == pytest.approx(difference.std(ddof=1), rel=1e-12)
        utilities = [values[i].mean() + aversion[i] * values[i].var(ddof=1) for i in (a, b)]
        assert row["utility_difference"] == pytest.approx(utilities[0] - utilities[1],
                                                          rel=1e-10, abs=1e-10)


def test_utility_stderr_equals_its_gaussian_closed_form():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    n, sigma, aversion, rho = 200_000, 3.0, 0.05, 0.6
    first = rng.normal(size=n)
    second = rho * first + np.sqrt(1 - rho**2) * rng.normal(size=n)
    a, b = 10.0 + sigma * first, 4.0 + 1.5 * sigma * second
    summaries, paired, _ = summarise_blocks(split(np.stack([a, b]), 7)[0], [1.0, 1.0],
                                            [aversion, aversion], [(0, 1)])
    for summary, scale in zip(summaries, (sigma, 1.5 * sigma)):
        expected = np.sqrt((scale**2 + 2 * aversion**2 * scale**4) / n)
        assert summary["utility_stderr"] == pytest.approx(expected, rel=0.03)
    var_a, var_b, covariance = sigma**2, (1.5 * sigma) ** 2, rho * sigma * 1.5 * sigma
    expected = np.sqrt((var_a + var_b - 2 * covariance
                        + aversion**2 * (2 * var_a**2 + 2 * var_b**2 - 4 * covariance**2)) / n)
    assert paired[0]["utility_difference_stderr"] == pytest.approx(expected, rel=0.03)
    low, high = paired[0]["utility_difference_ci95_low"], paired[0]["utility_difference_ci95_high"]
    centre = paired[0]["utility_difference"]
    assert (high - low) / 2 == pytest.approx(statistics.Z95 * expected, rel=0.03)
    assert (low + high) / 2 == pytest.approx(centre, rel=1e-12)


def test_utility_intervals_cover_the_true_utility():
    """400 replications as 800 rows of one call: rows 2i and 2i+1 a correlated pair."""
    rng = np.random.default_rng(np.random.SeedSequence(12))
    replications, n, aversion, rho = 400, 400, 0.2, 0.5
    first = rng.normal(size=(replications, n))
    second = rho * first + np.sqrt(1 - rho**2) * rng.normal(size=(replications, n))
    values = np.empty((2 * replications, n))
    values[0::2], values[1::2] = 1.0 + 2.0 * first, 1.5 + 1.0 * second
    truth_a, truth_b = 1.0 + aversion * 4.0, 1.5 + aversion * 1.0
    pairs = [(2 * i, 2 * i + 1) for i in range(replications)]
    summaries, paired, _ = summarise_blocks(split(values, 2)[0], [1.0] * 2 * replications,
                                            [aversion] * 2 * replications, pairs)
    covered = np.mean([s["utility_ci95_low"] <= truth_a <= s["utility_ci95_high"]
                       for s in summaries[0::2]])
    assert 0.92 <= covered <= 0.98, covered
    covered = np.mean([p["utility_difference_ci95_low"] <= truth_a - truth_b
                       <= p["utility_difference_ci95_high"] for p in paired])
    assert 0.92 <= covered <= 0.98, covered


def test_every_phase_shows_a_progress_bar(capsys):
    values = sample(4, 500, 6)
    summarise_blocks(split(values, 2)[0], [1.0] * 4, [0.0] * 4, progress=True, total=2)
    err = capsys.readouterr().err
    for phase in ("summary: moments", "summary: histograms", "summary: values"):
        assert phase in err, phase
