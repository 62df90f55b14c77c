"""Gymnasium environments of the market: `ExecutionEnv` (one episode at a time) and
`ExecutionVectorEnv` (E episodes advancing together: one `step` advances every episode).

Both drive the vectorised engine's `MarketBatch` (built by `vectorised.market_batch`), so the
market is the one `acsim simulate` runs, with every part of the configuration (feedback terms,
switching rule, impact model, and what later engines add). The episodes are the same too:
`reset(seed=s)` starts episode 0 of root seed s and each later `reset()` the next one (the vector
environment: episodes 0..E-1, then E..2E-1, ...); `reset(options={"episode": i})` jumps to
episode i. Episode i of root seed s here is episode i of `acsim simulate --seed s`. Gymnasium's
`np_random` is seeded as its API requires but never drawn from: every random number comes from
the random-stream protocol (simulator/randomness.py, MODEL.md §5).

Observation before step k (float32, six values; after step N the terminal observation, with
time_left 0 and the last field, count and regime):

    time_left       (N - k + 1)/N, the share of steps left, this one included          [0, 1]
    holdings        x_{k-1}/X, the share of the order still to trade                    [0, 1]*
    price_move      (S_{k-1} - S_0)/(σ·√T), the move since arrival in horizon-σ units (S_0:
                    the arrival price, after the order-flow market's warm-up)
                    (in currency when σ = 0)
    field           f_k/α0, this step's field over its scale (0 when α0 = 0)            [-1, 1]
    momentum_share  m_k/M, the momentum agents' share of the ensemble                   [0, 1]
    regime          s_k, the volatility regime of step k (MODEL §8; 0 without regimes)  [0, R-1]

    * with the default action range; a wider one (buy-back, overshoot) leaves it unbounded.

Action: the fraction a of the remaining holdings to trade in this step, n_k = a·x_{k-1}, clipped
to [lowest_fraction, highest_fraction] (default Box[0, 1]: never buy back, never overshoot). In
the last step the remaining holdings are traded whatever the action, so every order completes.

Reward: minus the step's implementation-shortfall increment, in currency,

    r_k = -side·n_k·(S_0 - S̃_k) - risk_penalty·σ_k²·τ·x_k²   (σ_k: σ of step k's regime),

so with risk_penalty = 0 an episode's rewards add up to -IS (IS = side·(X·S_0 - Σ n_k·S̃_k) and
Σ n_k = X), and with risk_penalty = λ their expectation under a deterministic schedule is
-(E + λV), minus the Almgren-Chriss utility (MODEL.md §3). The info of the last step holds the
episode's `shortfall` and `shortfall_bps` as the engine computes them.

Built-in strategies act in either environment through `StrategyPolicy`.

Importing this module registers `acsim/Execution-v0` (entry point ExecutionEnv, vector entry
point ExecutionVectorEnv), so `gymnasium.make("acsim.simulator.environment:acsim/Execution-v0")`
needs no import of its own. `acsim` is a namespace package without an `__init__`, and
`acsim.simulator`'s own `__init__` stays empty so that commands that load the configuration
(`acsim schedule`) do not load Gymnasium.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import register, registry
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from acsim.agents.policies import ExecutionPolicy, Observation, StrategyParameters
from acsim.simulator.config import SimulationConfig, config_from_keywords
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.results import EpisodeResults
from acsim.simulator.vectorised import MarketBatch, market_batch
from acsim.strategies import validation
from acsim.strategies.declarations import (
    FINITE,
    NON_NEGATIVE,
    check_parameters,
    declared_fields,
    parameter,
)
from acsim.strategies.errors import ParameterError

OBSERVATION_NAMES = ("time_left", "holdings", "price_move", "field", "momentum_share",
                     "regime")
ENVIRONMENT_ID = "acsim/Execution-v0"


@dataclass(frozen=True)
class EnvironmentParameters:
    """What the environments add to a configuration: the reward's risk penalty and the range
    of actions (keywords of ExecutionEnv, ExecutionVectorEnv and gymnasium.make)."""

    risk_penalty: float = parameter(
        0.0, unit="1/currency", allowed=NON_NEGATIVE,
        help="λ of the reward's risk penalty λ·σ²τ·x_k² per step (0: the reward is minus the "
             "IS increment; the market's risk_aversion: minus the AC utility in expectation)")
    lowest_fraction: float = parameter(
        0.0, unit="of holdings", allowed=FINITE,
        help="lower end of the action (the fraction of remaining holdings traded); < 0 lets "
             "an agent buy back")
    highest_fraction: float = parameter(
        1.0, unit="of holdings", allowed=FINITE,
        help="upper end of the action; > 1 lets an agent trade past its order")

    def __post_init__(self) -> None:
        check_parameters(self)
        if self.lowest_fraction >= self.highest_fraction:
            raise ParameterError(f"lowest_fraction must be < highest_fraction = "
                                 f"{self.highest_fraction!r}, got {self.lowest_fraction!r}")


ENVIRONMENT_OPTIONS = tuple(item.name for item in declared_fields(EnvironmentParameters))


def environment_setup(config: SimulationConfig | None,
                      keywords: dict) -> tuple[SimulationConfig, EnvironmentParameters]:
    """The configuration (flat keywords named like the flags applied to `config`) and the
    environment's own options, from the keywords an environment was made with."""
    options = {name: keywords.pop(name) for name in ENVIRONMENT_OPTIONS if name in keywords}
    config = config or SimulationConfig()
    if keywords:
        config = config_from_keywords(config, **keywords)
    return config, EnvironmentParameters(**options)


