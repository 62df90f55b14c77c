"""Environment-steps benchmark: the native vector environment against Gymnasium's SyncVectorEnv
over the single environment, both with E parallel episodes, measured in the same run.

    python -m acsim.experiments.benchmark_environment [--envs 4096] [--batches 5]

An environment step is one episode advanced by one step, so a vector `step` of E episodes counts
E. Both run whole batches of episodes with the same constant action (sell 10% of the holdings),
including Gymnasium's next-step autoreset step that starts the next batch (both vectorisers
have it), after one untimed warm-up batch (numba compilation). Cases: the default market (a
Kirman ensemble of 100 agents: 2,000 uniforms per episode, the engine's main cost) and the
random-walk ensemble (one uniform per step). A benchmark, not a test: it prints figures and
asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gymnasium.vector import SyncVectorEnv, VectorEnv

from acsim.simulator.config import config_from_keywords
from acsim.simulator.environment import ExecutionEnv, ExecutionVectorEnv

CASES = {"default market (Kirman, 100 agents)": {},
         "random-walk ensemble": {"switching": "random-walk"}}
FRACTION = 0.1


def steps_per_second(env: VectorEnv, steps: int, batches: int) -> float:
    """Environment steps per second over `batches` whole batches of `steps`-step episodes
    (after a warm-up batch)."""
    actions = np.full((env.num_envs, 1), FRACTION)
    env.reset(seed=0)
    for _ in range(steps + 1):  # warm-up: one batch and its autoreset step
        env.step(actions)
    started = time.perf_counter()
    for _ in range(batches * (steps + 1)):
        env.step(actions)
    return batches * (steps + 1) * env.num_envs / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=4096, help="parallel episodes E")
    parser.add_argument("--batches", type=int, default=5, help="timed batches of episodes")
    args = parser.parse_args(argv)
    print(f"{'case':<40}{'vector env steps/s':>20}{'SyncVectorEnv steps/s':>24}{'ratio':>8}")
    for name, keywords in CASES.items():
        steps = config_from_keywords(**keywords).market.steps
        native = steps_per_second(ExecutionVectorEnv(args.envs, **keywords), steps,
                                  args.batches)
        sync = SyncVectorEnv([lambda keywords=keywords: ExecutionEnv(**keywords)
                              for _ in range(args.envs)])
        baseline = steps_per_second(sync, steps, max(1, args.batches // 5))
        print(f"{name:<40}{native:>20,.0f}{baseline:>24,.0f}{native / baseline:>8.1f}")


if __name__ == "__main__":
    main()
