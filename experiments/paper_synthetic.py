"""`acsim paper-synthetic`: the paper's synthetic experiment (§4), reproduced, each claim judged.

Part 1, paper-literal: T = 20, Q = 1000, κ = 1, λ = 0.1, σ² = 1, 100 ensemble agents whose
momentum count takes ±1 random-walk steps (the paper's rule, p = 1/2 each way) with field
x̄_k = α0·(2m_k - M)/M, α0 = 5. For γ ∈ {0, 0.1, 0.5, 1, 2} and a_self ∈ {0.01, 1.0} the §4.3
QP is solved on every ensemble path (exactly, batched) for the printed cumulative reading
and the remaining-inventory reading. Because the optimal value is quadratic in the field,
its expectation is exact (strategies.paper: E[J*] = J*(mean field) - (γ²/4)·tr(RΣ), Σ the
field covariance of the exact count chain); the Monte Carlo paths only check it and show the
spread. Figure 1: per-path change of the objective against γ = 0 (paired on the path), with
the exact expectation. Figure 2: one representative path (field, schedules, how γ moves the
trades) and the roughness Σ(Δx)² of the schedules against γ, exact and simulated.

Part 2, the same question in the simulated market (MODEL.md §2), where the field really
moves the price: the paper's numbers mapped to the consistent model (η/τ = κ = 1, λ = 0.1,
σ = 1, coupling = γ, self_alpha = a_self, field scale 5, random-walk ensemble); realised
implementation shortfall of TWAP, adaptive AC (ignores field and self-alpha), extended AC
that prices self-alpha but ignores the field (forecast none) and extended AC that also
anticipates it (forecast model), on common random numbers. The value of pricing self-alpha
and of anticipating the field are paired differences with 95% intervals (§4.7.1).

Every claim gets a verdict (verdicts.csv, and the table in report.md).
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
    claim,
    episodes_from_args,
    verdict_lines,
)
from acsim.simulator.config import SimulationConfig
from acsim.simulator.plots import (
    compact_ticks,
    interval_line,
    legend_outside,
    new_figure,
    parameter_label,
)
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.statistics import Z95, dominance, paired_difference
from acsim.simulator.study import Study, load_episodes, run_study
from acsim.simulator.vectorised import ensemble_paths
from acsim.strategies import ensemble, validation
from acsim.strategies.ensemble import EnsembleParameters, field_moments
from acsim.strategies.paper import (
    INVENTORY_READINGS,
    PaperParameters,
    PaperQP,
    paper_objective,
    roughness,
)
from acsim.strategies.parameters import ExecutionProblem

COUPLINGS = (0.0, 0.1, 0.5, 1.0, 2.0)
SELF_ALPHAS = (0.01, 1.0)
STEPS = 20
PAPER_ENSEMBLE = EnsembleParameters(agents=100, field_scale=5.0, switching="random-walk",
                                    step_probability=0.5, initial="balanced")
PAPER_MARKET = ExecutionProblem(shares=1000.0, horizon=20.0, steps=STEPS, price=100.0,
                                volatility=1.0, half_spread=0.0, temporary_impact=1.0,
                                permanent_impact=0.0, risk_aversion=0.1, drift=0.0)
# the market strategies: ignores both terms / prices self-alpha only / prices both
AC, SELF_ONLY, BOTH = "ac-adaptive", "extended/none", "extended/model"
STRATEGIES = (strategy("twap"), strategy("ac-adaptive"), strategy("extended", forecast="none"),
              strategy("extended", forecast="model"))
OBJECTIVE_UNITS = "paper cost units"
NUMERICAL_ZERO = 1e-9  # a schedule change below this fraction of Q is rounding: exactly 0


def paper_parameters(reading: str) -> PaperParameters:
    """The §4.3 QP of the paper's synthetic experiment."""
    return PaperParameters(total_shares=1000.0, steps=STEPS, trade_cost=1.0, risk_aversion=0.1,
                           variance=1.0, inventory=reading)


