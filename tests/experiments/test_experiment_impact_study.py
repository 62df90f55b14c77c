"""`acsim impact-study` end to end (1,500 episodes, seed 3, one worker).

Oracles: configurations written out here from the study's description (market table, strategy,
beliefs) run through `simulate_block` must give the study's per-case means; the planners that
coincide with the right one where the misspecification vanishes (β = 1, σ_high = σ_low) must
give paired differences of 0; a deterministic schedule's mean risk-adjusted cost is E + λV of
MODEL §7 written out (4 standard errors); the paired table recomputed from per-episode costs.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.experiments import cli
from acsim.simulator.config import SimulationConfig
from acsim.simulator.vectorised import simulate_block
from tests.oracles import read_table

EPISODES, SEED = 1500, 3
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("impact") / "out"
    assert cli.main(["impact-study", "--episodes", str(EPISODES), "--seed", str(SEED),
                     "--out", str(out), "--workers", "1"]) == 0
    return out


def case(summary, panel, value, planner):
    rows = summary[(summary["panel"] == panel) & (summary["value"] == value)
                   & (summary["planner"] == planner)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_outputs(run):
    for name in ("impact_study", "impact_study_paths"):
        png = run / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000
    report = (run / "report.md").read_text()
    assert f"{EPISODES:,} episodes per case (seed {SEED})" in report
    assert "Linear planner in a power-law market" in report and "regime-blind AC" in report
    summary, paired = read_table(run, "summary"), read_table(run, "paired")
    assert len(summary) == 4 * 2 + 5 * 2 + 4 * 3 and len(paired) == 4 + 5 + 8
    assert (summary["episodes"] == EPISODES).all()


@pytest.mark.parametrize("panel, value, planner, tables", [
    ("power-law", 0.5, "linear planner",
     {"impact": {"model": "power", "exponent": 0.5}, "strategy": {"name": "ac-adaptive"},
      "beliefs": {"impact": {"model": "linear"}}}),
    ("resilience", 0.25, "no-decay planner",
     {"impact": {"transient": "exponential", "transient_impact": 0.004, "resilience": 0.25},
      "strategy": {"name": "ac-adaptive"}, "beliefs": {"impact": {"transient": "none"}}}),
    ("regimes", 0.3, "regime-aware (DP)",
     {"market": {"volatility": float(np.sqrt((2 * 0.05**2 + 0.3**2) / 3))},
      "regimes": {"model": "markov", "volatilities": (0.05, 0.3),
                  "transition": ((0.9, 0.1), (0.2, 0.8))},
      "strategy": {"name": "regime-aware", "forecast": "none"}}),
    ("regimes", 0.3, "regime-blind AC",
     {"market": {"volatility": float(np.sqrt((2 * 0.05**2 + 0.3**2) / 3))},
      "regimes": {"model": "markov", "volatilities": (0.05, 0.3),
                  "transition": ((0.9, 0.1), (0.2, 0.8))},
      "strategy": {"name": "ac-adaptive"}, "beliefs": {"regimes": {"model": "none"}}}),
])
def test_each_case_is_the_configuration_it_describes(run, panel, value, planner, tables):
    summary = read_table(run, "summary")
    config = SimulationConfig(seed=SEED).replace(**tables)
    result = simulate_block(config, 0, 0, EPISODES)
    row = case(summary, panel, value, planner)
    assert row["mean_is"] == pytest.approx(result.shortfall.mean(), rel=1e-12)
    assert row["std_is"] == pytest.approx(result.shortfall.std(ddof=1), rel=1e-10)


def test_no_misspecification_no_difference(run):
    paired = read_table(run, "paired")
    vanishing = paired[((paired["panel"] == "power-law") & (paired["value"] == 1.0))
                       | ((paired["panel"] == "regimes") & (paired["value"] == 0.05))]
    assert len(vanishing) == 3
    assert np.abs(vanishing[["shortfall_difference", "risk_adjusted_difference"]]
                  ).to_numpy().max() < 1e-6


def test_mean_risk_adjusted_cost_is_e_plus_lambda_v_of_a_deterministic_schedule(run):
    """The power-law planner in the β = 0.6 market trades the same schedule in every episode:
    its risk-adjusted cost has mean E + λσ²τΣx² with E of MODEL §7 written out."""
    summary = read_table(run, "summary")
    config = SimulationConfig(seed=SEED).replace(impact={"model": "power", "exponent": 0.6},
                                                 strategy={"name": "ac-adaptive"})
    holdings = simulate_block(config, 0, 0, 2).holdings
    np.testing.assert_array_equal(holdings[0], holdings[1])
    x = holdings[0]
    n = x[:-1] - x[1:]
    X, T, tau, gamma, eta, eps = 1000.0, 20.0, 1.0, 1e-4, 0.002, 0.01
    coefficient = eta * (X / T) ** 0.4
    expected = (0.5 * gamma * X**2 - 0.5 * gamma * np.sum(n**2) + eps * np.sum(np.abs(n))
                + coefficient * tau**-0.6 * np.sum(np.abs(n) ** 1.6))
    risk = 0.002 * 0.1**2 * tau * np.sum(x[1:] ** 2)
    row = case(summary, "power-law", 0.6, "power-law planner")
    assert abs(row["mean_risk_adjusted"] - (expected + risk)) < 4.0 * row["stderr_risk_adjusted"]
    assert abs(row["mean_is"] - expected) < 4.0 * row["stderr_is"]


def test_the_large_misspecifications_cost_significantly(run):
    paired = read_table(run, "paired").set_index(["panel", "value", "planner"])
    for key in (("power-law", 0.5, "linear planner"), ("resilience", 0.25, "no-decay planner"),
                ("regimes", 0.5, "certainty-equivalent AC"), ("regimes", 0.5, "regime-blind AC")):
        assert paired.loc[key, "risk_adjusted_ci95_low"] > 0.0, key
