"""Figures of the simulator (matplotlib, written to PNG without a display), in one style.

The project's figure style, used by every experiment and study figure:
- axes say what they show in words with units ("coupling (price units per time unit per
  field unit)"), never code names: `parameter_label` turns a table key such as
  "extended.coupling" into words from the parameter's declaration (acsim.strategies
  .declarations, the same text as docs/parameters.md);
- each panel has its own y-axis unless a shared one is asked for, fitted to the data and
  never stretched to include 0, so small effects are not flattened by large ones (paired
  differences go on their own axes; when one strategy's lines would span under 1/FLATTENED
  of an axis shared with the others, `flattened`, each strategy gets its own row of panels);
- a strategy keeps one colour in every figure of a study (`strategy_colours`; the built-in
  strategies always the same);
- intervals are drawn as caps plus a shaded band, visible even when narrow;
- legends sit outside the axes (`legend_outside`), never over data;
- light grid, no top and right spines (`STYLE`, applied when this module is imported).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from acsim.simulator.config import SimulationConfig, config_parameters
from acsim.simulator.results import EpisodeResults

STYLE = {
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 9.5, "axes.titlesize": 10,
    "axes.labelsize": 9.5, "legend.fontsize": 8.5, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "errorbar.capsize": 3, "lines.markersize": 5,
}
matplotlib.rcParams.update(STYLE)
INTERVAL_ALPHA = 0.18  # shading of interval bands
SPECIAL_WORDS = {"self_alpha": "self-alpha", "risk_aversion": "risk aversion λ",
                 "permanent_impact": "permanent impact γ", "temporary_impact": "temporary impact η",
                 "half_spread": "half spread ε", "volatility": "volatility σ"}


def parameter_label(key: str) -> str:
    """Words and unit for a table key: 'extended.coupling' -> 'coupling (price units per ...)'.

    'beliefs.T.K' reads 'believed K (...)'; an unknown key is returned with its dots and
    underscores turned into spaces.
    """
    parts = key.split(".")
    believed = parts[0] == "beliefs"
    table, name = (parts[1], parts[2]) if believed and len(parts) == 3 else (parts[0], parts[-1])
    words = SPECIAL_WORDS.get(name, name.replace("_", " "))
    unit = next((item.declaration.unit for section, item in config_parameters()
                 if section == table and item.name == name), None)
    if unit is None:
        return key.replace(".", " ").replace("_", " ")
    return ("believed " if believed else "") + words + (f" ({unit})" if unit else "")


def parameter_value(key: str, value: object) -> str:
    """'self-alpha = 2e-05 (price units per time unit per share)' for a table key and value."""
    label = parameter_label(key)
    words, _, unit = label.partition(" (")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{words} = {shown}" + (f" ({unit}" if unit else "")


def compact_ticks(axes: plt.Axes, count: int = 5) -> None:
    """At most `count` x ticks written with %g (0.005, not 0.00500)."""
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(count))
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))


def legend_outside(figure: plt.Figure, axes: Sequence[plt.Axes] | None = None,
                   columns: int = 4) -> None:
    """One legend for the figure, below the panels (outside every axes), without repeats."""
    handles, labels = {}, []
    for panel in (axes if axes is not None else figure.axes):
        for handle, label in zip(*panel.get_legend_handles_labels()):
            if label not in handles and not label.startswith("_"):
                handles[label] = handle
                labels.append(label)
    if labels:
        figure.legend([handles[label] for label in labels], labels, loc="outside lower center",
                      ncol=min(columns, len(labels)))


def interval_line(axes: plt.Axes, x: np.ndarray, value: np.ndarray, low: np.ndarray,
                  high: np.ndarray, label: str | None = None, **style) -> None:
    """A line of values with their interval: error bars with caps and a shaded band."""
    x, value = np.asarray(x, dtype=float), np.asarray(value, dtype=float)
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    drawn = axes.errorbar(x, value, yerr=[value - low, high - value], marker="o", label=label,
                          **style)
    axes.fill_between(x, low, high, color=drawn[0].get_color(), alpha=INTERVAL_ALPHA,
                      linewidth=0)


def new_figure(rows: int = 1, columns: int = 1, width: float = 5.0, height: float = 3.8,
               sharex: bool = False, sharey: bool = False) -> tuple[plt.Figure, np.ndarray]:
    """A figure of rows × columns panels (a 2-D array) with room for an outside legend."""
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows + 0.6),
                                squeeze=False, sharex=sharex, sharey=sharey,
                                layout="constrained")
    return figure, axes


def panel_legend(axes: plt.Axes, *twins: plt.Axes) -> None:
    """One legend for a panel and its twin axes, to the right of the panel (outside it)."""
    handles, labels = [], []
    for panel in (axes, *twins):
        more_handles, more_labels = panel.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.1 if twins else 1.01, 1.0))


def plot_episode(config: SimulationConfig, result: EpisodeResults, path: str | Path) -> None:
    """The anatomy of one episode: price and fills, field and counts, holdings and trades.

    In the order-flow market the panels start at the warm-up (t < 0): the efficient price F
    beside the market price S, and the ensemble flow Q_k (shares, + buys) in the middle panel.
    """
    tau = config.market.step_length
    times = config.market.times
    steps = times[1:]
    paths = result.market
    figure, panels = new_figure(3, 1, width=9.5, height=2.7, sharex=True)
    top, middle, bottom = panels[:, 0]
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
    top.set_ylabel("price (currency per share)")
    top.set_title(f"{config.strategy.name}: implementation shortfall {result.shortfall[0]:,.2f} "
                  f"currency ({result.shortfall_bps[0]:.2f} bps), seed {config.seed}")
    panel_legend(top)
    if paths is None:
        middle.step(steps, result.fields[0], where="pre", color="tab:purple",
                    label="field $f_k$")
        middle.set_ylabel("ensemble field (field units)")
        count_times, counts_path = times, result.momentum_counts[0]
    else:
        middle.bar(market_times[1:], paths.flows[0], width=0.8 * tau, color="tab:purple",
                   alpha=0.7, label="ensemble flow $Q_k$ (+ buys)")
        middle.axhline(0.0, color="grey", linewidth=0.5)
        middle.set_ylabel("ensemble flow (shares per step)")
        count_times, counts_path = market_times, paths.momentum_counts[0]
    counts = middle.twinx()
    counts.plot(count_times, counts_path, color="tab:green", alpha=0.6,
                label="momentum count $m_k$")
    counts.set_ylabel("momentum agents (count)")
    counts.grid(False)
    panel_legend(middle, counts)
    bottom.plot(times, result.holdings[0], marker=".", label="holdings $x_k$")
    trades = bottom.twinx()
    trades.bar(steps, result.trades[0], width=0.6 * tau, color="tab:orange", alpha=0.5,
               label="trade $n_k$")
    trades.axhline(0.0, color="grey", linewidth=0.5)
    trades.set_ylabel("shares traded in the step")
    trades.grid(False)
    bottom.set_ylabel("shares held")
    bottom.set_xlabel("time (time units)")
    panel_legend(bottom, trades)
    save_figure(figure, Path(path))


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Lay out (unless the figure has its own layout engine), save as PNG and close."""
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


