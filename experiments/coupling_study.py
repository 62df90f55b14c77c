"""`acsim coupling-study`: does anticipating other traders' flow pay, and where?

Realised implementation shortfall in the simulated market (MODEL.md §2) against the
ensemble coupling and against self-alpha, for TWAP, adaptive AC (which ignores the field
and self-alpha) and extended AC with the `persistent` and the `model` field forecast. All
cases share the random numbers of each episode, so the differences to adaptive AC are
paired and their confidence intervals are tight.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from experiments.common import (
    ExperimentOutput,
    add_common_arguments,
    episodes_from_args,
    errorbar_panels,
)
from simulator.config import SimulationConfig, StrategyParameters
from simulator.study import Study, run_study

COUPLINGS = (0.0, 0.0025, 0.005, 0.01, 0.02)
SELF_ALPHAS = (0.0, 2e-5, 1e-4)
STRATEGIES = (StrategyParameters("twap"), StrategyParameters("ac-adaptive"),
              StrategyParameters("extended", "persistent"), StrategyParameters("extended", "model"))


def run(out: str | Path, episodes: int, seed: int, workers: int | None = None,
        couplings: tuple = COUPLINGS, self_alphas: tuple = SELF_ALPHAS) -> ExperimentOutput:
    output = ExperimentOutput(out)
    study = Study(SimulationConfig(episodes=episodes, seed=seed), STRATEGIES,
                  {"extended.coupling": couplings, "extended.self_alpha": self_alphas},
                  baseline=1)
    results = run_study(study, Path(out) / "simulation", workers=workers, progress=False)
    summary, paired = results.summary, results.paired
    output.table("summary", summary)
    output.table("paired", paired)

    output.figure("shortfall_vs_coupling", errorbar_panels(
        summary, "extended.coupling", "mean_is",
        "mean implementation shortfall (currency, ±95% CI)", panel="extended.self_alpha"))
    output.figure("paired_vs_coupling", errorbar_panels(
        paired, "extended.coupling", "mean_difference",
        "IS − IS(adaptive AC), paired (currency, ±95% CI)", panel="extended.self_alpha"))

    figure, axes = plt.subplots(figsize=(6, 4.5))
    rows = summary[summary["extended.coupling"] == max(couplings)]
    for strategy, group in rows.groupby("strategy", sort=False):
        axes.plot(group["extended.self_alpha"], group["var95"], marker="o", label=strategy)
    axes.set_xlabel("self_alpha")
    axes.set_ylabel(f"VaR95 of IS at coupling {max(couplings):g} (currency)")
    axes.legend()
    output.figure("var95_vs_self_alpha", figure)

    output.report(report(summary, paired, episodes, seed))
    return output


def report(summary: pd.DataFrame, paired: pd.DataFrame, episodes: int, seed: int) -> str:
    extended = paired[paired["strategy"].str.startswith("extended")]
    pays = extended[extended["ci95_high"] < 0.0]
    costs = extended[extended["ci95_low"] > 0.0]
    best = extended.loc[extended["mean_difference"].idxmin()]
    base = summary[(summary["strategy"] == "ac-adaptive")
                   & (summary["extended.coupling"] == best["extended.coupling"])
                   & (summary["extended.self_alpha"] == best["extended.self_alpha"])].iloc[0]
    lines = [
        "# Coupling study: does anticipating the field pay?", "",
        f"**Run:** {episodes:,} episodes per case (seed {seed}), the default market (1,000 "
        "shares, 20 steps, 100 Kirman agents, field scale 5), strategies TWAP, adaptive AC, "
        "extended AC (persistent and model forecasts), coupling × self_alpha grid "
        f"{sorted(set(summary['extended.coupling']))} × {sorted(set(summary['extended.self_alpha']))}. "
        "All cases see the same random numbers; differences are paired against adaptive AC.", "",
        "**Result:**",
        f"- Extended AC is significantly cheaper than adaptive AC (95% CI below 0) in "
        f"{len(pays)} of {len(extended)} (forecast, coupling, self_alpha) cases and "
        f"significantly dearer in {len(costs)}.",
        f"- The largest saving: {best['strategy']} at coupling {best['extended.coupling']:g}, "
        f"self_alpha {best['extended.self_alpha']:g}: {best['mean_difference']:.3f} currency "
        f"(95% CI [{best['ci95_low']:.3f}, {best['ci95_high']:.3f}]) on a mean IS of "
        f"{base['mean_is']:.3f} for adaptive AC "
        f"({100 * best['mean_difference'] / base['mean_is']:.1f}%).",
        "", "Differences of mean IS are paired (95% CI); the last column compares the "
        "realised mean-variance utility mean + λ·variance (λ = the planner's risk aversion), "
        "which is what the AC and extended planners minimise.", "",
        "| strategy | coupling | self_alpha | IS − IS(adaptive AC) | 95% CI | utility − utility(adaptive AC) |",
        "|---|---|---|---|---|---|"]
    origin = extended[(extended["extended.coupling"] == 0.0)
                      & (extended["extended.self_alpha"] == 0.0)]
    if not origin.empty:
        lines.insert(lines.index("**Result:**") + 3,
                     "- With coupling = 0 and self_alpha = 0 extended AC is adaptive AC: the "
                     f"largest paired difference there is {origin['mean_difference'].abs().max():g}.")
    keys = ["extended.coupling", "extended.self_alpha"]
    utility = summary.set_index(["strategy"] + keys)["utility"]
    lines += [f"| {r['strategy']} | {r['extended.coupling']:g} | {r['extended.self_alpha']:g} | "
              f"{r['mean_difference']:.3f} | [{r['ci95_low']:.3f}, {r['ci95_high']:.3f}] | "
              f"{utility[(r['strategy'], r['extended.coupling'], r['extended.self_alpha'])] - utility[('ac-adaptive', r['extended.coupling'], r['extended.self_alpha'])]:.3f} |"
              for _, r in paired.iterrows()]
    lines += ["", "**Meaning:** the field is persistent (Kirman counts mean-revert slowly), so a "
              "trader who knows the coupling and reads the current field saves more as the "
              "coupling grows. Self-alpha makes holding inventory costly and only the extended "
              "planner prices it in: where self-alpha is large it saves a great deal; where it "
              "is comparable to λσ² the extended planner trades faster than the mean-optimal "
              "speed and pays a little more on average for a lower variance, which is the "
              "trade its objective E + λV asks for (see the utility column). TWAP, the "
              "risk-neutral benchmark, has the lowest mean when drift terms are small but the "
              "widest tails (see VaR95). The gains from the field alone are modest relative to "
              "the noise of a single order: they show up clearly only because common random "
              "numbers pair the episodes.",
              "", "Figures: `figures/shortfall_vs_coupling.png`, `figures/paired_vs_coupling.png`, "
              "`figures/var95_vs_self_alpha.png`."]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "results/coupling-study", 100_000)


def main(args: argparse.Namespace) -> list[Path]:
    episodes = episodes_from_args(args, 100_000, 4_096)
    return run(args.out, episodes, args.seed, args.workers).written
