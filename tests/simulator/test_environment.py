"""The Gymnasium environments: Gymnasium's own checker, the same episodes as `acsim simulate`,
the vector environment's episodes equal the single ones, built-in strategies as policies.

Oracles: `acsim episode --format json` (the Mesa engine, through the command line) and
`simulate_block` / `acsim simulate --engine fast` (the vectorised engine driven by its own loop,
not by the environment); the IS identity Σ n_k = X (rewards add up to -IS); the variance formula
V = σ²τΣx_k² of strategies.costs for the risk penalty; Gymnasium's `check_env` and its data
helpers for the API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

from acsim.experiments.cli import main
from acsim.simulator.config import SimulationConfig
from acsim.simulator.environment import (
    ExecutionEnv,
    ExecutionVectorEnv,
    StrategyPolicy,
)
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.vectorised import simulate_block
from acsim.strategies.costs import shortfall_variance
from acsim.strategies.errors import ParameterError

REPOSITORY = Path(__file__).resolve().parents[2]
# a small market with every feedback term on: drift, coupling, self-alpha, a Kirman ensemble
MARKET = {"steps": 8, "horizon": 8.0, "agents": 12, "coupling": 0.05, "self_alpha": 1e-5,
          "drift": 0.01, "volatility": 0.2, "switch_to_momentum": 0.1,
          "switch_to_mean_reversion": 0.15, "initial": "stationary"}
MARKET_SHARES = SimulationConfig().market.shares


def run_episode_in(env, policy):
    """Drive one episode (already reset); (rewards, final info, holdings path x_0..x_N)."""
    rewards, holdings = [], [env.unwrapped.market_observation().holdings.copy()]
    done = False
    while not done:
        _, reward, done, truncated, info = env.step(policy())
        assert not truncated
        rewards.append(reward)
        holdings.append(np.atleast_1d(env.unwrapped.episodes.current.state()[0]).copy())
    return np.array(rewards), info, np.array(holdings).T


def test_check_env_passes_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for keywords in (MARKET, {"risk_penalty": 0.002, "lowest_fraction": -1.0,
                                  "highest_fraction": 1.0}):
            env = gymnasium.make("acsim/Execution-v0", **keywords)
            assert isinstance(env.unwrapped, ExecutionEnv)
            check_env(env.unwrapped)


def test_the_vector_environment_follows_gymnasiums_vector_api():
    """check_env takes only gymnasium.Env, so its checks are made here for the vector API:
    batched spaces, reset determinism, fresh arrays, observations in the space, next-step
    autoreset."""
    env = gymnasium.make_vec("acsim/Execution-v0", num_envs=3, **MARKET)
    assert isinstance(env, ExecutionVectorEnv)
    single = ExecutionEnv(**MARKET)
    assert env.single_observation_space == single.observation_space
    assert env.single_action_space == single.action_space
    assert env.observation_space.shape == (3, 6) and env.action_space.shape == (3, 1)
    first, info = env.reset(seed=123)
    assert first in env.observation_space
    assert list(info["episode_number"]) == [0, 1, 2] and info["_episode_number"].all()
    following, _ = env.reset()
    assert not data_equivalence(first, following)
    again, _ = env.reset(seed=123)
    assert data_equivalence(first, again, exact=True) and again is not first
    actions = env.action_space.sample()
    one = env.step(actions)
    env.reset(seed=123)
    two = env.step(actions)
    for a, b in zip(one, two):
        assert data_equivalence(a, b, exact=True)
    assert one[0] is not two[0] and one[0] in env.observation_space
    for _ in range(MARKET["steps"] - 1):
        observation, rewards, terminated, truncated, info = env.step(env.action_space.sample())
    assert terminated.all() and not truncated.any() and info["_shortfall"].all()
    assert observation[:, 0].tolist() == [0.0] * 3 and np.all(observation[:, 1] == 0.0)
    # next-step autoreset: the action is ignored, rewards are 0, the next episodes begin
    observation, rewards, terminated, truncated, info = env.step(env.action_space.sample())
    assert not terminated.any() and np.all(rewards == 0.0)
    assert list(info["episode_number"]) == [3, 4, 5]
    expected, _ = single.reset(seed=123, options={"episode": 3})
    assert data_equivalence(observation[0], expected, exact=True)


def acsim_episode(capsys, episode, seed):
    """IS of one episode as `acsim episode` (the Mesa engine) reports it."""
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in MARKET.items()]
    assert main(["episode", "--strategy", "twap", "--seed", str(seed), "--episode",
                 str(episode), "--format", "json", *flags]) == 0
    return json.loads(capsys.readouterr().out)["shortfall"]


def test_twap_episodes_are_those_of_acsim_simulate(capsys):
    """Episode i of seed s in ExecutionEnv under TWAP: the IS of `acsim episode` (Mesa) and of
    `acsim simulate --engine fast` (its mean over episodes 0..n-1) to 1e-9, across a block."""
    seed = 11
    env = ExecutionEnv(**MARKET, strategy="twap")
    twap = StrategyPolicy(env, "twap")
    env.reset(seed=seed)
    shortfalls = []
    for episode in range(4):
        rewards, info, _ = run_episode_in(env, twap)
        assert info["episode_number"] == episode
        shortfalls.append(info["shortfall"])
        np.testing.assert_allclose(rewards.sum(), -info["shortfall"], rtol=1e-9)
        env.reset()
    for episode in (0, 3):
        np.testing.assert_allclose(shortfalls[episode], acsim_episode(capsys, episode, seed),
                                   rtol=1e-9, atol=1e-9)
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in MARKET.items()]
    assert main(["simulate", "--engine", "fast", "--backend", "inline", "--strategy", "twap",
                 "--episodes", "4", "--seed", str(seed), "--format", "json", *flags]) == 0
    mean = json.loads(capsys.readouterr().out)["mean_is"]
    np.testing.assert_allclose(np.mean(shortfalls), mean, rtol=1e-9)
    env.reset(seed=seed, options={"episode": BLOCK_SIZE})  # the first episode of block 1
    _, info, _ = run_episode_in(env, twap)
    np.testing.assert_allclose(info["shortfall"], acsim_episode(capsys, BLOCK_SIZE, seed),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("strategy, options", [
    ("twap", {}), ("ac-static", {}), ("ac-adaptive", {}),
    ("extended", {"forecast": "model"}), ("extended", {"forecast": "persistent"}),
])
def test_built_in_strategies_act_in_the_vector_environment(strategy, options):
    """Each strategy as a policy makes the episodes the engine makes with it (simulate_block),
    with the action range widened so that a strategy may buy back."""
    config = SimulationConfig().replace(
        market={"steps": 8, "horizon": 8.0, "drift": 0.01, "volatility": 0.2},
        extended={"coupling": 0.05, "self_alpha": 1e-5},
        ensemble={"agents": 12, "switch_to_momentum": 0.1, "switch_to_mean_reversion": 0.15},
        strategy={"name": strategy, **options}, simulation={"seed": 5})
    env = ExecutionVectorEnv(6, config, lowest_fraction=-5.0, highest_fraction=5.0)
    policy = StrategyPolicy(env, strategy, **options)
    env.reset(seed=5)
    total = np.zeros(6)
    for _ in range(8):
        _, rewards, terminated, _, info = env.step(policy())
        total += rewards
    assert terminated.all()
    expected = simulate_block(config, 0, 0, 6)
    np.testing.assert_allclose(info["shortfall"], expected.shortfall, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(total, -expected.shortfall, rtol=1e-9, atol=1e-9)


def test_an_impact_model_and_switching_rule_of_your_own_reach_the_environment():
    """The environment runs whatever the engine runs: a decaying-impact model and the random-walk
    rule named by path and word give, under TWAP, the engine's own IS (simulate_block)."""
    keywords = dict(MARKET, impact="tests.simulator.test_extension_points:IMPACT",
                    switching="random-walk", strategy="twap")
    env = ExecutionVectorEnv(4, seed=8, **keywords)
    policy = StrategyPolicy(env, "twap")
    env.reset()
    for _ in range(MARKET["steps"]):
        _, _, terminated, _, info = env.step(policy())
    assert terminated.all()
    expected = simulate_block(env.config, 0, 0, 4)
    np.testing.assert_allclose(info["shortfall"], expected.shortfall, rtol=1e-9, atol=1e-9)
    linear = simulate_block(env.config.replace(impact={"model": "linear"}), 0, 0, 4)
    assert not np.allclose(info["shortfall"], linear.shortfall)  # the model made a difference


