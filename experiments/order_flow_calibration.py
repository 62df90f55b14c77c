"""`acsim order-flow-calibration`: the order-flow market calibrated to intraday bars, and the
paper's reduced form fitted to it.

1. Bars (`--bars`, any of the three layouts; full regular sessions only) give the market in bar
   units (τ = 1 bar): price, σ, ε, η, γ by the Almgren-Chriss rules of thumb
   (`market_data.calibrate`). Returns are close-to-close changes inside sessions, divided by
   their time of day's typical size unless `--raw` (the market has no clock).
2. Simulated method of moments (`acsim.simulator.order_flow_calibration`): the fundamental
   volatility σ, the momentum noise ν and the reversion size ψ by SMM (Nelder-Mead, common
   random numbers, sandwich standard errors, J-test) at every point of a grid of the switching
   parameters a1 (switch_to_momentum) and b (herding), which get profile intervals. The other
   order-flow settings are the stylized market's (M = 100, a2 = 0.01, φ and ψ's start scaled
   to the bars' γ and σ, β_m = 0, β_r = 1, L = 5).
3. The reduced form D_k = α·τ + coupling·f_k·τ - side·self_alpha·x_k·τ - side·γ_eff·n_k + e_k
   by least squares on `--episodes` simulated episodes of the calibrated market in which an
   order of `--shares` (default 1% of daily volume) is sold over `--steps` bars on random
   schedules; standard errors clustered by episode; R².

Writes tables (CSV and Parquet), figures (moments observed against fitted; the profile
criterion), calibrated_market.toml (the calibrated order-flow market with the reduced form as
[beliefs], ready for `acsim simulate --config`, `acsim model-risk --config`) and report.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from acsim.experiments.common import ExperimentOutput
from acsim.simulator import market_data
from acsim.simulator.config import config_toml
from acsim.simulator.market_run import STYLIZED_MARKET, bar_returns
from acsim.simulator.method_of_moments import Parameter
from acsim.simulator.order_flow_calibration import (
    OrderFlowFit,
    ReducedForm,
    bar_market,
    deseasonalise,
    fit_order_flow,
    fit_reduced_form,
)
from acsim.strategies import validation
from acsim.strategies.errors import ParameterError

GRID = {"ensemble.switch_to_momentum": (2e-4, 5e-4, 1.25e-3),
        "ensemble.herding": (0.25, 0.5, 0.9)}
QUICK_GRID = {"ensemble.switch_to_momentum": (5e-4,), "ensemble.herding": (0.5, 0.9)}
VOLUME_FRACTION = 0.01


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bars", required=True,
                        help="intraday bars: header CSV, headerless vendor file or yfinance CSV")
    parser.add_argument("--out", default="results/order-flow-calibration",
                        help="output directory (default results/order-flow-calibration)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run: a 2-point grid, 4 simulations of twice the data, "
                             "100 bootstrap replicates, 2,048 reduced-form episodes")
    parser.add_argument("--raw", action="store_true",
                        help="keep the intraday seasonality in the returns")
    parser.add_argument("--simulations", type=int, default=None,
                        help="simulations per SMM criterion (default 8; --quick 4)")
    parser.add_argument("--length-ratio", type=int, default=None,
                        help="simulated sessions per data session (default 4; --quick 2)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes of the reduced-form regression (default 16,384; "
                             "--quick 2,048)")
    parser.add_argument("--steps", type=int, default=20,
                        help="bars the order is worked over (default 20)")
    parser.add_argument("--shares", type=float, default=None,
                        help="order size (default 1%% of the bars' daily volume)")
    parser.add_argument("--risk-aversion", type=float, default=1e-8,
                        help="λ per currency of the calibrated order (default 1e-8)")
    parser.add_argument("--spread-bps", type=float, default=None,
                        help="bid-ask spread in bps of price (default: the Corwin-Schultz "
                             "estimate from the bars' highs and lows, as paper-real)")


def session_bars(path: str) -> pd.DataFrame:
    """The file's bars of full regular sessions (the moments need equal session lengths)."""
    bars = market_data.full_session_bars(market_data.load_bars(path))
    sessions = len(set(market_data.session_dates(bars)))
    if sessions < 2:
        raise ParameterError(f"{path}: calibration needs at least two full regular sessions, "
                             f"found {sessions}")
    return bars


