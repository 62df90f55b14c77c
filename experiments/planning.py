"""`acsim schedule` and `acsim cost`: optimal schedules and the cost of any schedule.

Defaults are the classic Almgren-Chriss example (1e6 shares over 60 days); every [market],
[extended] and [impact] key has its flag. Under an impact model other than linear (MODEL §7:
--impact power, --transient ...) the schedule is that model's planner's (power law: exact
sell-only Newton/active set; transient: exact dense solve; both: the convex reference solver)
and E is that model's expected shortfall.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from acsim.experiments.flags import add_config_flags, parse_numbers, tables_from_args
from acsim.simulator.config import SimulationConfig
from acsim.strategies import almgren_chriss
from acsim.strategies.baselines import twap_holdings
from acsim.strategies.costs import (
    shortfall_variance,
    trades_from_holdings,
    validate_holdings,
    validate_trades,
)
from acsim.strategies.errors import NonFiniteResultError, ParameterError
from acsim.strategies.extended import extended_schedule
from acsim.strategies.impact import CompositeImpact, ImpactModel, LinearImpact
from acsim.strategies.parameters import (
    ExecutionProblem,
    ExtendedParameters,
    check_magnitudes,
    planning_inputs,
)

DESCRIPTIONS = {
    "schedule": "Optimal schedule with its expected shortfall E, variance V and utility E + λV "
                "(currency, currency², currency). Defaults are the classic Almgren-Chriss "
                "example (1e6 shares over 60 days).",
    "cost": "Expected shortfall, variance and utility of a given schedule under the same market "
            "and impact flags (JSON kappa is null: the schedule is not a model's).",
}
TABLES = ("market", "extended", "impact")
MODELS = ("ac", "ac-continuous", "extended", "twap")
BASE = SimulationConfig(market=ExecutionProblem())  # the classic AC example


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, BASE, TABLES)
    parser.add_argument("--field", default=None,
                        help="field forecast: one number (held constant) or N comma-separated "
                             "values f̂_1..f̂_N (default: no field)")
    if name == "schedule":
        parser.add_argument("--model", choices=MODELS, default="ac",
                            help="planning model (default ac, exact discrete)")
        parser.add_argument("--no-buyback", action="store_true",
                            help="forbid trades against the order's direction (n_k >= 0)")
    else:
        parser.add_argument("--holdings",
                            help="x_0,x_1,...,x_N (N+1 values, x_0 = shares, x_N = 0)")
        parser.add_argument("--trades", help="n_1,...,n_N (N values summing to shares)")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(name: str, args: argparse.Namespace) -> None:
    (command_schedule if name == "schedule" else command_cost)(args)


def problem_and_feedback(
        args: argparse.Namespace) -> tuple[ExecutionProblem, ExtendedParameters, ImpactModel]:
    """The market, extended and impact tables with every flag the user gave applied (the impact
    model checked against the market: convexity, a positive-definite kernel), its size checked
    (acsim.simulator.sizes)."""
    from acsim.simulator.sizes import check, schedule_workload

    config = BASE.replace(**tables_from_args(args, TABLES))
    check(schedule_workload(config), args.allow_large)
    return config.market, config.extended, config.impact.impact


def describe_impact(impact: ImpactModel, problem: ExecutionProblem) -> str:
    """One line: the impact model in words and numbers."""
    if isinstance(impact, LinearImpact):
        return f"linear (η = {problem.temporary_impact:g}, γ = {problem.permanent_impact:g})"
    if not isinstance(impact, CompositeImpact):
        return repr(impact)
    power = impact.power_law(problem)
    parts = [f"linear temporary η = {problem.temporary_impact:g}" if power is None else
             f"power-law temporary η_p = {power.coefficient:.6g}, β = {power.exponent:g}",
             f"permanent γ = {problem.permanent_impact:g}"]
    if impact.kernel is not None:
        parts.append(f"transient {impact.kernel!r}")
    return ", ".join(parts)


def field_from_args(args: argparse.Namespace, steps: int) -> float | np.ndarray | None:
    """The --field forecast: one value or `steps` values. The field enters only as coupling·f̂,
    so --coupling without --field, or --field without --coupling, would be silently multiplied
    by 0: refused."""
    if args.field is None:
        if args.coupling is not None:
            raise ParameterError("--coupling needs --field (the field forecast f̂ it multiplies; "
                                 "without one the coupling term is 0)")
        return None
    values = np.array(parse_numbers("--field", args.field))
    if args.coupling is None:
        raise ParameterError("--field needs --coupling (the field moves the price by "
                             "coupling·f̂; without it the field is ignored)")
    if values.shape[0] not in (1, steps):
        raise ParameterError(f"--field takes one value or N = {steps} values (one per step), "
                             f"got {values.shape[0]}")
    return float(values[0]) if values.shape[0] == 1 else values


def schedule_report(problem: ExecutionProblem, holdings: np.ndarray, rate: float | None,
                    title: str, extended: ExtendedParameters | None = None,
                    field_forecast: object = None, impact: ImpactModel | None = None) -> dict:
    """The JSON-able result of `schedule` and `cost`: E under the impact model (default
    linear), V = σ²τΣx_k², U = E + λV."""
    impact = impact or LinearImpact()
    extended = extended or ExtendedParameters()
    drift = planning_inputs(problem, extended, field_forecast).drift
    expected = float(impact.expected_shortfall(problem, holdings, drift, extended.self_alpha))
    variance = float(shortfall_variance(problem, holdings))
    return {
        "title": title,
        "impact": describe_impact(impact, problem),
        "kappa": rate,
        "half_life": None if not rate else 1.0 / rate,  # null when κ = 0 (TWAP: no decay)
        "holdings": holdings.tolist(),
        "trades": trades_from_holdings(holdings).tolist(),
        "expected_shortfall": expected,
        "variance": variance,
        "utility": expected + problem.risk_aversion * variance,
        "side": "sell" if problem.side == 1 else "buy",
        "step_length": problem.step_length,
    }


def format_schedule_table(report: dict, problem: ExecutionProblem) -> str:
    """A readable summary followed by the schedule, one row per step."""
    lines = [
        report["title"],
        f"  {report['side']} {problem.shares:,.0f} shares over {problem.horizon:g} time units "
        f"in {problem.steps} steps (τ = {problem.step_length:g}); arrival price {problem.price:g}",
        f"  impact              {report['impact']}",
    ]
    if report["kappa"] is not None:
        half_life = "none, TWAP" if report["half_life"] is None else (
            f"half-life {report['half_life']:.4g} time units")
        lines.append(f"  kappa               {report['kappa']:.6g} per time unit ({half_life})")
    notional = problem.shares * problem.price
    lines += [
        f"  expected shortfall  {report['expected_shortfall']:,.2f} currency "
        f"({1e4 * report['expected_shortfall'] / notional:.2f} bps of arrival notional)",
        f"  std dev of IS       {math.sqrt(max(report['variance'], 0.0)):,.2f} currency",
        f"  utility E + λV      {report['utility']:,.2f}",
        "",
        f"  {'step':>5} {'time':>10} {'trade':>16} {'holdings after':>16}",
    ]
    times = problem.times
    for k, (trade, held) in enumerate(zip(report["trades"], report["holdings"][1:]), start=1):
        lines.append(f"  {k:>5} {times[k]:>10.4g} {trade:>16,.2f} {held:>16,.2f}")
    return "\n".join(lines)


def finite_output(value: object, where: str = "output") -> object:
    """`value` (nested dicts and lists) with numpy numbers as plain numbers, or
    NonFiniteResultError naming the first entry that is NaN or infinite: no command prints one."""
    if isinstance(value, dict):
        return {key: finite_output(entry, f"{where}.{key}") for key, entry in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_output(entry, f"{where}[{index}]") for index, entry in enumerate(value)]
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise NonFiniteResultError(
                f"{where} = {float(value)!r} is not a finite number: the inputs reach beyond "
                "float64; reduce the largest parameters")
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def json_text(value: object) -> str:
    """Strict JSON: numpy numbers become plain numbers; NaN or infinity is refused."""
    return json.dumps(finite_output(value), indent=2, allow_nan=False)


def print_report(report: dict, problem: ExecutionProblem, output_format: str) -> None:
    finite_output(report, "the schedule's report")
    if output_format == "json":
        print(json_text(report))
    else:
        print(format_schedule_table(report, problem))


def command_schedule(args: argparse.Namespace) -> None:
    problem, extended, impact = problem_and_feedback(args)
    feedback_given = args.coupling is not None or args.self_alpha is not None
    if args.model != "extended" and (feedback_given or args.field is not None):
        raise ParameterError("--coupling, --self-alpha and --field need --model extended")
    field_forecast = field_from_args(args, problem.steps)
    if args.no_buyback and args.model == "twap":
        raise ParameterError("--no-buyback does not apply to --model twap (it never buys back)")
    if not isinstance(impact, LinearImpact) and args.model in ("ac", "extended"):
        holdings = impact_schedule(problem, extended if args.model == "extended" else None,
                                   field_forecast, impact, args.no_buyback)
        rate = None
        title = (("Extended optimal schedule" if args.model == "extended" else
                  "Optimal schedule") + " under the impact model"
                 + (" (no buy-back)" if args.no_buyback else ""))
    elif not isinstance(impact, LinearImpact) and args.model == "ac-continuous":
        raise ParameterError("--model ac-continuous is the linear-impact approximation; use "
                             "--model ac with --impact power or --transient")
    elif args.model == "ac" and not args.no_buyback:
        schedule = almgren_chriss.optimal_schedule(problem)
        rate, holdings = schedule.kappa, schedule.holdings
        title = "Almgren-Chriss optimal schedule (exact discrete)"
    elif args.model == "ac-continuous":
        if args.no_buyback:
            raise ParameterError("--no-buyback is not available with --model ac-continuous")
        schedule = almgren_chriss.continuous_schedule(problem)
        rate, holdings = schedule.kappa, schedule.holdings
        title = ("Almgren-Chriss continuous-time APPROXIMATION (κ² = λσ²/η), "
                 "sampled and costed exactly")
    elif args.model == "twap":
        rate, holdings, title = 0.0, twap_holdings(problem), "TWAP (equal trades)"
    else:
        holdings = extended_schedule(problem, extended, field_forecast, args.no_buyback)
        inputs = planning_inputs(problem, extended)
        rate = almgren_chriss.discrete_kappa(inputs.urgency, inputs.effective_temporary_impact,
                                             inputs.step_length)
        title = ("Extended Almgren-Chriss schedule" if args.model == "extended"
                 else "Almgren-Chriss schedule") + (" (no buy-back)" if args.no_buyback else "")
    report = schedule_report(problem, holdings, rate, title, extended, field_forecast, impact)
    print_report(report, problem, args.format)


def impact_schedule(problem: ExecutionProblem, extended: ExtendedParameters | None,
                    field_forecast: object, impact: ImpactModel, no_buyback: bool) -> np.ndarray:
    """x_0..x_N planned once by the impact model's planner, urgency λσ² (+ self_alpha) and the
    planning drift of the (extended) model."""
    inputs = planning_inputs(problem, extended, field_forecast)
    planner = impact.planner(problem, inputs.urgency)
    return planner.holdings(np.array([problem.shares]), inputs.drift[None, :],
                            np.zeros((1, 0)), no_buyback)[0]


def command_cost(args: argparse.Namespace) -> None:
    problem, extended, impact = problem_and_feedback(args)
    if (args.holdings is None) == (args.trades is None):
        raise ParameterError("give exactly one of --holdings and --trades")
    if args.holdings is not None:
        holdings = validate_holdings(problem, parse_numbers("--holdings", args.holdings))
    else:
        holdings = validate_trades(problem, parse_numbers("--trades", args.trades))
    field_forecast = field_from_args(args, problem.steps)
    drift = planning_inputs(problem, extended, field_forecast).drift
    check_magnitudes(problem, float(np.max(np.abs(drift))), extended.self_alpha,
                     holdings=float(np.max(np.abs(holdings))),
                     trade=float(np.max(np.abs(trades_from_holdings(holdings)))))
    report = schedule_report(problem, holdings, None, "Cost of the given schedule", extended,
                             field_forecast, impact)
    print_report(report, problem, args.format)