def test_vector_episodes_equal_the_single_ones_across_a_block_boundary():
    """Episodes 4093..4097 (two blocks) in one vector environment, under extended AC with the
    model forecast and no buy-back, equal the single environment's, value for value."""
    keywords = dict(MARKET, strategy="extended", forecast="model", no_buyback=True)
    vector = ExecutionVectorEnv(5, seed=2, **keywords)
    observations = [vector.reset(options={"episode": BLOCK_SIZE - 3})[0]]
    policy = StrategyPolicy(vector)
    rewards = []
    for _ in range(MARKET["steps"]):
        observation, reward, _, _, info = vector.step(policy())
        observations.append(observation)
        rewards.append(reward)
    assert list(info["episode_number"]) == list(range(BLOCK_SIZE - 3, BLOCK_SIZE + 2))
    single = ExecutionEnv(seed=2, **keywords)
    policy = StrategyPolicy(single)
    for slot in range(5):
        seen = [single.reset(options={"episode": BLOCK_SIZE - 3 + slot})[0]]
        got = []
        for _ in range(MARKET["steps"]):
            observation, reward, _, _, last = single.step(policy())
            seen.append(observation)
            got.append(reward)
        np.testing.assert_array_equal(np.array(seen), np.array(observations)[:, slot])
        np.testing.assert_array_equal(np.array(got), np.array(rewards)[:, slot])
        assert last["shortfall"] == info["shortfall"][slot]


