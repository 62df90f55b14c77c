"""Figures of the simulator (matplotlib, written to PNG without a display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from acsim.simulator.config import SimulationConfig  # noqa: E402
from acsim.simulator.results import EpisodeResults  # noqa: E402


def plot_episode(config: SimulationConfig, result: EpisodeResults, path: str | Path) -> None:
    """The anatomy of one episode: price and fills, field and counts, holdings and trades.

    In the order-flow market the panels start at the warm-up (t < 0): the efficient price F
    beside the market price S, and the ensemble flow Q_k (shares, + buys) in the middle panel.
    """
    tau = config.market.step_length
    times = config.market.times
    steps = times[1:]
    paths = result.market
    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    if paths is None:
        top.plot(times, result.prices[0], marker=".", label="price $S_k$")
    else:
        market_times = (np.arange(paths.prices.shape[1]) - paths.warmup) * tau
        top.plot(market_times, paths.prices[0], marker=".", markersize=3,
                 label="market price $S_k$")
        top.plot(market_times, paths.efficient_prices[0], color="black", linewidth=1,
                 label="efficient price $F_k$")
        for axes in (top, middle, bottom):
            axes.axvspan(market_times[0], 0.0, color="grey", alpha=0.08)
        top.text(market_times[0], 1.0, " warm-up (no order)", transform=top.get_xaxis_transform(),
                 va="top", fontsize="small", color="grey")
    top.scatter(steps, result.fills[0], color="tab:red", marker="x", label="fill $\\tilde S_k$")
    top.axhline(result.prices[0, 0], color="grey", linestyle=":", label="arrival price $S_0$")
    top.set_ylabel("price")
    top.set_title(f"{config.strategy.name}: IS {result.shortfall[0]:,.2f} "
                  f"({result.shortfall_bps[0]:.2f} bps), seed {config.seed}")
    top.legend(loc="best")
    if paths is None:
        middle.step(steps, result.fields[0], where="pre", color="tab:purple",
                    label="field $f_k$")
        middle.set_ylabel("field")
        count_times, counts_path = times, result.momentum_counts[0]
    else:
        middle.bar(market_times[1:], paths.flows[0], width=0.8 * tau, color="tab:purple",
                   alpha=0.7, label="ensemble flow $Q_k$ (+ buys)")
        middle.axhline(0.0, color="grey", linewidth=0.5)
        middle.set_ylabel("shares per step")
        count_times, counts_path = market_times, paths.momentum_counts[0]
    counts = middle.twinx()
    counts.plot(count_times, counts_path, color="tab:green", alpha=0.6,
                label="momentum count $m_k$")
    counts.set_ylabel("momentum agents")
    middle.legend(loc="upper left")
    counts.legend(loc="upper right")
    bottom.plot(times, result.holdings[0], marker=".", label="holdings $x_k$")
    trades = bottom.twinx()
    trades.bar(steps, result.trades[0], width=0.6 * tau, color="tab:orange", alpha=0.5,
               label="trade $n_k$")
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
