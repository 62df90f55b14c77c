"""Intraday bars, calibration and signals: experiments.market_data.

Oracles: synthetic files written here in each of the three layouts from a known bar
table; the counts stated in ../shared/data/PROVENANCE.md for the real files (skipped
when absent); an arithmetic random walk simulated here with known σ and volume; the
Almgren & Chriss (2000) rules of thumb stated as price effects; the signals recomputed
with plain loops.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pandas as pd
import pytest

from acsim.simulator import market_data
from acsim.simulator.market_data import Calibration, calibrate, load_bars
from acsim.strategies.errors import AcsimError, ParameterError
from acsim.strategies.impact import LinearImpact
from tests.bars import (
    FIRSTRATE,
    NEW_YORK,
    YAHOO,
    simulated_bars,
    write_header,
    write_headerless,
    write_yfinance,
)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return simulated_bars(sessions=2, bars_per_session=6)


# ---------------------------------------------------------------------------------------------
# Layouts and time zones


def test_headerless_layout_loads_naive_new_york_times(tmp_path, bars):
    path = write_headerless(tmp_path / "vendor.txt", bars)
    assert market_data.detect_layout(path) == "headerless"
    loaded = load_bars(path)
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False, check_index_type=False)
    assert str(loaded.index.tz) == NEW_YORK
    assert list(loaded.columns) == ["open", "high", "low", "close", "volume"]


def test_yfinance_layout_with_shuffled_columns_converts_utc_to_new_york(tmp_path, bars):
    path = write_yfinance(tmp_path / "yf.csv", bars, ["volume", "low", "close", "open", "high"])
    assert market_data.detect_layout(path) == "yfinance"
    loaded = load_bars(path)
    np.testing.assert_allclose(loaded.to_numpy(), bars.to_numpy(), rtol=1e-15)
    assert (loaded.index == bars.index).all()
    assert loaded.index[0].strftime("%H:%M %z") == "09:30 -0400"  # August: EDT


def test_header_layout_any_case_any_order_extra_columns_ignored(tmp_path, bars):
    names = {"volume": "VOLUME", "close": "close", "time": "Timestamp", "high": "High",
             "open": "oPeN", "low": "Low"}
    path = write_header(tmp_path / "plain.csv", bars, names)
    frame = pd.read_csv(path)
    frame["Adj Close"] = 1.0
    frame.to_csv(path, index=False)
    assert market_data.detect_layout(path) == "header"
    pd.testing.assert_frame_equal(load_bars(path), bars, check_freq=False,
                                  check_index_type=False)


@pytest.mark.parametrize("utc_open,month", [("14:30", 2), ("13:30", 7)])
def test_dst_utc_input_maps_to_0930_new_york(tmp_path, utc_open, month):
    """09:30 New York is 14:30 UTC in winter (EST) and 13:30 UTC in summer (EDT)."""
    stamp = f"2021-{month:02d}-10 {utc_open}:00+00:00"
    path = tmp_path / "utc.csv"
    path.write_text(f"Datetime,Open,High,Low,Close,Volume\n{stamp},10,11,9,10,5\n")
    loaded = load_bars(path)
    assert loaded.index[0].strftime("%H:%M") == "09:30"
    assert loaded.index[0] == pd.Timestamp(stamp)


def test_naive_timezone_parameter_and_output_timezone(tmp_path):
    """A naive 16:00 is after the close in New York but 12:00 New York if it was UTC."""
    path = tmp_path / "naive.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2021-08-02 16:00:00,10,11,9,10,5\n")
    with pytest.raises(ParameterError, match="no bars left after the regular-hours filter"):
        load_bars(path)
    as_utc = load_bars(path, naive_timezone="UTC")
    assert as_utc.index[0] == pd.Timestamp("2021-08-02 12:00", tz=NEW_YORK)
    in_utc = load_bars(path, timezone="UTC", naive_timezone="UTC")
    assert str(in_utc.index.tz) == "UTC" and in_utc.index[0].hour == 16


def test_regular_hours_filter_keeps_0930_to_1555(tmp_path):
    times = ["04:00", "09:25", "09:30", "12:00", "15:55", "16:00", "19:55"]
    rows = [f"2021-08-02 {time}:00,10,11,9,10,5" for time in times]
    path = tmp_path / "extended.txt"
    path.write_text("\n".join(rows) + "\n")
    regular = load_bars(path)
    assert list(regular.index.strftime("%H:%M")) == ["09:30", "12:00", "15:55"]
    assert len(load_bars(path, regular_hours=False)) == len(times)


def test_zero_volume_bars_are_kept_and_listed(tmp_path, bars):
    quiet = bars.copy()
    quiet.iloc[2, quiet.columns.get_loc("volume")] = 0.0
    loaded = load_bars(write_headerless(tmp_path / "quiet.txt", quiet))
    assert len(loaded) == len(bars)
    assert list(market_data.zero_volume_bars(loaded)) == [bars.index[2]]


# ---------------------------------------------------------------------------------------------
# Bad input: every failure names the column, timestamp or parameter at fault

HEADER = "Datetime,Open,High,Low,Close,Volume"
GOOD = ["2021-08-02 09:30:00,10,11,9,10.5,100", "2021-08-02 09:35:00,10.5,11,10,10.8,200",
        "2021-08-02 09:40:00,10.8,11.2,10.1,11,300"]


def replace_field(row: int, column: int, value: str) -> list[str]:
    rows = [line.split(",") for line in GOOD]
    rows[row][column] = value
    return [",".join(fields) for fields in rows]


BAD_FILES = {
    "missing column": ("Datetime,Open,High,Low,Close\n"
                       + "\n".join(line.rsplit(",", 1)[0] for line in GOOD),
                       r"missing column\(s\) \['volume'\]"),
    "non-monotone": ("\n".join([HEADER, GOOD[1], GOOD[0], GOOD[2]]),
                     "timestamps are not increasing"),
    "duplicate": ("\n".join([HEADER, GOOD[0], GOOD[0], GOOD[2]]), "duplicate timestamp"),
    "zero price": ("\n".join([HEADER, *replace_field(1, 1, "0")]), "'open' must be > 0"),
    "negative price": ("\n".join([HEADER, *replace_field(1, 3, "-1")]), "'low' must be > 0"),
    "missing value": ("\n".join([HEADER, *replace_field(2, 4, "")]),
                      "'close' has 1 missing or non-numeric"),
    "text value": ("\n".join([HEADER, *replace_field(0, 2, "abc")]),
                   "'high' has 1 missing or non-numeric.*'abc'"),
    "nan value": ("\n".join([HEADER, *replace_field(0, 5, "nan")]),
                  "'volume' has 1 missing or non-numeric"),
    "negative volume": ("\n".join([HEADER, *replace_field(1, 5, "-5")]),
                        "'volume' must be >= 0"),
    "high below body": ("\n".join([HEADER, *replace_field(0, 2, "10.4")]),
                        r"'high' is below max\(open, close\)"),
    "low above body": ("\n".join([HEADER, *replace_field(0, 3, "10.2")]),
                       r"'low' is above min\(open, close\)"),
    "empty file": ("", "the file is empty"),
    "header only": (HEADER, "contains no bars"),
    "pre-market only": ("\n".join([HEADER, "2021-08-02 08:00:00,10,11,9,10,5"]),
                        "no bars left after the regular-hours filter"),
    "unparseable timestamp": ("\n".join([HEADER, *replace_field(1, 0, "2021-08-02 9h35")]),
                              "unparseable timestamp"),
    "mixed offsets": ("\n".join([HEADER, *replace_field(1, 0, "2021-08-02 13:35:00+00:00")]),
                      "mix values with and without a UTC offset"),
    "no timestamp column": ("When,Open,High,Low,Close,Volume\n" + "\n".join(GOOD),
                            "timestamp column named Datetime, Date, Timestamp or Time"),
    "headerless, 5 columns": ("\n".join(line.rsplit(",", 1)[0] for line in GOOD),
                              "must have the 6 columns DateTime, Open, High, Low, Close, Volume"),
    "ragged rows": ("\n".join([HEADER, GOOD[0], GOOD[1] + ",1,2"]), "not a readable CSV"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_are_rejected_with_a_named_error(tmp_path, name):
    text, message = BAD_FILES[name]
    path = tmp_path / "bad.csv"
    path.write_text(text + "\n" if text else "")
    with pytest.raises(ParameterError, match=message):
        load_bars(path)


def test_good_rows_of_the_bad_file_fixture_load(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text("\n".join([HEADER, *GOOD]) + "\n")
    assert len(load_bars(path)) == 3


def test_missing_file_and_bad_time_zones(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_bars(tmp_path / "absent.csv")
    path = tmp_path / "good.csv"
    path.write_text("\n".join([HEADER, *GOOD]) + "\n")
    with pytest.raises(ParameterError, match="^timezone must be an IANA time zone"):
        load_bars(path, timezone="Mars/Olympus")
    with pytest.raises(ParameterError, match="^naive_timezone must be an IANA"):
        load_bars(path, naive_timezone="EST5EDT-nonsense")


def test_validate_bars_rejects_naive_index_and_missing_columns(bars):
    with pytest.raises(ParameterError, match="tz-aware"):
        market_data.validate_bars(bars.tz_localize(None))
    with pytest.raises(ParameterError, match=r"missing column\(s\) \['close'\]"):
        market_data.validate_bars(bars.drop(columns="close"))


# ---------------------------------------------------------------------------------------------
# The real files (PROVENANCE.md)


@pytest.mark.skipif(not FIRSTRATE.exists(), reason="FirstRate sample not present")
def test_firstrate_file_counts():
    assert market_data.detect_layout(FIRSTRATE) == "headerless"
    everything = load_bars(FIRSTRATE, regular_hours=False)
    assert len(everything) == 1779
    regular = load_bars(FIRSTRATE)
    assert len(regular) == 780
    dates, counts = np.unique(market_data.session_dates(regular), return_counts=True)
    assert len(dates) == 10 and set(counts) == {78}
    assert market_data.full_sessions(regular) == list(dates)
    assert regular.index[0] == pd.Timestamp("2021-08-02 09:30", tz=NEW_YORK)
    assert regular.index[-1] == pd.Timestamp("2021-08-13 15:55", tz=NEW_YORK)
    assert market_data.bar_minutes(regular) == 5.0
    assert len(market_data.zero_volume_bars(regular)) == 0


@pytest.mark.skipif(not YAHOO.exists(), reason="Yahoo sample not present")
def test_yahoo_file_counts_and_zero_volume_bars():
    assert market_data.detect_layout(YAHOO) == "yfinance"
    regular = load_bars(YAHOO)
    assert len(regular) == 390 == len(load_bars(YAHOO, regular_hours=False))
    dates, counts = np.unique(market_data.session_dates(regular), return_counts=True)
    assert [str(date) for date in dates] == ["2026-02-13", "2026-02-17", "2026-02-18",
                                             "2026-02-19", "2026-02-20"]
    assert set(counts) == {78}
    assert regular.index[0] == pd.Timestamp("2026-02-13 14:30", tz="UTC")
    assert regular.index[0].strftime("%H:%M") == "09:30"
    zero = market_data.zero_volume_bars(regular).tz_convert("UTC")
    assert list(zero.strftime("%Y-%m-%d %H:%M")) == ["2026-02-13 18:20", "2026-02-17 15:40",
                                                     "2026-02-20 19:10"]
    assert 255.51 <= regular["close"].min().round(2) and regular["close"].max().round(2) <= 266.38


# ---------------------------------------------------------------------------------------------
# Calibration


def test_rules_of_thumb_are_the_stated_price_effects():
    spread, volume, per_day = 0.02, 40e6, 78
    temporary, permanent = market_data.rules_of_thumb(spread, volume, per_day)
    assert permanent == spread / (0.1 * volume)
    assert temporary == spread * per_day / (0.01 * volume)
    # Selling 10% of daily volume moves the price by one spread.
    assert permanent * 0.1 * volume == pytest.approx(spread, rel=1e-15)
    # Trading at a rate of 1% of daily volume (0.01·V/B shares per bar, τ = 1 bar) costs one
    # spread per share, as through the price engine's fill.
    problem = Calibration(0.1, spread / 2, temporary, permanent, volume, per_day,
                          100.0).execution_problem(1e5, 78, 0.0)
    shares_per_bar = 0.01 * volume / per_day
    fill = LinearImpact().fill_price(problem, 100.0, shares_per_bar, None)
    assert 100.0 - fill == pytest.approx(spread / 2 + spread, rel=1e-12)
    # The AC paper's own numbers: spread 1/8, daily volume 5e6, per day: η = 2.5e-6, γ = 2.5e-7.
    temporary, permanent = market_data.rules_of_thumb(0.125, 5e6, 1)
    assert (temporary, permanent) == (pytest.approx(2.5e-6), pytest.approx(2.5e-7))


def test_calibration_recovers_simulated_volatility_and_volume():
    """σ within 5 standard errors σ/√(2n) of the RMS estimator (n changes); volume exact."""
    sigma, volume = 0.2, 1500.0
    bars = simulated_bars(sessions=40, volatility=sigma, volume=volume, overnight_jump=20.0)
    calibration = calibrate(bars)
    changes = 40 * 77
    assert abs(calibration.volatility - sigma) < 5 * sigma / math.sqrt(2 * changes)
    assert calibration.daily_volume == 78 * volume
    assert calibration.bars_per_day == 78
    assert calibration.price == bars["close"].iloc[-1]
    spread = market_data.corwin_schultz_spread(bars) * calibration.price  # default: estimated
    assert calibration.half_spread == pytest.approx(spread / 2, rel=1e-15)
    temporary, permanent = market_data.rules_of_thumb(spread, 78 * volume, 78)
    assert calibration.temporary_impact == pytest.approx(temporary, rel=1e-15)
    assert calibration.permanent_impact == pytest.approx(permanent, rel=1e-15)


def test_volatility_never_differences_across_gaps():
    """A jump hidden in a missing bar or in the overnight gap does not enter σ."""
    sigma = 0.2
    base = simulated_bars(sessions=2, volatility=sigma, overnight_jump=0.0, seed=3)
    jumped = base.copy()
    jumped.iloc[40:78] += 10.0  # a jump inside bar 40 of the first session ...
    jumped.loc[jumped.index[40:78], "volume"] = 1000.0
    gapped = jumped.drop(jumped.index[40])  # ... whose bar is missing
    gapped.iloc[77:] += 50.0  # and an overnight jump
    gapped.loc[gapped.index[77:], "volume"] = 1000.0
    expected = np.concatenate([np.diff(base["close"].to_numpy()[:40]),
                               np.diff(base["close"].to_numpy()[41:78]),
                               np.diff(base["close"].to_numpy()[78:])])
    assert market_data.bar_volatility(gapped) == pytest.approx(
        math.sqrt(np.mean(expected**2)), rel=1e-12)
    assert market_data.full_sessions(gapped) == [gapped.index[-1].date()]


def test_calibration_overrides_flow_into_the_rules_of_thumb():
    bars = simulated_bars(sessions=3)
    calibration = calibrate(bars, spread=0.05, daily_volume=2e6, volatility=0.3, price=80.0)
    temporary, permanent = market_data.rules_of_thumb(0.05, 2e6, 78)
    assert calibration.half_spread == 0.025 and calibration.volatility == 0.3
    assert calibration.price == 80.0 and calibration.daily_volume == 2e6
    assert (calibration.temporary_impact, calibration.permanent_impact) == (temporary, permanent)
    given = calibrate(bars, temporary_impact=1e-3, permanent_impact=0.0, bars_per_day=390)
    assert (given.temporary_impact, given.permanent_impact, given.bars_per_day) == (1e-3, 0.0,
                                                                                    390)
    wider = calibrate(bars, spread_bps=10.0)
    assert wider.half_spread == pytest.approx(0.5e-3 * bars["close"].iloc[-1], rel=1e-15)


@pytest.mark.parametrize("field,value", [
    ("volatility", -0.1), ("half_spread", math.nan), ("temporary_impact", 0.0),
    ("permanent_impact", -1.0), ("daily_volume", 0.0), ("bars_per_day", 7.5), ("price", 0.0)])
def test_calibration_rejects_bad_values_by_name(field, value):
    values = dict(volatility=0.1, half_spread=0.01, temporary_impact=1e-6,
                  permanent_impact=1e-9, daily_volume=1e6, bars_per_day=78, price=100.0)
    values[field] = value
    with pytest.raises(ParameterError, match=f"^{field} must"):
        Calibration(**values)


def test_calibrate_rejects_bad_arguments_by_name():
    bars = simulated_bars(sessions=2)
    with pytest.raises(ParameterError, match="^spread_bps must be >= 0"):
        calibrate(bars, spread_bps=-1.0)
    with pytest.raises(ParameterError, match="^spread must be >= 0"):
        calibrate(bars, spread=-0.01)
    with pytest.raises(ParameterError, match="no session has two bars"):
        calibrate(bars.iloc[[0]])


def test_execution_problem_uses_one_bar_as_the_time_unit():
    calibration = Calibration(0.15, 0.0075, 2.6e-6, 3.4e-9, 4.4e7, 78, 149.0)
    problem = calibration.execution_problem(4e5, 78, 1e-8, price=148.5)
    assert (problem.horizon, problem.steps, problem.step_length) == (78.0, 78, 1.0)
    assert (problem.shares, problem.price, problem.risk_aversion) == (4e5, 148.5, 1e-8)
    assert (problem.volatility, problem.half_spread, problem.temporary_impact,
            problem.permanent_impact) == (0.15, 0.0075, 2.6e-6, 3.4e-9)
    assert calibration.execution_problem(1.0, 5, 0.0).price == 149.0


# ---------------------------------------------------------------------------------------------
# Signals (paper §5.1)


def loop_moving_average(values, window):
    return np.array([np.mean(values[max(0, k - window + 1): k + 1]) for k in range(len(values))])


def test_signal_proxies_restart_each_session_and_match_a_loop():
    bars = simulated_bars(sessions=2, bars_per_session=30, seed=7)
    bars["volume"] = np.tile(np.arange(1.0, 31.0) * 100.0, 2)
    result = market_data.signal_proxies(bars)
    assert (result.index == bars.index).all()
    for session in range(2):
        window = bars.iloc[30 * session: 30 * (session + 1)]
        ensemble = [(1 if c > o else -1 if c < o else 0) * v
                    for o, c, v in zip(window["open"], window["close"], window["volume"])]
        close = window["close"].to_numpy()
        self_alpha = loop_moving_average(close, 3) - loop_moving_average(close, 10)
        rows = result.iloc[30 * session: 30 * (session + 1)]
        np.testing.assert_allclose(rows["ensemble"],
                                   loop_moving_average(np.array(ensemble, float), 3), rtol=1e-13)
        np.testing.assert_allclose(rows["self_alpha"], loop_moving_average(self_alpha, 3),
                                   rtol=1e-10, atol=1e-12)
    known = market_data.previous_bar(result, bars)
    assert known.iloc[[0, 30]].isna().all().all()  # nothing is known at a session's open
    np.testing.assert_array_equal(known.iloc[1:30].to_numpy(), result.iloc[0:29].to_numpy())


def test_fit_signals_is_least_squares_of_the_next_bar_fall_on_lagged_z_scores():
    bars = simulated_bars(sessions=3, bars_per_session=40, seed=12)
    bars["volume"] = 1000.0 + 500.0 * np.sin(np.arange(120.0))
    fit = market_data.fit_signals(bars)
    proxies = market_data.signal_proxies(bars)
    z = {name: (proxies[name].to_numpy() - proxies[name].mean()) / proxies[name].std(ddof=0)
         for name in ("self_alpha", "ensemble")}
    rows, target = [], []
    for j in range(120):
        if j % 40 == 0:  # no previous bar in the session
            continue
        rows.append([z["self_alpha"][j - 1], z["ensemble"][j - 1]])
        target.append(bars["open"].iloc[j] - bars["close"].iloc[j])
    rows, target = np.array(rows), np.array(target)
    normal = rows.T @ rows
    coefficients = np.linalg.solve(normal, rows.T @ target)
    assert fit.observations == 117
    assert fit.coefficient["self_alpha"] == pytest.approx(coefficients[0], rel=1e-9)
    assert fit.coefficient["ensemble"] == pytest.approx(coefficients[1], rel=1e-9)
    residual = target - rows @ coefficients
    errors = np.sqrt(np.diag(np.linalg.inv(normal)) * (residual @ residual) / 115)
    assert fit.stderr["self_alpha"] == pytest.approx(errors[0], rel=1e-9)
    standard = fit.standardise(proxies)
    np.testing.assert_allclose(standard["ensemble"], z["ensemble"], rtol=1e-12, atol=1e-12)
    terms = fit.linear_terms({"self_alpha": 2.0, "ensemble": float("nan")}, 3)
    np.testing.assert_allclose(terms["self_alpha"], coefficients[0] * 2.0 * fit.persistence[
        "self_alpha"] ** np.arange(3.0), rtol=1e-12)
    np.testing.assert_array_equal(terms["ensemble"], np.zeros(3))
    with pytest.raises(ParameterError, match="fitting the signals needs more than 2 bars"):
        market_data.fit_signals(bars.iloc[:3])


def corwin_schultz_pair(h1, l1, h2, l2):
    """The 2012 paper's two-period estimate, written out for one pair (no gap)."""
    beta = math.log(h1 / l1) ** 2 + math.log(h2 / l2) ** 2
    gamma = math.log(max(h1, h2) / min(l1, l2)) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    return 2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha))


