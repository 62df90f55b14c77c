"""Power-law temporary impact (MODEL.md §7): `strategies.power_law`.

Oracles:
- the §7 market itself: with σ = 0 the realised implementation shortfall of a schedule, from an
  independent step-by-step price loop, equals `expected_shortfall` (and with β = 1, §3's E);
- closed forms and limits: β = 1 is the linear planner (`extended.no_buyback_holdings`, and
  `extended.optimal_holdings` when it never reverses); no urgency and no drift give TWAP;
- the KKT conditions of the sell-only problem, checked in trade space from the definition;
- the cvxpy/CLARABEL power-cone reference (`reference_impact.ImpactReference`);
- batched = row by row, exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from acsim.strategies import costs
from acsim.strategies.errors import InfeasibleProblemError, ParameterError
from acsim.strategies.extended import no_buyback_holdings
from acsim.strategies.extended import optimal_holdings as linear_holdings
from acsim.strategies.parameters import ExecutionProblem, PlanningInputs
from acsim.strategies.power_law import (
    PowerLawImpact,
    calibrated_impact,
    check_convexity,
    expected_shortfall,
    optimal_holdings,
)
from acsim.strategies.reference_impact import ImpactReference

KKT_TOLERANCE = 1e-11  # the planner's stated stationarity tolerance (relative to P)
RESOLUTION = 1e-14  # the planner's stated holdings resolution (relative to x_0)
# The power-cone reference is accurate to about 1e-6 of x_0 (it leaves resting steps slightly
# inside n > 0); near the convexity limit its majorise-minimise loop adds a little more.
REFERENCE_TOLERANCE = 2e-5


def random_case(rng: np.random.Generator, max_steps: int = 40, min_exponent: float = 0.2):
    """A convex power-law planning case with drifts strong enough to make steps rest.

    The coefficient makes the impact at the TWAP rate comparable to a linear η = 0.01; γ is a
    random fraction of the convexity limit; urgency 0 or up to 4η/τ²; drift in units of the
    pull that moves a TWAP-like plan by about x_0.
    """
    steps = int(rng.integers(2, max_steps + 1))
    exponent = rng.uniform(min_exponent, 1.0)
    shares = 10.0 ** rng.uniform(1, 6)
    tau = 10.0 ** rng.uniform(-1, 1)
    eta = 0.01
    impact = PowerLawImpact(eta * (shares / (steps * tau)) ** (1.0 - exponent), exponent)
    gamma = rng.uniform(0.0, 0.9) * impact.convexity_limit(tau, shares)
    urgency = 0.0 if rng.random() < 0.3 else rng.uniform(0.0, 4.0) * eta / tau**2
    unit = 8.0 * eta * shares / (tau**2 * steps**2)
    drift = (rng.uniform(-4, 4) * unit * np.exp(-np.arange(steps) / rng.uniform(1, steps))
             * (rng.random() < 0.5) + rng.uniform(-1, 1, steps) * unit * rng.uniform(0, 3))
    return impact, shares, drift, tau, gamma, urgency


def solve(impact, shares, drift, tau, gamma, urgency):
    return optimal_holdings(impact, shares, drift, step_length=tau, permanent_impact=gamma,
                            urgency=urgency)


def planner_objective(impact, path, drift, tau, gamma, urgency):
    """U of the module docstring (no constants), from the definition."""
    trades = path[:-1] - path[1:]
    c = impact.coefficient * tau ** (-impact.exponent)
    return (np.sum(c * np.abs(trades) ** (1 + impact.exponent) - 0.5 * gamma * trades**2)
            + urgency * tau * np.sum(path[1:] ** 2) - tau * np.sum(drift * path[1:]))


def assert_kkt(impact, path, drift, tau, gamma, urgency, check_resting=True):
    """KKT of min U s.t. n >= 0, Σn = x_0 in trade space (U convex on the feasible set).

    ν_k = φ'(n_k) + Σ_{j<k}(2qτx_j - τa_j) equals one Λ on trading steps and is >= Λ on resting
    steps, to the planner's stated precision: m·KKT_TOLERANCE·P plus the effect of moving the
    trade (and the reference trade) by the resolution, φ''(n)·RESOLUTION·x_0; on resting steps
    the trade asked for is at most twice the resolution: ν_k - Λ >= -c(1+β)(2·RESOLUTION·x_0)^β.
    """
    start = path[0]
    steps = drift.shape[0]
    trades = path[:-1] - path[1:]
    assert np.all(trades >= 0.0) and path[-1] == 0.0
    beta = impact.exponent
    gain = impact.coefficient * tau ** (-beta) * (1 + beta)
    trading = trades > 0.0
    size = np.where(trading, trades, 1.0)
    marginal = np.where(trading, gain * size**beta - gamma * trades, 0.0)
    curvature = np.where(trading, gain * beta * size ** (beta - 1) - gamma, 0.0)
    carried = np.concatenate([[0.0], np.cumsum(2 * urgency * tau * path[1:-1]
                                               - tau * drift[:-1])])
    nu = marginal + carried
    reference = int(np.argmax(trades))
    level = nu[reference]
    scale = (gain * start**beta + gamma * start + 2 * urgency * tau * steps * start
             + tau * np.abs(drift).sum())
    resolution = RESOLUTION * start
    allowed = (steps * KKT_TOLERANCE * scale
               + 2 * resolution * (curvature + curvature[reference]))
    assert np.all(np.abs(nu - level)[trading] <= allowed[trading])
    dual = max(KKT_TOLERANCE * scale, gain * (2 * resolution) ** beta)
    if check_resting:
        assert np.all((nu - level)[~trading] >= -dual - allowed[~trading])


# --- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [("coefficient", 0.0), ("coefficient", -1.0),
                                         ("coefficient", math.nan), ("exponent", 0.0),
                                         ("exponent", 1.5), ("exponent", -0.5),
                                         ("exponent", math.inf)])
def test_invalid_parameters_are_rejected_by_name(field, value):
    values = {"coefficient": 0.1, "exponent": 0.6, field: value}
    with pytest.raises(ParameterError, match=field):
        PowerLawImpact(**values)


def test_boundary_exponent_one_is_accepted():
    assert PowerLawImpact(0.1, 1.0).exponent == 1.0


def test_calibration_matches_almgren_thum_hauptmann_li():
    """η_p = 0.142·σ_day/V_day^β; in other time units the impact of the same physical rate is
    the same: h = 0.142·σ_day·(v_day/V_day)^β."""
    impact = calibrated_impact(daily_volatility=1.5, daily_volume=2e6)
    assert impact.exponent == 0.6
    assert impact.coefficient == pytest.approx(0.142 * 1.5 / 2e6**0.6, rel=1e-15)
    per_day_rate = 3e5  # shares per day
    minutes = calibrated_impact(1.5, 2e6, 0.5, days_per_time_unit=1 / 390)
    days = calibrated_impact(1.5, 2e6, 0.5)
    per_minute_rate = per_day_rate / 390
    assert minutes.coefficient * per_minute_rate**0.5 == pytest.approx(
        days.coefficient * per_day_rate**0.5, rel=1e-14)
    assert days.coefficient * per_day_rate**0.5 == pytest.approx(
        0.142 * 1.5 * (per_day_rate / 2e6) ** 0.5, rel=1e-14)
    with pytest.raises(ParameterError, match="daily_volume"):
        calibrated_impact(1.5, 0.0)


def test_convexity_condition_is_enforced_with_a_clear_message():
    """MODEL §7: c(1+β)β·X^(β-1) must exceed γ; the error names the quantities and the fixes."""
    impact = PowerLawImpact(0.05, 0.5)
    limit = impact.convexity_limit(2.0, 1e4)
    assert limit == pytest.approx(0.05 * 2.0**-0.5 * 1.5 * 0.5 * 1e4**-0.5, rel=1e-15)
    check_convexity(impact, 2.0, 0.999 * limit, 1e4)
    with pytest.raises(ParameterError, match="permanent_impact") as error:
        check_convexity(impact, 2.0, limit, 1e4)
    assert "coefficient" in str(error.value) and "exponent" in str(error.value)
    with pytest.raises(ParameterError, match="not convex"):
        optimal_holdings(impact, 1e4, np.zeros(5), step_length=2.0,
                         permanent_impact=1.01 * limit, urgency=0.0)


# --- expected shortfall -------------------------------------------------------------------


def simulated_shortfall(impact, holdings, tau, gamma, spread, drift, self_alpha, price=100.0):
    """Realised IS of the §7 market with σ = 0, one step at a time (independent of the code).

    Fill: S̃_k = S_{k-1} - ε·sgn(n_k) - η_p·sgn(n_k)·|n_k/τ|^β. Move: S_k = S_{k-1} + α_k·τ
    - γ·n_k with α_k = drift_k - self_alpha·x_k. IS = X·S_0 - Σ n_k·S̃_k.
    """
    current = price
    proceeds = 0.0
    for k in range(1, len(holdings)):
        trade = holdings[k - 1] - holdings[k]
        fill = (current - spread * np.sign(trade)
                - impact.coefficient * np.sign(trade) * abs(trade / tau) ** impact.exponent)
        proceeds += trade * fill
        current += (drift[k - 1] - self_alpha * holdings[k]) * tau - gamma * trade
    return holdings[0] * price - proceeds


def test_noise_free_shortfall_equals_expected_shortfall():
    """σ = 0: the realised IS of any schedule (buy-backs included) is E of MODEL §7 exactly."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        steps = int(rng.integers(1, 25))
        impact = PowerLawImpact(rng.uniform(0.01, 1.0), rng.uniform(0.1, 1.0))
        tau, gamma, spread = rng.uniform(0.1, 3), rng.uniform(0, 0.01), rng.uniform(0, 0.05)
        drift, self_alpha = rng.normal(0, 0.1, steps), rng.uniform(0, 1e-3)
        path = np.concatenate([[rng.uniform(1, 1e4)], rng.uniform(-100, 1e4, steps - 1), [0.0]])
        realised = simulated_shortfall(impact, path, tau, gamma, spread, drift, self_alpha)
        expected = expected_shortfall(impact, path, step_length=tau, permanent_impact=gamma,
                                      half_spread=spread, drift=drift, self_alpha=self_alpha)
        assert expected == pytest.approx(realised, rel=1e-9, abs=1e-9 * path[0] * 100)


