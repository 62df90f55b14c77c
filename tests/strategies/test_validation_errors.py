"""Every invalid input is rejected with a named error that names the offending field.

Oracle: the allowed ranges stated in the docstrings of the parameter classes and
MODEL.md §3 (η̃ = η - γτ/2 > 0). Valid boundary values are accepted, so the checks are
neither missing nor too strict.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from acsim.strategies import (
    AcsimError,
    ExecutionProblem,
    ExtendedParameters,
    InfeasibleProblemError,
    ParameterError,
    closed_form_cost,
    extended_schedule,
    no_buyback_holdings,
    planning_inputs,
    vwap_holdings,
)
from acsim.strategies.costs import validate_holdings, validate_trades
from acsim.strategies.paper import PaperParameters, PaperQP

FLOAT_FIELDS = ["shares", "horizon", "price", "volatility", "half_spread", "temporary_impact",
                "permanent_impact", "risk_aversion", "drift"]


def test_parameter_error_is_a_value_error_and_an_acsim_error():
    assert issubclass(ParameterError, ValueError)
    assert issubclass(ParameterError, AcsimError)
    assert issubclass(InfeasibleProblemError, AcsimError)


@pytest.mark.parametrize("field,value", [
    ("shares", 0.0), ("shares", -1.0), ("horizon", 0.0), ("horizon", -5.0), ("price", 0.0),
    ("volatility", -0.1), ("temporary_impact", 0.0), ("temporary_impact", -1e-6),
    ("permanent_impact", -1e-12), ("half_spread", -0.01), ("risk_aversion", -1e-12),
])
def test_out_of_range_values_are_rejected(field, value):
    with pytest.raises(ParameterError, match=field):
        ExecutionProblem(**{field: value})


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(field, value):
    with pytest.raises(ParameterError, match=field):
        ExecutionProblem(**{field: value})


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", ["1", None, [1.0], True])
def test_non_numbers_are_rejected(field, value):
    with pytest.raises(ParameterError, match=field):
        ExecutionProblem(**{field: value})


@pytest.mark.parametrize("value", [3.0, True, False, 0, -2, "3", None, math.nan, 2.5])
def test_steps_must_be_a_positive_integer(value):
    with pytest.raises(ParameterError, match="steps"):
        ExecutionProblem(steps=value)


@pytest.mark.parametrize("value", ["long", "SHORT", 0, 2, -2, None, math.nan])
def test_side_must_be_sell_or_buy(value):
    with pytest.raises(ParameterError, match="side"):
        ExecutionProblem(side=value)


def test_valid_boundary_values_are_accepted():
    """Zeros where >= 0 is allowed, numpy integers for steps, both spellings of side."""
    problem = ExecutionProblem(volatility=0.0, half_spread=0.0, permanent_impact=0.0,
                               risk_aversion=0.0, drift=-1.0, steps=np.int64(7), horizon=7.0)
    assert problem.steps == 7 and type(problem.steps) is int
    assert ExecutionProblem(side="sell").side == 1 == ExecutionProblem(side=1).side
    assert ExecutionProblem(side="buy").side == -1 == ExecutionProblem(side=-1).side
    assert ExecutionProblem(steps=1, horizon=1.0).steps == 1


@pytest.mark.parametrize("permanent_impact", [2 * 2.5e-6, 4 * 2.5e-6, 1e-3])
def test_non_positive_effective_temporary_impact_is_rejected(permanent_impact):
    """η̃ = η - γτ/2 <= 0 (τ = 1; the first case is exactly 0): the message says what η̃ is
    and what to change, and following its advice (more steps) does make the problem valid."""
    with pytest.raises(ParameterError) as error:
        ExecutionProblem(temporary_impact=2.5e-6, permanent_impact=permanent_impact,
                         horizon=60.0, steps=60)
    message = str(error.value)
    assert "effective temporary impact" in message
    for advice in ("temporary_impact", "permanent_impact", "steps"):
        assert advice in message
    steps = 60 * math.ceil(2 * permanent_impact / 2.5e-6)
    fixed = ExecutionProblem(temporary_impact=2.5e-6, permanent_impact=permanent_impact,
                             horizon=60.0, steps=steps)
    assert fixed.effective_temporary_impact > 0.0


def test_with_changes_validates_and_rejects_unknown_fields():
    with pytest.raises(ParameterError, match="unknown"):
        ExecutionProblem().with_changes(quantity=5.0)
    with pytest.raises(ParameterError, match="shares"):
        ExecutionProblem().with_changes(shares=-1.0)


@pytest.mark.parametrize("kwargs,field", [
    ({"self_alpha": -1e-9}, "self_alpha"), ({"self_alpha": math.nan}, "self_alpha"),
    ({"self_alpha": math.inf}, "self_alpha"), ({"coupling": math.nan}, "coupling"),
    ({"coupling": -math.inf}, "coupling"), ({"coupling": "1"}, "coupling"),
])
def test_extended_parameters_are_validated(kwargs, field):
    with pytest.raises(ParameterError, match=field):
        ExtendedParameters(**kwargs)


@pytest.mark.parametrize("forecast", [
    np.zeros(59), np.zeros(61), np.zeros((2, 60)), np.r_[np.zeros(59), math.nan],
    np.r_[np.zeros(59), math.inf], math.nan, ["a"] * 60,
])
def test_bad_field_forecasts_are_rejected(forecast):
    extended = ExtendedParameters(coupling=1.0)
    with pytest.raises(ParameterError, match="field_forecast"):
        planning_inputs(ExecutionProblem(), extended, forecast)
    with pytest.raises(ParameterError, match="field_forecast"):
        extended_schedule(ExecutionProblem(), extended, forecast)


def test_forecast_length_follows_remaining_steps():
    """With steps = m the forecast must have m values (not N)."""
    planning_inputs(ExecutionProblem(), None, np.zeros(10), steps=10)
    with pytest.raises(ParameterError, match="field_forecast"):
        planning_inputs(ExecutionProblem(), None, np.zeros(60), steps=10)
    for bad in (0, 2.5, True):
        with pytest.raises(ParameterError, match="steps"):
            planning_inputs(ExecutionProblem(), None, None, steps=bad)


def test_no_buyback_from_negative_holdings_is_infeasible():
    inputs = planning_inputs(ExecutionProblem())
    with pytest.raises(InfeasibleProblemError, match="holdings"):
        no_buyback_holdings(inputs, -1.0)


@pytest.mark.parametrize("profile,pattern", [
    ([1.0, -0.5, 1.0], "non-negative"), ([0.0, 0.0, 0.0], "positive total"),
    ([1.0, 1.0], "3 values"), ([1.0, 1.0, 1.0, 1.0], "3 values"), ([1.0, math.nan, 1.0], "finite"),
    ([[1.0, 1.0, 1.0]], "one-dimensional"),
])
def test_bad_vwap_profiles_are_rejected(profile, pattern):
    problem = ExecutionProblem(steps=3, horizon=3.0)
    with pytest.raises(ParameterError, match="volume_profile") as error:
        vwap_holdings(problem, profile)
    assert pattern in str(error.value)


@pytest.mark.parametrize("kwargs,field", [
    ({"total_shares": 0.0}, "total_shares"), ({"total_shares": math.nan}, "total_shares"),
    ({"steps": 0}, "steps"), ({"steps": 2.0}, "steps"), ({"steps": True}, "steps"),
    ({"trade_cost": 0.0}, "trade_cost"), ({"trade_cost": -1.0}, "trade_cost"),
    ({"risk_aversion": -0.1}, "risk_aversion"), ({"variance": -1.0}, "variance"),
    ({"variance": math.inf}, "variance"), ({"penalty": 0.0}, "penalty"),
    ({"penalty": -5.0}, "penalty"), ({"penalty": math.nan}, "penalty"),
    ({"inventory": "executed"}, "inventory"),
])
def test_paper_parameters_are_validated(kwargs, field):
    with pytest.raises(ParameterError, match=field):
        PaperParameters(**kwargs)


def test_paper_linear_term_inputs_are_validated():
    solver = PaperQP(PaperParameters(steps=5))
    with pytest.raises(ParameterError, match="field"):
        solver.trades(0.0, 1.0, np.zeros(4))
    with pytest.raises(ParameterError, match="field"):
        solver.trades(0.0, 1.0, np.r_[np.zeros(4), math.nan])
    with pytest.raises(ParameterError, match="self_alpha"):
        solver.trades(np.zeros(4), 1.0, np.zeros(5))
    with pytest.raises(ParameterError, match="self_alpha"):
        solver.trades(math.inf, 1.0, np.zeros(5))
    with pytest.raises(ParameterError, match="coupling"):
        solver.trades(0.0, math.nan, np.zeros(5))


def test_schedule_validation_in_costs():
    """Holdings must start at X, end at 0 and have N + 1 finite values; trades must sum to X."""
    problem = ExecutionProblem(shares=100.0, steps=4, horizon=4.0)
    good = np.array([100.0, 75.0, 50.0, 25.0, 0.0])
    np.testing.assert_array_equal(validate_holdings(problem, good), good)
    np.testing.assert_allclose(validate_trades(problem, [25.0] * 4), good)
    with pytest.raises(ParameterError, match="start at shares"):
        validate_holdings(problem, [99.0, 75.0, 50.0, 25.0, 0.0])
    with pytest.raises(ParameterError, match="end at 0"):
        validate_holdings(problem, [100.0, 75.0, 50.0, 25.0, 1.0])
    with pytest.raises(ParameterError, match="holdings"):
        validate_holdings(problem, good[:-1])
    with pytest.raises(ParameterError, match="holdings"):
        validate_holdings(problem, [100.0, math.nan, 50.0, 25.0, 0.0])
    with pytest.raises(ParameterError, match="end at 0"):
        validate_trades(problem, [25.0, 25.0, 25.0, 20.0])
    with pytest.raises(ParameterError, match="trades"):
        validate_trades(problem, [25.0] * 5)


def test_closed_form_cost_refuses_drift():
    """The AC closed forms cover zero drift only; asking with drift is an error, not a lie."""
    with pytest.raises(ParameterError, match="drift"):
        closed_form_cost(ExecutionProblem(drift=0.01))