def field_paths(paths: int, seed: int, steps: int = STEPS) -> np.ndarray:
    """x̄_1..x̄_T of `paths` ensemble paths (the simulator's random-walk ensemble)."""
    blocks = []
    for block in range((paths + BLOCK_SIZE - 1) // BLOCK_SIZE):
        count = min(BLOCK_SIZE, paths - block * BLOCK_SIZE)
        counts = ensemble_paths(PAPER_ENSEMBLE, seed, block, steps, 0, count)
        blocks.append(ensemble.field(PAPER_ENSEMBLE, counts[:, 1:]))
    return np.concatenate(blocks)


def summary_row(values: np.ndarray) -> dict:
    """Mean, standard error, 95% interval of the mean and the 5%-95% band over paths."""
    stats = paired_difference(lambda: [values])
    low, high = np.quantile(values, [0.05, 0.95])
    return {"mean": stats["mean_difference"], "stderr": stats["stderr_difference"],
            "ci95_low": stats["ci95_low"], "ci95_high": stats["ci95_high"], "band_low": low,
            "band_high": high}


def paper_literal(fields: np.ndarray) -> dict[str, pd.DataFrame]:
    """Per (reading, a_self, γ): the objective and its change against γ = 0 on the same path,
    and the roughness of the schedule, each simulated (mean, interval, band) and exact; the
    mean schedules; one representative path."""
    mean_field, covariance = field_moments(PAPER_ENSEMBLE, fields.shape[1])
    rows, trade_rows = [], []
    solutions: dict = {}
    for reading in INVENTORY_READINGS:
        parameters = paper_parameters(reading)
        solver = PaperQP(parameters)
        for self_alpha in SELF_ALPHAS:
            base = None
            for coupling in COUPLINGS:
                trades = solver.trades(self_alpha, coupling, fields)
                values = paper_objective(parameters, trades, self_alpha, coupling, fields)
                base = values if base is None else base
                exact = solver.expected_objective(self_alpha, coupling, mean_field, covariance)
                exact_base = solver.expected_objective(self_alpha, 0.0, mean_field, covariance)
                objective, change = summary_row(values), summary_row(values - base)
                rough = summary_row(roughness(trades))
                rows.append({
                    "reading": reading, "self_alpha": self_alpha, "coupling": coupling,
                    "paths": values.shape[0], **{f"objective_{k}": v for k, v in objective.items()},
                    "exact_objective": exact,
                    **{f"change_{k}": v for k, v in change.items()},
                    "exact_change": exact - exact_base,
                    **{f"roughness_{k}": v for k, v in rough.items()},
                    "exact_roughness": solver.expected_roughness(self_alpha, coupling,
                                                                 mean_field, covariance),
                    "trace_response_covariance": float(np.sum(solver.response_matrix()
                                                              * covariance))})
                mean_trades = trades.mean(axis=0)
                trade_rows += [{"reading": reading, "self_alpha": self_alpha,
                                "coupling": coupling, "step": k + 1, "mean_trade": mean_trades[k],
                                "exact_mean_trade": solver.trades(self_alpha, coupling,
                                                                  mean_field)[k]}
                               for k in range(STEPS)]
                solutions[reading, self_alpha, coupling] = (trades, values - base)
    objective = pd.DataFrame(rows)
    return {"figure1_objective": objective, "mean_trades": pd.DataFrame(trade_rows),
            "figure2_representative_path": representative_path(fields, solutions)}


def representative_path(fields: np.ndarray, solutions: dict) -> pd.DataFrame:
    """The path whose objective change at the largest γ (a_self = 1, printed reading) is the
    median over paths: its field, and its trades for every reading and γ."""
    top = max(COUPLINGS)
    change = solutions["cumulative", 1.0, top][1]
    path = int(np.argsort(change)[change.shape[0] // 2])
    rows = []
    for (reading, self_alpha, coupling), (trades, _) in solutions.items():
        if self_alpha != 1.0:
            continue
        rows += [{"path": path, "reading": reading, "coupling": coupling, "step": k + 1,
                  "field": fields[path, k], "trade": trades[path, k]} for k in range(STEPS)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The simulated market


def simulated_market(episodes: int, seed: int, workers: int | None, out: Path):
    base = SimulationConfig(market=PAPER_MARKET, ensemble=PAPER_ENSEMBLE, episodes=episodes,
                            seed=seed)
    study = Study(base, STRATEGIES,
                  {"extended.coupling": COUPLINGS, "extended.self_alpha": SELF_ALPHAS},
                  baseline=1)
    return run_study(study, out, workers=workers, progress=False)


def market_effects(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per (coupling, self-alpha), paired across episodes (95% normal intervals):
    self_alpha_value = IS(extended/none) - IS(adaptive AC): pricing self-alpha;
    field_value = IS(extended/model) - IS(extended/none): anticipating the field;
    dominance = s·self_alpha_value_i - f·field_value_i per episode, s and f the signs of the
    two means: the size of the self-alpha effect minus the size of the field effect."""
    keys = ["extended.coupling", "extended.self_alpha"]
    wide = episodes.pivot_table(index=keys + ["episode"], columns="strategy",
                                values="shortfall").sort_index()
    rows = []
    for point, group in wide.groupby(level=keys):
        self_value = (group[SELF_ONLY] - group[AC]).to_numpy()
        field_value = (group[BOTH] - group[SELF_ONLY]).to_numpy()
        row = dict(zip(keys, point))
        for name, values in (("self_alpha_value", self_value), ("field_value", field_value),
                             ("dominance", dominance(self_value, field_value))):
            stats = paired_difference(lambda values=values: [values])
            row |= {"episodes": stats["episodes"], name: stats["mean_difference"],
                    f"{name}_stderr": stats["stderr_difference"],
                    f"{name}_low": stats["ci95_low"], f"{name}_high": stats["ci95_high"]}
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Verdicts


def verdicts(objective: pd.DataFrame, trades: pd.DataFrame,
             effects: pd.DataFrame) -> list[dict]:
    """Each claim of §4.7 and §4.7.1 with the statistic that decides it."""
    top = max(COUPLINGS)

    def row(reading: str, coupling: float, self_alpha: float = 1.0) -> pd.Series:
        return objective[(objective["reading"] == reading) & (objective["coupling"] == coupling)
                         & (objective["self_alpha"] == self_alpha)].iloc[0]

    printed, base = row("cumulative", top), row("cumulative", 0.0)
    trace = printed["trace_response_covariance"]
    rough_change = printed["exact_roughness"] - base["exact_roughness"]
    self_shift = row("cumulative", 0.0, 1.0)["exact_objective"] - row(
        "cumulative", 0.0, 0.01)["exact_objective"]
    schedules = trades.pivot_table(index=["reading", "coupling", "step"], columns="self_alpha",
                                   values="exact_mean_trade")
    schedule_shift = float((schedules[1.0] - schedules[0.01]).abs().max())
    if schedule_shift <= NUMERICAL_ZERO * 1000.0:  # rounding of an exactly-zero change
        schedule_shift = 0.0
    rows = [
        claim("Figure 1: the execution cost falls as the ensemble coupling γ grows", "§4.7",
              f"exact E[J*(γ={top:g})] − J*(0), either reading ({OBJECTIVE_UNITS}; the cost is "
              f"{abs(base['exact_objective']):,.0f})", printed["exact_change"],
              printed["exact_change"], printed["exact_change"], "exact", -1),
        claim("… and the Monte Carlo paths show it", "§4.7",
              f"mean over {int(printed['paths']):,} paths of J*(γ={top:g}) − J*(0), printed "
              "reading", printed["change_mean"], printed["change_ci95_low"],
              printed["change_ci95_high"], "Monte Carlo, paired, 95% CI", -1),
        claim("the marginal benefit of γ diminishes", "§4.7",
              "exact d²E[J*]/dγ² = −tr(RΣ)/2 (> 0 would mean diminishing)", -0.5 * trace,
              -0.5 * trace, -0.5 * trace, "exact", +1),
        claim("Figure 2: a larger γ smooths the trades", "§4.7",
              f"exact E[Σ(Δx)²] at γ = {top:g} minus at γ = 0 (shares²)", rough_change,
              rough_change, rough_change, "exact", -1),
        claim("Figure 1: a larger self-alpha lowers the execution cost", "§4.7",
              f"exact J* at a_self = 1 minus at a_self = 0.01 ({OBJECTIVE_UNITS})", self_shift,
              self_shift, self_shift, "exact", -1),
        claim("Figure 1: self-alpha changes the optimal schedule", "§4.7",
              "largest |x(a_self = 1) − x(a_self = 0.01)| over steps, readings, γ (shares)",
              schedule_shift, schedule_shift, schedule_shift, "exact", +1),
        claim("self-alpha dominates the ensemble effect (paper-literal)", "§4.7.1",
              f"|J* shift from a_self| − |E[J*] change from γ = {top:g}| ({OBJECTIVE_UNITS})",
              abs(self_shift) - abs(printed["exact_change"]),
              abs(self_shift) - abs(printed["exact_change"]),
              abs(self_shift) - abs(printed["exact_change"]), "exact", +1)]
    for self_alpha in sorted(set(effects["extended.self_alpha"])):
        market = effects[(effects["extended.self_alpha"] == self_alpha)
                         & (effects["extended.coupling"] == top)].iloc[0]
        rows.append(claim(
            f"simulated market, a_self = {self_alpha:g}: anticipating the field lowers the cost",
            "§4.7.1", f"IS(extended/model) − IS(extended/none) at coupling {top:g} (currency)",
            market["field_value"], market["field_value_low"], market["field_value_high"],
            "Monte Carlo, paired, 95% CI", -1))
        rows.append(claim(
            f"simulated market, a_self = {self_alpha:g}: self-alpha dominates the ensemble effect",
            "§4.7.1", "|pricing self-alpha| − |anticipating the field| in mean IS at coupling "
            f"{top:g} (currency)", market["dominance"], market["dominance_low"],
            market["dominance_high"], "Monte Carlo, paired, 95% CI", +1))
    return rows


# ---------------------------------------------------------------------------------------------
# Figures


def coupling_grid(objective: pd.DataFrame) -> np.ndarray:
    return np.linspace(0.0, max(COUPLINGS), 81)


def plot_figure1(objective: pd.DataFrame) -> plt.Figure:
    """Per-path change of the objective against γ = 0 (top) and its mean with the exact
    expectation (bottom), one column per reading."""
    figure, panels = new_figure(2, 2, width=5.2, height=3.3)
    grid = coupling_grid(objective)
    for column, reading in enumerate(INVENTORY_READINGS):
        rows = objective[(objective["reading"] == reading) & (objective["self_alpha"] == 1.0)]
        top, bottom = panels[0, column], panels[1, column]
        top.fill_between(rows["coupling"], rows["change_band_low"], rows["change_band_high"],
                         color="tab:blue", alpha=0.25, label="5%–95% of paths")
        top.plot(rows["coupling"], rows["change_mean"], marker="o", color="tab:blue",
                 label="mean over paths")
        top.set_title(f"{reading} reading: per-path change")
        trace = rows["trace_response_covariance"].iloc[0]
        for axes in (top, bottom):
            axes.plot(grid, -0.25 * grid**2 * trace, color="black", linewidth=1.5,
                      label="exact expectation −(γ²/4)·tr(RΣ)")
            axes.axhline(0.0, color="grey", linewidth=0.6)
            axes.set_xlabel("ensemble coupling γ (paper units)")
            axes.set_ylabel(f"J*(γ) − J*(0) ({OBJECTIVE_UNITS})")
        interval_line(bottom, rows["coupling"], rows["change_mean"], rows["change_ci95_low"],
                      rows["change_ci95_high"], label="mean over paths, 95% CI", color="tab:red")
        bottom.set_title(f"{reading} reading: the mean, magnified")
    figure.suptitle("Paper §4.3 objective: change against γ = 0 on the same ensemble path")
    legend_outside(figure)
    return figure


def plot_figure2(objective: pd.DataFrame, path: pd.DataFrame) -> plt.Figure:
    """A representative path: its field, the schedules at γ = 0, how γ moves the trades, and
    the roughness of the schedules against γ."""
    figure, panels = new_figure(2, 2, width=5.2, height=3.2)
    field_axes, base_axes = panels[0]
    change_axes, rough_axes = panels[1]
    first = path[(path["reading"] == "cumulative") & (path["coupling"] == 0.0)]
    field_axes.step(first["step"], first["field"], where="mid", color="tab:purple")
    field_axes.axhline(0.0, color="grey", linewidth=0.6)
    field_axes.set_title(f"ensemble field on path {int(first['path'].iloc[0])} "
                         "(median objective change)")
    field_axes.set_ylabel("field x̄_k (field units)")
    for reading, style in zip(INVENTORY_READINGS, ("-", "--")):
        rows = path[(path["reading"] == reading) & (path["coupling"] == 0.0)]
        base_axes.plot(rows["step"], rows["trade"], linestyle=style, marker=".",
                       color="black", label=f"γ = 0, {reading} reading")
    base_axes.set_title("optimal trades at γ = 0 (a_self = 1)")
    base_axes.set_ylabel("shares traded x_k")
    zero = path[(path["reading"] == "cumulative") & (path["coupling"] == 0.0)]
    for coupling in COUPLINGS[1:]:
        rows = path[(path["reading"] == "cumulative") & (path["coupling"] == coupling)]
        change_axes.plot(rows["step"], rows["trade"].to_numpy() - zero["trade"].to_numpy(),
                         marker=".", label=f"γ = {coupling:g}")
    change_axes.axhline(0.0, color="grey", linewidth=0.6)
    change_axes.set_title("trades at γ minus trades at γ = 0 (same for both readings)")
    change_axes.set_ylabel("change of shares traded")
    for axes in (field_axes, base_axes, change_axes):
        axes.set_xlabel("step k")
    rows = objective[(objective["reading"] == "cumulative") & (objective["self_alpha"] == 1.0)]
    base = rows["exact_roughness"].iloc[0]
    interval_line(rough_axes, rows["coupling"], rows["roughness_mean"] - base,
                  rows["roughness_ci95_low"] - base, rows["roughness_ci95_high"] - base,
                  label="roughness: mean over paths, 95% CI", color="tab:red")
    rough_axes.plot(rows["coupling"], rows["exact_roughness"] - base, color="black",
                    label="roughness: exact expectation")
    rough_axes.axhline(0.0, color="grey", linewidth=0.6)
    rough_axes.set_title(f"roughness Σ(Δx)² minus its value at γ = 0 ({base:,.0f})")
    rough_axes.set_xlabel("ensemble coupling γ (paper units)")
    rough_axes.set_ylabel("change of Σ(Δx_k)² (shares²)")
    legend_outside(figure, columns=3)
    return figure


def plot_market(effects: pd.DataFrame) -> plt.Figure:
    """Pricing self-alpha and anticipating the field, paired, against coupling; one column per
    self-alpha, each panel its own axis (the two effects differ by orders of magnitude)."""
    self_alphas = sorted(set(effects["extended.self_alpha"]))
    figure, panels = new_figure(2, len(self_alphas), width=5.0, height=3.2)
    for column, self_alpha in enumerate(self_alphas):
        rows = effects[effects["extended.self_alpha"] == self_alpha].sort_values(
            "extended.coupling")
        for row, (name, words, color) in enumerate((
                ("self_alpha_value", "pricing self-alpha: extended/none − adaptive AC",
                 "tab:green"),
                ("field_value", "anticipating the field: extended/model − extended/none",
                 "tab:blue"))):
            axes = panels[row, column]
            interval_line(axes, rows["extended.coupling"], rows[name], rows[f"{name}_low"],
                          rows[f"{name}_high"], label=words + " (95% CI)", color=color)
            axes.axhline(0.0, color="grey", linewidth=0.6)
            axes.set_xlabel(parameter_label("extended.coupling"))
            compact_ticks(axes)
            axes.set_ylabel("paired IS difference (currency)")
            axes.set_title(f"self-alpha = {self_alpha:g}: "
                           + ("pricing self-alpha" if row == 0 else "anticipating the field"))
    figure.suptitle("Simulated market, paper's units: what each term of the extended planner "
                    "is worth (negative: cheaper)")
    legend_outside(figure, columns=1)
    return figure


# ---------------------------------------------------------------------------------------------
# Report


def report(objective: pd.DataFrame, verdict_table: pd.DataFrame, effects: pd.DataFrame,
           n_paths: int, episodes: int, seed: int) -> str:
    top = max(COUPLINGS)

    def row(reading: str, coupling: float, self_alpha: float = 1.0) -> pd.Series:
        return objective[(objective["reading"] == reading) & (objective["coupling"] == coupling)
                         & (objective["self_alpha"] == self_alpha)].iloc[0]

    z = (objective["change_mean"] - objective["exact_change"]) / objective["change_stderr"]
    z = z[objective["coupling"] > 0.0]
    printed, remaining = row("cumulative", top), row("remaining", top)
    base_printed = row("cumulative", 0.0)
    self_shift = base_printed["exact_objective"] - row("cumulative", 0.0, min(SELF_ALPHAS))[
        "exact_objective"]
    counts = verdict_table["verdict"].value_counts()
    lines = [
        "# Paper §4 (synthetic), reproduced, each claim judged", "",
        f"**Run:** {n_paths:,} ensemble paths (100 agents, ±1 random walk with p = 1/2 per "
        f"step, α0 = 5, seed {seed}); the §4.3 QP with T = 20, Q = 1000, κ = 1, λ = 0.1, σ² = 1, "
        f"γ ∈ {list(COUPLINGS)}, a_self ∈ {list(SELF_ALPHAS)}, solved exactly on every path, "
        "for the printed (cumulative) and the remaining-inventory reading; exact expectations "
        "from the count chain's mean and covariance. Then "
        f"{episodes:,} simulated episodes per case of the consistent market model (TWAP, "
        "adaptive AC, extended AC without and with the field forecast).", "",
        "## Verdicts", "",
        "The claims are stated as this project reads them from the paper's §4.7 and §4.7.1 "
        "(figures and text), not quoted. A claim holds when its statistic lies on the claimed "
        "side over the whole interval; exact statistics have no interval.", "",
        *verdict_lines(verdict_table), "",
        "## What came out", "",
        f"- The exact expected change of the objective at γ = {top:g} is "
        f"{printed['exact_change']:.4f} for the printed reading and "
        f"{remaining['exact_change']:.4f} for the remaining one (the readings share their "
        f"quadratic part, hence R), against a cost of {base_printed['exact_objective']:,.1f}: "
        f"{100 * abs(printed['exact_change'] / base_printed['exact_objective']):.2g}% of it. "
        f"Single paths move by far more (5%–95% of paths: [{printed['change_band_low']:,.1f}, "
        f"{printed['change_band_high']:,.1f}]) because the field is symmetric around 0 and "
        "moves the cost up as often as down.",
        f"- The Monte Carlo means agree with the exact expectations: the largest |z| over "
        f"readings, a_self and γ > 0 is {z.abs().max():.2f} (4 would be a failure). With "
        f"{n_paths:,} paths the mean change at γ = {top:g} is {printed['change_mean']:.3f} "
        f"± {Z95 * printed['change_stderr']:.3f}: simulation alone "
        + ("cannot tell its sign." if abs(printed["change_mean"])
           <= Z95 * printed["change_stderr"] else "tells its sign."),
        "- The mean schedule is the schedule at γ = 0 for every γ (the field's mean is 0 and "
        "the schedule is linear in it), so a figure of mean schedules cannot show γ; Figure 2 "
        "shows one path instead.",
        f"- The expected objective is −(γ²/4)·tr(RΣ) + const with tr(RΣ) = "
        f"{printed['trace_response_covariance']:.4f} > 0: concave in γ, so each further unit "
        "of γ lowers it *more*, not less.",
        f"- Roughness Σ(Δx)² at γ = {top:g} exceeds its γ = 0 value by "
        f"{printed['exact_roughness'] - base_printed['exact_roughness']:.4f} shares² in "
        "expectation: responding to a random field adds trade-to-trade variation.",
        f"- A constant a_self only shifts the objective: a_self from {min(SELF_ALPHAS):g} to "
        f"{max(SELF_ALPHAS):g} moves it by {self_shift:,.3f} (= −Δa_self·Q under Σx = Q) and "
        "the schedule not at all; the Figure 1 gap between the a_self curves is that "
        "constant, not a different strategy.",
        "- The printed cumulative reading back-loads the order and the remaining reading "
        "front-loads it; they are time reverses of each other.", ""]
    top_effects = effects[effects["extended.coupling"] == top]
    lines += ["**Simulated market** (paper's units mapped to MODEL.md §2; paired differences "
              "across episodes, 95% CI, currency; negative: cheaper):", "",
              "| self-alpha | coupling | pricing self-alpha | anticipating the field |",
              "|---|---|---|---|"]
    lines += [f"| {r['extended.self_alpha']:g} | {r['extended.coupling']:g} | "
              f"{r['self_alpha_value']:,.2f} [{r['self_alpha_value_low']:,.2f}, "
              f"{r['self_alpha_value_high']:,.2f}] | {r['field_value']:,.3f} "
              f"[{r['field_value_low']:,.3f}, {r['field_value_high']:,.3f}] |"
              for _, r in effects.iterrows()]
    field_known = top_effects[(top_effects["field_value_high"] < 0.0)
                              | (top_effects["field_value_low"] > 0.0)]
    lines += ["", f"- At coupling {top:g} the field's value is distinguishable from 0 for "
              f"{len(field_known)} of {len(top_effects)} self-alpha values; pricing self-alpha "
              "moves mean IS by "
              + " and ".join(f"{r['self_alpha_value']:,.0f}" for _, r in top_effects.iterrows())
              + " (positive when the planner buys lower variance with a higher mean: it "
              "minimises E + λV, not E).", "",
              f"**Meaning:** of {len(verdict_table)} claims, {counts.get('holds', 0)} hold, "
              f"{counts.get('does not hold', 0)} do not hold and "
              f"{counts.get('cannot tell', 0)} cannot be told from this run. Where γ's effect "
              "is exact, its size is set against the cost above: a verdict of 'holds' on its "
              "sign says nothing about whether it matters.", "",
              "Figures: `figures/figure1_objective_change.png`, "
              "`figures/figure2_representative_path.png`, `figures/market_effects.png`. Tables: "
              "`verdicts.csv`, `figure1_objective.csv`, `mean_trades.csv`, "
              "`figure2_representative_path.csv`, `market_effects.csv`, `market_summary.csv`, "
              "`market_paired.csv`."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Entry points


def run(out: str | Path, paths: int, episodes: int, seed: int,
        workers: int | None = None) -> ExperimentOutput:
    output = ExperimentOutput(out)
    tables = paper_literal(field_paths(paths, seed))
    for name, frame in tables.items():
        output.table(name, frame)
    market = simulated_market(episodes, seed, workers, Path(out) / "simulation")
    effects = market_effects(load_episodes(Path(out) / "simulation"))
    output.table("market_summary", market.summary)
    output.table("market_paired", market.paired)
    output.table("market_effects", effects)
    verdict_table = output.verdicts(verdicts(tables["figure1_objective"], tables["mean_trades"],
                                             effects))
    output.figure("figure1_objective_change", plot_figure1(tables["figure1_objective"]))
    output.figure("figure2_representative_path",
                  plot_figure2(tables["figure1_objective"],
                               tables["figure2_representative_path"]))
    output.figure("market_effects", plot_market(effects))
    output.report(report(tables["figure1_objective"], verdict_table, effects, paths, episodes,
                         seed))
    return output


def simulated_cases(args: argparse.Namespace) -> int:
    """Cases simulated on every episode (the size check, acsim.simulator.sizes)."""
    return len(STRATEGIES) * len(COUPLINGS) * len(SELF_ALPHAS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "results/paper-synthetic", 50_000)
    parser.add_argument("--paths", type=int, default=None,
                        help="ensemble paths for the paper-literal QP (default 20,000)")


def main(args: argparse.Namespace) -> list[Path]:
    episodes = episodes_from_args(args, 50_000, 4_096)
    paths = (validation.integer("--paths", args.paths, 2) if args.paths is not None
             else (500 if args.quick else 20_000))
    return run(args.out, paths, episodes, args.seed, args.workers).written