def main(args: argparse.Namespace) -> list[Path]:
    quick = args.quick
    simulations = validation.integer("--simulations", args.simulations or (4 if quick else 8), 1)
    ratio = validation.integer("--length-ratio", args.length_ratio or (2 if quick else 4), 1)
    episodes = validation.integer("--episodes", args.episodes or (2048 if quick else 16384), 2)
    steps = validation.integer("--steps", args.steps, 2)
    seed = validation.integer("--seed", args.seed, 0)
    bars = session_bars(args.bars)  # the input, then the output folder, before any work
    output = ExperimentOutput(args.out)
    calibration = market_data.calibrate(bars, spread_bps=args.spread_bps)
    shares = args.shares or round(VOLUME_FRACTION * calibration.daily_volume)
    base = bar_market(calibration, STYLIZED_MARKET.replace(
        market={"shares": float(shares), "steps": steps, "horizon": float(steps),
                "risk_aversion": args.risk_aversion}))
    raw = bar_returns(bars)
    returns = raw if args.raw else deseasonalise(raw)
    parameters = [Parameter("market.volatility", 0.7 * calibration.volatility, 0.0),
                  Parameter("order_flow.momentum_noise", base.order_flow.momentum_noise, 0.0),
                  Parameter("order_flow.reversion_size", base.order_flow.reversion_size, 0.0)]
    fit = fit_order_flow(returns, base, parameters, QUICK_GRID if quick else GRID,
                         simulations=simulations, length_ratio=ratio, seed=seed,
                         replicates=100 if quick else 500, restarts=0 if quick else 1)
    reduced = fit_reduced_form(fit.config, episodes, seed=seed + 1)
    calibrated = fit.config.replace(beliefs=reduced.beliefs(), simulation={"seed": seed})

    output.table("bar_calibration", pd.DataFrame([vars(calibration)]))
    output.table("smm_parameters", fit.parameters())
    output.table("smm_moments", fit.result.moments)
    output.table("smm_profile", fit.profile)
    output.table("reduced_form", reduced.table.assign(r_squared=reduced.r_squared,
                                                      residual_volatility=reduced.volatility,
                                                      episodes=reduced.episodes))
    output.path("calibrated_market.toml").write_text(
        f"# written by acsim order-flow-calibration from {args.bars}\n" + config_toml(calibrated))
    output.figure("smm_moments", plot_moments(fit))
    output.figure("smm_profile", plot_profile(fit))
    output.report(report(args, calibration, fit, reduced, calibrated, len(set(
        market_data.session_dates(bars)))))
    return output.written


def plot_moments(fit: OrderFlowFit) -> plt.Figure:
    """Observed moments ± 1.96 SE (data and simulation noise) against the fitted ones."""
    table = fit.result.moments
    figure, axes = plt.subplots(1, len(table), figsize=(2.1 * len(table), 3.4))
    for item, row in zip(axes, table.itertuples()):
        item.errorbar([0], [row.observed], yerr=[1.96 * row.standard_error], fmt="o",
                      capsize=4, label="observed ± 1.96 SE")
        item.plot([1], [row.fitted], "s", color="tab:red", label="fitted")
        item.set_xticks([0, 1], ["data", "model"])
        item.set_xlim(-0.6, 1.6)
        item.set_title(row.moment, fontsize="medium")
    axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.05, 1.0))
    figure.suptitle(f"SMM moments (J = {fit.result.j_statistic:.2f}, "
                    f"p = {fit.result.j_p_value:.3f})")
    return figure


def plot_profile(fit: OrderFlowFit) -> plt.Figure:
    """The SMM criterion at every grid point of the switching parameters."""
    profile = fit.profile
    names = list(fit.switching)
    figure, axes = plt.subplots(figsize=(6, 4))
    groups = profile.groupby(names[1:]) if len(names) > 1 else [("", profile)]
    for key, rows in groups:
        rows = rows.sort_values(names[0])
        axes.plot(rows[names[0]], rows["criterion"], "o-",
                  label=", ".join(f"{n} = {v}" for n, v in zip(names[1:], np.atleast_1d(key))))
    axes.axhline(fit.result.criterion + 3.841, color="grey", linestyle=":",
                 label="minimum + χ²₁(95%)")
    axes.set_xscale("log")
    axes.set_xlabel(names[0])
    axes.set_ylabel("SMM criterion Q")
    axes.legend(fontsize="small")
    return figure


