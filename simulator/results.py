"""Episode results and their summary statistics.

Arrays carry a leading episodes axis. Per step k = 1..N: fill S̃_k, field f_k, trade n_k (and
the volatility regime s_k when the market has regimes); per time t_0..t_N: price S_k, momentum
count m_k, holdings x_k. The order-flow market (MODEL §6) adds its whole path, warm-up steps
1-W..0 included (`MarketPaths`); its field is the flow's f_k = γ·Q_k/τ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from acsim.simulator import market
from acsim.strategies.parameters import ExecutionProblem


@dataclass(frozen=True)
class MarketPaths:
    """The order-flow market's path, by market step j = 0..W+N (order step k = j - W):
    prices S_{-W}..S_N and efficient prices F_{-W}..F_N, (E, W+N+1); flows Q_{1-W}..Q_N
    (shares, + buys) and fields f = γ·Q/τ, (E, W+N); momentum counts m_{-W}..m_N, (E, W+N+1)."""

    warmup: int
    prices: np.ndarray
    efficient_prices: np.ndarray
    flows: np.ndarray
    fields: np.ndarray
    momentum_counts: np.ndarray


@dataclass(frozen=True)
class EpisodeResults:
    """Paths and realised implementation shortfall of one or more episodes.

    In the order-flow market `fields` are the flow's f_k = γ·Q_k/τ and `market` holds the whole
    path, warm-up included; the arrival price S_0 is the price after the warm-up.
    """

    prices: np.ndarray           # (E, N+1) S_0..S_N
    fills: np.ndarray            # (E, N)   S̃_1..S̃_N
    fields: np.ndarray           # (E, N)   f_1..f_N
    momentum_counts: np.ndarray  # (E, N+1) m_0..m_N
    holdings: np.ndarray         # (E, N+1) x_0..x_N
    trades: np.ndarray           # (E, N)   n_1..n_N
    shortfall: np.ndarray        # (E,) currency
    shortfall_bps: np.ndarray    # (E,) basis points of arrival notional
    market: MarketPaths | None = None  # the order-flow market's whole path
    regimes: np.ndarray | None = None  # (E, N) s_1..s_N with volatility regimes, else None

    @classmethod
    def from_paths(cls, problem: ExecutionProblem, *, prices: np.ndarray, fills: np.ndarray,
                   fields: np.ndarray, momentum_counts: np.ndarray, holdings: np.ndarray,
                   trades: np.ndarray, market_paths: MarketPaths | None = None,
                   regimes: np.ndarray | None = None) -> EpisodeResults:
        arrival = prices[:, 0]
        shortfall = market.implementation_shortfall(problem, trades, fills, arrival)
        return cls(prices, fills, fields, momentum_counts.astype(np.int64), holdings, trades,
                   shortfall, market.shortfall_bps(problem, shortfall, arrival), market_paths,
                   regimes)

    @classmethod
    def joined(cls, parts: list[EpisodeResults]) -> EpisodeResults:
        """The episodes of several results one after another (market paths and regimes kept
        when present)."""
        def join(items: list) -> object:
            first = items[0]
            if first is None:
                return None
            if isinstance(first, MarketPaths):
                return MarketPaths(first.warmup, *(
                    np.concatenate([getattr(item, field.name) for item in items])
                    for field in dataclasses.fields(MarketPaths)[1:]))
            return np.concatenate(items)
        return cls(**{item.name: join([getattr(part, item.name) for part in parts])
                      for item in dataclasses.fields(cls)})

    @property
    def episodes(self) -> int:
        return self.shortfall.shape[0]

    def to_frame(self) -> pd.DataFrame:
        """One row per episode and time t_0..t_N (step-0 rows have no trade or fill).

        In the order-flow market the rows start at the warm-up, steps -W..N (warm-up steps
        trade 0 shares and fill nothing; step -W, the initial state, has no flow), with the
        columns efficient_price and ensemble_flow (Q_k, shares) added.
        """
        paths = self.market
        if paths is None:
            prices, counts, fields = self.prices, self.momentum_counts, self.fields
            fills, holdings, trades, first = self.fills, self.holdings, self.trades, 0
        else:
            prices, counts, fields = paths.prices, paths.momentum_counts, paths.fields
            first = -paths.warmup
            waiting = np.zeros((self.episodes, paths.warmup))
            fills = np.hstack([waiting + np.nan, self.fills])
            holdings = np.hstack([waiting + self.holdings[:, :1], self.holdings])
            trades = np.hstack([waiting, self.trades])
        episodes, points = prices.shape
        pad = np.full((episodes, 1), np.nan)
        frame = pd.DataFrame({
            "episode": np.repeat(np.arange(episodes), points),
            "step": np.tile(np.arange(first, first + points), episodes),
            "price": prices.ravel(),
            "fill_price": np.hstack([pad, fills]).ravel(),
            "field": np.hstack([pad, fields]).ravel(),
            "momentum_count": counts.ravel(),
            "holdings": holdings.ravel(),
            "trade": np.hstack([pad, trades]).ravel(),
        })
        if paths is not None:
            frame["efficient_price"] = paths.efficient_prices.ravel()
            frame["ensemble_flow"] = np.hstack([pad, paths.flows]).ravel()
        if self.regimes is not None:  # (no warm-up: regimes and the order-flow market exclude
            # each other) the regime of step k; step 0 has none
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
            ("CVaR 95%", summary["cvar95"], "currency"),
            ("utility", summary["utility"],
             f"currency, E + λV (± {summary['utility'] - summary['utility_ci95_low']:,.4f} "
             "at 95%)")]
    lines += [f"  {name:<10} {value:>14,.4f} {unit}" for name, value, unit in rows]
    return "\n".join(lines)
