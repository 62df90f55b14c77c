"""The `acsim` command line: the top layer, above the experiments.

Units throughout: shares, a time unit of your choice (days, minutes, ...), prices in
currency per share. Volatility σ is in price units per √(time unit) (arithmetic price).

Each command lives in its own module, imported only when that command runs, so `acsim --help`
and `acsim schedule` start in well under a second. A command module has `add_arguments(name,
parser)` and `run(name, args)`; experiments have `add_arguments(parser)` and `main(args)`
(returning the files they wrote). Every command but `dashboard` and `parameters` checks its
size before any work (`acsim.simulator.sizes`; `--allow-large` overrides); an experiment tells
the check how many cases it simulates on every episode with `simulated_cases(args)` (default 1)
and, with HOLDS_ALL_EPISODES = True, that it keeps every episode in memory at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

# command: (module, one-line help, kind: "command" or "experiment")
COMMANDS = {
    "schedule": ("acsim.experiments.planning", "compute an optimal execution schedule",
                 "command"),
    "cost": ("acsim.experiments.planning", "evaluate E, V, U of a given schedule", "command"),
    "simulate": ("acsim.experiments.simulation",
                 "run Monte Carlo episodes and print IS statistics", "command"),
    "episode": ("acsim.experiments.simulation", "run one episode and show (or plot) its anatomy",
                "command"),
    "run": ("acsim.experiments.simulation",
            "the main job: a Monte Carlo study (default: the embedded one)", "command"),
    "market": ("acsim.experiments.market",
               "run the order-flow market with no order for many steps; returns to Parquet",
               "command"),
    "bench": ("acsim.experiments.benchmark_engines",
              "benchmark the engines (episodes per second)", "command"),
    "dashboard": ("acsim.experiments.dashboard",
                  "watch the Mesa model in your browser (SolaraViz, local address only)",
                  "command"),
    "parameters": ("acsim.experiments.parameters_page",
                   "list every configuration parameter with its unit, range and default",
                   "command"),
    "paper-synthetic": ("acsim.experiments.paper_synthetic",
                        "the paper's synthetic experiment (§4), reproduced and checked",
                        "experiment"),
    "paper-real": ("acsim.experiments.paper_real",
                   "the paper's real-data experiment (§5) on intraday bars, backtested",
                   "experiment"),
    "coupling-study": ("acsim.experiments.coupling_study",
                       "does anticipating other traders' flow pay, and where?", "experiment"),
    "stylized-facts": ("acsim.experiments.stylized",
                       "stylized facts of simulated and real returns, with verdicts",
                       "experiment"),
    "order-flow-calibration": ("acsim.experiments.order_flow_calibration",
                               "the order-flow market calibrated to bars (SMM) and its "
                               "reduced form", "experiment"),
    "model-risk": ("acsim.experiments.model_risk",
                   "does anticipating the ensemble pay when its feedback is emergent?",
                   "experiment"),
    "frontier": ("acsim.experiments.frontier",
                 "the efficient frontier of every impact model, analytic and simulated",
                 "experiment"),
    "impact-study": ("acsim.experiments.impact_study",
                     "the cost of planning with the wrong impact or volatility model",
                     "experiment"),
    "learn": ("acsim.experiments.learning",
              "train a linear policy in the Gymnasium vector environment (cross-entropy "
              "method) and compare it with the AC optimum", "experiment"),
}

# commands whose size is estimated and checked before any work (acsim.simulator.sizes)
UNSIZED = ("dashboard", "parameters")

DESCRIPTION = ("Optimal trade execution: Almgren-Chriss, self-alpha and ensemble coupling. "
               "Units: shares; a time unit of your choice; prices in currency per share; "
               "volatility in price units per √(time unit).")


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, 'acsim <command>: error: ...', exit status 2, like
    every other refusal of the command line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser: every command listed, only `command`'s module imported and its flags added."""
    parser = ArgumentParser(prog="acsim", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, summary, kind) in COMMANDS.items():
        if name != command:
            commands.add_parser(name, help=summary, add_help=False)
            continue
        module = importlib.import_module(module_name)
        from acsim.experiments.flags import add_size_flag

        if kind == "experiment":
            sub = commands.add_parser(name, help=summary, description=module.__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
            module.add_arguments(sub)
            sub.set_defaults(handler=experiment_handler(module))
            add_size_flag(sub)
        else:
            sub = commands.add_parser(name, help=summary,
                                      description=module.DESCRIPTIONS.get(name, summary))
            module.add_arguments(name, sub)
            if name not in UNSIZED:
                add_size_flag(sub)
            sub.set_defaults(handler=lambda args, module=module, name=name: module.run(name, args))
    return parser


def experiment_handler(module):
    """Run an experiment and list what it wrote."""
    def handler(args: argparse.Namespace) -> None:
        from acsim.simulator.sizes import check, experiment_workload

        cases = module.simulated_cases(args) if hasattr(module, "simulated_cases") else 1
        check(experiment_workload(args, cases, getattr(module, "HOLDS_ALL_EPISODES", False)),
              args.allow_large)
        written = module.main(args)
        report = next((path for path in written if path.name == "report.md"), None)
        print(f"wrote {len(written)} files to {args.out}/"
              + (f"; report: {report}" if report else ""))
    return handler


# nan, inf, -inf, Infinity as numbers are printed, not inside a word or a path ("results/nan/")
NON_FINITE = re.compile(r"(?<![\w.\\/-])[-+]?(?:nan|inf(?:inity)?)(?![\w\\/-]|\.\w)",
                        re.IGNORECASE)


class FiniteOutput(io.TextIOBase):
    """Standard output that refuses (NonFiniteResultError) to print a non-finite number: the
    last guard that no command exits 0 with NaN or infinity in what it says."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        match = NON_FINITE.search(text)
        if match:
            from acsim.strategies.errors import NonFiniteResultError

            raise NonFiniteResultError(f"a result is not a finite number ({match.group()}): the "
                                       "inputs reach beyond float64; reduce the largest "
                                       "parameters")
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str | None:
        return getattr(self.stream, "encoding", None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures go to files; no window is opened
    command = chosen_command(argv)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    from acsim.strategies.errors import AcsimError

    try:
        with contextlib.redirect_stdout(FiniteOutput(sys.stdout)):
            args.handler(args)
    except AcsimError as error:
        print(f"acsim {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`acsim run | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback; a study keeps finished blocks
        print(f"acsim {args.command}: interrupted (a study keeps its finished blocks: run it "
              "again with the same --out to resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
