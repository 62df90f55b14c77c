"""Noise-free episodes: realised IS equals the planned E exactly (MODEL.md §2-§3).

With σ = 0 the price path is deterministic. Then
- a static AC schedule realises exactly its E (written out here and from schedule_cost),
  when the field has no effect (coupling = 0, the ensemble still moving);
- the adaptive AC agent trades exactly the static AC schedule (time consistency), also
  with noise and a moving field (it ignores both);
- with coupling != 0 and a frozen field (random-walk rule with p = 0, or a Kirman count
  stuck in an absorbing state: a1 = 0 with m = 0, or a2 = 0 with m = M) the extended
  agent's persistent forecast — and the `model` forecast, whose conditional mean is then
  the frozen count — is exact, so it trades its own plan and realises exactly its E
  (schedule_cost with the ExtendedParameters and the constant field forecast);
- the price follows S_k = S_{k-1} + (α + c·f_k - side·self_alpha·x_k)τ - side·γ n_k.
The plans are checked against a brute-force dense solve (tests/conftest.py) and, with
no buy-back, against scipy's SLSQP.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.strategies.almgren_chriss import optimal_holdings
from acsim.strategies.costs import schedule_cost
from acsim.strategies.extended import extended_schedule

REL = 1e-9


def planned_e(problem, holdings, field_value=0.0, coupling=0.0, self_alpha=0.0):
    """E of MODEL §3b written out (sell-equivalent drift side·(α + c·f))."""
    tau = problem.horizon / problem.steps
    trades = holdings[:-1] - holdings[1:]
    carried = holdings[1:]
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * tau
    drift = problem.side * (problem.drift + coupling * field_value)
    return (0.5 * problem.permanent_impact * problem.shares**2
            + problem.half_spread * np.sum(np.abs(trades))
            + eta_tilde / tau * np.sum(trades**2)
            - tau * np.sum(drift * carried)
            + self_alpha * tau * np.sum(carried**2))


def base_config(**sections):
    market = {"volatility": 0.0, "steps": 16, "horizon": 16.0, "shares": 1000.0,
              "price": 40.0, "half_spread": 0.02, "temporary_impact": 0.002,
              "permanent_impact": 1e-4, "risk_aversion": 0.002}
    market.update(sections.pop("market", {}))
    return SimulationConfig().replace(market=market, **sections)


# --- classical AC ------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("drift", [0.0, 0.01, -0.02])
def test_static_ac_realises_planned_e_without_noise(side, drift):
    config = base_config(market={"side": side, "drift": drift},
                         extended={"coupling": 0.0, "self_alpha": 0.0},
                         ensemble={"agents": 10, "switch_to_momentum": 0.2,
                                   "switch_to_mean_reversion": 0.2, "herding": 0.5},
                         strategy={"name": "ac-static"}, simulation={"seed": 3})
    problem = config.market
    planned = optimal_holdings(problem)
    expected = planned_e(problem, planned)
    assert schedule_cost(problem, planned).expected_shortfall == pytest.approx(expected, rel=REL)
    for episode in (0, 1, 2):
        result = run_episode(config, episode)
        assert len(np.unique(result.momentum_counts[0])) > 1  # the field moves, no effect
        np.testing.assert_allclose(result.holdings[0], planned, rtol=0, atol=REL * problem.shares)
        assert result.shortfall[0] == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("volatility, drift, coupling", [
    (0.0, 0.0, 0.0),
    (0.0, 0.015, 0.0),
    (0.2, 0.0, 0.3),     # noise and a moving field: ac-adaptive ignores both
    (0.2, -0.01, 0.3),
])
def test_adaptive_ac_trades_the_static_schedule(side, volatility, drift, coupling):
    config = base_config(market={"side": side, "drift": drift, "volatility": volatility},
                         extended={"coupling": coupling, "self_alpha": 0.0},
                         strategy={"name": "ac-adaptive"}, simulation={"seed": 5})
    problem = config.market
    planned = optimal_holdings(problem)
    if volatility > 0:
        assert 0.5 < problem.risk_aversion * volatility**2 / 1e-5  # κ > 0: not TWAP
    for episode in (0, 3):
        result = run_episode(config, episode)
        np.testing.assert_allclose(result.holdings[0], planned, rtol=0, atol=REL * problem.shares)
        if volatility == 0.0:
            assert result.shortfall[0] == pytest.approx(planned_e(problem, planned), rel=REL)


# --- extended agent under a frozen field ---------------------------------------------------

FROZEN = {
    # name: (ensemble section, frozen count, M)
    "random-walk-p0": ({"agents": 10, "switching": "random-walk", "step_probability": 0.0,
                        "initial": 7, "field_scale": 5.0}, 7, 10),
    "kirman-absorbed-at-0": ({"agents": 8, "switching": "kirman", "switch_to_momentum": 0.0,
                              "switch_to_mean_reversion": 0.3, "herding": 0.5, "initial": 0,
                              "field_scale": 4.0}, 0, 8),
    "kirman-absorbed-at-M": ({"agents": 8, "switching": "kirman", "switch_to_momentum": 0.2,
                              "switch_to_mean_reversion": 0.0, "herding": 0.7, "initial": 8,
                              "field_scale": 4.0}, 8, 8),
}


def frozen_config(frozen, side, forecast, no_buyback=False, coupling=0.004, drift=0.002):
    ensemble_section, _, _ = FROZEN[frozen]
    return base_config(market={"side": side, "drift": drift},
                       extended={"coupling": coupling, "self_alpha": 1e-5},
                       ensemble=ensemble_section,
                       strategy={"name": "extended", "forecast": forecast,
                                 "no_buyback": no_buyback},
                       simulation={"seed": 9})


def dense_plan(dense_optimum, problem, extended, field_value):
    tau = problem.horizon / problem.steps
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * tau
    urgency = problem.risk_aversion * problem.volatility**2 + extended.self_alpha
    drift = np.full(problem.steps, problem.side * (problem.drift + extended.coupling * field_value))
    return dense_optimum(tau, eta_tilde, urgency, drift, problem.shares)


@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("forecast", ["persistent", "model"])
@pytest.mark.parametrize("frozen", list(FROZEN))
def test_extended_agent_realises_its_plan_under_frozen_field(dense_optimum, frozen, forecast,
                                                             side):
    config = frozen_config(frozen, side, forecast)
    problem, extended = config.market, config.extended
    _, count, M = FROZEN[frozen]
    field_value = config.ensemble.field_scale * (2 * count - M) / M
    assert field_value != 0.0 and extended.coupling != 0.0
    plan = dense_plan(dense_optimum, problem, extended, field_value)
    code_plan = extended_schedule(problem, extended, field_value)
    np.testing.assert_allclose(code_plan, plan, rtol=0, atol=1e-8 * problem.shares)
    expected = planned_e(problem, plan, field_value, extended.coupling, extended.self_alpha)
    cost = schedule_cost(problem, code_plan, extended, field_value)
    assert cost.expected_shortfall == pytest.approx(expected, rel=1e-8)
    for episode in (0, 1):
        result = run_episode(config, episode)
        assert np.all(result.momentum_counts[0] == count)
        np.testing.assert_allclose(result.fields[0], field_value, rtol=0, atol=1e-15)
        np.testing.assert_allclose(result.holdings[0], code_plan, rtol=0,
                                   atol=REL * problem.shares)
        assert result.shortfall[0] == pytest.approx(cost.expected_shortfall, rel=REL)


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_extended_agent_without_forecast_realises_e_of_true_field(dense_optimum, side):
    """forecast = none plans with f̂ = 0 but the market has f != 0: the agent trades its
    f̂ = 0 plan and realises E of that plan under the TRUE constant field."""
    config = frozen_config("random-walk-p0", side, "none")
    problem, extended = config.market, config.extended
    field_value = config.ensemble.field_scale * (2 * 7 - 10) / 10
    plan = dense_plan(dense_optimum, problem, extended, 0.0)
    result = run_episode(config, 0)
    np.testing.assert_allclose(result.holdings[0], plan, rtol=0, atol=1e-8 * problem.shares)
    true_e = planned_e(problem, result.holdings[0], field_value, extended.coupling,
                       extended.self_alpha)
    assert result.shortfall[0] == pytest.approx(true_e, rel=REL)
    wrong_e = planned_e(problem, result.holdings[0], 0.0, extended.coupling, extended.self_alpha)
    assert abs(true_e - wrong_e) > 1e-3 * abs(true_e)  # the field really matters here


def slsqp_no_buyback(problem, extended, field_value):
    """Brute-force oracle: minimise the §3b objective over trades n >= 0, Σn = X."""
    tau = problem.horizon / problem.steps
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * tau
    q = problem.risk_aversion * problem.volatility**2 + extended.self_alpha
    a = problem.side * (problem.drift + extended.coupling * field_value)
    X, N = problem.shares, problem.steps
    lower = np.tril(np.ones((N, N)))

    def objective(n):
        x = X - lower @ n
        return eta_tilde / tau * n @ n + q * tau * x @ x - tau * a * x.sum()

    def gradient(n):
        x = X - lower @ n
        return 2 * eta_tilde / tau * n - lower.T @ (2 * q * tau * x - tau * a)

    result = minimize(objective, np.full(N, X / N), jac=gradient, method="SLSQP",
                      bounds=[(0.0, None)] * N,
                      constraints=[{"type": "eq", "fun": lambda n: n.sum() - X,
                                    "jac": lambda n: np.ones(N)}],
                      options={"ftol": 1e-14, "maxiter": 500})
    assert result.success, result.message
    return np.concatenate([[X], X - np.cumsum(result.x)]), objective


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_extended_no_buyback_realises_its_plan_under_frozen_field(side):
    # a strong field drift that makes the unconstrained plan trade against the order
    config = frozen_config("kirman-absorbed-at-M", side, "persistent", no_buyback=True,
                           coupling=(0.05 if side == "sell" else -0.05))
    problem, extended = config.market, config.extended
    field_value = config.ensemble.field_scale  # count frozen at M
    free = extended_schedule(problem, extended, field_value)
    assert np.any(np.diff(free) > 1.0)  # unconstrained plan would buy back
    plan = extended_schedule(problem, extended, field_value, no_buyback=True)
    oracle, objective = slsqp_no_buyback(problem, extended, field_value)
    n_plan, n_oracle = plan[:-1] - plan[1:], oracle[:-1] - oracle[1:]
    assert objective(n_plan) <= objective(n_oracle) + 1e-9 * abs(objective(n_oracle))
    np.testing.assert_allclose(plan, oracle, rtol=0, atol=1e-5 * problem.shares)
    expected = planned_e(problem, plan, field_value, extended.coupling, extended.self_alpha)
    result = run_episode(config, 0)
    np.testing.assert_allclose(result.holdings[0], plan, rtol=0, atol=REL * problem.shares)
    assert np.all(result.trades[0] >= -REL * problem.shares)
    assert result.shortfall[0] == pytest.approx(expected, rel=REL)
    cost = schedule_cost(problem, plan, extended, field_value)
    assert result.shortfall[0] == pytest.approx(cost.expected_shortfall, rel=REL)


# --- the price recursion itself ------------------------------------------------------------

@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("strategy", [{"name": "extended", "forecast": "model"},
                                      {"name": "twap"}])
def test_noise_free_price_recursion(side, strategy):
    """S_k = S_{k-1} + (α + c f_k - side·self_alpha·x_k)·τ - side·γ·n_k with x_k the holdings
    AFTER trade k, on a path with a moving field."""
    config = base_config(market={"side": side, "drift": 0.01},
                         extended={"coupling": 0.05, "self_alpha": 3e-5},
                         ensemble={"agents": 12, "switch_to_momentum": 0.2,
                                   "switch_to_mean_reversion": 0.1, "herding": 0.5},
                         strategy=strategy, simulation={"seed": 4})
    problem, extended = config.market, config.extended
    tau = problem.horizon / problem.steps
    result = run_episode(config, 0)
    prices, fields = result.prices[0], result.fields[0]
    holdings, trades = result.holdings[0], result.trades[0]
    assert len(np.unique(fields)) > 1
    expected = np.empty_like(prices)
    expected[0] = problem.price
    for k in range(1, problem.steps + 1):
        alpha = (problem.drift + extended.coupling * fields[k - 1]
                 - side_sign(side) * extended.self_alpha * holdings[k])
        expected[k] = (expected[k - 1] + alpha * tau
                       - side_sign(side) * problem.permanent_impact * trades[k - 1])
    np.testing.assert_allclose(prices, expected, rtol=1e-13, atol=0)


def side_sign(side):
    return 1 if side == "sell" else -1
