"""The order-flow market's state in the engines (MODEL.md §6): what the ensemble's orders need.

`OrderFlowState` keeps, for E episodes (a leading episodes axis, E = 1 in the Mesa model), the
market prices and efficient prices of every step so far, warm-up included, and the flows. Both
engines drive it the same way around the price engine (`acsim.simulator.market.PriceEngine`):

    flow = state.flow(counts_k, shocks_k)              # Q_k from S_{k-1}, S_{k-1-L}, F_{k-1}
    price = engine.advance(..., shock, state.price_move(flow))   # S_k: + γ·Q_k
    state.record(price, shock)                         # S_k and F_k = F_{k-1} + α·τ + σ√τ·ξ_k

Steps are stored by market step j = 1..W+N (order step k = j - W); j = 0 is the configured
initial price (S_{-W} = F_{-W}), which also stands in for prices before it in the trend. The
Mesa model's agents compute their own orders from `trend_change()` and `mispricing()`, with the
same formulas (`acsim.strategies.order_flow`) as the vectorised engine's compiled flow.
"""

from __future__ import annotations

import numpy as np

from acsim.simulator.config import SimulationConfig
from acsim.simulator.results import MarketPaths
from acsim.strategies import order_flow


class OrderFlowState:
    """Prices, efficient prices and flows of E episodes of the order-flow market so far."""

    def __init__(self, config: SimulationConfig, episodes: int) -> None:
        problem = config.market
        self.problem = problem
        self.parameters = config.order_flow
        self.agents = config.ensemble.agents
        self.warmup = config.warmup
        steps = config.market_steps
        tau = problem.step_length
        self.trend_scale = order_flow.trend_scale(problem.volatility, tau,
                                                  self.parameters.lookback)
        self.mispricing_scale = order_flow.mispricing_scale(problem.volatility, tau)
        self.prices = np.empty((episodes, steps + 1))
        self.efficient_prices = np.empty((episodes, steps + 1))
        self.flows = np.empty((episodes, steps))
        self.prices[:, 0] = problem.price
        self.efficient_prices[:, 0] = problem.price
        self.completed = 0  # market steps done

    def trend_change(self) -> np.ndarray:
        """S_{k-1} - S_{k-1-L} before the next step (the initial price before the first)."""
        j = self.completed
        return self.prices[:, j] - self.prices[:, max(j - self.parameters.lookback, 0)]

    def mispricing(self) -> np.ndarray:
        """S_{k-1} - F_{k-1} before the next step."""
        j = self.completed
        return self.prices[:, j] - self.efficient_prices[:, j]

    def flow(self, counts: np.ndarray, shocks: np.ndarray) -> np.ndarray:
        """Q_k of the next step, shares (+ buys), from m_k and ζ_k (compiled kernel)."""
        from acsim.strategies.order_flow_kernels import step_flows

        parameters = self.parameters
        out = np.empty(counts.shape[0])
        step_flows(np.ascontiguousarray(counts, dtype=np.int64), self.agents,
                   self.trend_change(), self.mispricing(), np.ascontiguousarray(shocks),
                   self.trend_scale, self.mispricing_scale, parameters.momentum_size,
                   parameters.reversion_size, parameters.momentum_sensitivity,
                   parameters.reversion_sensitivity, parameters.momentum_noise, out)
        return out

    def price_move(self, flow: np.ndarray) -> np.ndarray:
        """γ·Q_k: the flow's move of the market price."""
        return self.problem.permanent_impact * flow

    def record(self, flow: np.ndarray, price: np.ndarray, shock: np.ndarray) -> None:
        """Store Q_k and S_k, and move the efficient price: F_k = F_{k-1} + α·τ + σ√τ·ξ_k."""
        j = self.completed + 1
        problem = self.problem
        self.flows[:, j - 1] = flow
        self.prices[:, j] = price
        self.efficient_prices[:, j] = order_flow.efficient_step(
            self.efficient_prices[:, j - 1], problem.drift, problem.step_length,
            problem.volatility, shock)
        self.completed = j

    def paths(self, counts: np.ndarray) -> MarketPaths:
        """The whole market path (warm-up included) with the counts m_{-W}..m_N."""
        return MarketPaths(
            warmup=self.warmup, prices=self.prices, efficient_prices=self.efficient_prices,
            flows=self.flows, fields=order_flow.flow_field(
                self.flows, self.problem.permanent_impact, self.problem.step_length),
            momentum_counts=np.asarray(counts, dtype=np.int64))
