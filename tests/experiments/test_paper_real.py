"""The real-data experiment end to end: experiments.paper_real.

Oracles: the saved tables, recomputed here by independent formulas: the implementation
shortfall X·S_0 − Σ n·fill with the fill rule of MODEL.md §2 on the observed opens; the
paired comparisons (same-day differences, Student-t interval over days) and every verdict
from daily.csv with the rule written here; causality by a metamorphic test (bars at and
after a trade's bar, and later sessions, are perturbed: no trade up to that bar changes);
the expanding calibration window (nothing of the day itself enters it).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from acsim.experiments import paper_real
from acsim.experiments.paper_real import Settings, run
from acsim.simulator import market_data
from acsim.strategies.errors import AcsimError, ParameterError
from tests.bars import FIRSTRATE, YAHOO, simulated_bars, write_headerless
from tests.oracles import verdict_rule

FIGURES = ("figure3_cost_vs_gamma.png", "figure4_schedules.png")
TABLES = ("calibration", "daily", "paired", "schedules", "signals", "verdicts")
VARIANTS = ("with auctions, calibrated units", "with auctions, paper units",
            "no auctions, calibrated units", "no auctions, paper units")
SCHEDULES = 2 * 3 + 2  # two readings × three couplings, TWAP, AC


def read(directory: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(directory / f"{name}.csv") for name in TABLES}


def noisy_bars(sessions: int, seed: int) -> pd.DataFrame:
    bars = simulated_bars(sessions=sessions, volatility=0.1, volume=2e4, seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    bars["volume"] = 2e4 * (0.5 + rng.random(len(bars)))
    return bars


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict:
    """Four simulated sessions: three trading days, 78 bars each, every variant."""
    out = tmp_path_factory.mktemp("paper-real")
    bars = noisy_bars(4, seed=5)
    written = run(bars, out).written
    return {"out": out, "written": written, "bars": bars, **read(out)}


def my_interval(values: np.ndarray) -> tuple[float, float, float]:
    mean, std = values.mean(), values.std(ddof=1)
    half = student_t.ppf(0.975, len(values) - 1) * std / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_outputs_exist_for_every_day_variant_and_schedule(synthetic):
    assert {path.name for path in synthetic["written"]} >= {
        "report.md", *FIGURES, *(f"{name}.csv" for name in TABLES)}
    daily = synthetic["daily"]
    assert set(daily["variant"]) == set(VARIANTS)
    assert len(daily) == len(VARIANTS) * 3 * SCHEDULES
    days = market_data.full_sessions(synthetic["bars"])
    assert sorted(set(daily["day"])) == [str(day) for day in days[1:]]
    calibration = synthetic["calibration"]
    assert list(calibration[calibration["variant"] == VARIANTS[0]]["calibration_sessions"]) == [
        1, 2, 3]
    steps = calibration.set_index("variant")["steps"]
    assert (steps[list(VARIANTS[:2])] == 78).all() and (steps[list(VARIANTS[2:])] == 76).all()
    report = (synthetic["out"] / "report.md").read_text()
    for row in synthetic["verdicts"].itertuples():
        if row.variant == VARIANTS[0]:
            assert f"| {row.claim} | {row.section} |" in report
    assert "Corwin-Schultz" in report


def test_shortfall_is_recomputed_from_the_schedules_and_the_observed_opens(synthetic):
    bars, daily, schedules = synthetic["bars"], synthetic["daily"], synthetic["schedules"]
    calibration = synthetic["calibration"].set_index(["variant", "day"])
    local = bars.index.tz_convert("America/New_York")
    for row in daily.sample(40, random_state=1).itertuples():
        trades = schedules[(schedules["variant"] == row.variant) & (schedules["day"] == row.day)
                           & (schedules["schedule"] == row.schedule)]
        on_day = bars[np.asarray(local.date.astype(str) == row.day)]
        times = on_day.index.tz_convert("America/New_York").strftime("%H:%M")
        opens = on_day["open"].to_numpy()[np.isin(times, trades["bar"].to_numpy())]
        n = trades["trade"].to_numpy()
        assert n.sum() == pytest.approx(row.shares, rel=1e-9)  # every order completes
        c = calibration.loc[(row.variant, row.day)]
        sold_before = np.concatenate([[0.0], np.cumsum(n)[:-1]])
        fills = (opens - c["permanent_impact"] * sold_before - 0.5 * c["spread"] * np.sign(n)
                 - c["temporary_impact"] * n)
        shortfall = row.shares * opens[0] - np.sum(n * fills)
        assert row.shortfall == pytest.approx(shortfall, rel=1e-9, abs=1e-6)
        assert row.shortfall_bps == pytest.approx(1e4 * shortfall / (row.shares * opens[0]))
        assert row.arrival_price == opens[0]


def test_paired_table_and_every_verdict_recomputed_from_daily(synthetic):
    daily, paired, verdicts = synthetic["daily"], synthetic["paired"], synthetic["verdicts"]
    for row in paired.itertuples():
        table = daily[daily["variant"] == row.variant].pivot_table(
            index="day", columns="schedule", values=row.quantity)
        mean, low, high = my_interval((table[row.schedule] - table[row.reference]).to_numpy())
        assert (row.mean, row.low, row.high) == pytest.approx((mean, low, high), rel=1e-9,
                                                              abs=1e-9)
    for row in verdicts.itertuples():
        assert row.verdict == verdict_rule(row.low, row.high, row.claimed_sign), row.claim
        if row.section != "§5.3":
            continue
        reading = "cumulative" if "cumulative" in row.claim else "remaining"
        base = f"paper/{reading}/γ=0"
        reference = ("twap" if "TWAP" in row.claim else "ac" if "classical AC" in row.claim
                     else base)
        quantity = "objective" if "objective" in row.claim else "shortfall_bps"
        table = daily[daily["variant"] == row.variant].pivot_table(
            index="day", columns="schedule", values=quantity)
        mean, low, high = my_interval((table[f"paper/{reading}/γ=1"] - table[reference])
                                      .to_numpy())
        assert (row.value, row.low, row.high) == pytest.approx((mean, low, high), rel=1e-9)
    signals = synthetic["signals"]
    for row in verdicts[verdicts["section"] == "§5.1/§5.3"].itertuples():
        chosen = signals[signals["variant"] == row.variant]
        r = np.corrcoef(chosen["predicted_fall"], chosen["realised_fall"])[0, 1]
        half = 1.959963984540054 / math.sqrt(len(chosen) - 3)
        assert (row.value, row.low, row.high) == pytest.approx(
            (r, math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)), rel=1e-9)


def test_model_paired_std_is_sigma_times_the_holdings_distance(synthetic):
    daily, schedules = synthetic["daily"], synthetic["schedules"]
    calibration = synthetic["calibration"].set_index(["variant", "day"])
    row = daily[(daily["schedule"] == "paper/remaining/γ=1")].iloc[0]
    holdings = schedules[(schedules["variant"] == row["variant"])
                         & (schedules["day"] == row["day"])].pivot_table(
        index="step", columns="schedule", values="holdings")
    sigma = calibration.loc[(row["variant"], row["day"]), "volatility"]
    distance = np.sqrt(np.sum((holdings["paper/remaining/γ=1"]
                               - holdings["paper/remaining/γ=0"]) ** 2))
    assert row["paired_std_bps"] == pytest.approx(
        1e4 * sigma * distance / (row["shares"] * row["arrival_price"]), rel=1e-9)


@pytest.mark.parametrize("exclude_auctions,units,bar", [(False, "calibrated", 1),
                                                        (False, "calibrated", 30),
                                                        (True, "paper", 12)])
def test_no_trade_uses_its_own_bar_or_any_later_one(exclude_auctions, units, bar):
    """Perturb every bar of the day from bar `bar` on (prices and volume) and every later
    session: the trades n_1..n_bar of every schedule are unchanged; later ones may move."""
    bars = noisy_bars(4, seed=8)
    days = market_data.full_sessions(bars)
    day, history = days[2], days[:2]
    rng = np.random.default_rng(np.random.SeedSequence(99))
    changed = bars.copy()
    dates = market_data.session_dates(bars)
    window = paper_real.tradable(bars[dates == day], exclude_auctions)
    later = (bars.index >= window.index[bar - 1])
    jump = rng.normal(0.0, 2.0, size=later.sum())
    for column in ("open", "high", "low", "close"):
        changed.loc[later, column] = bars.loc[later, column] + jump
    changed.loc[later, "volume"] = bars.loc[later, "volume"] * (1.0 + rng.random(later.sum()))
    settings = Settings()
    before = paper_real.day_schedules(paper_real.prepare_day(
        bars, day, history, settings, exclude_auctions, units))
    after = paper_real.day_schedules(paper_real.prepare_day(
        changed, day, history, settings, exclude_auctions, units))
    moved = 0.0
    for name in before:
        np.testing.assert_array_equal(before[name][:bar], after[name][:bar], err_msg=name)
        moved = max(moved, float(np.abs(before[name] - after[name]).max()))
    assert moved > 0.0  # the perturbation is seen by later trades: the test can fail


def test_quick_run_and_settings(tmp_path):
    bars = noisy_bars(5, seed=2)
    run(bars, tmp_path / "quick", quick=True)
    daily = pd.read_csv(tmp_path / "quick" / "daily.csv")
    assert set(daily["steps"]) == {paper_real.QUICK_STEPS}
    assert len(set(daily["day"])) == paper_real.QUICK_DAYS
    run(bars, tmp_path / "paper", settings=Settings(days=1, steps=10, units="paper",
                                                      exclude_auctions=True, spread=0.02))
    calibration = pd.read_csv(tmp_path / "paper" / "calibration.csv")
    paper_rows = calibration[calibration["variant"].str.endswith("paper units")]
    assert (paper_rows["shares"] == 1000.0).all() and (paper_rows["trade_cost"] == 1.0).all()
    assert (paper_rows["risk_aversion"] == 0.1).all()
    assert np.allclose(calibration["spread"], 0.02)
    report = (tmp_path / "paper" / "report.md").read_text()
    assert "**Headline variant:** no auctions, paper units." in report


@pytest.mark.parametrize("field,value", [("steps", 0), ("days", 0), ("shares", -1.0),
                                         ("risk_aversion", -1e-8), ("spread", -0.01),
                                         ("units", "dollars"), ("exclude_auctions", "yes")])
def test_settings_reject_bad_values_by_name(field, value):
    with pytest.raises(ParameterError, match=f"^{field} must"):
        Settings(**{field: value})


def test_too_little_data_is_a_named_error(tmp_path):
    with pytest.raises(ParameterError, match="at least two full regular sessions"):
        run(simulated_bars(sessions=1), tmp_path)
    with pytest.raises(ParameterError, match="steps = 79 exceeds the 78 tradable bars"):
        run(noisy_bars(2, seed=1), tmp_path, settings=Settings(steps=79))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    paper_real.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_line_entry_point(tmp_path):
    path = write_headerless(tmp_path / "bars.txt", noisy_bars(3, seed=4))
    out = tmp_path / "out"
    written = paper_real.main(parse(["--csv", str(path), "--out", str(out), "--quick",
                                     "--shares", "1000", "--exclude-auctions"]))
    assert out / "report.md" in written
    calibration = pd.read_csv(out / "calibration.csv")
    assert (calibration[calibration["variant"].str.endswith("calibrated units")]["shares"]
            == 1000.0).all()
    assert "**Headline variant:** no auctions, calibrated units." in (out / "report.md").read_text()
    with pytest.raises(SystemExit):  # --csv or --download is required
        parse(["--out", str(out)])
    with pytest.raises(SystemExit):
        parse(["--csv", str(path), "--units", "dollars"])


def test_download_without_yfinance_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)
    with pytest.raises(AcsimError, match="acsim\\[data\\]"):
        paper_real.main(parse(["--download", "AAPL", "--out", str(tmp_path)]))


@pytest.mark.parametrize("path,days", [(FIRSTRATE, 9), (YAHOO, 4)])
def test_real_files_every_session_out_of_sample(tmp_path, path, days):
    if not path.exists():
        pytest.skip(f"{path.name} not present")
    run(market_data.load_bars(path), tmp_path, source=str(path))
    tables = read(tmp_path)
    calibration = tables["calibration"]
    head = calibration[calibration["variant"] == VARIANTS[0]]
    assert len(head) == days and list(head["calibration_sessions"]) == list(range(1, days + 1))
    assert (head["first_bar"] == "09:30").all() and (head["last_bar"] == "15:55").all()
    cut = calibration[calibration["variant"] == VARIANTS[2]]
    assert (cut["first_bar"] == "09:35").all() and (cut["last_bar"] == "15:50").all()
    assert ((head["spread_bps"] > 0.1) & (head["spread_bps"] < 20.0)).all()  # estimated
    assert len(tables["verdicts"]) == len(VARIANTS) * 9


def test_athl_impact_is_reported_beside_the_rules_of_thumb(synthetic):
    """calibration.csv: ATHL (2005) in price units, η_p = 0.142·σ_day/(V_day/B)^0.6 with
    σ_day = σ_bar·√B (B = 78 five-minute bars a day), and the temporary cost per share of both
    calibrations at the order's TWAP rate Q/T, written out from the table's own columns."""
    calibration = synthetic["calibration"]
    assert len(calibration) > 0
    for row in calibration.itertuples():
        rate = row.shares / row.steps
        daily_volatility = row.volatility * np.sqrt(78)
        expected = 0.142 * daily_volatility * (rate * 78 / row.daily_volume) ** 0.6
        assert row.athl_exponent == 0.6
        assert row.athl_cost_per_share_at_twap == pytest.approx(expected, rel=1e-12)
        assert row.athl_coefficient * rate**0.6 == pytest.approx(expected, rel=1e-12)
        assert row.linear_cost_per_share_at_twap == pytest.approx(row.temporary_impact * rate,
                                                                  rel=1e-12)
