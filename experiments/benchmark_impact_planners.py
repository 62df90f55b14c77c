"""Impact-planner micro-benchmark: the fast planners of MODEL.md §7-§8 against cvxpy.

    python -m acsim.experiments.benchmark_impact_planners [--format table|json]

The order is the paper-like one of `benchmark_solvers` (1000 shares over 20 time units, N = 20
or 390 steps, σ = 1, λ = 1e-4, γ = 1e-3, self_alpha = 1e-4, coupling 0.5 on a random smooth
field forecast per solve), with
- power-law temporary impact, β = 0.6, η_p = 0.01·(X/T)^0.4 (the same impact as η = 0.01 at the
  TWAP rate): `power_law.optimal_holdings`, one episode per call and batched over 4,096
  episodes, against `reference_impact.ImpactReference` (cvxpy + CLARABEL, power cones,
  majorise-minimise for γ), rebuilt per solve;
- a receding-horizon block: 4,096 episodes re-solved at every step (m = 20, 19, ..., 1), each
  executing its first trade, as a vectorised engine would;
- transient impact (exponential kernel G_0 = 1e-4, ρ = 0.5) with linear η = 0.01:
  `transient.TransientPlanner.first_trade` from precomputed gains against the same reference;
- the regime-aware planner's batched first trade (two regimes).
Timing as in `benchmark_solvers` (garbage collection paused, one untimed warm-up, which also
compiles numba, median of `repeats`; CVXPY_REPEATS for cvxpy), with both wall time and this
process's CPU time: the machine is shared, so the ratios use CPU time. Batched cases count every
episode as a solve. Speed-ups are against the cvxpy reference of the same family and length
measured in the same run. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np

from acsim.experiments.benchmark_solvers import EXTENDED, benchmark_problem, random_forecasts
from acsim.experiments.benchmark_timing import benchmark_main, format_seconds, timed
from acsim.strategies.parameters import planning_drift, planning_inputs
from acsim.strategies.power_law import PowerLawImpact, optimal_holdings
from acsim.strategies.reference_impact import ImpactReference
from acsim.strategies.regimes import RegimePlanner, VolatilityRegimes
from acsim.strategies.transient import ExponentialKernel, TransientPlanner

EXPONENT = 0.6
KERNEL = ExponentialKernel(transient_impact=1e-4, resilience=0.5)
REGIMES = VolatilityRegimes((0.7, 1.6), ((0.95, 0.05), (0.1, 0.9)))
BATCH = 4096
CVXPY_SOLVES = 10
CVXPY_REPEATS = 3


def power_law_impact(problem) -> PowerLawImpact:
    """η_p with the same impact as the problem's linear η at the TWAP rate X/T."""
    rate = problem.shares / problem.horizon
    return PowerLawImpact(problem.temporary_impact * rate ** (1.0 - EXPONENT), EXPONENT)


def _row(name: str, steps: int, solves: int, times: tuple[float, float], baseline: str,
         detail: str) -> dict:
    wall, cpu = times
    return {"name": name, "steps": steps, "solves": solves, "wall_seconds_per_solve": wall / solves,
            "cpu_seconds_per_solve": cpu / solves, "baseline": baseline, "speedup": None,
            "detail": detail}


def _drifts(problem, rng: np.random.Generator, count: int) -> np.ndarray:
    """Planning drifts side·(α + coupling·f̂_k) of `count` random forecasts, shape (count, N)."""
    return planning_drift(problem, EXTENDED.coupling, random_forecasts(rng, problem, count))


def power_law_cases(steps: int, repeats: int, rng: np.random.Generator) -> list[dict]:
    problem = benchmark_problem(steps)
    impact = power_law_impact(problem)
    tau, gamma = problem.step_length, problem.permanent_impact
    urgency = planning_inputs(problem, EXTENDED).urgency
    drifts = _drifts(problem, rng, 200)
    shares = problem.shares

    def solve(holdings, drift):
        return optimal_holdings(impact, holdings, drift, step_length=tau,
                                permanent_impact=gamma, urgency=urgency)

    single = drifts[:100]
    rows = [_row("power-law", steps, len(single), timed(
        lambda: [solve(shares, drift) for drift in single], repeats), "cvxpy-power-law",
        "optimal_holdings, one episode per call")]
    reference = ImpactReference(tau, urgency, permanent_impact=gamma, power_law=impact)
    few = drifts[:CVXPY_SOLVES]
    rows.append(_row("cvxpy-power-law", steps, len(few), timed(
        lambda: [reference.holdings(shares, drift) for drift in few], CVXPY_REPEATS),
        "cvxpy-power-law",
        "ImpactReference: new cvxpy problem per solve, power cones"))
    resting = np.mean([np.any(np.diff(solve(shares, drift)) == 0.0) for drift in drifts])
    rows[0]["detail"] += f"; {100 * resting:.0f}% of plans rest in some step"
    return rows


