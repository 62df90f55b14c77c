"""Solver micro-benchmark: the exact extended-AC planner against the cvxpy reference.

    python -m acsim.experiments.benchmark_solvers [--format table|json]

Every case plans the same §3b problem (MODEL.md) from full holdings with a different
random field forecast per solve; the planning inputs are built before timing starts.
Each case is timed with time.perf_counter over `solves` solves, `repeats` times, with
garbage collection paused (as timeit does); the reported figure is the median total
divided by the number of solves. Batched cases make one call on `batch` forecasts and
count that as `batch` solves. Speed-ups are against cvxpy-rebuilt measured in the same
run, so the ratios stay meaningful on a noisy machine. This is a benchmark, not a test:
it asserts nothing about speed.
"""

from __future__ import annotations

import time

import numpy as np

from acsim.experiments.benchmark_timing import benchmark_main, format_seconds, timed
from acsim.strategies.extended import (
    LinearGains,
    no_buyback_holdings,
    no_buyback_plans,
    optimal_holdings,
)
from acsim.strategies.parameters import (
    ExecutionProblem,
    ExtendedParameters,
    PlanningInputs,
    planning_inputs,
)
from acsim.strategies.reference import ReferencePlanner, active_set_holdings

# Solves per timed repeat of the unbatched cases (cvxpy is slow, so it gets fewer).
FAST_SOLVES = 1000
NO_BUYBACK_SOLVES = 200
CVXPY_REBUILT_SOLVES = 20
CVXPY_PARAMETER_SOLVES = 50

EXTENDED = ExtendedParameters(coupling=0.5, self_alpha=1e-4)


def benchmark_problem(steps: int) -> ExecutionProblem:
    """Paper-like order: 1000 shares over 20 time units in `steps` steps, κT ≈ 2.9."""
    return ExecutionProblem(shares=1000.0, horizon=20.0, steps=steps, price=100.0,
                            volatility=1.0, half_spread=0.01, temporary_impact=0.01,
                            permanent_impact=1e-3, risk_aversion=1e-4)


def random_forecasts(rng: np.random.Generator, problem: ExecutionProblem,
                     count: int) -> np.ndarray:
    """Smooth model-like field forecasts f̂_k = f_0·exp(-t_k/θ), f_0 ~ U(-1, 1), θ ~ U(2, 20).

    With coupling 0.5 a fifth to a third of them make the equality-constrained plan buy back,
    so the no-buy-back active set is exercised. Shape (count, steps).
    """
    times = problem.times[1:]
    start = rng.uniform(-1.0, 1.0, (count, 1))
    decay = rng.uniform(2.0, 20.0, (count, 1))
    return start * np.exp(-times / decay)


def _median_seconds(run, repeats: int) -> float:
    """Median wall time of `repeats` calls of run(), after one untimed warm-up call."""
    return timed(run, repeats)[0]


def _row(name: str, steps: int, solves: int, repeats: int, seconds: float,
         detail: str) -> dict:
    return {"name": name, "steps": steps, "solves": solves, "repeats": repeats,
            "seconds_per_solve": seconds / solves, "speedup_vs_cvxpy_rebuilt": None,
            "detail": detail}


