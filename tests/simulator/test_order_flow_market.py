"""The order-flow market (MODEL.md §6): the ensemble trades, in both engines.

Oracles:
- `tests.oracles.order_flow_recursion`, MODEL §6 written out step by step with plain floats
  (no acsim code): prices, efficient prices, flows, fills and IS to 1e-9;
- the Mesa model, agent by agent (every trader computes and sends its own order), against the
  vectorised engine: bit for bit;
- the field-drift market with coupling 0: the order-flow market without ensemble orders
  (φ = ψ = 0) has the same IS distribution (means and standard deviations within 4 SE);
- the linearised recursion of the order's impact I_k = S_k - F_k in a market whose shocks are
  all zero (so the market without the order stays at F): mean-reversion agents alone make it
  decay, momentum agents alone amplify it, with the sizes of the linear recursion.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from acsim.agents.policies import Observation
from acsim.simulator.config import SimulationConfig
from acsim.simulator.market_run import simulate_market
from acsim.simulator.model import ExecutionMarket, run_episode
from acsim.simulator.randomness import BLOCK_SIZE, momentum_shocks, noise_shocks
from acsim.simulator.statistics import variance_stderr
from acsim.simulator.vectorised import ensemble_paths, execute, simulate_block
from acsim.strategies import ensemble
from acsim.strategies.errors import ParameterError
from tests.oracles import order_flow_recursion, strategy_settings

STEPS, WARMUP, LOOKBACK, AGENTS = 10, 6, 3, 12
MARKET_FIELDS = ("prices", "efficient_prices", "flows", "fields", "momentum_counts")
PATH_FIELDS = ("momentum_counts", "fields", "prices", "fills", "holdings", "trades",
               "shortfall", "shortfall_bps")


def market_config(side="sell", switching="kirman", strategy=None, seed=0, **tables):
    """A small order-flow market whose ensemble moves prices a lot."""
    sign = 1.0 if side == "sell" else -1.0
    market = {"feedback": "order-flow", "steps": STEPS, "horizon": float(STEPS),
              "volatility": 0.2, "side": side, "drift": sign * 0.01, "permanent_impact": 2e-3,
              "temporary_impact": 0.01, "shares": 200.0}
    market.update(tables.pop("market", {}))
    flow = {"momentum_size": 2.0, "reversion_size": 3.0, "lookback": LOOKBACK,
            "momentum_sensitivity": 1.5, "reversion_sensitivity": 1.0, "momentum_noise": 4.0,
            "warmup": WARMUP}
    flow.update(tables.pop("order_flow", {}))
    agents = {"agents": AGENTS, "switch_to_momentum": 0.1, "switch_to_mean_reversion": 0.15,
              "herding": 0.5, "step_probability": 0.3, "initial": "stationary",
              "switching": switching}
    agents.update(tables.pop("ensemble", {}))
    return SimulationConfig().replace(market=market, order_flow=flow, ensemble=agents,
                                      strategy=strategy or {"name": "twap"},
                                      simulation={"seed": seed}, **tables)


def recursion_for(config, counts, trades, noise, shocks):
    market, flow = config.market, config.order_flow
    return order_flow_recursion(
        price=market.price, drift=market.drift, volatility=market.volatility,
        step_length=market.step_length, permanent_impact=market.permanent_impact,
        half_spread=market.half_spread, temporary_impact=market.temporary_impact,
        side=market.side, agents=config.ensemble.agents, momentum_size=flow.momentum_size,
        reversion_size=flow.reversion_size, lookback=flow.lookback,
        momentum_sensitivity=flow.momentum_sensitivity,
        reversion_sensitivity=flow.reversion_sensitivity, momentum_noise=flow.momentum_noise,
        warmup=flow.warmup, counts=counts, trades=trades, noise=noise, momentum_shocks=shocks)


def assert_matches_recursion(result, expected, index=0):
    paths = result.market
    np.testing.assert_allclose(paths.prices[index], expected["prices"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(paths.efficient_prices[index], expected["efficient_prices"],
                               rtol=1e-9, atol=0)
    np.testing.assert_allclose(paths.flows[index], expected["flows"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.fills[index], expected["fills"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(result.shortfall[index], expected["shortfall"], rtol=1e-9,
                               atol=1e-9)


# --- MODEL §6 step by step -----------------------------------------------------------------

@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("engine", ["vectorised", "mesa"])
def test_noise_free_twap_with_fixed_counts_equals_the_recursion(side, engine):
    """σ = 0, counts frozen (random-walk rule with p = 0), ν = 0: a deterministic market in
    which the drift starts a trend that momentum agents chase and mean-reversion agents
    fight (signals at their σ → 0 limit, sgn), with a TWAP order on top."""
    config = market_config(side, "random-walk", market={"volatility": 0.0},
                           ensemble={"step_probability": 0.0, "initial": 5},
                           order_flow={"momentum_noise": 0.0})
    result = (simulate_block(config, 0, 0, 1) if engine == "vectorised"
              else run_episode(config, 0))
    total = WARMUP + STEPS
    trades = np.full(STEPS, config.market.shares / STEPS)
    expected = recursion_for(config, np.full(total + 1, 5), trades, np.zeros(total),
                             np.zeros(total))
    assert_matches_recursion(result, expected)
    flows = expected["flows"]
    assert np.ptp(flows) > 1.0 and np.abs(result.market.prices[0] - 100.0).max() > 0.01


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_noisy_market_equals_the_recursion_on_the_protocol_draws(side):
    """σ > 0, ν > 0, Kirman switching, adaptive AC: the recursion fed the episode's count
    path and its ξ and ζ draws (streams 2 and 3 of the block, warm-up steps first)."""
    config = market_config(side, strategy={"name": "ac-adaptive"}, seed=5)
    total = WARMUP + STEPS
    result = simulate_block(config, 1, 7, 3)
    counts = ensemble_paths(config.ensemble, 5, 1, total, 7, 3)
    noise = noise_shocks(5, 1, total, 7, 3)
    shocks = momentum_shocks(5, 1, total, 7, 3)
    for index in range(3):
        expected = recursion_for(config, counts[index], result.trades[index], noise[index],
                                 shocks[index])
        assert_matches_recursion(result, expected, index)
    assert len(np.unique(counts)) > 2 and np.abs(result.market.flows).max() > 10.0


# --- engines agree ---------------------------------------------------------------------

STRATEGIES = strategy_settings((3.0, 1.0, 0.0, 2.0, 5.0, 1.0, 1.0, 4.0, 0.5, 2.0))
REPLAYED = ["twap", "vwap", "ac-static", "ac-adaptive", "extended/persistent",
            "extended/model+no-buyback"]
CASES = list(itertools.product(REPLAYED, ("kirman", "random-walk"), ("sell", "buy")))


def assert_replays(config, block, first, count):
    fast = simulate_block(config, block, first, count)
    for i in range(count):
        slow = run_episode(config, block * BLOCK_SIZE + first + i)
        for name in PATH_FIELDS:
            assert np.array_equal(getattr(fast, name)[i], getattr(slow, name)[0]), name
        for name in MARKET_FIELDS:
            assert np.array_equal(getattr(fast.market, name)[i],
                                  getattr(slow.market, name)[0]), name


@pytest.mark.parametrize("label, switching, side", CASES,
                         ids=[f"{a}-{b}-{c}" for a, b, c in CASES])
def test_every_episode_replays_bit_for_bit_in_mesa(label, switching, side):
    """Planners believe a coupling on the count field (what the executing agent sees), so the
    ensemble's count reaches their trades too."""
    seed = CASES.index((label, switching, side))
    config = market_config(side, switching, STRATEGIES[label], seed=seed,
                           beliefs={"extended": {"coupling": 0.02}})
    assert_replays(config, 0, 3, 2)
    assert_replays(config, 2, BLOCK_SIZE - 1, 1)


