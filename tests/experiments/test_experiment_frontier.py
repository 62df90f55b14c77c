"""`acsim frontier` end to end, its saved tables checked against oracles written here.

The command is run once through `acsim.experiments.cli.main` (--quick, seed 7, one worker).

Oracles (none of them calls the code under test for a number):
- TWAP end, λ = 0 (MODEL.md §3a with n_k = X/N):
      E = ½γX² + εX + η̃X²/T,   V = σ²τX²(N-1)(2N-1)/(6N)
  (Σ_{k=1}^{N} x_k² = (X/N)²·Σ_{j=0}^{N-1} j² = X²(N-1)(2N-1)/(6N)).
- block-trade end (n_1 = X, x_k = 0 for k >= 1): E = ½γX² + εX + η̃X²/τ, V = 0.
- λ > 0: `closed_form_cost` (the AC 2000 hyperbolic closed forms, not the summation
  formulas that produced the table), 1e-9 relative; and, at a few λ, a brute-force
  least-squares solve of the discrete AC problem written here.
- Monte Carlo: the per-episode Parquet files are read back and the table's mean,
  variance, their standard errors and z-scores recomputed; the points must lie within
  4 standard errors (normal theory: SE(var) = V·√(2/(n-1)), the shortfall being exactly
  Gaussian here) of the analytic E and V.
- Exact per-episode check: with no coupling and no self-alpha the realised shortfall of a
  deterministic schedule is IS = E - σ√τ·Σ_k ξ_k x_k (MODEL.md §2 identity), and ξ_k is
  rebuilt here from the documented random-stream protocol (simulator/randomness.py
  docstring: SeedSequence(seed, spawn_key=(block, 2)), PCG64, one uniform per step,
  ξ = Φ⁻¹(max(u, 2⁻⁵⁴))).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from acsim.experiments import cli
from acsim.simulator.study import load_episodes
from acsim.strategies.almgren_chriss import closed_form_cost
from acsim.strategies.parameters import ExecutionProblem
from tests.oracles import price_shocks, read_table

SEED = 7
PNG = b"\x89PNG\r\n\x1a\n"
QUICK_EPISODES = 4096  # the documented --quick size of the frontier command

# The default market of the simulator (simulator/config.py docstring), written out here.
X, T, N, PRICE = 1000.0, 20.0, 20, 100.0
SIGMA, EPS, ETA, GAMMA = 0.1, 0.01, 0.002, 1e-4
TAU = T / N
ETA_TILDE = ETA - 0.5 * GAMMA * TAU
MONTE_CARLO_AVERSIONS = (0.0, 0.0005, 0.002, 0.005, 0.02, 0.1)
MARKET = ExecutionProblem(shares=X, horizon=T, steps=N, price=PRICE, volatility=SIGMA,
                          half_spread=EPS, temporary_impact=ETA, permanent_impact=GAMMA,
                          risk_aversion=0.0, drift=0.0)


def twap_cost() -> tuple[float, float]:
    expected = 0.5 * GAMMA * X**2 + EPS * X + ETA_TILDE * X**2 / T
    variance = SIGMA**2 * TAU * X**2 * (N - 1) * (2 * N - 1) / (6 * N)
    return expected, variance


def block_trade_cost() -> tuple[float, float]:
    return 0.5 * GAMMA * X**2 + EPS * X + ETA_TILDE * X**2 / TAU, 0.0


def least_squares_schedule(risk_aversion: float) -> np.ndarray:
    """x_0..x_N minimising (η̃/τ)Σ n_k² + λσ²τ Σ x_k² with x_0 = X, x_N = 0, as a
    least-squares problem in the free holdings x_1..x_{N-1} (numpy lstsq)."""
    free = N - 1
    rows, rhs = [], []
    weight = math.sqrt(ETA_TILDE / TAU)
    for k in range(1, N + 1):  # √(η̃/τ)·(x_{k-1} - x_k)
        row = np.zeros(free)
        constant = 0.0
        if k - 1 == 0:
            constant += X
        else:
            row[k - 2] += 1.0
        if k <= free:
            row[k - 1] -= 1.0
        rows.append(weight * row)
        rhs.append(-weight * constant)
    risk = math.sqrt(risk_aversion * SIGMA**2 * TAU)
    for k in range(1, N):  # √(λσ²τ)·x_k
        row = np.zeros(free)
        row[k - 1] = risk
        rows.append(row)
        rhs.append(0.0)
    solution = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.concatenate([[X], solution, [0.0]])


def cost_of(holdings: np.ndarray) -> tuple[float, float]:
    trades = holdings[:-1] - holdings[1:]
    expected = (0.5 * GAMMA * X**2 + EPS * np.abs(trades).sum()
                + ETA_TILDE / TAU * np.sum(trades**2))
    return float(expected), float(SIGMA**2 * TAU * np.sum(holdings[1:] ** 2))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frontier") / "out"
    code = cli.main(["frontier", "--quick", "--out", str(out), "--seed", str(SEED),
                     "--workers", "1"])
    assert code == 0
    return out


def relative(got, expected) -> np.ndarray:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return np.abs(got - expected) / np.abs(expected)


# ---------------------------------------------------------------- outputs on disk

def test_cli_writes_figure_tables_and_report(run):
    png = run / "figures" / "frontier.png"
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 1000
    for name in ("frontier", "ends", "monte_carlo"):
        frame = read_table(run, name)
        assert len(frame) > 0
    report = (run / "report.md").read_text()
    assert f"{QUICK_EPISODES:,} simulated episodes" in report
    assert f"seed {SEED}" in report
    # the report's count of points inside 4 standard errors, recounted from the table
    mc = read_table(run, "monte_carlo")
    inside = int(((mc["mean_z"].abs() <= 4) & (mc["variance_z"].abs() <= 4)).sum())
    assert f"{inside} of {len(mc)} Monte Carlo points" in report


def test_episodes_flag_sets_run_size(tmp_path):
    out = tmp_path / "small"
    assert cli.main(["frontier", "--quick", "--episodes", "300", "--out", str(out),
                     "--seed", "0", "--workers", "1"]) == 0
    mc = read_table(out, "monte_carlo")
    assert (mc["episodes"] == 300).all()
    assert "300 simulated episodes" in (out / "report.md").read_text()
    assert "seed 0" in (out / "report.md").read_text()


# ---------------------------------------------------------------- analytic frontier

def test_analytic_frontier_twap_end_is_the_closed_form(run):
    frontier = read_table(run, "frontier")
    assert frontier["risk_aversion"].iloc[0] == 0.0
    expected, variance = twap_cost()
    assert (expected, variance) == pytest.approx((157.5, 61750.0), rel=1e-15)  # arithmetic
    assert relative(frontier["expected_shortfall"].iloc[0], expected) <= 1e-12
    assert relative(frontier["variance"].iloc[0], variance) <= 1e-12


def test_analytic_frontier_matches_closed_form_cost_at_every_aversion(run):
    frontier = read_table(run, "frontier")
    assert len(frontier) == 201 and frontier["risk_aversion"].max() == pytest.approx(1e4)
    for row in frontier.iloc[1:].itertuples():
        assert row.risk_aversion > 0.0
        cost = closed_form_cost(MARKET.with_changes(risk_aversion=float(row.risk_aversion)))
        assert relative(row.expected_shortfall, cost.expected_shortfall) <= 1e-9, row
        assert relative(row.variance, cost.variance) <= 1e-9, row


@pytest.mark.parametrize("index", [0, 20, 60, 100, 140])
def test_analytic_frontier_matches_a_brute_force_solve(run, index):
    row = read_table(run, "frontier").iloc[index]
    expected, variance = cost_of(least_squares_schedule(float(row["risk_aversion"])))
    assert relative(row["expected_shortfall"], expected) <= 1e-8
    assert relative(row["variance"], variance) <= 1e-8


def test_frontier_trades_expected_cost_for_variance(run):
    frontier = read_table(run, "frontier").sort_values("risk_aversion")
    assert np.all(np.diff(frontier["risk_aversion"]) > 0)
    assert np.all(np.diff(frontier["expected_shortfall"]) > 0)
    assert np.all(np.diff(frontier["variance"]) < 0)
    # and it runs between the two ends, approaching the block trade at λ = 10⁴
    block_expected, _ = block_trade_cost()
    assert frontier["expected_shortfall"].max() < block_expected
    assert block_expected - frontier["expected_shortfall"].iloc[-1] < 1e-3 * block_expected
    assert frontier["variance"].iloc[-1] < 1e-6 * twap_cost()[1]


def test_ends_table(run):
    ends = read_table(run, "ends").set_index("end")
    assert list(ends.index) == ["twap", "block trade"]
    expected, variance = twap_cost()
    assert relative(ends.loc["twap", "expected_shortfall"], expected) <= 1e-12
    assert relative(ends.loc["twap", "variance"], variance) <= 1e-12
    block_expected, block_variance = block_trade_cost()
    assert block_expected == pytest.approx(2010.0, rel=1e-15)
    assert relative(ends.loc["block trade", "expected_shortfall"], block_expected) <= 1e-12
    assert ends.loc["block trade", "variance"] == block_variance


# ---------------------------------------------------------------- Monte Carlo

def test_monte_carlo_table_recomputed_from_the_episode_files(run):
    mc = read_table(run, "monte_carlo").set_index("risk_aversion")
    episodes = load_episodes(run / "simulation")
    assert sorted(episodes["market.risk_aversion"].unique()) == list(MONTE_CARLO_AVERSIONS)
    assert list(mc.index) == list(MONTE_CARLO_AVERSIONS)
    for aversion, group in episodes.groupby("market.risk_aversion"):
        values = group.sort_values("episode")["shortfall"].to_numpy()
        n = values.shape[0]
        assert n == QUICK_EPISODES
        assert np.array_equal(group.sort_values("episode")["episode"], np.arange(n))
        assert np.all(np.abs(group["final_holdings"]) <= 1e-9 * X)
        row = mc.loc[aversion]
        mean = values.sum() / n
        variance = np.sum((values - mean) ** 2) / (n - 1)
        mean_error = math.sqrt(variance / n)
        fourth = np.mean((values - mean) ** 4)
        variance_error = math.sqrt((fourth - variance**2) / n)
        assert row["episodes"] == n
        assert relative(row["mean_is"], mean) <= 1e-12
        assert relative(row["variance_is"], variance) <= 1e-10
        assert relative(row["mean_stderr"], mean_error) <= 1e-10
        assert relative(row["variance_stderr"], variance_error) <= 1e-8
        assert relative(row["mean_z"], (mean - row["expected_shortfall"]) / mean_error) <= 1e-8
        assert relative(row["variance_z"],
                        (variance - row["variance"]) / variance_error) <= 1e-8


def test_monte_carlo_analytic_columns_are_the_closed_forms(run):
    mc = read_table(run, "monte_carlo").set_index("risk_aversion")
    expected, variance = twap_cost()
    assert relative(mc.loc[0.0, "expected_shortfall"], expected) <= 1e-12
    assert relative(mc.loc[0.0, "variance"], variance) <= 1e-12
    for aversion in MONTE_CARLO_AVERSIONS[1:]:
        cost = closed_form_cost(MARKET.with_changes(risk_aversion=aversion))
        assert relative(mc.loc[aversion, "expected_shortfall"], cost.expected_shortfall) <= 1e-9
        assert relative(mc.loc[aversion, "variance"], cost.variance) <= 1e-9


def test_monte_carlo_points_lie_within_four_standard_errors(run):
    mc = read_table(run, "monte_carlo")
    for row in mc.itertuples():
        if row.risk_aversion == 0.0:
            expected, variance = twap_cost()
        else:
            cost = closed_form_cost(MARKET.with_changes(risk_aversion=float(row.risk_aversion)))
            expected, variance = cost.expected_shortfall, cost.variance
        n = row.episodes
        assert abs(row.mean_is - expected) <= 4.0 * math.sqrt(variance / n), row
        assert abs(row.variance_is - variance) <= 4.0 * variance * math.sqrt(2.0 / (n - 1)), row


def test_every_episode_shortfall_is_the_exact_identity(run):
    """IS_e = E - σ√τ·Σ_k ξ_{e,k}·x_k for the static AC schedule of each λ."""
    shocks = price_shocks(SEED, 0, QUICK_EPISODES, N)
    episodes = load_episodes(run / "simulation")
    for aversion in MONTE_CARLO_AVERSIONS:
        holdings = least_squares_schedule(aversion)
        expected, _ = cost_of(holdings)
        predicted = expected - SIGMA * math.sqrt(TAU) * shocks @ holdings[1:]
        saved = (episodes[episodes["market.risk_aversion"] == aversion]
                 .sort_values("episode")["shortfall"].to_numpy())
        np.testing.assert_allclose(saved, predicted, rtol=0, atol=1e-7 * X)


# ---------------------------------------------------------------- one frontier per impact model

def test_power_law_frontiers_start_at_twap_with_the_linear_cost(run):
    """λ = 0: the power-law optimum is TWAP, and with η_p matched to η at the TWAP rate its
    E is the linear TWAP cost: ½γX² - ½γN(X/N)² + εX + η_pτ^(-β)N(X/N)^(1+β) = ½γX² + εX + ηX²/T
    minus the ½γτ X²/T that η̃ holds."""
    curves = read_table(run, "model_frontiers")
    expected, variance = twap_cost()
    for name in ("square root (β = 0.5)", "power law (β = 0.6, ATHL)"):
        first = curves[curves["model"] == name].iloc[0]
        assert first["risk_aversion"] == 0.0
        assert relative(first["expected_shortfall"], expected) <= 1e-9
        assert relative(first["variance"], variance) <= 1e-9


def test_transient_frontiers_beat_twap_under_their_own_model(run):
    """λ = 0: the transient planner's E is at most that of TWAP under the same model,
    ½γX² + εX + η̃X²/T + ½(X/N)²·Σ_kj G(|k-j|τ), written out with the default kernels."""
    curves = read_table(run, "model_frontiers")
    lags = np.abs(np.subtract.outer(np.arange(N), np.arange(N))) * TAU
    kernels = {"transient, exponential kernel": 1e-3 * np.exp(-0.5 * lags),
               "transient, power-law kernel": 1e-3 * (1.0 + lags / 1.0) ** -0.5}
    for name, matrix in kernels.items():
        twap = twap_cost()[0] + 0.5 * (X / N) ** 2 * matrix.sum()
        first = curves[curves["model"] == name].iloc[0]
        assert first["expected_shortfall"] < twap - 0.1  # better than TWAP beyond rounding
        assert first["expected_shortfall"] > twap_cost()[0]  # transient impact costs something


def test_model_frontiers_trade_cost_for_variance(run):
    curves = read_table(run, "model_frontiers")
    assert curves["model"].nunique() == 4
    for _, curve in curves.groupby("model"):
        curve = curve.sort_values("risk_aversion")
        assert np.all(np.diff(curve["expected_shortfall"]) >= -1e-9)
        assert np.all(np.diff(curve["variance"]) <= 1e-9)
        assert curve["variance"].iloc[-1] < 0.01 * curve["variance"].iloc[0]


def test_model_monte_carlo_points_lie_within_four_standard_errors(run):
    """The static plan of each model traded in that model's market: IS = E - σ√τΣξx exactly,
    so mean and variance must match the planned E and V (normal theory, 4 standard errors)."""
    mc = read_table(run, "model_monte_carlo")
    curves = read_table(run, "model_frontiers")
    assert len(mc) == 4 * 3
    for row in mc.itertuples():
        if row.risk_aversion == 0.0:
            planned = curves[(curves["model"] == row.model) & (curves["risk_aversion"] == 0.0)]
            assert relative(row.expected_shortfall, planned["expected_shortfall"].iloc[0]) < 1e-9
        n, variance = row.episodes, row.variance
        assert abs(row.mean_is - row.expected_shortfall) <= 4.0 * math.sqrt(variance / n), row
        assert abs(row.variance_is - variance) <= 4.0 * variance * math.sqrt(2.0 / (n - 1)), row