def test_exponent_one_is_the_linear_expected_shortfall():
    """β = 1 gives §3's E with η = η_p (costs.expected_shortfall), batched."""
    rng = np.random.default_rng(8)
    problem = ExecutionProblem(shares=5000.0, horizon=10.0, steps=10, temporary_impact=0.02,
                               permanent_impact=0.001, half_spread=0.03)
    paths = np.concatenate([np.full((6, 1), 5000.0), rng.uniform(-500, 6000, (6, 9)),
                            np.zeros((6, 1))], axis=1)
    drift = rng.normal(0, 0.2, 10)
    linear = costs.expected_shortfall(problem, paths, drift, self_alpha=2e-4)
    power = expected_shortfall(PowerLawImpact(0.02, 1.0), paths, step_length=1.0,
                               permanent_impact=0.001, half_spread=0.03, drift=drift,
                               self_alpha=2e-4)
    np.testing.assert_allclose(power, linear, rtol=1e-12)


# --- the planner: limits and closed forms --------------------------------------------------


def test_exponent_one_reproduces_the_linear_planners():
    """β = 1: the no-buy-back linear optimum, and the equality optimum when it never reverses,
    to 1e-9 relative (both exact methods; the difference is rounding)."""
    rng = np.random.default_rng(11)
    reversing = 0
    for _ in range(200):
        _, shares, drift, tau, _, urgency = random_case(rng)
        impact = PowerLawImpact(0.01, 1.0)
        gamma = rng.uniform(0.0, 0.9) * impact.convexity_limit(tau, shares)  # = 2η/τ
        path = solve(impact, shares, drift, tau, gamma, urgency)
        inputs = PlanningInputs(tau, impact.coefficient - 0.5 * gamma * tau, urgency, drift)
        np.testing.assert_allclose(path, no_buyback_holdings(inputs, shares), rtol=0,
                                   atol=1e-9 * shares)
        equality = linear_holdings(inputs, shares)
        if np.all(np.diff(equality) <= 0.0):
            np.testing.assert_allclose(path, equality, rtol=0, atol=1e-9 * shares)
        else:
            reversing += 1
    assert 20 <= reversing <= 180  # both branches are exercised


