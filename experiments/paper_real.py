"""`acsim paper-real`: the paper's real-data experiment (§5) on intraday bars, backtested.

Takes one trading day of 5-minute bars (--csv FILE, or --download TICKER with the optional
extra acsim[data]: yfinance, 5 days of 5-minute bars), default the last full regular session
in the file, and T = all its bars (78) or the first --steps of them.

1. Calibration (acsim.simulator.market_data, time unit = one bar, τ = 1) on the full sessions
   before that day (the day itself if there are none, flagged as in-sample): σ per bar,
   daily volume, half spread ε = spread/2 (default spread 1 bp of price: no quotes), and the
   Almgren-Chriss rules of thumb for η and γ; beside them (calibration.csv only) the ATHL
   power-law temporary impact η_p·v^β from the same σ and daily volume (--athl-exponent β,
   default 0.6), with the temporary cost per share of both at the order's TWAP rate.
2. Signals (§5.1) over the day's window: ensemble proxy sign(close − open)·volume and
   self-alpha proxy MA3 − MA10 of close, each smoothed (trailing 3-bar mean) and z-scored
   over the window; Figure 3 analogue.
3. The §5.2 penalty QP (MODEL.md §3c) in calibrated units: κ = η̃/τ = η − γ/2, σ² per bar,
   λ = --risk-aversion, P = --penalty (default 1000·κ), a_self = s·(self-alpha signal) and
   x̄ = s·(ensemble signal) with s = --signal-scale (currency per share per signal standard
   deviation, default ε), ensemble coupling γ ∈ {0, 0.5, 1}, for the printed ("cumulative")
   and the "remaining" inventory reading; Figure 4 analogue.
4. Backtest of every schedule, and of TWAP and the classical AC optimum for the calibrated
   parameters, on the observed bars: trade k fills at the open of bar k, lowered by the
   permanent impact γ·(shares sold before k), minus ε·sgn(n_k) + (η/τ)·n_k (MODEL.md §2). Any
   shares the penalty form leaves unsold are added to the last trade. Realised
   implementation shortfall against the arrival price (the first bar's open), in currency and
   bps.

The QP sees the whole day's signals at the start: the schedules use information from later
bars and are not implementable (an upper bound on what the signals could deliver).
--episodes, --seed and --workers are accepted for uniformity with the other experiments and
ignored: nothing here is random (one historical day, deterministic schedules, no bootstrap).
--quick uses the first 24 bars of the day unless --steps is given.
"""

from __future__ import annotations

import argparse
import datetime
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from acsim.experiments.common import ExperimentOutput, add_common_arguments
from acsim.simulator import market, market_data
from acsim.strategies import almgren_chriss, validation
from acsim.strategies.baselines import twap_holdings
from acsim.strategies.costs import holdings_from_trades, shortfall_variance, trades_from_holdings
from acsim.strategies.errors import ParameterError
from acsim.strategies.impact import LinearImpact
from acsim.strategies.paper import INVENTORY_READINGS, PaperParameters, PaperQP, paper_objective
from acsim.strategies.parameters import ExecutionProblem

COUPLINGS = (0.0, 0.5, 1.0)
QUICK_STEPS = 24
VOLUME_FRACTION = 0.01  # default order: 1% of the calibrated daily volume
PENALTY_RATIO = 1000.0  # default P = PENALTY_RATIO·κ
MATERIAL_FRACTION = 0.05  # a schedule change moving ≥ 5% of the order counts as material


@dataclass(frozen=True)
class Settings:
    """Choices of the experiment; None means the documented default.

    day: the session to trade (default: the last full regular session).
    steps: bars to trade from the open (default: all of the day's bars; 24 with quick).
    shares: Q (default 1% of the calibrated daily volume, rounded to a share).
    risk_aversion: λ per currency, for AC and the QP (default 1e-8: κT ≈ 1 on AAPL).
    penalty: P of §5.2, currency per share² (default 1000·κ).
    signal_scale: currency per share per signal standard deviation (default ε).
    spread: full bid-ask spread in currency (default spread_bps of the reference price).
    """

    day: datetime.date | None = None
    steps: int | None = None
    shares: float | None = None
    risk_aversion: float = 1e-8
    penalty: float | None = None
    signal_scale: float | None = None
    spread: float | None = None
    spread_bps: float = market_data.DEFAULT_SPREAD_BPS

    def __post_init__(self) -> None:
        if self.day is not None and not isinstance(self.day, datetime.date):
            raise ParameterError(f"day must be a date, got {self.day!r}")
        if self.steps is not None:
            validation.integer("steps", self.steps, 1)
        for name in ("shares", "penalty"):
            if getattr(self, name) is not None:
                validation.positive(name, getattr(self, name))
        for name in ("signal_scale", "spread"):
            if getattr(self, name) is not None:
                validation.non_negative(name, getattr(self, name))
        validation.non_negative("risk_aversion", self.risk_aversion)
        validation.non_negative("spread_bps", self.spread_bps)


