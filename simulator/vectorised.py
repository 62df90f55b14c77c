"""The vectorised engine: every episode of a block advances at once (leading episodes axis).

It is the same model as the Mesa engine (simulator/model.py), not an approximation: it
consumes the same draws of simulator/randomness.py in the same way, calls the same price engine
(`PriceEngine`), the same switching rule and the same policies, so any episode replays exactly
in Mesa. The ensemble needs only the momentum count m: the switching rule's `count_paths` is
the count-level twin of the Mesa agents' updates (for the Kirman rule a compiled kernel).
"""

from __future__ import annotations

import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation, checked_trades, read_only
from acsim.simulator.config import SimulationConfig
from acsim.simulator.market import PriceEngine
from acsim.simulator.randomness import (
    BLOCK_SIZE,
    ensemble_stream,
    initial_uniforms,
    noise_shocks,
    regime_paths,
)
from acsim.simulator.results import EpisodeResults
from acsim.strategies import ensemble, validation
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError

CHUNK_EPISODES = 512  # ensemble draws are generated this many episodes at a time


def ensemble_paths(parameters: EnsembleParameters, root_seed: int, block: int, steps: int,
                   first: int, count: int) -> np.ndarray:
    """Momentum counts m_0..m_N of the episodes, shape (count, N + 1)."""
    validation.integer("block", block, 0)
    counts = np.empty((count, steps + 1), dtype=np.int64)
    initial = ensemble.initial_count(parameters, initial_uniforms(root_seed, block, first, count))
    draws = parameters.draws_per_step
    generator = ensemble_stream(root_seed, block, steps, draws, first)
    buffer = np.empty(min(count, CHUNK_EPISODES) * steps * draws)
    for start in range(0, count, CHUNK_EPISODES):
        size = min(CHUNK_EPISODES, count - start)
        uniforms = generator.random(out=buffer[: size * steps * draws]).reshape(size, steps, draws)
        parameters.rule.count_paths(initial[start:start + size], uniforms, parameters.agents,
                                    counts[start:start + size])
    return counts


class MarketBatch:
    """E episodes of the market advancing together, one step at a time (leading episodes axis).

    Built from the episodes' momentum-count paths (E, N + 1), price shocks (E, N) and, when the
    market has volatility regimes, their regime paths s_1..s_N (E, N) (`randomness.regime_paths`;
    step k's shock is scaled by σ_{s_k}); `execute` and the Gymnasium environment drive it:
    `observation()` is what the executing agent sees before step k, `advance(trades)` fills the
    trades and moves the price. In the last step the remaining holdings are traded whatever is
    passed, so every order completes.
    """

    def __init__(self, config: SimulationConfig, counts: np.ndarray, noise: np.ndarray,
                 regimes: np.ndarray | None = None) -> None:
        self.config = config
        self.counts = counts
        self.noise = noise
        self.episodes, self.steps = noise.shape
        self.regimes, self.volatilities = regime_volatilities(config, regimes, noise.shape)
        problem = config.market
        self.engine = PriceEngine(problem, config.extended, config.impact.impact, self.episodes)
        self.fields = ensemble.field(config.ensemble, counts[:, 1:])
        self.prices = np.empty((self.episodes, self.steps + 1))
        self.holdings = np.empty((self.episodes, self.steps + 1))
        self.trades = np.empty((self.episodes, self.steps))
        self.fills = np.empty((self.episodes, self.steps))
        self.prices[:, 0] = self.engine.price
        self.holdings[:, 0] = problem.shares
        self.completed = 0  # steps done

    @property
    def done(self) -> bool:
        return self.completed == self.steps

    @property
    def last_step(self) -> bool:
        """Whether the next step is the last one (it trades what is left)."""
        return self.completed == self.steps - 1

    def observation(self) -> Observation:
        """What the executing agent sees before the next step k (MODEL.md §2, item 2)."""
        k = self.completed + 1
        return Observation(k, self.steps - k + 1, read_only(self.holdings[:, k - 1]),
                           read_only(self.engine.price), read_only(self.fields[:, k - 1]),
                           read_only(self.counts[:, k]), read_only(self.trades[:, : k - 1]),
                           read_only(self.regimes[:, k - 1]))

    def advance(self, trades: np.ndarray | None) -> np.ndarray:
        """Step k: fill `trades` (E,), move the price; returns the fills S̃_k."""
        k = self.completed + 1
        held = self.holdings[:, k - 1]
        trade = held.copy() if k == self.steps else checked_trades(trades, self.episodes, k)
        self.trades[:, k - 1] = trade
        self.fills[:, k - 1] = self.engine.fill(trade)
        self.holdings[:, k] = held - trade
        self.prices[:, k] = self.engine.advance(
            trade, self.holdings[:, k], self.fields[:, k - 1], self.noise[:, k - 1],
            None if self.volatilities is None else self.volatilities[:, k - 1])
        self.completed = k
        return self.fills[:, k - 1]

    def results(self) -> EpisodeResults:
        return EpisodeResults.from_paths(
            self.config.market, prices=self.prices, fills=self.fills, fields=self.fields,
            momentum_counts=self.counts, holdings=self.holdings, trades=self.trades,
            regimes=None if self.volatilities is None else self.regimes)


def regime_volatilities(config: SimulationConfig, regimes: np.ndarray | None,
                        shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(regime paths (E, N), σ_{s_k} (E, N)) of a market with volatility regimes, or (zeros,
    None) without (σ is then the market's); a market with regimes needs its regime paths."""
    chain = config.regimes.regimes
    if chain is None:
        if regimes is not None:
            raise ParameterError("regime paths were given for a market without regimes "
                                 "([regimes] model = none)")
        return np.zeros(shape, dtype=np.int64), None
    if regimes is None or regimes.shape != shape:
        raise ParameterError(f"a market with volatility regimes needs their paths s_1..s_N, "
                             f"shape {shape} (randomness.regime_paths), got "
                             f"{None if regimes is None else regimes.shape}")
    return regimes, np.asarray(chain.volatilities)[regimes]


def execute(config: SimulationConfig, policy: ExecutionPolicy, counts: np.ndarray,
            noise: np.ndarray, regimes: np.ndarray | None = None) -> EpisodeResults:
    """Run the executing agent and the price engine over given count paths, shocks and (with
    volatility regimes) regime paths."""
    return drive(MarketBatch(config, counts, noise, regimes), policy)


def market_batch(config: SimulationConfig, block: int, first: int = 0,
                 count: int = BLOCK_SIZE) -> MarketBatch:
    """The market of episodes block·BLOCK_SIZE + first .. + count - 1 of root seed config.seed,
    with their draws, before step 1 (the one place that knows which draws a batch needs)."""
    steps = config.market.steps
    counts = ensemble_paths(config.ensemble, config.seed, block, steps, first, count)
    return MarketBatch(config, counts, noise_shocks(config.seed, block, steps, first, count),
                       regime_paths(config.regimes, config.seed, block, steps, first, count))


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
