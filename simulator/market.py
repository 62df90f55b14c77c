"""The price engine (MODEL.md §2): fills, price moves and realised shortfall.

Pure functions on arrays with a leading episodes axis (scalars work too), shared by the
Mesa model and the vectorised engine. `side` is +1 for a seller and -1 for a buyer;
trades n are in the order's direction (n > 0 sells for a seller, buys for a buyer).
"""

from __future__ import annotations

import numpy as np

from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters


def fill_price(problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray) -> np.ndarray:
    """S̃_k = S_{k-1} - side·(ε·sgn(n_k) + (η/τ)·n_k): the price trade k fills at."""
    return price - problem.side * (problem.half_spread * np.sign(trade)
                                   + problem.temporary_impact / problem.step_length * trade)


def price_drift(problem: ExecutionProblem, extended: ExtendedParameters, field: np.ndarray,
                holdings_after: np.ndarray) -> np.ndarray:
    """α_k = α_exo + coupling·f_k - side·self_alpha·x_k, price units per time unit."""
    return (problem.drift + extended.coupling * field
            - problem.side * extended.self_alpha * holdings_after)


def next_price(problem: ExecutionProblem, extended: ExtendedParameters, price: np.ndarray,
               trade: np.ndarray, holdings_after: np.ndarray, field: np.ndarray,
               shock: np.ndarray) -> np.ndarray:
    """S_k = S_{k-1} + α_k·τ + σ√τ·ξ_k - side·γ·n_k."""
    tau = problem.step_length
    return (price + price_drift(problem, extended, field, holdings_after) * tau
            + problem.volatility * np.sqrt(tau) * shock
            - problem.side * problem.permanent_impact * trade)


def implementation_shortfall(problem: ExecutionProblem, trades: np.ndarray,
                             fills: np.ndarray) -> np.ndarray:
    """IS = side·(X·S_0 - Σ n_k·S̃_k), currency (positive is a cost); last axis is steps."""
    return problem.side * (problem.shares * problem.price - np.sum(trades * fills, axis=-1))


def shortfall_bps(problem: ExecutionProblem, shortfall: np.ndarray) -> np.ndarray:
    """IS in basis points of arrival notional: 1e4·IS/(X·S_0)."""
    return 1e4 * shortfall / (problem.shares * problem.price)
