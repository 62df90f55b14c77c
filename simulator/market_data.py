"""Intraday bars from CSV files, the Almgren-Chriss calibration and the paper's §5.1 signals.

Bars are a pandas DataFrame indexed by tz-aware bar-*start* timestamps with float columns
open, high, low, close (currency per share) and volume (shares). Three file layouts are
detected automatically (`detect_layout`):

- "header": a CSV with a header row; names are case-insensitive and in any order: one
  timestamp column (Datetime, Date, Timestamp or Time) plus Open, High, Low, Close, Volume
  (further columns are ignored);
- "headerless": vendor files (FirstRate Data) with the columns DateTime, Open, High, Low,
  Close, Volume and no header row;
- "yfinance": yfinance's CSV with three header lines ("Price,Close,High,...",
  "Ticker,AAPL,...", "Datetime,,,,,"), columns in any order.

Timestamps without a UTC offset are read in `naive_timezone`; timestamps with one are
converted. Zero-volume bars (a Yahoo artefact) are kept as they are; `zero_volume_bars`
lists them.

Calibration (time unit = one bar, so τ = 1): σ from close-to-close changes of adjacent bars
of one session, daily volume from session sums, the spread by the Corwin-Schultz (2012)
high-low estimator, and the rules of thumb of Almgren & Chriss (2000, "Choice of
parameters"); see `rules_of_thumb` for the unit conversion. Beside them, `athl_impact`:
power-law temporary impact by the Almgren-Thum-Hauptmann-Li (2005) fit from the same σ and
daily volume (MODEL §7).

Signals (paper §5.1), causal: the two proxies are computed within each session from
completed bars only (`signal_proxies`), standardised and scaled by a regression on a
calibration window of earlier sessions (`fit_signals`), and a trade at bar k sees those of
bar k − 1 (`previous_bar`). `rolling_sessions` gives the expanding out-of-sample windows.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acsim.strategies import validation
from acsim.strategies.errors import AcsimError, ParameterError
from acsim.strategies.parameters import ExecutionProblem
from acsim.strategies.power_law import calibrated_impact

EXCHANGE_TIMEZONE = "America/New_York"
REGULAR_OPEN_MINUTE = 9 * 60 + 30  # 09:30 local exchange time
REGULAR_CLOSE_MINUTE = 16 * 60  # 16:00: the last regular bar starts before this
REGULAR_SESSION_MINUTES = REGULAR_CLOSE_MINUTE - REGULAR_OPEN_MINUTE
PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = PRICE_COLUMNS + ("volume",)
TIME_COLUMNS = ("datetime", "date", "timestamp", "time")
UTC_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


# ---------------------------------------------------------------------------------------------
# Loading


def load_bars(path: str | Path, timezone: str = EXCHANGE_TIMEZONE, regular_hours: bool = True,
              naive_timezone: str = EXCHANGE_TIMEZONE) -> pd.DataFrame:
    """Bars of a CSV file, validated, indexed by bar-start time in `timezone`.

    regular_hours: keep only bars starting in [09:30, 16:00) America/New_York.
    Raises ParameterError naming the column or timestamp at fault.
    """
    path = Path(path)
    timezone = _timezone("timezone", timezone)
    naive_timezone = _timezone("naive_timezone", naive_timezone)
    table = _read_table(path, detect_layout(path))
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ParameterError(f"{path}: missing column(s) {missing}; "
                             f"found columns {list(table.columns)}")
    index = _parse_timestamps(table["datetime"], naive_timezone, path)
    bars = pd.DataFrame({name: _numeric_column(table, name, path) for name in COLUMNS})
    bars.index = index.tz_convert(timezone).rename("timestamp")
    validate_bars(bars, str(path))
    if regular_hours:
        bars = regular_session_bars(bars)
        if bars.empty:
            raise ParameterError(f"{path}: no bars left after the regular-hours filter "
                                 "(bar starts 09:30 to 16:00 America/New_York)")
    return bars


def detect_layout(path: Path) -> str:
    """'yfinance', 'headerless' or 'header', from the first two lines of the file."""
    if path.is_dir():
        raise ParameterError(f"bar file {str(path)!r} is a directory, not a CSV file")
    if not path.is_file():
        raise ParameterError(f"bar file {str(path)!r} does not exist")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            lines = [line.strip() for line, _ in zip(handle, range(2))]
    except UnicodeDecodeError:
        raise ParameterError(f"bar file {str(path)!r} is not a text file (not UTF-8): a CSV "
                             "file is expected") from None
    if any("\x00" in line for line in lines):
        raise ParameterError(f"bar file {str(path)!r} holds NUL bytes: a CSV text file is "
                             "expected")
    if not lines or not lines[0]:
        raise ParameterError(f"{path}: the file is empty")
    first = lines[0].split(",")[0].strip()
    second = lines[1].split(",")[0].strip() if len(lines) > 1 else ""
    if first.lower() == "price" and second.lower() == "ticker":
        return "yfinance"
    try:
        pd.Timestamp(first)
    except (ValueError, TypeError):
        return "header"
    return "headerless"


def _read_table(path: Path, layout: str) -> pd.DataFrame:
    """The raw table as text, with lower-case column names and a 'datetime' column."""
    try:
        return _read_layout(path, layout)
    except pd.errors.ParserError as error:
        raise ParameterError(f"{path}: not a readable CSV file: {error}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not a text file (not UTF-8): a CSV file is "
                             "expected") from None


def _read_layout(path: Path, layout: str) -> pd.DataFrame:
    """Read one of the three layouts (see the module docstring)."""
    if layout == "headerless":
        table = pd.read_csv(path, header=None, dtype=str, encoding="utf-8-sig")
        if table.shape[1] != len(COLUMNS) + 1:
            raise ParameterError(
                f"{path}: a file without a header row must have the 6 columns DateTime, Open, "
                f"High, Low, Close, Volume; found {table.shape[1]} columns")
        table.columns = ["datetime", *COLUMNS]
        return table
    if layout == "yfinance":
        table = pd.read_csv(path, header=0, dtype=str, encoding="utf-8-sig")
        table.columns = ["datetime", *(name.strip().lower() for name in table.columns[1:])]
        # Lines 2 and 3 ("Ticker,AAPL,..." and "Datetime,,,,,") are header lines, not bars.
        extra_headers = table["datetime"].str.strip().str.lower().isin(("ticker", *TIME_COLUMNS))
        return table[~extra_headers.to_numpy()].reset_index(drop=True)
    table = pd.read_csv(path, header=0, dtype=str, encoding="utf-8-sig")
    table.columns = [str(name).strip().lower() for name in table.columns]
    found = [name for name in table.columns if name in TIME_COLUMNS]
    if len(found) != 1:
        raise ParameterError(
            f"{path}: needs exactly one timestamp column named Datetime, Date, Timestamp or "
            f"Time (any case); found {found or 'none'} among columns {list(table.columns)}")
    return table.rename(columns={found[0]: "datetime"})


def _numeric_column(table: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    """Column `name` as floats; a clear error if a value is missing or not numeric."""
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise ParameterError(
            f"{path}: column {name!r} has {int(bad.sum())} missing or non-numeric value(s); "
            f"first at data row {row + 1} ({table['datetime'].iloc[row]}): "
            f"{table[name].iloc[row]!r}")
    return values


def _parse_timestamps(text: pd.Series, naive_timezone: str, path: Path) -> pd.DatetimeIndex:
    """Timestamps as a tz-aware index: offsets are honoured, naive times localised."""
    if text.isna().any():
        row = int(np.argmax(text.isna().to_numpy()))
        raise ParameterError(f"{path}: missing timestamp at data row {row + 1}")
    text = text.str.strip()
    with_offset = text.str.contains(UTC_OFFSET).to_numpy()
    if with_offset.any() and not with_offset.all():
        raise ParameterError(f"{path}: timestamps mix values with and without a UTC offset")
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(text, utc=bool(with_offset.all())))
        if with_offset.all():
            return parsed
        return parsed.tz_localize(naive_timezone, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError, OverflowError) as error:
        raise ParameterError(f"{path}: unparseable timestamp(s): {error}") from None


def _timezone(name: str, value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ParameterError(f"{name} must be an IANA time zone such as 'America/New_York', "
                             f"got {value!r}") from None
    return value


def validate_bars(bars: pd.DataFrame, source: str = "bars") -> None:
    """Raise ParameterError unless `bars` are well-formed (see the module docstring).

    Checks: a tz-aware DatetimeIndex, strictly increasing and without duplicates; the columns
    open, high, low, close, volume, finite; prices > 0; volume >= 0;
    high >= max(open, close) and low <= min(open, close).
    """
    missing = [column for column in COLUMNS if column not in bars.columns]
    if missing:
        raise ParameterError(f"{source}: missing column(s) {missing}")
    if bars.empty:
        raise ParameterError(f"{source}: contains no bars")
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ParameterError(f"{source}: bars must be indexed by tz-aware timestamps")
    duplicated = index.duplicated()
    if duplicated.any():
        raise ParameterError(f"{source}: duplicate timestamp {index[duplicated][0]}")
    backwards = _spacing_minutes(bars) <= 0.0
    if backwards.any():
        k = int(np.argmax(backwards))
        raise ParameterError(f"{source}: timestamps are not increasing: {index[k]} is "
                             f"followed by {index[k + 1]}")

    def first_failure(name: str, failed: np.ndarray, rule: str) -> None:
        if failed.any():
            k = int(np.argmax(failed))
            raise ParameterError(f"{source}: column {name!r} {rule} at {int(failed.sum())} "
                                 f"bar(s), first at {index[k]} (value {bars[name].iloc[k]!r})")

    for name in COLUMNS:
        first_failure(name, ~np.isfinite(bars[name].to_numpy(dtype=float)), "is not finite")
    for name in PRICE_COLUMNS:
        first_failure(name, bars[name].to_numpy() <= 0.0, "must be > 0")
    first_failure("volume", bars["volume"].to_numpy() < 0.0, "must be >= 0")
    body_high = np.maximum(bars["open"], bars["close"]).to_numpy()
    body_low = np.minimum(bars["open"], bars["close"]).to_numpy()
    first_failure("high", bars["high"].to_numpy() < body_high, "is below max(open, close)")
    first_failure("low", bars["low"].to_numpy() > body_low, "is above min(open, close)")


# ---------------------------------------------------------------------------------------------
# Sessions


def _exchange_minutes(bars: pd.DataFrame) -> np.ndarray:
    local = bars.index.tz_convert(EXCHANGE_TIMEZONE)
    return np.asarray(local.hour * 60 + local.minute)


def regular_session_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars starting in [09:30, 16:00) America/New_York."""
    minutes = _exchange_minutes(bars)
    return bars[(minutes >= REGULAR_OPEN_MINUTE) & (minutes < REGULAR_CLOSE_MINUTE)]