def test_corwin_schultz_matches_the_formula_on_two_bars():
    bars = simulated_bars(sessions=1, bars_per_session=3, seed=3)
    bars[["open", "high", "low", "close"]] = [[100.0, 100.3, 99.8, 100.1],
                                              [100.1, 100.35, 99.9, 100.2],
                                              [100.2, 100.9, 100.15, 100.8]]
    first = corwin_schultz_pair(100.3, 99.8, 100.35, 99.9)
    second = corwin_schultz_pair(100.35, 99.9, 100.9, 100.15)
    assert first > 0 and second < 0  # the second pair's estimate is floored at 0
    assert market_data.corwin_schultz_spread(bars) == pytest.approx(0.5 * first, rel=1e-12)


def test_corwin_schultz_recovers_the_spread_of_simulated_bid_ask_bounce():
    """Trades at mid ± s/2 around a random-walk mid, 200 trades per 5-minute bar; the bars'
    highs and lows carry the spread, which the estimator recovers within 25%."""
    rng = np.random.default_rng(np.random.SeedSequence(21))
    bars = simulated_bars(sessions=2, bars_per_session=78, seed=4)
    spread, ticks = 0.05, 200
    mid = 100.0 + np.cumsum(rng.normal(0.0, 0.002, size=(156, ticks)).ravel()).reshape(156, ticks)
    price = mid + 0.5 * spread * np.where(rng.random((156, ticks)) < 0.5, 1.0, -1.0)
    bars["open"], bars["close"] = price[:, 0], price[:, -1]
    bars["high"], bars["low"] = price.max(axis=1), price.min(axis=1)
    estimate = market_data.corwin_schultz_spread(bars) * 100.0
    assert estimate == pytest.approx(spread, rel=0.25)
    wider = market_data.calibrate(bars)
    assert wider.half_spread == pytest.approx(0.5 * estimate * bars["close"].iloc[-1] / 100.0,
                                              rel=1e-12)