FLATTENED = 10.0  # a group spanning under 1/FLATTENED of a shared y-axis gets its own panel


def flattened(frame: pd.DataFrame, by: str, interval: tuple[str, str],
              panel: str | None = None) -> bool:
    """Whether on one y-axis (per value of `panel`) the lines of some value of `by` (e.g. a
    strategy) would span, from their lowest to their highest interval end, under 1/FLATTENED
    of the range all of them span together: then that value's lines cannot be read and each
    value of `by` needs its own y-axis. A value spanning nothing (a constant without interval,
    such as a difference of 0 from the baseline on every episode) reads well on any axis and
    does not count."""
    for _, rows in (frame.groupby(panel, sort=False) if panel else [(None, frame)]):
        low, high = rows[interval[0]], rows[interval[1]]
        spans = high.groupby(rows[by]).max() - low.groupby(rows[by]).min()
        if high.max() - low.min() > FLATTENED * spans[spans > 0].min():
            return True
    return False


def errorbar_panels(frame: pd.DataFrame, x: str, value: str, ylabel: str,
                    panel: str | None = None, group: str = "strategy",
                    xlabel: str | None = None, title: str | None = None,
                    interval: tuple[str, str] = ("ci95_low", "ci95_high"),
                    colours: Mapping[str, str] | None = None,
                    colour_by: str = "strategy", rows: str | None = None,
                    note: str | None = None) -> plt.Figure:
    """`value` with its 95% interval (the columns `interval`) against `x`, one line per
    `group`, one panel per value of `panel` (or a single panel), each panel with its own
    y-axis fitted to the intervals (a zero line only where 0 is already in view); x and panel
    keys are written in words (`parameter_label`), the legend below.

    colours: a colour per value of the column `colour_by` (e.g. `strategy_colours`), the same
    in every figure; lines sharing a colour get different line styles.
    rows: a column (e.g. "strategy") whose values get a row of panels each, titled with the
    value (use it when `flattened`); note: words added under the title, in parentheses."""
    keys = list(dict.fromkeys(frame[panel])) if panel else [None]
    row_keys = list(dict.fromkeys(frame[rows])) if rows else [None]
    figure, axes_grid = new_figure(len(row_keys), len(keys),
                                   height=3.8 if rows is None else 3.0)
    for row_key, axes_row in zip(row_keys, axes_grid):
        for axes, key in zip(axes_row, keys):
            lines_here = frame if row_key is None else frame[frame[rows] == row_key]
            if key is not None:
                lines_here = lines_here[lines_here[panel] == key]
            used: dict[str, int] = {}
            for name, lines in lines_here.groupby(group, sort=False):
                lines = lines.sort_values(x)
                style = {}
                if colours is not None:
                    colour = colours[lines[colour_by].iloc[0]]
                    style = {"color": colour, "linestyle": LINE_STYLES[used.get(colour, 0)
                                                                      % len(LINE_STYLES)]}
                    used[colour] = used.get(colour, 0) + 1
                interval_line(axes, lines[x], lines[value], lines[interval[0]],
                              lines[interval[1]], label=str(name), **style)
            low, high = axes.get_ylim()
            if low <= 0.0 <= high:
                axes.axhline(0.0, color="grey", linewidth=0.6)
                axes.set_ylim(low, high)
            if row_key == row_keys[-1]:
                axes.set_xlabel(xlabel or parameter_label(x))
            if rows is None:
                axes.set_ylabel(ylabel)
            compact_ticks(axes)
            titles = ([str(row_key)] if row_key is not None else []) + (
                [parameter_value(panel, key)] if key is not None else [])
            if titles:
                axes.set_title("\n".join(titles))
    if rows is not None:
        figure.supylabel(ylabel, fontsize=matplotlib.rcParams["axes.labelsize"])
    heading = ([title] if title else []) + (textwrap.wrap(f"({note})", 64 * len(keys))
                                            if note else [])
    if heading:
        figure.suptitle("\n".join(heading))
    legend_outside(figure)
    return figure