def session_dates(bars: pd.DataFrame) -> np.ndarray:
    """The America/New_York calendar date of every bar (datetime.date objects)."""
    return np.asarray(bars.index.tz_convert(EXCHANGE_TIMEZONE).date)


def _spacing_minutes(bars: pd.DataFrame) -> np.ndarray:
    """Minutes from each bar's start to the next bar's start (one value fewer than bars)."""
    return np.asarray((bars.index[1:] - bars.index[:-1]).total_seconds()) / 60.0


def bar_minutes(bars: pd.DataFrame) -> float:
    """The bar length in minutes: the most common spacing of consecutive bars of a session."""
    dates = session_dates(bars)
    spacing = _spacing_minutes(bars)[dates[1:] == dates[:-1]]
    if spacing.size == 0:
        raise ParameterError("cannot infer the bar length: no session has two bars")
    values, counts = np.unique(spacing, return_counts=True)
    return float(values[np.argmax(counts)])


def full_sessions(bars: pd.DataFrame) -> list[datetime.date]:
    """Dates whose regular session has every bar (390 minutes / bar length, e.g. 78)."""
    regular = regular_session_bars(bars)
    expected = round(REGULAR_SESSION_MINUTES / bar_minutes(bars))
    dates, counts = np.unique(session_dates(regular), return_counts=True)
    return [date for date, count in zip(dates, counts) if count == expected]


