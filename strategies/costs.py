"""Expected shortfall, variance and utility of a deterministic schedule (MODEL.md §3).

One place for the cost formulas: the optimisers, the CLI and the tests all evaluate a
schedule here.

    E = ½γX² + ε·Σ|n_k| + (η̃/τ)·Σ n_k² - τ·Σ α̂_k·x_k          (currency)
    V = σ²·τ·Σ x_k²                                             (currency²)
    U = E + λ·V

with holdings x_0 = X .. x_N = 0, trades n_k = x_{k-1} - x_k, all sums over k = 1..N,
and α̂_k the expected price drift in step k in sell-equivalent units. In the extended
model α̂_k = α_exo + coupling·f̂_k - self_alpha·x_k, whose last term adds
self_alpha·τ·Σ x_k² to E.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, planning_inputs


def trades_from_holdings(holdings: np.ndarray) -> np.ndarray:
    """n_k = x_{k-1} - x_k along the last axis (N+1 holdings give N trades)."""
    holdings = np.asarray(holdings, dtype=float)
    return holdings[..., :-1] - holdings[..., 1:]


def holdings_from_trades(shares: float, trades: np.ndarray) -> np.ndarray:
    """x_0 = shares, x_k = shares - Σ_{i<=k} n_i along the last axis."""
    trades = np.asarray(trades, dtype=float)
    start = np.broadcast_to(np.asarray(shares, dtype=float)[..., None], trades.shape[:-1] + (1,))
    return np.concatenate([start, start - np.cumsum(trades, axis=-1)], axis=-1)


def validate_holdings(problem: ExecutionProblem, holdings: object) -> np.ndarray:
    """Check that a schedule starts at X, ends at 0 and has N steps."""
    path = validation.finite_vector("holdings", holdings, problem.steps + 1)
    scale = max(problem.shares, 1.0)
    if abs(path[0] - problem.shares) > 1e-9 * scale:
        raise ParameterError(f"holdings must start at shares = {problem.shares!r}, "
                             f"got {float(path[0])!r}")
    if abs(path[-1]) > 1e-9 * scale:
        raise ParameterError("holdings must end at 0 (all shares executed), "
                             f"got {float(path[-1])!r}")
    return path


def validate_trades(problem: ExecutionProblem, trades: object) -> np.ndarray:
    """Check that trades have N values summing to X; return the holdings path."""
    values = validation.finite_vector("trades", trades, problem.steps)
    total = sum(abs(float(value)) for value in values)  # Python floats: inf, not a warning
    validation.within_float_range([("Σ|n_k|, the trades' total (the holdings are X minus "
                                    "their running sums)", total, "the trades")])
    return validate_holdings(problem, holdings_from_trades(problem.shares, values))


def expected_shortfall(
    problem: ExecutionProblem,
    holdings: np.ndarray,
    drift: float | np.ndarray | None = None,
    self_alpha: float = 0.0,
) -> np.ndarray:
    """E of the schedule(s) `holdings` (last axis N+1), in currency.

    drift: α̂_k per step in sell-equivalent units (scalar or N values); default side·α.
    self_alpha: adds the self-impact term self_alpha·τ·Σ x_k².
    """
    holdings = np.asarray(holdings, dtype=float)
    tau = problem.step_length
    drift = problem.planning_drift if drift is None else np.asarray(drift, dtype=float)
    trades = trades_from_holdings(holdings)
    carried = holdings[..., 1:]
    return (
        0.5 * problem.permanent_impact * holdings[..., 0] ** 2
        + problem.half_spread * np.sum(np.abs(trades), axis=-1)
        + problem.effective_temporary_impact / tau * np.sum(trades**2, axis=-1)
        - tau * np.sum(drift * carried, axis=-1)
        + self_alpha * tau * np.sum(carried**2, axis=-1)
    )


def shortfall_variance(problem: ExecutionProblem, holdings: np.ndarray) -> np.ndarray:
    """V = σ²τ·Σ_{k=1}^{N} x_k², in currency²."""
    holdings = np.asarray(holdings, dtype=float)
    return problem.volatility**2 * problem.step_length * np.sum(holdings[..., 1:] ** 2, axis=-1)


@dataclass(frozen=True)
class ScheduleCost:
    """E, V and U = E + λV of one schedule."""

    expected_shortfall: float
    variance: float
    utility: float


def schedule_cost(
    problem: ExecutionProblem,
    holdings: np.ndarray,
    extended: ExtendedParameters | None = None,
    field_forecast: float | np.ndarray | None = None,
) -> ScheduleCost:
    """E, V, U of a schedule under the planning model (classical AC when `extended` is None).

    field_forecast: f̂_k for k = 1..N (scalar or N values); its drift is coupling·f̂_k.
    """
    extended = extended or ExtendedParameters()
    drift = planning_inputs(problem, extended, field_forecast).drift
    expected = float(expected_shortfall(problem, holdings, drift, extended.self_alpha))
    variance = float(shortfall_variance(problem, holdings))
    return ScheduleCost(expected, variance, expected + problem.risk_aversion * variance)
