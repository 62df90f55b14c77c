"""The vectorised engine: every episode of a block advances at once (leading episodes axis).

It is the same model as the Mesa engine (simulator/model.py), not an approximation: it
consumes the same draws of simulator/randomness.py in the same way, calls the same
price-engine functions and the same policies, so any episode replays exactly in Mesa.

The ensemble needs only the momentum count m. `_kirman_counts` is the count-level twin
of `EnsembleTrader.revise` and `ExecutionMarket.update_ensemble`: the same floating-point
operations on the same uniform decide the same move. It is compiled with numba because
the Kirman rule consumes M uniforms per step (2,000 per episode in the paper setting),
which numpy cannot process fast enough one micro-update at a time.
"""

from __future__ import annotations

import numba
import numpy as np

from acsim.agents.policies import ExecutionPolicy, Observation, make_policy
from acsim.simulator import market
from acsim.simulator.config import SimulationConfig
from acsim.simulator.randomness import BLOCK_SIZE, ensemble_stream, initial_uniforms, noise_shocks
from acsim.simulator.results import EpisodeResults
from acsim.strategies import ensemble
from acsim.strategies.ensemble import EnsembleParameters

CHUNK_EPISODES = 512  # ensemble draws are generated this many episodes at a time


@numba.njit(cache=True, error_model="numpy")
def _kirman_counts(counts: np.ndarray, uniforms: np.ndarray, agents: int, to_momentum: float,
                   to_mean_reversion: float, herding: float, partner_scale: float,
                   out: np.ndarray) -> None:
    """out[e, k+1] = count after step k; out[e, 0] = counts[e]; uniforms is (N, M, E).

    Micro-update with uniform u (as `ExecutionMarket.update_ensemble` and
    `EnsembleTrader.revise`): scaled = u·M picks position floor(scaled) of [momentum,
    mean-reversion] traders, so a momentum trader iff scaled < m; its own draw is
    d = scaled - floor(scaled). It switches if d < own rate a; else, if d < a + b, it copies
    the partner at position p = min(floor((d - a)·partner_scale), M - 2) among the others,
    a momentum trader iff p < m - [picked is momentum]. For integer m and x >= 0,
    min(floor(x), M - 2) < m exactly when min(x, M - 2) < m, so the comparisons are made on
    the floats directly (when d < a, x < 0 but the own switch decides). Episodes form the
    inner loop, independent of each other, so the CPU advances several at once.
    """
    steps, draws, episodes = uniforms.shape
    m = counts.astype(np.float64)  # exact for counts up to 2^53
    top = agents - 2.0
    for e in range(episodes):
        out[e, 0] = counts[e]
    for k in range(steps):
        for j in range(draws):
            row = uniforms[k, j]
            for e in range(episodes):
                scaled = row[e] * agents
                draw = scaled - np.floor(scaled)
                current = m[e]
                # a mean-reversion trader (scaled >= m) turns momentum:
                up = (draw < to_momentum) | ((draw < to_momentum + herding) & (
                    min((draw - to_momentum) * partner_scale, top) < current))
                # a momentum trader (scaled < m) turns mean-reversion:
                down = (draw < to_mean_reversion) | ((draw < to_mean_reversion + herding) & (
                    min((draw - to_mean_reversion) * partner_scale, top) >= current - 1.0))
                momentum = scaled < current
                m[e] = current + (up & ~momentum) * 1.0 - (down & momentum) * 1.0
        for e in range(episodes):
            out[e, k + 1] = np.int64(m[e])


def random_walk_step(parameters: EnsembleParameters, counts: np.ndarray,
                     uniforms: np.ndarray) -> np.ndarray:
    """The paper's ±1 rule for one step: u < p up, p <= u < 2p down, suppressed at the bounds."""
    p = parameters.step_probability
    up = (uniforms < p) & (counts < parameters.agents)
    down = (uniforms >= p) & (uniforms < 2.0 * p) & (counts > 0)
    return counts + up - down


def ensemble_paths(parameters: EnsembleParameters, root_seed: int, block: int, steps: int,
                   first: int, count: int) -> np.ndarray:
    """Momentum counts m_0..m_N of the episodes, shape (count, N + 1)."""
    counts = np.empty((count, steps + 1), dtype=np.int64)
    counts[:, 0] = ensemble.initial_count(parameters, initial_uniforms(root_seed, block, first,
                                                                        count))
    draws = parameters.draws_per_step
    generator = ensemble_stream(root_seed, block, steps, draws, first)
    if parameters.switching == "random-walk":
        uniforms = generator.random(count * steps).reshape(count, steps)
        for k in range(steps):
            counts[:, k + 1] = random_walk_step(parameters, counts[:, k], uniforms[:, k])
        return counts
    buffer = np.empty(min(count, CHUNK_EPISODES) * steps * draws)
    for start in range(0, count, CHUNK_EPISODES):
        size = min(CHUNK_EPISODES, count - start)
        uniforms = generator.random(out=buffer[: size * steps * draws]).reshape(size, steps, draws)
        # (episodes, N, M) -> (N, M, episodes): the kernel's inner loop runs over episodes
        _kirman_counts(counts[start:start + size, 0].copy(),
                       np.ascontiguousarray(uniforms.transpose(1, 2, 0)), parameters.agents,
                       parameters.switch_to_momentum, parameters.switch_to_mean_reversion,
                       parameters.herding, parameters.partner_scale,
                       counts[start:start + size])
    return counts


def execute(config: SimulationConfig, policy: ExecutionPolicy, counts: np.ndarray,
            noise: np.ndarray) -> EpisodeResults:
    """Run the executing agent and the price engine over given count paths and shocks."""
    problem, extended = config.market, config.extended
    episodes, steps = noise.shape
    fields = ensemble.field(config.ensemble, counts[:, 1:])
    prices = np.empty((episodes, steps + 1))
    holdings = np.empty((episodes, steps + 1))
    trades = np.empty((episodes, steps))
    fills = np.empty((episodes, steps))
    prices[:, 0] = problem.price
    holdings[:, 0] = problem.shares
    for k in range(1, steps + 1):
        held, price, field = holdings[:, k - 1], prices[:, k - 1], fields[:, k - 1]
        if k == steps:
            trade = held.copy()
        else:
            trade = policy.trades(Observation(k, steps - k + 1, held, price, field,
                                              counts[:, k]))
        trades[:, k - 1] = trade
        fills[:, k - 1] = market.fill_price(problem, price, trade)
        holdings[:, k] = held - trade
        prices[:, k] = market.next_price(problem, extended, price, trade, holdings[:, k], field,
                                         noise[:, k - 1])
    return EpisodeResults.from_paths(problem, prices=prices, fills=fills, fields=fields,
                                     momentum_counts=counts, holdings=holdings, trades=trades)


def simulate_block(config: SimulationConfig, block: int, first: int = 0,
                   count: int = BLOCK_SIZE,
                   policy: ExecutionPolicy | None = None) -> EpisodeResults:
    """Episodes block·BLOCK_SIZE + first .. + count - 1 of root seed config.seed."""
    steps = config.market.steps
    counts = ensemble_paths(config.ensemble, config.seed, block, steps, first, count)
    if policy is None:
        policy = make_policy(config)
    policy.start(config)
    return execute(config, policy, counts, noise_shocks(config.seed, block, steps, first, count))
