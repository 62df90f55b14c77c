"""The price engine (MODEL.md §2): fills, price moves and realised shortfall.

`PriceEngine` holds the market price of E episodes (a leading episodes axis: E = 1 in the Mesa
model, thousands in the vectorised engine) and the impact model's state; one call advances every
episode, with the same floating-point operations in both engines. `side` is +1 for a seller and
-1 for a buyer; trades n are in the order's direction.

Step k: the trade fills at `fill(n_k)` (the impact model's S̃_k), then
    S_k = S_{k-1} + α_k·τ + σ√τ·ξ_k + (the trade's own move, e.g. -side·γ·n_k),
(σ = σ_{s_k}, the volatility of step k's regime, when the market has regimes: MODEL §8)
    α_k = α_exo + coupling·f_k - side·self_alpha·x_k.
"""

from __future__ import annotations

import numpy as np

from acsim.strategies.impact import ImpactModel
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters


def price_drift(problem: ExecutionProblem, extended: ExtendedParameters, field: np.ndarray,
                holdings_after: np.ndarray) -> np.ndarray:
    """α_k = α_exo + coupling·f_k - side·self_alpha·x_k, price units per time unit."""
    return (problem.drift + extended.coupling * field
            - problem.side * extended.self_alpha * holdings_after)


class PriceEngine:
    """The market price and the impact state of E episodes (see the module docstring)."""

    def __init__(self, problem: ExecutionProblem, extended: ExtendedParameters,
                 impact: ImpactModel, episodes: int) -> None:
        self.problem = problem
        self.extended = extended
        self.impact = impact
        self.price = np.full(episodes, problem.price)
        self.impact_state = impact.initial_state(problem, episodes)

    def fill(self, trade: np.ndarray) -> np.ndarray:
        """S̃_k: the price trade n_k fills at (from S_{k-1} and the impact state)."""
        return self.impact.fill_price(self.problem, self.price, trade, self.impact_state)

    def advance(self, trade: np.ndarray, holdings_after: np.ndarray, field: np.ndarray,
                shock: np.ndarray, flow_move: np.ndarray | None = None,
                volatility: np.ndarray | None = None) -> np.ndarray:
        """S_k from S_{k-1}: drift, noise and the trade's own move; returns the new price.

        flow_move: the order-flow market's γ·Q_k (MODEL §6), added last; None in the
        field-drift market. volatility: σ of step k per episode (E,) when the market has
        volatility regimes (MODEL §8: σ_{s_k}); None: the market's σ.
        """
        problem, tau = self.problem, self.problem.step_length
        sigma = problem.volatility if volatility is None else volatility
        move, self.impact_state = self.impact.price_move(problem, trade, self.impact_state)
        self.price = (self.price
                      + price_drift(problem, self.extended, field, holdings_after) * tau
                      + sigma * np.sqrt(tau) * shock + move)
        if flow_move is not None:
            self.price = self.price + flow_move
        return self.price


def implementation_shortfall(problem: ExecutionProblem, trades: np.ndarray,
                             fills: np.ndarray, arrival: np.ndarray | float | None = None
                             ) -> np.ndarray:
    """IS = side·(X·S_0 - Σ n_k·S̃_k), currency (positive is a cost); last axis is steps.

    arrival: S_0 per episode (default the configured price; the order-flow market's S_0 is the
    price after its warm-up).
    """
    arrival = problem.price if arrival is None else arrival
    return problem.side * (problem.shares * arrival - np.sum(trades * fills, axis=-1))


def shortfall_bps(problem: ExecutionProblem, shortfall: np.ndarray,
                  arrival: np.ndarray | float | None = None) -> np.ndarray:
    """IS in basis points of arrival notional: 1e4·IS/(X·S_0)."""
    arrival = problem.price if arrival is None else arrival
    return 1e4 * shortfall / (problem.shares * arrival)
