"""`acsim learn`: learning to execute in the vector environment, checked against a closed form.

A linear policy, a = clip(w_t·time_left + w_x·holdings + b, 0, 1) (the fraction of remaining
holdings traded, from two of the environment's observations), is trained by the cross-entropy
method in plain numpy in a pure Almgren-Chriss market (no coupling, no self-alpha, no drift),
where the optimum is known: the exact discrete AC schedule, whose utility E + λV (MODEL.md §3a)
no schedule beats. In this market the optimal trade depends on time and holdings only; the
policy leaves out price, field and count on purpose: a policy that reacts to price noise makes
its schedule random, and the reward's per-step penalty λσ²τx_k² equals the variance of IS only
for a deterministic schedule (so such a policy can look good to the reward while its E + λ·Var
of IS is worse; the report shows both).
Each iteration draws a population of policies around the current mean, runs every candidate on
its own episodes of the vector environment (one `step` advances all of them), keeps the elite
by mean return and refits the mean and spread to it. The reward carries the risk penalty
λσ²τx_k², so the expected return of a deterministic schedule is -(E + λV): the learned policy's
mean return and its mean IS + λ·variance of IS on fresh episodes are compared with U* of the AC
optimum, and with TWAP and the static AC schedule run as policies in the same environment.

The default market has λ = 2, σ = 0.01 per √step (κT ≈ 6.4): TWAP costs 2.35 times the optimal
utility, so learning has something to find.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from acsim.experiments.common import ExperimentOutput, add_common_arguments, episodes_from_args
from acsim.simulator.config import SimulationConfig, config_from_keywords
from acsim.simulator.environment import OBSERVATION_NAMES, ExecutionVectorEnv, StrategyPolicy
from acsim.strategies import almgren_chriss
from acsim.strategies.costs import schedule_cost

# a pure AC market with strong urgency and little noise (κT ≈ 6.4; a small ensemble, unused)
LEARNING_MARKET = {"risk_aversion": 2.0, "volatility": 0.01, "coupling": 0.0,
                   "self_alpha": 0.0, "drift": 0.0, "agents": 10}
FEATURES = ("time_left", "holdings")  # the observations the linear policy reads
FEATURE_COLUMNS = [OBSERVATION_NAMES.index(name) for name in FEATURES]
WEIGHT_NAMES = (*FEATURES, "bias")
HOLDS_ALL_EPISODES = True  # the evaluation steps every episode at once (sizes check)


@dataclass(frozen=True)
class CrossEntropySettings:
    """The cross-entropy method's sizes: candidates per iteration, the elite kept, episodes per
    candidate, iterations, and the initial spread of the weights around zero."""

    population: int = 48
    elite: int = 8
    episodes: int = 32
    iterations: int = 12
    spread: float = 0.5
    smallest_spread: float = 0.01


def linear_actions(weights: np.ndarray, observations: np.ndarray) -> np.ndarray:
    """a = clip(w·features + b, 0, 1) per episode (elementwise, no matrix product);
    weights (E, 3): the weights of FEATURES and the bias. Returns (E, 1)."""
    values = np.sum(weights[:, :-1] * observations[:, FEATURE_COLUMNS], axis=1) + weights[:, -1]
    return np.clip(values, 0.0, 1.0)[:, None]


def run_policies(env: ExecutionVectorEnv, weights: np.ndarray) -> np.ndarray:
    """The return (sum of rewards) of the next episode of every slot, slot i acting with
    weights[i]; the environment moves on to its next episodes."""
    observations, _ = env.reset()
    returns = np.zeros(env.num_envs)
    terminated = np.zeros(env.num_envs, dtype=bool)
    while not terminated.all():
        observations, rewards, terminated, _, _ = env.step(linear_actions(weights, observations))
        returns += rewards
    return returns


def cross_entropy_method(env: ExecutionVectorEnv, settings: CrossEntropySettings,
                         seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Train the linear policy; (mean weights, one row per iteration). env.num_envs must be
    population × episodes; each iteration runs the environment's next episodes."""
    generator = np.random.default_rng(np.random.SeedSequence(seed))
    mean = np.zeros(len(WEIGHT_NAMES))
    spread = np.full(len(WEIGHT_NAMES), settings.spread)
    rows = []
    for iteration in range(settings.iterations):
        candidates = mean + spread * generator.standard_normal((settings.population,
                                                                 len(mean)))
        returns = run_policies(env, np.repeat(candidates, settings.episodes, axis=0))
        scores = returns.reshape(settings.population, settings.episodes).mean(axis=1)
        elite = candidates[np.argsort(scores)[-settings.elite:]]
        mean = elite.mean(axis=0)
        spread = np.maximum(elite.std(axis=0), settings.smallest_spread)
        rows.append({"iteration": iteration + 1, "population_mean_return": scores.mean(),
                     "best_return": scores.max(),
                     "elite_mean_return": np.sort(scores)[-settings.elite:].mean(),
                     **{f"weight_{name}": value for name, value in zip(WEIGHT_NAMES, mean)}})
    return mean, pd.DataFrame(rows)


