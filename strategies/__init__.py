"""Pure mathematics of optimal execution: Almgren-Chriss, its extension, baselines.

Nothing here holds simulation state. See MODEL.md (§3) for the formulas.
"""

from acsim.strategies.almgren_chriss import (
    ACSchedule,
    Frontier,
    closed_form_cost,
    continuous_kappa,
    continuous_schedule,
    efficient_frontier,
    half_life,
    kappa,
    optimal_schedule,
)
from acsim.strategies.baselines import immediate_holdings, twap_holdings, vwap_holdings
from acsim.strategies.costs import (
    ScheduleCost,
    expected_shortfall,
    holdings_from_trades,
    schedule_cost,
    shortfall_variance,
    trades_from_holdings,
)
from acsim.strategies.errors import AcsimError, InfeasibleProblemError, ParameterError, SolverError
from acsim.strategies.extended import LinearGains, extended_schedule, no_buyback_holdings
from acsim.strategies.extended import optimal_holdings as extended_holdings
from acsim.strategies.parameters import (
    BUY,
    SELL,
    ExecutionProblem,
    ExtendedParameters,
    PlanningInputs,
    planning_inputs,
)

__all__ = [
    "ACSchedule", "AcsimError", "BUY", "ExecutionProblem", "ExtendedParameters", "Frontier",
    "InfeasibleProblemError", "LinearGains", "ParameterError", "PlanningInputs", "SELL",
    "ScheduleCost", "SolverError", "closed_form_cost", "continuous_kappa", "continuous_schedule",
    "efficient_frontier", "expected_shortfall", "extended_holdings", "extended_schedule",
    "half_life",
    "holdings_from_trades", "immediate_holdings", "kappa", "no_buyback_holdings",
    "optimal_schedule", "planning_inputs", "schedule_cost", "shortfall_variance",
    "trades_from_holdings", "twap_holdings", "vwap_holdings",
]