def batched_cases(repeats: int, rng: np.random.Generator, baseline_seconds: float) -> list[dict]:
    """Batched power-law solves at several remaining lengths, and one receding-horizon block."""
    problem = benchmark_problem(20)
    impact = power_law_impact(problem)
    tau, gamma = problem.step_length, problem.permanent_impact
    urgency = planning_inputs(problem, EXTENDED).urgency
    drifts = _drifts(problem, rng, BATCH)
    holdings = problem.shares * rng.uniform(0.3, 1.0, BATCH)
    rows = []
    for remaining in (20, 15, 10, 5):
        wall, cpu = timed(lambda remaining=remaining: optimal_holdings(
            impact, holdings, drifts[:, -remaining:], step_length=tau, permanent_impact=gamma,
            urgency=urgency), repeats)
        rows.append(_row("power-law-batched", remaining, BATCH, (wall, cpu), "cvxpy-power-law",
                         f"one call on {BATCH} episodes: {1e3 * cpu:.2f} ms CPU"))

    def block():
        current = np.full(BATCH, problem.shares)
        for done in range(problem.steps):
            plan = optimal_holdings(impact, current, drifts[:, done:], step_length=tau,
                                    permanent_impact=gamma, urgency=urgency)
            current = plan[:, 1].copy()

    wall, cpu = timed(block, repeats)
    rows.append(_row("power-law-receding-block", 20, BATCH, (wall, cpu), "cvxpy-power-law",
                     f"{BATCH} episodes re-solved at m = 20..1 in {1e3 * cpu:.0f} ms CPU: "
                     f"{BATCH / cpu:,.0f} episodes/s per core (planner only)"))
    for row in rows:
        row["speedup"] = baseline_seconds / row["cpu_seconds_per_solve"]
    return rows


def transient_cases(steps: int, repeats: int, rng: np.random.Generator) -> list[dict]:
    problem = benchmark_problem(steps)
    tau = problem.step_length
    urgency = planning_inputs(problem, EXTENDED).urgency
    start = time.process_time()
    planner = TransientPlanner(KERNEL, tau, problem.temporary_impact, problem.permanent_impact,
                               urgency, steps)
    build_ms = 1e3 * (time.process_time() - start)
    drifts = _drifts(problem, rng, BATCH)
    past = KERNEL.past_displacement_from(rng.uniform(0.0, 0.01, BATCH), tau, steps)
    shares = problem.shares
    single = range(1000)
    rows = [
        _row("transient-gains", steps, len(single), timed(
            lambda: [planner.first_trade(shares, drifts[e], past[e]) for e in single], repeats),
            "cvxpy-transient", f"first trade from gains (built once in {build_ms:.0f} ms CPU, "
                               "with numba's cache loaded)"),
        _row("transient-gains-batched", steps, BATCH, timed(
            lambda: planner.first_trade(np.full(BATCH, shares), drifts, past), repeats),
            "cvxpy-transient", f"first trade, one call on {BATCH} episodes"),
        _row("transient-plan-batched", steps, BATCH, timed(
            lambda: planner.holdings(np.full(BATCH, shares), drifts, past), repeats),
            "cvxpy-transient", f"full plans (triangular solves), one call on {BATCH} episodes"),
    ]
    reference = ImpactReference(tau, urgency, temporary_impact=problem.temporary_impact,
                                permanent_impact=problem.permanent_impact, kernel=KERNEL)
    rows.append(_row("cvxpy-transient", steps, CVXPY_SOLVES, timed(
        lambda: [reference.holdings(shares, drifts[e], past[e]) for e in range(CVXPY_SOLVES)],
        CVXPY_REPEATS), "cvxpy-transient", "ImpactReference: new cvxpy problem per solve"))
    return rows


def regime_cases(repeats: int, rng: np.random.Generator) -> list[dict]:
    problem = benchmark_problem(20)
    planner = RegimePlanner(REGIMES, problem.step_length, problem.effective_temporary_impact,
                            problem.risk_aversion, EXTENDED.self_alpha, problem.steps)
    drifts = _drifts(problem, rng, BATCH)
    regime = rng.integers(0, REGIMES.count, BATCH)
    holdings = np.full(BATCH, problem.shares)
    return [_row("regime-gains-batched", 20, BATCH, timed(
        lambda: planner.first_trade(holdings, regime, drifts), repeats), "",
        f"first trade, one call on {BATCH} episodes in mixed regimes")]


def run_impact_benchmark(repeats: int = 5, seed: int = 0) -> list[dict]:
    """Every case; speed-ups against the cvxpy reference of the same family and length."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for steps in (20, 390):
        rows += power_law_cases(steps, repeats, rng)
    baseline = next(row["cpu_seconds_per_solve"] for row in rows
                    if row["name"] == "cvxpy-power-law" and row["steps"] == 20)
    rows += batched_cases(repeats, rng, baseline)
    for steps in (20, 390):
        rows += transient_cases(steps, repeats, rng)
    rows += regime_cases(repeats, rng)
    for row in rows:
        if row["speedup"] is None and row["baseline"]:
            reference = next(other["cpu_seconds_per_solve"] for other in rows
                             if other["name"] == row["baseline"]
                             and other["steps"] == row["steps"])
            row["speedup"] = reference / row["cpu_seconds_per_solve"]
    return rows


def format_table(rows: list[dict]) -> str:
    header = (f"{'case':<26} {'steps':>5} {'solves':>7} {'wall/solve':>12} {'CPU/solve':>12} "
              f"{'vs cvxpy':>10}  detail")
    lines = [header, "-" * len(header)]
    for row in rows:
        speedup = "" if row["speedup"] is None else f"{row['speedup']:,.0f}×"
        lines.append(f"{row['name']:<26} {row['steps']:>5} {row['solves']:>7} "
                     f"{format_seconds(row['wall_seconds_per_solve']):>12} "
                     f"{format_seconds(row['cpu_seconds_per_solve']):>12} {speedup:>10}  "
                     f"{row['detail']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    benchmark_main(__doc__.splitlines()[0],
                   lambda args: run_impact_benchmark(args.repeats, args.seed), format_table, argv)


if __name__ == "__main__":
    main()