@pytest.mark.parametrize("exponent", [0.25, 0.5, 0.6, 1.0])
def test_no_urgency_no_drift_is_twap(exponent):
    """q = 0, a = 0: Σφ(n_k) with Σn = x_0 and φ strictly convex is minimised by equal trades."""
    impact = PowerLawImpact(0.3, exponent)
    gamma = 0.5 * impact.convexity_limit(0.5, 2e4)
    path = solve(impact, 2e4, np.zeros(13), 0.5, gamma, 0.0)
    np.testing.assert_allclose(path, 2e4 * (1 - np.arange(14) / 13), rtol=0, atol=1e-10 * 2e4)


def test_trivial_horizons():
    impact = PowerLawImpact(0.1, 0.5)
    assert np.array_equal(solve(impact, 300.0, np.ones(1), 1.0, 0.0, 1.0), [300.0, 0.0])
    assert np.array_equal(solve(impact, 0.0, np.ones(4), 1.0, 0.0, 1.0), np.zeros(5))
    with pytest.raises(InfeasibleProblemError):
        solve(impact, -1.0, np.ones(4), 1.0, 0.0, 1.0)
    with pytest.raises(ParameterError, match="drift"):
        solve(impact, 1.0, np.ones((2, 3, 4)), 1.0, 0.0, 1.0)


