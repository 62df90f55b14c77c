"""Paper-literal quadratic programs (Krovi 2025 §4.3 / §5.2; MODEL.md §3c): strategies.paper.

Oracles: the cvxpy formulation `PaperCvxpy` (generic conic solver); first-order
optimality along feasible directions; classical discrete AC (the remaining-inventory
reading with no linear term is AC with τ = 1, η̃ = trade_cost); time reversal (the
printed cumulative reading is the remaining reading run backwards); the identity
Σx_k = Q that makes a constant a_self irrelevant under the equality constraint.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from acsim.strategies import ExecutionProblem, optimal_schedule
from acsim.strategies.paper import PaperCvxpy, PaperParameters, PaperQP, paper_objective

SETTINGS = settings(deadline=None, max_examples=30, derandomize=True, database=None)


@st.composite
def paper_cases(draw, penalty=None):
    """Parameters, a_self (scalar or per step), coupling and a field path."""
    steps = draw(st.integers(1, 30))
    total = draw(st.floats(10.0, 1e4))
    trade_cost = 10.0 ** draw(st.floats(-1.0, 1.0))
    if penalty == "random":
        penalty = trade_cost * 10.0 ** draw(st.floats(-1.0, 2.0))
    parameters = PaperParameters(
        total_shares=total, steps=steps, trade_cost=trade_cost,
        risk_aversion=draw(st.floats(0.0, 1.0)), variance=draw(st.floats(0.0, 2.0)) * trade_cost,
        penalty=penalty, inventory=draw(st.sampled_from(["cumulative", "remaining"])),
    )
    unit = trade_cost * total / steps  # a linear term of this size moves trades by O(Q/T)
    if draw(st.booleans()):
        self_alpha = draw(st.floats(-3.0, 3.0)) * unit
    else:
        self_alpha = draw(hnp.arrays(float, steps, elements=st.floats(-3.0, 3.0))) * unit
    coupling = draw(st.floats(-3.0, 3.0)) * unit
    field = draw(hnp.arrays(float, steps, elements=st.floats(-1.0, 1.0)))
    return parameters, self_alpha, coupling, field


def scale_of(parameters, trades):
    return parameters.total_shares + float(np.max(np.abs(trades)))


@SETTINGS
@given(paper_cases(penalty=None))
def test_equality_form_qp_equals_cvxpy(case):
    """§4.3 (Σx = Q), both inventory readings: PaperQP = PaperCvxpy to 1e-7 relative."""
    parameters, self_alpha, coupling, field = case
    exact = PaperQP(parameters).trades(self_alpha, coupling, field)
    reference = PaperCvxpy(parameters).trades(self_alpha, coupling, field)
    np.testing.assert_allclose(exact, reference, rtol=0,
                               atol=1e-7 * scale_of(parameters, reference))
    assert np.sum(exact) == pytest.approx(parameters.total_shares, rel=1e-12)


@SETTINGS
@given(paper_cases(penalty="random"))
def test_penalty_form_qp_equals_cvxpy(case):
    """§5.2 (penalty P(Σx - Q)²), both inventory readings: PaperQP = PaperCvxpy to 1e-7."""
    parameters, self_alpha, coupling, field = case
    exact = PaperQP(parameters).trades(self_alpha, coupling, field)
    reference = PaperCvxpy(parameters).trades(self_alpha, coupling, field)
    np.testing.assert_allclose(exact, reference, rtol=0,
                               atol=1e-7 * scale_of(parameters, reference))


@SETTINGS
@given(paper_cases(penalty=None), st.data())
def test_equality_optimum_beats_feasible_perturbations(case, data):
    """Along any direction d with Σd = 0, f(x* ± t·d) >= f(x*) (first-order optimality)."""
    parameters, self_alpha, coupling, field = case
    best = PaperQP(parameters).trades(self_alpha, coupling, field)
    direction = np.asarray(data.draw(hnp.arrays(float, parameters.steps,
                                                elements=st.floats(-1.0, 1.0))))
    direction = direction - direction.mean()
    value = paper_objective(parameters, best, self_alpha, coupling, field)
    magnitude = parameters.trade_cost * scale_of(parameters, best) ** 2 * (1 + parameters.steps)
    for step in (1e-3, 1.0):
        moved = best + step * scale_of(parameters, best) * direction
        for candidate in (moved, 2 * best - moved):
            assert paper_objective(parameters, candidate, self_alpha, coupling, field) >= (
                value - 1e-11 * magnitude)


@SETTINGS
@given(paper_cases(penalty=None), st.floats(-1e3, 1e3))
def test_constant_self_alpha_only_shifts_objective(case, constant):
    """With Σx = Q, a constant a_self leaves the schedule unchanged and changes the
    objective by exactly -a_self·Q."""
    parameters, _, coupling, field = case
    solver = PaperQP(parameters)
    base = solver.trades(0.0, coupling, field)
    shifted = solver.trades(constant, coupling, field)
    scale = scale_of(parameters, base)
    np.testing.assert_allclose(shifted, base, rtol=0, atol=1e-10 * scale)
    with_constant = paper_objective(parameters, base, constant, coupling, field)
    without = paper_objective(parameters, base, 0.0, coupling, field)
    rounding = 1e-14 * parameters.steps * (abs(with_constant) + abs(without))
    assert with_constant - without == pytest.approx(-constant * parameters.total_shares,
                                                    rel=1e-10, abs=rounding)


@SETTINGS
@given(paper_cases(penalty=None), st.integers(1, 5))
def test_batched_fields_equal_one_by_one(case, episodes):
    """trades with fields of shape (E, T) equal E separate solves (both forms)."""
    parameters, self_alpha, coupling, field = case
    rng = np.random.default_rng(episodes)
    fields = field[None, :] * rng.uniform(-2.0, 2.0, (episodes, 1))
    for params in (parameters, PaperParameters(**{**parameters.__dict__, "penalty": 3.0})):
        solver = PaperQP(params)
        batch = solver.trades(self_alpha, coupling, fields)
        assert batch.shape == (episodes, params.steps)
        for row in range(episodes):
            single = solver.trades(self_alpha, coupling, fields[row])
            np.testing.assert_allclose(batch[row], single, rtol=0,
                                       atol=1e-12 * scale_of(params, single))


@pytest.mark.parametrize("inventory", ["cumulative", "remaining"])
def test_penalty_form_approaches_equality_form(inventory):
    """As P → ∞ the §5.2 penalty optimum tends to the §4.3 optimum, with error O(1/P)."""
    rng = np.random.default_rng(7)
    field = rng.uniform(-1, 1, 20)
    base = dict(total_shares=1000.0, steps=20, trade_cost=1.0, risk_aversion=0.1, variance=1.0,
                inventory=inventory)
    target = PaperQP(PaperParameters(**base)).trades(5.0, 20.0, field)
    errors = []
    for penalty in (1e1, 1e3, 1e5):
        approx = PaperQP(PaperParameters(**base, penalty=penalty)).trades(5.0, 20.0, field)
        errors.append(np.max(np.abs(approx - target)))
    assert errors[0] > 1e-3
    assert errors[1] == pytest.approx(errors[0] / 100.0, rel=0.1)
    assert errors[2] == pytest.approx(errors[1] / 100.0, rel=0.1)
    assert errors[2] < 1e-4 * 1000.0


@pytest.mark.parametrize("steps,risk_aversion", [(1, 0.1), (10, 0.0), (20, 0.1), (40, 2.0)])
def test_remaining_reading_is_discrete_almgren_chriss(steps, risk_aversion):
    """Remaining-inventory reading, no linear term: the AC optimum with τ = 1, η̃ = trade_cost,
    λσ² = risk_aversion·variance (x_k = sinh(κ(T-k))/sinh(κT)·Q)."""
    parameters = PaperParameters(total_shares=500.0, steps=steps, trade_cost=2.0,
                                 risk_aversion=risk_aversion, variance=0.5, inventory="remaining")
    trades = PaperQP(parameters).trades(0.0, 0.0, np.zeros(steps))
    ac = ExecutionProblem(shares=500.0, horizon=float(steps), steps=steps, temporary_impact=2.0,
                          permanent_impact=0.0, volatility=math.sqrt(0.5),
                          risk_aversion=risk_aversion)
    np.testing.assert_allclose(trades, optimal_schedule(ac).trades, rtol=0, atol=1e-9 * 500.0)


@SETTINGS
@given(paper_cases(penalty=None))
def test_cumulative_reading_is_remaining_reading_reversed(case):
    """Under Σx = Q, Σ X_k² = Q² + Σ_{k<T} (Q - X'_k)² for the time-reversed trades x', so the
    printed (cumulative) optimum is the reversed remaining-inventory optimum of the reversed
    linear term."""
    parameters, self_alpha, coupling, field = case
    cumulative = PaperParameters(**{**parameters.__dict__, "inventory": "cumulative"})
    remaining = PaperParameters(**{**parameters.__dict__, "inventory": "remaining"})
    forward = PaperQP(cumulative).trades(self_alpha, coupling, field)
    reversed_alpha = self_alpha[::-1] if np.ndim(self_alpha) else self_alpha
    backward = PaperQP(remaining).trades(reversed_alpha, coupling, field[::-1])
    np.testing.assert_allclose(forward, backward[::-1], rtol=0,
                               atol=1e-9 * scale_of(parameters, forward))


def test_readings_differ_when_it_matters():
    """The printed reading back-loads and the remaining reading front-loads (no field)."""
    common = dict(total_shares=1000.0, steps=10, trade_cost=1.0, risk_aversion=0.5, variance=1.0)
    printed = PaperQP(PaperParameters(**common, inventory="cumulative")).trades(0.0, 0.0,
                                                                              np.zeros(10))
    remaining = PaperQP(PaperParameters(**common, inventory="remaining")).trades(0.0, 0.0,
                                                                               np.zeros(10))
    assert np.all(np.diff(printed) > 0.0)
    assert np.all(np.diff(remaining) < 0.0)


@pytest.mark.parametrize("inventory", ["cumulative", "remaining"])
@pytest.mark.parametrize("penalty", [None, 30.0])
def test_receding_horizon_with_fixed_forecasts_is_the_full_optimum(inventory, penalty):
    """Time consistency: re-solving the tail for the shares left, with the same linear terms,
    reproduces the full-horizon optimum (the last step closes the order under the penalty)."""
    from acsim.strategies.paper import receding_horizon_trades

    parameters = PaperParameters(total_shares=300.0, steps=9, trade_cost=1.5, risk_aversion=0.2,
                                 variance=1.2, penalty=penalty, inventory=inventory)
    rng = np.random.default_rng(8)
    self_alpha, field = rng.normal(size=9) * 20, rng.normal(size=9) * 20
    full = PaperQP(parameters).trades(self_alpha, 0.7, field)
    reference = PaperCvxpy(parameters).trades(self_alpha, 0.7, field)
    np.testing.assert_allclose(full, reference, rtol=0, atol=1e-5 * 300)
    planned = receding_horizon_trades(
        parameters, 0.7, lambda k: (self_alpha[k - 1:], field[k - 1:]))
    np.testing.assert_allclose(planned[:-1], full[:-1], rtol=0, atol=1e-9 * 300)
    assert planned.sum() == pytest.approx(300.0, rel=1e-12)


def test_receding_horizon_step_uses_only_what_its_forecast_gives():
    """Changing what later steps learn never changes earlier trades."""
    from acsim.strategies.paper import receding_horizon_trades

    parameters = PaperParameters(total_shares=100.0, steps=8, inventory="remaining", penalty=50.0)

    def forecasts(shock_from):
        def at(k):
            size = 9 - k
            level = 5.0 if k >= shock_from else 0.0
            return np.full(size, 0.1 * k), np.full(size, level)
        return at

    calm = receding_horizon_trades(parameters, 1.0, forecasts(99))
    shocked = receding_horizon_trades(parameters, 1.0, forecasts(5))
    np.testing.assert_array_equal(calm[:4], shocked[:4])
    assert np.abs(calm[4:] - shocked[4:]).max() > 1e-3