def _cases_for_steps(steps: int, repeats: int, batch: int,
                     rng: np.random.Generator) -> list[dict]:
    """Time every case for one number of steps."""
    problem = benchmark_problem(steps)
    shares = problem.shares
    pool = max(FAST_SOLVES, NO_BUYBACK_SOLVES, CVXPY_REBUILT_SOLVES, CVXPY_PARAMETER_SOLVES)
    inputs = [planning_inputs(problem, EXTENDED, forecast)
              for forecast in random_forecasts(rng, problem, pool)]
    template = inputs[0]
    batched = PlanningInputs(template.step_length, template.effective_temporary_impact,
                             template.urgency,
                             np.stack([planning_inputs(problem, EXTENDED, forecast).drift
                                       for forecast in random_forecasts(rng, problem, batch)]))
    holdings = np.full(batch, shares)
    rows = []

    fast = inputs[:FAST_SOLVES]
    rows.append(_row("fast", steps, len(fast), repeats, _median_seconds(
        lambda: [optimal_holdings(item, shares) for item in fast], repeats),
        "optimal_holdings, one forecast per call"))
    rows.append(_row("fast-batched", steps, batch, repeats, _median_seconds(
        lambda: optimal_holdings(batched, holdings), repeats),
        f"optimal_holdings, one call on {batch} forecasts"))

    start = time.perf_counter()
    gains = LinearGains.from_inputs(template)
    build_ms = 1e3 * (time.perf_counter() - start)
    rows.append(_row("fast-gains-first-trade", steps, len(fast), repeats, _median_seconds(
        lambda: [gains.first_trade(shares, item.drift) for item in fast], repeats),
        f"first trade only; gains built once in {build_ms:.1f} ms (not timed)"))
    rows.append(_row("fast-gains-first-trade-batched", steps, batch, repeats, _median_seconds(
        lambda: gains.first_trade(holdings, batched.drift), repeats),
        f"first trade only, one call on {batch} forecasts"))
    sell_only = inputs[:NO_BUYBACK_SOLVES]
    needs_active_set = np.mean([np.any(np.diff(optimal_holdings(item, shares)) > 0.0)
                                for item in sell_only])
    rows.append(_row("fast-no-buyback", steps, len(sell_only), repeats, _median_seconds(
        lambda: [no_buyback_holdings(item, shares) for item in sell_only], repeats),
        f"compiled active set; {100 * needs_active_set:.0f}% of these forecasts need it"))
    rows.append(_row("fast-no-buyback-batched", steps, batch, repeats, _median_seconds(
        lambda: no_buyback_plans(batched, holdings), repeats),
        f"no_buyback_plans, one call on {batch} forecasts (no guessed working sets)"))
    rows.append(_row("numpy-no-buyback", steps, len(sell_only), repeats, _median_seconds(
        lambda: [active_set_holdings(item, shares) for item in sell_only], repeats),
        "the per-episode numpy active set (the planner before the compiled batch)"))

    rebuilt = inputs[:CVXPY_REBUILT_SOLVES]
    rows.append(_row("cvxpy-rebuilt", steps, len(rebuilt), repeats, _median_seconds(
        lambda: [ReferencePlanner(problem.half_spread).holdings(item, shares)
                 for item in rebuilt], repeats),
        "new ReferencePlanner (new cvxpy Problem) per solve"))
    for name, no_buyback in (("cvxpy-parameters", False), ("cvxpy-no-buyback-parameters", True)):
        planner = ReferencePlanner(problem.half_spread, no_buyback=no_buyback)
        reused = inputs[:CVXPY_PARAMETER_SOLVES]
        rows.append(_row(name, steps, len(reused), repeats, _median_seconds(
            lambda planner=planner, reused=reused: [planner.holdings(item, shares)
                                                    for item in reused], repeats),
            "one Problem, new Parameter values; compiling first solve not timed"))

    baseline = next(row["seconds_per_solve"] for row in rows if row["name"] == "cvxpy-rebuilt")
    for row in rows:
        row["speedup_vs_cvxpy_rebuilt"] = baseline / row["seconds_per_solve"]
    return rows


def run_solver_benchmark(steps_list: tuple[int, ...] = (20, 390), repeats: int = 5,
                         batch: int = 10_000, seed: int = 0) -> list[dict]:
    """Time every solver case for each number of steps; one dict per (case, steps)."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for steps in steps_list:
        rows.extend(_cases_for_steps(steps, repeats, batch, rng))
    return rows


def format_solver_table(rows: list[dict]) -> str:
    """A fixed-width table of the benchmark rows."""
    header = (f"{'case':<32} {'steps':>5} {'solves':>7} {'time/solve':>12} "
              f"{'vs rebuilt':>11}  detail")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['name']:<32} {row['steps']:>5} {row['solves']:>7} "
                     f"{format_seconds(row['seconds_per_solve']):>12} "
                     f"{row['speedup_vs_cvxpy_rebuilt']:>10,.0f}×  {row.get('detail', '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table or JSON."""
    def add_arguments(parser) -> None:
        parser.add_argument("--steps", type=int, nargs="+", default=[20, 390])
        parser.add_argument("--batch", type=int, default=10_000)

    benchmark_main(__doc__.splitlines()[0], lambda args: run_solver_benchmark(
        tuple(args.steps), args.repeats, args.batch, args.seed), format_solver_table, argv,
        add_arguments)


if __name__ == "__main__":
    main()
