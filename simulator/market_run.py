"""Market-only runs of the order-flow market (MODEL §6): no order, many steps, one compiled loop.

Run r of `steps` steps is episode r of the random-stream protocol (simulator/randomness.py)
with `steps` market steps: its initial count, ensemble uniforms, price shocks ξ and momentum
shocks ζ are the draws an order-flow episode of W + N = `steps` steps would use. So the run
equals that episode's market wherever the episode's order does not trade: over the whole
warm-up, and beyond it for as long as the executing agent trades nothing (tests check it
against both engines). Steps are numbered 1..T here (the engine numbers the same steps
1-W..N).

The count path is generated a chunk of steps at a time (the ensemble stream is read in order,
so memory stays bounded for 10⁶ steps of 100 agents: 10⁸ uniforms); the price loop is
`acsim.strategies.order_flow_kernels.market_path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acsim.simulator.config import SimulationConfig
from acsim.simulator.market_data import session_dates
from acsim.simulator.randomness import (
    BLOCK_SIZE,
    ensemble_stream,
    initial_uniforms,
    momentum_shocks,
    noise_shocks,
)
from acsim.simulator.stylized_facts import SegmentedReturns, price_changes
from acsim.strategies import ensemble, order_flow, validation
from acsim.strategies.errors import ParameterError

UNIFORMS_AT_ONCE = 1 << 22  # ensemble uniforms generated per chunk (32 MB)

# The market `acsim market` and `acsim stylized-facts` run by default: the default market and
# [order_flow] tables (σ = 0.1 per √step, γ = 1e-4, τ = 1; φ = ψ = 10, ν = 30, β_m = 0,
# β_r = 1, L = 5) with an ensemble that is mostly mean-reverting and herds now and then into
# bursts of momentum (noise) trading: a1 = 5e-4, a2 = 1e-2, b = 0.5, so A1 = a1(M-1)/b ≈ 0.1
# and A2 ≈ 2 (MODEL §4: the count's law piles up near 0 with a long tail towards M).
STYLIZED_MARKET = SimulationConfig().replace(
    market={"feedback": order_flow.ORDER_FLOW},
    ensemble={"switch_to_momentum": 5e-4, "switch_to_mean_reversion": 1e-2, "herding": 0.5,
              "initial": "stationary"})


@dataclass(frozen=True)
class MarketRun:
    """One market-only run: prices S_0..S_T, efficient prices F_0..F_T, flows Q_1..Q_T
    (shares, + buys) and momentum counts m_0..m_T."""

    prices: np.ndarray
    efficient_prices: np.ndarray
    flows: np.ndarray
    momentum_counts: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """r_k = S_k - S_{k-1}, k = 1..T (price units per step)."""
        return np.diff(self.prices)

    def to_frame(self, permanent_impact: float, step_length: float) -> pd.DataFrame:
        """One row per step k = 1..T: return, price, efficient price, flow, field, count."""
        steps = self.flows.shape[0]
        return pd.DataFrame({
            "step": np.arange(1, steps + 1), "return": self.returns, "price": self.prices[1:],
            "efficient_price": self.efficient_prices[1:], "ensemble_flow": self.flows,
            "field": order_flow.flow_field(self.flows, permanent_impact, step_length),
            "momentum_count": self.momentum_counts[1:]})


def market_frame(config: SimulationConfig, steps: int, runs: int = 1,
                 first_run: int = 0) -> pd.DataFrame:
    """Runs first_run .. first_run + runs - 1 of `steps` steps, one row per run and step
    (columns run, step, return, price, efficient_price, ensemble_flow, field, momentum_count)."""
    validation.integer("runs", runs, 1)
    market = config.market
    return pd.concat([simulate_market(config, steps, run).to_frame(
        market.permanent_impact, market.step_length).assign(run=run)[
        ["run", "step", "return", "price", "efficient_price", "ensemble_flow", "field",
         "momentum_count"]] for run in range(first_run, first_run + runs)], ignore_index=True)


def frame_returns(frame: pd.DataFrame) -> SegmentedReturns:
    """The returns of a market frame (`market_frame` or its Parquet file), one segment per
    run, in step order."""
    missing = {"run", "step", "return"} - set(frame.columns)
    if missing:
        raise ParameterError(f"a market-returns table needs the columns run, step and return; "
                             f"missing {sorted(missing)}")
    ordered = frame.sort_values(["run", "step"], kind="stable")
    return SegmentedReturns.from_segments([group["return"].to_numpy()
                                           for _, group in ordered.groupby("run", sort=True)])


def read_returns(path: str | Path) -> SegmentedReturns:
    """The returns of a Parquet file written by `acsim market`, or a named error for a path that
    is missing, a directory or not such a Parquet file."""
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"returns file {str(path)!r} is a directory, not a Parquet file")
    if not path.is_file():
        raise ParameterError(f"returns file {str(path)!r} does not exist")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise ParameterError(f"returns file {str(path)!r} is not a readable Parquet file: "
                             f"{str(error).splitlines()[0]}") from None
    return frame_returns(frame)


def bar_returns(bars: pd.DataFrame) -> SegmentedReturns:
    """Close-to-close changes of adjacent bars inside each session (nothing across a night)."""
    return price_changes(bars["close"].to_numpy(), session_dates(bars))


def run_counts(config: SimulationConfig, steps: int, run: int) -> np.ndarray:
    """Momentum counts m_0..m_T of run `run`, generated a chunk of steps at a time."""
    parameters = config.ensemble
    block, offset = divmod(run, BLOCK_SIZE)
    draws = parameters.draws_per_step
    counts = np.empty(steps + 1, dtype=np.int64)
    counts[0] = ensemble.initial_count(parameters,
                                       initial_uniforms(config.seed, block, offset, 1))[0]
    generator = ensemble_stream(config.seed, block, steps, draws, offset)
    chunk = max(1, UNIFORMS_AT_ONCE // draws)
    for start in range(0, steps, chunk):
        size = min(chunk, steps - start)
        uniforms = generator.random(size * draws).reshape(1, size, draws)
        out = np.empty((1, size + 1), dtype=np.int64)
        parameters.rule.count_paths(counts[start:start + 1], uniforms, parameters.agents, out)
        counts[start + 1:start + size + 1] = out[0, 1:]
    return counts


def simulate_market(config: SimulationConfig, steps: int, run: int = 0) -> MarketRun:
    """Run `run` of the order-flow market with no order for `steps` steps (see the module
    docstring). The [market] table gives the initial price, drift, σ, γ and τ = T/N of the
    order's clock; [ensemble] the switching; [order_flow] the orders (its warm-up is unused)."""
    from acsim.strategies.order_flow_kernels import market_path

    steps = validation.integer("steps", steps, 1)
    run = validation.integer("run", run, 0)
    config.check_simulated_magnitudes(steps)
    market, flow = config.market, config.order_flow
    block, offset = divmod(run, BLOCK_SIZE)
    counts = run_counts(config, steps, run)
    noise = noise_shocks(config.seed, block, steps, offset, 1)[0]
    shocks = momentum_shocks(config.seed, block, steps, offset, 1)[0]
    prices, efficient = np.empty(steps + 1), np.empty(steps + 1)
    flows = np.empty(steps)
    tau = market.step_length
    market_path(counts, noise, shocks, market.price, config.ensemble.agents, market.drift, tau,
                market.volatility, market.permanent_impact, flow.lookback,
                order_flow.trend_scale(market.volatility, tau, flow.lookback),
                order_flow.mispricing_scale(market.volatility, tau), flow.momentum_size,
                flow.reversion_size, flow.momentum_sensitivity, flow.reversion_sensitivity,
                flow.momentum_noise, prices, efficient, flows)
    return MarketRun(prices, efficient, flows, counts)
