"""Published Almgren-Chriss reference numbers (MODEL.md §3a).

Oracle: the numbers printed in MODEL.md for the syntheticChrissAlmgren defaults
(X = 1e6, S0 = 50, σ² = 0.144/day, ε = 0.0625, η = 2.5e-6, γ = 2.5e-7, T = N = 60 days,
λ = 1e-6). They are literals from the public reference, not outputs of this code, and
are checked to the precision they are published with.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from acsim.strategies import ExecutionProblem, closed_form_cost, kappa, optimal_schedule

PUBLISHED_KAPPA = 0.245617  # per day, 6 decimals
PUBLISHED_EXPECTED = 477_712.60  # dollars, to the cent
PUBLISHED_STD = 476_456.32  # dollars, to the cent
PUBLISHED_FIRST_TRADES = (217_778, 170_351, 133_252)  # whole shares


@pytest.fixture(scope="module")
def reference_problem():
    problem = ExecutionProblem(
        shares=1e6, price=50.0, volatility=math.sqrt(0.144), half_spread=0.0625,
        temporary_impact=2.5e-6, permanent_impact=2.5e-7, horizon=60.0, steps=60,
        risk_aversion=1e-6,
    )
    return problem


def test_defaults_are_the_reference_parameters(reference_problem):
    """The ExecutionProblem defaults are the syntheticChrissAlmgren parameters."""
    assert ExecutionProblem() == reference_problem


def test_published_kappa(reference_problem):
    """κ = 0.245617/day, published to 6 decimals."""
    assert kappa(reference_problem) == pytest.approx(PUBLISHED_KAPPA, abs=5e-7)
    assert optimal_schedule(reference_problem).kappa == pytest.approx(PUBLISHED_KAPPA, abs=5e-7)


def test_published_expected_shortfall(reference_problem):
    """E = $477,712.60, to the cent (half a cent tolerance), by summation and closed form."""
    schedule = optimal_schedule(reference_problem)
    assert abs(schedule.cost.expected_shortfall - PUBLISHED_EXPECTED) <= 0.005
    assert abs(closed_form_cost(reference_problem).expected_shortfall
               - PUBLISHED_EXPECTED) <= 0.005


def test_published_standard_deviation(reference_problem):
    """√V = $476,456.32, to the cent (half a cent tolerance), by summation and closed form."""
    schedule = optimal_schedule(reference_problem)
    assert abs(math.sqrt(schedule.cost.variance) - PUBLISHED_STD) <= 0.005
    assert abs(math.sqrt(closed_form_cost(reference_problem).variance) - PUBLISHED_STD) <= 0.005


def test_published_utility_is_e_plus_lambda_v(reference_problem):
    """U = E + λV with the published E and √V (λ = 1e-6), to about a cent."""
    cost = optimal_schedule(reference_problem).cost
    published_utility = PUBLISHED_EXPECTED + 1e-6 * PUBLISHED_STD**2
    assert cost.utility == pytest.approx(published_utility, abs=0.01)


def test_published_first_trades(reference_problem):
    """The first three trades round to 217,778 / 170,351 / 133,252 shares."""
    trades = optimal_schedule(reference_problem).trades
    assert tuple(int(v) for v in np.rint(trades[:3])) == PUBLISHED_FIRST_TRADES