def test_the_default_order_flow_market_replays():
    config = SimulationConfig().replace(market={"feedback": "order-flow"},
                                        ensemble={"initial": "stationary"},
                                        strategy={"name": "extended", "forecast": "model"},
                                        beliefs={"extended": {"coupling": 0.01}},
                                        simulation={"seed": 11})
    assert_replays(config, 0, 0, 2)


class ZeroTrades:
    """Trades nothing (the last step still trades the whole order)."""

    uses_field = False

    def start(self, beliefs):
        pass

    def trades(self, observation):
        return np.zeros(observation.holdings.shape)


def test_market_only_runs_equal_the_engines_wherever_the_order_does_not_trade():
    """`simulate_market` (compiled loop) with W + N steps: run r is episode r of the engines;
    it equals their warm-up bit for bit, and every step before the last when the executing
    agent trades nothing; the last step (the whole order) makes them differ."""
    config = market_config(strategy={"name": "twap"}, seed=3)
    total = WARMUP + STEPS
    fast = simulate_block(config, 1, 10, 2, policy=ZeroTrades())
    for i in range(2):
        run = BLOCK_SIZE + 10 + i
        alone = simulate_market(config, total, run)
        slow = run_episode(config, run, policy=ZeroTrades())
        for engine in (fast.market, slow.market):
            index = i if engine is fast.market else 0
            assert np.array_equal(alone.prices[:total], engine.prices[index, :total])
            assert np.array_equal(alone.efficient_prices, engine.efficient_prices[index])
            assert np.array_equal(alone.flows, engine.flows[index])
            assert np.array_equal(alone.momentum_counts, engine.momentum_counts[index])
            assert alone.prices[total] != engine.prices[index, total]
    traded = simulate_block(config, 1, 10, 1)  # TWAP: equal over the warm-up only
    alone = simulate_market(config, total, BLOCK_SIZE + 10)
    assert np.array_equal(alone.prices[:WARMUP + 1], traded.market.prices[0, :WARMUP + 1])
    assert not np.array_equal(alone.prices[WARMUP + 1], traded.market.prices[0, WARMUP + 1])


