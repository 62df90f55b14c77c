"""The order-flow market's formulas (MODEL.md §6): signals, the agents' orders, the ensemble flow.

In the order-flow market the ensemble trades. Before step k every agent sees the prices up to
S_{k-1} (mean-reversion agents also the efficient price F_{k-1}) and sends an order in shares
(+ buys, - sells):

    trend       R_k = (S_{k-1} - S_{k-1-L}) / (σ·√(L·τ)),
    mispricing  Z_k = (S_{k-1} - F_{k-1}) / (σ·√τ),
    a momentum agent        φ·tanh(β_m·R_k) + φ·ν·ζ_k/√m_k,
    a mean-reversion agent  -ψ·tanh(β_r·Z_k),
    the ensemble flow       Q_k = m_k·(momentum order) + (M - m_k)·(mean-reversion order),

summed by type (the same floating-point operations in every engine). The flow moves the market
price by γ·Q_k (the same permanent impact γ as any order: the market does not know whose order
it is); the efficient price F follows the exogenous drift and noise alone. The field reported
for step k is f_k = γ·Q_k/τ (price units per time unit).

The formulas are plain scalar Python (`math`): the Mesa agents call them as they are, and the
compiled kernels (`acsim.strategies.order_flow_kernels`) compile this very source with numba, so
every engine computes the flow with the same operations and the same tanh (the C library's).
With σ = 0 the signals' scale is 0 and tanh(β·x/scale) is replaced by its limit sgn(β·x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acsim.strategies.declarations import (
    NON_NEGATIVE,
    check_parameters,
    integer,
    parameter,
)
from acsim.strategies.errors import ParameterError

FIELD_DRIFT, ORDER_FLOW = "field-drift", "order-flow"
FEEDBACKS = (FIELD_DRIFT, ORDER_FLOW)


@dataclass(frozen=True)
class OrderFlowParameters:
    """The ensemble's orders in the order-flow market (MODEL.md §6); used only when
    [market] feedback = "order-flow".

    The defaults are scaled to the default market (σ = 0.1 per √step, γ = 1e-4, τ = 1, M = 100):
    the momentum noise moves the price by about γ·φ·ν·√m = 0.03·√m per step against σ = 0.1,
    and the mean-reversion agents close a fraction γ·ψ·β_r·(M - m)/(σ√τ) = 0.01·(M - m) of a
    small mispricing per step (all of it when m = 0: no overshoot). Only these dimensionless
    ratios matter for the stylized facts (README).
    """

    momentum_size: float = parameter(
        10.0, unit="shares per agent per step", allowed=NON_NEGATIVE,
        help="φ: a momentum agent's order is φ·tanh(β_m·R_k) plus its share of the noise")
    reversion_size: float = parameter(
        10.0, unit="shares per agent per step", allowed=NON_NEGATIVE,
        help="ψ: a mean-reversion agent's order is -ψ·tanh(β_r·Z_k)")
    lookback: int = parameter(5, unit="steps", allowed=integer(1),
                              help="L: the trend R_k compares S_{k-1} with S_{k-1-L}")
    momentum_sensitivity: float = parameter(
        0.0, unit="dimensionless", allowed=NON_NEGATIVE,
        help="β_m: how strongly momentum agents follow the trend R_k (σ-normalised); 0: they "
             "trade noise only (the default, see README: trend-following raises the kurtosis "
             "of aggregated returns)")
    reversion_sensitivity: float = parameter(
        1.0, unit="dimensionless", allowed=NON_NEGATIVE,
        help="β_r: how strongly mean-reversion agents trade against the mispricing Z_k")
    momentum_noise: float = parameter(
        30.0, unit="dimensionless", allowed=NON_NEGATIVE,
        help="ν: momentum agents' idiosyncratic orders add φ·ν·√m_k·ζ_k to the flow")
    warmup: int = parameter(
        50, unit="steps", allowed=integer(1),
        help="W >= L: steps the market runs before the order starts (numbered 1-W..0)")

    def __post_init__(self) -> None:
        check_parameters(self)
        if self.warmup < self.lookback:
            raise ParameterError(f"warmup must be >= lookback = {self.lookback} (the trend at "
                                 f"the order's start looks back over market steps), got "
                                 f"{self.warmup}")


# ---------------------------------------------------------------------------------------------
# Scalar formulas (plain Python: called by the Mesa agents, compiled for the other engines)


def trend_scale(volatility: float, step_length: float, lookback: int) -> float:
    """σ·√(L·τ), the price change of L steps that makes R_k = 1 (price units)."""
    return volatility * math.sqrt(lookback * step_length)


def mispricing_scale(volatility: float, step_length: float) -> float:
    """σ·√τ, the mispricing that makes Z_k = 1 (price units)."""
    return volatility * math.sqrt(step_length)


def response(difference: float, scale: float, sensitivity: float) -> float:
    """tanh(β·x) of a normalised signal x = difference/scale (R_k or Z_k); with scale = 0
    (σ = 0) the limit sgn(β·difference)."""
    if scale > 0.0:
        return math.tanh(sensitivity * (difference / scale))
    product = sensitivity * difference
    return 1.0 if product > 0.0 else (-1.0 if product < 0.0 else 0.0)


def momentum_order(trend_response: float, size: float, noise: float, shock: float,
                   count: int) -> float:
    """One momentum agent's order, shares: φ·tanh(β_m·R_k) + φ·ν·ζ_k/√m_k.

    With no momentum agent (m_k = 0) nobody sends it; √1 stands in so the value stays finite
    and m_k·order = 0.
    """
    return size * trend_response + size * noise * shock / math.sqrt(max(count, 1))


def reversion_order(mispricing_response: float, size: float) -> float:
    """One mean-reversion agent's order, shares: -ψ·tanh(β_r·Z_k)."""
    return -size * mispricing_response


def ensemble_flow(count: int, agents: int, momentum: float, reversion: float) -> float:
    """Q_k = m_k·(momentum order) + (M - m_k)·(mean-reversion order), shares (+ buys)."""
    return count * momentum + (agents - count) * reversion


def efficient_step(efficient: float | np.ndarray, drift: float, step_length: float,
                   volatility: float, shock: float | np.ndarray) -> float | np.ndarray:
    """F_k = F_{k-1} + α·τ + σ√τ·ξ_k (scalars or arrays of episodes)."""
    return efficient + drift * step_length + volatility * math.sqrt(step_length) * shock


def flow_field(flow: float | np.ndarray, permanent_impact: float,
               step_length: float) -> float | np.ndarray:
    """f_k = γ·Q_k/τ, the flow's price move per time unit (scalars or arrays)."""
    return permanent_impact * flow / step_length
