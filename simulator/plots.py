"""Figures of the simulator (matplotlib, written to PNG without a display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from acsim.simulator.config import SimulationConfig  # noqa: E402
from acsim.simulator.results import EpisodeResults  # noqa: E402


def plot_episode(config: SimulationConfig, result: EpisodeResults, path: str | Path) -> None:
    """The anatomy of one episode: price and fills, field and counts, holdings and trades."""
    times = config.market.times
    steps = times[1:]
    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    top.plot(times, result.prices[0], marker=".", label="price $S_k$")
    top.scatter(steps, result.fills[0], color="tab:red", marker="x", label="fill $\\tilde S_k$")
    top.axhline(config.market.price, color="grey", linestyle=":", label="arrival price")
    top.set_ylabel("price")
    top.set_title(f"{config.strategy.name}: IS {result.shortfall[0]:,.2f} "
                  f"({result.shortfall_bps[0]:.2f} bps), seed {config.seed}")
    top.legend(loc="best")
    middle.step(steps, result.fields[0], where="pre", color="tab:purple", label="field $f_k$")
    middle.set_ylabel("field")
    counts = middle.twinx()
    counts.plot(times, result.momentum_counts[0], color="tab:green", alpha=0.6,
                label="momentum count $m_k$")
    counts.set_ylabel("momentum agents")
    middle.legend(loc="upper left")
    counts.legend(loc="upper right")
    bottom.plot(times, result.holdings[0], marker=".", label="holdings $x_k$")
    trades = bottom.twinx()
    trades.bar(steps, result.trades[0], width=0.6 * config.market.step_length,
               color="tab:orange", alpha=0.5, label="trade $n_k$")
    trades.axhline(0.0, color="grey", linewidth=0.5)
    trades.set_ylabel("shares traded")
    bottom.set_ylabel("shares held")
    bottom.set_xlabel("time")
    bottom.legend(loc="upper left")
    trades.legend(loc="upper right")
    save_figure(figure, Path(path))


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Lay out, save as PNG and close a figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def errorbar_panels(frame: pd.DataFrame, x: str, value: str, ylabel: str,
                    panel: str | None = None, group: str = "strategy") -> plt.Figure:
    """`value` ± its 95% CI (columns ci95_low/ci95_high) against `x`, one line per `group`,
    one panel per value of `panel` (or a single panel)."""
    keys = list(dict.fromkeys(frame[panel])) if panel else [None]
    figure, axes_row = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.5), sharey=True,
                                    squeeze=False)
    for axes, key in zip(axes_row[0], keys):
        rows = frame if key is None else frame[frame[panel] == key]
        for name, lines in rows.groupby(group, sort=False):
            lines = lines.sort_values(x)
            error = [lines[value] - lines["ci95_low"], lines["ci95_high"] - lines[value]]
            axes.errorbar(lines[x], lines[value], yerr=error, marker="o", capsize=3, label=name)
        axes.axhline(0.0, color="grey", linewidth=0.5)
        axes.set_xlabel(x)
        if key is not None:
            axes.set_title(f"{panel} = {key}")
    axes_row[0][0].set_ylabel(ylabel)
    axes_row[0][0].legend()
    return figure
