"""Volatility regimes (MODEL.md §8): `strategies.regimes`.

Oracles:
- brute-force dynamic programming on a grid of holdings (exhaustive minimisation), written here;
- the scenario tree: with few steps, every adaptive rule is one holdings value per regime
  history, so the regime-aware problem is one deterministic quadratic program, solved densely;
- exact discrete Almgren-Chriss (`almgren_chriss.optimal_holdings`) and the extended planner
  when there is one regime, or several identical ones;
- the stationary law in closed form (two regimes) and as πP = π.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from acsim.strategies.almgren_chriss import optimal_holdings as ac_holdings
from acsim.strategies.errors import ParameterError
from acsim.strategies.extended import LinearGains
from acsim.strategies.parameters import ExecutionProblem
from acsim.strategies.regimes import RegimePlanner, VolatilityRegimes

TWO = VolatilityRegimes((0.6, 2.5), ((0.85, 0.15), (0.3, 0.7)))
THREE = VolatilityRegimes((0.3, 1.0, 3.0), ((0.8, 0.15, 0.05), (0.1, 0.8, 0.1),
                                            (0.05, 0.25, 0.7)))


# --- the regime chain -----------------------------------------------------------------------


@pytest.mark.parametrize("volatilities,transition,field", [
    ((0.5, -1.0), ((0.5, 0.5), (0.5, 0.5)), "volatilities"),
    ((), (), "volatilities"),
    ((0.5, math.nan), ((0.5, 0.5), (0.5, 0.5)), "volatilities"),
    ((0.5, 1.0), ((0.5, 0.6), (0.5, 0.5)), "transition"),
    ((0.5, 1.0), ((1.2, -0.2), (0.5, 0.5)), "transition"),
    ((0.5, 1.0), ((1.0,),), "transition"),
    ((0.5, 1.0), ((0.5, math.nan), (0.5, 0.5)), "transition"),
])
def test_invalid_regimes_are_rejected_by_name(volatilities, transition, field):
    with pytest.raises(ParameterError, match=field):
        VolatilityRegimes(volatilities, transition)


def test_stationary_law_of_two_regimes_in_closed_form():
    """π = (p_10, p_01)/(p_01 + p_10), accurate even when switching is very rare."""
    for leave_low, leave_high in [(0.15, 0.3), (1e-13, 3e-13), (1.0, 1.0)]:
        regimes = VolatilityRegimes((1.0, 2.0), ((1 - leave_low, leave_low),
                                                 (leave_high, 1 - leave_high)))
        expected = np.array([leave_high, leave_low]) / (leave_low + leave_high)
        np.testing.assert_allclose(regimes.stationary_law(), expected, rtol=1e-14)


def test_stationary_law_is_invariant():
    law = THREE.stationary_law()
    assert law.sum() == pytest.approx(1.0, abs=1e-15) and np.all(law > 0)
    np.testing.assert_allclose(law @ THREE.transition_matrix, law, rtol=1e-14)


def test_reducible_chain_is_rejected():
    with pytest.raises(ParameterError, match="transition"):
        VolatilityRegimes((1.0, 2.0), ((1.0, 0.0), (0.0, 1.0))).stationary_law()


# --- reduction to Almgren-Chriss ------------------------------------------------------------


def receding_path(planner, shares, regime, drift):
    """Holdings when the first trade is executed at every step (deterministic regime path)."""
    path = [shares]
    for k in range(drift.size):
        path.append(path[-1] - planner.first_trade(np.array([path[-1]]), np.array([regime[k]]),
                                                   drift[k:][None])[0])
    return np.array(path)


@pytest.mark.parametrize("regimes", [
    VolatilityRegimes((0.8,), ((1.0,),)),
    VolatilityRegimes((0.8, 0.8, 0.8), THREE.transition),  # identical regimes
])
@pytest.mark.parametrize("drift", [0.0, 0.02, -0.05])
def test_one_regime_is_exact_discrete_almgren_chriss(regimes, drift):
    """Executing the first trade at every step reproduces the exact discrete AC optimum (with
    the AC 2000 drift term), whatever the regime path when the regimes are identical."""
    problem = ExecutionProblem(shares=1e4, horizon=5.0, steps=25, volatility=0.8,
                               temporary_impact=0.01, permanent_impact=0.002,
                               risk_aversion=0.05, drift=drift)
    planner = RegimePlanner(regimes, problem.step_length, problem.effective_temporary_impact,
                            problem.risk_aversion, 0.0, problem.steps)
    regime_path = np.random.default_rng(0).integers(0, regimes.count, 25)
    path = receding_path(planner, problem.shares, regime_path, np.full(25, drift))
    np.testing.assert_allclose(path, ac_holdings(problem), rtol=0, atol=1e-10 * problem.shares)


def test_identical_regimes_are_one_regime_with_self_alpha_and_a_drift_path():
    """Three regimes with one σ (any transition): the gains are those of the extended planner
    with urgency λσ² + self_alpha (`extended.LinearGains`), for every length and regime."""
    tau, impact, risk, self_alpha, steps = 0.4, 0.003, 0.02, 1e-3, 30
    same = VolatilityRegimes((1.3,) * 3, THREE.transition)
    planner = RegimePlanner(same, tau, impact, risk, self_alpha, steps)
    gains = LinearGains(tau, impact, risk * 1.3**2 + self_alpha, steps)
    drift = np.random.default_rng(1).normal(0, 0.1, steps)
    for remaining in (1, 2, 9, 30):
        expected = gains.first_trade(np.full(3, 700.0), drift[:remaining])
        actual = planner.first_trade(np.full(3, 700.0), np.arange(3), drift[:remaining])
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * 700)


# --- exact dynamic programming --------------------------------------------------------------


def scenario_tree_optimum(regimes, tau, impact, risk, self_alpha, shares, regime, drift):
    """Optimal first holdings and expected objective by one dense quadratic program over the
    regime tree: one holdings value y(h) after the trade of step k for each regime history
    h = (s_1..s_k), k = 1..m-1 (step m sells the rest), minimising
    Σ_h P(h)·[(η̃/τ)(y(parent) - y(h))² + q_{s_k}τ·y(h)² - τa_k·y(h)] + Σ_{k = m-1} P(h)(η̃/τ)y(h)²
    with y(parent) = x_0 at k = 1. Written as ½vᵀHv + gᵀv + constant and solved by numpy."""
    steps = drift.size
    transition = regimes.transition_matrix
    urgency = risk * np.asarray(regimes.volatilities) ** 2 + self_alpha
    rate = impact / tau
    if steps == 1:
        return 0.0, rate * shares**2
    histories = [(regime,) + tail for k in range(1, steps)
                 for tail in itertools.product(range(regimes.count), repeat=k - 1)]
    index = {history: i for i, history in enumerate(histories)}
    size = len(histories)
    hessian, gradient, constant = np.zeros((size, size)), np.zeros(size), 0.0

    def add_square(weight, coefficients, offset):
        """weight·(Σ_i c_i·v_i + offset)²"""
        nonlocal constant
        for i, ci in coefficients.items():
            gradient[i] += 2 * weight * offset * ci
            for j, cj in coefficients.items():
                hessian[i, j] += 2 * weight * ci * cj
        constant += weight * offset**2

    for history in histories:
        node, k = index[history], len(history)
        probability = np.prod([transition[a, b] for a, b in zip(history[:-1], history[1:])])
        if k == 1:
            add_square(probability * rate, {node: -1.0}, shares)
        else:
            add_square(probability * rate, {index[history[:-1]]: 1.0, node: -1.0}, 0.0)
        add_square(probability * urgency[history[-1]] * tau, {node: 1.0}, 0.0)
        gradient[node] -= probability * tau * drift[k - 1]
        if k == steps - 1:
            add_square(probability * rate, {node: 1.0}, 0.0)
    values = np.linalg.solve(hessian, -gradient)
    return values[0], 0.5 * values @ hessian @ values + gradient @ values + constant


@pytest.mark.parametrize("steps", [2, 3, 5])
@pytest.mark.parametrize("regimes", [TWO, THREE])
def test_matches_the_scenario_tree_quadratic_program(regimes, steps):
    tau, impact, risk, self_alpha, shares = 0.5, 0.004, 0.03, 2e-3, 800.0
    planner = RegimePlanner(regimes, tau, impact, risk, self_alpha, steps)
    drift = np.random.default_rng(steps).normal(0, 0.4, steps)
    for regime in range(regimes.count):
        holdings, objective = scenario_tree_optimum(regimes, tau, impact, risk, self_alpha,
                                                    shares, regime, drift)
        trade = planner.first_trade(shares, np.array(regime), drift)
        assert trade == pytest.approx(shares - holdings, rel=1e-10, abs=1e-10 * shares)
        value = planner.cost_to_go(shares, np.array(regime), drift)
        assert value == pytest.approx(objective, rel=1e-10)


def test_matches_brute_force_dynamic_programming_on_a_grid():
    """W_m(x, s) on a grid of holdings by exhaustive minimisation over the grid; the exact
    value agrees to the grid's error (a second-order term), the first trade to one grid step."""
    tau, impact, risk, self_alpha, shares, steps = 1.0, 0.01, 0.004, 5e-4, 100.0, 4
    drift = np.array([0.05, -0.08, 0.03, 0.01])
    grid = np.linspace(-20.0, 120.0, 1401)  # step 0.1
    spacing = grid[1] - grid[0]
    transition = TWO.transition_matrix
    urgency = risk * np.asarray(TWO.volatilities) ** 2 + self_alpha
    rate = impact / tau
    value = np.array([rate * grid**2] * 2)  # W_1(x, s): sell everything
    for m in range(2, steps + 1):
        step_drift = drift[steps - m]
        expected_next = transition @ value  # (regimes, grid of y)
        candidates = (rate * (grid[:, None] - grid[None, :]) ** 2)[None] + (
            urgency[:, None] * tau * grid**2 - tau * step_drift * grid + expected_next)[:, None]
        best = np.argmin(candidates, axis=2)
        value = np.take_along_axis(candidates, best[..., None], axis=2)[..., 0]
    start = int(np.argmin(np.abs(grid - shares)))
    planner = RegimePlanner(TWO, tau, impact, risk, self_alpha, steps)
    for regime in range(2):
        exact = planner.cost_to_go(shares, np.array(regime), drift)
        assert value[regime, start] == pytest.approx(exact, rel=0, abs=steps * rate * spacing**2)
        assert value[regime, start] >= exact - 1e-9 * abs(exact)
        trade = planner.first_trade(shares, np.array(regime), drift)
        assert abs(shares - grid[best[regime, start]] - trade) <= spacing


def test_batched_first_trade_with_mixed_regimes():
    rng = np.random.default_rng(3)
    planner = RegimePlanner(THREE, 1.0, 0.01, 0.02, 0.0, 15)
    holdings, regime, drift = rng.uniform(0, 100, 40), rng.integers(0, 3, 40), rng.normal(
        0, 0.1, (40, 15))
    batched = planner.first_trade(holdings, regime, drift)
    for e in range(40):
        assert batched[e] == planner.first_trade(holdings[e], regime[e], drift[e])
    low, high = (planner.first_trade(np.array([50.0]), np.array([s]), np.zeros((1, 15)))
                 for s in (0, 2))
    assert high[0] > low[0] > 50.0 / 15  # more volatile now: sell faster; both above TWAP
    with pytest.raises(ParameterError, match="regime"):
        planner.first_trade(holdings, regime + 1, drift)
