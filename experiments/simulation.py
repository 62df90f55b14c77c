"""`acsim simulate`, `acsim episode` and `acsim run`: Monte Carlo episodes, one episode's
anatomy, and studies (the main job).

Flags override the --config file, the file overrides the defaults; every configuration key has
its flag (see `acsim parameters`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile

import numpy as np

from acsim.experiments.flags import (
    add_belief_flag,
    add_config_flags,
    belief_table,
    figure_path,
    tables_from_args,
)
from acsim.experiments.planning import finite_output, json_text
from acsim.simulator.config import SimulationConfig, load_config
from acsim.simulator.output_folder import OutputFolder
from acsim.simulator.study import BACKENDS, Study, StudyResults, run_study, strategy_label
from acsim.strategies.errors import ParameterError

DESCRIPTIONS = {
    "simulate": "Run N episodes of the simulated market and summarise realised implementation "
                "shortfall (currency; bps of arrival notional).",
    "episode": "Run one episode in the Mesa model; print its path and IS, and optionally draw "
               "price and fills, field and counts, holdings and trades.",
    "run": "Run a study: strategies × parameter sweep on common random numbers with the "
           "vectorised engine. Without CONFIG: the embedded default study (the paper's "
           "synthetic setting; TWAP, adaptive AC and extended AC over four coupling values, "
           "200,000 episodes). Writes tables, Parquet and figures to --out (default results/); "
           "rerunning with the same --out resumes.",
}


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
                       help="output folder for per-block Parquet results and the manifest: "
                            "new, empty or one acsim wrote (locked while a run uses it); "
                            "running again with the same folder resumes")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table")
    if name == "run":
        parser.add_argument("config", nargs="?", default=None,
                            help="study TOML file (see README)")
        parser.add_argument("--episodes", type=int, default=None,
                            help="override the episode count")
        parser.add_argument("--seed", type=int, default=None, help="override the root seed")
        add_backend_flags(parser)
        return
    parser.add_argument("--config", help="TOML configuration file (see README)")
    add_config_flags(parser, SimulationConfig())
    add_belief_flag(parser)
    if name == "simulate":
        parser.add_argument("--engine", choices=("mesa", "fast"), default="mesa",
                            help="mesa (agent by agent, for inspection) or fast (vectorised, "
                                 "identical results, for large runs); default mesa")
        add_backend_flags(parser)
    else:
        parser.add_argument("--episode", type=int, default=0,
                            help="episode number within the seed's stream (default 0)")
        parser.add_argument("--plot", default=None, help="write the anatomy figure to this PNG")


def run(name: str, args: argparse.Namespace) -> None:
    {"simulate": command_simulate, "episode": command_episode, "run": command_run}[name](args)


def config_from_args(args: argparse.Namespace) -> SimulationConfig:
    """Defaults, then the --config file, then every flag given."""
    config = load_config(args.config) if args.config else SimulationConfig()
    tables = tables_from_args(args)
    beliefs = belief_table(args.belief)
    if beliefs:
        tables["beliefs"] = beliefs
    return config.replace(**tables)


def check_size(config: SimulationConfig, args: argparse.Namespace, strategies: tuple = (),
               points: int = 1, mesa: bool = False, held: int | None = None,
               episodes: int | None = None) -> None:
    """Refuse (SizeError) a run the machine cannot hold or finish, unless --allow-large."""
    from acsim.simulator import sizes

    workers = 1 if mesa or args.backend == "inline" else sizes.process_count(args.workers)
    sizes.check(sizes.study_workload(config, strategies, points, workers, mesa, episodes, held),
                args.allow_large)


def run_study_in(study: Study, args: argparse.Namespace,
                 out: str | OutputFolder | None) -> StudyResults:
    """Run a study with the backend flags, in the output folder `out` (see run_study) or, if
    None, a temporary directory."""
    backend = args.backend or ("dask" if args.scheduler else "processes")
    if out is not None:
        return run_study(study, out, backend, args.workers, args.scheduler)
    with tempfile.TemporaryDirectory(prefix="acsim-") as directory:
        return run_study(study, directory, backend, args.workers, args.scheduler)


def check_summarised_episodes(episodes: int) -> None:
    """A summary needs two episodes or more (a standard deviation of one is undefined)."""
    if episodes < 2:
        raise ParameterError(f"episodes (--episodes or [simulation] episodes) must be >= 2 to "
                             f"summarise (a standard deviation needs two), got {episodes}; "
                             "`acsim episode` shows one episode")


def command_simulate(args: argparse.Namespace) -> None:
    from acsim.simulator.model import run_episode
    from acsim.simulator.randomness import BLOCK_SIZE
    from acsim.simulator.results import format_summary
    from acsim.simulator.statistics import summarise_chunks

    config = config_from_args(args)
    check_summarised_episodes(config.episodes)
    notional = config.market.shares * config.market.price
    if args.engine == "mesa":
        given = [flag for flag, value in (("--out", args.out), ("--workers", args.workers),
                                          ("--scheduler", args.scheduler),
                                          ("--backend", args.backend)) if value is not None]
        if given:
            raise ParameterError(f"{', '.join(given)} need --engine fast")
        check_size(config, args, mesa=True, held=config.episodes)  # every episode's results kept
        episodes = [run_episode(config, episode) for episode in range(config.episodes)]
        values = np.array([float(e.shortfall[0]) for e in episodes])
        finite_output(values.tolist(), "the shortfalls")
        # block by block, as the fast engine reads its Parquet blocks: the same summary digits
        summary = summarise_chunks(lambda: [values[start:start + BLOCK_SIZE] for start in
                                            range(0, values.shape[0], BLOCK_SIZE)],
                                   notional, config.market.risk_aversion)
        summary["max_abs_final_holdings"] = max(abs(float(e.holdings[0, -1])) for e in episodes)
    else:
        check_size(config, args)
        study = Study(config, (config.strategy,))
        summary = run_study_in(study, args, args.out).summary.iloc[0].to_dict()
    summary = {key: value for key, value in summary.items() if key not in ("case", "strategy")}
    summary.update({"engine": args.engine, "strategy": strategy_label(config.strategy),
                    "seed": config.seed})
    finite_output(summary, "the summary")
    if args.format == "json":
        print(json_text(summary))
    else:
        print(format_summary(summary))


def command_run(args: argparse.Namespace) -> None:
    from acsim.simulator.study_files import (
        DEFAULT_STUDY,
        describe_study,
        format_tables,
        interpretation,
        read_study,
        study_from_parts,
        write_outputs,
    )

    parts = (read_study(args.config) if args.config else
             {f.name: getattr(DEFAULT_STUDY, f.name) for f in dataclasses.fields(Study)})
    changes = {name: value for name, value in (("episodes", args.episodes), ("seed", args.seed))
               if value is not None}
    if changes:
        parts["base"] = parts["base"].replace(simulation=changes)
    check_size(parts["base"], args, parts["strategies"],
               math.prod(len(values) for values in parts["sweep"].values()))
    study = study_from_parts(parts, args.config or "the default study")
    check_summarised_episodes(study.base.episodes)
    folder = OutputFolder("results" if args.out is None else args.out)
    try:  # run_study opens (checks, locks) the folder after the scheduler answers
        results = run_study_in(study, args, folder)
        note = results.resume_note(len(study.blocks()))
        if note:
            print(f"acsim run: {note}", file=sys.stderr)
        finite_output({"summary": results.summary.to_dict(orient="list"),
                       "paired": results.paired.to_dict(orient="list")}, "the study's tables")
        written = write_outputs(results, study, folder)
    finally:
        folder.close()
    if args.format == "json":
        print(json_text({"study": describe_study(study),
                         "summary": results.summary.to_dict(orient="records"),
                         "paired": results.paired.to_dict(orient="records"),
                         "interpretation": interpretation(results, study),
                         "files": [str(path) for path in written]}))
    else:
        print(format_tables(results, study))


def command_episode(args: argparse.Namespace) -> None:
    from acsim.simulator.model import run_episode

    plot = figure_path("--plot", args.plot) if args.plot is not None else None
    config = config_from_args(args)
    check_size(config, args, mesa=True, episodes=1)
    result = run_episode(config, args.episode)
    frame = result.to_frame().drop(columns=["episode", "shortfall"])
    # steps <= 0 (the start and any warm-up) have no fill or trade of the order (missing, not a
    # computed NaN); from step 1 every number is the order's
    before = frame["step"] <= 0
    finite_output({"shortfall": result.shortfall.tolist(),
                   "shortfall_bps": result.shortfall_bps.tolist(),
                   "before the order": frame[before].melt()["value"].dropna().tolist(),
                   "path": frame[~before].to_dict(orient="list")}, "the episode")
    if plot:
        from acsim.simulator.plots import plot_episode

        plot_episode(config, result, plot)
    label = strategy_label(config.strategy)
    if args.format == "json":
        print(json_text({
            "seed": config.seed, "episode": args.episode, "strategy": label,
            "shortfall": float(result.shortfall[0]),
            "shortfall_bps": float(result.shortfall_bps[0]),
            "path": json.loads(frame.to_json(orient="records")),
        }))
    else:
        print(f"episode {args.episode} of seed {config.seed}, strategy {label}: "
              f"implementation shortfall {result.shortfall[0]:,.4f} currency "
              f"({result.shortfall_bps[0]:.3f} bps of arrival notional)")
        print(frame.set_index("step").to_string(na_rep="",
                                                float_format=lambda value: f"{value:,.4f}"))
        if args.plot:
            print(f"anatomy plot written to {args.plot}")
