"""What every experiment shares: its command-line flags, its output directory, its verdicts.

An experiment writes figures (PNG), tables (CSV and Parquet, same content) and a short
report.md into one output folder (new, empty or acsim's own, locked while the experiment runs:
simulator/output_folder.py), and returns the paths it wrote. An experiment that tests the
paper's claims also writes `verdicts.csv`: one row per claim with the paper's section, the
statistic that decides it, its value and interval (low = high for an exact value) and the
verdict (`acsim.simulator.statistics.verdict`: holds, does not hold or cannot tell).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from acsim.simulator.output_folder import OutputFolder
from acsim.simulator.plots import save_figure
from acsim.simulator.statistics import verdict
from acsim.strategies import validation


def declared_help(name: str) -> str:
    """The declared meaning of a [simulation] key (one declaration for every command)."""
    from acsim.simulator.config import SimulationConfig

    return SimulationConfig.__dataclass_fields__[name].metadata["parameter"].help


def add_common_arguments(parser: argparse.ArgumentParser, default_out: str,
                         default_episodes: int, episodes_help: str | None = None) -> None:
    """--out, --episodes, --seed and --quick, the same for every experiment."""
    parser.add_argument("--out", default=default_out,
                        help=f"output folder: new, empty or one acsim wrote (default "
                             f"{default_out})")
    parser.add_argument("--episodes", type=int, default=None,
                        help=episodes_help or (f"{declared_help('episodes')} (default "
                                               f"{default_episodes:,}; --quick uses far fewer)"))
    parser.add_argument("--seed", type=int, default=0,
                        help=f"{declared_help('seed')} (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run for tests and a first look")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes for the simulations (default: every core)")


VERDICT_COLUMNS = ("claim", "section", "statistic", "value", "low", "high", "method",
                   "claimed_sign", "threshold", "verdict")


def claim(claim: str, section: str, statistic: str, value: float, low: float, high: float,
          method: str, claimed_sign: int, threshold: float = 0.0) -> dict:
    """One row of a verdict table: the claim holds if the statistic is on the side
    `claimed_sign` (+1 above, -1 below) of `threshold` over its whole interval [low, high]."""
    return {"claim": claim, "section": section, "statistic": statistic, "value": float(value),
            "low": float(low), "high": float(high), "method": method,
            "claimed_sign": int(claimed_sign), "threshold": float(threshold),
            "verdict": verdict(low, high, claimed_sign, threshold)}


def verdict_lines(verdicts: pd.DataFrame) -> list[str]:
    """The verdict table in Markdown (exact values have no interval)."""
    lines = ["| claim | section | statistic | value | interval | method | verdict |",
             "|---|---|---|---|---|---|---|"]
    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bar inside a cell would end it

    for row in verdicts.itertuples():
        interval = ("exact" if row.low == row.high == row.value
                    else f"[{row.low:.4g}, {row.high:.4g}]")
        lines.append(f"| {cell(row.claim)} | {row.section} | {cell(row.statistic)} | "
                     f"{row.value:.4g} | {interval} | {row.method} | **{row.verdict}** |")
    return lines


def episodes_from_args(args: argparse.Namespace, default: int, quick: int) -> int:
    """The episode count: --episodes if given, else the quick or the full default."""
    if args.episodes is not None:
        return validation.integer("--episodes", args.episodes, 2)  # intervals need two
    return quick if args.quick else default


@dataclass
class ExperimentOutput:
    """An experiment's output folder (opened, checked and locked on creation, before any work;
    released when the object is closed or dropped) and the files written to it."""

    directory: Path
    written: list[Path] = field(default_factory=list)
    folder: OutputFolder = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.folder = OutputFolder(self.directory).open()
        self.directory = self.folder.root

    def path(self, name: str) -> Path:
        """Where to write the file `name` (relative to the folder), listed as written."""
        path = self.folder.path(name)
        self.written.append(path)
        return path

    def table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write `name`.csv and `name`.parquet; returns the CSV path."""
        csv = self.path(f"{name}.csv")
        frame.to_csv(csv, index=False)
        frame.to_parquet(self.path(f"{name}.parquet"), index=False)
        return csv

    def figure(self, name: str, figure: plt.Figure) -> Path:
        """Save and close a matplotlib figure as figures/`name`.png."""
        return save_figure(figure, self.path(f"figures/{name}.png"))

    def verdicts(self, rows: list[dict]) -> pd.DataFrame:
        """Write verdicts.csv (and .parquet) from claim rows (extra keys, such as a variant,
        become further columns); returns the table."""
        frame = pd.DataFrame(rows)
        frame = frame[list(VERDICT_COLUMNS) + [c for c in frame if c not in VERDICT_COLUMNS]]
        self.table("verdicts", frame)
        return frame

    def report(self, text: str) -> Path:
        path = self.path("report.md")
        path.write_text(text)
        return path
