"""`acsim coupling-study` end to end, its saved tables checked against oracles written here.

Two runs, each made once per module:
- the CLI (`acsim.experiments.cli.main`), --quick with --episodes 512, seed 13, one worker: the
  whole 5 × 3 grid, for the files, the report and the consistency of the tables;
- `coupling_study.run(..., workers=1, couplings=(0.0, 0.01), self_alphas=(0.0, 1e-4))`
  with 2,048 episodes, seed 11, for the properties of the model.

Oracles: per-episode Parquet files read back (`load_episodes`) and summarised here; the
report's numbers recounted from those; and, at coupling 0, the exact shortfall of each
episode, IS = E_true - σ√τ·Σ_k ξ_k x_k with
E_true = ½γX² + εΣ|n_k| + (η̃/τ)Σ n_k² + self_alpha·τ·Σ x_k² (MODEL.md §2 identity; the
last term is the self-alpha drift -self_alpha·x_k acting on the x_k shares held through
step k), where the schedules are solved here by least squares and ξ is rebuilt from the
documented random-stream protocol (simulator/randomness.py).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acsim.experiments import cli, coupling_study
from acsim.simulator.study import load_episodes
from tests.oracles import (
    expected_shortfall_with_self_alpha,
    least_squares_holdings,
    price_shocks,
    read_table,
    verdict_rule,
)

PNG = b"\x89PNG\r\n\x1a\n"
Z95 = 1.959963984540054
CLI_SEED, CLI_EPISODES = 13, 512
SEED, EPISODES = 11, 2048
COUPLINGS, SELF_ALPHAS = (0.0, 0.01), (0.0, 1e-4)
EXTENDED = ("extended/persistent", "extended/model")

# The simulator's default market (simulator/config.py docstring), written out here.
X, T, N = 1000.0, 20.0, 20
SIGMA, EPS, ETA, GAMMA, LAMBDA = 0.1, 0.01, 0.002, 1e-4, 0.002
TAU = T / N
ETA_TILDE = ETA - 0.5 * GAMMA * TAU


def shocks_of(seed: int, block: int, episodes: int) -> np.ndarray:
    return price_shocks(seed, block, episodes, N)


def holdings_for(urgency: float) -> np.ndarray:
    return least_squares_holdings(X, N, TAU, ETA_TILDE, urgency)


def true_cost(holdings: np.ndarray, self_alpha: float) -> float:
    return expected_shortfall_with_self_alpha(holdings, TAU, ETA_TILDE, GAMMA, EPS, self_alpha)


def shortfalls(episodes: pd.DataFrame, strategy: str, coupling: float,
               self_alpha: float) -> np.ndarray:
    rows = episodes[(episodes["strategy"] == strategy)
                    & (episodes["extended.coupling"] == coupling)
                    & (episodes["extended.self_alpha"] == self_alpha)].sort_values("episode")
    assert np.array_equal(rows["episode"].to_numpy(), np.arange(len(rows)))
    return rows["shortfall"].to_numpy()


def my_paired(episodes: pd.DataFrame, strategy: str, coupling: float, self_alpha: float):
    """(mean, std, ci low, ci high) of IS(strategy) - IS(ac-adaptive), computed here."""
    d = (shortfalls(episodes, strategy, coupling, self_alpha)
         - shortfalls(episodes, "ac-adaptive", coupling, self_alpha))
    mean, std = d.mean(), d.std(ddof=1)
    half = Z95 * std / math.sqrt(d.shape[0])
    return mean, std, mean - half, mean + half


def report_counts(report: str) -> tuple[int, int, int]:
    match = re.search(r"significantly cheaper than adaptive AC \(95% CI below 0\) in (\d+) of "
                      r"(\d+) .*? significantly dearer in (\d+)\.", report, re.S)
    assert match, report
    return tuple(int(group) for group in match.groups())


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coupling-cli") / "out"
    code = cli.main(["coupling-study", "--quick", "--episodes", str(CLI_EPISODES), "--out",
                     str(out), "--seed", str(CLI_SEED), "--workers", "1"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = tmp_path_factory.mktemp("coupling-grid") / "out"
    output = coupling_study.run(out, EPISODES, SEED, workers=1, couplings=COUPLINGS,
                                self_alphas=SELF_ALPHAS)
    assert output.directory == out
    return out, read_table(out, "summary"), read_table(out, "paired"), \
        load_episodes(out / "simulation")


# ---------------------------------------------------------------- outputs on disk

def test_cli_writes_figures_tables_and_report(cli_run):
    for name in ("shortfall_vs_coupling", "paired_vs_coupling", "var95_vs_self_alpha"):
        png = cli_run / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 1000
    summary = read_table(cli_run, "summary")
    paired = read_table(cli_run, "paired")
    assert len(summary) == 4 * 5 * 3 and len(paired) == 3 * 5 * 3
    assert (summary["episodes"] == CLI_EPISODES).all()
    report = (cli_run / "report.md").read_text()
    assert f"{CLI_EPISODES:,} episodes per case (seed {CLI_SEED})" in report


def test_cli_report_counts_agree_with_the_episodes(cli_run):
    episodes = load_episodes(cli_run / "simulation")
    paired = read_table(cli_run, "paired")
    extended = paired[paired["strategy"].isin(EXTENDED)]
    cheaper = dearer = 0
    for row in extended.to_dict(orient="records"):
        _, _, low, high = my_paired(episodes, row["strategy"], row["extended.coupling"],
                                    row["extended.self_alpha"])
        cheaper += high < 0.0
        dearer += low > 0.0
    assert report_counts((cli_run / "report.md").read_text()) == (cheaper, len(extended), dearer)
    assert len(extended) == 30


# ---------------------------------------------------------------- the reduced grid

def test_reduced_grid_report_size_and_grid(grid):
    out, summary, paired, _ = grid
    report = (out / "report.md").read_text()
    assert f"{EPISODES:,} episodes per case (seed {SEED})" in report
    assert "grid [0.0, 0.01] × [0.0, 0.0001]" in report
    assert len(summary) == 4 * 2 * 2 and len(paired) == 3 * 2 * 2
    assert (paired["baseline"] == "ac-adaptive").all()
    for name in ("shortfall_vs_coupling", "paired_vs_coupling", "var95_vs_self_alpha"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == PNG


def test_extended_is_adaptive_ac_without_coupling_and_self_alpha(grid):
    _, _, paired, episodes = grid
    base = shortfalls(episodes, "ac-adaptive", 0.0, 0.0)
    for strategy in EXTENDED:
        assert np.array_equal(shortfalls(episodes, strategy, 0.0, 0.0), base)
        row = paired[(paired["strategy"] == strategy) & (paired["extended.coupling"] == 0.0)
                     & (paired["extended.self_alpha"] == 0.0)].iloc[0]
        for column in ("mean_difference", "std_difference", "ci95_low", "ci95_high"):
            assert row[column] == 0.0, column
    # ... and not identical as soon as the market has self-alpha or coupling
    for coupling, self_alpha in ((0.0, 1e-4), (0.01, 0.0)):
        assert not np.array_equal(shortfalls(episodes, "extended/model", coupling, self_alpha),
                                  shortfalls(episodes, "ac-adaptive", coupling, self_alpha))


def test_paired_differences_equal_differences_of_summary_means(grid):
    _, summary, paired, episodes = grid
    means = summary.set_index(["strategy", "extended.coupling", "extended.self_alpha"])["mean_is"]
    for row in paired.to_dict(orient="records"):
        key = (row["extended.coupling"], row["extended.self_alpha"])
        difference = means[(row["strategy"], *key)] - means[("ac-adaptive", *key)]
        scale = max(abs(means[("ac-adaptive", *key)]), 1.0)
        assert abs(row["mean_difference"] - difference) <= 1e-9 * scale, row
        mean, std, low, high = my_paired(episodes, row["strategy"], *key)
        assert abs(row["mean_difference"] - mean) <= 1e-9 * scale
        assert row["std_difference"] == pytest.approx(std, rel=1e-9, abs=1e-12)
        assert row["ci95_low"] == pytest.approx(low, rel=1e-9, abs=1e-9)
        assert row["ci95_high"] == pytest.approx(high, rel=1e-9, abs=1e-9)
        assert row["episodes"] == EPISODES


def test_summary_recomputed_from_episode_files(grid):
    _, summary, _, episodes = grid
    for row in summary.to_dict(orient="records"):
        values = shortfalls(episodes, row["strategy"], row["extended.coupling"],
                            row["extended.self_alpha"])
        assert row["mean_is"] == pytest.approx(values.mean(), rel=1e-12)
        assert row["std_is"] == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert row["utility"] == pytest.approx(values.mean() + LAMBDA * values.var(ddof=1),
                                               rel=1e-9)
        assert row["var95"] == np.quantile(values, 0.95)


def test_report_counts_and_best_case_agree_with_the_table(grid):
    out, _, paired, episodes = grid
    report = (out / "report.md").read_text()
    extended = paired[paired["strategy"].isin(EXTENDED)]
    mine = [my_paired(episodes, r["strategy"], r["extended.coupling"], r["extended.self_alpha"])
            for r in extended.to_dict(orient="records")]
    cheaper = sum(high < 0.0 for _, _, _, high in mine)
    dearer = sum(low > 0.0 for _, _, low, _ in mine)
    assert report_counts(report) == (cheaper, len(extended), dearer) and len(extended) == 8
    best = extended.iloc[int(np.argmin([m[0] for m in mine]))]
    assert (f"The largest saving: {best['strategy']} at coupling "
            f"{best['extended.coupling']:g}, self_alpha {best['extended.self_alpha']:g}: "
            f"{best['mean_difference']:.3f}") in report


def test_shortfall_at_zero_coupling_is_the_exact_identity(grid):
    _, _, _, episodes = grid
    shocks = shocks_of(SEED, 0, EPISODES)
    twap = X * (1.0 - np.arange(N + 1) / N)
    for self_alpha in SELF_ALPHAS:
        schedules = {"twap": twap, "ac-adaptive": holdings_for(LAMBDA * SIGMA**2)}
        for strategy in EXTENDED:
            schedules[strategy] = holdings_for(LAMBDA * SIGMA**2 + self_alpha)
        for strategy, holdings in schedules.items():
            predicted = (true_cost(holdings, self_alpha)
                         - SIGMA * math.sqrt(TAU) * shocks @ holdings[1:])
            np.testing.assert_allclose(shortfalls(episodes, strategy, 0.0, self_alpha),
                                       predicted, rtol=0, atol=1e-7 * X,
                                       err_msg=f"{strategy}, self_alpha {self_alpha}")


def test_self_alpha_makes_extended_ac_significantly_cheaper(grid):
    """With self_alpha = 1e-4 extended AC beats adaptive AC on mean shortfall, significantly.

    Why (a property of the model, not of the sample): every share still held after step k
    drifts the price against the seller by self_alpha·τ per share, so the true expected
    shortfall is E_AC + self_alpha·τ·Σ x_k². Adaptive AC ignores that term and plans with
    urgency λσ² = 2e-5; extended AC prices it in and plans with λσ² + self_alpha = 1.2e-4.
    Along the AC family x(q) = argmin A + qB (A = (η̃/τ)Σn², B = τΣx²) the true mean
    f(q) = A(q) + self_alpha·B(q) has f'(q) = (self_alpha - q)·B'(q) (since A' = -qB'),
    so it is minimised at q = self_alpha = 1e-4: extended AC's urgency is 1.2× the
    mean-optimal one, adaptive AC's is 5× too small, and it carries inventory far too
    long. The expected gap (computed here from schedules solved here, ≈ -110 currency on a
    mean shortfall ≈ 570) dwarfs the noise of the paired difference, σ√τ·‖x_ext - x_AC‖,
    because the two schedules see the same price shocks. At coupling 0.01 the field adds a
    small further gain, so the conclusion holds at both couplings and both forecasts.
    """
    _, _, paired, episodes = grid
    self_alpha = 1e-4
    risk = LAMBDA * SIGMA**2
    ac, extended = holdings_for(risk), holdings_for(risk + self_alpha)
    gap = true_cost(extended, self_alpha) - true_cost(ac, self_alpha)
    noise = SIGMA * math.sqrt(TAU) * np.linalg.norm(extended[1:] - ac[1:])
    assert gap < -20.0 * Z95 * noise / math.sqrt(EPISODES)
    # the mean-optimal urgency is self_alpha itself (f'(q) = (self_alpha - q)·B'(q))
    urgencies = np.array([0.5, 0.8, 1.0, 1.25, 2.0]) * self_alpha
    true_means = [true_cost(holdings_for(q), self_alpha)
                  for q in urgencies]
    assert int(np.argmin(true_means)) == 2
    for coupling in COUPLINGS:
        for strategy in EXTENDED:
            row = paired[(paired["strategy"] == strategy)
                         & (paired["extended.coupling"] == coupling)
                         & (paired["extended.self_alpha"] == self_alpha)].iloc[0]
            assert row["ci95_high"] < 0.0, (strategy, coupling)
            mean, _, _, high = my_paired(episodes, strategy, coupling, self_alpha)
            assert high < 0.0
            # the measured saving is the predicted one to within 4 standard errors
            assert abs(mean - gap) <= 4.0 * noise / math.sqrt(EPISODES) + (
                0.0 if coupling == 0.0 else 0.1 * abs(gap)), (strategy, coupling, mean, gap)


def test_verdicts_recomputed_from_the_episode_files(grid):
    """Each verdict's statistic and interval from the per-episode files (extended/model minus
    adaptive AC at the field point and at the self-alpha point), with the rule written here."""
    out, _, _, episodes = grid
    verdicts = read_table(out, "verdicts")
    field = my_paired(episodes, "extended/model", max(COUPLINGS), min(SELF_ALPHAS))
    own = my_paired(episodes, "extended/model", min(COUPLINGS), max(SELF_ALPHAS))

    def per_episode(coupling, self_alpha):
        return (shortfalls(episodes, "extended/model", coupling, self_alpha)
                - shortfalls(episodes, "ac-adaptive", coupling, self_alpha))

    a = per_episode(min(COUPLINGS), max(SELF_ALPHAS))
    b = per_episode(max(COUPLINGS), min(SELF_ALPHAS))
    d = np.sign(a.mean()) * a - np.sign(b.mean()) * b
    half = Z95 * d.std(ddof=1) / math.sqrt(d.shape[0])
    expected = [(field[0], field[2], field[3], -1), (own[0], own[2], own[3], -1),
                (d.mean(), d.mean() - half, d.mean() + half, 1)]
    assert len(verdicts) == 3
    for row, (value, low, high, sign) in zip(verdicts.to_dict(orient="records"), expected):
        assert (row["value"], row["low"], row["high"]) == pytest.approx((value, low, high),
                                                                        rel=1e-9, abs=1e-9)
        assert row["verdict"] == verdict_rule(low, high, sign), row["claim"]
    report = (out / "report.md").read_text()
    assert all(f"**{v}**" in report for v in verdicts["verdict"])