# --- the planner: optimality ---------------------------------------------------------------


def test_kkt_conditions_hold_on_random_cases():
    """Sell-only KKT to the stated precision, exact zeros on resting steps, exact end at 0;
    small exponents (trades down to the resolution of the holdings) included."""
    rng = np.random.default_rng(12)
    resting = 0
    for _ in range(400):
        impact, shares, drift, tau, gamma, urgency = random_case(rng, max_steps=60)
        path = solve(impact, shares, drift, tau, gamma, urgency)
        assert path[0] == shares
        assert_kkt(impact, path, drift, tau, gamma, urgency)
        resting += np.any(path[:-1] == path[1:])
    assert resting >= 100  # the active set is exercised


def test_kkt_conditions_hold_for_extreme_exponents_and_scales():
    """β down to 0.02 (marginal cost almost a step: trades near the resolution of the holdings
    matter), 200 steps, holdings from 1e-2 to 1e8, urgency and drift over many decades."""
    rng = np.random.default_rng(15)
    for _ in range(60):
        steps = int(rng.integers(2, 200))
        exponent = float(rng.choice([0.02, 0.05, 0.1, 0.99, 1.0]))
        shares, tau, eta = 10.0 ** rng.uniform(-2, 8), 10.0 ** rng.uniform(-3, 2), 10.0 ** (
            rng.uniform(-6, 0))
        impact = PowerLawImpact(eta * (shares / (steps * tau)) ** (1 - exponent), exponent)
        gamma = rng.uniform(0, 0.999) * impact.convexity_limit(tau, shares)
        urgency = 10.0 ** rng.uniform(-3, 2) * eta / tau**2 * (rng.random() < 0.7)
        drift = (rng.normal(0, 1, steps) * 8 * eta * shares / (tau * steps) ** 2
                 * 10.0 ** rng.uniform(-3, 2))
        path = solve(impact, shares, drift, tau, gamma, urgency)
        assert_kkt(impact, path, drift, tau, gamma, urgency)


