"""`acsim paper-synthetic` end to end, its saved tables checked against oracles written here.

The command is run once through `acsim.experiments.cli.main` (--quick: 500 ensemble paths;
--episodes 1024; seed 5; one worker).

Part 1, the paper-literal §4.3 QP (MODEL.md §3c), with T = 20, Q = 1000, κ = 1, λ = 0.1,
σ² = 1:

    J(x) = κ Σ x_k² + λσ² Σ I_k² - a_self Σ x_k - γ Σ x̄_k x_k,   Σ x_k = Q,
    I_k = X_k = Σ_{i<=k} x_i (cumulative, as printed) or I_k = Q - X_k (remaining).

At γ = 0 the field drops out, so every path has the same schedule and the saved mean
trades *are* the schedule. J is recomputed here from them; the minimiser is found here by
a dense KKT solve whose matrices are read off the objective function written in this file
(polarisation of the quadratic, nothing copied from strategies/paper.py).

Time reversal, proved: let y_k = x_{T+1-k}. Then Y_k = Σ_{i<=k} y_i = Q - X_{T-k}, so
the remaining inventory of y is Q - Y_k = X_{T-k}, and Σ_{k=1}^{T} (Q - Y_k)² =
Σ_{j=0}^{T-1} X_j² = Σ_{j=1}^{T} X_j² - Q² (X_0 = 0, X_T = Q). With Σy² = Σx² and Σy = Σx,
    J_remaining(y) = J_cumulative(x) - λσ²Q²   (at γ = 0, any a_self).
Reversal is a bijection of the feasible set, so the remaining-reading minimiser is the
reverse of the cumulative one and the optimal objectives differ by exactly λσ²Q² = 10⁵.

Exact expectations: the field's mean and covariance are rebuilt here from a transition matrix
written entry by entry (tests/oracles.py), the response matrix R from the same dense KKT
matrix as the minimiser, so E[J*(γ)] - J*(0) = -(γ²/4)·tr(RΣ) is computed here independently;
the saved Monte Carlo means must lie within 4 standard errors of it. Every verdict in
verdicts.csv is recomputed from the saved tables with the rule written here.

Part 2, the simulated market: the summary and paired tables are recomputed from the
per-episode Parquet files; at coupling 0 the shortfall of TWAP, adaptive AC and extended
AC is deterministic apart from the price noise, IS = E_true - σ√τ Σ ξ_k x_k with
E_true = ½γX² + εΣ|n| + (η̃/τ)Σn² + self_alpha·τ·Σx_k² (MODEL.md §2 identity), and ξ is
rebuilt from the documented random-stream protocol (simulator/randomness.py).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acsim.experiments import cli
from acsim.simulator.study import load_episodes
from tests.oracles import (
    expected_shortfall_with_self_alpha,
    least_squares_holdings,
    loop_random_walk_matrix,
    price_shocks,
    read_table,
    verdict_rule,
)

SEED = 5
PATHS = 500  # the documented --quick number of ensemble paths
EPISODES = 1024
PNG = b"\x89PNG\r\n\x1a\n"
Z95 = 1.959963984540054

Q, STEPS, KAPPA, LAMBDA, VARIANCE = 1000.0, 20, 1.0, 0.1, 1.0
COUPLINGS = (0.0, 0.1, 0.5, 1.0, 2.0)
SELF_ALPHAS = (0.01, 1.0)
READINGS = ("cumulative", "remaining")
# the simulated market of part 2 (η/τ = κ = 1, σ = 1, no spread, no permanent impact)
SIGMA, ETA, TAU, EPS, GAMMA_PERMANENT = 1.0, 1.0, 1.0, 0.0, 0.0
ETA_TILDE = ETA - 0.5 * GAMMA_PERMANENT * TAU


def shocks_of(seed: int, block: int, episodes: int) -> np.ndarray:
    return price_shocks(seed, block, episodes, STEPS)


def holdings_for(urgency: float) -> np.ndarray:
    return least_squares_holdings(Q, STEPS, TAU, ETA_TILDE, urgency)


def true_cost(holdings: np.ndarray, self_alpha: float) -> float:
    return expected_shortfall_with_self_alpha(holdings, TAU, ETA_TILDE, GAMMA_PERMANENT, EPS,
                                              self_alpha)


def objective(trades, reading: str, self_alpha: float, coupling: float = 0.0,
              field=None) -> float:
    """The §4.3 objective, term by term."""
    x = np.asarray(trades, dtype=float)
    executed = np.cumsum(x)
    inventory = executed if reading == "cumulative" else Q - executed
    field = np.zeros_like(x) if field is None else np.asarray(field, dtype=float)
    return float(KAPPA * np.sum(x**2) + LAMBDA * VARIANCE * np.sum(inventory**2)
                 - self_alpha * np.sum(x) - coupling * np.sum(field * x))


def kkt_system(reading: str, self_alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(KKT matrix, b, A) of J(x) = x'Ax + b'x + c at γ = 0, read off `objective` by
    polarisation."""
    def j(x):
        return objective(x, reading, self_alpha)

    eye = np.eye(STEPS)
    c = j(np.zeros(STEPS))
    single = np.array([j(eye[i]) for i in range(STEPS)])
    a = np.empty((STEPS, STEPS))
    for i in range(STEPS):
        for k in range(STEPS):
            a[i, k] = 0.5 * (j(eye[i] + eye[k]) - single[i] - single[k] + c)
    b = single - np.diag(a) - c
    kkt = np.zeros((STEPS + 1, STEPS + 1))
    kkt[:STEPS, :STEPS] = 2.0 * a
    kkt[:STEPS, STEPS] = 1.0
    kkt[STEPS, :STEPS] = 1.0
    return kkt, b, a


