"""Episode results and their summary statistics.

Arrays carry a leading episodes axis. Per step k = 1..N: fill S̃_k, field f_k, trade n_k (and
the volatility regime s_k when the market has regimes); per time t_0..t_N: price S_k, momentum
count m_k, holdings x_k.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from acsim.simulator import market
from acsim.strategies.parameters import ExecutionProblem


@dataclass(frozen=True)
class EpisodeResults:
    """Paths and realised implementation shortfall of one or more episodes."""

    prices: np.ndarray           # (E, N+1) S_0..S_N
    fills: np.ndarray            # (E, N)   S̃_1..S̃_N
    fields: np.ndarray           # (E, N)   f_1..f_N
    momentum_counts: np.ndarray  # (E, N+1) m_0..m_N
    holdings: np.ndarray         # (E, N+1) x_0..x_N
    trades: np.ndarray           # (E, N)   n_1..n_N
    shortfall: np.ndarray        # (E,) currency
    shortfall_bps: np.ndarray    # (E,) basis points of arrival notional
    regimes: np.ndarray | None = None  # (E, N) s_1..s_N with volatility regimes, else None

    @classmethod
    def from_paths(cls, problem: ExecutionProblem, *, prices: np.ndarray, fills: np.ndarray,
                   fields: np.ndarray, momentum_counts: np.ndarray, holdings: np.ndarray,
                   trades: np.ndarray, regimes: np.ndarray | None = None) -> EpisodeResults:
        shortfall = market.implementation_shortfall(problem, trades, fills)
        return cls(prices, fills, fields, momentum_counts.astype(np.int64), holdings, trades,
                   shortfall, market.shortfall_bps(problem, shortfall), regimes)

    @classmethod
    def joined(cls, parts: list[EpisodeResults]) -> EpisodeResults:
        """The episodes of several results one after another (regimes kept when present)."""
        return cls(**{item.name: (None if getattr(parts[0], item.name) is None else
                                  np.concatenate([getattr(part, item.name) for part in parts]))
                      for item in dataclasses.fields(cls)})

    @property
    def episodes(self) -> int:
        return self.shortfall.shape[0]

    def to_frame(self) -> pd.DataFrame:
        """One row per episode and time t_0..t_N (step-0 rows have no trade or fill)."""
        episodes, points = self.prices.shape
        pad = np.full((episodes, 1), np.nan)
        frame = pd.DataFrame({
            "episode": np.repeat(np.arange(episodes), points),
            "step": np.tile(np.arange(points), episodes),
            "price": self.prices.ravel(),
            "fill_price": np.hstack([pad, self.fills]).ravel(),
            "field": np.hstack([pad, self.fields]).ravel(),
            "momentum_count": self.momentum_counts.ravel(),
            "holdings": self.holdings.ravel(),
            "trade": np.hstack([pad, self.trades]).ravel(),
        })
        if self.regimes is not None:
            frame["regime"] = np.hstack([np.full((episodes, 1), -1), self.regimes]).ravel()
        frame["shortfall"] = np.repeat(self.shortfall, points)
        return frame


def format_summary(summary: dict) -> str:
    """A readable block of IS statistics."""
    lines = [f"{summary.get('strategy', '')} ({summary.get('engine', '')} engine, "
             f"seed {summary.get('seed', '')}): {summary['episodes']:,} episodes"]
    rows = [("mean IS", summary["mean_is"], "currency"),
            ("std IS", summary["std_is"], "currency"),
            ("std error", summary["stderr_is"], "currency"),
            ("mean IS", summary["mean_is_bps"], "bps of arrival notional"),
            ("VaR 95%", summary["var95"], "currency"),
            ("CVaR 95%", summary["cvar95"], "currency")]
    lines += [f"  {name:<10} {value:>14,.4f} {unit}" for name, value, unit in rows]
    return "\n".join(lines)
