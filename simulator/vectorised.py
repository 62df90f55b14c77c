"""The vectorised engine: every episode of a block advances at once (leading episodes axis).

It is the same model as the Mesa engine (simulator/model.py), not an approximation: it
consumes the same draws of simulator/randomness.py in the same way, calls the same price engine
(`PriceEngine`), the same switching rule and the same policies, so any episode replays exactly
in Mesa. The ensemble needs only the momentum count m: the switching rule's `count_paths` is
the count-level twin of the Mesa agents' updates (for the Kirman rule a compiled kernel). In
the order-flow market (MODEL §6) the ensemble's flow is computed from the counts and the prices
(`acsim.simulator.order_flow_market.OrderFlowState`), the same per-type sums the Mesa agents
send, and the warm-up runs when the batch is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation, checked_trades, read_only
from acsim.simulator.config import SimulationConfig
from acsim.simulator.market import PriceEngine
from acsim.simulator.order_flow_market import OrderFlowState
from acsim.simulator.randomness import (
    BLOCK_SIZE,
    ensemble_stream,
    initial_uniforms,
    momentum_shocks,
    noise_shocks,
    regime_paths,
)
from acsim.simulator.results import EpisodeResults
from acsim.strategies import ensemble, validation
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError

CHUNK_EPISODES = 512  # ensemble draws are generated at most this many episodes at a time
CHUNK_DRAWS = 1 << 17  # ... and about this many uniforms at a time (1 MB: stays in cache)
MINIMUM_CHUNK = 32  # but never fewer episodes (the count kernel's inner loop runs over them)


def chunk_episodes(steps: int, draws_per_step: int) -> int:
    """Episodes whose ensemble uniforms are generated and counted together: small enough for
    the uniforms to stay in cache (long order-flow episodes: 70 steps of 100 agents are 7,000
    uniforms each), large enough for the kernel's loop over episodes."""
    return min(CHUNK_EPISODES, max(MINIMUM_CHUNK, CHUNK_DRAWS // (steps * draws_per_step)))


def ensemble_paths(parameters: EnsembleParameters, root_seed: int, block: int, steps: int,
                   first: int, count: int) -> np.ndarray:
    """Momentum counts m_0..m_N of the episodes, shape (count, N + 1)."""
    validation.integer("block", block, 0)
    counts = np.empty((count, steps + 1), dtype=np.int64)
    initial = ensemble.initial_count(parameters, initial_uniforms(root_seed, block, first, count))
    draws = parameters.draws_per_step
    generator = ensemble_stream(root_seed, block, steps, draws, first)
    chunk = chunk_episodes(steps, draws)
    buffer = np.empty(min(count, chunk) * steps * draws)
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        uniforms = generator.random(out=buffer[: size * steps * draws]).reshape(size, steps, draws)
        parameters.rule.count_paths(initial[start:start + size], uniforms, parameters.agents,
                                    counts[start:start + size])
    return counts


@dataclass(frozen=True)
class MarketDraws:
    """The draws of E episodes in the engine's terms: momentum counts m (E, W + N + 1), price
    shocks ξ (E, W + N), in the order-flow market momentum shocks ζ (E, W + N), and with
    volatility regimes the regime paths s (E, W + N); W = 0 in the field-drift market."""

    counts: np.ndarray
    noise: np.ndarray
    momentum: np.ndarray | None = None
    regimes: np.ndarray | None = None


def market_draws(config: SimulationConfig, block: int, first: int, count: int,
                 counts: np.ndarray | None = None) -> MarketDraws:
    """The draws of episodes block·BLOCK_SIZE + first .. + count - 1 over the market's W + N
    steps (counts: already simulated paths to use instead of the ensemble's)."""
    steps = config.market_steps
    if counts is None:
        counts = ensemble_paths(config.ensemble, config.seed, block, steps, first, count)
    momentum = (momentum_shocks(config.seed, block, steps, first, count)
                if config.order_flow_market else None)
    return MarketDraws(counts, noise_shocks(config.seed, block, steps, first, count), momentum,
                       regime_paths(config.regimes, config.seed, block, steps, first, count))


class MarketBatch:
    """E episodes of the market advancing together, one step at a time (leading episodes axis).

    Built from the episodes' momentum-count paths (E, W + N + 1), price shocks (E, W + N) and,
    in the order-flow market, momentum shocks ζ (E, W + N) (W = 0 warm-up steps in the
    field-drift market); `execute` and the Gymnasium environment drive it: `observation()` is
    what the executing agent sees before step k, `advance(trades)` fills the trades and moves
    the price. In the last step the remaining holdings are traded whatever is passed, so every
    order completes. The order-flow market's warm-up runs here, before the first observation.
    """

    def __init__(self, config: SimulationConfig, counts: np.ndarray, noise: np.ndarray,
                 momentum: np.ndarray | None = None, regimes: np.ndarray | None = None) -> None:
        config.check_simulated_magnitudes()
        self.config = config
        self.counts = counts
        self.noise = noise
        self.momentum = momentum
        self.warmup = config.warmup
        self.episodes = noise.shape[0]
        self.regimes, self.volatilities = regime_volatilities(config, regimes, noise.shape)
        problem = config.market
        self.steps = problem.steps
        self.engine = PriceEngine(problem, config.extended, config.impact.impact, self.episodes)
        # the field the executing agent sees: the count field f = α0·(2m - M)/M (in the
        # order-flow market too: the agent sees m_k, not the flow Q_k)
        self.count_fields = ensemble.field(config.ensemble, counts[:, 1:])
        self.fields = self.count_fields[:, self.warmup:]
        self.flow = OrderFlowState(config, self.episodes) if config.order_flow_market else None
        self.prices = np.empty((self.episodes, self.steps + 1))
        self.holdings = np.empty((self.episodes, self.steps + 1))
        self.trades = np.empty((self.episodes, self.steps))
        self.fills = np.empty((self.episodes, self.steps))
        self.holdings[:, 0] = problem.shares
        waiting, held = np.zeros(self.episodes), self.holdings[:, 0]
        for step in range(self.warmup):  # no order: n = 0, holdings X
            self._move(step + 1, waiting, held)
        self.prices[:, 0] = self.engine.price
        self.completed = 0  # order steps done

    @property
    def done(self) -> bool:
        return self.completed == self.steps

    @property
    def last_step(self) -> bool:
        """Whether the next step is the last one (it trades what is left)."""
        return self.completed == self.steps - 1

    def observation(self) -> Observation:
        """What the executing agent sees before the next step k (MODEL.md §2, item 2; §6,
        item 4: x_{k-1}, m_k and S_{k-1}, never F or Q_k)."""
        k = self.completed + 1
        return Observation(k, self.steps - k + 1, read_only(self.holdings[:, k - 1]),
                           read_only(self.engine.price), read_only(self.fields[:, k - 1]),
                           read_only(self.counts[:, self.warmup + k]),
                           read_only(self.trades[:, : k - 1]),
                           read_only(self.regimes[:, self.warmup + k - 1]))

    def _move(self, step: int, trade: np.ndarray, holdings_after: np.ndarray) -> np.ndarray:
        """Market step `step` (1..W+N, warm-up first): the flow, if any, and the price move."""
        shock, field = self.noise[:, step - 1], self.count_fields[:, step - 1]
        if self.flow is None:
            volatility = None if self.volatilities is None else self.volatilities[:, step - 1]
            return self.engine.advance(trade, holdings_after, field, shock, volatility=volatility)
        flow = self.flow.flow(self.counts[:, step], self.momentum[:, step - 1])
        price = self.engine.advance(trade, holdings_after, field, shock,
                                    self.flow.price_move(flow))
        self.flow.record(flow, price, shock)
        return price

    def advance(self, trades: np.ndarray | None) -> np.ndarray:
        """Step k: fill `trades` (E,), move the price; returns the fills S̃_k."""
        k = self.completed + 1
        held = self.holdings[:, k - 1]
        trade = held.copy() if k == self.steps else checked_trades(trades, self.episodes, k)
        self.trades[:, k - 1] = trade
        self.fills[:, k - 1] = self.engine.fill(trade)
        self.holdings[:, k] = held - trade
        self.prices[:, k] = self._move(self.warmup + k, trade, self.holdings[:, k])
        self.completed = k
        return self.fills[:, k - 1]

    def results(self) -> EpisodeResults:
        warmup, problem = self.warmup, self.config.market
        regimes = None if self.volatilities is None else self.regimes[:, warmup:]
        if self.flow is None:
            return EpisodeResults.from_paths(problem, prices=self.prices, fills=self.fills,
                                             fields=self.fields, momentum_counts=self.counts,
                                             holdings=self.holdings, trades=self.trades,
                                             regimes=regimes)
        paths = self.flow.paths(self.counts)
        return EpisodeResults.from_paths(
            problem, prices=self.prices, fills=self.fills, fields=paths.fields[:, warmup:],
            momentum_counts=self.counts[:, warmup:], holdings=self.holdings,
            trades=self.trades, market_paths=paths, regimes=regimes)


def regime_volatilities(config: SimulationConfig, regimes: np.ndarray | None,
                        shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(regime paths (E, W + N), σ_{s_k} (E, W + N)) of a market with volatility regimes, or
    (zeros, None) without (σ is then the market's); a market with regimes needs its paths."""
    chain = config.regimes.regimes
    if chain is None:
        if regimes is not None:
            raise ParameterError("regime paths were given for a market without regimes "
                                 "([regimes] model = none)")
        return np.zeros(shape, dtype=np.int64), None
    if regimes is None or regimes.shape != shape:
        raise ParameterError(f"a market with volatility regimes needs their paths, shape "
                             f"{shape} (randomness.regime_paths), got "
                             f"{None if regimes is None else regimes.shape}")
    return regimes, np.asarray(chain.volatilities)[regimes]


def execute(config: SimulationConfig, policy: ExecutionPolicy, counts: np.ndarray,
            noise: np.ndarray, momentum: np.ndarray | None = None,
            regimes: np.ndarray | None = None) -> EpisodeResults:
    """Run the executing agent and the price engine over given count paths and shocks
    (momentum: the order-flow market's momentum shocks ζ; regimes: the volatility regimes)."""
    return drive(MarketBatch(config, counts, noise, momentum, regimes), policy)


def market_batch(config: SimulationConfig, block: int, first: int = 0,
                 count: int = BLOCK_SIZE) -> MarketBatch:
    """The market of episodes block·BLOCK_SIZE + first .. + count - 1 of root seed config.seed,
    with their draws, before step 1 (the one place that knows which draws a batch needs)."""
    draws = market_draws(config, block, first, count)
    return MarketBatch(config, draws.counts, draws.noise, draws.momentum, draws.regimes)


def drive(batch: MarketBatch, policy: ExecutionPolicy) -> EpisodeResults:
    """Run a started policy through a batch to the end (the last step trades what is left)."""
    while not batch.done:
        batch.advance(None if batch.last_step else policy.trades(batch.observation()))
    return batch.results()


def simulate_block(config: SimulationConfig, block: int, first: int = 0,
                   count: int = BLOCK_SIZE,
                   policy: ExecutionPolicy | None = None) -> EpisodeResults:
    """Episodes block·BLOCK_SIZE + first .. + count - 1 of root seed config.seed."""
    return drive(market_batch(config, block, first, count), config.started_policy(policy))
