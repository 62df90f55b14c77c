"""The real-data experiment end to end: experiments.paper_real.

Oracles: the saved tables themselves, recomputed here by independent formulas: the §5.2
objective Σ(κx² + λσ²I² − (a_self + γx̄)·x) + P(Σx − Q)² from the saved trades and signals;
the implementation shortfall X·S_0 − Σ n·fill from the saved fills; the fill rule of
MODEL.md §2 on the saved opens; the cost identity "realised impact = the model's expected
shortfall E" (MODEL.md §3, no drift); and classical AC as the limit of the remaining reading
with no signal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acsim.experiments import paper_real
from acsim.experiments.paper_real import Settings, run
from acsim.simulator import market_data
from acsim.strategies.costs import holdings_from_trades, schedule_cost
from acsim.strategies.errors import AcsimError, ParameterError
from acsim.strategies.parameters import ExecutionProblem
from tests.bars import FIRSTRATE, YAHOO, simulated_bars, write_headerless

FIGURES = ("figure3_signals.png", "figure4_schedules.png", "backtest_shortfall.png")
TABLES = ("calibration", "signals", "schedules", "fills", "backtest")


def read(directory: Path) -> dict[str, pd.DataFrame | dict]:
    tables = {name: pd.read_csv(directory / f"{name}.csv") for name in TABLES}
    tables["calibration"] = tables["calibration"].iloc[0].to_dict()
    return tables


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict:
    """Three simulated sessions, the last traded in full (78 bars)."""
    out = tmp_path_factory.mktemp("paper-real")
    written = run(simulated_bars(sessions=3, volatility=0.1, volume=2e4, seed=5), out).written
    return {"out": out, "written": written, **read(out)}


def problem_of(calibration: dict) -> ExecutionProblem:
    return ExecutionProblem(
        shares=calibration["shares"], horizon=float(calibration["steps"]),
        steps=int(calibration["steps"]), price=calibration["arrival_price"],
        volatility=calibration["volatility"], half_spread=calibration["half_spread"],
        temporary_impact=calibration["temporary_impact"],
        permanent_impact=calibration["permanent_impact"],
        risk_aversion=calibration["risk_aversion"])


def check_outputs(result: dict, steps: int) -> None:
    """Files, schedule sums, objectives, fills and shortfalls of one run's directory."""
    out, calibration = result["out"], result["calibration"]
    for name in FIGURES:
        assert (out / "figures" / name).stat().st_size > 0
    for name in TABLES:
        assert (out / f"{name}.parquet").exists()
    assert "Caveats" in (out / "report.md").read_text()
    assert len(result["signals"]) == steps and calibration["steps"] == steps
    shares = calibration["shares"]
    signals, schedules, backtest = result["signals"], result["schedules"], result["backtest"]
    assert len(backtest) == 8  # 2 readings × 3 couplings, TWAP, AC
    scale = calibration["signal_scale"]
    for _, row in backtest.iterrows():
        trades = schedules[schedules["schedule"] == row["schedule"]]["trade"].to_numpy()
        assert len(trades) == steps
        if pd.isna(row["inventory"]):  # TWAP and AC: exactly Q
            assert trades.sum() == pytest.approx(shares, rel=1e-12)
            continue
        # Penalty form: Σx ≈ Q (the penalty is 1000 κ by default).
        assert abs(trades.sum() - shares) < 1e-3 * shares
        assert row["residual"] == pytest.approx(shares - trades.sum(), abs=1e-6)
        executed = np.cumsum(trades)
        inventory = executed if row["inventory"] == "cumulative" else shares - executed
        linear = scale * (signals["self_alpha"].to_numpy()
                          + row["coupling"] * signals["ensemble"].to_numpy())
        objective = (np.sum(calibration["trade_cost"] * trades**2
                            + calibration["risk_aversion"] * calibration["variance"]
                            * inventory**2 - linear * trades)
                     + calibration["penalty"] * (trades.sum() - shares) ** 2)
        assert row["paper_objective"] == pytest.approx(objective, rel=1e-9, abs=1e-9)
    problem = problem_of(calibration)
    opens = signals["open"].to_numpy()
    assert calibration["arrival_price"] == opens[0]
    for _, row in backtest.iterrows():
        fills = result["fills"][result["fills"]["schedule"] == row["schedule"]]
        n, fill = fills["trade"].to_numpy(), fills["fill_price"].to_numpy()
        assert n.sum() == pytest.approx(shares, rel=1e-12)  # residual sold in the last bar
        shortfall = shares * opens[0] - np.sum(n * fill)
        assert row["shortfall"] == pytest.approx(shortfall, rel=1e-9)
        assert row["shortfall_bps"] == pytest.approx(1e4 * shortfall / (shares * opens[0]))
        sold_before = np.concatenate([[0.0], np.cumsum(n)[:-1]])
        reference = opens - calibration["permanent_impact"] * sold_before
        expected_fill = (reference - calibration["half_spread"] * np.sign(n)
                         - calibration["temporary_impact"] * n)
        np.testing.assert_allclose(fill, expected_fill, rtol=1e-13)
        parts = row[["timing", "spread_cost", "temporary_cost", "permanent_cost"]].sum()
        assert parts == pytest.approx(row["shortfall"], rel=1e-9)
        impact = row[["spread_cost", "temporary_cost", "permanent_cost"]].sum()
        assert row["impact"] == pytest.approx(impact, rel=1e-12)
        model = schedule_cost(problem, holdings_from_trades(shares, n)).expected_shortfall
        assert impact == pytest.approx(model, rel=1e-9)


