"""Sizes checked before work: a run's peak memory (bytes) and wall time (seconds) estimated
from its configuration, and refused with the estimate when either exceeds the machine.

A `Workload` is what sets a run's size: episodes E, market steps W + N (N the order's steps,
the planners' horizon), ensemble agents M and draws per step D, the cases (strategies × sweep
points, each with its planner), the episodes held in memory at once and the worker processes.
`estimate` counts what the code allocates and repeats, term by term (`Estimate.memory` and
`Estimate.time` name each term, so a refusal says what drives it):

memory (bytes), per process, times the processes (each worker holds its own copy):
  block arrays     72 B per held episode and market step: nine float64 arrays of shape
                   (E_held, W + N + 1) (counts, shocks, fields, prices, holdings, trades, fills,
                   a forecast), measured with tracemalloc on `simulate_block`;
  block columns    16 B per case and held episode (shortfall and final holdings of every case
                   are gathered before a block file is written);
  ensemble draws   8 B × D × (W + N) per episode of a chunk (`vectorised.chunk_episodes`; the
                   Mesa model draws one episode's at once); the ensemble's laws 8 B × 6 × (M + 1);
  forecast tables  8 B × 2 × (N + 1) × (M + 1) per case that plans on a field forecast;
  planners         per case: the gains of every remaining length, N(N + 1)/2 float64
                   (`extended.LinearGains`); the transient planner three such lists and three
                   dense N × N matrices (`transient.TransientPlanner`); one plan 16 B × N;
  cases            2.3 kB per case configuration (tracemalloc of `Study.cases`);
  Mesa agents      420 B per agent (tracemalloc of `ExecutionMarket`, marginal per agent);
  summary          a phase of its own, in the main process once the blocks are done (the peak
                   is the larger phase): the stored values (16 B per case and episode, kept up
                   to statistics.SUMMARY_MEMORY = 256 MB), the histograms (16 B per bin and
                   case, at most HISTOGRAM_MEMORY = 64 MB), the chosen bins' values (8 B each,
                   at most KEEP_LIMIT) and the cases.

wall time (seconds), divided by the processes that share the blocks:
  engine           60 ns per case, episode and market step (docs/benchmarks.md: 1.2 µs per
                   20-step episode in the paper case, 24 µs per 390-step ac-390 episode);
  ensemble         3.3 ns per draw (docs/benchmarks.md: 6.5 µs for 2,000 draws), drawn once per
                   block and shared by the cases;
  planning         per case, episode and step of the receding horizon: 1 ns per gain
                   (N²/2 per episode), 100 ns per power-law element (21 µs for a 20-step episode,
                   docs/benchmarks.md), 7.5 ns per transient displacement term (N³/6), 10 ms
                   per cvxpy solve (the reference planner, N per episode); setting up the gains
                   15 ns per gain (N²/2) and the transient planner 0.64 ns × N³ (38 ms at
                   N = 390), per case and process (per episode in the Mesa model);
  cases            0.17 ms per case configuration (15,000 cases took 2.4 s), built per block;
  Mesa             1.7 µs per agent and step (docs/benchmarks.md: 292 episodes/s, paper case).

The figures are rates of this machine (2 cores, docs/benchmarks.md); a run within a factor of
about 3 of a limit may go either way, an absurd one (10⁸ agents, 10¹² episodes, 10⁵ steps with
gains, a 10⁶-point sweep) is refused at once. Limits: the memory available now
(/proc/meminfo MemAvailable; elsewhere `os.sysconf`) and TIME_LIMIT (24 hours). `--allow-large`
(`check(..., allow_large=True)`) skips the check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acsim.agents.policies import StrategyParameters
from acsim.simulator.config import SimulationConfig
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.statistics import (
    HISTOGRAM_BINS,
    HISTOGRAM_MEMORY,
    KEEP_LIMIT,
    SUMMARY_MEMORY,
)
from acsim.strategies.errors import ParameterError

FLAG = "--allow-large"
TIME_LIMIT = 24 * 3600.0  # seconds: a run estimated longer than a day is refused

FLOAT = 8  # bytes of a float64 or int64
BLOCK_BYTES = 72  # per held episode and market step (tracemalloc of simulate_block)
COLUMN_BYTES = 16  # per case and held episode: shortfall and final holdings
LAW_ARRAYS = 6  # float64 arrays of M + 1 entries while the ensemble's laws are computed
CASE_BYTES = 2300  # per case configuration (tracemalloc of Study.cases)
AGENT_BYTES = 420  # per Mesa agent (tracemalloc of ExecutionMarket)

ENGINE_SECONDS = 6e-8  # per case, episode and market step (docs/benchmarks.md)
DRAW_SECONDS = 3.3e-9  # per ensemble draw (docs/benchmarks.md)
CASE_SECONDS = 1.7e-4  # per case configuration built (Study.cases of 15,000 cases: 2.4 s)
NOTICE_SECONDS = 60.0  # a run estimated longer than this says so on standard error first
MESA_SECONDS = 1.7e-6  # per Mesa agent and step (docs/benchmarks.md)


def _gains(steps: int) -> float:
    """Gains of every remaining length 1..N: N(N + 1)/2."""
    return steps * (steps + 1) / 2


@dataclass(frozen=True)
class PlannerCost:
    """What one case's planner costs, as functions of the order's steps N: bytes held, seconds
    to build (once per process; per episode in the Mesa model) and seconds of re-planning per
    episode (every step of a receding horizon)."""

    memory: Callable[[int], float]
    setup: Callable[[int], float] = lambda steps: 0.0
    replanning: Callable[[int], float] = lambda steps: 0.0


PLANNERS = {
    "none": PlannerCost(lambda steps: 0.0),
    # one linear plan (a tridiagonal solve: `acsim schedule`, `cost`)
    "schedule": PlannerCost(lambda steps: 2 * FLOAT * steps),
    # LinearGains: 15 ns per gain to build, 1 ns per gain to use
    "gains": PlannerCost(lambda steps: FLOAT * _gains(steps), lambda steps: 1.5e-8 * _gains(steps),
                         lambda steps: 1e-9 * _gains(steps)),
    # TransientPlanner: three gain lists, three dense N × N matrices while it is built; 38 ms to
    # build at N = 390 (0.64 ns × N³); 7.5 ns per term of the past trades' displacement (N³/6)
    "transient": PlannerCost(lambda steps: FLOAT * (3 * _gains(steps) + 3 * steps**2),
                             lambda steps: 6.4e-10 * float(steps) ** 3,
                             lambda steps: 7.5e-9 * float(steps) ** 3 / 6),
    # power law, Newton with an active set: 16 work arrays; 21 µs for a 20-step episode
    "power": PlannerCost(lambda steps: 16 * FLOAT * steps, replanning=lambda steps: 1e-7
                         * _gains(steps)),
    # the cvxpy reference (power law with transient impact): 10 ms per solve
    "reference": PlannerCost(lambda steps: 16 * FLOAT * steps,
                             replanning=lambda steps: 1e-2 * steps),
}


@dataclass(frozen=True)
class Workload:
    """What sets a run's size.

    episodes: E.  market_steps: W + N per episode.  order_steps: N, the planners' horizon.
    agents: M.  draws_per_step: D.  planners: one planner kind (a key of PLANNERS) per strategy;
    forecasts: how many of them plan on a field forecast table.  points: sweep points (cases =
    strategies × points).  held: episodes in memory at once (default min(E, BLOCK_SIZE)).
    workers: processes sharing the blocks.  mesa: the Mesa model (agent by agent).
    """

    episodes: int
    market_steps: int
    order_steps: int
    agents: int
    draws_per_step: int
    planners: tuple[str, ...] = ("gains",)
    forecasts: int = 0
    points: int = 1
    held: int | None = None
    workers: int = 1
    mesa: bool = False

    @property
    def cases(self) -> int:
        return len(self.planners) * self.points

    @property
    def held_episodes(self) -> int:
        return self.held if self.held is not None else min(self.episodes, BLOCK_SIZE)

    @property
    def processes(self) -> int:
        """Processes that share the work: at most one per block."""
        blocks = -(-self.episodes // BLOCK_SIZE)
        return max(1, min(self.workers, blocks))


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes) and wall time (seconds), each split into named terms."""

    memory: dict[str, float] = field(default_factory=dict)
    time: dict[str, float] = field(default_factory=dict)
    summary_memory: float = 0.0  # the summary's phase, after the blocks (main process)

    @property
    def bytes(self) -> float:
        return max(sum(self.memory.values()), self.summary_memory)

    @property
    def memory_driver(self) -> str:
        """The term that drives the peak: the summary, or the largest simulation term."""
        if self.summary_memory > sum(self.memory.values()):
            return "the summary"
        return max(self.memory, key=self.memory.get)

    @property
    def seconds(self) -> float:
        return sum(self.time.values())