def test_long_market_runs_do_not_depend_on_the_chunk_size(monkeypatch):
    """The count path is generated in chunks of steps from the one ensemble stream."""
    import acsim.simulator.market_run as market_run

    config = market_config(seed=2)
    whole = simulate_market(config, 500, 3)
    monkeypatch.setattr(market_run, "UNIFORMS_AT_ONCE", 7 * AGENTS)
    chunked = simulate_market(config, 500, 3)
    assert np.array_equal(whole.prices, chunked.prices)
    assert np.array_equal(whole.momentum_counts, chunked.momentum_counts)


# --- the ensemble without orders is the field-drift market -----------------------------------

def test_without_ensemble_orders_the_is_distribution_is_the_field_drift_markets():
    """φ = ψ = 0: Q = 0, S is the field-drift market with coupling 0 (other draws: the warm-up
    shifts the streams). The extended agent believes a coupling, so the count field it sees
    moves its trades and the IS: means and standard deviations agree within 4 SE."""
    beliefs = {"extended": {"coupling": 0.05}}
    strategy = {"name": "extended", "forecast": "persistent"}
    common = {"ensemble": {"initial": "stationary"}, "strategy": strategy, "beliefs": beliefs}
    drift = SimulationConfig().replace(**common)
    flow = SimulationConfig().replace(market={"feedback": "order-flow"},
                                      order_flow={"momentum_size": 0.0, "reversion_size": 0.0},
                                      **common)
    samples = [np.concatenate([simulate_block(config, block, 0, 1500).shortfall
                               for block in range(2)]) for config in (drift, flow)]
    (a, b) = samples
    mean_se = np.hypot(a.std(ddof=1) / np.sqrt(a.size), b.std(ddof=1) / np.sqrt(b.size))
    assert abs(a.mean() - b.mean()) < 4 * mean_se
    std_se = np.hypot(variance_stderr(a) / (2 * a.std()), variance_stderr(b) / (2 * b.std()))
    assert abs(a.std() - b.std()) < 4 * std_se
    # the count field really moves the trades: not a degenerate comparison
    twap = simulate_block(drift.replace(strategy={"name": "twap"}), 0, 0, 1500).shortfall
    assert abs(np.std(a[:1500] - twap)) > 0.1 * a.std()


