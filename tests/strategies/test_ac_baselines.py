"""Benchmark schedules: TWAP, VWAP, immediate block trade.

Oracles: their definitions (equal trades, trades proportional to the profile, one trade of
X), scale invariance of the VWAP profile, and the block-trade closed-form cost.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acsim.strategies import (
    ExecutionProblem,
    immediate_holdings,
    schedule_cost,
    trades_from_holdings,
    twap_holdings,
    vwap_holdings,
)

SETTINGS = settings(deadline=None, max_examples=40, derandomize=True, database=None)


@pytest.mark.parametrize("steps", [1, 2, 7, 60])
def test_twap_has_equal_trades(steps):
    """TWAP: N trades of exactly X/N, x_0 = X, x_N = 0."""
    problem = ExecutionProblem(shares=123_456.0, steps=steps, horizon=float(steps))
    holdings = twap_holdings(problem)
    assert holdings.shape == (steps + 1,)
    assert holdings[0] == 123_456.0 and holdings[-1] == 0.0
    np.testing.assert_allclose(trades_from_holdings(holdings), 123_456.0 / steps, rtol=1e-13)


@SETTINGS
@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=50).filter(lambda w: sum(w) > 1e-3),
       st.floats(1e-3, 1e3))
def test_vwap_trades_are_proportional_to_profile(profile, factor):
    """VWAP: n_k = X·w_k/Σw; multiplying the profile by a constant changes nothing."""
    problem = ExecutionProblem(shares=2.5e5, steps=len(profile), horizon=float(len(profile)))
    holdings = vwap_holdings(problem, profile)
    weights = np.asarray(profile) / np.sum(profile)
    assert holdings[0] == 2.5e5 and holdings[-1] == 0.0
    np.testing.assert_allclose(trades_from_holdings(holdings), 2.5e5 * weights, rtol=0,
                               atol=1e-9 * 2.5e5)
    scaled = vwap_holdings(problem, [w * factor for w in profile])
    np.testing.assert_allclose(scaled, holdings, rtol=0, atol=1e-9 * 2.5e5)


def test_vwap_details():
    """Uniform profile = TWAP; zero-volume steps get no trade; a one-hot profile is a block."""
    problem = ExecutionProblem(steps=5, horizon=5.0)
    np.testing.assert_allclose(vwap_holdings(problem, [3.0] * 5), twap_holdings(problem),
                               rtol=0, atol=1e-9)
    trades = trades_from_holdings(vwap_holdings(problem, [1.0, 0.0, 2.0, 0.0, 1.0]))
    np.testing.assert_allclose(trades, [2.5e5, 0.0, 5e5, 0.0, 2.5e5], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(vwap_holdings(problem, [7.0, 0, 0, 0, 0]),
                                  immediate_holdings(problem))


@pytest.mark.parametrize("steps", [1, 3, 60])
def test_immediate_is_one_block(steps):
    """Immediate: [X, 0, ..., 0]; E = ½γX² + εX + η̃X²/τ, V = 0."""
    problem = ExecutionProblem(steps=steps, horizon=2.0 * steps)
    holdings = immediate_holdings(problem)
    expected_path = np.zeros(steps + 1)
    expected_path[0] = 1e6
    np.testing.assert_array_equal(holdings, expected_path)
    cost = schedule_cost(problem, holdings)
    tau = 2.0
    eta_tilde = 2.5e-6 - 2.5e-7 * tau / 2.0
    assert cost.expected_shortfall == pytest.approx(
        0.5 * 2.5e-7 * 1e12 + 0.0625 * 1e6 + eta_tilde * 1e12 / tau, rel=1e-13)
    assert cost.variance == 0.0


def test_baselines_for_a_buy_order_are_the_same_holdings():
    """Baselines do not depend on side: the holdings path of a buy is that of a sell."""
    sell, buy = ExecutionProblem(side="sell"), ExecutionProblem(side="buy")
    np.testing.assert_array_equal(twap_holdings(sell), twap_holdings(buy))
    np.testing.assert_array_equal(immediate_holdings(sell), immediate_holdings(buy))