@dataclass(frozen=True)
class Plan:
    """A planned schedule: trades n_1..n_T (shares sold per bar) and, for the QP, its objective."""

    name: str
    inventory: str | None
    coupling: float
    trades: np.ndarray
    objective: float


@dataclass(frozen=True)
class Backtest:
    """A schedule traded on the observed bars (currency; a seller's costs are positive).

    trades: executed n_k. reference: open of bar k minus the permanent impact of earlier
    trades. fills: reference − ε·sgn(n_k) − (η/τ)·n_k. shortfall = X·S_0 − Σ n_k·fills_k
    = timing + spread_cost + temporary_cost + permanent_cost.
    """

    trades: np.ndarray
    reference: np.ndarray
    fills: np.ndarray
    shortfall: float
    timing: float
    spread_cost: float
    temporary_cost: float
    permanent_cost: float


# ---------------------------------------------------------------------------------------------
# Steps of the experiment


def choose_day(bars: pd.DataFrame, day: datetime.date | None) -> datetime.date:
    """`day` if it is a session of `bars`, else the last full regular session."""
    dates = set(market_data.session_dates(bars))
    if day is not None:
        if day not in dates:
            raise ParameterError(f"day {day} is not a session in the data; sessions: "
                                 f"{', '.join(str(date) for date in sorted(dates))}")
        return day
    full = market_data.full_sessions(bars)
    if not full:
        raise ParameterError("the data has no full regular session; choose a day with --day")
    return full[-1]


def calibration_bars(bars: pd.DataFrame, day: datetime.date) -> tuple[pd.DataFrame, bool]:
    """Bars of the full sessions before `day` (out of sample), else of `day` (in-sample)."""
    earlier = [date for date in market_data.full_sessions(bars) if date < day]
    in_sample = not earlier
    chosen = [day] if in_sample else earlier
    return bars[np.isin(market_data.session_dates(bars), chosen)], in_sample


def paper_parameters(problem: ExecutionProblem, penalty: float | None,
                     inventory: str) -> PaperParameters:
    """The §5.2 QP in calibrated units: κ = η̃/τ, σ² per bar, λ, P (default 1000·κ)."""
    trade_cost = problem.effective_temporary_impact / problem.step_length
    return PaperParameters(
        total_shares=problem.shares, steps=problem.steps, trade_cost=trade_cost,
        risk_aversion=problem.risk_aversion, variance=problem.volatility**2,
        penalty=PENALTY_RATIO * trade_cost if penalty is None else penalty, inventory=inventory)


def plans(problem: ExecutionProblem, self_alpha: np.ndarray, field: np.ndarray,
          penalty: float | None) -> list[Plan]:
    """The paper QP schedules (both readings × COUPLINGS), then TWAP and classical AC."""
    result = []
    for inventory in INVENTORY_READINGS:
        parameters = paper_parameters(problem, penalty, inventory)
        solver = PaperQP(parameters)
        for coupling in COUPLINGS:
            trades = solver.trades(self_alpha, coupling, field)
            objective = float(paper_objective(parameters, trades, self_alpha, coupling, field))
            result.append(Plan(f"paper/{inventory}/γ={coupling:g}", inventory, coupling, trades,
                               objective))
    result.append(Plan("twap", None, np.nan, trades_from_holdings(twap_holdings(problem)),
                       np.nan))
    result.append(Plan("ac", None, np.nan, almgren_chriss.optimal_schedule(problem).trades,
                       np.nan))
    return result


