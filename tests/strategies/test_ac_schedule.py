"""Classical Almgren-Chriss schedule (MODEL.md §3a): limits, identities, brute force.

Oracles: the TWAP / block-trade closed forms, the defining equation of κ, a dense
brute-force minimiser of the §3 objective (tests/conftest.py), an independent
term-by-term evaluation of E and V, and ordering properties of the efficient frontier.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acsim.strategies import (
    ExecutionProblem,
    closed_form_cost,
    continuous_kappa,
    continuous_schedule,
    efficient_frontier,
    half_life,
    kappa,
    optimal_schedule,
    schedule_cost,
    twap_holdings,
)

SETTINGS = settings(deadline=None, max_examples=40, derandomize=True, database=None)


def independent_cost(problem, holdings, drift=0.0):
    """E and V written out from MODEL.md §3, term by term, with plain loops."""
    x = [float(v) for v in holdings]
    tau = problem.horizon / problem.steps
    eta_tilde = problem.temporary_impact - problem.permanent_impact * tau / 2.0
    drift = np.broadcast_to(np.asarray(drift, dtype=float), (problem.steps,))
    expected = 0.5 * problem.permanent_impact * problem.shares**2
    variance = 0.0
    for k in range(1, problem.steps + 1):
        n_k = x[k - 1] - x[k]
        expected += problem.half_spread * abs(n_k) + eta_tilde / tau * n_k**2
        expected -= tau * drift[k - 1] * x[k]
        variance += problem.volatility**2 * tau * x[k] ** 2
    return expected, variance


@st.composite
def moderate_problems(draw, with_drift=False):
    """Problems with κT in about [0.2, 40] (where the closed forms keep precision)."""
    steps = draw(st.integers(1, 120))
    horizon = draw(st.floats(0.5, 100.0))
    tau = horizon / steps
    eta = 10.0 ** draw(st.floats(-8.0, -4.0))
    gamma = draw(st.floats(0.0, 0.9)) * 2.0 * eta / tau
    sigma = draw(st.floats(0.05, 2.0))
    eta_tilde = eta - gamma * tau / 2.0
    kappa_t = draw(st.floats(0.2, 40.0))
    # choose λ so that the continuous-time κT is about kappa_t (the discrete one is close)
    risk_aversion = (kappa_t / horizon) ** 2 * eta_tilde / sigma**2
    shares = 10.0 ** draw(st.floats(2.0, 7.0))
    drift = 0.0
    if with_drift:
        # drift measured in units of the pull that moves holdings by O(X)
        drift = draw(st.floats(-3.0, 3.0)) * 2.0 * risk_aversion * sigma**2 * shares
    return ExecutionProblem(
        shares=shares, horizon=horizon, steps=steps, volatility=sigma,
        half_spread=draw(st.floats(0.0, 1.0)), temporary_impact=eta, permanent_impact=gamma,
        risk_aversion=risk_aversion, drift=drift, side=draw(st.sampled_from([1, -1])),
    )


def planning_urgency(problem):
    return problem.risk_aversion * problem.volatility**2


# --- κ ---------------------------------------------------------------------------------


@SETTINGS
@given(moderate_problems())
def test_kappa_solves_its_defining_equation(problem):
    """κ satisfies (2/τ²)(cosh κτ - 1) = λσ²/η̃ (MODEL.md §3a)."""
    rate = kappa(problem)
    tau = problem.step_length
    lhs = 2.0 / tau**2 * (math.cosh(rate * tau) - 1.0)
    rhs = planning_urgency(problem) / problem.effective_temporary_impact
    assert lhs == pytest.approx(rhs, rel=1e-10)
    assert half_life(problem) == pytest.approx(1.0 / rate, rel=1e-15)


def test_kappa_is_accurate_for_tiny_urgency():
    """For tiny λ, κ ≈ √(λσ²/η̃)·(1 - λσ²τ²/(24η̃)): no cancellation (series of asinh)."""
    problem = ExecutionProblem(risk_aversion=1e-20)
    ratio = planning_urgency(problem) / problem.effective_temporary_impact
    expected = math.sqrt(ratio) * (1.0 - ratio * problem.step_length**2 / 24.0)
    assert kappa(problem) == pytest.approx(expected, rel=1e-12)


def test_continuous_kappa_is_the_labelled_approximation():
    """continuous_kappa = √(λσ²/η) exactly; the discrete κ tends to it as τ → 0 with γ = 0."""
    base = ExecutionProblem(permanent_impact=0.0)
    assert continuous_kappa(base) == pytest.approx(math.sqrt(1e-6 * 0.144 / 2.5e-6), rel=1e-14)
    gaps = [abs(kappa(base.with_changes(steps=n)) - continuous_kappa(base))
            for n in (60, 600, 6000)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-6 * continuous_kappa(base)
    # the sampled continuous trajectory is feasible but costs more than the discrete optimum
    approx = continuous_schedule(ExecutionProblem())
    exact = optimal_schedule(ExecutionProblem())
    assert approx.holdings[0] == 1e6 and approx.holdings[-1] == 0.0
    assert approx.cost.utility > exact.cost.utility


# --- limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [{"risk_aversion": 0.0}, {"volatility": 0.0}])
def test_zero_urgency_is_twap_exactly(changes):
    """λσ² = 0 gives TWAP, x_k = X(1 - k/N); its E and V match the TWAP closed forms."""
    problem = ExecutionProblem(**changes)
    schedule = optimal_schedule(problem)
    x, n = problem.shares, problem.steps
    np.testing.assert_allclose(schedule.holdings, x * (1.0 - np.arange(n + 1) / n),
                               rtol=0, atol=1e-9 * x)
    np.testing.assert_allclose(schedule.trades, x / n, rtol=1e-12)
    assert schedule.kappa == 0.0
    assert half_life(problem) == math.inf
    tau = problem.step_length
    expected = (0.5 * problem.permanent_impact * x**2 + problem.half_spread * x
                + problem.effective_temporary_impact * x**2 / problem.horizon)
    variance = problem.volatility**2 * tau * x**2 * (n - 1) * (2 * n - 1) / (6 * n)
    assert schedule.cost.expected_shortfall == pytest.approx(expected, rel=1e-12)
    assert schedule.cost.variance == pytest.approx(variance, rel=1e-12)
    closed = closed_form_cost(problem)
    assert closed.expected_shortfall == pytest.approx(expected, rel=1e-12)
    assert closed.variance == pytest.approx(variance, rel=1e-12)


def test_tiny_risk_aversion_converges_to_twap():
    """As λ → 0 the distance to TWAP shrinks like λ (it is O(κ²T²) = O(λ))."""
    twap = twap_holdings(ExecutionProblem())
    lambdas = [1e-11, 1e-13, 1e-15]  # κT ≈ 0.05 .. 0.0005
    gaps = [np.max(np.abs(optimal_schedule(ExecutionProblem(risk_aversion=lam)).holdings - twap))
            for lam in lambdas]
    assert gaps[0] > 0.0
    for bigger, smaller in zip(gaps, gaps[1:]):
        assert smaller == pytest.approx(bigger / 100.0, rel=0.01)
    assert gaps[-1] < 0.1  # shares, out of 1e6


@pytest.mark.parametrize("risk_aversion", [0.0, 1e-6, 1.0])
def test_single_step_is_the_block_trade(risk_aversion):
    """N = 1: one trade of X; E = ½γX² + εX + η̃X²/T and V = 0 (closed form and summation)."""
    problem = ExecutionProblem(steps=1, horizon=1.0, risk_aversion=risk_aversion)
    schedule = optimal_schedule(problem)
    np.testing.assert_array_equal(schedule.holdings, [1e6, 0.0])
    x = problem.shares
    eta_tilde = problem.temporary_impact - problem.permanent_impact / 2.0
    expected = 0.5 * problem.permanent_impact * x**2 + problem.half_spread * x + eta_tilde * x**2
    for cost in (schedule.cost, closed_form_cost(problem)):
        assert cost.expected_shortfall == pytest.approx(expected, rel=1e-12)
        assert cost.variance == pytest.approx(0.0, abs=1e-12 * problem.volatility**2 * x**2)


# --- closed forms vs summation, brute force -----------------------------------------------


@SETTINGS
@given(moderate_problems())
def test_closed_form_cost_equals_summation(problem):
    """AC (2000) closed-form E and V equal the generic summation on the optimal schedule."""
    problem = problem.with_changes(drift=0.0)
    closed = closed_form_cost(problem)
    summed = optimal_schedule(problem).cost
    assert closed.expected_shortfall == pytest.approx(summed.expected_shortfall, rel=1e-10)
    rounding = 1e-12 * problem.volatility**2 * problem.shares**2 * problem.horizon  # V = 0 at N = 1
    assert closed.variance == pytest.approx(summed.variance, rel=1e-10, abs=rounding)
    assert closed.utility == pytest.approx(summed.utility, rel=1e-10)


@SETTINGS
@given(moderate_problems(with_drift=True))
def test_schedule_cost_matches_term_by_term_definition(problem):
    """schedule_cost on the optimum equals E, V written out from MODEL.md §3 (drift included)."""
    schedule = optimal_schedule(problem)
    expected, variance = independent_cost(problem, schedule.holdings, problem.side * problem.drift)
    scale = abs(expected) + problem.effective_temporary_impact * problem.shares**2 / problem.horizon
    assert schedule.cost.expected_shortfall == pytest.approx(expected, rel=0, abs=1e-11 * scale)
    assert schedule.cost.variance == pytest.approx(variance, rel=1e-11)
    assert schedule.cost.utility == pytest.approx(
        schedule.cost.expected_shortfall + problem.risk_aversion * schedule.cost.variance,
        rel=1e-14)


@SETTINGS
@given(problem=moderate_problems(with_drift=True))
def test_optimal_schedule_equals_brute_force(problem, dense_optimum):
    """Closed-form holdings (with drift, AC 2000 §4.1) equal the dense normal-equation optimum."""
    holdings = optimal_schedule(problem).holdings
    drift = np.full(problem.steps, problem.planning_drift)
    oracle = dense_optimum(problem.step_length, problem.effective_temporary_impact,
                           planning_urgency(problem), drift, problem.shares)
    scale = max(np.max(np.abs(oracle)), problem.shares)
    np.testing.assert_allclose(holdings, oracle, rtol=0, atol=1e-9 * scale)
    assert holdings[0] == problem.shares and holdings[-1] == 0.0


@pytest.mark.parametrize("horizon,steps", [(60.0, 13), (7.3, 3), (7.3, 49)])
@pytest.mark.parametrize("risk_aversion,drift", [(1e-6, 0.0), (1e-6, 0.01), (0.0, 0.01)])
def test_endpoints_are_exact_when_n_tau_is_not_t(horizon, steps, risk_aversion, drift):
    """x_0 = X and x_N = 0 exactly even where N·(T/N) != T in floating point."""
    assert steps * (horizon / steps) != horizon
    problem = ExecutionProblem(horizon=horizon, steps=steps, risk_aversion=risk_aversion,
                               drift=drift)
    for schedule in (optimal_schedule(problem), continuous_schedule(problem)):
        assert schedule.holdings[0] == problem.shares
        assert schedule.holdings[-1] == 0.0


@pytest.mark.parametrize("drift", [-0.02, 0.01, 0.05])
def test_drift_without_urgency_is_the_parabola(drift, dense_optimum):
    """λ = 0 with drift α: the brute-force optimum, and E includes -τ·Σα·x_k."""
    problem = ExecutionProblem(risk_aversion=0.0, drift=drift)
    schedule = optimal_schedule(problem)
    oracle = dense_optimum(problem.step_length, problem.effective_temporary_impact, 0.0,
                           np.full(problem.steps, drift), problem.shares)
    np.testing.assert_allclose(schedule.holdings, oracle, rtol=0, atol=1e-8 * problem.shares)
    twap = twap_holdings(problem)
    assert not np.allclose(schedule.holdings, twap)  # the drift did change the schedule
    no_drift = schedule_cost(problem.with_changes(drift=0.0), schedule.holdings)
    shift = -problem.step_length * drift * np.sum(schedule.holdings[1:])
    assert schedule.cost.expected_shortfall - no_drift.expected_shortfall == pytest.approx(
        shift, rel=1e-9)


def test_drift_with_urgency_moves_towards_the_static_level(dense_optimum):
    """AC 2000 §4.1: with drift the optimum is the AC curve plus x̄·(shape), x̄ = α/(2λσ²).

    Far from both ends (κT large), holdings sit at x̄ (the level where drift gain and risk
    balance); brute force confirms the whole path.
    """
    problem = ExecutionProblem(risk_aversion=1e-4, drift=0.02, steps=200, horizon=60.0)
    holdings = optimal_schedule(problem).holdings
    level = problem.drift / (2.0 * planning_urgency(problem))
    assert holdings[100] == pytest.approx(level, rel=1e-9)
    oracle = dense_optimum(problem.step_length, problem.effective_temporary_impact,
                           planning_urgency(problem), np.full(200, problem.drift), problem.shares)
    np.testing.assert_allclose(holdings, oracle, rtol=0, atol=1e-9 * problem.shares)


def test_drift_with_subnormal_urgency_is_finite(dense_optimum):
    """λσ² = 1e-310 (> 0 but subnormal) with drift: the optimum is, to all digits, the λ = 0
    parabola (brute force); x_0 must be X, not NaN."""
    problem = ExecutionProblem(shares=100.0, horizon=10.0, steps=10, temporary_impact=1e-3,
                               permanent_impact=0.0, volatility=1.0, risk_aversion=1e-310,
                               drift=0.2)
    oracle = dense_optimum(1.0, 1e-3, 0.0, np.full(10, 0.2), 100.0)
    np.testing.assert_allclose(optimal_schedule(problem).holdings, oracle, rtol=0, atol=1e-9)


@pytest.mark.parametrize("risk_aversion", [1e-30, 1e-22, 1e-19, 1e-17, 1e-15, 1e-12, 1e-9])
def test_drift_with_small_urgency_matches_brute_force(dense_optimum, risk_aversion):
    """Across the switch from the κT -> 0 parabola to the hyperbolic form, the drift optimum
    agrees with brute force (dense normal equations) on both sides."""
    problem = ExecutionProblem(shares=100.0, horizon=10.0, steps=10, temporary_impact=1e-3,
                               permanent_impact=0.0, volatility=1.0,
                               risk_aversion=risk_aversion, drift=0.2)
    oracle = dense_optimum(1.0, 1e-3, risk_aversion, np.full(10, 0.2), 100.0)
    np.testing.assert_allclose(optimal_schedule(problem).holdings, oracle, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("drift", [0.0, 0.003])
def test_buy_is_mirror_of_sell(drift):
    """A buy with drift α plans exactly like a sell with drift -α (and 'buy' == -1)."""
    buy = optimal_schedule(ExecutionProblem(side="buy", drift=drift))
    assert ExecutionProblem(side="buy").side == -1
    sell = optimal_schedule(ExecutionProblem(side="sell", drift=-drift))
    np.testing.assert_array_equal(buy.holdings, sell.holdings)
    assert buy.cost == sell.cost


def test_brute_force_with_scipy_minimize_reference_case():
    """scipy.optimize.minimize on U = E + λV (generic optimiser) agrees on the reference case."""
    from scipy.optimize import minimize

    problem = ExecutionProblem(steps=20, horizon=20.0)
    x, tau = problem.shares, problem.step_length
    eta_tilde, urgency = problem.effective_temporary_impact, planning_urgency(problem)

    def utility(interior_scaled):
        path = np.concatenate([[1.0], interior_scaled, [0.0]]) * x
        trades = -np.diff(path)
        value = eta_tilde / tau * np.sum(trades**2) + urgency * tau * np.sum(path[1:] ** 2)
        return value / (eta_tilde / tau * x**2)

    start = np.linspace(1.0, 0.0, 21)[1:-1]
    result = minimize(utility, start, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000})
    holdings = optimal_schedule(problem).holdings
    np.testing.assert_allclose(holdings[1:-1] / x, result.x, rtol=0, atol=1e-6)


# --- stability ------------------------------------------------------------------------------


def test_large_kappa_t_matches_brute_force(dense_optimum):
    """κT ≈ 2000 (naive sinh(κT) overflows): still equal to the dense brute-force optimum."""
    problem = ExecutionProblem(steps=300, horizon=300.0, risk_aversion=1e-1)
    rate = kappa(problem)
    assert rate * problem.horizon > 1000.0
    with pytest.raises(OverflowError):  # the naive formula cannot even be evaluated
        math.sinh(rate * problem.horizon)
    schedule = optimal_schedule(problem)
    oracle = dense_optimum(problem.step_length, problem.effective_temporary_impact,
                           planning_urgency(problem), np.zeros(300), problem.shares)
    np.testing.assert_allclose(schedule.holdings, oracle, rtol=0, atol=1e-12 * problem.shares)
    closed = closed_form_cost(problem)
    assert math.isfinite(closed.expected_shortfall) and math.isfinite(closed.variance)
    assert closed.expected_shortfall == pytest.approx(schedule.cost.expected_shortfall, rel=1e-10)
    assert closed.variance == pytest.approx(schedule.cost.variance, rel=1e-10)


@pytest.mark.parametrize("drift", [0.0, -0.5, 0.5])
def test_kappa_t_in_the_thousands_is_finite_and_monotone(drift):
    """T = N = 5000, κT ≈ 3e4: κ finite, holdings finite, x_1 = X·e^{-κτ}, the recurrence holds."""
    problem = ExecutionProblem(steps=5000, horizon=5000.0, risk_aversion=1e-2, drift=drift)
    rate = kappa(problem)
    assert math.isfinite(rate) and rate * problem.horizon > 1e4
    holdings = optimal_schedule(problem).holdings
    assert np.all(np.isfinite(holdings))
    assert holdings[0] == problem.shares and holdings[-1] == 0.0
    urgency = planning_urgency(problem)
    level = drift / (2.0 * urgency)
    if drift >= 0.0:  # (a negative drift ends with a buy-back from -|x̄| to 0)
        assert np.all(np.diff(holdings) <= 0.0)
    if drift == 0.0:
        assert np.all(holdings >= 0.0)
        # x_1/x_0 = sinh(κ(T-τ))/sinh(κT) = e^{-κτ} up to e^{-2κT}
        assert holdings[1] == pytest.approx(problem.shares * math.exp(-rate * problem.step_length),
                                            rel=1e-12)
    else:
        assert holdings[2500] == pytest.approx(level, rel=1e-12)
    # every interior j satisfies -x_{j-1} + d·x_j - x_{j+1} = τ²α/(2η̃)  (d = 2 + λσ²τ²/η̃)
    tau, eta_tilde = problem.step_length, problem.effective_temporary_impact
    d = 2.0 + urgency * tau**2 / eta_tilde
    residual = -holdings[:-2] + d * holdings[1:-1] - holdings[2:] - tau**2 * drift / (2 * eta_tilde)
    assert np.max(np.abs(residual)) <= 1e-9 * problem.shares


# --- efficient frontier -----------------------------------------------------------------------


def test_efficient_frontier_is_ordered_and_optimal():
    """As λ grows, E increases and V decreases; λ = 0 is TWAP; each point minimises its own U."""
    problem = ExecutionProblem()
    grid = np.array([0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3])
    frontier = efficient_frontier(problem, grid)
    np.testing.assert_array_equal(frontier.risk_aversion, grid)
    assert np.all(np.diff(frontier.expected_shortfall) > 0.0)
    assert np.all(np.diff(frontier.variance) < 0.0)
    twap = schedule_cost(problem, twap_holdings(problem))
    assert frontier.expected_shortfall[0] == pytest.approx(twap.expected_shortfall, rel=1e-12)
    assert frontier.variance[0] == pytest.approx(twap.variance, rel=1e-12)
    # U_i(point i) <= U_i(point j): every other frontier point is a feasible schedule
    utilities = frontier.expected_shortfall[None, :] + grid[:, None] * frontier.variance[None, :]
    assert np.all(np.diag(utilities)[:, None] <= utilities * (1 + 1e-12))
    for lam, e, v in zip(grid, frontier.expected_shortfall, frontier.variance):
        cost = optimal_schedule(problem.with_changes(risk_aversion=float(lam))).cost
        assert (e, v) == (cost.expected_shortfall, cost.variance)
