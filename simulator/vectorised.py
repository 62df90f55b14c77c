"""The vectorised engine: every episode of a block advances at once (leading episodes axis).

It is the same model as the Mesa engine (simulator/model.py), not an approximation: it
consumes the same draws of simulator/randomness.py in the same way, calls the same price engine
(`PriceEngine`), the same switching rule and the same policies, so any episode replays exactly
in Mesa. The ensemble needs only the momentum count m: the switching rule's `count_paths` is
the count-level twin of the Mesa agents' updates (for the Kirman rule a compiled kernel).
"""

from __future__ import annotations

import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation
from acsim.simulator.config import SimulationConfig
from acsim.simulator.market import PriceEngine
from acsim.simulator.randomness import BLOCK_SIZE, ensemble_stream, initial_uniforms, noise_shocks
from acsim.simulator.results import EpisodeResults
from acsim.strategies import ensemble
from acsim.strategies.ensemble import EnsembleParameters

CHUNK_EPISODES = 512  # ensemble draws are generated this many episodes at a time


def ensemble_paths(parameters: EnsembleParameters, root_seed: int, block: int, steps: int,
                   first: int, count: int) -> np.ndarray:
    """Momentum counts m_0..m_N of the episodes, shape (count, N + 1)."""
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


def execute(config: SimulationConfig, policy: ExecutionPolicy, counts: np.ndarray,
            noise: np.ndarray) -> EpisodeResults:
    """Run the executing agent and the price engine over given count paths and shocks."""
    problem = config.market
    episodes, steps = noise.shape
    engine = PriceEngine(problem, config.extended, config.impact.impact, episodes)
    fields = ensemble.field(config.ensemble, counts[:, 1:])
    prices = np.empty((episodes, steps + 1))
    holdings = np.empty((episodes, steps + 1))
    trades = np.empty((episodes, steps))
    fills = np.empty((episodes, steps))
    prices[:, 0] = engine.price
    holdings[:, 0] = problem.shares
    for k in range(1, steps + 1):
        held = holdings[:, k - 1]
        if k == steps:
            trade = held.copy()
        else:
            trade = policy.trades(Observation(k, steps - k + 1, held, engine.price,
                                              fields[:, k - 1], counts[:, k],
                                              trades[:, : k - 1]))
        trades[:, k - 1] = trade
        fills[:, k - 1] = engine.fill(trade)
        holdings[:, k] = held - trade
        prices[:, k] = engine.advance(trade, holdings[:, k], fields[:, k - 1], noise[:, k - 1])
    return EpisodeResults.from_paths(problem, prices=prices, fills=fills, fields=fields,
                                     momentum_counts=counts, holdings=holdings, trades=trades)


def simulate_block(config: SimulationConfig, block: int, first: int = 0,
                   count: int = BLOCK_SIZE,
                   policy: ExecutionPolicy | None = None) -> EpisodeResults:
    """Episodes block·BLOCK_SIZE + first .. + count - 1 of root seed config.seed."""
    steps = config.market.steps
    counts = ensemble_paths(config.ensemble, config.seed, block, steps, first, count)
    return execute(config, config.started_policy(policy),
                   counts, noise_shocks(config.seed, block, steps, first, count))
