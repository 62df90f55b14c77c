"""The Mesa market model: one execution episode in the order of MODEL.md §2 (or §6).

Each step k = 1..N:
  1. the ensemble updates (the switching rule, agent by agent) and every ensemble trader
     declares its type (`step`); the momentum count m_k and the field f_k follow;
  2. the executing agent chooses n_k from x_{k-1}, S_{k-1}, f_k, m_k, k;
  3. the trade fills at S̃_k (the impact model; MODEL §2: S_{k-1} - side·(ε·sgn n_k + η·n_k/τ));
     x_k = x_{k-1} - n_k;
  4. the price moves: S_k = S_{k-1} + α_k·τ + σ√τ·ξ_k + the trade's own move (-side·γ·n_k).
With volatility regimes (MODEL §8) the episode's regime path s_1..s_N is drawn from its own
stream (the same function as the vectorised engine's); the executing agent sees s_k before
trading and σ = σ_{s_k} in step k.

In the order-flow market ([market] feedback = "order-flow", MODEL §6) the model first runs W
warm-up steps, numbered k = 1-W..0 (Mesa's own step counter says W + k), in which nobody
executes an order; in every step each ensemble trader sends its own order in `step` from the
trend R_k and mispricing Z_k (`MarketSignals`), the flow Q_k is their sum by type, m_k·(momentum
order) + (M - m_k)·(mean-reversion order), and the price moves by γ·Q_k on top of item 4; the
efficient price F follows drift and noise alone. The executing agent sees the count field
α0·(2m_k - M)/M (it cannot see Q_k); the model reports the field f_k = γ·Q_k/τ.

Build it from a configuration or from keyword parameters named like the command-line flags,
which is how Mesa's own tools (`mesa.batch_run`, SolaraViz) drive a model:

    ExecutionMarket(coupling=0.01, agents=50, strategy="extended", forecast="model", seed=3,
                    episode=12)

Why the agents sit in two ordered lists. The random-stream protocol (simulator/randomness.py)
gives every draw a meaning that depends only on (root seed, episode, step), so that the
vectorised engine, which keeps only the count m, can replay the same episode bit for bit. A
Kirman micro-update with uniform u picks the agent at position floor(u·M) of the list
[momentum traders, then mean-reversion traders]; the fractional part u·M - floor(u·M) is that
agent's own draw (`EnsembleTrader.revise`); a copying agent's partner is the one at position
min(floor((draw - a)·(M-1)/b), M-2) of the same list without the agent; a switching agent moves
to the end of the other list. Positions in these lists are what the count-level kernel
reproduces from m alone, so the model keeps them as ordered Python lists rather than Mesa's
unordered AgentSet. The random-walk rule uses one uniform per step: u < p moves up, p <= u < 2p
moves down (suppressed at the bounds), and the agent that switches sits at position
floor(u'·count) of its type's list with u' = u/p or (u - p)/p. A switching rule of your own
changes the count by its `step_counts`; the model switches the needed agents from the front of
the list they leave.
"""

from __future__ import annotations

import mesa
import numpy as np

from acsim.agents.policies import ExecutionPolicy
from acsim.agents.traders import EnsembleTrader, ExecutingAgent, MarketSignals
from acsim.simulator.config import SimulationConfig, config_from_keywords
from acsim.simulator.market import PriceEngine
from acsim.simulator.order_flow_market import OrderFlowState
from acsim.simulator.randomness import BLOCK_SIZE, episode_draws, regime_paths
from acsim.simulator.results import EpisodeResults
from acsim.simulator.vectorised import regime_volatilities
from acsim.strategies import ensemble, order_flow
from acsim.strategies.ensemble import KirmanRule, RandomWalkRule