def test_synthetic_run_writes_everything_and_the_tables_are_consistent(synthetic):
    assert {path.name for path in synthetic["written"]} >= {
        "report.md", *FIGURES, *(f"{name}.csv" for name in TABLES)}
    check_outputs(synthetic, 78)
    calibration = synthetic["calibration"]
    assert calibration["calibration_sessions"] == 2 and not calibration["in_sample"]
    assert calibration["day"] == str(simulated_bars(sessions=3).index[-1].date())
    assert calibration["shares"] == round(0.01 * 78 * 2e4)
    assert calibration["signal_scale"] == calibration["half_spread"]
    assert calibration["penalty"] == pytest.approx(1000 * calibration["trade_cost"])


def test_gamma_moves_both_readings_by_the_same_amount(synthetic):
    """Both readings share the QP's quadratic part, so x(γ) − x(0) is the same for both."""
    schedules = synthetic["schedules"]

    def shift(inventory):
        rows = schedules[schedules["inventory"] == inventory]
        return (rows[rows["coupling"] == 1.0]["trade"].to_numpy()
                - rows[rows["coupling"] == 0.0]["trade"].to_numpy())

    assert np.abs(shift("cumulative")).max() > 0.0
    np.testing.assert_allclose(shift("cumulative"), shift("remaining"), rtol=0,
                               atol=1e-6 * synthetic["calibration"]["shares"])


def test_without_signals_the_remaining_reading_is_classical_ac(tmp_path):
    """Signal scale 0: the remaining reading is AC with τ = 1 (up to the penalty residual)."""
    bars = simulated_bars(sessions=2, volatility=0.3, volume=2e4, seed=9)
    run(bars, tmp_path, settings=Settings(signal_scale=0.0, risk_aversion=1e-6))
    schedules = pd.read_csv(tmp_path / "schedules.csv")
    ac = schedules[schedules["schedule"] == "ac"]["trade"].to_numpy()
    assert ac[0] > 2 * ac[-1]  # κT well above 1: visibly front-loaded
    for coupling in (0.0, 0.5, 1.0):
        rows = schedules[(schedules["inventory"] == "remaining")
                         & (schedules["coupling"] == coupling)]
        np.testing.assert_allclose(rows["trade"].to_numpy(), ac, rtol=0, atol=1e-3 * ac.max())


def test_quick_day_steps_and_in_sample_calibration(tmp_path):
    bars = simulated_bars(sessions=2, seed=2)
    first_day = bars.index[0].date()
    run(bars, tmp_path / "quick", quick=True)
    assert len(pd.read_csv(tmp_path / "quick" / "signals.csv")) == paper_real.QUICK_STEPS
    run(bars, tmp_path / "first", settings=Settings(day=first_day, steps=10, shares=500.0))
    calibration = read(tmp_path / "first")["calibration"]
    assert calibration["in_sample"] and calibration["calibration_first"] == str(first_day)
    assert (calibration["steps"], calibration["shares"]) == (10, 500.0)
    assert "in-sample" in (tmp_path / "first" / "report.md").read_text()


