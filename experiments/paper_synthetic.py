"""`acsim paper-synthetic`: the paper's synthetic experiment (§4), reproduced and checked.

Part 1, paper-literal: T = 20, Q = 1000, κ = 1, λ = 0.1, σ² = 1, 100 ensemble agents whose
momentum count takes ±1 random-walk steps (the paper's rule, p = 1/2 each way) with field
x̄_k = α0·(2m_k - M)/M, α0 = 5. For γ ∈ {0, 0.1, 0.5, 1, 2} and a_self ∈ {0.01, 1.0} the §4.3
QP is solved on every ensemble path (exactly, batched) for the printed cumulative reading
and the remaining-inventory reading; Figure 1 analogue: the objective ("execution cost")
against γ, mean and 95% band over paths; Figure 2 analogue: the optimal trades for
a_self = 1.0 across γ.

Part 2, the same question in the simulated market (MODEL.md §2), where the field really
moves the price: the paper's numbers mapped to the consistent model (η/τ = κ = 1, λ = 0.1,
σ = 1, coupling = γ, self_alpha = a_self, field scale 5, random-walk ensemble), realised
implementation shortfall of TWAP, adaptive AC and extended AC on common random numbers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from acsim.agents.policies import strategy
from acsim.experiments.common import (
    ExperimentOutput,
    add_common_arguments,
    episodes_from_args,
)
from acsim.simulator.config import SimulationConfig
from acsim.simulator.plots import errorbar_panels
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.statistics import Z95
from acsim.simulator.study import Study, run_study
from acsim.simulator.vectorised import ensemble_paths
from acsim.strategies import ensemble, validation
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.paper import INVENTORY_READINGS, PaperParameters, PaperQP, paper_objective
from acsim.strategies.parameters import ExecutionProblem

COUPLINGS = (0.0, 0.1, 0.5, 1.0, 2.0)
SELF_ALPHAS = (0.01, 1.0)
PAPER_ENSEMBLE = EnsembleParameters(agents=100, field_scale=5.0, switching="random-walk",
                                    step_probability=0.5, initial="balanced")
PAPER_MARKET = ExecutionProblem(shares=1000.0, horizon=20.0, steps=20, price=100.0,
                                volatility=1.0, half_spread=0.0, temporary_impact=1.0,
                                permanent_impact=0.0, risk_aversion=0.1, drift=0.0)


def field_paths(paths: int, seed: int, steps: int = 20) -> np.ndarray:
    """x̄_1..x̄_T of `paths` ensemble paths (the simulator's random-walk ensemble)."""
    blocks = []
    for block in range((paths + BLOCK_SIZE - 1) // BLOCK_SIZE):
        count = min(BLOCK_SIZE, paths - block * BLOCK_SIZE)
        counts = ensemble_paths(PAPER_ENSEMBLE, seed, block, steps, 0, count)
        blocks.append(ensemble.field(PAPER_ENSEMBLE, counts[:, 1:]))
    return np.concatenate(blocks)


def paper_literal(fields: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 1 and Figure 2 tables: objective statistics and mean trade paths."""
    objective_rows, path_rows = [], []
    for reading in INVENTORY_READINGS:
        parameters = PaperParameters(total_shares=1000.0, steps=fields.shape[1], trade_cost=1.0,
                                     risk_aversion=0.1, variance=1.0, inventory=reading)
        solver = PaperQP(parameters)
        for self_alpha in SELF_ALPHAS:
            for coupling in COUPLINGS:
                trades = solver.trades(self_alpha, coupling, fields)
                values = paper_objective(parameters, trades, self_alpha, coupling, fields)
                error = values.std(ddof=1) / np.sqrt(values.shape[0])
                objective_rows.append({
                    "reading": reading, "self_alpha": self_alpha, "coupling": coupling,
                    "paths": values.shape[0], "mean_objective": values.mean(),
                    "stderr": error, "ci95_low": values.mean() - Z95 * error,
                    "ci95_high": values.mean() + Z95 * error,
                    "band_low": np.quantile(values, 0.025),
                    "band_high": np.quantile(values, 0.975)})
                mean_trades = trades.mean(axis=0)
                low, high = np.quantile(trades, [0.025, 0.975], axis=0)
                path_rows += [{"reading": reading, "self_alpha": self_alpha,
                               "coupling": coupling, "step": k + 1,
                               "mean_trade": mean_trades[k], "band_low": low[k],
                               "band_high": high[k]} for k in range(trades.shape[1])]
    return pd.DataFrame(objective_rows), pd.DataFrame(path_rows)


def plot_figure1(objective: pd.DataFrame) -> plt.Figure:
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.5))
    for axes, reading in zip(panels, INVENTORY_READINGS):
        for self_alpha, rows in objective[objective["reading"] == reading].groupby("self_alpha"):
            axes.plot(rows["coupling"], rows["mean_objective"], marker="o",
                      label=f"a_self = {self_alpha:g}")
            axes.fill_between(rows["coupling"], rows["band_low"], rows["band_high"], alpha=0.2)
        axes.set_title(f"§4.3 objective, {reading} reading (mean, 95% path band)")
        axes.set_xlabel("ensemble coupling γ")
        axes.set_ylabel("execution cost (objective)")
        axes.legend()
    return figure


def plot_figure2(paths: pd.DataFrame) -> plt.Figure:
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.5))
    for axes, reading in zip(panels, INVENTORY_READINGS):
        rows = paths[(paths["reading"] == reading) & (paths["self_alpha"] == 1.0)]
        for coupling, group in rows.groupby("coupling"):
            line = axes.plot(group["step"], group["mean_trade"], marker=".",
                             label=f"γ = {coupling:g}")[0]
            axes.fill_between(group["step"], group["band_low"], group["band_high"],
                              color=line.get_color(), alpha=0.12)
        axes.set_title(f"optimal trades, a_self = 1.0, {reading} reading")
        axes.set_xlabel("step k")
        axes.set_ylabel("shares traded x_k (mean, 95% path band)")
        axes.legend()
    return figure


def simulated_market(episodes: int, seed: int, workers: int | None, out: Path):
    base = SimulationConfig(market=PAPER_MARKET, ensemble=PAPER_ENSEMBLE, episodes=episodes,
                            seed=seed)
    study = Study(base, (strategy("twap"), strategy("ac-adaptive"),
                         strategy("extended", forecast="model")),
                  {"extended.coupling": COUPLINGS, "extended.self_alpha": SELF_ALPHAS},
                  baseline=1)
    return run_study(study, out, workers=workers, progress=False)


def run(out: str | Path, paths: int, episodes: int, seed: int,
        workers: int | None = None) -> ExperimentOutput:
    output = ExperimentOutput(out)
    fields = field_paths(paths, seed)
    objective, trade_paths = paper_literal(fields)
    output.table("figure1_objective", objective)
    output.table("figure2_trades", trade_paths)
    output.figure("figure1_objective_vs_coupling", plot_figure1(objective))
    output.figure("figure2_trades_self_alpha_1", plot_figure2(trade_paths))
    market = simulated_market(episodes, seed, workers, Path(out) / "simulation")
    output.table("market_summary", market.summary)
    output.table("market_paired", market.paired)
    output.figure("market_shortfall_vs_coupling", errorbar_panels(
        market.summary, "extended.coupling", "mean_is",
        "mean realised IS (currency, ±95% CI)", panel="extended.self_alpha"))
    output.report(report(objective, trade_paths, market, paths, episodes, seed))
    return output


def report(objective: pd.DataFrame, paths: pd.DataFrame, market, n_paths: int, episodes: int,
           seed: int) -> str:
    def cost(reading: str, self_alpha: float, coupling: float) -> float:
        row = objective[(objective["reading"] == reading) & (objective["self_alpha"] == self_alpha)
                        & (objective["coupling"] == coupling)]
        return float(row["mean_objective"].iloc[0])

    def schedule(reading: str, self_alpha: float, coupling: float) -> np.ndarray:
        rows = paths[(paths["reading"] == reading) & (paths["self_alpha"] == self_alpha)
                     & (paths["coupling"] == coupling)]
        return rows["mean_trade"].to_numpy()

    same = all(np.allclose(schedule(r, 0.01, c), schedule(r, 1.0, c), rtol=0, atol=1e-9)
               for r in INVENTORY_READINGS for c in COUPLINGS)
    shift = {r: cost(r, 1.0, 0.0) - cost(r, 0.01, 0.0) for r in INVENTORY_READINGS}
    cumulative = schedule("cumulative", 1.0, 0.0)
    remaining = schedule("remaining", 1.0, 0.0)
    spread = {r: max(abs(cost(r, 1.0, c) - cost(r, 1.0, 0.0)) for c in COUPLINGS)
              for r in INVENTORY_READINGS}
    summary, paired = market.summary, market.paired
    extended = paired[paired["strategy"] == "extended/model"]
    lines = [
        "# Paper §4 (synthetic), reproduced", "",
        f"**Run:** {n_paths:,} ensemble paths (100 agents, ±1 random walk with p = 1/2 per "
        f"step, α0 = 5, seed {seed}); the §4.3 QP with T = 20, Q = 1000, κ = 1, λ = 0.1, σ² = 1, "
        f"γ ∈ {list(COUPLINGS)}, a_self ∈ {list(SELF_ALPHAS)}, solved exactly on every path, "
        "for the printed (cumulative) and the remaining-inventory reading. Then "
        f"{episodes:,} simulated episodes per case of the consistent market model.", "",
        "**Results, paper-literal:**",
        f"- A constant a_self never changes the schedule (identical schedules for a_self = 0.01 "
        f"and 1.0: {same}); it only lowers the objective by a_self·Q: the measured shift "
        f"is {shift['cumulative']:.3f} (cumulative) and {shift['remaining']:.3f} (remaining) "
        f"against −0.99·1000 = −990. The paper's Figure 1 separation between the a_self curves "
        "is this constant, not a different strategy.",
        f"- Averaged over ensemble paths, γ moves the mean objective by at most "
        f"{spread['cumulative']:.3f} (cumulative) and {spread['remaining']:.3f} (remaining): "
        "the field is symmetric around 0, so its effect on the *mean* schedule and cost is "
        "second order; individual paths move a lot (see the 95% bands).",
        f"- The printed cumulative reading back-loads the order (first trade "
        f"{cumulative[0]:.1f}, last {cumulative[-1]:.1f} shares): penalising executed "
        "quantity delays execution, the opposite of AC's urgency. The remaining-inventory "
        f"reading front-loads it (first {remaining[0]:.1f}, last {remaining[-1]:.1f}), as AC "
        "does; it is the time-reverse of the printed reading.", "",
        "**Results, simulated market** (mean realised IS, paired differences against adaptive "
        "AC on common random numbers):", "",
        "| strategy | coupling | self_alpha | IS − IS(adaptive AC) | 95% CI |",
        "|---|---|---|---|---|"]
    lines += [f"| {r['strategy']} | {r['extended.coupling']:g} | {r['extended.self_alpha']:g} | "
              f"{r['mean_difference']:,.2f} | [{r['ci95_low']:,.2f}, {r['ci95_high']:,.2f}] |"
              for _, r in paired.iterrows()]
    def difference(self_alpha: float, coupling: float) -> float:
        row = extended[(extended["extended.self_alpha"] == self_alpha)
                       & (extended["extended.coupling"] == coupling)]
        return float(row["mean_difference"].iloc[0])

    def utility_gap(self_alpha: float, coupling: float) -> float:
        rows = summary[(summary["extended.self_alpha"] == self_alpha)
                       & (summary["extended.coupling"] == coupling)].set_index("strategy")
        return float(rows.loc["extended/model", "utility"] - rows.loc["ac-adaptive", "utility"])

    top = max(COUPLINGS)
    lines += ["", f"- Mean IS ranges from {summary['mean_is'].min():,.1f} to "
              f"{summary['mean_is'].max():,.1f} currency on a notional of 100,000: the paper's "
              "numbers are not calibrated to a market (a_self = 1 moves the price by 1,000 per "
              "step at the start), so only comparisons between strategies are meaningful."]
    for self_alpha in SELF_ALPHAS:
        lines.append(
            f"- a_self = {self_alpha:g}: extended AC − adaptive AC = "
            f"{difference(self_alpha, 0.0):,.2f} at γ = 0 (self-impact priced in; utility "
            f"mean + λ·var differs by {utility_gap(self_alpha, 0.0):,.2f}) and "
            f"{difference(self_alpha, top):,.2f} at γ = {top:g}: anticipating the field is "
            f"worth {difference(self_alpha, 0.0) - difference(self_alpha, top):,.2f} there.")
    lines += ["- The field's value is small next to self-impact in this setting: the ±1 walk "
              "moves the field by at most 0.1 per step, and the paper-literal objective cannot "
              "show even that, because there x̄ enters only as a linear reward on trades and "
              "never moves a price.", "",
              "**Meaning:** the paper's §4 figures are reproduced, but two of their features "
              "are artefacts of its notation (the a_self offset and the cumulative-inventory "
              "penalty). In the consistent model the coupling question has a clear answer: see "
              "`market_paired.csv` and `figures/market_shortfall_vs_coupling.png`.", "",
              "Figures: `figures/figure1_objective_vs_coupling.png`, "
              "`figures/figure2_trades_self_alpha_1.png`, "
              "`figures/market_shortfall_vs_coupling.png`."]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "results/paper-synthetic", 50_000)
    parser.add_argument("--paths", type=int, default=None,
                        help="ensemble paths for the paper-literal QP (default 20,000)")


def main(args: argparse.Namespace) -> list[Path]:
    episodes = episodes_from_args(args, 50_000, 4_096)
    paths = (validation.integer("--paths", args.paths, 1) if args.paths is not None
             else (500 if args.quick else 20_000))
    return run(args.out, paths, episodes, args.seed, args.workers).written
