"""Benchmark schedules: TWAP, VWAP and the immediate block trade.

Each returns holdings x_0..x_N (N+1 values, x_0 = X, x_N = 0) for a problem.
"""

from __future__ import annotations

import numpy as np

from acsim.strategies import validation
from acsim.strategies.costs import holdings_from_trades
from acsim.strategies.errors import ParameterError
from acsim.strategies.parameters import ExecutionProblem


def twap_holdings(problem: ExecutionProblem) -> np.ndarray:
    """Equal trades X/N in every step."""
    return problem.shares * (1.0 - np.arange(problem.steps + 1) / problem.steps)


def vwap_holdings(problem: ExecutionProblem, volume_profile: object) -> np.ndarray:
    """Trades proportional to an expected volume profile (N non-negative weights)."""
    profile = validation.finite_vector("volume_profile", volume_profile, problem.steps)
    if np.any(profile < 0.0):
        raise ParameterError("volume_profile must be non-negative in every step")
    total = profile.sum()
    if total <= 0.0:
        raise ParameterError("volume_profile must have a positive total")
    path = holdings_from_trades(problem.shares, problem.shares * profile / total)
    path[-1] = 0.0
    return path


def immediate_holdings(problem: ExecutionProblem) -> np.ndarray:
    """The whole order in the first step (the block trade)."""
    path = np.zeros(problem.steps + 1)
    path[0] = problem.shares
    return path