class ExecutionMarket(mesa.Model):
    """One episode: ensemble traders, an executing agent and the price engine.

    config: the configuration (default: the built-in one); keyword `parameters` (flag names
        such as coupling, agents, strategy, forecast, seed) are applied on top of it.
    episode: the episode number within the root seed's streams.
    policy: a policy object instead of the configuration's strategy.
    collect_agents: also record every agent's type and order each step (agent-level
        DataCollector; orders in shares, + buys: the executing agent's is -side·n_k).
    """

    def __init__(self, config: SimulationConfig | None = None, *, episode: int = 0,
                 policy: ExecutionPolicy | None = None, collect_agents: bool = False,
                 **parameters: object) -> None:
        config = config or SimulationConfig()
        if parameters:
            config = config_from_keywords(config, **parameters)
        config.check_simulated_magnitudes()
        super().__init__(rng=config.seed)  # Mesa's own generators are never used
        self.config = config
        self.episode = episode
        problem = config.market
        self.warmup = config.warmup
        self.draws = episode_draws(config.seed, episode, config.market_steps,
                                   config.ensemble.draws_per_step,
                                   momentum=config.order_flow_market)
        block, offset = divmod(episode, BLOCK_SIZE)
        regimes = regime_paths(config.regimes, config.seed, block, config.market_steps, offset, 1)
        self.regimes, self.volatilities = regime_volatilities(config, regimes,
                                                              (1, config.market_steps))
        count = int(ensemble.initial_count(config.ensemble, self.draws.initial)[0])
        self.momentum_traders = [EnsembleTrader(self, True) for _ in range(count)]
        self.mean_reversion_traders = [
            EnsembleTrader(self, False) for _ in range(config.ensemble.agents - count)]
        self.executor = ExecutingAgent(self, config.started_policy(policy), problem.shares,
                                       problem.side)
        self.engine = PriceEngine(problem, config.extended, config.impact.impact, 1)
        self.market = OrderFlowState(config, 1) if config.order_flow_market else None
        self.signals: MarketSignals | None = None
        self.count_field = float(ensemble.field(config.ensemble, count))
        self.field = self.count_field if self.market is None else np.nan
        self.fill_price = np.nan
        self.trade = 0.0
        reporters = {"price": "price", "fill_price": "fill_price", "field": "field",
                     "momentum_count": "momentum_count", "holdings": "holdings",
                     "trade": "trade"}
        if self.market is not None:
            self.ensemble_flow = np.nan
            reporters.update(efficient_price="efficient_price", ensemble_flow="ensemble_flow")
        self.datacollector = mesa.DataCollector(
            model_reporters=reporters,
            agent_reporters={"type": "kind", "order": "order"} if collect_agents else None)
        self.datacollector.collect(self)

    @property
    def price(self) -> float:
        return float(self.engine.price[0])

    @property
    def momentum_count(self) -> int:
        return len(self.momentum_traders)

    @property
    def efficient_price(self) -> float:
        """F of the order-flow market after the last step."""
        return float(self.market.efficient_prices[0, self.market.completed])

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
        """One step of the switching rule, agent by agent (see the module docstring)."""
        parameters = self.config.ensemble
        rule = parameters.rule
        if isinstance(rule, KirmanRule):
            for uniform in uniforms:
                scaled = float(uniform) * parameters.agents
                position = int(scaled)
                self.trader_at(position).revise(scaled - position)
        elif isinstance(rule, RandomWalkRule):
            uniform, p = float(uniforms[0]), rule.step_probability
            if uniform < p and self.mean_reversion_traders:
                self.switch_type(self._member(self.mean_reversion_traders, uniform / p))
            elif p <= uniform < 2.0 * p and self.momentum_traders:
                self.switch_type(self._member(self.momentum_traders, (uniform - p) / p))
        else:
            target = int(rule.step_counts(np.array([self.momentum_count]), uniforms[None, :],
                                          parameters.agents)[0])
            while self.momentum_count < target:
                self.switch_type(self.mean_reversion_traders[0])
            while self.momentum_count > target:
                self.switch_type(self.momentum_traders[0])

    @staticmethod
    def _member(traders: list[EnsembleTrader], fraction: float) -> EnsembleTrader:
        """The trader at position floor(fraction·len) (clamped against rounding)."""
        return traders[min(int(fraction * len(traders)), len(traders) - 1)]

    def declared_momentum_count(self) -> int:
        """Every ensemble trader declares its type; m_k is the number of momentum stances."""
        traders = self.momentum_traders + self.mean_reversion_traders
        for trader in traders:
            trader.step()
        return sum(trader.stance > 0 for trader in traders)

    def market_signals(self, count: int, step: int) -> MarketSignals:
        """What the ensemble sees before market step `step` (1..W+N) of the order-flow market."""
        market = self.market
        return MarketSignals(
            trend_change=float(market.trend_change()[0]),
            mispricing=float(market.mispricing()[0]), trend_scale=market.trend_scale,
            mispricing_scale=market.mispricing_scale,
            momentum_shock=float(self.draws.momentum[0, step - 1]), momentum_count=count,
            parameters=self.config.order_flow)

    def collected_flow(self) -> float:
        """Q_k: the orders the traders sent, summed by type (m_k·momentum order +
        (M - m_k)·mean-reversion order; every trader of a type sends the same order)."""
        momentum = self.momentum_traders[0].order if self.momentum_traders else 0.0
        reversion = (self.mean_reversion_traders[0].order if self.mean_reversion_traders
                     else 0.0)
        return order_flow.ensemble_flow(self.momentum_count, self.config.ensemble.agents,
                                        momentum, reversion)

    # --- one step of MODEL.md §2 (§6) ---------------------------------------------------
    def step(self) -> None:
        problem, step = self.config.market, self.steps  # market step 1..W+N
        k = step - self.warmup  # the order's step (<= 0: warm-up)
        self.update_ensemble(self.draws.ensemble[0, step - 1])
        if self.market is not None:
            self.signals = self.market_signals(self.momentum_count, step)
        count = self.declared_momentum_count()
        self.count_field = float(ensemble.field(self.config.ensemble, count))
        if k >= 1:
            trade = self.executor.decide(k, problem.steps, self.price, self.count_field, count,
                                         int(self.regimes[0, step - 1]))
        else:
            trade = 0.0
        trades = np.array([trade])
        self.fill_price = float(self.engine.fill(trades)[0]) if k >= 1 else np.nan
        self.executor.holdings -= trade
        self.trade = trade
        shock = self.draws.noise[0, step - 1:step]
        if self.market is None:
            self.field = self.count_field
            self.engine.advance(trades, np.array([self.executor.holdings]),
                                np.array([self.field]), shock,
                                volatility=None if self.volatilities is None
                                else self.volatilities[:, step - 1])
        else:
            flow = np.array([self.collected_flow()])
            price = self.engine.advance(trades, np.array([self.executor.holdings]),
                                        np.array([self.count_field]), shock,
                                        self.market.price_move(flow))
            self.market.record(flow, price, shock)
            self.ensemble_flow = float(flow[0])
            self.field = float(order_flow.flow_field(flow[0], problem.permanent_impact,
                                                     problem.step_length))
        self.datacollector.collect(self)
        if k == problem.steps:
            self.running = False

    def results(self) -> EpisodeResults:
        """The episode's path and shortfall (one episode on the leading axis); in the
        order-flow market the order's steps, with the whole path in `market`."""
        frame = self.datacollector.get_model_vars_dataframe()
        order = frame.iloc[self.warmup:]  # rows of S_0 .. S_N
        paths = None if self.market is None else self.market.paths(
            frame["momentum_count"].to_numpy()[None, :])
        return EpisodeResults.from_paths(
            self.config.market,
            prices=order["price"].to_numpy()[None, :],
            fills=order["fill_price"].to_numpy()[None, 1:],
            fields=order["field"].to_numpy()[None, 1:],
            momentum_counts=order["momentum_count"].to_numpy()[None, :],
            holdings=order["holdings"].to_numpy()[None, :],
            trades=order["trade"].to_numpy()[None, 1:],
            market_paths=paths,
            regimes=None if self.volatilities is None else self.regimes[:, self.warmup:],
        )


def run_episode(config: SimulationConfig, episode: int = 0,
                policy: ExecutionPolicy | None = None) -> EpisodeResults:
    """Run episode number `episode` of root seed config.seed in the Mesa model."""
    model = ExecutionMarket(config, episode=episode, policy=policy)
    while model.running:
        model.step()
    return model.results()
