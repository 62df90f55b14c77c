"""The Mesa agents: ensemble traders and the executing agent.

Each agent does one thing. An `EnsembleTrader` revises its type (momentum or mean
reversion) when the model activates it; the `ExecutingAgent` decides how many shares to
trade this step. The model schedules them and owns the random draws (see
simulator/randomness.py), so an agent only interprets the uniform number it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation

if TYPE_CHECKING:
    from acsim.simulator.model import ExecutionMarket


class EnsembleTrader(mesa.Agent):
    """A momentum (MOM) or mean-reversion (MR) trader of the ensemble (MODEL.md §4)."""

    model: "ExecutionMarket"

    def __init__(self, model: "ExecutionMarket", momentum: bool) -> None:
        super().__init__(model)
        self.momentum = momentum

    def revise(self, draw: float) -> None:
        """Kirman recruitment with one uniform draw in [0, 1).

        draw < a (own rate):         switch type on its own;
        a <= draw < a + b (herding): copy another agent, the one at position
                                     floor((draw - a)·(M - 1)/b) among the others;
        otherwise:                   keep its type.
        """
        parameters = self.model.config.ensemble
        own = (parameters.switch_to_mean_reversion if self.momentum
               else parameters.switch_to_momentum)
        if draw < own:
            self.model.switch_type(self)
        elif draw < own + parameters.herding:
            partner = self.model.other_trader(self, int((draw - own) * parameters.partner_scale))
            if partner.momentum != self.momentum:
                self.model.switch_type(self)


class ExecutingAgent(mesa.Agent):
    """The trader working the order: asks its policy for this step's trade."""

    model: "ExecutionMarket"

    def __init__(self, model: "ExecutionMarket", policy: ExecutionPolicy) -> None:
        super().__init__(model)
        self.policy = policy
        self.holdings = model.config.market.shares

    def decide(self) -> float:
        """n_k from x_{k-1}, S_{k-1}, f_k and k; the last step trades what is left."""
        model = self.model
        steps = model.config.market.steps
        step = model.steps
        if step == steps:
            return self.holdings
        observation = Observation(
            step=step,
            remaining_steps=steps - step + 1,
            holdings=np.array([self.holdings]),
            price=np.array([model.price]),
            field=np.array([model.field]),
            momentum_count=np.array([model.momentum_count]),
        )
        return float(self.policy.trades(observation)[0])