def backtest(problem: ExecutionProblem, opens: np.ndarray, planned: np.ndarray) -> Backtest:
    """Trade `planned` on the observed opens (MODEL.md §2 impact on top of the real path).

    The residual X − Σ planned is added to the last trade so that exactly X shares are sold.
    """
    trades = np.array(planned, dtype=float)
    trades[-1] += problem.shares - trades.sum()
    sold_before = np.concatenate([[0.0], np.cumsum(trades)[:-1]])
    permanent_move = problem.side * problem.permanent_impact * sold_before
    reference = opens - permanent_move
    fills = LinearImpact().fill_price(problem, reference, trades, None)
    return Backtest(
        trades=trades, reference=reference, fills=fills,
        shortfall=float(market.implementation_shortfall(problem, trades, fills)),
        timing=float(problem.side * np.sum(trades * (problem.price - opens))),
        spread_cost=problem.half_spread * float(np.sum(np.abs(trades))),
        temporary_cost=problem.temporary_impact / problem.step_length * float(np.sum(trades**2)),
        permanent_cost=float(problem.side * np.sum(trades * permanent_move)))


# ---------------------------------------------------------------------------------------------
# Tables and figures


def local_times(index: pd.DatetimeIndex) -> list[str]:
    return [stamp.strftime("%H:%M") for stamp in index.tz_convert(market_data.EXCHANGE_TIMEZONE)]


