"""Replay identity: every episode of the vectorised engine replays exactly in the Mesa model.

Oracle: `simulator.model.run_episode`, the agent-by-agent Mesa model (EnsembleTrader
objects that pick partners from lists, one executing agent, the DataCollector), which
shares only the random-stream protocol and the price/policy functions with the
vectorised engine (`simulate_block`, whose ensemble is the numba count kernel).

For every strategy (twap, vwap with a non-uniform profile, ac-static, ac-adaptive,
ac-adaptive+no-buyback, extended with persistent/model/none forecasts, extended+no-buyback),
both switching rules, both sides and every kind of initial count (balanced, stationary,
a given number), episodes of blocks 0, 1 and 2 at offsets > 0 (`first` > 0 in
`simulate_block`), across a chunk boundary of the ensemble kernel (CHUNK_EPISODES episodes) and
for many root seeds including 0, the vectorised path must equal the Mesa path bit for bit:
counts, fields, prices, fills, holdings, trades and IS (np.array_equal); IS additionally
to 1e-9 relative (implied, but stated as the contract).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.vectorised import CHUNK_EPISODES, simulate_block
from tests.oracles import strategy_settings

PATH_FIELDS = ("momentum_counts", "fields", "prices", "fills", "holdings", "trades",
               "shortfall", "shortfall_bps")
STEPS = 12
VWAP_PROFILE = (3.0, 1.0, 0.0, 2.0, 5.0, 1.0, 1.0, 4.0, 0.5, 2.0, 1.0, 6.0)
STRATEGIES = strategy_settings(VWAP_PROFILE)
SEEDS = (0, 1, 7, 2**32 + 5, 123_456_789, 2**63 - 1)
INITIALS = ("balanced", "stationary", 4)
# (block, first offset, count): offsets > 0 in blocks 0, 1 (episode 4096+17) and 2,
# and the last episode of a block
RANGES = ((0, 3, 3), (1, 17, 2), (2, BLOCK_SIZE - 1, 1))


def make_config(strategy, side="sell", switching="kirman", initial="stationary", seed=0,
                agents=12, drift=0.3, coupling=0.05, self_alpha=1e-5):
    """A small market with strong feedback: the field and self-alpha move prices a lot and
    the planned drift side·α = 0.3 is strong enough that no-buy-back constraints bind."""
    sign = 1.0 if side == "sell" else -1.0
    return SimulationConfig().replace(
        market={"steps": STEPS, "horizon": float(STEPS), "volatility": 0.2, "side": side,
                "drift": sign * drift},
        extended={"coupling": coupling, "self_alpha": self_alpha},
        ensemble={"agents": agents, "switch_to_momentum": 0.1, "switch_to_mean_reversion": 0.15,
                  "herding": 0.5, "step_probability": 0.3, "initial": initial,
                  "switching": switching, "field_scale": 5.0},
        strategy=strategy,
        simulation={"seed": seed},
    )


def assert_replays(config, block, first, count, indices=None):
    """Episodes block·4096 + first + i (i in indices) of the vectorised block equal Mesa."""
    fast = simulate_block(config, block, first, count)
    assert fast.shortfall.shape == (count,)
    for i in (range(count) if indices is None else indices):
        episode = block * BLOCK_SIZE + first + i
        slow = run_episode(config, episode)
        for name in PATH_FIELDS:
            expected, got = getattr(slow, name)[0], getattr(fast, name)[i]
            assert np.array_equal(expected, got), (
                f"{name} differs for episode {episode} (seed {config.seed}, "
                f"{config.strategy}, {config.ensemble.switching}, side {config.market.side}, "
                f"initial {config.ensemble.initial}):\nmesa {expected}\nfast {got}")
        np.testing.assert_allclose(fast.shortfall[i], slow.shortfall[0], rtol=1e-9, atol=0.0)
    return fast


CASES = list(itertools.product(STRATEGIES, ("kirman", "random-walk"), ("sell", "buy")))


@pytest.mark.parametrize("label, switching, side", CASES,
                         ids=[f"{a}-{b}-{c}" for a, b, c in CASES])
def test_every_strategy_rule_side_and_initial_count_replays(label, switching, side):
    position = CASES.index((label, switching, side))
    for offset, initial in enumerate(INITIALS):
        seed = SEEDS[(position + offset) % len(SEEDS)]
        config = make_config(STRATEGIES[label], side, switching, initial, seed)
        for block, first, count in RANGES:
            assert_replays(config, block, first, count)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42, 999, 2**31 - 1, 2**40 + 3])
def test_many_seeds_default_ensemble_replays(seed):
    """The default ensemble (M = 100 Kirman agents) with the extended/model strategy."""
    config = SimulationConfig().replace(extended={"coupling": 0.01, "self_alpha": 1e-6},
                                        ensemble={"initial": "stationary"},
                                        strategy={"name": "extended", "forecast": "model"},
                                        simulation={"seed": seed})
    assert_replays(config, 0, 0, 2)
    assert_replays(config, 1, 17, 1)


@pytest.mark.parametrize("switching", ["kirman", "random-walk"])
def test_chunk_boundary_of_the_count_kernel_replays(switching):
    """The kernel works through CHUNK_EPISODES episodes at a time: episodes on both sides of
    the boundary and the last one replay in Mesa."""
    config = make_config(STRATEGIES["extended/model"], "sell", switching, "stationary", seed=0)
    chunk, first = CHUNK_EPISODES, 250
    count = chunk + 60  # crosses the boundary between the first and the second chunk
    assert_replays(config, 0, first, count,
                   indices=[0, 5, chunk - 1, chunk, chunk + 1, count - 1])


@pytest.mark.parametrize("label, side", [("extended/persistent+no-buyback", "sell"),
                                         ("extended/model+no-buyback", "buy"),
                                         ("ac-adaptive+no-buyback", "buy")])
def test_no_buyback_episodes_of_a_large_batch_replay(label, side):
    """No-buy-back trades are planned for the whole batch at once (the episodes whose
    unconstrained plan buys back go through the active set): episodes of a 300-episode
    batch replay in Mesa (batch of 1), both where the constraint binds and where not."""
    config = make_config(STRATEGIES[label], side, "kirman", "stationary", seed=0)
    free = simulate_block(make_config(STRATEGIES[label.replace("+no-buyback", "")], side,
                                      "kirman", "stationary", seed=0), 1, 250, 300)
    binds = np.flatnonzero((free.trades < -1e-9).any(axis=1))
    loose = np.flatnonzero(~(free.trades < -1e-9).any(axis=1))
    indices = sorted(set(binds[:3]) | set(binds[-2:]) | set(loose[:2]) | {0, 255, 256, 299})
    assert len(binds) >= 3
    assert_replays(config, 1, 250, 300, indices=indices)


@pytest.mark.parametrize("label", ["extended/persistent", "extended/model+no-buyback", "vwap"])
def test_any_sub_range_of_a_block_equals_the_whole_block(label):
    """simulate_block(first, count) is a slice of simulate_block(0, 600), whatever the
    offset (independent of the kernel chunk it falls in)."""
    config = make_config(STRATEGIES[label], "buy", "kirman", "stationary", seed=0)
    whole = simulate_block(config, 1, 0, 600)
    for first, count in ((0, 1), (17, 3), (255, 2), (300, 257), (599, 1)):
        part = simulate_block(config, 1, first, count)
        for name in PATH_FIELDS:
            assert np.array_equal(getattr(part, name), getattr(whole, name)[first:first + count]), (
                name, first, count)


@pytest.mark.parametrize("label", ["ac-adaptive", "extended/persistent", "extended/model"])
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_no_buyback_cases_are_not_vacuous(label, side):
    """The replayed no-buy-back cases matter: the unconstrained strategy buys back in some
    of these episodes, the constrained one never trades against the order."""
    free = simulate_block(make_config(STRATEGIES[label], side, "kirman", "stationary", seed=0),
                          0, 0, 64)
    bound = simulate_block(make_config(STRATEGIES[label + "+no-buyback"], side, "kirman",
                                       "stationary", seed=0), 0, 0, 64)
    assert (free.trades < -1e-9).any()
    assert (bound.trades >= -1e-9).all()
    assert not np.array_equal(free.shortfall, bound.shortfall)


def test_replay_is_sensitive_to_the_episode_number_and_seed():
    """Guard for the oracle: neighbouring episodes and other seeds give other paths, so
    equality above is not an accident of a degenerate configuration."""
    config = make_config(STRATEGIES["extended/model"], "sell", "kirman", "stationary", seed=0)
    fast = simulate_block(config, 1, 17, 2)
    other = run_episode(config, BLOCK_SIZE + 18)
    assert not np.array_equal(fast.prices[0], other.prices[0])
    assert not np.array_equal(fast.momentum_counts[0], other.momentum_counts[0])
    reseeded = run_episode(make_config(STRATEGIES["extended/model"], seed=1), BLOCK_SIZE + 17)
    assert not np.array_equal(fast.prices[0], reseeded.prices[0])
    # the counts really move, and the given initial count is honoured
    assert len(np.unique(fast.momentum_counts[0])) > 2
    given = simulate_block(make_config(STRATEGIES["twap"], initial=4), 0, 0, 5)
    assert (given.momentum_counts[:, 0] == 4).all()
    balanced = simulate_block(make_config(STRATEGIES["twap"], initial="balanced"), 0, 0, 5)
    assert (balanced.momentum_counts[:, 0] == 6).all()