def test_the_risk_penalty_is_lambda_sigma_squared_tau_sum_of_squared_holdings():
    """Σ r = -IS - λ·V(x) with V = σ²τΣx_k² of the path the agent took."""
    penalty = 0.003
    env = ExecutionEnv(**MARKET, risk_penalty=penalty)
    plain = ExecutionEnv(**MARKET)
    for environment in (env, plain):
        environment.reset(seed=4)
    front = np.array([0.5])
    rewards, info, holdings = run_episode_in(env, lambda: front)
    plain_rewards, _, _ = run_episode_in(plain, lambda: front)
    variance = shortfall_variance(env.config.market, holdings[0])
    np.testing.assert_allclose(rewards.sum(), -info["shortfall"] - penalty * variance,
                               rtol=1e-9)
    np.testing.assert_allclose(plain_rewards.sum(), -info["shortfall"], rtol=1e-9)
    assert holdings[0, 1] == 0.5 * MARKET_SHARES



def test_actions_are_fractions_of_holdings_clipped_to_the_range():
    env = ExecutionEnv(**MARKET)
    env.reset(seed=0)
    env.step(np.array([-3.0]))  # clipped to 0: nothing traded
    assert env.market_observation().holdings[0] == MARKET_SHARES
    env.step(np.array([0.25]))
    assert env.market_observation().holdings[0] == 0.75 * MARKET_SHARES
    env.step(np.array([7.0]))  # clipped to 1: everything
    assert env.market_observation().holdings[0] == 0.0
    wide = ExecutionEnv(**MARKET, lowest_fraction=-1.0)
    wide.reset(seed=0)
    wide.step(np.array([-0.5]))  # a buy-back of half the holdings
    assert wide.market_observation().holdings[0] == 1.5 * MARKET_SHARES


def test_observation_is_time_holdings_price_field_and_count():
    env = ExecutionEnv(**MARKET)
    observation, _ = env.reset(seed=9)
    seen = env.market_observation()
    problem, ensemble = env.config.market, env.config.ensemble
    expected = [1.0, 1.0, 0.0, seen.field[0] / ensemble.field_scale,
                seen.momentum_count[0] / ensemble.agents, 0.0]
    np.testing.assert_allclose(observation, expected, rtol=1e-6)
    observation, *_ = env.step(np.array([0.5]))
    seen = env.market_observation()
    move = (seen.price[0] - problem.price) / (problem.volatility * np.sqrt(problem.horizon))
    np.testing.assert_allclose(observation[:3], [7 / 8, 0.5, move], rtol=1e-6)