def report(args, calibration, fit: OrderFlowFit, reduced: ReducedForm, calibrated,
           sessions: int) -> str:
    result = fit.result
    flow, market = calibrated.order_flow, calibrated.market
    lines = ["# The order-flow market calibrated to bars", "",
             f"Bars: `{args.bars}`, {sessions} full regular sessions; returns "
             f"{'raw' if args.raw else 'divided by their time of day typical size'}. Bar "
             f"units (τ = 1 bar). Rules of thumb: σ_bars = {calibration.volatility:.4g}, "
             f"ε = {calibration.half_spread:.4g}, η = {calibration.temporary_impact:.4g}, "
             f"γ = {calibration.permanent_impact:.4g}, daily volume "
             f"{calibration.daily_volume:,.0f}.", "",
             "## (a) Simulated method of moments", "",
             f"Moments: {', '.join(result.moments['moment'])}. {result.simulations} "
             f"simulations per criterion (common random numbers), {result.evaluations} "
             f"evaluations at the best grid point; J = {result.j_statistic:.2f} on "
             f"{result.degrees_of_freedom} degrees of freedom (p = {result.j_p_value:.3f}); "
             f"{result.message}", "",
             "| parameter | estimate | standard error | 95% interval | method |",
             "|---|---|---|---|---|"]
    for row in fit.parameters().itertuples():
        lines.append(f"| {row.name} | {row.estimate:.4g} | {row.standard_error:.3g} | "
                     f"[{row.ci_low:.4g}, {row.ci_high:.4g}] | {row.method} |")
    edges = fit.intervals[fit.intervals["at_edge"]]["name"].tolist()
    lines += ["", "Grid intervals list the grid values whose profile criterion lies within "
              "3.84 of the minimum" + (f"; for {', '.join(edges)} they reach the grid's end, "
                                       "so the data do not pin them down within it."
                                       if edges else "."), "",
              "| moment | observed | fitted | standard error | t |", "|---|---|---|---|---|"]
    for row in result.moments.itertuples():
        lines.append(f"| {row.moment} | {row.observed:.4g} | {row.fitted:.4g} | "
                     f"{row.standard_error:.3g} | {row.t_statistic:.2f} |")
    typical = flow.momentum_size * flow.momentum_noise * np.sqrt(
        calibrated.ensemble.agents * 0.05)
    lines += ["", f"Implied sizes: the reversion agents' full capacity ψ·M = "
              f"{flow.reversion_size * calibrated.ensemble.agents:,.0f} shares per bar and a "
              f"momentum noise φ·ν·√m of {typical:,.0f} shares per bar at m = 5, against a "
              f"daily volume of {calibration.daily_volume:,.0f}: with the rule-of-thumb γ the "
              "flows that move the price by σ are far larger than the traded volume, so these "
              "agents are effective order flow, not head counts.", "",
              "## (b) The paper's reduced form on simulated order-flow episodes", "",
              f"{reduced.episodes:,} episodes of the calibrated market ({reduced.observations:,} "
              f"steps), an order of {market.shares:,.0f} shares sold over {market.steps} bars "
              f"on random schedules. R² = {reduced.r_squared:.4f}; residual volatility "
              f"{reduced.volatility:.4g} per √bar.", "",
              "| term | estimate | standard error (clustered) | 95% interval |",
              "|---|---|---|---|"]
    for row in reduced.table.itertuples():
        lines.append(f"| {row.name} | {row.estimate:.4g} | {row.standard_error:.3g} | "
                     f"[{row.ci_low:.4g}, {row.ci_high:.4g}] |")
    lines += ["", f"The market's own permanent impact is γ = {market.permanent_impact:.4g}; "
              "the fitted γ_eff, drift and self-alpha say how much of the order's impact the "
              "mean-reversion agents take back within the order. calibrated_market.toml holds "
              "the market and, as [beliefs], the reduced form (self-alpha and γ_eff cut at 0).",
              ""]
    return "\n".join(lines)