# --- the order's impact: decay and amplification -------------------------------------------

class SellAtOnce:
    """Trades the whole order in step 1, nothing afterwards."""

    uses_field = False

    def start(self, beliefs):
        pass

    def trades(self, observation):
        return observation.holdings.copy() if observation.step == 1 else np.zeros(
            observation.holdings.shape)


def impact_paths(side, **order_flow):
    """I_k = S_k - F_k with every shock zero (the market without the order stays at F), and the
    linearised MODEL §6 recursion of the same I_k."""
    config = market_config(side, "random-walk", market={"volatility": 0.1, "drift": 0.0,
                                                        "shares": 50.0,
                                                        "permanent_impact": 1e-4,
                                                        "temporary_impact": 0.002},
                           ensemble={"step_probability": 0.0, "initial": 10, "agents": 20},
                           order_flow={"momentum_noise": 0.0, **order_flow})
    total = WARMUP + STEPS
    zeros = np.zeros((1, total))
    result = execute(config, config.started_policy(SellAtOnce()),
                     np.full((1, total + 1), 10), zeros, zeros)
    impact = result.market.prices[0] - result.market.efficient_prices[0]
    market, flow = config.market, config.order_flow
    gamma, sigma, tau = market.permanent_impact, market.volatility, market.step_length
    momentum = gamma * 10 * flow.momentum_size * flow.momentum_sensitivity / (
        sigma * np.sqrt(flow.lookback * tau))
    reversion = gamma * 10 * flow.reversion_size * flow.reversion_sensitivity / (
        sigma * np.sqrt(tau))
    linear = np.zeros(total + 1)
    for j in range(WARMUP + 1, total + 1):
        trade = market.shares if j == WARMUP + 1 else 0.0
        back = linear[max(j - 1 - flow.lookback, 0)]
        linear[j] = (linear[j - 1] + momentum * (linear[j - 1] - back)
                     - reversion * linear[j - 1] - market.side * gamma * trade)
    return impact, linear, gamma * market.shares


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_mean_reversion_agents_alone_make_the_impact_decay(side):
    impact, linear, first = impact_paths(side, momentum_size=0.0, reversion_size=20.0)
    sign = -1.0 if side == "sell" else 1.0
    after = impact[WARMUP + 1:]
    assert np.all(impact[:WARMUP + 1] == 0.0)
    assert after[0] == pytest.approx(sign * first, rel=1e-12)
    assert np.all(np.sign(after) == sign)
    assert np.all(np.abs(np.diff(after)) > 0) and np.all(np.diff(np.abs(after)) < 0)
    assert abs(after[-1]) < 0.2 * first  # 0.8^9 of the first move is left
    np.testing.assert_allclose(impact, linear, rtol=2e-3, atol=1e-12)


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_momentum_agents_alone_amplify_the_impact(side):
    impact, linear, first = impact_paths(side, momentum_size=20.0, reversion_size=0.0,
                                         lookback=2)
    sign = -1.0 if side == "sell" else 1.0
    after = impact[WARMUP + 1:]
    assert after[0] == pytest.approx(sign * first, rel=1e-12)
    assert np.all(np.sign(after) == sign)
    assert np.all(np.diff(np.abs(after)) > 0) and abs(after[-1]) > 1.5 * first
    np.testing.assert_allclose(impact, linear, rtol=2e-2, atol=1e-12)


