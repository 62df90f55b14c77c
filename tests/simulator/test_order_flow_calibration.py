"""Calibrating the order-flow market (simulator/order_flow_calibration.py).

Oracles: parameters known because the data were simulated with them (SMM must recover them
within its standard errors, the true switching value must lie in its profile interval, the
J-test must not reject the true model); numpy's own least-squares solver and a per-episode
loop for the reduced form's estimates and clustered standard errors; a market whose reduced
form is known exactly (no ensemble orders: drift α, coupling 0, self-alpha 0, γ_eff = γ);
seasonal data with a known slot profile.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig
from acsim.simulator.market_run import STYLIZED_MARKET, simulate_market
from acsim.simulator.method_of_moments import Parameter
from acsim.simulator.order_flow_calibration import (
    MOMENT_NAMES,
    RandomSchedules,
    _least_squares,
    deseasonalise,
    episode_design,
    fit_order_flow,
    fit_reduced_form,
    return_moments,
    with_values,
)
from acsim.simulator.stylized_facts import SegmentedReturns
from acsim.simulator.vectorised import simulate_block
from acsim.strategies.errors import ParameterError

TRUTH = {"market.volatility": 0.1, "order_flow.momentum_noise": 30.0, "ensemble.herding": 0.5}


def small_market(seed: int) -> SimulationConfig:
    """20 agents that switch often enough for a short sample to carry their signature."""
    return STYLIZED_MARKET.replace(
        ensemble={"agents": 20, "switch_to_momentum": 2e-2, "switch_to_mean_reversion": 5e-2,
                  "herding": TRUTH["ensemble.herding"]},
        order_flow={"momentum_size": 20.0, "momentum_noise": TRUTH["order_flow.momentum_noise"]},
        market={"volatility": TRUTH["market.volatility"]}, simulation={"seed": seed})


def test_smm_recovers_the_parameters_the_bars_were_simulated_with():
    """30 sessions of 50 bars, each an independent run of the true market; σ and ν by SMM
    (started 30% and 33% off), herding on the grid {0.5, 0.9}."""
    truth = small_market(seed=2)
    sessions, length = 30, 50
    returns = SegmentedReturns.from_segments(
        [np.diff(simulate_market(truth, length + 200, run).prices[200:])
         for run in range(sessions)])
    start = with_values(truth, ["market.volatility", "order_flow.momentum_noise"], [0.07, 20.0])
    fit = fit_order_flow(returns, start,
                         [Parameter("market.volatility", 0.07, 0.0),
                          Parameter("order_flow.momentum_noise", 20.0, 0.0)],
                         {"ensemble.herding": (0.5, 0.9)}, simulations=4, length_ratio=2,
                         seed=5, restarts=0, replicates=100)
    table = fit.parameters().set_index("name")
    for name in ("market.volatility", "order_flow.momentum_noise"):
        row = table.loc[name]
        assert abs(row["estimate"] - TRUTH[name]) < 3.0 * row["standard_error"], name
        assert row["standard_error"] < 0.2 * TRUTH[name]  # an informative fit
    herding = table.loc["ensemble.herding"]
    assert herding["ci_low"] <= TRUTH["ensemble.herding"] <= herding["ci_high"]
    assert fit.result.j_p_value > 0.001
    assert fit.config.market.volatility == pytest.approx(table.loc["market.volatility",
                                                                   "estimate"])
    assert len(fit.profile) == 2 and set(fit.profile["ensemble.herding"]) == {0.5, 0.9}


def test_deseasonalising_leaves_every_time_of_day_the_same_typical_size():
    generator = np.random.default_rng(3)
    profile = np.linspace(3.0, 1.0, 40) ** 2  # a U-shape's falling half
    values = profile[None, :] * generator.standard_normal((25, 40))
    returns = SegmentedReturns(values.ravel(), np.full(25, 40))
    flat = deseasonalise(returns, window=1).values.reshape(25, 40)
    np.testing.assert_allclose(np.abs(flat).mean(axis=0), np.abs(values).mean(), rtol=1e-12)
    smoothed = deseasonalise(returns, window=5)
    assert np.abs(smoothed.values).mean() == pytest.approx(np.abs(values).mean(), rel=0.02)
    moments = dict(zip(MOMENT_NAMES, return_moments(smoothed)))
    raw = dict(zip(MOMENT_NAMES, return_moments(returns)))
    assert raw["kurtosis"] > 1.0 and abs(moments["kurtosis"]) < 0.5 * raw["kurtosis"]
    with pytest.raises(ParameterError, match="same number of returns"):
        deseasonalise(SegmentedReturns(np.ones(9), np.array([4, 5])))


def reduced_form_market(**order_flow) -> SimulationConfig:
    return SimulationConfig().replace(
        market={"feedback": "order-flow", "shares": 20_000.0, "drift": 0.004,
                "temporary_impact": 0.01},
        ensemble={"initial": "stationary"}, order_flow=order_flow)


def test_the_reduced_form_of_a_market_without_ensemble_orders_is_its_own_model():
    """φ = ψ = 0: D_k = α·τ - γ·n_k + σ√τ·ξ_k exactly, so the fitted drift and γ_eff
    cover α and γ, coupling and self-alpha cover 0, and σ̂ ≈ σ."""
    config = reduced_form_market(momentum_size=0.0, reversion_size=0.0)
    fitted = fit_reduced_form(config, 3000, seed=4)
    table = fitted.table.set_index("name")
    truth = {"drift": 0.004, "coupling": 0.0, "self_alpha": 0.0, "permanent_impact": 1e-4}
    for name, value in truth.items():
        assert table.loc[name, "ci_low"] < value < table.loc[name, "ci_high"], name
    assert table.loc["permanent_impact", "standard_error"] < 0.05e-4
    assert fitted.volatility == pytest.approx(0.1, rel=0.02)
    assert 0.1 < fitted.r_squared < 0.9
    beliefs = fitted.beliefs()
    assert beliefs["extended"]["self_alpha"] >= 0.0
    assert beliefs["market"]["permanent_impact"] == pytest.approx(
        max(table.loc["permanent_impact", "estimate"], 0.0))


def test_reduced_form_estimates_and_clustered_errors_by_independent_computation():
    """numpy's lstsq for the estimates; the clustered covariance written as a loop over
    episodes, (X'X)⁻¹ (Σ_e X_e'u_e u_e'X_e) (X'X)⁻¹ · G/(G-1) · (n-1)/(n-k)."""
    config = reduced_form_market().replace(simulation={"seed": 6})
    result = simulate_block(config, 0, 0, 300, policy=RandomSchedules(6, 0))
    design, change = episode_design(config, result)
    fitted = _least_squares(design, change, 300, config.market.steps, 1.0)
    expected = np.linalg.lstsq(design, change, rcond=None)[0]
    np.testing.assert_allclose(fitted.table["estimate"], expected, rtol=1e-8)
    residual = change - design @ expected
    bread = np.linalg.inv(design.T @ design)
    meat = np.zeros((4, 4))
    steps = config.market.steps
    for episode in range(300):
        rows = slice(episode * steps, (episode + 1) * steps)
        score = design[rows].T @ residual[rows]
        meat += np.outer(score, score)
    n = design.shape[0]
    covariance = bread @ meat @ bread * 300 / 299 * (n - 1) / (n - 4)
    np.testing.assert_allclose(fitted.table["standard_error"], np.sqrt(np.diag(covariance)),
                               rtol=1e-6)
    assert fitted.r_squared == pytest.approx(
        1 - residual @ residual / np.sum((change - change.mean()) ** 2), rel=1e-9)
    # the random schedules vary holdings and trades apart (powers differ per episode)
    assert np.std(result.trades[:, 0]) > 0.1 * np.mean(result.trades[:, 0])


def test_mean_reversion_agents_show_up_as_a_price_recovery_for_a_seller():
    """With reversion agents the seller's price drifts back up as it sells (MR agents buy
    the mispricing): the fitted drift is positive and significant; without them it is not."""
    with_reversion = fit_reduced_form(reduced_form_market(momentum_noise=0.0).replace(
        market={"drift": 0.0}), 3000, seed=2).table.set_index("name")
    without = fit_reduced_form(reduced_form_market(momentum_size=0.0, reversion_size=0.0)
                               .replace(market={"drift": 0.0}), 3000, seed=2
                               ).table.set_index("name")
    assert with_reversion.loc["drift", "ci_low"] > 0.0
    assert without.loc["drift", "ci_low"] < 0.0 < without.loc["drift", "ci_high"]


def test_bad_calibration_input_is_rejected_by_name():
    with pytest.raises(ParameterError, match="table.key"):
        with_values(STYLIZED_MARKET, ["volatility"], [0.1])
    returns = SegmentedReturns(np.random.default_rng(0).standard_normal(100), np.array([50, 50]))
    with pytest.raises(ParameterError, match="order-flow market"):
        fit_order_flow(returns, SimulationConfig(), [Parameter("market.volatility", 0.1, 0.0)],
                       {"ensemble.herding": (0.5,)})
    with pytest.raises(ParameterError, match="order-flow market"):
        fit_reduced_form(SimulationConfig(), 10)
