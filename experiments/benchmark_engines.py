"""Engine benchmark (`acsim bench`): episodes per second of the vectorised engine, the Mesa
engine and a naive loop that rebuilds and solves a cvxpy problem every step, measured in one
run on one machine so that their ratios survive a noisy machine.

Cases:
  paper             20 steps, 100 Kirman agents, extended AC (model forecast) re-solved every
                    step, equality-constrained (coupling 0.005, self_alpha 1e-5)
  paper-no-buyback  the same with trades >= 0 (exact active set per episode and step)
  ac-390            390 steps (a trading day of minutes), adaptive classical AC
  order-flow        the paper case in the order-flow market (MODEL §6): a warm-up of 50 steps
                    before the 20 order steps, the ensemble trading every step; the planner
                    believes the paper case's coupling and self-alpha (the market's are 0)
  power-law         the paper case in a market with power-law temporary impact (β = 0.6, η_p
                    matched to η at the TWAP rate), planned by the exact power-law planner
  transient         the paper case with transient impact (exponential kernel G_0 = 0.004,
                    ρ = 0.5), planned by the transient planner from the displacement of the
                    agent's own past trades
The fast engine runs a study through the process pool (all cores) and, for reference, in one
process; the Mesa engine and the naive loop run fewer episodes (reported per row).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import io
import json
import os
import platform
import pstats
import resource
import tempfile
import time

import numpy as np

from acsim.agents.policies import Beliefs, Observation, RecedingHorizon
from acsim.experiments.benchmark_timing import cpu_model
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.simulator.study import Study, run_study
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import transient, validation
from acsim.strategies.errors import ParameterError
from acsim.strategies.impact import LinearImpact
from acsim.strategies.parameters import ExtendedParameters, planning_inputs
from acsim.strategies.reference import ReferencePlanner
from acsim.strategies.reference_impact import ImpactReference


class NaiveCvxpyPolicy:
    """The baseline: the same receding-horizon plan as `policy`, but a new cvxpy problem
    built and solved for every episode at every step (linear impact: `ReferencePlanner`;
    power-law or transient impact: `ImpactReference`, with the displacement of the episode's
    own past trades)."""

    def __init__(self, policy: RecedingHorizon) -> None:
        self.policy = policy

    def start(self, beliefs: Beliefs) -> None:
        self.policy.start(beliefs)
        self.self_alpha = beliefs.extended.self_alpha if self.policy.believes_feedback else 0.0
        self.impact = beliefs.impact

    def trades(self, observation: Observation) -> np.ndarray:
        policy = self.policy
        forecasts = policy.field_forecast(observation)
        extended = ExtendedParameters(policy.coupling, self.self_alpha)
        result = np.empty(observation.holdings.shape)
        for episode, (held, forecast) in enumerate(zip(observation.holdings, forecasts)):
            inputs = planning_inputs(policy.market, extended, forecast,
                                     observation.remaining_steps)
            if isinstance(self.impact, LinearImpact):
                planner = ReferencePlanner(policy.market.half_spread, policy.no_buyback)
                path = planner.holdings(inputs, held)
            else:
                path = self.impact_reference(inputs.urgency).holdings(
                    held, inputs.drift, self.past_displacement(observation, episode))
            result[episode] = path[0] - path[1]
        return result

    def impact_reference(self, urgency: float) -> ImpactReference:
        """A new cvxpy reference for the believed impact model."""
        market, impact = self.policy.market, self.impact
        power = impact.power_law(market)
        return ImpactReference(
            market.step_length, urgency,
            temporary_impact=market.temporary_impact if power is None else 0.0,
            permanent_impact=market.permanent_impact, power_law=power, kernel=impact.kernel,
            no_buyback=self.policy.no_buyback)

    def past_displacement(self, observation: Observation, episode: int) -> np.ndarray | None:
        past = observation.past_trades[episode]
        if self.impact.kernel is None or past.shape[0] == 0:
            return None
        return transient.past_displacement(self.impact.kernel, past,
                                           self.policy.market.step_length,
                                           observation.remaining_steps)


def case_configs() -> dict[str, SimulationConfig]:
    paper = SimulationConfig(seed=0).replace(
        extended={"coupling": 0.005, "self_alpha": 1e-5},
        strategy={"name": "extended", "forecast": "model"})
    day = SimulationConfig(seed=0).replace(
        market={"steps": 390, "horizon": 390.0, "shares": 10_000.0, "temporary_impact": 0.02},
        strategy={"name": "ac-adaptive"})
    order_flow = SimulationConfig(seed=0).replace(
        market={"feedback": "order-flow"}, order_flow={"warmup": 50},
        beliefs={"extended": {"coupling": 0.005, "self_alpha": 1e-5}},
        strategy={"name": "extended", "forecast": "model"})
    return {"paper": paper,
            "paper-no-buyback": paper.replace(strategy={"no_buyback": True}),
            "ac-390": day, "order-flow": order_flow,
            "power-law": paper.replace(impact={"model": "power", "exponent": 0.6}),
            "transient": paper.replace(impact={"transient": "exponential",
                                               "transient_impact": 0.004, "resilience": 0.5})}


def _rate(episodes: int, seconds: float) -> float:
    return episodes / seconds if seconds > 0 else float("inf")


def measure_fast(config: SimulationConfig, episodes: int, backend: str,
                 workers: int | None) -> dict:
    study = Study(config.replace(simulation={"episodes": episodes}), (config.strategy,))
    with tempfile.TemporaryDirectory(prefix="acsim-bench-") as out:
        started = time.perf_counter()
        run_study(study, out, backend=backend, workers=workers, progress=False)
        seconds = time.perf_counter() - started
    return {"episodes": episodes, "seconds": seconds,
            "episodes_per_second": _rate(episodes, seconds),
            "workers": workers if backend != "inline" else 1, "backend": backend}


def measure_loop(config: SimulationConfig, episodes: int, engine: str) -> dict:
    started = time.perf_counter()
    if engine == "mesa":
        for episode in range(episodes):
            run_episode(config, episode)
    else:
        policy = NaiveCvxpyPolicy(config.strategy.build())
        simulate_block(config, 0, 0, episodes, policy=policy)
    seconds = time.perf_counter() - started
    return {"episodes": episodes, "seconds": seconds,
            "episodes_per_second": _rate(episodes, seconds), "workers": 1, "backend": "inline"}


def profile_fast(config: SimulationConfig, episodes: int) -> str:
    """Where the time of one vectorised block goes (cProfile, top functions)."""
    simulate_block(config, 0, 0, min(episodes, 256))  # compile and warm up
    profiler = cProfile.Profile()
    profiler.enable()
    simulate_block(config, 0, 0, episodes)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(8)
    return text.getvalue()


# case: share of --episodes (fast engine) and of --mesa-episodes it runs, naive episodes cap
CASE_SIZES = {"paper": (1.0, None), "paper-no-buyback": (0.1, None), "ac-390": (0.05, 1),
              "order-flow": (0.25, None), "power-law": (0.25, 2), "transient": (0.25, None)}


def run_benchmark(fast_episodes: int = 400_000, mesa_episodes: int = 200,
                  naive_episodes: int = 3, workers: int | None = None,
                  cases: tuple[str, ...] = tuple(CASE_SIZES)) -> dict:
    workers = workers or os.cpu_count() or 1
    rows = []
    configs = case_configs()
    for name in cases:
        config = configs[name]
        scale, naive_cap = CASE_SIZES[name]
        fast = max(4096, int(fast_episodes * scale))
        simulate_block(config, 0, 0, 64)  # numba compile outside the timings
        results = {
            "fast": measure_fast(config, fast, "processes", workers),
            "fast-one-process": measure_fast(config, fast, "inline", 1),
            "mesa": measure_loop(config, max(5, int(mesa_episodes * scale)), "mesa"),
            "naive-cvxpy": measure_loop(config, min(naive_episodes, naive_cap or naive_episodes),
                                        "naive-cvxpy"),
        }
        naive = results["naive-cvxpy"]["episodes_per_second"]
        for engine, row in results.items():
            rows.append({"name": name, "engine": engine, **row,
                         "speedup_vs_naive_cvxpy": row["episodes_per_second"] / naive})
    return {"machine": machine(), "cases": rows}


def memory_run(episodes: int, workers: int | None) -> dict:
    """Peak resident memory of a run of `episodes` paper episodes (this process + workers)."""
    config = case_configs()["paper"]
    row = measure_fast(config, episodes, "processes", workers or os.cpu_count() or 1)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {**row, "peak_rss_coordinator_mb": own, "peak_rss_largest_worker_mb": children}


def machine() -> dict:
    import cvxpy
    import mesa
    import numba
    import scipy

    return {"date": datetime.date.today().isoformat(), "platform": platform.platform(),
            "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
            "mesa": mesa.__version__, "cvxpy": cvxpy.__version__}


def format_table(report: dict) -> str:
    lines = [" ".join(f"{key}={value}" for key, value in report["machine"].items()), "",
             f"{'case':<18}{'engine':<18}{'episodes':>10}{'seconds':>10}{'episodes/s':>14}"
             f"{'× naive':>12}"]
    for row in report["cases"]:
        lines.append(f"{row['name']:<18}{row['engine']:<18}{row['episodes']:>10,}"
                     f"{row['seconds']:>10.2f}{row['episodes_per_second']:>14,.1f}"
                     f"{row['speedup_vs_naive_cvxpy']:>12,.0f}")
    rates = {(row["name"], row["engine"]): row["episodes_per_second"] for row in report["cases"]}
    for engine in ("fast", "fast-one-process", "mesa"):
        if ("paper", engine) in rates and ("order-flow", engine) in rates:
            lines.append(f"order-flow / paper ({engine}): "
                         f"{rates['order-flow', engine] / rates['paper', engine]:.2f}")
    if "memory" in report:
        memory = report["memory"]
        lines += ["", f"memory run: {memory['episodes']:,} paper episodes in "
                      f"{memory['seconds']:.1f} s ({memory['episodes_per_second']:,.0f}/s); "
                      f"peak RSS coordinator {memory['peak_rss_coordinator_mb']:.0f} MB, "
                      f"largest worker {memory['peak_rss_largest_worker_mb']:.0f} MB"]
    if "profile" in report:
        lines += ["", "profile of one vectorised paper block (4,096 episodes):",
                  report["profile"]]
    return "\n".join(lines)


DESCRIPTIONS = {"bench": "Episodes per second of the vectorised engine, the Mesa engine and a "
                         "naive cvxpy-per-step loop, measured in one run (cases paper, "
                         "paper-no-buyback, ac-390, order-flow, power-law, transient). A "
                         "benchmark, not a test: it prints figures, it asserts nothing."}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--episodes", type=int, default=400_000,
                        help="fast-engine episodes for the paper case (others scaled down; at "
                             "least one block of 4,096 is always run)")
    parser.add_argument("--mesa-episodes", type=int, default=200)
    parser.add_argument("--naive-episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--memory-episodes", type=int, default=0,
                        help="also run this many paper episodes and report peak memory "
                             "(e.g. 10000000)")
    parser.add_argument("--profile", action="store_true", help="add a cProfile of one block")
    parser.add_argument("--cases", default=",".join(CASE_SIZES),
                        help=f"comma-separated cases to run (default all: "
                             f"{', '.join(CASE_SIZES)})")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def check_sizes(args: argparse.Namespace, cases: tuple[str, ...]) -> None:
    """The size check of every case's fast, Mesa and naive runs (acsim.simulator.sizes)."""
    from acsim.simulator import sizes

    configs = case_configs()
    workers = sizes.process_count(args.workers)
    for name in cases:
        config = configs[name]
        fast = max(int(args.episodes * CASE_SIZES[name][0]), args.memory_episodes)
        for work in (sizes.study_workload(config, workers=workers, episodes=max(fast, 1)),
                     sizes.study_workload(config, mesa=True, episodes=args.mesa_episodes),
                     dataclasses.replace(sizes.study_workload(config,
                                                              episodes=args.naive_episodes),
                                         planners=("reference",))):
            sizes.check(work, args.allow_large)


def run(name: str, args: argparse.Namespace) -> None:
    validation.integer("--episodes", args.episodes, 1)
    validation.integer("--mesa-episodes", args.mesa_episodes, 1)
    validation.integer("--naive-episodes", args.naive_episodes, 1)
    validation.integer("--memory-episodes", args.memory_episodes, 0)
    if args.workers is not None:
        validation.integer("--workers", args.workers, 1)
    cases = tuple(case.strip() for case in args.cases.split(","))
    unknown = [case for case in cases if case not in CASE_SIZES]
    if unknown:
        raise ParameterError(f"--cases: unknown case(s) {unknown}; known: {list(CASE_SIZES)}")
    check_sizes(args, cases)
    report = run_benchmark(args.episodes, args.mesa_episodes, args.naive_episodes, args.workers,
                           cases)
    if args.memory_episodes:
        report["memory"] = memory_run(args.memory_episodes, args.workers)
    if args.profile:
        report["profile"] = profile_fast(case_configs()["paper"], 4096)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
