"""Compiled order-flow kernels (numba), imported only when an order-flow market runs.

The scalar formulas of `acsim.strategies.order_flow` are compiled here from their own source,
so the vectorised engine, the market-only kernel and the Mesa agents (which call the Python
originals) perform the same floating-point operations with the same tanh (the C library's;
numpy's own vectorised tanh differs from it in the last bit for about a third of arguments).
The kernels are not cached on disk: numba's cache would not notice an edit of the formulas'
module, and the engines would then disagree; compiling takes under a second per process.
"""

from __future__ import annotations

import numba
import numpy as np

from acsim.strategies import order_flow

_response = numba.njit(order_flow.response)
_momentum_order = numba.njit(order_flow.momentum_order)
_reversion_order = numba.njit(order_flow.reversion_order)
_ensemble_flow = numba.njit(order_flow.ensemble_flow)
_efficient_step = numba.njit(order_flow.efficient_step)


@numba.njit
def step_flows(counts: np.ndarray, agents: int, trend_changes: np.ndarray,
               mispricings: np.ndarray, shocks: np.ndarray, trend_scale: float,
               mispricing_scale: float, momentum_size: float, reversion_size: float,
               momentum_sensitivity: float, reversion_sensitivity: float, momentum_noise: float,
               out: np.ndarray) -> None:
    """out[e] = Q_k of episode e from m_k, S_{k-1} - S_{k-1-L}, S_{k-1} - F_{k-1} and ζ_k."""
    for e in range(counts.shape[0]):
        momentum = _momentum_order(
            _response(trend_changes[e], trend_scale, momentum_sensitivity), momentum_size,
            momentum_noise, shocks[e], counts[e])
        reversion = _reversion_order(
            _response(mispricings[e], mispricing_scale, reversion_sensitivity), reversion_size)
        out[e] = _ensemble_flow(counts[e], agents, momentum, reversion)


@numba.njit
def market_path(counts: np.ndarray, noise: np.ndarray, momentum_shocks: np.ndarray,
                initial_price: float, agents: int, drift: float, step_length: float,
                volatility: float, permanent_impact: float, lookback: int, trend_scale: float,
                mispricing_scale: float, momentum_size: float, reversion_size: float,
                momentum_sensitivity: float, reversion_sensitivity: float,
                momentum_noise: float, prices: np.ndarray, efficient: np.ndarray,
                flows: np.ndarray) -> None:
    """The market with no order over T steps: prices S_0..S_T, efficient prices F_0..F_T and
    flows Q_1..Q_T from counts m_0..m_T, shocks ξ_1..ξ_T and ζ_1..ζ_T (MODEL §6).

    The price step is the price engine's (`acsim.simulator.market.PriceEngine.advance`) with no
    trade, operation for operation: S_k = ((S_{k-1} + α·τ) + (σ·√τ)·ξ_k) + γ·Q_k (the engine's
    own-trade move of a zero trade is ±0, which leaves every sum unchanged).
    """
    prices[0] = initial_price
    efficient[0] = initial_price
    root = np.sqrt(step_length)
    for k in range(1, noise.shape[0] + 1):
        previous = prices[k - 1]
        back = prices[k - 1 - lookback] if k - 1 - lookback >= 0 else prices[0]
        momentum = _momentum_order(
            _response(previous - back, trend_scale, momentum_sensitivity), momentum_size,
            momentum_noise, momentum_shocks[k - 1], counts[k])
        reversion = _reversion_order(
            _response(previous - efficient[k - 1], mispricing_scale, reversion_sensitivity),
            reversion_size)
        flow = _ensemble_flow(counts[k], agents, momentum, reversion)
        flows[k - 1] = flow
        prices[k] = (previous + drift * step_length + volatility * root * noise[k - 1]
                     + permanent_impact * flow)
        efficient[k] = _efficient_step(efficient[k - 1], drift, step_length, volatility,
                                       noise[k - 1])