def test_bad_input_is_a_named_error():
    with pytest.raises(ParameterError, match="lowest_fraction"):
        ExecutionEnv(lowest_fraction=1.0)
    with pytest.raises(ParameterError, match="risk_penalty"):
        ExecutionEnv(risk_penalty=-1.0)
    with pytest.raises(ParameterError, match="unknown parameter 'couplings'"):
        ExecutionEnv(couplings=0.1)
    with pytest.raises(ParameterError, match="num_envs"):
        ExecutionVectorEnv(0)
    env = ExecutionEnv()
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(np.array([0.5]))
    env.reset()
    with pytest.raises(ParameterError, match="finite fractions"):
        env.step(np.array([np.nan]))
    with pytest.raises(ParameterError, match="episode"):
        env.reset(options={"episode": -1})
    with pytest.raises(ParameterError, match="unknown reset option"):
        env.reset(options={"episodes": 1})


def test_registered_for_make_without_importing_acsim():
    """The module:env-id form needs no import; --help imports neither acsim.simulator nor
    gymnasium (tests/test_layers.py checks what it imports)."""
    code = ("import gymnasium\n"
            "env = gymnasium.make('acsim.simulator.environment:acsim/Execution-v0', agents=10)\n"
            "vector = gymnasium.make_vec('acsim/Execution-v0', num_envs=4)\n"
            "print(type(env.unwrapped).__name__, type(vector).__name__, vector.num_envs)\n")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPOSITORY.parent).stdout
    assert output.split() == ["ExecutionEnv", "ExecutionVectorEnv", "4"]


def test_order_flow_market_rewards_add_up_to_minus_is_from_the_arrival_after_warm_up():
    """In the order-flow market S_0 is the price after the warm-up: the first price move is 0
    and the rewards of TWAP add up to -IS, across a block boundary too."""
    env = gymnasium.make_vec("acsim/Execution-v0", num_envs=3, feedback="order-flow", warmup=30,
                             agents=20, steps=8, horizon=8.0, initial="stationary")
    observations, _ = env.reset(seed=4, options={"episode": 4094})
    np.testing.assert_array_equal(observations[:, 2], 0.0)
    total = np.zeros(3)
    for k in range(8):  # TWAP: a fraction 1/(steps left) of what is left
        observations, rewards, terminated, _, info = env.step(np.full((3, 1), 1.0 / (8 - k)))
        total += rewards
    np.testing.assert_allclose(-total, info["shortfall"], rtol=1e-9, atol=1e-9)
    config = env.config
    direct = simulate_block(config.replace(strategy={"name": "twap"}), 0, 4094, 2)
    np.testing.assert_allclose(info["shortfall"][:2], direct.shortfall, rtol=1e-12)


def test_the_regime_is_observed_and_the_risk_penalty_uses_its_volatility():
    env = ExecutionEnv(regimes="markov", regime_volatilities=(0.05, 0.4),
                       regime_transition=(0.8, 0.2, 0.3, 0.7), steps=6, horizon=6.0,
                       risk_penalty=0.01)
    observation, _ = env.reset(seed=2)
    assert env.observation_space.high[5] == 1.0
    batch_regimes = env.market_observation().regime
    assert observation[5] == batch_regimes[0]
    held_before = env.market_observation().holdings[0]
    observation, reward, *_ = env.step(np.array([0.25]))
    sigma = (0.05, 0.4)[int(batch_regimes[0])]
    after = 0.75 * held_before
    problem = env.config.market
    seen = env.market_observation()
    fill = problem.price - problem.half_spread - problem.temporary_impact / problem.step_length \
        * 0.25 * held_before
    expected = -0.25 * held_before * (problem.price - fill) - 0.01 * sigma**2 * after**2
    assert reward == pytest.approx(expected, rel=1e-12)
    assert observation[5] == seen.regime[0]
