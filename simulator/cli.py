"""The `acsim` command line.

Units throughout: shares, a time unit of your choice (days, minutes, ...), prices in
currency per share. Volatility σ is in price units per √(time unit) (arithmetic price).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from acsim.experiments import benchmark_engines, coupling_study, frontier, paper_real, paper_synthetic
from acsim.experiments.studies import DEFAULT_STUDY, format_tables, load_study, write_outputs
from acsim.simulator.study import BACKENDS, Study, StudyResults, run_study, strategy_label
from acsim.simulator.config import DEFAULT_MARKET, FORECASTS, STRATEGIES, SimulationConfig, load_config
from acsim.simulator.model import run_episode
from acsim.simulator.results import format_summary
from acsim.simulator.statistics import summarise
from acsim.strategies import almgren_chriss
from acsim.strategies.ensemble import SWITCHING_RULES
from acsim.strategies.baselines import twap_holdings
from acsim.strategies.costs import schedule_cost, trades_from_holdings, validate_holdings, validate_trades
from acsim.strategies.errors import AcsimError, ParameterError
from acsim.strategies.extended import extended_schedule
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, planning_inputs

EXPERIMENTS = {
    "paper-synthetic": paper_synthetic,
    "paper-real": paper_real,
    "coupling-study": coupling_study,
    "frontier": frontier,
}

MARKET_FLAGS = {
    # flag: (field, type, help)
    "--shares": ("shares", float, "shares to execute, X > 0"),
    "--horizon": ("horizon", float, "time allowed T > 0, in time units"),
    "--steps": ("steps", int, "number of trading steps N >= 1 (step length τ = T/N)"),
    "--price": ("price", float, "arrival price S_0 > 0, currency per share"),
    "--volatility": ("volatility", float,
                     "σ >= 0, price units per √(time unit) (arithmetic price)"),
    "--half-spread": ("half_spread", float, "ε >= 0, currency per share traded"),
    "--temporary-impact": ("temporary_impact", float,
                           "η > 0: a trade of n shares in a step of length τ fills "
                           "η·n/τ worse"),
    "--permanent-impact": ("permanent_impact", float,
                           "γ >= 0, permanent price move per share traded"),
    "--risk-aversion": ("risk_aversion", float, "λ >= 0 per currency, weight of variance"),
    "--drift": ("drift", float, "exogenous price drift α, price units per time unit"),
}


def add_market_flags(parser: argparse.ArgumentParser,
                     defaults: ExecutionProblem | None = None) -> None:
    """The market and order flags shared by every subcommand (defaults: see --help)."""
    defaults = defaults or ExecutionProblem()
    group = parser.add_argument_group("order and market")
    for flag, (name, kind, text) in MARKET_FLAGS.items():
        group.add_argument(flag, dest=name, type=kind, default=None,
                           help=f"{text} (default {getattr(defaults, name):g})")
    group.add_argument("--side", choices=("sell", "buy"), default=None,
                       help="sell (default) or buy; a buy is the mirror image of a sell")


def add_extended_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("extended model (MODEL.md §3b)")
    group.add_argument("--coupling", type=float, default=0.0,
                       help="price drift per unit of ensemble field (default 0)")
    group.add_argument("--self-alpha", type=float, default=0.0,
                       help="self-alpha >= 0: price drift per share still held (default 0)")
    group.add_argument("--field", type=str, default=None,
                       help="field forecast: one number (held constant) or N comma-separated "
                            "values f̂_1..f̂_N (default: no field)")


def market_changes(args: argparse.Namespace) -> dict:
    """The market fields the user set with flags."""
    changes = {name: getattr(args, name) for name, _, _ in MARKET_FLAGS.values()
               if getattr(args, name) is not None}
    if args.side is not None:
        changes["side"] = args.side
    return changes


def problem_from_args(args: argparse.Namespace) -> ExecutionProblem:
    """The classic AC example problem with every market flag the user gave applied."""
    return ExecutionProblem().with_changes(**market_changes(args))


def parse_numbers(flag: str, text: str) -> np.ndarray:
    """A comma-separated list of numbers, or a clear error naming the flag."""
    try:
        return np.array([float(item) for item in text.split(",")], dtype=float)
    except ValueError:
        raise ParameterError(f"{flag} must be comma-separated numbers, got {text!r}") from None


def field_from_args(args: argparse.Namespace) -> float | np.ndarray | None:
    if args.field is None:
        return None
    values = parse_numbers("--field", args.field)
    return float(values[0]) if values.shape[0] == 1 else values


def schedule_report(problem: ExecutionProblem, holdings: np.ndarray, rate: float | None,
                    title: str, extended: ExtendedParameters | None = None,
                    field_forecast: object = None) -> dict:
    """The JSON-able result of `schedule` and `cost`."""
    cost = schedule_cost(problem, holdings, extended, field_forecast)
    return {
        "title": title,
        "kappa": rate,
        "half_life": None if not rate else 1.0 / rate,  # null when κ = 0 (TWAP: no decay)
        "holdings": holdings.tolist(),
        "trades": trades_from_holdings(holdings).tolist(),
        "expected_shortfall": cost.expected_shortfall,
        "variance": cost.variance,
        "utility": cost.utility,
        "side": "sell" if problem.side == 1 else "buy",
        "step_length": problem.step_length,
    }


def format_schedule_table(report: dict, problem: ExecutionProblem) -> str:
    """A readable summary followed by the schedule, one row per step."""
    lines = [
        report["title"],
        f"  {report['side']} {problem.shares:,.0f} shares over {problem.horizon:g} time units "
        f"in {problem.steps} steps (τ = {problem.step_length:g}); arrival price {problem.price:g}",
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


def print_report(report: dict, problem: ExecutionProblem, output_format: str) -> None:
    if output_format == "json":
        print(json_text(report))
    else:
        print(format_schedule_table(report, problem))


def command_schedule(args: argparse.Namespace) -> None:
    problem = problem_from_args(args)
    extended = ExtendedParameters(args.coupling, args.self_alpha)
    field_forecast = field_from_args(args)
    if args.model != "extended" and (args.coupling or args.self_alpha or args.field is not None):
        raise ParameterError("--coupling, --self-alpha and --field need --model extended")
    if args.model == "ac" and not args.no_buyback:
        schedule = almgren_chriss.optimal_schedule(problem)
        rate, holdings, title = schedule.kappa, schedule.holdings, "Almgren-Chriss optimal schedule (exact discrete)"
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
        if args.model == "ac":
            extended, field_forecast = ExtendedParameters(), None
        holdings = extended_schedule(problem, extended, field_forecast, args.no_buyback)
        inputs = planning_inputs(problem, extended)
        rate = almgren_chriss.discrete_kappa(inputs.urgency, inputs.effective_temporary_impact,
                                             inputs.step_length)
        title = ("Extended Almgren-Chriss schedule" if args.model == "extended"
                 else "Almgren-Chriss schedule") + (" (no buy-back)" if args.no_buyback else "")
    report = schedule_report(problem, holdings, rate, title, extended, field_forecast)
    print_report(report, problem, args.format)


def command_cost(args: argparse.Namespace) -> None:
    problem = problem_from_args(args)
    extended = ExtendedParameters(args.coupling, args.self_alpha)
    if (args.holdings is None) == (args.trades is None):
        raise ParameterError("give exactly one of --holdings and --trades")
    if args.holdings is not None:
        holdings = validate_holdings(problem, parse_numbers("--holdings", args.holdings))
    else:
        holdings = validate_trades(problem, parse_numbers("--trades", args.trades))
    report = schedule_report(problem, holdings, None, "Cost of the given schedule", extended,
                             field_from_args(args))
    print_report(report, problem, args.format)


ENSEMBLE_FLAGS = {
    "--agents": ("agents", int, "number of ensemble agents M >= 2"),
    "--field-scale": ("field_scale", float, "field scale α0 >= 0: field f = α0·(2m - M)/M"),
    "--switch-to-momentum": ("switch_to_momentum", float,
                             "Kirman a1: own switching probability of a mean-reversion agent"),
    "--switch-to-mean-reversion": ("switch_to_mean_reversion", float,
                                   "Kirman a2: own switching probability of a momentum agent"),
    "--herding": ("herding", float, "Kirman b: probability of copying another agent"),
    "--step-probability": ("step_probability", float,
                           "random-walk rule: probability p <= 1/2 of each ±1 move"),
}


def add_simulation_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of simulate and episode; every one overrides --config and the defaults."""
    parser.add_argument("--config", help="TOML configuration file (see README)")
    parser.add_argument("--seed", type=int, default=None, help="root seed, integer >= 0 "
                        "(default 0)")
    add_market_flags(parser, DEFAULT_MARKET)
    group = parser.add_argument_group("feedback terms of the market (MODEL.md §2)")
    group.add_argument("--coupling", type=float, default=None,
                       help="price drift per unit of field, price units per time unit (default 0)")
    group.add_argument("--self-alpha", type=float, default=None,
                       help="self-alpha >= 0: drift per share still held (default 0)")
    group = parser.add_argument_group("ensemble (MODEL.md §4)")
    for flag, (_, kind, text) in ENSEMBLE_FLAGS.items():
        group.add_argument(flag, type=kind, default=None, help=text)
    group.add_argument("--switching", choices=SWITCHING_RULES, default=None,
                       help="count dynamics (default kirman)")
    group.add_argument("--initial", default=None,
                       help="initial momentum count: balanced, stationary or an integer")
    group = parser.add_argument_group("strategy")
    group.add_argument("--strategy", choices=STRATEGIES, default=None,
                       help="execution strategy (default extended)")
    group.add_argument("--forecast", choices=FORECASTS, default=None,
                       help="extended strategy's field forecast (default persistent)")
    group.add_argument("--no-buyback", action="store_true", default=None,
                       help="adaptive strategies never trade against the order")
    group.add_argument("--volume-profile", default=None,
                       help="vwap: N comma-separated non-negative volume weights")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def config_from_args(args: argparse.Namespace, episodes: int | None = None) -> SimulationConfig:
    """Defaults, then the --config file, then every flag given."""
    config = load_config(args.config) if args.config else SimulationConfig()
    ensemble = {name: getattr(args, flag[2:].replace("-", "_"))
                for flag, (name, _, _) in ENSEMBLE_FLAGS.items()}
    ensemble = {name: value for name, value in ensemble.items() if value is not None}
    if args.switching is not None:
        ensemble["switching"] = args.switching
    if args.initial is not None:
        ensemble["initial"] = (int(args.initial) if args.initial.lstrip("-").isdigit()
                               else args.initial)
    extended = {name: value for name, value in
                (("coupling", args.coupling), ("self_alpha", args.self_alpha))
                if value is not None}
    strategy = {name: value for name, value in
                (("name", args.strategy), ("forecast", args.forecast),
                 ("no_buyback", args.no_buyback)) if value is not None}
    if args.volume_profile is not None:
        strategy["volume_profile"] = tuple(parse_numbers("--volume-profile", args.volume_profile))
    simulation = {name: value for name, value in (("seed", args.seed), ("episodes", episodes))
                  if value is not None}
    return config.replace(market=market_changes(args), extended=extended, ensemble=ensemble,
                          strategy=strategy, simulation=simulation)


