"""The bounds behind the float-range checks hold (else an overflow could slip past them).

ExecutionProblem.holdings_bound(a) = X + a·T²/(16η̃) bounds |x_k| of the linear planner's
optimum for any planning drifts |a_k| <= a and any urgency >= 0: the drift's part solves the
tridiagonal system whose inverse is non-negative and shrinks as the urgency grows, so it is at
most the zero-urgency parabola a·t(T-t)/(4η̃) <= a·T²/(16η̃). Checked on random problems, with
and without no-buy-back, against the exact planner.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from acsim.strategies.extended import no_buyback_holdings, optimal_holdings
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, planning_inputs


@settings(deadline=None, max_examples=60, derandomize=True, database=None)
@given(st.integers(1, 40), st.floats(0.1, 100.0), st.floats(0.0, 2.0), st.floats(0.0, 1e-2),
       st.floats(0.0, 1e-3), st.floats(-5.0, 5.0), st.sampled_from([1, -1]), st.data())
def test_holdings_never_exceed_the_bound(steps, horizon, volatility, risk_aversion, self_alpha,
                                         coupling, side, data):
    problem = ExecutionProblem(shares=1000.0, horizon=horizon, steps=steps, price=100.0,
                               volatility=volatility, temporary_impact=0.05,
                               permanent_impact=0.0, risk_aversion=risk_aversion,
                               drift=data.draw(st.floats(-1.0, 1.0)), side=side)
    field = data.draw(hnp.arrays(float, steps, elements=st.floats(-3.0, 3.0)))
    inputs = planning_inputs(problem, ExtendedParameters(coupling, self_alpha), field)
    bound = problem.holdings_bound(float(np.max(np.abs(inputs.drift))))
    for path in (optimal_holdings(inputs, problem.shares),
                 no_buyback_holdings(inputs, problem.shares)):
        assert np.max(np.abs(path)) <= bound * (1.0 + 1e-9)


def test_the_bound_is_reached_at_zero_urgency():
    """With λσ² = self_alpha = 0 and a constant drift the holdings' drift part is the parabola
    itself: an even number of steps puts a step at T/2, where the bound is attained exactly
    (the discrete solution is the parabola a·t(T-t)/(4η̃) at the grid points)."""
    problem = ExecutionProblem(shares=1.0, horizon=10.0, steps=10, price=100.0, volatility=0.0,
                               temporary_impact=0.05, permanent_impact=0.0, risk_aversion=0.0,
                               drift=0.2)
    inputs = planning_inputs(problem)
    path = optimal_holdings(inputs, 0.0)  # the drift's part alone
    assert problem.holdings_bound(0.2) - 1.0 == 0.2 * 10.0**2 / (16 * 0.05)  # 25 shares
    assert np.max(path) == pytest.approx(25.0, rel=1e-12)