def plot_signals(window: pd.DataFrame, signal_frame: pd.DataFrame) -> plt.Figure:
    """Figure 3 analogue: price and the two normalised proxies over the day."""
    steps = np.arange(1, len(window) + 1)
    figure, panels = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    panels[0].plot(steps, window["close"], color="black", label="close")
    panels[0].plot(steps, window["open"], color="grey", linewidth=0.8, label="open")
    panels[0].set_ylabel("price")
    panels[0].legend()
    for axes, column, title in ((panels[1], "ensemble", "ensemble proxy sign(C − O)·V"),
                                (panels[2], "self_alpha", "self-alpha proxy MA3 − MA10")):
        axes.bar(steps, signal_frame[column], color="tab:blue", alpha=0.6)
        axes.axhline(0.0, color="grey", linewidth=0.5)
        axes.set_ylabel("z-score")
        axes.set_title(f"{title} (3-bar mean, z-scored over the window)")
    ticks = steps[::max(1, len(steps) // 8)]
    panels[2].set_xticks(ticks, [local_times(window.index)[k - 1] for k in ticks])
    panels[2].set_xlabel("bar start (America/New_York)")
    return figure


def plot_schedules(schedules: pd.DataFrame) -> plt.Figure:
    """Figure 4 analogue: trades and holdings across γ, both readings, with TWAP and AC."""
    figure, panels = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True)
    baselines = schedules[schedules["inventory"].isna()]
    for column, inventory in enumerate(INVENTORY_READINGS):
        rows = schedules[schedules["inventory"] == inventory]
        for (axes, value) in ((panels[0, column], "trade"), (panels[1, column], "holdings")):
            for coupling, group in rows.groupby("coupling"):
                axes.plot(group["step"], group[value], marker=".", label=f"γ = {coupling:g}")
            for name, group in baselines.groupby("schedule"):
                axes.plot(group["step"], group[value], linestyle="--", label=name)
            axes.legend(fontsize=8)
        panels[0, column].set_title(f"§5.2 penalty QP, {inventory} reading")
        panels[0, column].set_ylabel("shares sold in the bar")
        panels[1, column].set_ylabel("shares still to sell")
        panels[1, column].set_xlabel("bar k")
    return figure


def plot_backtest(results: pd.DataFrame) -> plt.Figure:
    """Realised IS per schedule beside the model's ex-ante E ± 1 std (no drift)."""
    figure, axes = plt.subplots(figsize=(9, 4.5))
    positions = np.arange(len(results))
    axes.barh(positions, results["shortfall_bps"], color="tab:blue", alpha=0.7,
              label="realised on the observed bars")
    axes.errorbar(results["impact_bps"], positions, xerr=results["model_std_bps"], fmt="o",
                  color="black", capsize=3, label="model: expected E ± 1 std")
    axes.set_yticks(positions, results["schedule"])
    axes.invert_yaxis()
    axes.axvline(0.0, color="grey", linewidth=0.5)
    axes.set_xlabel("implementation shortfall, bps of arrival notional (positive: cost)")
    axes.legend(fontsize=8)
    return figure


def frames(window: pd.DataFrame, signal_frame: pd.DataFrame, problem: ExecutionProblem,
           all_plans: list[Plan], tests: list[Backtest]) -> dict[str, pd.DataFrame]:
    """The signals, schedules, fills and backtest tables."""
    steps = np.arange(1, problem.steps + 1)
    signals_table = pd.concat([window, signal_frame], axis=1).reset_index()
    signals_table.insert(0, "step", steps)
    schedule_rows, fill_rows, result_rows = [], [], []
    notional = problem.shares * problem.price
    for plan, test in zip(all_plans, tests):
        label = {"schedule": plan.name, "inventory": plan.inventory, "coupling": plan.coupling}
        holdings = holdings_from_trades(problem.shares, plan.trades)
        schedule_rows.append(pd.DataFrame({**label, "step": steps, "trade": plan.trades,
                                           "holdings": holdings[1:]}))
        fill_rows.append(pd.DataFrame({"schedule": plan.name, "step": steps,
                                       "trade": test.trades, "open": window["open"].to_numpy(),
                                       "reference_price": test.reference,
                                       "fill_price": test.fills}))
        executed = holdings_from_trades(problem.shares, test.trades)
        model_std = float(np.sqrt(shortfall_variance(problem, executed)))
        impact = test.spread_cost + test.temporary_cost + test.permanent_cost
        result_rows.append({
            **label, "paper_objective": plan.objective, "planned_total": plan.trades.sum(),
            "residual": problem.shares - plan.trades.sum(),
            "largest_buy": max(0.0, -float(test.trades.min())),
            "shortfall": test.shortfall, "shortfall_bps": 1e4 * test.shortfall / notional,
            "timing": test.timing, "timing_bps": 1e4 * test.timing / notional,
            "spread_cost": test.spread_cost,
            "temporary_cost": test.temporary_cost, "permanent_cost": test.permanent_cost,
            "impact": impact, "impact_bps": 1e4 * impact / notional,
            "model_std": model_std, "model_std_bps": 1e4 * model_std / notional})
    return {"signals": signals_table,
            "schedules": pd.concat(schedule_rows, ignore_index=True),
            "fills": pd.concat(fill_rows, ignore_index=True),
            "backtest": pd.DataFrame(result_rows)}


# ---------------------------------------------------------------------------------------------
# Report


def schedule_change(schedules: pd.DataFrame, inventory: str, shares: float) -> float:
    """Σ|n(γ=max) − n(γ=0)| / Q: the fraction of the order that γ moves between bars."""
    rows = schedules[schedules["inventory"] == inventory]
    low = rows[rows["coupling"] == COUPLINGS[0]]["trade"].to_numpy()
    high = rows[rows["coupling"] == COUPLINGS[-1]]["trade"].to_numpy()
    return float(np.abs(high - low).sum() / shares)


def describe_run(c: dict, zero_volume: pd.DatetimeIndex) -> list[str]:
    """What was run: data, day, calibration and QP settings (c: the calibration table row)."""
    return [
        "# Paper §5 (real data), reproduced and backtested", "",
        f"**Data:** `{c['source']}` ({c['layout']} layout), regular-session bars. Trading day "
        f"{c['day']}, T = {c['steps']} bars from {c['first_bar']} to {c['last_bar']} "
        f"(America/New_York). Calibration on {c['calibration_sessions']} session(s) "
        f"{c['calibration_first']} to {c['calibration_last']}"
        + (" — **the trading day itself (in-sample: no earlier full session)**."
           if c["in_sample"] else " (before the trading day: out of sample)."),
        *([f"Zero-volume bars kept as they are: {', '.join(str(t) for t in zero_volume)}."]
          if len(zero_volume) else []), "",
        "**Calibration** (time unit one bar, τ = 1; Almgren & Chriss 2000 rules of thumb):", "",
        "| quantity | value |", "|---|---|",
        f"| σ per bar (close-to-close, within sessions) | {c['volatility']:.4f} per share "
        f"({1e4 * c['volatility'] / c['price']:.2f} bps) |",
        f"| daily volume (mean session sum) | {c['daily_volume']:,.0f} shares |",
        f"| spread (assumed; no quotes) | {2 * c['half_spread']:.4f} "
        f"({2e4 * c['half_spread'] / c['price']:.2f} bps); ε = {c['half_spread']:.5f} |",
        f"| η: 1% of daily volume per day costs one spread | {c['temporary_impact']:.4g} "
        "currency·bar/share² |",
        f"| γ: 10% of daily volume moves the price one spread | {c['permanent_impact']:.4g} "
        "currency/share² |",
        f"| order Q, arrival price S_0 (first open) | {c['shares']:,.0f} shares "
        f"({100 * c['shares'] / c['daily_volume']:.2f}% of daily volume), "
        f"{c['arrival_price']:.4f} |",
        f"| λ, AC κT | {c['risk_aversion']:g} per currency, κT = {c['kappa_horizon']:.3f} |",
        f"| QP: κ = η̃, σ², P, signal scale s | {c['trade_cost']:.4g}, {c['variance']:.4g}, "
        f"{c['penalty']:.4g}, {c['signal_scale']:.5f} per share per signal std |"]


def backtest_lines(results: pd.DataFrame) -> list[str]:
    """The backtest table in Markdown."""
    lines = [
        "**Backtest** (realised IS against the first open, positive is a cost; fills at each "
        "bar's open with the calibrated impact; residuals of the penalty form sold in the last "
        "bar; model std: σ·√(Σ x_k²), the spread of one day's IS under the arithmetic model):",
        "",
        "| schedule | IS | IS bps | timing bps | impact bps | model std bps | residual "
        "| paper objective |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {row['schedule']} | {row['shortfall']:,.2f} | {row['shortfall_bps']:.2f} | "
              f"{row['timing_bps']:.2f} | {row['impact_bps']:.2f} | "
              f"{row['model_std_bps']:.2f} | {row['residual']:.3g} | "
              f"{row['paper_objective']:.6g} |" for _, row in results.iterrows()]
    return lines


def findings(shares: float, results: pd.DataFrame, schedules: pd.DataFrame) -> list[str]:
    """What came out, stated from the numbers."""
    by_name = results.set_index("schedule")
    twap, ac = by_name.loc["twap"], by_name.loc["ac"]
    paper = results[results["inventory"].notna()]
    change = {inventory: schedule_change(schedules, inventory, shares)
              for inventory in INVENTORY_READINGS}
    at_zero = {inventory: schedules[(schedules["inventory"] == inventory)
                                    & (schedules["coupling"] == 0.0)]
               for inventory in INVENTORY_READINGS}
    first = {inventory: rows["trade"].iloc[0] for inventory, rows in at_zero.items()}
    last = {inventory: rows["trade"].iloc[-1] for inventory, rows in at_zero.items()}
    held = {inventory: rows["holdings"].mean() for inventory, rows in at_zero.items()}
    buys = paper[paper["largest_buy"] > 0.0]
    timing_dominates = bool((results["timing"].abs() > results["impact"]).all())
    return [
        "**What came out:**",
        f"- γ from {COUPLINGS[0]:g} to {COUPLINGS[-1]:g} moves "
        + " and ".join(f"{100 * change[inventory]:.1f}% ({inventory})"
                       for inventory in INVENTORY_READINGS)
        + " of the order between bars: "
        + ("material" if max(change.values()) >= MATERIAL_FRACTION else "not material")
        + f" by a {100 * MATERIAL_FRACTION:g}% yardstick. Both readings have the same quadratic "
        "part, so γ shifts them identically. The size of the shift is proportional to the "
        "signal scale s, which the paper does not fix in currency.",
        f"- Inventory readings at γ = 0: the printed cumulative reading sells "
        f"{first['cumulative']:,.0f} shares in the first bar and {last['cumulative']:,.0f} in "
        f"the last, the remaining reading {first['remaining']:,.0f} and "
        f"{last['remaining']:,.0f}; mean holdings {held['cumulative']:,.0f} against "
        f"{held['remaining']:,.0f} shares. "
        + ("Penalising executed quantity delays selling, the opposite of AC's risk aversion."
           if held["cumulative"] > held["remaining"] else
           "The two readings hold about the same here (λσ² is small next to κ)."),
        f"- Paper schedules realise {paper['shortfall_bps'].min():.2f} to "
        f"{paper['shortfall_bps'].max():.2f} bps, against TWAP {twap['shortfall_bps']:.2f} bps "
        f"and AC {ac['shortfall_bps']:.2f} bps: "
        f"{int((paper['shortfall'] < twap['shortfall']).sum())} of {len(paper)} beat TWAP and "
        f"{int((paper['shortfall'] < ac['shortfall']).sum())} of {len(paper)} beat AC on this "
        "day.",
        f"- One day is one draw: the model standard deviation of a day's IS is about "
        f"{twap['model_std_bps']:.1f} bps for TWAP, so differences much smaller than that are "
        "not evidence either way. Timing (the observed price path) "
        + ("outweighs" if timing_dominates else "does not always outweigh")
        + " the impact costs; the impact part equals the model's expected shortfall E of the "
        "executed schedule exactly (no drift).",
        *([f"- {len(buys)} paper schedule(s) buy back at some bar (largest buy "
           f"{buys['largest_buy'].max():,.0f} shares): the signal terms can outweigh the "
           "trading cost."] if len(buys) else [])]


CAVEATS = [
    "**Caveats:**",
    "- Look-ahead: the QP sees the whole day's normalised signals at the open, and a bar's "
    "signal uses its own close while its trade fills at its open. The schedules are not "
    "implementable; a gain over TWAP/AC would be an upper bound, a loss is informative.",
    "- Sign convention: the paper's −a_self·x_k − γ·x̄_k·x_k rewards *selling* in bars where "
    "the signals are high (after up-moves, in high-volume up-bars). That is right for a "
    "seller only if high signals precede falling prices (mean reversion); for momentum it is "
    "backwards. The paper's γ is the ensemble coupling here, not AC's permanent impact.",
    "- Costs are rules of thumb with an assumed spread, not measured from quotes; Yahoo "
    "intraday volume understates consolidated volume, which inflates η and γ.",
    "- The QP has no spread term and the penalty form may leave shares unsold (column "
    "residual), which the backtest sells in the last bar.", "",
    "Files: `signals.csv` (Figure 3 data), `schedules.csv` (Figure 4 data), `fills.csv`, "
    "`backtest.csv`, `calibration.csv`; figures `figures/figure3_signals.png`, "
    "`figures/figure4_schedules.png`, `figures/backtest_shortfall.png`."]


def report(calibration_row: dict, results: pd.DataFrame, schedules: pd.DataFrame,
           zero_volume: pd.DatetimeIndex) -> str:
    sections = [describe_run(calibration_row, zero_volume), backtest_lines(results),
                findings(calibration_row["shares"], results, schedules), CAVEATS]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


# ---------------------------------------------------------------------------------------------
# Entry points


def run(bars: pd.DataFrame, out: str | Path, quick: bool = False,
        settings: Settings | None = None, source: str = "bars",
        layout: str = "in memory", athl_exponent: float = 0.6) -> ExperimentOutput:
    """The whole experiment on `bars` (tz-aware, validated); writes tables, figures, report."""
    settings = settings or Settings()
    market_data.validate_bars(bars, source)
    bars = market_data.regular_session_bars(bars)
    if bars.empty:
        raise ParameterError(f"{source}: no regular-session bars (09:30 to 16:00 New York)")
    day = choose_day(bars, settings.day)
    day_bars = bars[market_data.session_dates(bars) == day]
    steps = settings.steps or (min(QUICK_STEPS, len(day_bars)) if quick else len(day_bars))
    if steps > len(day_bars):
        raise ParameterError(f"steps = {steps} exceeds the {len(day_bars)} bars of {day}")
    window = day_bars.iloc[:steps]
    history, in_sample = calibration_bars(bars, day)
    calibration = market_data.calibrate(history, spread=settings.spread,
                                        spread_bps=settings.spread_bps)
    shares = settings.shares or float(round(VOLUME_FRACTION * calibration.daily_volume))
    problem = calibration.execution_problem(shares, steps, settings.risk_aversion,
                                            price=float(window["open"].iloc[0]))
    signal_frame = market_data.signals(window)
    scale = calibration.half_spread if settings.signal_scale is None else settings.signal_scale
    all_plans = plans(problem, scale * signal_frame["self_alpha"].to_numpy(),
                      scale * signal_frame["ensemble"].to_numpy(), settings.penalty)
    tests = [backtest(problem, window["open"].to_numpy(), plan.trades) for plan in all_plans]
    tables = frames(window, signal_frame, problem, all_plans, tests)
    parameters = paper_parameters(problem, settings.penalty, INVENTORY_READINGS[0])
    history_dates = sorted(set(market_data.session_dates(history)))
    calibration_row = {
        "source": source, "layout": layout, "day": str(day), "steps": steps,
        "first_bar": local_times(window.index)[0], "last_bar": local_times(window.index)[-1],
        "calibration_sessions": len(history_dates), "calibration_first": str(history_dates[0]),
        "calibration_last": str(history_dates[-1]), "in_sample": in_sample,
        "volatility": calibration.volatility, "half_spread": calibration.half_spread,
        "temporary_impact": calibration.temporary_impact,
        "permanent_impact": calibration.permanent_impact,
        "daily_volume": calibration.daily_volume, "bars_per_day": calibration.bars_per_day,
        "price": calibration.price, "shares": shares, "arrival_price": problem.price,
        "risk_aversion": problem.risk_aversion,
        "kappa_horizon": almgren_chriss.kappa(problem) * problem.horizon,
        "trade_cost": parameters.trade_cost, "variance": parameters.variance,
        "penalty": parameters.penalty, "signal_scale": scale}
    athl = market_data.athl_impact(history, athl_exponent, volatility=calibration.volatility,
                                   daily_volume=calibration.daily_volume,
                                   bars_per_day=calibration.bars_per_day)
    calibration_row.update({
        "athl_exponent": athl.exponent, "athl_coefficient": athl.coefficient,
        "athl_daily_volatility": athl.daily_volatility,
        "athl_cost_per_share_at_twap": athl.cost_per_share(shares / steps),
        "linear_cost_per_share_at_twap": calibration.temporary_impact * shares / steps})
    output = ExperimentOutput(out)
    output.table("calibration", pd.DataFrame([calibration_row]))
    for name, frame in tables.items():
        output.table(name, frame)
    output.figure("figure3_signals", plot_signals(window, signal_frame))
    output.figure("figure4_schedules", plot_schedules(tables["schedules"]))
    output.figure("backtest_shortfall", plot_backtest(tables["backtest"]))
    output.report(report(calibration_row, tables["backtest"], tables["schedules"],
                         market_data.zero_volume_bars(window)))
    return output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "results/paper-real", 1,
                         episodes_help="unused: the backtest is one real day, not a Monte Carlo "
                                       "run (accepted for a uniform interface)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="bar file: a CSV with header, a headerless vendor file "
                                      "(FirstRate) or a yfinance CSV (detected automatically)")
    source.add_argument("--download", metavar="TICKER",
                        help="fetch 5 days of 5-minute bars with yfinance (pip install "
                             "'acsim[data]'); the file is saved in --out")
    parser.add_argument("--naive-timezone", default=market_data.EXCHANGE_TIMEZONE,
                        help="time zone of timestamps without a UTC offset "
                             "(default America/New_York)")
    parser.add_argument("--day", help="trading day YYYY-MM-DD (default: the last full session)")
    parser.add_argument("--steps", type=int, default=None,
                        help="bars to trade from the open (default: the whole session)")
    parser.add_argument("--shares", type=float, default=None,
                        help="order size Q (default 1%% of the calibrated daily volume)")
    parser.add_argument("--risk-aversion", type=float, default=Settings.risk_aversion,
                        help="λ per currency for AC and the QP (default 1e-8)")
    parser.add_argument("--penalty", type=float, default=None,
                        help="§5.2 penalty P, currency per share² (default 1000·κ)")
    parser.add_argument("--signal-scale", type=float, default=None,
                        help="currency per share per signal standard deviation "
                             "(default: the half spread ε)")
    parser.add_argument("--spread", type=float, default=None,
                        help="full bid-ask spread, currency (default --spread-bps of price)")
    parser.add_argument("--spread-bps", type=float, default=market_data.DEFAULT_SPREAD_BPS,
                        help="assumed spread in bps of price when --spread is not given "
                             "(default 1)")
    parser.add_argument("--athl-exponent", type=float, default=0.6,
                        help="β of the ATHL power-law impact reported beside the rules of "
                             "thumb in calibration.csv (default 0.6)")


def parse_day(text: str | None) -> datetime.date | None:
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--day must be a date YYYY-MM-DD, got {text!r}") from None


def main(args: argparse.Namespace) -> list[Path]:
    settings = Settings(day=parse_day(args.day), steps=args.steps, shares=args.shares,
                        risk_aversion=args.risk_aversion, penalty=args.penalty,
                        signal_scale=args.signal_scale, spread=args.spread,
                        spread_bps=args.spread_bps)
    if args.download:
        path = market_data.download_bars(args.download,
                                         Path(args.out) / f"{args.download}_5m.csv")
    else:
        path = Path(args.csv)
    bars = market_data.load_bars(path, naive_timezone=args.naive_timezone)
    return run(bars, args.out, args.quick, settings, str(path),
               market_data.detect_layout(path), args.athl_exponent).written