def estimate(work: Workload) -> Estimate:
    """Peak memory and wall time of a workload, term by term (see the module docstring)."""
    from acsim.simulator.vectorised import chunk_episodes

    held, steps, order, draws = (work.held_episodes, work.market_steps, work.order_steps,
                                 work.draws_per_step)
    per_process = {
        "block arrays": BLOCK_BYTES * float(held) * (steps + 1),
        "block columns": COLUMN_BYTES * float(work.cases) * held,
        "ensemble draws": 0.0 if draws == 0 else FLOAT * float(draws) * steps * (
            1 if work.mesa else min(held, chunk_episodes(steps, draws))),
        "ensemble laws": FLOAT * LAW_ARRAYS * (work.agents + 1.0),
        "forecast tables": 2 * FLOAT * work.forecasts * work.points * (order + 1.0)
        * (work.agents + 1.0),
        "planners": work.points * sum(PLANNERS[kind].memory(order) for kind in work.planners),
        "cases": CASE_BYTES * float(work.cases),
        "Mesa agents": AGENT_BYTES * float(work.agents) if work.mesa else 0.0,
    }
    processes = work.processes
    memory = {name: value * processes for name, value in per_process.items() if value}
    values = float(work.cases) * work.episodes  # (shortfall, final holdings) per case, episode
    summary = 0.0 if work.mesa else (  # stored values, histograms, the chosen bins, the cases
        min(2 * FLOAT * values, SUMMARY_MEMORY)
        + min(HISTOGRAM_MEMORY, 2 * FLOAT * HISTOGRAM_BINS * float(work.cases))
        + FLOAT * min(KEEP_LIMIT, values) + CASE_BYTES * float(work.cases))
    episodes = float(work.episodes)
    setup = work.points * sum(PLANNERS[kind].setup(order) for kind in work.planners)
    replanning = work.points * sum(PLANNERS[kind].replanning(order) for kind in work.planners)
    blocks = -(-work.episodes // BLOCK_SIZE)
    if work.mesa:
        serial = {"Mesa agents": MESA_SECONDS * episodes * steps * max(work.agents, draws),
                  "planners": episodes * (setup + replanning)}
    else:
        serial = {"engine": ENGINE_SECONDS * work.cases * episodes * steps,
                  "ensemble draws": DRAW_SECONDS * episodes * steps * draws,
                  "planners": setup * processes + episodes * replanning,
                  "cases": CASE_SECONDS * float(work.cases) * (blocks + 2)}
    time = {name: value / processes for name, value in serial.items() if value}
    return Estimate(memory, time, summary)


class SizeError(ParameterError):
    """A run estimated to need more memory or time than the machine has (`--allow-large`
    runs it anyway)."""


def available_memory() -> float:
    """Bytes of memory available now: MemAvailable of /proc/meminfo, else free pages."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _bytes_text(value: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if value >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value / 1e3:,.1f} kB"


def _seconds_text(value: float) -> str:
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600),
                        ("minutes", 60)):
        if value >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,.1f} s"


def _driver(terms: dict[str, float]) -> str:
    return max(terms, key=terms.get)


def describe(work: Workload) -> str:
    """The sizes a refusal names: steps, agents, draws, cases and episodes."""
    return (f"{work.episodes:,} episodes × {work.cases:,} cases ({len(work.planners)} "
            f"strategies × {work.points:,} sweep points) × {work.market_steps:,} steps, "
            f"{work.agents:,} agents ({work.draws_per_step:,} draws per step), "
            f"{work.processes} process(es)")


def check(work: Workload, allow_large: bool = False, memory_limit: float | None = None,
          time_limit: float | None = None) -> Estimate:
    """The workload's estimate; SizeError (one line: the estimate, what drives it, the flag)
    when memory exceeds `memory_limit` (default: available now) or time exceeds `time_limit`
    (default TIME_LIMIT), unless allow_large."""
    result = estimate(work)
    if allow_large:
        return result
    memory_limit = available_memory() if memory_limit is None else memory_limit
    time_limit = TIME_LIMIT if time_limit is None else time_limit
    problems = []
    if result.bytes > memory_limit:
        problems.append(f"about {_bytes_text(result.bytes)} of memory (mostly "
                        f"{result.memory_driver}) where {_bytes_text(memory_limit)} is "
                        "available")
    if result.seconds > time_limit:
        problems.append(f"about {_seconds_text(result.seconds)} (mostly "
                        f"{_driver(result.time)}) where the limit is "
                        f"{_seconds_text(time_limit)}")
    if problems:
        raise SizeError(f"this run would need {' and '.join(problems)}: {describe(work)}; "
                        f"reduce the episodes, steps, agents or sweep, or pass {FLAG} to run it "
                        "anyway")
    if result.seconds > NOTICE_SECONDS:  # a long run says so before it starts
        print(f"acsim: this run is estimated at about {_seconds_text(result.seconds)} (mostly "
              f"{_driver(result.time)}) and {_bytes_text(result.bytes)} of memory: "
              f"{describe(work)}; Ctrl-C stops it (a study keeps its finished blocks)",
              file=sys.stderr)
    return result


def planner_kind(config: SimulationConfig, strategy: object = None) -> str:
    """The planner a strategy (default: the configuration's [strategy]) builds under its
    believed impact model: none (twap, vwap), else the impact model's planner (gains: linear;
    transient; power; reference: power law with transient impact), counted as re-planning
    every step (a policy object of your own, or ac-static planning once: an upper bound)."""
    strategy = config.strategy if strategy is None else strategy
    if isinstance(strategy, StrategyParameters) and strategy.name in ("twap", "vwap"):
        return "none"
    beliefs = config.planning_beliefs()
    power = getattr(beliefs.impact, "power_law", lambda market: None)(beliefs.market)
    transient = getattr(beliefs.impact, "kernel", None) is not None
    if power is not None:
        return "reference" if transient else "power"
    return "transient" if transient else "gains"


def uses_forecast_table(strategy: object) -> bool:
    """Whether a strategy plans on the `model` field forecast (a table per count)."""
    return isinstance(strategy, StrategyParameters) and strategy.options.get(
        "forecast") == "model"


def study_workload(base: SimulationConfig, strategies: tuple = (), points: int = 1,
                   workers: int = 1, mesa: bool = False, episodes: int | None = None,
                   held: int | None = None) -> Workload:
    """The workload of `strategies` (default: the base's [strategy]) on `points` sweep points
    of the base configuration (episodes: default the base's). Every point is costed with the
    base's impact model and ensemble (a study's points share its steps and draws)."""
    strategies = tuple(strategies) or (base.strategy,)
    return Workload(
        episodes=base.episodes if episodes is None else episodes,
        market_steps=base.market_steps, order_steps=base.market.steps,
        agents=base.ensemble.agents, draws_per_step=base.ensemble.draws_per_step,
        planners=tuple(planner_kind(base, strategy) for strategy in strategies),
        forecasts=sum(uses_forecast_table(strategy) for strategy in strategies),
        points=points, held=held, workers=workers, mesa=mesa)


EXPERIMENT_EPISODES = 100_000  # the largest default episode count of the experiments


def process_count(workers: int | None) -> int:
    """Worker processes of a run: `workers`, default every core."""
    return workers if workers is not None and workers >= 1 else os.cpu_count() or 1


def experiment_workload(args: object, cases: int = 1, holds_all: bool = False) -> Workload:
    """An experiment's workload from its flags: --episodes (default EXPERIMENT_EPISODES),
    --steps or --market-steps (default: the configuration's), --workers; `cases`: the
    strategies × configurations it simulates on every episode (its module's
    `simulated_cases(args)`);
    holds_all: every episode is in memory at once (its module's HOLDS_ALL_EPISODES)."""
    base = SimulationConfig()
    steps = getattr(args, "steps", None) or getattr(args, "market_steps", None)
    if steps is not None:
        base = base.replace(market={"steps": steps})
    episodes = getattr(args, "episodes", None)
    episodes = episodes if episodes and episodes > 0 else EXPERIMENT_EPISODES
    workers = 1 if holds_all else process_count(getattr(args, "workers", None))
    return study_workload(base, points=cases, workers=workers, episodes=episodes,
                          held=episodes if holds_all else None)


def schedule_workload(config: SimulationConfig) -> Workload:
    """`acsim schedule` and `cost`: one plan of the order under the configuration's impact model
    (linear: one tridiagonal solve; otherwise the model's planner, built once)."""
    kind = planner_kind(config)
    return Workload(episodes=1, market_steps=config.market.steps,
                    order_steps=config.market.steps, agents=0, draws_per_step=0,
                    planners=("schedule" if kind == "gains" else kind,))


def market_workload(config: SimulationConfig, steps: int, runs: int) -> Workload:
    """`acsim market`: `runs` runs of the market with no order, `steps` steps each, every
    step of every run kept in one table."""
    return Workload(episodes=runs, market_steps=steps, order_steps=0,
                    agents=config.ensemble.agents,
                    draws_per_step=config.ensemble.draws_per_step, planners=("none",),
                    held=runs)