@pytest.mark.parametrize("settings,message", [
    (Settings(steps=79), "steps = 79 exceeds the 78 bars of"),
    (Settings(day=pd.Timestamp("2021-08-07").date()), "day 2021-08-07 is not a session"),
])
def test_run_rejects_bad_choices(tmp_path, settings, message):
    with pytest.raises(ParameterError, match=message):
        run(simulated_bars(sessions=2), tmp_path, settings=settings)


@pytest.mark.parametrize("field,value", [("steps", 0), ("shares", -1.0), ("penalty", 0.0),
                                         ("signal_scale", -1.0), ("risk_aversion", -1e-8),
                                         ("spread", -0.01), ("spread_bps", float("nan")),
                                         ("day", "2021-08-02")])
def test_settings_reject_bad_values_by_name(field, value):
    with pytest.raises(ParameterError, match=f"^{field} must"):
        Settings(**{field: value})


def test_no_full_session_needs_a_day(tmp_path):
    bars = simulated_bars(sessions=1).iloc[:-1]
    with pytest.raises(ParameterError, match="no full regular session"):
        run(bars, tmp_path)
    run(bars, tmp_path, quick=True, settings=Settings(day=bars.index[0].date()))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    paper_real.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_line_entry_point(tmp_path):
    path = write_headerless(tmp_path / "bars.txt", simulated_bars(sessions=2, seed=4))
    out = tmp_path / "out"
    written = paper_real.main(parse(["--csv", str(path), "--out", str(out), "--quick",
                                     "--shares", "1000", "--spread", "0.02"]))
    assert out / "report.md" in written
    calibration = read(out)["calibration"]
    assert calibration["layout"] == "headerless" and calibration["shares"] == 1000.0
    assert calibration["half_spread"] == 0.01
    with pytest.raises(ParameterError, match="--day must be a date YYYY-MM-DD"):
        paper_real.main(parse(["--csv", str(path), "--out", str(out), "--day", "13/08/2021"]))
    with pytest.raises(SystemExit):  # --csv or --download is required
        parse(["--out", str(out)])


def test_download_without_yfinance_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)
    with pytest.raises(AcsimError, match="acsim\\[data\\]"):
        paper_real.main(parse(["--download", "AAPL", "--out", str(tmp_path)]))


@pytest.mark.parametrize("path,sessions", [(FIRSTRATE, 9), (YAHOO, 4)])
def test_real_files_end_to_end(tmp_path, path, sessions):
    if not path.exists():
        pytest.skip(f"{path.name} not present")
    run(market_data.load_bars(path), tmp_path, source=str(path))
    result = {"out": tmp_path, **read(tmp_path)}
    check_outputs(result, 78)
    calibration = result["calibration"]
    assert calibration["calibration_sessions"] == sessions and not calibration["in_sample"]
    assert calibration["first_bar"] == "09:30" and calibration["last_bar"] == "15:55"
    assert calibration["bars_per_day"] == 78


def test_athl_impact_is_reported_beside_the_rules_of_thumb(synthetic):
    """calibration.csv: η_p = 0.142·σ_day/(V_day/B)^0.6 with σ_day = σ_bar·√B (price units),
    and the temporary cost per share of both calibrations at the order's TWAP rate Q/T."""
    c = synthetic["calibration"]
    bars = c["bars_per_day"]
    assert c["athl_exponent"] == 0.6
    assert c["athl_daily_volatility"] == pytest.approx(c["volatility"] * np.sqrt(bars), rel=1e-12)
    rate = c["shares"] / c["steps"]
    expected = 0.142 * c["athl_daily_volatility"] * (rate * bars / c["daily_volume"]) ** 0.6
    assert c["athl_cost_per_share_at_twap"] == pytest.approx(expected, rel=1e-12)
    assert c["athl_coefficient"] * rate**0.6 == pytest.approx(expected, rel=1e-12)
    assert c["linear_cost_per_share_at_twap"] == pytest.approx(c["temporary_impact"] * rate,
                                                               rel=1e-12)
