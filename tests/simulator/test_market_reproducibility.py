"""Seeds, episodes and the random-stream protocol (MODEL.md §5, simulator/randomness.py).

- Same (config, seed, episode) -> identical episode, every array equal.
- Different seeds -> different episodes; seed 0 is a seed like any other.
- Episode i of seed s does not depend on which other episodes were run, or in what order.
- The protocol, re-implemented here from its documentation (SeedSequence(seed,
  spawn_key=(block, stream)), PCG64 advanced to the episode's first draw, one double per
  draw, ξ = Φ⁻¹(max(u, 2⁻⁵⁴))), reproduces the Mesa episode: the initial count, every
  count move (Kirman and random-walk, simulated here from the uniforms) and every
  price shock recovered from the price path.
- Common random numbers: two strategies see the same shocks and the same ensemble path.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode

BLOCK = 4096
FIELDS = ("prices", "fills", "fields", "momentum_counts", "holdings", "trades", "shortfall",
          "shortfall_bps")


def config_for(seed=0, strategy=None, **ensemble):
    section = {"agents": 12, "switch_to_momentum": 0.1, "switch_to_mean_reversion": 0.15,
               "herding": 0.5, "initial": "stationary"}
    section.update(ensemble)
    return SimulationConfig().replace(
        market={"steps": 15, "horizon": 15.0, "volatility": 0.2},
        extended={"coupling": 0.05, "self_alpha": 1e-5},
        ensemble=section,
        strategy=strategy or {"name": "extended", "forecast": "model"},
        simulation={"seed": seed},
    )


def assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def differs(a, b):
    return not np.array_equal(a.prices, b.prices)


def test_same_seed_same_episode():
    first = run_episode(config_for(seed=42), 3)
    second = run_episode(config_for(seed=42), 3)   # a freshly built config
    assert_same(first, second)


def test_different_seeds_and_episodes_differ():
    base = run_episode(config_for(seed=0), 0)
    assert differs(base, run_episode(config_for(seed=1), 0))
    assert differs(base, run_episode(config_for(seed=0), 1))
    assert differs(run_episode(config_for(seed=1), 0), run_episode(config_for(seed=2), 0))
    # the ensemble paths differ too, not only the noise
    paths = {tuple(run_episode(config_for(seed=s), 0).momentum_counts[0]) for s in range(5)}
    assert len(paths) > 1


def test_episode_does_not_depend_on_other_episodes_run():
    config = config_for(seed=7)
    in_order = [run_episode(config, e) for e in range(6)]
    other = config_for(seed=8)
    for e in (5, 2, 4, 0, 3, 1):   # reversed / shuffled, interleaved with another seed
        run_episode(other, e)
        assert_same(run_episode(config, e), in_order[e])


def test_episodes_in_a_later_block_are_reproducible():
    config = config_for(seed=3)
    late = run_episode(config, BLOCK + 2)
    assert_same(late, run_episode(config, BLOCK + 2))
    assert differs(late, run_episode(config, 2))   # offset 2 of block 0 is another episode


# --- independent re-implementation of the protocol -------------------------------------

def protocol_generator(seed, episode, stream, draws_per_episode):
    block, offset = divmod(episode, BLOCK)
    bit_generator = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, stream)))
    bit_generator.advance(offset * draws_per_episode)
    return np.random.Generator(bit_generator)


def protocol_shocks(seed, episode, steps):
    uniforms = protocol_generator(seed, episode, 2, steps).random(steps)
    return ndtri(np.maximum(uniforms, 2.0**-54))


def protocol_initial_uniform(seed, episode):
    return protocol_generator(seed, episode, 0, 1).random()


def kirman_counts(m0, uniforms, M, a1, a2, b):
    """The count path from the micro-update uniforms, MODEL §4 + the draw protocol: u picks
    position floor(uM) of [MOM..., MR...]; the fractional part d decides own switch
    (d < a), copying (partner at floor((d-a)(M-1)/b) among the others, MOM first)."""
    path, m = [m0], m0
    for step in uniforms:
        for u in step:
            scaled = u * M
            position = int(scaled)
            d = scaled - position
            momentum = position < m
            own = a2 if momentum else a1
            switch = False
            if d < own:
                switch = True
            elif d < own + b:
                partner = int((d - own) * ((M - 1) / b))
                momentum_others = m - 1 if momentum else m
                switch = (partner < momentum_others) != momentum
            if switch:
                m += -1 if momentum else 1
        path.append(m)
    return np.array(path)


def random_walk_counts(m0, uniforms, M, p):
    path, m = [m0], m0
    for (u,) in uniforms:
        if u < p and m < M:
            m += 1
        elif p <= u < 2 * p and m > 0:
            m -= 1
        path.append(m)
    return np.array(path)


def recovered_shocks(config, result):
    """ξ_k from the price path: D_k = α_k τ + σ√τ ξ_k - side γ n_k."""
    problem, extended = config.market, config.extended
    tau = problem.horizon / problem.steps
    holdings, trades = result.holdings[0], result.trades[0]
    alpha = (problem.drift + extended.coupling * result.fields[0]
             - problem.side * extended.self_alpha * holdings[1:])
    moves = np.diff(result.prices[0])
    return (moves - alpha * tau + problem.side * problem.permanent_impact * trades) / (
        problem.volatility * np.sqrt(tau))


@pytest.mark.parametrize("seed, episode", [(0, 0), (0, 5), (123456789, 17), (5, BLOCK + 3)])
def test_kirman_episode_matches_reimplemented_protocol(seed, episode):
    M, a1, a2, b = 12, 0.1, 0.15, 0.5
    config = config_for(seed=seed)
    steps = config.market.steps
    result = run_episode(config, episode)
    # initial count: inverse CDF of the beta-binomial stationary law at the initial uniform
    cdf = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).cdf(np.arange(M + 1))
    m0 = int(np.argmax(cdf > protocol_initial_uniform(seed, episode)))
    assert result.momentum_counts[0, 0] == m0
    uniforms = protocol_generator(seed, episode, 1, steps * M).random(steps * M).reshape(steps, M)
    np.testing.assert_array_equal(result.momentum_counts[0],
                                  kirman_counts(m0, uniforms, M, a1, a2, b))
    np.testing.assert_allclose(recovered_shocks(config, result),
                               protocol_shocks(seed, episode, steps), rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed, episode", [(0, 0), (99, 40), (2, BLOCK + 1)])
def test_random_walk_episode_matches_reimplemented_protocol(seed, episode):
    M, p = 6, 0.3
    config = config_for(seed=seed, agents=M, switching="random-walk", step_probability=p,
                        initial=2)
    steps = config.market.steps
    result = run_episode(config, episode)
    uniforms = protocol_generator(seed, episode, 1, steps).random(steps).reshape(steps, 1)
    np.testing.assert_array_equal(result.momentum_counts[0],
                                  random_walk_counts(2, uniforms, M, p))
    np.testing.assert_allclose(recovered_shocks(config, result),
                               protocol_shocks(seed, episode, steps), rtol=0, atol=1e-8)


def test_common_random_numbers_across_strategies():
    seed, episode = 31, 4
    twap = config_for(seed=seed, strategy={"name": "twap"})
    adaptive = config_for(seed=seed, strategy={"name": "extended", "forecast": "persistent"})
    a, b = run_episode(twap, episode), run_episode(adaptive, episode)
    assert not np.allclose(a.trades, b.trades)              # different strategies ...
    np.testing.assert_array_equal(a.momentum_counts, b.momentum_counts)   # ... same ensemble
    np.testing.assert_allclose(recovered_shocks(twap, a), recovered_shocks(adaptive, b),
                               rtol=0, atol=1e-8)            # ... and the same shocks
