"""Cost formulas of `strategies.costs` (MODEL.md §2-§3).

Oracles:
- a literal simulation of the §2 price dynamics written here (fill at S_{k-1} minus
  spread and temporary impact, then drift, noise and permanent impact), from which the
  implementation shortfall IS = X·S_0 - Σ n_k·S̃_k is computed; IS is affine in the
  shocks ξ, so E = IS(ξ = 0) and V = Σ_k (IS(e_k) - IS(0))² exactly;
- the metamorphic identity "self_alpha is a holdings-dependent drift";
- trades_from_holdings and holdings_from_trades are mutually inverse.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from acsim.strategies import (
    ExecutionProblem,
    ExtendedParameters,
    expected_shortfall,
    holdings_from_trades,
    schedule_cost,
    shortfall_variance,
    trades_from_holdings,
)

SETTINGS = settings(deadline=None, max_examples=40, derandomize=True, database=None)


def simulated_shortfall(problem, holdings, drift_path, self_alpha, shocks):
    """IS of one price path, MODEL.md §2 read literally (side = +1 sells, -1 buys).

    drift_path: α_exo + coupling·f_k per step in price units; for a seller the self term
    -self_alpha·x_k is added (only sellers are simulated with self_alpha here).
    """
    side = problem.side
    tau = problem.horizon / problem.steps
    price = problem.price
    paid = 0.0
    for k in range(1, problem.steps + 1):
        trade = holdings[k - 1] - holdings[k]
        fill = price - side * (problem.half_spread * np.sign(trade)
                               + problem.temporary_impact / tau * trade)
        paid += trade * fill
        alpha = drift_path[k - 1] - self_alpha * holdings[k]
        price = (price + alpha * tau + problem.volatility * math.sqrt(tau) * shocks[k - 1]
                 - side * problem.permanent_impact * trade)
    arrival = problem.shares * problem.price
    return arrival - paid if side == 1 else paid - arrival


def simulated_moments(problem, holdings, drift_path, self_alpha=0.0):
    """E[IS] and Var[IS]: IS is affine in ξ, so evaluate it at 0 and at unit shocks."""
    steps = problem.steps
    base = simulated_shortfall(problem, holdings, drift_path, self_alpha, np.zeros(steps))
    slopes = [simulated_shortfall(problem, holdings, drift_path, self_alpha, np.eye(steps)[k])
              - base for k in range(steps)]
    return base, float(np.sum(np.square(slopes)))


@st.composite
def schedules(draw, allow_buy=True):
    """A problem and an arbitrary feasible path x_0 = X .. x_N = 0 (it may buy back)."""
    steps = draw(st.integers(1, 25))
    shares = draw(st.floats(1e2, 1e5))
    problem = ExecutionProblem(
        shares=shares, steps=steps, horizon=draw(st.floats(0.1, 30.0)), price=50.0,
        volatility=draw(st.floats(0.0, 1.0)), half_spread=draw(st.floats(0.0, 0.1)),
        temporary_impact=1e-3, permanent_impact=draw(st.floats(0.0, 1e-4)),
        risk_aversion=draw(st.floats(0.0, 1e-3)), drift=draw(st.floats(-0.5, 0.5)),
        side=draw(st.sampled_from([1, -1] if allow_buy else [1])),
    )
    interior = draw(hnp.arrays(float, steps - 1, elements=st.floats(-0.5, 1.5)))
    holdings = np.concatenate([[shares], shares * interior, [0.0]])
    return problem, holdings


@SETTINGS
@given(schedules(), st.data())
def test_expected_shortfall_and_variance_equal_simulated_moments(case, data):
    """E and V from the §3 formulas equal the mean and variance of the §2 shortfall."""
    problem, holdings = case
    field = np.asarray(data.draw(hnp.arrays(float, problem.steps, elements=st.floats(-1, 1))))
    coupling = data.draw(st.floats(-0.3, 0.3))
    drift_path = problem.drift + coupling * field
    mean, variance = simulated_moments(problem, holdings, drift_path)
    scale = problem.shares * problem.price
    planning_drift = problem.side * drift_path
    assert float(expected_shortfall(problem, holdings, planning_drift)) == pytest.approx(
        mean, rel=0, abs=1e-10 * scale)
    cost = schedule_cost(problem, holdings, ExtendedParameters(coupling=coupling), field)
    assert cost.expected_shortfall == pytest.approx(mean, rel=0, abs=1e-10 * scale)
    assert cost.variance == pytest.approx(variance, rel=1e-9, abs=1e-12 * scale**2)
    assert float(shortfall_variance(problem, holdings)) == pytest.approx(cost.variance, rel=1e-14)
    assert cost.utility == pytest.approx(cost.expected_shortfall
                                         + problem.risk_aversion * cost.variance, rel=1e-12)


@SETTINGS
@given(schedules(allow_buy=False), st.floats(0.0, 1e-4))
def test_self_alpha_shortfall_equals_simulated_mean(case, self_alpha):
    """With self_alpha (α_k gets -self_alpha·x_k), E equals the simulated mean shortfall."""
    problem, holdings = case
    drift_path = np.full(problem.steps, problem.drift)
    mean, _ = simulated_moments(problem, holdings, drift_path, self_alpha)
    scale = problem.shares * problem.price
    cost = schedule_cost(problem, holdings, ExtendedParameters(self_alpha=self_alpha))
    assert cost.expected_shortfall == pytest.approx(mean, rel=0, abs=1e-10 * scale)


@SETTINGS
@given(schedules(), st.floats(0.0, 1e-3), st.integers(1, 4))
def test_self_alpha_is_a_holdings_dependent_drift(case, self_alpha, episodes):
    """expected_shortfall(α, self_alpha) = expected_shortfall(α - self_alpha·x_k, 0) (batched)."""
    problem, holdings = case
    rng = np.random.default_rng(episodes)
    paths = holdings * rng.uniform(0.5, 1.5, size=(episodes, 1))
    paths[:, 0] = problem.shares
    drift = rng.uniform(-0.2, 0.2, size=problem.steps)
    with_self = expected_shortfall(problem, paths, drift, self_alpha)
    as_drift = expected_shortfall(problem, paths, drift - self_alpha * paths[:, 1:])
    assert with_self.shape == (episodes,)
    np.testing.assert_allclose(with_self, as_drift, rtol=1e-12,
                               atol=1e-12 * problem.shares * problem.price)


@SETTINGS
@given(hnp.arrays(float, st.tuples(st.integers(1, 4), st.integers(1, 30)),
                  elements=st.floats(-1e6, 1e6)),
       st.floats(-1e6, 1e6))
def test_trades_and_holdings_are_inverse(trades, shares):
    """holdings_from_trades ∘ trades_from_holdings = id and vice versa (batched, last axis)."""
    holdings = holdings_from_trades(shares, trades)
    assert holdings.shape == (trades.shape[0], trades.shape[1] + 1)
    assert np.all(holdings[:, 0] == shares)
    scale = 1e-9 * (abs(shares) + np.sum(np.abs(trades)) + 1.0)
    np.testing.assert_allclose(trades_from_holdings(holdings), trades, rtol=0, atol=scale)
    # the other way round, with a different start per episode
    starts = holdings[:, 0] + np.arange(trades.shape[0])
    rebuilt = holdings_from_trades(starts, trades_from_holdings(holdings))
    np.testing.assert_allclose(rebuilt - np.arange(trades.shape[0])[:, None], holdings,
                               rtol=0, atol=scale)
    # telescoping: the trades sum to x_0 - x_N
    np.testing.assert_allclose(trades_from_holdings(holdings).sum(axis=-1),
                               holdings[:, 0] - holdings[:, -1], rtol=0, atol=scale)


def test_spread_counts_every_share_traded_both_ways():
    """ε·Σ|n_k|: a round trip (sell 2X, buy back X) pays the spread on 3X shares."""
    problem = ExecutionProblem(steps=2, horizon=2.0, shares=100.0, half_spread=0.5,
                               temporary_impact=1e-3, permanent_impact=0.0)
    round_trip = expected_shortfall(problem, np.array([100.0, -100.0, 0.0]), 0.0)
    expected = 0.5 * 300.0 + 1e-3 / 1.0 * (200.0**2 + 100.0**2)
    assert float(round_trip) == pytest.approx(expected, rel=1e-14)