def kkt_minimiser(reading: str, self_alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """argmin J s.t. Σx = Q at γ = 0; returns (x, eigenvalues of A)."""
    kkt, b, a = kkt_system(reading, self_alpha)
    solution = np.linalg.solve(kkt, np.concatenate([-b, [Q]]))
    return solution[:STEPS], np.linalg.eigvalsh(0.5 * (a + a.T))


@functools.cache
def field_law() -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the paper's field path x̄_1..x̄_20 (M = 100, ±1 with p = 1/2,
    start 50, field 5·(2m - 100)/100), from powers of the entry-by-entry matrix."""
    matrix = loop_random_walk_matrix(100, 0.5)
    counts = np.arange(101.0)
    law = np.zeros(101)
    law[50] = 1.0
    laws = [law]
    for _ in range(STEPS):
        laws.append(laws[-1] @ matrix)
    ahead = [counts]  # ahead[s] = E[m_{j+s} | m_j] = P^s·m
    for _ in range(STEPS):
        ahead.append(matrix @ ahead[-1])
    second = np.zeros((STEPS, STEPS))
    for j in range(1, STEPS + 1):
        for k in range(j, STEPS + 1):
            second[j - 1, k - 1] = second[k - 1, j - 1] = np.sum(laws[j] * counts * ahead[k - j])
    mean = np.array([laws[k] @ counts for k in range(1, STEPS + 1)])
    scale = 2.0 * 5.0 / 100.0
    return scale * (mean - 50.0), scale**2 * (second - np.outer(mean, mean))


def exact_change(reading: str, coupling: float) -> float:
    """E[J*(γ)] - J*(0) = -(γ²/4)·tr(RΣ), R = 2·(KKT⁻¹)[:T, :T] (the trades' response to b)."""
    kkt, _, _ = kkt_system(reading, 1.0)
    response = 2.0 * np.linalg.inv(kkt)[:STEPS, :STEPS]
    mean, covariance = field_law()
    assert np.allclose(mean, 0.0)
    return -0.25 * coupling**2 * float(np.trace(response @ covariance))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("paper") / "out"
    code = cli.main(["paper-synthetic", "--quick", "--episodes", str(EPISODES), "--out", str(out),
                     "--seed", str(SEED), "--workers", "1"])
    assert code == 0
    return out


def schedule(trades: pd.DataFrame, reading: str, self_alpha: float, coupling: float,
             column: str = "mean_trade") -> np.ndarray:
    """One saved schedule (mean over paths, or the exact schedule at the mean field)."""
    rows = trades[(trades["reading"] == reading) & (trades["self_alpha"] == self_alpha)
                  & (trades["coupling"] == coupling)].sort_values("step")
    assert list(rows["step"]) == list(range(1, STEPS + 1))
    return rows[column].to_numpy()


def objective_row(table: pd.DataFrame, reading: str, self_alpha: float,
                  coupling: float) -> pd.Series:
    rows = table[(table["reading"] == reading) & (table["self_alpha"] == self_alpha)
                 & (table["coupling"] == coupling)]
    assert len(rows) == 1
    return rows.iloc[0]


# ---------------------------------------------------------------- outputs on disk

def test_cli_writes_figures_tables_and_report(run):
    for name in ("figure1_objective_change", "figure2_representative_path",
                 "market_effects"):
        png = run / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 1000
    tables = {name: read_table(run, name) for name in
              ("figure1_objective", "mean_trades", "market_summary", "market_paired",
               "market_effects", "verdicts", "figure2_representative_path")}
    assert len(tables["figure1_objective"]) == len(READINGS) * len(SELF_ALPHAS) * len(COUPLINGS)
    assert len(tables["mean_trades"]) == (len(READINGS) * len(SELF_ALPHAS) * len(COUPLINGS)
                                          * STEPS)
    assert len(tables["figure2_representative_path"]) == len(READINGS) * len(COUPLINGS) * STEPS
    assert (tables["figure1_objective"]["paths"] == PATHS).all()
    assert (tables["market_summary"]["episodes"] == EPISODES).all()
    report = (run / "report.md").read_text()
    assert f"{PATHS:,} ensemble paths" in report
    assert f"seed {SEED}" in report
    assert f"{EPISODES:,} simulated episodes" in report
    for row in tables["verdicts"].itertuples():  # every verdict is in the report's table
        assert f"| {row.claim} | {row.section} |" in report and f"**{row.verdict}**" in report


# ---------------------------------------------------------------- paper-literal QP

def test_schedule_at_zero_coupling_is_path_independent(run):
    trades = read_table(run, "mean_trades")
    table = read_table(run, "figure1_objective")
    for reading in READINGS:
        for self_alpha in SELF_ALPHAS:
            mean = schedule(trades, reading, self_alpha, 0.0)
            np.testing.assert_allclose(schedule(trades, reading, self_alpha, 0.0,
                                                "exact_mean_trade"), mean, rtol=0, atol=1e-9 * Q)
            row = objective_row(table, reading, self_alpha, 0.0)
            for column in ("objective_band_low", "objective_band_high", "exact_objective"):
                assert row[column] == pytest.approx(row["objective_mean"], rel=1e-12)
            assert row["objective_stderr"] <= 1e-10 * abs(row["objective_mean"])
            assert row["change_mean"] == 0.0 and row["exact_change"] == 0.0
    # ... whereas with coupling the paths differ (the field is really random)
    row = objective_row(table, "cumulative", 1.0, 2.0)
    assert row["objective_band_high"] - row["objective_band_low"] > 1.0


def test_mean_schedule_is_the_schedule_at_zero_coupling(run):
    """The field's mean is 0 and the schedule is linear in it: the exact mean schedule is
    the γ = 0 schedule for every γ, and the sampled mean is close to it."""
    trades = read_table(run, "mean_trades")
    for reading in READINGS:
        zero = schedule(trades, reading, 1.0, 0.0)
        for coupling in COUPLINGS:
            np.testing.assert_allclose(schedule(trades, reading, 1.0, coupling,
                                                "exact_mean_trade"), zero, rtol=0, atol=1e-9 * Q)
            np.testing.assert_allclose(schedule(trades, reading, 1.0, coupling), zero, rtol=0,
                                       atol=0.05 * coupling + 1e-9 * Q)


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("self_alpha", SELF_ALPHAS)
def test_saved_objective_is_the_objective_of_the_saved_schedule(run, reading, self_alpha):
    x = schedule(read_table(run, "mean_trades"), reading, self_alpha, 0.0)
    saved = objective_row(read_table(run, "figure1_objective"), reading, self_alpha, 0.0)
    assert saved["objective_mean"] == pytest.approx(objective(x, reading, self_alpha),
                                                    rel=1e-10)


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("self_alpha", SELF_ALPHAS)
def test_saved_schedule_is_the_kkt_minimiser(run, reading, self_alpha):
    x = schedule(read_table(run, "mean_trades"), reading, self_alpha, 0.0)
    optimum, eigenvalues = kkt_minimiser(reading, self_alpha)
    assert eigenvalues.min() > 0.0  # strictly convex: the minimiser is unique
    np.testing.assert_allclose(x, optimum, rtol=0, atol=1e-8 * Q)
    # no feasible direction e_i - e_j lowers the objective of the saved schedule
    value = objective(x, reading, self_alpha)
    for i, k in [(0, STEPS - 1), (3, 11), (STEPS - 1, 0), (7, 8)]:
        step = np.zeros(STEPS)
        step[i], step[k] = 1.0, -1.0
        for size in (1e-2, 1.0):
            assert objective(x + size * step, reading, self_alpha) > value


def test_saved_trades_sum_to_the_order(run):
    trades = read_table(run, "mean_trades")
    totals = trades.groupby(["reading", "self_alpha", "coupling"])["mean_trade"].sum()
    assert len(totals) == len(READINGS) * len(SELF_ALPHAS) * len(COUPLINGS)
    np.testing.assert_allclose(totals.to_numpy(), Q, rtol=1e-12)
    path = read_table(run, "figure2_representative_path")
    sums = path.groupby(["reading", "coupling"])["trade"].sum()
    np.testing.assert_allclose(sums.to_numpy(), Q, rtol=1e-12)


def test_constant_self_alpha_shifts_only_the_objective(run):
    trades = read_table(run, "mean_trades")
    table = read_table(run, "figure1_objective")
    shift = -(1.0 - 0.01) * Q
    for reading in READINGS:
        for coupling in COUPLINGS:
            for column in ("mean_trade", "exact_mean_trade"):
                np.testing.assert_allclose(schedule(trades, reading, 1.0, coupling, column),
                                           schedule(trades, reading, 0.01, coupling, column),
                                           rtol=0, atol=1e-9 * Q)
            high = objective_row(table, reading, 1.0, coupling)
            low = objective_row(table, reading, 0.01, coupling)
            for column in ("objective_mean", "objective_band_low", "objective_band_high",
                           "objective_ci95_low", "objective_ci95_high", "exact_objective"):
                assert high[column] - low[column] == pytest.approx(shift, abs=1e-6), (
                    reading, coupling, column)
            for column in ("change_mean", "exact_change", "roughness_mean", "exact_roughness"):
                assert high[column] == pytest.approx(low[column], abs=1e-6)


@pytest.mark.parametrize("self_alpha", SELF_ALPHAS)
def test_cumulative_reading_is_the_time_reverse_of_the_remaining_one(run, self_alpha):
    trades = read_table(run, "mean_trades")
    table = read_table(run, "figure1_objective")
    cumulative = schedule(trades, "cumulative", self_alpha, 0.0)
    remaining = schedule(trades, "remaining", self_alpha, 0.0)
    np.testing.assert_allclose(cumulative[::-1], remaining, rtol=0, atol=1e-9 * Q)
    # the identity of the module docstring, on the saved schedules and on the saved values
    assert objective(remaining, "remaining", self_alpha) == pytest.approx(
        objective(cumulative, "cumulative", self_alpha) - LAMBDA * VARIANCE * Q**2, rel=1e-12)
    gap = (objective_row(table, "cumulative", self_alpha, 0.0)["objective_mean"]
           - objective_row(table, "remaining", self_alpha, 0.0)["objective_mean"])
    assert gap == pytest.approx(LAMBDA * VARIANCE * Q**2, rel=1e-10)
    # printed reading back-loads, remaining reading front-loads
    assert np.all(np.diff(cumulative) > 0) and np.all(np.diff(remaining) < 0)


def test_paper_objective_statistics_are_consistent(run):
    table = read_table(run, "figure1_objective")
    for name in ("objective", "change", "roughness"):
        half = Z95 * table[f"{name}_stderr"]
        np.testing.assert_allclose(table[f"{name}_ci95_high"] - table[f"{name}_mean"], half,
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(table[f"{name}_mean"] - table[f"{name}_ci95_low"], half,
                                   rtol=1e-6, atol=1e-6)
        assert (table[f"{name}_band_low"] <= table[f"{name}_mean"] + 1e-6).all()
        assert (table[f"{name}_band_high"] >= table[f"{name}_mean"] - 1e-6).all()


@pytest.mark.parametrize("reading", READINGS)
def test_exact_expected_change_is_recomputed_here_and_monte_carlo_agrees(run, reading):
    table = read_table(run, "figure1_objective")
    for coupling in COUPLINGS[1:]:
        row = objective_row(table, reading, 1.0, coupling)
        exact = exact_change(reading, coupling)
        assert row["exact_change"] == pytest.approx(exact, rel=1e-6)  # polarised KKT: ~1e-8
        assert abs(row["change_mean"] - exact) < 4.0 * row["change_stderr"], coupling
        assert abs(row["roughness_mean"] - row["exact_roughness"]) < 4.0 * row[
            "roughness_stderr"]
    assert exact_change(reading, 2.0) == pytest.approx(-0.2611, abs=5e-4)  # the number


def test_representative_path_trades_are_optimal_for_its_field(run):
    """Its trades are the KKT minimiser with the path's field; γ moves them by ½γRx̄."""
    path = read_table(run, "figure2_representative_path")
    for reading in READINGS:
        kkt, b, _ = kkt_system(reading, 1.0)
        for coupling in COUPLINGS:
            rows = path[(path["reading"] == reading) & (path["coupling"] == coupling)]
            field = rows["field"].to_numpy()
            rhs = np.concatenate([-b + coupling * field, [Q]])
            np.testing.assert_allclose(rows["trade"].to_numpy(),
                                       np.linalg.solve(kkt, rhs)[:STEPS], rtol=0, atol=1e-8 * Q)
    # the paper's walk moves every step by one agent: the field by 2·5/100
    np.testing.assert_allclose(np.abs(np.diff(path["field"].to_numpy()[:STEPS])), 0.1)


def test_every_verdict_is_recomputed_from_the_saved_tables(run):
    table = read_table(run, "figure1_objective")
    trades = read_table(run, "mean_trades")
    effects = read_table(run, "market_effects")
    verdicts = read_table(run, "verdicts")
    top = max(COUPLINGS)
    printed, base = (objective_row(table, "cumulative", 1.0, top),
                     objective_row(table, "cumulative", 1.0, 0.0))
    self_shift = base["exact_objective"] - objective_row(table, "cumulative", 0.01, 0.0)[
        "exact_objective"]
    shift = max(np.abs(schedule(trades, r, 1.0, c, "exact_mean_trade")
                       - schedule(trades, r, 0.01, c, "exact_mean_trade")).max()
                for r in READINGS for c in COUPLINGS)
    curvature = 2.0 * exact_change("cumulative", 1.0)  # d²/dγ² of -(γ²/4)·tr(RΣ)
    expected = [
        (printed["exact_change"],) * 3 + (-1,),
        (printed["change_mean"], printed["change_ci95_low"], printed["change_ci95_high"], -1),
        (curvature,) * 3 + (1,),
        ((printed["exact_roughness"] - base["exact_roughness"]),) * 3 + (-1,),
        (self_shift,) * 3 + (-1,),
        ((0.0 if shift < 1e-6 else shift),) * 3 + (1,),
        ((abs(self_shift) - abs(printed["exact_change"])),) * 3 + (1,)]
    for self_alpha in SELF_ALPHAS:
        market = effects[(effects["extended.self_alpha"] == self_alpha)
                         & (effects["extended.coupling"] == top)].iloc[0]
        expected.append((market["field_value"], market["field_value_low"],
                         market["field_value_high"], -1))
        expected.append((market["dominance"], market["dominance_low"], market["dominance_high"],
                         1))
    assert len(verdicts) == len(expected)
    for row, (value, low, high, sign) in zip(verdicts.to_dict(orient="records"), expected):
        assert row["value"] == pytest.approx(value, rel=1e-6, abs=1e-9), row["claim"]
        assert (row["low"], row["high"]) == pytest.approx((low, high), rel=1e-6, abs=1e-9)
        assert row["claimed_sign"] == sign
        assert row["verdict"] == verdict_rule(low, high, sign), row["claim"]
    decided = verdicts.set_index("claim")["verdict"]
    # the exact verdicts do not depend on the run's size or seed
    assert decided["the marginal benefit of γ diminishes"] == "does not hold"
    assert decided["Figure 2: a larger γ smooths the trades"] == "does not hold"
    assert decided["Figure 1: self-alpha changes the optimal schedule"] == "does not hold"
    assert decided["Figure 1: the execution cost falls as the ensemble coupling γ grows"] == "holds"


def test_market_effects_recomputed_from_episode_files(run):
    effects = read_table(run, "market_effects")
    episodes = load_episodes(run / "simulation")
    for row in effects.to_dict(orient="records"):
        coupling, self_alpha = row["extended.coupling"], row["extended.self_alpha"]

        def values(strategy, coupling=coupling, self_alpha=self_alpha):
            return _case(episodes, strategy, coupling, self_alpha).sort_values("episode")[
                "shortfall"].to_numpy()

        self_value = values("extended/none") - values("ac-adaptive")
        field_value = values("extended/model") - values("extended/none")
        dominance = (np.sign(self_value.mean()) * self_value
                     - np.sign(field_value.mean()) * field_value)
        for name, diff in (("self_alpha_value", self_value), ("field_value", field_value),
                           ("dominance", dominance)):
            half = Z95 * diff.std(ddof=1) / math.sqrt(diff.shape[0])
            assert row[name] == pytest.approx(diff.mean(), rel=1e-9, abs=1e-9)
            assert row[f"{name}_high"] - row[name] == pytest.approx(half, rel=1e-6, abs=1e-9)
            assert row[name] - row[f"{name}_low"] == pytest.approx(half, rel=1e-6, abs=1e-9)
        if coupling == 0.0:  # no field to anticipate: the two extended plans are identical
            assert np.all(field_value == 0.0)


# ---------------------------------------------------------------- simulated market

def _case(frame: pd.DataFrame, strategy: str, coupling: float, self_alpha: float):
    rows = frame[(frame["strategy"] == strategy) & (frame["extended.coupling"] == coupling)
                 & (frame["extended.self_alpha"] == self_alpha)]
    return rows


def test_market_summary_recomputed_from_episode_files(run):
    summary = read_table(run, "market_summary")
    episodes = load_episodes(run / "simulation")
    assert len(summary) == 4 * len(COUPLINGS) * len(SELF_ALPHAS)
    for row in summary.to_dict(orient="records"):
        values = (_case(episodes, row["strategy"], row["extended.coupling"],
                        row["extended.self_alpha"])
                  .sort_values("episode")["shortfall"].to_numpy())
        assert values.shape[0] == EPISODES
        assert row["mean_is"] == pytest.approx(values.mean(), rel=1e-12)
        assert row["std_is"] == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert row["ci95_high"] - row["mean_is"] == pytest.approx(
            Z95 * values.std(ddof=1) / math.sqrt(EPISODES), rel=1e-9)


def test_market_paired_differences_against_summary_and_episodes(run):
    summary = read_table(run, "market_summary")
    paired = read_table(run, "market_paired")
    episodes = load_episodes(run / "simulation")
    assert len(paired) == 3 * len(COUPLINGS) * len(SELF_ALPHAS)
    assert set(paired["strategy"]) == {"twap", "extended/none", "extended/model"}
    assert (paired["baseline"] == "ac-adaptive").all()
    for row in paired.to_dict(orient="records"):
        coupling, self_alpha = row["extended.coupling"], row["extended.self_alpha"]
        mine = _case(summary, row["strategy"], coupling, self_alpha)["mean_is"].iloc[0]
        base = _case(summary, "ac-adaptive", coupling, self_alpha)["mean_is"].iloc[0]
        difference = mine - base
        assert row["mean_difference"] == pytest.approx(difference, rel=1e-9, abs=1e-9)
        assert row["ci95_low"] <= difference <= row["ci95_high"]
        half = Z95 * row["std_difference"] / math.sqrt(row["episodes"])
        assert row["ci95_high"] - row["mean_difference"] == pytest.approx(half, rel=1e-9)
        assert row["mean_difference"] - row["ci95_low"] == pytest.approx(half, rel=1e-9)
        # and the paired standard deviation from the per-episode files
        a = _case(episodes, row["strategy"], coupling, self_alpha).sort_values("episode")
        b = _case(episodes, "ac-adaptive", coupling, self_alpha).sort_values("episode")
        per_episode = a["shortfall"].to_numpy() - b["shortfall"].to_numpy()
        assert row["episodes"] == EPISODES
        assert row["std_difference"] == pytest.approx(per_episode.std(ddof=1), rel=1e-9)
        assert row["mean_difference"] == pytest.approx(per_episode.mean(), rel=1e-9)


@pytest.mark.parametrize("self_alpha", SELF_ALPHAS)
def test_market_shortfall_at_zero_coupling_is_the_exact_identity(run, self_alpha):
    """TWAP, adaptive AC (urgency λσ²) and extended AC (urgency λσ² + self_alpha) follow
    deterministic schedules at coupling 0 (time consistency); their shortfall in a market
    with self-alpha is E_true - σ√τ Σ ξ_k x_k, episode by episode."""
    shocks = shocks_of(SEED, 0, EPISODES)
    episodes = load_episodes(run / "simulation")
    twap = Q * (1.0 - np.arange(STEPS + 1) / STEPS)
    schedules = {"twap": twap,
                 "ac-adaptive": holdings_for(LAMBDA * SIGMA**2),
                 "extended/none": holdings_for(LAMBDA * SIGMA**2 + self_alpha),
                 "extended/model": holdings_for(LAMBDA * SIGMA**2 + self_alpha)}
    for strategy, holdings in schedules.items():
        predicted = (true_cost(holdings, self_alpha)
                     - SIGMA * math.sqrt(TAU) * shocks @ holdings[1:])
        saved = _case(episodes, strategy, 0.0, self_alpha).sort_values("episode")
        np.testing.assert_allclose(saved["shortfall"].to_numpy(), predicted, rtol=1e-9,
                                   atol=1e-6, err_msg=strategy)
        assert np.all(np.abs(saved["final_holdings"].to_numpy()) <= 1e-9 * Q)
