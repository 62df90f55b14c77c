"""Execution policies: how the executing agent turns what it sees into a trade.

A policy is shared by both engines: it receives an `Observation` whose arrays have a
leading episodes axis (length 1 in the Mesa model, thousands in the vectorised engine)
and returns one trade per episode. To plug in your own strategy implement two methods:

    class FrontLoaded:
        def start(self, config):            # once per run: precompute what you need
            self.steps = config.market.steps
        def trades(self, observation):      # every step: shares to trade, per episode
            return observation.holdings * min(1.0, 2.0 / observation.remaining_steps)

Trades are in the order's direction (a seller's n > 0 sells). Whatever a policy returns
in the last step, the agent trades the remaining holdings then, so every order completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from acsim.strategies import almgren_chriss, baselines, ensemble
from acsim.strategies.costs import trades_from_holdings
from acsim.strategies.extended import LinearGains, no_buyback_holdings, optimal_holdings
from acsim.strategies.parameters import (
    ExtendedParameters,
    PlanningInputs,
    planning_drift,
    planning_inputs,
)

if TYPE_CHECKING:
    from acsim.simulator.config import SimulationConfig


@dataclass(frozen=True)
class Observation:
    """What the executing agent sees before trading in step k (MODEL.md §2, item 2).

    step: k (1-based).  remaining_steps: N - k + 1, including this one.
    holdings: x_{k-1}.  price: S_{k-1}.  field: f_k.  momentum_count: m_k.
    """

    step: int
    remaining_steps: int
    holdings: np.ndarray
    price: np.ndarray
    field: np.ndarray
    momentum_count: np.ndarray


class ExecutionPolicy(Protocol):
    """The interface every strategy implements."""

    def start(self, config: "SimulationConfig") -> None: ...

    def trades(self, observation: Observation) -> np.ndarray: ...


class StaticPolicy:
    """Trades a schedule planned once at the start (TWAP, VWAP, static AC)."""

    def __init__(self, planner: str) -> None:
        self.planner = planner
        self.planned: np.ndarray | None = None

    def start(self, config: "SimulationConfig") -> None:
        market = config.market
        if self.planner == "twap":
            holdings = baselines.twap_holdings(market)
        elif self.planner == "vwap":
            holdings = baselines.vwap_holdings(market, config.strategy.volume_profile)
        else:
            holdings = almgren_chriss.optimal_holdings(market)
        self.planned = trades_from_holdings(holdings)

    def trades(self, observation: Observation) -> np.ndarray:
        return np.full(observation.holdings.shape, self.planned[observation.step - 1])


class RecedingHorizonPolicy:
    """Re-solves the (extended) AC problem from the current state every step.

    believes_feedback: plan with the market's coupling and self_alpha (extended AC) or
        with neither (adaptive classical AC).
    forecast: how the field is forecast over the remaining steps: "persistent" (the
        current field), "model" (the exact conditional mean of the count chain) or
        "none" (zero).
    no_buyback: trades are >= 0 (exact active-set solve per episode).

    Without no-buy-back the first trade is linear in (holdings, forecast), so it is
    computed from precomputed gains: O(1) per episode and step for every forecast.
    """

    def __init__(self, believes_feedback: bool, forecast: str = "none",
                 no_buyback: bool = False) -> None:
        self.believes_feedback = believes_feedback
        self.forecast = forecast
        self.no_buyback = no_buyback

    def start(self, config: "SimulationConfig") -> None:
        market = config.market
        self.market = market
        self.extended = config.extended if self.believes_feedback else ExtendedParameters()
        self.inputs = planning_inputs(market, self.extended)
        self.gains = LinearGains.from_inputs(self.inputs)
        steps, agents = market.steps, config.ensemble.agents
        if self.forecast == "model":
            # expected field s steps ahead for every current count: (steps, M + 1)
            self.expected_field = ensemble.field(
                config.ensemble, ensemble.expected_count_table(config.ensemble, steps - 1))
            # Σ_s gain_s·E[f_{k+s} | m] for every remaining length and count: (steps + 1, M + 1)
            self.field_term = np.zeros((steps + 1, agents + 1))
            for remaining in range(1, steps + 1):
                self.field_term[remaining] = np.sum(
                    self.gains.drift_gain[remaining][:, None] * self.expected_field[:remaining],
                    axis=0)  # elementwise: independent of BLAS threading

    def field_forecast(self, observation: Observation) -> np.ndarray:
        """f̂ for the remaining steps, shape (episodes, remaining)."""
        remaining = observation.remaining_steps
        if self.forecast == "persistent":
            return np.repeat(observation.field[:, None], remaining, axis=1)
        if self.forecast == "model":
            return self.expected_field[:remaining, observation.momentum_count].T
        return np.zeros((observation.holdings.shape[0], remaining))

    def trades(self, observation: Observation) -> np.ndarray:
        market, remaining = self.market, observation.remaining_steps
        coupling = self.extended.coupling if self.forecast != "none" else 0.0
        if self.no_buyback:
            return self._no_buyback_trades(observation, coupling)
        base = self.gains.first_trade_constant_drift(observation.holdings, remaining,
                                                     market.planning_drift)
        if coupling == 0.0:
            return base
        if self.forecast == "persistent":
            field_term = self.gains.constant_drift_gain[remaining] * observation.field
        else:
            field_term = self.field_term[remaining, observation.momentum_count]
        # the field's part of the planning drift, side·coupling·f̂, through the same gains
        return base - market.side * coupling * field_term


    def _no_buyback_trades(self, observation: Observation, coupling: float) -> np.ndarray:
        """First trades with n_k >= 0: the unconstrained plans of all episodes in one batched
        solve; only episodes whose plan would buy back go through the exact active set."""
        market, remaining = self.market, observation.remaining_steps
        batch = PlanningInputs(self.inputs.step_length, self.inputs.effective_temporary_impact,
                               self.inputs.urgency,
                               planning_drift(market, coupling, self.field_forecast(observation)))
        plans = optimal_holdings(batch, observation.holdings)
        result = plans[:, 0] - plans[:, 1]
        for episode in np.flatnonzero(np.any(np.diff(plans, axis=1) > 0.0, axis=1)
                                      | (observation.holdings < 0.0)):
            single = PlanningInputs(batch.step_length, batch.effective_temporary_impact,
                                    batch.urgency, batch.drift[episode])
            path = no_buyback_holdings(single, observation.holdings[episode])
            result[episode] = path[0] - path[1]
        return result


def make_policy(config: "SimulationConfig") -> ExecutionPolicy:
    """The built-in policy named by config.strategy."""
    strategy = config.strategy
    if strategy.name in ("twap", "vwap"):
        return StaticPolicy(strategy.name)
    if strategy.name == "ac-static":
        return StaticPolicy("ac")
    if strategy.name == "ac-adaptive":
        return RecedingHorizonPolicy(False, "none", strategy.no_buyback)
    return RecedingHorizonPolicy(True, strategy.forecast, strategy.no_buyback)