def test_converges_on_stress_cases():
    """Hundreds of steps, κτ up to ~100 (plans at 1e-12 of x_0 after a few steps), oscillating
    drifts: the planner converges, never buys, and is stationary on its trading steps. (A
    resting step may then ask for a gain below U's rounding; see the module docstring.)"""
    rng = np.random.default_rng(16)
    for _ in range(80):
        steps = int(rng.choice([20, 100, 400]))
        exponent = float(rng.choice([0.1, 0.3, 0.5, 0.8, 0.99, 1.0]))
        shares, tau, eta = 10.0 ** rng.uniform(-3, 9), 10.0 ** rng.uniform(-4, 3), 10.0 ** (
            rng.uniform(-8, 2))
        impact = PowerLawImpact(eta * (shares / (steps * tau)) ** (1 - exponent), exponent)
        gamma = rng.uniform(0, 0.999) * impact.convexity_limit(tau, shares)
        urgency = 10.0 ** rng.uniform(-4, 4) * eta / tau**2
        drift = (np.sin(np.arange(steps) / rng.uniform(1, 50)) * 8 * eta * shares
                 / (tau * steps) ** 2 * 10.0 ** rng.uniform(-3, 3))
        start = shares * rng.uniform(0, 1)
        path = solve(impact, start, drift, tau, gamma, urgency)
        assert_kkt(impact, path, drift, tau, gamma, urgency, check_resting=False)


def test_batched_solve_equals_row_by_row():
    """One call on many episodes gives exactly the digits of one call per episode."""
    rng = np.random.default_rng(13)
    impact, shares, drift, tau, gamma, urgency = random_case(rng, max_steps=20)
    drifts = drift * rng.uniform(-2, 2, (64, 1)) + rng.normal(0, np.abs(drift).mean(),
                                                                   (64, drift.size))
    starts = shares * rng.uniform(0, 1, 64)
    starts[3] = 0.0
    batched = optimal_holdings(impact, starts, drifts, step_length=tau, permanent_impact=gamma,
                               urgency=urgency)
    for row in range(64):
        single = solve(impact, starts[row], drifts[row], tau, gamma, urgency)
        assert np.array_equal(batched[row], single)
    shared = optimal_holdings(impact, starts, drift, step_length=tau, permanent_impact=gamma,
                              urgency=urgency)
    assert np.array_equal(shared[5], solve(impact, starts[5], drift, tau, gamma, urgency))


def test_planner_matches_the_power_cone_reference():
    """Fast planner = cvxpy/CLARABEL (power cones, majorise-minimise for γ) to 2e-5·x_0, and
    its objective is not above the reference's (the reference is the less accurate one)."""
    rng = np.random.default_rng(14)
    for _ in range(5):
        impact, shares, drift, tau, gamma, urgency = random_case(rng, max_steps=14,
                                                                 min_exponent=0.3)
        path = solve(impact, shares, drift, tau, gamma, urgency)
        reference = ImpactReference(tau, urgency, permanent_impact=gamma,
                                    power_law=impact).holdings(shares, drift)
        np.testing.assert_allclose(path, reference, rtol=0, atol=REFERENCE_TOLERANCE * shares)
        fast = planner_objective(impact, path, drift, tau, gamma, urgency)
        slow = planner_objective(impact, reference, drift, tau, gamma, urgency)
        assert fast <= slow + 1e-12 * abs(slow)
