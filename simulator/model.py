"""The Mesa market model: one execution episode in the order of MODEL.md §2.

Each step k = 1..N:
  1. the ensemble updates (M Kirman micro-updates, or one ±1 random-walk move), giving
     the momentum count m_k and the field f_k;
  2. the executing agent chooses n_k from x_{k-1}, S_{k-1}, f_k, k;
  3. the trade fills at S̃_k = S_{k-1} - side·(ε·sgn n_k + (η/τ)·n_k); x_k = x_{k-1} - n_k;
  4. the price moves: S_k = S_{k-1} + α_k·τ + σ√τ·ξ_k - side·γ·n_k.

Random draws follow the protocol of simulator/randomness.py, one uniform per Kirman
micro-update: u picks the agent at position floor(u·M) of the list [momentum traders,
then mean-reversion traders], and the fractional part u·M - floor(u·M) is the agent's
own draw (`EnsembleTrader.revise`); a copying agent's partner is the one at position
min(floor((draw - a)·(M-1)/b), M-2) of the same list without the agent. The random-walk
rule uses one uniform per step: u < p moves up, p <= u < 2p moves down (suppressed at
the bounds), and the agent that switches sits at position floor(u'·count) of its type's
list with u' = u/p or (u - p)/p.
"""

from __future__ import annotations

import mesa
import numpy as np

from acsim.agents.policies import ExecutionPolicy, make_policy
from acsim.agents.traders import EnsembleTrader, ExecutingAgent
from acsim.simulator import market
from acsim.simulator.config import SimulationConfig
from acsim.simulator.randomness import EpisodeDraws, episode_draws
from acsim.simulator.results import EpisodeResults
from acsim.strategies import ensemble


class ExecutionMarket(mesa.Model):
    """One episode: ensemble traders, an executing agent and the price engine."""

    def __init__(self, config: SimulationConfig, draws: EpisodeDraws,
                 policy: ExecutionPolicy | None = None) -> None:
        super().__init__(rng=config.seed)  # Mesa's own generators are never used
        self.config = config
        self.draws = draws
        problem = config.market
        count = int(ensemble.initial_count(config.ensemble, draws.initial)[0])
        self.momentum_traders = [EnsembleTrader(self, True) for _ in range(count)]
        self.mean_reversion_traders = [
            EnsembleTrader(self, False) for _ in range(config.ensemble.agents - count)]
        if policy is None:
            policy = make_policy(config)
        policy.start(config)
        self.executor = ExecutingAgent(self, policy)
        self.price = problem.price
        self.field = float(ensemble.field(config.ensemble, count))
        self.fill_price = np.nan
        self.trade = 0.0
        self.datacollector = mesa.DataCollector(model_reporters={
            "price": "price", "fill_price": "fill_price", "field": "field",
            "momentum_count": "momentum_count", "holdings": "holdings", "trade": "trade",
        })
        self.datacollector.collect(self)

    @property
    def momentum_count(self) -> int:
        return len(self.momentum_traders)

    @property
    def holdings(self) -> float:
        return self.executor.holdings

    # --- ensemble bookkeeping used by the traders -------------------------------------
    def switch_type(self, trader: EnsembleTrader) -> None:
        """Move a trader to the other type's list (appended at the end)."""
        source, target = ((self.momentum_traders, self.mean_reversion_traders)
                          if trader.momentum else
                          (self.mean_reversion_traders, self.momentum_traders))
        source.remove(trader)
        target.append(trader)
        trader.momentum = not trader.momentum

    def trader_at(self, position: int) -> EnsembleTrader:
        """Position in the list [momentum traders, then mean-reversion traders]."""
        count = len(self.momentum_traders)
        if position < count:
            return self.momentum_traders[position]
        return self.mean_reversion_traders[position - count]

    def other_trader(self, trader: EnsembleTrader, position: int) -> EnsembleTrader:
        """The trader at `position` of the list [momentum, mean-reversion] without `trader`.

        Positions are clamped to M - 2, the last one, in case rounding reaches M - 1.
        """
        position = min(position, self.config.ensemble.agents - 2)
        own_list = self.momentum_traders if trader.momentum else self.mean_reversion_traders
        offset = 0 if trader.momentum else len(self.momentum_traders)
        if position >= offset + own_list.index(trader):
            position += 1  # skip the trader itself
        return self.trader_at(position)

    def update_ensemble(self, uniforms: np.ndarray) -> None:
        parameters = self.config.ensemble
        if parameters.switching == "kirman":
            for uniform in uniforms:
                scaled = float(uniform) * parameters.agents
                position = int(scaled)
                self.trader_at(position).revise(scaled - position)
            return
        uniform, p = float(uniforms[0]), parameters.step_probability
        if uniform < p and self.mean_reversion_traders:
            self.switch_type(self._random_member(self.mean_reversion_traders, uniform / p))
        elif p <= uniform < 2.0 * p and self.momentum_traders:
            self.switch_type(self._random_member(self.momentum_traders, (uniform - p) / p))

    @staticmethod
    def _random_member(traders: list[EnsembleTrader], fraction: float) -> EnsembleTrader:
        """The trader at position floor(fraction·len) (clamped against rounding)."""
        return traders[min(int(fraction * len(traders)), len(traders) - 1)]

    # --- one step of MODEL.md §2 ------------------------------------------------------
    def step(self) -> None:
        problem, k = self.config.market, self.steps
        self.update_ensemble(self.draws.ensemble[0, k - 1])
        self.field = float(ensemble.field(self.config.ensemble, self.momentum_count))
        trade = self.executor.decide()
        self.fill_price = float(market.fill_price(problem, self.price, trade))
        self.executor.holdings -= trade
        self.trade = trade
        self.price = float(market.next_price(problem, self.config.extended, self.price, trade,
                                             self.executor.holdings, self.field,
                                             self.draws.noise[0, k - 1]))
        self.datacollector.collect(self)
        if k == problem.steps:
            self.running = False

    def results(self) -> EpisodeResults:
        """The episode's path and shortfall (one episode on the leading axis)."""
        frame = self.datacollector.get_model_vars_dataframe()
        return EpisodeResults.from_paths(
            self.config.market,
            prices=frame["price"].to_numpy()[None, :],
            fills=frame["fill_price"].to_numpy()[None, 1:],
            fields=frame["field"].to_numpy()[None, 1:],
            momentum_counts=frame["momentum_count"].to_numpy()[None, :],
            holdings=frame["holdings"].to_numpy()[None, :],
            trades=frame["trade"].to_numpy()[None, 1:],
        )


def run_episode(config: SimulationConfig, episode: int = 0,
                policy: ExecutionPolicy | None = None) -> EpisodeResults:
    """Run episode number `episode` of root seed config.seed in the Mesa model."""
    draws = episode_draws(config.seed, episode, config.market.steps,
                          config.ensemble.draws_per_step)
    model = ExecutionMarket(config, draws, policy)
    while model.running:
        model.step()
    return model.results()
