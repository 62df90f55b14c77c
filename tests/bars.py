"""Bar tables and bar files for tests: the shared real samples and simulated bars in each of the
three layouts the loader reads (header, headerless FirstRate, yfinance)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import pandas as pd

REPOSITORY = Path(__file__).resolve().parents[1]
# The shared AAPL sample files live beside the repository (never inside it); ACSIM_DATA overrides.
DATA = Path(os.environ.get("ACSIM_DATA", REPOSITORY.parent / "shared" / "data"))
FIRSTRATE = DATA / "AAPL_5min_firstratedata_sample_2021-08-02_2021-08-13.txt"
YAHOO = DATA / "AAPL_5m_yahoo_5d_2026-02-13_2026-02-20.csv"
NEW_YORK = "America/New_York"


def simulated_bars(sessions: int = 5, bars_per_session: int = 78, volatility: float = 0.2,
                   volume: float = 1000.0, price: float = 100.0, overnight_jump: float = 20.0,
                   seed: int = 1) -> pd.DataFrame:
    """Regular-session 5-minute bars of an arithmetic random walk (σ per bar, constant volume).

    Each bar opens at the previous close; each session opens `overnight_jump` above the
    previous session's last close (a gap the calibration must not difference).
    """
    rng = np.random.default_rng(seed)
    frames = []
    day = datetime.date(2021, 8, 2)  # a Monday
    last_close = price
    for _ in range(sessions):
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        start = pd.Timestamp(datetime.datetime.combine(day, datetime.time(9, 30)), tz=NEW_YORK)
        index = start + pd.to_timedelta(5 * np.arange(bars_per_session), unit="min")
        first_open = last_close + overnight_jump
        close = first_open + np.cumsum(volatility * rng.standard_normal(bars_per_session))
        open_ = np.concatenate([[first_open], close[:-1]])
        wick = np.abs(rng.standard_normal((2, bars_per_session))) * 0.05
        frames.append(pd.DataFrame({
            "open": open_, "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1], "close": close,
            "volume": np.full(bars_per_session, volume)}, index=index.rename("timestamp")))
        last_close = close[-1]
        day += datetime.timedelta(days=1)
    return pd.concat(frames)


def write_headerless(path: Path, bars: pd.DataFrame) -> Path:
    """FirstRate layout: naive New York times, DateTime,Open,High,Low,Close,Volume."""
    local = bars.index.tz_convert(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"{stamp},{row.open!r},{row.high!r},{row.low!r},{row.close!r},{row.volume:.0f}"
             for stamp, row in zip(local, bars.itertuples())]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_yfinance(path: Path, bars: pd.DataFrame, order: list[str]) -> Path:
    """yfinance layout: three header lines, UTC times with offset, columns in `order`."""
    stamps = bars.index.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S+00:00")
    lines = ["Price," + ",".join(name.capitalize() for name in order),
             "Ticker," + ",".join("AAPL" for _ in order), "Datetime" + "," * len(order)]
    lines += [stamp + "," + ",".join(repr(float(getattr(row, name))) for name in order)
              for stamp, row in zip(stamps, bars.itertuples())]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_header(path: Path, bars: pd.DataFrame, names: dict[str, str],
                 stamps: list[str] | None = None) -> Path:
    """A plain CSV with a header: `names` maps our column names to the file's (in order)."""
    stamps = stamps or list(bars.index.tz_convert(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S"))
    frame = pd.DataFrame({names[key]: (stamps if key == "time" else bars[key].to_numpy())
                          for key in names})
    frame.to_csv(path, index=False)
    return path