STRATEGY_COLOURS = {  # the built-in strategies keep their colour in every figure
    "twap": "tab:blue", "vwap": "tab:cyan", "ac-static": "tab:gray",
    "ac-adaptive": "tab:orange", "extended/model": "tab:green",
    "extended/persistent": "tab:olive", "extended/none": "tab:purple",
    "regime-aware": "tab:brown", "regime-aware/none": "tab:brown",
}
OTHER_COLOURS = ("tab:red", "tab:pink", "black", "gold", "navy", "teal", "darkred", "lime",
                 "sienna", "slateblue")
LINE_STYLES = ("-", "--", ":", "-.")


def strategy_colours(labels: Sequence[str]) -> dict[str, str]:
    """One colour per strategy label for all the figures of a study: the built-in strategies'
    own (STRATEGY_COLOURS), the others (variants such as +no-buyback, policies of your own)
    the unused OTHER_COLOURS in the order given, cycling when more are needed."""
    labels = list(dict.fromkeys(labels))
    colours = {label: STRATEGY_COLOURS[label] for label in labels if label in STRATEGY_COLOURS}
    free = [colour for colour in OTHER_COLOURS if colour not in colours.values()]
    others = [label for label in labels if label not in colours]
    colours.update({label: free[i % len(free)] for i, label in enumerate(others)})
    return colours