def command_simulate(args: argparse.Namespace) -> None:
    if args.episodes is not None and args.episodes < 1:
        raise ParameterError(f"--episodes must be an integer >= 1, got {args.episodes}")
    config = config_from_args(args, args.episodes)
    notional = config.market.shares * config.market.price
    if args.engine == "mesa":
        if args.out or args.workers or args.scheduler or args.backend:
            raise ParameterError("--out, --workers, --backend and --scheduler need --engine fast")
        episodes = [run_episode(config, episode) for episode in range(config.episodes)]
        summary = summarise([float(e.shortfall[0]) for e in episodes], notional,
                            config.market.risk_aversion)
        summary["max_abs_final_holdings"] = max(abs(float(e.holdings[0, -1])) for e in episodes)
    else:
        study = Study(config, (config.strategy,))
        summary = run_study_in(study, args).summary.iloc[0].to_dict()
    summary = {key: value for key, value in summary.items() if key not in ("case", "strategy")}
    summary.update({"engine": args.engine, "strategy": strategy_label(config.strategy),
                    "seed": config.seed})
    if args.format == "json":
        print(json_text(summary))
    else:
        print(format_summary(summary))


def json_text(value: object) -> str:
    """Strict JSON: numpy numbers become plain numbers, NaN and infinities become null."""
    def clean(item: object) -> object:
        if isinstance(item, dict):
            return {key: clean(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(entry) for entry in item]
        if isinstance(item, (float, np.floating)):
            return float(item) if math.isfinite(item) else None
        if isinstance(item, np.integer):
            return int(item)
        return item
    return json.dumps(clean(value), indent=2, allow_nan=False)


def run_study_in(study: Study, args: argparse.Namespace) -> StudyResults:
    """Run a study with the backend flags, in --out or a temporary directory."""
    backend = args.backend or ("dask" if args.scheduler else "processes")
    if args.out:
        return run_study(study, args.out, backend, args.workers, args.scheduler)
    with tempfile.TemporaryDirectory(prefix="acsim-") as directory:
        return run_study(study, directory, backend, args.workers, args.scheduler)


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("parallel execution (vectorised engine)")
    group.add_argument("--backend", choices=BACKENDS, default=None,
                       help="inline, processes (a local pool, the default) or dask")
    group.add_argument("--workers", type=int, default=None,
                       help="worker processes (default: every core); with the dask backend "
                            "and no --scheduler, a local Dask cluster of this many workers")
    group.add_argument("--scheduler", default=None,
                       help="address of an existing Dask scheduler (implies --backend dask)")
    group.add_argument("--out", default=None,
                       help="directory for per-block Parquet results and the manifest; "
                            "running again with the same directory resumes")


def command_run(args: argparse.Namespace) -> None:
    study = load_study(args.config) if args.config else DEFAULT_STUDY
    changes = {name: value for name, value in (("episodes", args.episodes), ("seed", args.seed))
               if value is not None}
    if changes:
        study = dataclasses.replace(study, base=study.base.replace(simulation=changes))
    args.out = args.out or "results"
    results = run_study_in(study, args)
    written = write_outputs(results, study)
    if args.format == "json":
        print(json_text({"summary": results.summary.to_dict(orient="records"),
                         "paired": results.paired.to_dict(orient="records"),
                         "files": [str(path) for path in written]}))
    else:
        print(format_tables(results))


def command_episode(args: argparse.Namespace) -> None:
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise ParameterError(f"--plot: the directory of {args.plot!r} does not exist")
    config = config_from_args(args)
    result = run_episode(config, args.episode)
    if args.plot:
        from acsim.simulator.plots import plot_episode

        plot_episode(config, result, args.plot)
    if args.format == "json":
        frame = result.to_frame().drop(columns=["episode", "shortfall"])
        print(json_text({
            "seed": config.seed, "episode": args.episode, "strategy": config.strategy.name,
            "shortfall": float(result.shortfall[0]),
            "shortfall_bps": float(result.shortfall_bps[0]),
            "path": json.loads(frame.to_json(orient="records")),
        }))
    else:
        frame = result.to_frame().drop(columns=["episode", "shortfall"]).set_index("step")
        print(f"episode {args.episode} of seed {config.seed}, strategy {config.strategy.name}: "
              f"implementation shortfall {result.shortfall[0]:,.4f} currency "
              f"({result.shortfall_bps[0]:.3f} bps of arrival notional)")
        print(frame.to_string(float_format=lambda value: f"{value:,.4f}"))
        if args.plot:
            print(f"anatomy plot written to {args.plot}")


def experiment_handler(module):
    """Run an experiment and list what it wrote."""
    def handler(args: argparse.Namespace) -> None:
        written = module.main(args)
        report = next((path for path in written if path.name == "report.md"), None)
        print(f"wrote {len(written)} files to {args.out}/"
              + (f"; report: {report}" if report else ""))
    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acsim",
        description="Optimal trade execution: Almgren-Chriss, self-alpha and ensemble coupling. "
                    "Units: shares; a time unit of your choice; prices in currency per share; "
                    "volatility in price units per √(time unit).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    schedule = commands.add_parser(
        "schedule", help="compute an optimal execution schedule",
        description="Optimal schedule with its expected shortfall E, variance V and utility "
                    "E + λV (currency, currency², currency). Defaults are the classic "
                    "Almgren-Chriss example (1e6 shares over 60 days).")
    add_market_flags(schedule)
    add_extended_flags(schedule)
    schedule.add_argument("--model", choices=("ac", "ac-continuous", "extended", "twap"),
                          default="ac", help="planning model (default ac, exact discrete)")
    schedule.add_argument("--no-buyback", action="store_true",
                          help="forbid trades against the order's direction (n_k >= 0)")
    schedule.add_argument("--format", choices=("table", "json"), default="table")
    schedule.set_defaults(handler=command_schedule)

    cost = commands.add_parser(
        "cost", help="evaluate E, V, U of a given schedule",
        description="Expected shortfall, variance and utility of a given schedule under the "
                    "same market flags (JSON kappa is null: the schedule is not a model's).")
    add_market_flags(cost)
    add_extended_flags(cost)
    cost.add_argument("--holdings", help="x_0,x_1,...,x_N (N+1 values, x_0 = shares, x_N = 0)")
    cost.add_argument("--trades", help="n_1,...,n_N (N values summing to shares)")
    cost.add_argument("--format", choices=("table", "json"), default="table")
    cost.set_defaults(handler=command_cost)

    simulate = commands.add_parser(
        "simulate", help="run Monte Carlo episodes and print IS statistics",
        description="Run N episodes of the simulated market and summarise realised "
                    "implementation shortfall (currency; bps of arrival notional).")
    add_simulation_flags(simulate)
    simulate.add_argument("--engine", choices=("mesa", "fast"), default="mesa",
                          help="mesa (agent by agent, for inspection) or fast (vectorised, "
                               "identical results, for large runs); default mesa")
    add_backend_flags(simulate)
    simulate.add_argument("--episodes", type=int, default=None,
                          help="number of episodes (default 1000 or the config's)")
    simulate.set_defaults(handler=command_simulate)

    episode = commands.add_parser(
        "episode", help="run one episode and show (or plot) its anatomy",
        description="Run one episode in the Mesa model; print its path and IS, and "
                    "optionally draw price and fills, field and counts, holdings and trades.")
    add_simulation_flags(episode)
    episode.add_argument("--episode", type=int, default=0,
                         help="episode number within the seed's stream (default 0)")
    episode.add_argument("--plot", default=None, help="write the anatomy figure to this PNG")
    episode.set_defaults(handler=command_episode)

    run = commands.add_parser(
        "run", help="the main job: a Monte Carlo study (default: the embedded one)",
        description="Run a study: strategies × parameter sweep on common random numbers with "
                    "the vectorised engine. Without CONFIG: the embedded default study (the "
                    "paper's synthetic setting; TWAP, adaptive AC and extended AC over four "
                    "coupling values, 200,000 episodes). Writes tables, Parquet and figures "
                    "to --out (default results/); rerunning with the same --out resumes.")
    run.add_argument("config", nargs="?", default=None, help="study TOML file (see README)")
    run.add_argument("--episodes", type=int, default=None, help="override the episode count")
    run.add_argument("--seed", type=int, default=None, help="override the root seed")
    run.add_argument("--format", choices=("table", "json"), default="table")
    add_backend_flags(run)
    run.set_defaults(handler=command_run)

    bench = commands.add_parser(
        "bench", help="benchmark the engines (episodes per second)",
        description="Episodes per second of the vectorised engine, the Mesa engine and a naive "
                    "cvxpy-per-step loop, measured in one run (cases paper, paper-no-buyback, "
                    "ac-390). A benchmark, not a test: it prints figures, it asserts nothing.")
    benchmark_engines.add_arguments(bench)
    bench.set_defaults(handler=benchmark_engines.main)

    for name, module in EXPERIMENTS.items():
        summary = module.__doc__.strip().splitlines()[0].split(": ", 1)[1]
        experiment = commands.add_parser(name, help=summary, description=module.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(experiment)
        experiment.set_defaults(handler=experiment_handler(module))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except AcsimError as error:
        print(f"acsim {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