def learned_policy(weights: np.ndarray) -> Callable:
    """For `evaluate`: the linear policy with these weights in every episode."""
    def make(env: ExecutionVectorEnv) -> Callable[[np.ndarray], np.ndarray]:
        tiled = np.tile(weights, (env.num_envs, 1))
        return lambda observations: linear_actions(tiled, observations)
    return make


def strategy_policy(name: str) -> Callable:
    """For `evaluate`: a built-in strategy acting through StrategyPolicy."""
    def make(env: ExecutionVectorEnv) -> Callable[[np.ndarray], np.ndarray]:
        policy = StrategyPolicy(env, name)
        return lambda observations: policy()
    return make


def evaluate(config: SimulationConfig, episodes: int, make_policy: Callable) -> dict:
    """Mean return ± its standard error, mean and variance of IS, of the policy that
    `make_policy(env)` gives, over `episodes` fresh episodes of root seed config.seed
    (from episode 10⁶ on: none was used in training)."""
    env = ExecutionVectorEnv(episodes, config, risk_penalty=config.market.risk_aversion)
    act = make_policy(env)
    observations, _ = env.reset(options={"episode": 1_000_000})
    returns = np.zeros(episodes)
    terminated = np.zeros(episodes, dtype=bool)
    while not terminated.all():
        observations, rewards, terminated, _, info = env.step(act(observations))
        returns += rewards
    shortfall = info["shortfall"]
    return {"mean_return": returns.mean(),
            "return_stderr": returns.std(ddof=1) / np.sqrt(episodes),
            "mean_is": shortfall.mean(), "variance_is": shortfall.var(ddof=1)}