def test_auction_bars_and_rolling_sessions():
    bars = simulated_bars(sessions=4, bars_per_session=78, seed=2)
    flags = market_data.auction_bars(bars)
    assert flags.sum() == 8 and flags[0] and flags[77] and flags[78] and not flags[1]
    windows = market_data.rolling_sessions(bars)
    days = market_data.full_sessions(bars)
    assert [day for day, _ in windows] == days[1:]
    assert all(history == days[:index + 1] for index, (_, history) in enumerate(windows))
    assert [day for day, _ in market_data.rolling_sessions(bars, 3)] == days[3:]
    with pytest.raises(ParameterError, match="^minimum_history must be an integer >= 1"):
        market_data.rolling_sessions(bars, 0)


# ---------------------------------------------------------------------------------------------
# Download (optional extra)


def test_download_without_yfinance_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "yfinance", None)  # makes `import yfinance` fail
    with pytest.raises(AcsimError, match=r"pip install 'acsim\[data\]'"):
        market_data.download_bars("AAPL", tmp_path / "aapl.csv")


def test_download_writes_a_file_the_loader_reads(monkeypatch, tmp_path, bars):
    """A stand-in for yfinance returning its multi-index frame; the CSV has 3 header lines."""
    def download(ticker, period, interval, auto_adjust, progress):
        order = ["Close", "High", "Low", "Open", "Volume"]
        frame = bars.tz_convert("UTC").rename(columns=str.capitalize)[order]
        frame.columns = pd.MultiIndex.from_product([order, [ticker]], names=["Price", "Ticker"])
        return frame.rename_axis("Datetime")

    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(download=download))
    path = market_data.download_bars("AAPL", tmp_path / "sub" / "aapl.csv")
    assert path.read_text().splitlines()[:3] == ["Price,Close,High,Low,Open,Volume",
                                                 "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL",
                                                 "Datetime,,,,,"]
    np.testing.assert_allclose(load_bars(path).to_numpy(), bars.to_numpy(), rtol=1e-15)
    monkeypatch.setitem(sys.modules, "yfinance",
                        types.SimpleNamespace(download=lambda *a, **k: pd.DataFrame()))
    with pytest.raises(ParameterError, match="returned no 5m bars for ticker 'AAPL'"):
        market_data.download_bars("AAPL", tmp_path / "empty.csv")


