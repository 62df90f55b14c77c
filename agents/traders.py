"""The Mesa agents: ensemble traders and the executing agent.

Each agent does one thing. An `EnsembleTrader` declares its type every step (`step`), sends its
order there in the order-flow market (MODEL §6), and revises its type when the model activates
it with a draw (`revise`); the `ExecutingAgent` decides how many shares to trade this step. The
model schedules them and owns the random draws (see simulator/randomness.py), so an agent only
interprets the numbers it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import mesa
import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation, checked_trades
from acsim.strategies import order_flow
from acsim.strategies.order_flow import OrderFlowParameters

MOMENTUM, MEAN_REVERSION, EXECUTING = "momentum", "mean-reversion", "executing"


@dataclass(frozen=True)
class MarketSignals:
    """What the ensemble sees before step k of the order-flow market (MODEL §6, item 2).

    trend_change: S_{k-1} - S_{k-1-L}.  mispricing: S_{k-1} - F_{k-1}.  trend_scale: σ√(Lτ).
    mispricing_scale: σ√τ.  momentum_shock: ζ_k, shared by the momentum agents.
    momentum_count: m_k.  parameters: the [order_flow] table.
    """

    trend_change: float
    mispricing: float
    trend_scale: float
    mispricing_scale: float
    momentum_shock: float
    momentum_count: int
    parameters: OrderFlowParameters


class EnsembleHost(Protocol):
    """What an ensemble trader needs from its model (acsim.simulator.model.ExecutionMarket)."""

    config: object
    signals: MarketSignals | None  # None in the field-drift market: nobody trades

    def switch_type(self, trader: EnsembleTrader) -> None: ...

    def other_trader(self, trader: EnsembleTrader, position: int) -> EnsembleTrader: ...


class EnsembleTrader(mesa.Agent):
    """A momentum (MOM) or mean-reversion (MR) trader of the ensemble (MODEL.md §4)."""

    model: EnsembleHost

    def __init__(self, model: mesa.Model, momentum: bool) -> None:
        super().__init__(model)
        self.momentum = momentum
        self.stance = 0
        self.order = 0.0

    @property
    def kind(self) -> str:
        return MOMENTUM if self.momentum else MEAN_REVERSION

    def step(self) -> None:
        """Declare this step's type: stance +1 (momentum) or -1 (mean reversion); the field is
        the model's aggregate of the stances (MODEL.md §2, item 1). In the order-flow market
        also send this step's order (shares, + buys; MODEL §6, item 3):
        momentum φ·tanh(β_m·R_k) + φ·ν·ζ_k/√m_k, mean reversion -ψ·tanh(β_r·Z_k)."""
        self.stance = 1 if self.momentum else -1
        signals = self.model.signals
        if signals is None:
            return
        flow = signals.parameters
        if self.momentum:
            self.order = order_flow.momentum_order(
                order_flow.response(signals.trend_change, signals.trend_scale,
                                    flow.momentum_sensitivity),
                flow.momentum_size, flow.momentum_noise, signals.momentum_shock,
                signals.momentum_count)
        else:
            self.order = order_flow.reversion_order(
                order_flow.response(signals.mispricing, signals.mispricing_scale,
                                    flow.reversion_sensitivity), flow.reversion_size)

    def revise(self, draw: float) -> None:
        """Kirman recruitment with one uniform draw in [0, 1).

        draw < a (own rate):         switch type on its own;
        a <= draw < a + b (herding): copy another agent, the one at position
                                     floor((draw - a)·(M - 1)/b) among the others;
        otherwise:                   keep its type.
        """
        rule = self.model.config.ensemble.rule
        own = rule.switch_to_mean_reversion if self.momentum else rule.switch_to_momentum
        if draw < own:
            self.model.switch_type(self)
        elif draw < own + rule.herding:
            scale = rule.partner_scale(self.model.config.ensemble.agents)
            partner = self.model.other_trader(self, int((draw - own) * scale))
            if partner.momentum != self.momentum:
                self.model.switch_type(self)


class ExecutingAgent(mesa.Agent):
    """The trader working the order: asks its policy for this step's trade."""

    kind = EXECUTING

    def __init__(self, model: mesa.Model, policy: ExecutionPolicy,
                 shares: float, side: int = 1) -> None:
        super().__init__(model)
        self.policy = policy
        self.holdings = shares
        self.side = side
        self.order = 0.0  # this step's order in the market's terms: -side·n_k (+ buys)
        self.past_trades: list[float] = []

    def decide(self, step: int, steps: int, price: float, field: float,
               momentum_count: int, regime: int = 0) -> float:
        """n_k from x_{k-1}, S_{k-1}, f_k, m_k, the regime s_k and k; the last step trades what
        is left."""
        if step == steps:
            trade = self.holdings
        else:
            observation = Observation(
                step=step, remaining_steps=steps - step + 1,
                holdings=np.array([self.holdings]), price=np.array([price]),
                field=np.array([field]), momentum_count=np.array([momentum_count]),
                past_trades=np.array([self.past_trades]),
                regime=np.array([regime], dtype=np.int64))
            trade = float(checked_trades(self.policy.trades(observation), 1, step)[0])
        self.past_trades.append(trade)
        self.order = -self.side * trade
        return trade