def learn(settings: CrossEntropySettings, evaluation_episodes: int,
          seed: int) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Train, then evaluate the learned policy, TWAP and static AC on the same fresh episodes;
    (weights, training history, evaluation table with the AC optimum's utility U*)."""
    config = config_from_keywords(**LEARNING_MARKET, seed=seed)
    env = ExecutionVectorEnv(settings.population * settings.episodes, config,
                             risk_penalty=config.market.risk_aversion)
    weights, history = cross_entropy_method(env, settings, seed)
    optimum = schedule_cost(config.market, almgren_chriss.optimal_holdings(config.market))
    policies = {"learned (cross-entropy)": learned_policy(weights),
                "static AC (closed form)": strategy_policy("ac-static"),
                "twap": strategy_policy("twap")}
    rows = []
    for name, make_policy in policies.items():
        result = evaluate(config, evaluation_episodes, make_policy)
        mean_variance = result["mean_is"] + config.market.risk_aversion * result["variance_is"]
        rows.append({"policy": name, **result, "mean_variance_utility": mean_variance,
                     "optimal_utility": optimum.utility,
                     "utility_ratio": -result["mean_return"] / optimum.utility,
                     "mean_variance_ratio": mean_variance / optimum.utility})
    return weights, history, pd.DataFrame(rows)


def run(out: str | Path, settings: CrossEntropySettings, evaluation_episodes: int,
        seed: int) -> ExperimentOutput:
    output = ExperimentOutput(out)
    weights, history, table = learn(settings, evaluation_episodes, seed)
    output.table("training", history)
    output.table("evaluation", table)
    optimum = float(table["optimal_utility"].iloc[0])
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    axes.plot(history["iteration"], -history["population_mean_return"], marker="o",
              label="population mean")
    axes.plot(history["iteration"], -history["elite_mean_return"], marker="o", label="elite")
    axes.axhline(optimum, color="black", linestyle="--", label="AC optimum U* (closed form)")
    twap = table.set_index("policy").loc["twap"]
    axes.axhline(-twap["mean_return"], color="tab:red", linestyle=":", label="TWAP")
    axes.set_yscale("log")
    axes.set_xlabel("cross-entropy iteration")
    axes.set_ylabel("minus mean return ≈ E + λV (currency)")
    axes.legend()
    output.figure("learning_curve", figure)
    learned = table.iloc[0]
    rows = "\n".join(f"| {r.policy} | {-r.mean_return:,.2f} ± {1.96 * r.return_stderr:,.2f} | "
                     f"{r.utility_ratio:.4f} | {r.mean_is:,.2f} | {r.variance_is:,.1f} | "
                     f"{r.mean_variance_utility:,.2f} | {r.mean_variance_ratio:.4f} |"
                     for r in table.itertuples())
    output.report(f"""# Learning to execute in the vector environment

**Run:** a linear policy (a = clip(w_t·time_left + w_x·holdings + b, 0, 1)) trained by the
cross-entropy method in the vector environment: {settings.iterations} iterations of
{settings.population} candidates × {settings.episodes} episodes, elite {settings.elite}, in a pure
Almgren-Chriss market ({', '.join(f'{k} = {v:g}' for k, v in LEARNING_MARKET.items())}; the
other parameters at their defaults), reward = −IS increment − λσ²τx_k², root seed {seed}.
Evaluation: {evaluation_episodes:,} fresh episodes (from episode 1,000,000) for each policy.

**Result:**

| policy | −mean return (95% CI) | ÷ U* | mean IS | var IS | mean IS + λ·var IS | ÷ U* |
|---|---|---|---|---|---|---|
{rows}

U* = {optimum:,.2f}, the utility E + λV of the exact discrete AC optimum. Learned weights:
{', '.join(f'{name} {value:+.4f}' for name, value in zip(WEIGHT_NAMES, weights))}.

**Meaning:** the learned policy's risk-penalised cost is {learned.utility_ratio:.3f} times the
closed-form optimum (mean IS + λ·variance of IS: {learned.mean_variance_ratio:.3f} times, equal
up to Monte Carlo error, as for any deterministic schedule), against
{twap['utility_ratio']:.2f} for TWAP: starting from zero weights
(sell nothing until the last step), the cross-entropy method finds a policy within
{100 * (learned.utility_ratio - 1):.2f}% of the AC optimum, which no policy can beat in
expectation (here its ratio is {table.iloc[1].utility_ratio:.4f}, one up to Monte Carlo error).
See `figures/learning_curve.png`.
""")
    return output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "results/learn", 16_384,
                         episodes_help="evaluation episodes per policy (default 16,384; "
                                       "--quick 2,048)")


def main(args: argparse.Namespace) -> list[Path]:
    episodes = episodes_from_args(args, 16_384, 2_048)
    settings = (CrossEntropySettings(population=32, episodes=16, iterations=10) if args.quick
                else CrossEntropySettings(iterations=20))
    return run(args.out, settings, episodes, args.seed).written