def test_athl_power_law_impact_from_bars_in_price_units():
    """ATHL (2005): temporary cost as a fraction of price = 0.142·σ_ret·(v/V)^0.6, σ_ret a daily
    return volatility, v/V the trading rate as a fraction of daily volume (both per day). In
    price units: h = 0.142·(σ_ret·S)·(v/V)^β = 0.142·σ_day·(v·B/V)^β with σ_day = σ_bar·√B and
    v in shares per bar. Written out here from the bars' known σ = 0.2 per bar (measured, as
    `calibrate` does) and volume 1000 per bar."""
    bars = simulated_bars(sessions=4, volatility=0.2, volume=1000.0)
    athl = market_data.athl_impact(calibrate(bars))
    sigma_bar = calibrate(bars).volatility
    assert athl.bars_per_day == 78 and athl.daily_volume == pytest.approx(78_000.0)
    assert athl.daily_volatility == pytest.approx(sigma_bar * math.sqrt(78), rel=1e-12)
    for rate in (10.0, 1000.0, 5000.0):  # shares per bar
        fraction_of_volume = rate * 78 / 78_000.0
        expected = 0.142 * sigma_bar * math.sqrt(78) * fraction_of_volume**0.6
        assert athl.cost_per_share(rate) == pytest.approx(expected, rel=1e-12)
    assert athl.impact_table() == {"model": "power", "exponent": 0.6,
                                   "coefficient": athl.coefficient}
    half = market_data.athl_impact(calibrate(bars, volatility=0.3, daily_volume=1e6,
                                             bars_per_day=10), 0.5)
    assert half.cost_per_share(2000.0) == pytest.approx(
        0.142 * 0.3 * math.sqrt(10) * (2000.0 * 10 / 1e6) ** 0.5, rel=1e-12)
