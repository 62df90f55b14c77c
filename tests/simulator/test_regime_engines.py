"""Volatility regimes (MODEL.md §8) in both engines: their own stream, step k's shock with step
k's regime, the regime seen by the executing agent, and nothing else changed.

Oracles: the stream protocol written out here (PCG64 stream SeedSequence(seed, spawn_key=(block,
3)), one uniform per step, inverse CDF of the initial law and of the transition rows); the price
identity S_k - S_{k-1} = (α + ...)τ + σ_{s_k}√τ·ξ_k - side·γ·n_k with ξ rebuilt from the noise
stream; the chain's stationary law and transition matrix (seeded frequencies within stated
tolerances); runs without regimes, which must not change when a market gets regimes with one
volatility; the Mesa model against the vectorised engine, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.agents.policies import Beliefs, Observation
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.simulator.randomness import BLOCK_SIZE, regime_paths
from acsim.simulator.study import Study, load_episodes, run_study
from acsim.simulator.vectorised import simulate_block
from acsim.strategies.errors import ParameterError
from tests.oracles import price_shocks
from tests.simulator.test_vectorised_replay import assert_replays

TWO = {"model": "markov", "volatilities": (0.05, 0.3), "transition": ((0.8, 0.2), (0.3, 0.7))}
STATIONARY = np.array([0.6, 0.4])  # π P = π: 0.2·π_0 = 0.3·π_1


def regime_market(strategy, regimes=TWO, seed=3, **beliefs):
    return SimulationConfig(seed=seed).replace(
        market={"steps": 10, "horizon": 10.0}, extended={"coupling": 0.01, "self_alpha": 1e-5},
        regimes=regimes, strategy=strategy, beliefs=beliefs)


def written_out_paths(seed, block, first, count, steps, initial_law, transition):
    """The protocol by hand: uniforms of stream (block, 4) from position first·N, s_1 = the
    first index whose cumulative initial probability exceeds u_1, s_k likewise on row s_{k-1}."""
    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(block, 4))))
    generator.bit_generator.advance(first * steps)
    uniforms = generator.random(count * steps).reshape(count, steps)
    paths = np.empty((count, steps), dtype=int)
    for e in range(count):
        law = np.asarray(initial_law)
        for k in range(steps):
            cumulative, state = 0.0, len(law) - 1
            for index, probability in enumerate(law[:-1]):
                cumulative += probability
                if uniforms[e, k] < cumulative:
                    state = index
                    break
            paths[e, k] = state
            law = np.asarray(transition[state])
    return paths


@pytest.mark.parametrize("initial", ["stationary", 1])
def test_regime_paths_follow_the_stream_protocol(initial):
    config = regime_market({"name": "twap"}, dict(TWO, initial=initial))
    law = STATIONARY if initial == "stationary" else np.array([0.0, 1.0])
    for block, first, count in ((0, 0, 7), (2, 4000, 5)):
        got = regime_paths(config.regimes, config.seed, block, 10, first, count)
        expected = written_out_paths(config.seed, block, first, count, 10, law, TWO["transition"])
        np.testing.assert_array_equal(got, expected)
    assert regime_paths(SimulationConfig().regimes, 0, 0, 10, 0, 4) is None


def test_regime_frequencies_match_the_chain():
    """4,096 episodes × 40 steps from the stationary start: regime frequencies within 0.01 of π
    (standard error about 0.004 with the chain's correlation) and transition frequencies within
    0.01 of P."""
    config = regime_market({"name": "twap"})
    paths = regime_paths(config.regimes, 11, 0, 40, 0, BLOCK_SIZE)
    frequencies = np.bincount(paths.ravel(), minlength=2) / paths.size
    np.testing.assert_allclose(frequencies, STATIONARY, atol=0.01)
    np.testing.assert_allclose(np.bincount(paths[:, 0], minlength=2) / BLOCK_SIZE, STATIONARY,
                               atol=0.03)
    before, after = paths[:, :-1].ravel(), paths[:, 1:].ravel()
    for state in (0, 1):
        moves = np.bincount(after[before == state], minlength=2) / np.sum(before == state)
        np.testing.assert_allclose(moves, TWO["transition"][state], atol=0.01)


def test_step_k_shock_uses_step_k_regime():
    """TWAP in a market without feedback: S_k - S_{k-1} = σ_{s_k}·√τ·ξ_k - γ·n_k exactly."""
    config = SimulationConfig(seed=8).replace(market={"steps": 10, "horizon": 10.0},
                                              regimes=TWO, strategy={"name": "twap"})
    result = simulate_block(config, 1, 30, 6)
    shocks = price_shocks(8, 1, 36, 10)[30:]
    sigma = np.array(TWO["volatilities"])[result.regimes]
    gamma = config.market.permanent_impact
    np.testing.assert_allclose(np.diff(result.prices, axis=1),
                               sigma * shocks - gamma * result.trades, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(result.regimes, regime_paths(config.regimes, 8, 1, 10, 30, 6))
    assert len(np.unique(result.regimes)) == 2


@pytest.mark.parametrize("strategy", [{"name": "extended", "forecast": "model"},
                                      {"name": "ac-static"}, {"name": "vwap",
                                      "volume_profile": tuple(range(1, 11))}])
def test_one_volatility_regime_changes_no_result(strategy):
    """Regimes with the market's σ (one regime, or two equal ones): every path as without
    regimes, digit for digit. The regime stream is a new stream: the others are untouched."""
    plain = regime_market(strategy, regimes={"model": "none"})
    base = simulate_block(plain, 0, 0, 300)
    for regimes in ({"model": "markov", "volatilities": (0.1,), "transition": ((1.0,),)},
                    {"model": "markov", "volatilities": (0.1, 0.1),
                     "transition": ((0.5, 0.5), (0.5, 0.5))}):
        other = simulate_block(regime_market(strategy, regimes=regimes), 0, 0, 300)
        for name in ("prices", "fills", "holdings", "trades", "shortfall", "momentum_counts"):
            np.testing.assert_array_equal(getattr(other, name), getattr(base, name))
    assert base.regimes is None


class RegimeRecorder:
    """Trades TWAP and records the regimes it is shown."""

    def start(self, beliefs: Beliefs) -> None:
        self.seen = []

    def trades(self, observation: Observation) -> np.ndarray:
        self.seen.append(observation.regimes().copy())
        return observation.holdings / observation.remaining_steps


def test_the_executing_agent_sees_the_regime_of_the_step_it_trades_in():
    config = regime_market({"name": "twap"})
    recorder = RegimeRecorder()
    result = simulate_block(config, 0, 0, 20, policy=recorder)
    np.testing.assert_array_equal(np.stack(recorder.seen, axis=1), result.regimes[:, :-1])
    mesa = RegimeRecorder()
    run_episode(config, 5, policy=mesa)
    np.testing.assert_array_equal(np.concatenate(mesa.seen), result.regimes[5, :-1])


@pytest.mark.parametrize("strategy", [{"name": "ac-adaptive"},
                                      {"name": "extended", "forecast": "model"},
                                      {"name": "regime-aware", "forecast": "persistent"},
                                      {"name": "ac-adaptive", "no_buyback": True}])
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_mesa_replays_regime_episodes(strategy, side):
    config = regime_market(strategy).replace(market={"side": side})
    assert_replays(config, 0, 2, 3)
    assert_replays(config, 1, 17, 1)


def test_studies_share_regime_paths_across_cases(tmp_path):
    """Two strategies in a regime market: each case's shortfall is that of simulate_block (the
    study draws the regime paths once per block)."""
    config = regime_market({"name": "twap"}).replace(simulation={"episodes": 200})
    study = Study(config, tuple(config.replace(strategy=s).strategy for s in
                                ({"name": "ac-adaptive"}, {"name": "regime-aware"})))
    run_study(study, tmp_path / "out", backend="inline", progress=False)
    frame = load_episodes(tmp_path / "out")
    for label, strategy in (("ac-adaptive", {"name": "ac-adaptive"}),
                            ("regime-aware/persistent", {"name": "regime-aware"})):
        expected = simulate_block(config.replace(strategy=strategy), 0, 0, 200).shortfall
        np.testing.assert_array_equal(frame[frame["strategy"] == label]["shortfall"], expected)


@pytest.mark.parametrize("changes, words", [
    ({"regimes": {"model": "markov"}}, ["needs volatilities and transition"]),
    ({"regimes": dict(TWO, transition=((0.8, 0.3), (0.3, 0.7)))}, ["rows must sum to 1"]),
    ({"regimes": dict(TWO, transition=(0.8, 0.2, 0.3))}, ["R² numbers"]),
    ({"regimes": dict(TWO, initial=2)}, ["initial regime must be in 0..1"]),
    ({"regimes": dict(TWO, volatilities=(0.1, -0.2))}, ["volatilities"]),
    ({"beliefs": {"regimes": {"model": "markov", "volatilities": [0.1],
                              "transition": [[1.0]]}}}, ["[beliefs.regimes]", "needs a market"]),
    ({"regimes": TWO, "beliefs": {"regimes": {"volatilities": [0.1, 0.2, 0.3],
                                              "transition": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}},
     ["believes in 3", "has 2"]),
    ({"strategy": {"name": "regime-aware", "no_buyback": True}},
     ["no_buyback applies to ac-adaptive, extended, not to 'regime-aware'"]),
    ({"regimes": TWO, "market": {"feedback": "order-flow"}},
     ["[regimes]", "not available in the order-flow market"]),
    ({"regimes": dict(TWO, transition=((1.0, 0.0), (0.0, 1.0)))},
     ["[regimes]", "never leaves", "irreducible"]),
])
def test_bad_regime_settings_are_named(changes, words):
    with pytest.raises(ParameterError) as error:
        SimulationConfig().replace(**changes)
    for word in words:
        assert word in str(error.value)


def test_a_market_with_regimes_needs_its_regime_paths():
    from acsim.simulator.vectorised import MarketBatch

    config = regime_market({"name": "twap"})
    with pytest.raises(ParameterError, match="needs their paths"):
        MarketBatch(config, np.zeros((2, 11), dtype=np.int64), np.zeros((2, 10)))


def test_results_of_several_batches_join_with_their_regimes_and_market_paths():
    """EpisodeResults.joined puts episodes one after another: every array, the regimes and
    the order-flow market's whole paths, as one batch of all of them would hold."""
    from acsim.simulator.results import EpisodeResults

    for config in (regime_market({"name": "ac-adaptive"}),
                   SimulationConfig(seed=4).replace(market={"feedback": "order-flow"},
                                                    order_flow={"warmup": 10},
                                                    strategy={"name": "twap"})):
        whole = simulate_block(config, 0, 5, 6)
        joined = EpisodeResults.joined([simulate_block(config, 0, 5, 2),
                                        simulate_block(config, 0, 7, 4)])
        for name in ("prices", "fills", "fields", "momentum_counts", "holdings", "trades",
                     "shortfall", "shortfall_bps"):
            np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))
        if whole.regimes is not None:
            np.testing.assert_array_equal(joined.regimes, whole.regimes)
        if whole.market is not None:
            for name in ("prices", "efficient_prices", "flows", "fields", "momentum_counts"):
                np.testing.assert_array_equal(getattr(joined.market, name),
                                              getattr(whole.market, name))