# --- what the executing agent sees; what is reported -----------------------------------

class Recorder:
    """Trades TWAP and records every observation."""

    def start(self, beliefs):
        self.seen = []
        self.slice = beliefs.market.shares / beliefs.market.steps

    def trades(self, observation: Observation):
        self.seen.append(observation)
        return np.full(observation.holdings.shape, self.slice)


def test_the_executing_agent_sees_counts_and_prices_not_the_flow():
    """Observation.field is the count field α0·(2m_k - M)/M of the m_k it sees; price is
    S_{k-1}; the reported field is γ·Q_k/τ, which the agent could not have seen."""
    config = market_config(seed=4)
    recorder = Recorder()
    result = simulate_block(config, 0, 0, 3, policy=recorder)
    paths = result.market
    for observation in recorder.seen:
        k = observation.step
        counts = paths.momentum_counts[:, WARMUP + k]
        assert np.array_equal(observation.momentum_count, counts)
        assert np.array_equal(observation.field, ensemble.field(config.ensemble, counts))
        assert np.array_equal(observation.price, paths.prices[:, WARMUP + k - 1])
    market = config.market
    np.testing.assert_allclose(result.fields, market.permanent_impact
                               * paths.flows[:, WARMUP:] / market.step_length, rtol=1e-15)
    assert np.array_equal(result.prices, paths.prices[:, WARMUP:])
    assert np.array_equal(result.momentum_counts, paths.momentum_counts[:, WARMUP:])


def test_mesa_traders_send_their_own_orders_and_the_flow_is_their_sum_by_type():
    config = market_config(seed=6)
    model = ExecutionMarket(config, episode=2, collect_agents=True)
    while model.running:
        model.step()
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    reported = model.datacollector.get_model_vars_dataframe()
    assert set(agents.columns) >= {"type", "order"}
    for step in (1, WARMUP, WARMUP + 3):
        rows = agents[agents["Step"] == step]
        ensemble_rows = rows[rows["type"] != "executing"]
        for kind in ("momentum", "mean-reversion"):
            orders = ensemble_rows.loc[ensemble_rows["type"] == kind, "order"]
            if len(orders):
                assert orders.nunique() == 1
        np.testing.assert_allclose(ensemble_rows["order"].sum(),
                                   reported["ensemble_flow"].iloc[step], rtol=1e-12)
        executing = rows.loc[rows["type"] == "executing", "order"].iloc[0]
        expected = -reported["trade"].iloc[step] if step > WARMUP else 0.0
        assert executing == expected


# --- configuration ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["coupling", "self_alpha"])
def test_feedback_terms_of_the_field_drift_market_are_rejected_by_name(name):
    with pytest.raises(ParameterError, match=f"{name} must be 0 in the order-flow market"):
        market_config(extended={name: 0.01})
    market_config(beliefs={"extended": {name: 0.01}})  # a belief is not the market


def test_warmup_shorter_than_the_lookback_is_rejected():
    with pytest.raises(ParameterError, match="warmup must be >= lookback = 5"):
        SimulationConfig().replace(order_flow={"lookback": 5, "warmup": 4})
    with pytest.raises(ParameterError, match="feedback must be one of"):
        SimulationConfig().replace(market={"feedback": "orders"})


def test_the_field_drift_market_ignores_the_order_flow_table():
    """W = 0 and no momentum stream in the field-drift market: its results do not depend on
    [order_flow] (metamorphic), and it has no market paths."""
    base = SimulationConfig().replace(extended={"coupling": 0.01}, simulation={"seed": 9})
    other = base.replace(order_flow={"warmup": 80, "momentum_size": 5.0, "lookback": 7})
    one, two = simulate_block(base, 0, 0, 5), simulate_block(other, 0, 0, 5)
    assert np.array_equal(one.prices, two.prices) and one.market is None
    assert base.market_steps == base.market.steps