class EpisodeRange:
    """Episodes first .. first + count - 1 of root seed config.seed stepping together: one
    MarketBatch per block of the random-stream protocol that they touch."""

    def __init__(self, config: SimulationConfig, first: int, count: int) -> None:
        self.batches: list[MarketBatch] = []
        self.bounds = [0]
        episode, end = first, first + count
        while episode < end:
            block, offset = divmod(episode, BLOCK_SIZE)
            size = min(BLOCK_SIZE - offset, end - episode)
            self.batches.append(market_batch(config, block, offset, size))
            self.bounds.append(self.bounds[-1] + size)
            episode += size
        self.numbers = np.arange(first, end)
        self.steps = config.market.steps
        # S_0 of every episode: the price after the order-flow market's warm-up
        self.arrival = self._joined([batch.prices[:, 0] for batch in self.batches])

    @property
    def completed(self) -> int:
        return self.batches[0].completed

    @property
    def done(self) -> bool:
        return self.batches[0].done

    def _joined(self, parts: list[np.ndarray]) -> np.ndarray:
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def observation(self) -> Observation:
        """What the executing agent sees before the next step (MarketBatch.observation)."""
        parts = [batch.observation() for batch in self.batches]
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        return Observation(first.step, first.remaining_steps,
                           *(np.concatenate([getattr(part, name) for part in parts])
                             for name in ("holdings", "price", "field", "momentum_count",
                                          "past_trades", "regime")))

    def state(self) -> tuple[np.ndarray, ...]:
        """Holdings, price, field, momentum count and regime now (after the last step: the
        last ones)."""
        if not self.done:
            seen = self.observation()
            return seen.holdings, seen.price, seen.field, seen.momentum_count, seen.regime
        return (self._joined([batch.holdings[:, -1] for batch in self.batches]),
                self._joined([batch.engine.price for batch in self.batches]),
                self._joined([batch.fields[:, -1] for batch in self.batches]),
                self._joined([batch.counts[:, -1] for batch in self.batches]),
                self._joined([batch.regimes[:, -1] for batch in self.batches]))

    def volatility(self, step: int) -> np.ndarray | float:
        """σ of order step `step` in every episode (the market's σ without regimes)."""
        if self.batches[0].volatilities is None:
            return self.batches[0].config.market.volatility
        return self._joined([batch.volatilities[:, batch.warmup + step - 1]
                             for batch in self.batches])

    def advance(self, trades: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of every episode: (trades made, fills S̃_k, holdings after x_k)."""
        k = self.completed
        fills = self._joined([batch.advance(trades[low:high]) for batch, low, high in
                              zip(self.batches, self.bounds[:-1], self.bounds[1:])])
        made = self._joined([batch.trades[:, k] for batch in self.batches])
        after = self._joined([batch.holdings[:, k + 1] for batch in self.batches])
        return made, fills, after

    def results(self) -> EpisodeResults:
        parts = [batch.results() for batch in self.batches]
        if len(parts) == 1:
            return parts[0]
        return EpisodeResults.joined(parts)


class ExecutionEpisodes:
    """The machinery both environments share: episode numbering, observations, rewards."""

    def __init__(self, config: SimulationConfig, options: EnvironmentParameters,
                 count: int) -> None:
        self.config = config
        self.options = options
        self.count = count
        self.next_episode = 0
        self.current: EpisodeRange | None = None
        problem = config.market
        scale = problem.volatility * np.sqrt(problem.horizon)
        self.price_scale = scale if scale > 0.0 else 1.0
        self.field_scale = config.ensemble.field_scale

    def start(self, seed: int | None, options: dict | None) -> tuple[np.ndarray, dict]:
        """Begin the next `count` episodes (of root seed `seed` from episode 0, if given)."""
        if seed is not None:
            self.config = self.config.replace(simulation={"seed": seed})
            self.next_episode = 0
        options = options or {}
        unknown = set(options) - {"episode"}
        if unknown:
            raise ParameterError(f"unknown reset option(s) {sorted(unknown)}; allowed: "
                                 "['episode']")
        if "episode" in options:
            self.next_episode = validation.integer("episode", options["episode"], 0)
        self.current = EpisodeRange(self.config, self.next_episode, self.count)
        self.next_episode += self.count
        return self.observation(), {"episode_number": self.current.numbers}

    def observation(self) -> np.ndarray:
        """(count, 6) float32: time_left, holdings, price_move, field, momentum_share, regime."""
        problem, current = self.config.market, self.current
        holdings, price, field, count, regime = current.state()
        field_share = field / self.field_scale if self.field_scale > 0.0 else 0.0 * field
        values = np.empty((self.count, len(OBSERVATION_NAMES)), dtype=np.float32)
        values[:, 0] = (current.steps - current.completed) / current.steps
        values[:, 1] = holdings / problem.shares
        values[:, 2] = (price - current.arrival) / self.price_scale
        values[:, 3] = field_share
        values[:, 4] = count / self.config.ensemble.agents
        values[:, 5] = regime
        return values

    def step(self, actions: object) -> tuple[np.ndarray, np.ndarray, bool, dict]:
        """Trade the fractions `actions` of the holdings; (observation, rewards, done, info)."""
        if self.current is None or self.current.done:
            raise gymnasium.error.ResetNeeded("the episode is over: call reset() first")
        fractions = np.asarray(actions, dtype=float)
        if fractions.size != self.count or not np.all(np.isfinite(fractions)):
            raise ParameterError(f"actions must be {self.count} finite fractions of the "
                                 f"holdings, got {actions!r}")
        fractions = np.clip(fractions.reshape(self.count), self.options.lowest_fraction,
                            self.options.highest_fraction)
        holdings = self.current.state()[0]
        step = self.current.completed + 1
        trades, fills, after = self.current.advance(fractions * holdings)
        problem = self.config.market
        penalty = (self.options.risk_penalty * self.current.volatility(step) ** 2
                   * problem.step_length)
        rewards = -problem.side * trades * (self.current.arrival - fills) - penalty * after**2
        info: dict[str, Any] = {"episode_number": self.current.numbers}
        if self.current.done:
            results = self.current.results()
            info.update(shortfall=results.shortfall, shortfall_bps=results.shortfall_bps)
        return self.observation(), rewards, self.current.done, info


LARGEST = float(np.finfo(np.float32).max)  # the bound of an unbounded float32 entry


def observation_space(options: EnvironmentParameters, config: SimulationConfig) -> spaces.Box:
    """The Box of one observation (holdings bounded only with the default action range)."""
    bounded = options.lowest_fraction >= 0.0 and options.highest_fraction <= 1.0
    held = (0.0, 1.0) if bounded else (-LARGEST, LARGEST)
    chain = config.regimes.regimes
    last_regime = 1.0 if chain is None else float(max(chain.count - 1, 1))  # a Box needs low < high
    low = np.array([0.0, held[0], -LARGEST, -1.0, 0.0, 0.0], dtype=np.float32)
    high = np.array([1.0, held[1], LARGEST, 1.0, 1.0, last_regime], dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


def action_space(options: EnvironmentParameters) -> spaces.Box:
    """The Box of one action: the fraction of remaining holdings (float64, exact fractions)."""
    return spaces.Box(options.lowest_fraction, options.highest_fraction, shape=(1,),
                      dtype=np.float64)


class MarketView:
    """What both environments offer beside Gymnasium's API: the configuration and the market
    as the engine's policies see it."""

    episodes: ExecutionEpisodes

    @property
    def config(self) -> SimulationConfig:
        """The configuration of the episodes (its seed: the current root seed)."""
        return self.episodes.config

    def market_observation(self) -> Observation:
        """What the executing agent sees now in every episode (`Observation`, leading
        episodes axis), as the engine's policies see it."""
        return self.episodes.current.observation()


class ExecutionEnv(MarketView, gymnasium.Env):
    """One execution episode at a time (see the module docstring).

    config: the configuration (default: the built-in one); keyword `parameters` named like the
        command-line flags (coupling, agents, volatility, seed, ...) are applied on top of it,
        and the environment's own options (risk_penalty, lowest_fraction, highest_fraction).
    """

    metadata = {"render_modes": []}

    def __init__(self, config: SimulationConfig | None = None, **parameters: object) -> None:
        config, options = environment_setup(config, dict(parameters))
        self.episodes = ExecutionEpisodes(config, options, 1)
        self.observation_space = observation_space(options, config)
        self.action_space = action_space(options)

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        observation, info = self.episodes.start(seed, options)
        return observation[0], {"episode_number": int(info["episode_number"][0])}

    def step(self, action: object) -> tuple[np.ndarray, float, bool, bool, dict]:
        observation, rewards, done, info = self.episodes.step(action)
        info = {key: value[0].item() for key, value in info.items()}
        return observation[0], float(rewards[0]), done, False, info


class ExecutionVectorEnv(MarketView, VectorEnv):
    """E episodes advancing together: one `step` advances every episode (see the module
    docstring). Every episode has N steps, so all end together; the next `step` after the last
    one starts the next E episodes (Gymnasium's next-step autoreset: that step's actions are
    ignored, its rewards are 0).

    num_envs: E, the episodes per batch. config and keywords: as for ExecutionEnv.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, config: SimulationConfig | None = None,
                 **parameters: object) -> None:
        self.num_envs = validation.integer("num_envs", num_envs, 1)
        config, options = environment_setup(config, dict(parameters))
        self.episodes = ExecutionEpisodes(config, options, self.num_envs)
        self.single_observation_space = observation_space(options, config)
        self.single_action_space = action_space(options)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._autoreset = False

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ParameterError(f"seed must be one root seed (an integer >= 0) for all "
                                 f"episodes, got {seed!r}")
        super().reset(seed=seed)
        self._autoreset = False
        observation, info = self.episodes.start(seed, options)
        return observation, self._vector_info(info)

    def step(self, actions: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                             dict]:
        flags = np.zeros(self.num_envs, dtype=bool)
        if self._autoreset:
            self._autoreset = False
            observation, info = self.episodes.start(None, None)
            return (observation, np.zeros(self.num_envs), flags, flags.copy(),
                    self._vector_info(info))
        observation, rewards, done, info = self.episodes.step(actions)
        self._autoreset = done
        return (observation, rewards, np.full(self.num_envs, done), flags,
                self._vector_info(info))

    def _vector_info(self, info: dict) -> dict:
        """Gymnasium's vector layout: every key with its `_key` mask (all episodes)."""
        result = {}
        for key, value in info.items():
            result[key] = value
            result["_" + key] = np.ones(self.num_envs, dtype=bool)
        return result


class StrategyPolicy:
    """A strategy of acsim acting in an environment: its trades as fractions of the holdings.

        policy = StrategyPolicy(env, "twap")                      # or "ac-static",
        policy = StrategyPolicy(env, "extended", forecast="model") # "ac-adaptive", ...
        action = policy()                                          # for the current step

    The policy is built by name with its options (default: the environment's [strategy]) or
    given as an object (`policy=`), and started with the environment configuration's beliefs.
    It reads the market as the engine's policies do (`market_observation()`), so in an
    environment it makes the trades it makes in `acsim simulate`, up to the rounding of
    n_k/x_{k-1}·x_{k-1} (and the action range: widen it for a strategy that buys back).
    """

    def __init__(self, env: gymnasium.Env | VectorEnv, strategy: str | None = None, *,
                 policy: ExecutionPolicy | None = None, **options: object) -> None:
        self.environment = env.unwrapped
        config = self.environment.config
        if policy is None:
            policy = (StrategyParameters(strategy, options) if strategy is not None
                      else config.strategy).build()
        self.policy = config.started_policy(policy)

    def __call__(self, observation: np.ndarray | None = None) -> np.ndarray:
        """The action now (the observation vector is not needed: the policy sees the market)."""
        shape = self.environment.action_space.shape
        if self.environment.episodes.current.done:  # an autoreset step ignores its action
            return np.zeros(shape)
        seen = self.environment.market_observation()
        if seen.remaining_steps == 1:  # the last step trades what is left in any case
            return np.ones(shape)
        trades = np.asarray(self.policy.trades(seen), dtype=float)
        fractions = np.divide(trades, seen.holdings, out=np.zeros_like(trades),
                              where=seen.holdings != 0.0)
        return fractions.reshape(shape)


if ENVIRONMENT_ID not in registry:
    register(id=ENVIRONMENT_ID, entry_point="acsim.simulator.environment:ExecutionEnv",
             vector_entry_point="acsim.simulator.environment:ExecutionVectorEnv")