def full_session_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars of full regular sessions only (every session then has the same length)."""
    full = full_sessions(bars)
    return regular_session_bars(bars)[np.isin(session_dates(regular_session_bars(bars)), full)]


def zero_volume_bars(bars: pd.DataFrame) -> pd.DatetimeIndex:
    """Timestamps of the bars with zero volume (kept by `load_bars`; reported here)."""
    return bars.index[bars["volume"].to_numpy() == 0.0]


# ---------------------------------------------------------------------------------------------
# Calibration


@dataclass(frozen=True)
class Calibration:
    """Market parameters in per-bar units: the time unit is one bar (τ = 1).

    volatility: σ, currency per share per √bar (arithmetic).
    half_spread: ε, currency per share.
    temporary_impact: η, currency·bar per share²: n shares in one bar fill η·n worse.
    permanent_impact: γ, currency per share²: every share sold lowers the price by γ.
    daily_volume: shares per regular session.  bars_per_day: bars per regular session.
    price: reference price, currency per share (the spread in bps is taken of it).
    """

    volatility: float
    half_spread: float
    temporary_impact: float
    permanent_impact: float
    daily_volume: float
    bars_per_day: int
    price: float

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "volatility", validation.non_negative("volatility", self.volatility))
        set_(self, "half_spread", validation.non_negative("half_spread", self.half_spread))
        set_(self, "temporary_impact",
             validation.positive("temporary_impact", self.temporary_impact))
        set_(self, "permanent_impact",
             validation.non_negative("permanent_impact", self.permanent_impact))
        set_(self, "daily_volume", validation.positive("daily_volume", self.daily_volume))
        set_(self, "bars_per_day", validation.integer("bars_per_day", self.bars_per_day, 1))
        set_(self, "price", validation.positive("price", self.price))

    def execution_problem(self, shares: float, steps: int, risk_aversion: float,
                          price: float | None = None) -> ExecutionProblem:
        """A sell order of `shares` over `steps` bars (horizon = steps, τ = 1 bar).

        price: the arrival price S_0 (default: the calibration's reference price).
        """
        return ExecutionProblem(
            shares=shares, horizon=float(steps), steps=steps,
            price=self.price if price is None else price, volatility=self.volatility,
            half_spread=self.half_spread, temporary_impact=self.temporary_impact,
            permanent_impact=self.permanent_impact, risk_aversion=risk_aversion)


def rules_of_thumb(spread: float, daily_volume: float, bars_per_day: int) -> tuple[float, float]:
    """(η, γ) per bar from the Almgren & Chriss (2000) rules of thumb.

    Permanent: selling 10% of the daily volume V moves the price by one spread s, so
    γ = s / (0.1·V) (currency per share², independent of the time unit).
    Temporary: trading at a *rate* of 1% of daily volume costs one spread per share. AC state
    it per day: η_day = s / (0.01·V), in currency·day/share². A rate of 0.01·V per day is
    0.01·V/B shares per bar (B bars a day), and the fill cost (η/τ)·n must still be s, so
    η_bar = s·B / (0.01·V) = B·η_day: η grows with the number of bars, it does not shrink.
    """
    spread = validation.non_negative("spread", spread)
    daily_volume = validation.positive("daily_volume", daily_volume)
    bars_per_day = validation.integer("bars_per_day", bars_per_day, 1)
    return spread * bars_per_day / (0.01 * daily_volume), spread / (0.1 * daily_volume)


def bar_volatility(bars: pd.DataFrame) -> float:
    """σ per bar: root mean square of close-to-close changes of bars one bar length apart.

    Only pairs of adjacent bars of the same session count: the overnight gap and any
    missing bar are never differenced. Zero mean is assumed (no drift is estimated).
    """
    adjacent = _spacing_minutes(bars) == bar_minutes(bars)
    changes = np.diff(bars["close"].to_numpy())[adjacent]
    if changes.size == 0:
        raise ParameterError("volatility needs at least two adjacent bars of one session")
    return float(np.sqrt(np.mean(changes**2)))


def mean_daily_volume(bars: pd.DataFrame) -> float:
    """Mean over sessions of the summed bar volume, shares per session."""
    return float(bars["volume"].groupby(session_dates(bars)).sum().mean())


CORWIN_SCHULTZ_K = 3.0 - 2.0 * np.sqrt(2.0)


def corwin_schultz_spread(bars: pd.DataFrame) -> float:
    """Relative bid-ask spread (fraction of price) estimated from high and low prices.

    Corwin, S. A. and Schultz, P. (2012), "A Simple Way to Estimate Bid-Ask Spreads from
    Daily High and Low Prices", Journal of Finance 67(2), 719-760, applied to pairs of
    adjacent bars of one session instead of adjacent days. For bars t and t + 1:
    β = ln(H_t/L_t)² + ln(H_{t+1}/L_{t+1})², γ = ln(max H / min L over both)²,
    α = (√(2β) − √β)/(3 − 2√2) − √(γ/(3 − 2√2)), S = 2(e^α − 1)/(1 + e^α). Bar t + 1 is
    first shifted by any gap between bar t's close and its range (the paper's overnight
    adjustment). Negative pair estimates are set to 0 before averaging (one of the paper's
    variants); the result is the mean over pairs. Only adjacent bars count (one bar length
    apart): session boundaries and missing bars are never paired.
    """
    validate_bars(bars)
    adjacent = _spacing_minutes(bars) == bar_minutes(bars)
    if not adjacent.any():
        raise ParameterError("the Corwin-Schultz spread needs two adjacent bars of one session")
    high, low, close = (bars[name].to_numpy() for name in ("high", "low", "close"))
    gap = (np.maximum(low[1:] - close[:-1], 0.0) - np.maximum(close[:-1] - high[1:], 0.0))
    next_high, next_low = high[1:] - gap, low[1:] - gap
    beta = np.log(high[:-1] / low[:-1]) ** 2 + np.log(next_high / next_low) ** 2
    gamma = np.log(np.maximum(high[:-1], next_high) / np.minimum(low[:-1], next_low)) ** 2
    alpha = ((np.sqrt(2.0 * beta) - np.sqrt(beta)) / CORWIN_SCHULTZ_K
             - np.sqrt(gamma / CORWIN_SCHULTZ_K))
    spread = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return float(np.mean(np.maximum(spread[adjacent], 0.0)))


def calibrate(bars: pd.DataFrame, *, spread: float | None = None,
              spread_bps: float | None = None, volatility: float | None = None,
              daily_volume: float | None = None, bars_per_day: int | None = None,
              price: float | None = None, temporary_impact: float | None = None,
              permanent_impact: float | None = None) -> Calibration:
    """Calibrate per-bar AC parameters from regular-session bars; any value can be given.

    spread: full bid-ask spread in currency; else spread_bps basis points of price; else
    (default) the Corwin-Schultz estimate from the bars' highs and lows times price.
    price: default the last close. bars_per_day: default 390 minutes / bar length.
    The rules of thumb use the final spread, daily volume and bars per day; given
    temporary_impact / permanent_impact replace their results. Half spread ε = spread/2.
    """
    validate_bars(bars)
    price = float(bars["close"].iloc[-1]) if price is None else price
    if spread is None:
        spread = (corwin_schultz_spread(bars) if spread_bps is None
                  else validation.non_negative("spread_bps", spread_bps) * 1e-4) * price
    if bars_per_day is None:
        bars_per_day = round(REGULAR_SESSION_MINUTES / bar_minutes(bars))
    daily_volume = mean_daily_volume(bars) if daily_volume is None else daily_volume
    temporary, permanent = rules_of_thumb(spread, daily_volume, bars_per_day)
    return Calibration(
        volatility=bar_volatility(bars) if volatility is None else volatility,
        half_spread=0.5 * spread,
        temporary_impact=temporary if temporary_impact is None else temporary_impact,
        permanent_impact=permanent if permanent_impact is None else permanent_impact,
        daily_volume=daily_volume, bars_per_day=bars_per_day, price=price)


@dataclass(frozen=True)
class PowerLawCalibration:
    """Power-law temporary impact from bars (Almgren, Thum, Hauptmann and Li 2005), per bar.

    h = 0.142·σ_day·(v/V_day)^β: the ATHL fit (η = 0.142, β = 0.6) is dimensionless because
    it is stated in return units (cost as a fraction of price, σ a daily return volatility)
    with the trading rate as a fraction of daily volume; in price units σ_day is the daily
    price volatility σ_bar·√(bars per day) (currency per share per √day) and h is currency per
    share. With rates v in shares per bar, h = η_p·v^β with η_p = 0.142·σ_day/(V_day/B)^β.

    daily_volatility: σ_day, currency per share per √day. daily_volume: V_day, shares per
    session. bars_per_day: B. exponent: β. coefficient: η_p, currency per share per (shares
    per bar)^β (MODEL §7 with τ = 1 bar).
    """

    daily_volatility: float
    daily_volume: float
    bars_per_day: int
    exponent: float
    coefficient: float

    def impact_table(self) -> dict:
        """The [impact] table of a configuration with this impact (time unit: one bar)."""
        return {"model": "power", "exponent": self.exponent, "coefficient": self.coefficient}

    def cost_per_share(self, shares_per_bar: float) -> float:
        """h(v) without the spread: currency per share at a rate of v shares per bar."""
        return self.coefficient * shares_per_bar**self.exponent


def athl_impact(calibration: Calibration, exponent: float = 0.6) -> PowerLawCalibration:
    """ATHL power-law impact from a calibration's σ per bar, daily volume and bars per day
    (`calibrate` measures them on regular-session bars)."""
    daily_volatility = calibration.volatility * np.sqrt(calibration.bars_per_day)
    impact = calibrated_impact(daily_volatility, calibration.daily_volume, exponent,
                               days_per_time_unit=1.0 / calibration.bars_per_day)
    return PowerLawCalibration(daily_volatility, calibration.daily_volume,
                               calibration.bars_per_day, impact.exponent, impact.coefficient)


# ---------------------------------------------------------------------------------------------
# Signals (paper §5.1), causal


def ensemble_proxy(bars: pd.DataFrame) -> np.ndarray:
    """sign(close − open)·volume per bar, shares (the paper's ensemble proxy, raw)."""
    return np.sign(bars["close"].to_numpy() - bars["open"].to_numpy()) * bars["volume"].to_numpy()


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of the last `window` values (fewer at the start of the series)."""
    window = validation.integer("window", window, 1)
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()


def self_alpha_proxy(bars: pd.DataFrame, short: int = 3, long: int = 10) -> np.ndarray:
    """MA_short(close) − MA_long(close), currency per share (the paper's self-alpha proxy, raw)."""
    close = bars["close"].to_numpy()
    return moving_average(close, short) - moving_average(close, long)


SIGNALS = ("self_alpha", "ensemble")


def signal_proxies(bars: pd.DataFrame, smoothing: int = 3) -> pd.DataFrame:
    """The two §5.1 proxies of every bar, smoothed by a trailing `smoothing`-bar mean,
    computed within each session (moving averages restart at each session's first bar).

    Causal: the value of bar j uses bars up to and including j of its session only. A
    proxy of bar j is known at bar j's close, so it may inform the trade at the next bar.
    """
    frames = []
    for _, session in bars.groupby(session_dates(bars), sort=True):
        frames.append(pd.DataFrame({
            "self_alpha": moving_average(self_alpha_proxy(session), smoothing),
            "ensemble": moving_average(ensemble_proxy(session), smoothing)}, index=session.index))
    return pd.concat(frames).loc[bars.index]


def previous_bar(values: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """values of the previous bar of the same session (NaN for each session's first bar):
    what is known at a bar's open."""
    dates = session_dates(bars)
    shifted = values.shift(1)
    shifted.iloc[np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])] = np.nan
    return shifted


def bar_price_fall(bars: pd.DataFrame) -> np.ndarray:
    """open − close per bar, currency per share: what a seller gains by selling at the bar's
    open rather than holding through the bar (the target the signals are fitted to)."""
    return bars["open"].to_numpy() - bars["close"].to_numpy()


@dataclass(frozen=True)
class SignalFit:
    """The §5.1 signals standardised and scaled by regression on a calibration window.

    mean, scale: per signal, of the smoothed proxy over the window (z = (proxy − mean)/scale).
    coefficient, stderr: currency per share per unit z, from the least-squares fit (no
        intercept) of the price fall over bar j (`bar_price_fall`) on both z of bar j − 1 of
        the same session; its sign is the fitted sign of the signal.
    persistence: per signal, the least-squares slope of z_{j+1} on z_j within sessions,
        used to forecast a signal h bars ahead as persistence^h·z.
    observations: pairs used in the regression.
    """

    mean: dict
    scale: dict
    coefficient: dict
    stderr: dict
    persistence: dict
    observations: int

    def standardise(self, proxies: pd.DataFrame) -> pd.DataFrame:
        """z-scores of proxies with the window's mean and scale (0 where the scale is 0)."""
        return pd.DataFrame({name: (proxies[name] - self.mean[name]) / self.scale[name]
                             if self.scale[name] > 0 else 0.0 * proxies[name]
                             for name in SIGNALS}, index=proxies.index)

    def linear_terms(self, known: pd.Series | dict, steps: int) -> dict[str, np.ndarray]:
        """Forecasts of a_self and x̄ (currency per share) for the next `steps` bars from the
        z-scores known now (those of the last completed bar); zeros if none is known."""
        ahead = np.arange(steps, dtype=float)
        result = {}
        for name in SIGNALS:
            value = float(known[name])
            value = 0.0 if not np.isfinite(value) else value
            result[name] = self.coefficient[name] * self.persistence[name] ** ahead * value
        return result


def fit_signals(bars: pd.DataFrame, smoothing: int = 3) -> SignalFit:
    """Fit the signals' scale and sign on `bars` (the calibration window; see SignalFit)."""
    proxies = signal_proxies(bars, smoothing)
    mean = {name: float(proxies[name].mean()) for name in SIGNALS}
    scale = {name: float(proxies[name].std(ddof=0)) for name in SIGNALS}
    standard = pd.DataFrame({name: (proxies[name] - mean[name]) / scale[name]
                             if scale[name] > 0 else 0.0 * proxies[name] for name in SIGNALS},
                            index=proxies.index)
    known = previous_bar(standard, bars)
    usable = known.notna().all(axis=1).to_numpy()
    if usable.sum() <= len(SIGNALS):
        raise ParameterError(f"fitting the signals needs more than {len(SIGNALS)} bars with a "
                             f"previous bar in the same session, got {int(usable.sum())}")
    design = known.to_numpy()[usable]
    target = bar_price_fall(bars)[usable]
    coefficients, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coefficients
    dof = max(design.shape[0] - len(SIGNALS), 1)
    if rank == len(SIGNALS):
        covariance = np.linalg.inv(design.T @ design) * float(residual @ residual) / dof
        errors = np.sqrt(np.diag(covariance))
    else:  # a constant signal: it cannot be fitted, its coefficient is 0
        errors = np.full(len(SIGNALS), np.nan)
    persistence = {}
    for name in SIGNALS:
        now, later = known[name].to_numpy()[usable], standard[name].to_numpy()[usable]
        denominator = float(now @ now)
        persistence[name] = float(now @ later) / denominator if denominator > 0 else 0.0
    return SignalFit(mean, scale, dict(zip(SIGNALS, map(float, coefficients))),
                     dict(zip(SIGNALS, map(float, errors))), persistence, int(usable.sum()))


# ---------------------------------------------------------------------------------------------
# Rolling out-of-sample evaluation


def auction_bars(bars: pd.DataFrame) -> np.ndarray:
    """True for the first and the last bar of each session in `bars` (at 09:30 the opening
    auction, in the last bar the closing auction)."""
    dates = session_dates(bars)
    first = np.r_[True, dates[1:] != dates[:-1]]
    last = np.r_[dates[1:] != dates[:-1], True]
    return first | last


def rolling_sessions(bars: pd.DataFrame, minimum_history: int = 1
                     ) -> list[tuple[datetime.date, list[datetime.date]]]:
    """(day, earlier full sessions) for every full session with at least `minimum_history`
    full sessions before it: an expanding calibration window, never the day itself."""
    minimum_history = validation.integer("minimum_history", minimum_history, 1)
    days = full_sessions(bars)
    return [(day, days[:index]) for index, day in enumerate(days) if index >= minimum_history]


# ---------------------------------------------------------------------------------------------
# Download (optional extra acsim[data])


def download_bars(ticker: str, path: str | Path, period: str = "5d",
                  interval: str = "5m") -> Path:
    """Fetch bars with yfinance and write them, in yfinance's own CSV layout, to `path`."""
    try:
        import yfinance
    except ImportError:
        raise AcsimError("downloading needs the optional package yfinance: "
                         "pip install 'acsim[data]'") from None
    frame = yfinance.download(ticker, period=period, interval=interval, auto_adjust=True,
                              progress=False)
    if frame is None or frame.empty:
        raise ParameterError(f"yfinance returned no {interval} bars for ticker {ticker!r} "
                             f"over period {period!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return path
