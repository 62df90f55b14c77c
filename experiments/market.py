"""`acsim market`: the order-flow market with no order, for many steps (MODEL §6).

Runs `--runs` runs of `--market-steps` steps each (run r is episode r of the random-stream
protocol with that many market steps, so it equals the warm-up of the engines' episode r) with
the compiled market loop, and writes one row per run and step to Parquet: run, step, return
r_k = S_k - S_{k-1}, price, efficient_price, ensemble_flow (Q_k, shares, + buys), field
(γ·Q_k/τ) and momentum_count. The defaults are the stylized market
(`acsim.simulator.market_run.STYLIZED_MARKET`); every configuration flag applies on top.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from acsim.experiments.flags import add_config_flags, tables_from_args
from acsim.experiments.planning import json_text
from acsim.simulator.config import load_config
from acsim.simulator.market_run import STYLIZED_MARKET, frame_returns, market_frame
from acsim.simulator.output_folder import parquet_output, write_parquet
from acsim.simulator.sizes import check, market_workload
from acsim.simulator.stylized_facts import excess_kurtosis
from acsim.strategies import order_flow, validation
from acsim.strategies.errors import ParameterError

DESCRIPTIONS = {"market": "Run the order-flow market (MODEL §6) with no order for many steps and "
                          "write its returns, prices, efficient prices, flows and counts to "
                          "Parquet (defaults: the stylized market, see README)."}
TABLES = ("market", "ensemble", "order_flow")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML configuration file (applied on top of the "
                                         "stylized market; flags on top of the file)")
    parser.add_argument("--market-steps", type=int, default=1_000_000,
                        help="steps per run (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=1, help="independent runs (default 1)")
    parser.add_argument("--first-run", type=int, default=0,
                        help="number of the first run in the seed's streams (default 0)")
    parser.add_argument("--seed", type=int, default=None, help="root seed (default 0)")
    parser.add_argument("--out", default="market.parquet",
                        help="Parquet file to write: new, or one acsim wrote (default "
                             "market.parquet)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_config_flags(parser, STYLIZED_MARKET, TABLES)


def market_config(args: argparse.Namespace):
    """The stylized market, then --config, then the flags; the feedback must be order-flow."""
    config = load_config(args.config, STYLIZED_MARKET) if args.config else STYLIZED_MARKET
    tables = tables_from_args(args, TABLES)
    if args.seed is not None:
        tables["simulation"] = {"seed": validation.integer("--seed", args.seed, 0)}
    config = config.replace(**tables)
    if not config.order_flow_market:
        raise ParameterError("acsim market runs the order-flow market: --feedback must be "
                             f"{order_flow.ORDER_FLOW!r}, got {config.market.feedback!r}")
    return config


def run(name: str, args: argparse.Namespace) -> None:
    steps = validation.integer("--market-steps", args.market_steps, 2)
    runs = validation.integer("--runs", args.runs, 1)
    first = validation.integer("--first-run", args.first_run, 0)
    out = parquet_output(args.out)  # checked before any work
    config = market_config(args)
    check(market_workload(config, steps, runs), args.allow_large)
    started = time.perf_counter()
    frame = market_frame(config, steps, runs, first)
    seconds = time.perf_counter() - started
    returns = frame_returns(frame)
    flat = [run for run, part in enumerate(returns.segments()) if np.ptp(part) == 0.0]
    if flat:  # no spread of returns: their kurtosis and autocorrelation are undefined
        raise ParameterError(
            f"run {first + flat[0]}: every return is the same, so their kurtosis and "
            f"autocorrelation are undefined: the price ({config.market.price:g}) is so large "
            "that its changes are lost to rounding, or nothing moves it; reduce price or raise "
            "volatility")
    write_parquet(frame, out)
    lag_one = [np.corrcoef(part[:-1], part[1:])[0, 1] for part in returns.segments()]
    summary = {"runs": runs, "steps_per_run": steps, "seconds": seconds,
               "steps_per_second": runs * steps / seconds, "agents": config.ensemble.agents,
               "return_std": float(returns.values.std()),
               "excess_kurtosis": float(excess_kurtosis(returns.values)),
               "acf_lag_1": float(np.mean(lag_one)),
               "mean_momentum_count": float(frame["momentum_count"].mean()), "out": str(out)}
    if args.format == "json":
        print(json_text(summary))
        return
    print(f"{runs} run(s) × {steps:,} steps of the order-flow market "
          f"({config.ensemble.agents} agents, seed {config.seed}) in {seconds:.2f} s "
          f"({summary['steps_per_second']:,.0f} steps/s); written to {out}")
    print(f"  return std {summary['return_std']:.4g} price units per step, excess kurtosis "
          f"{summary['excess_kurtosis']:.3f}, ACF(r) at lag 1 {summary['acf_lag_1']:.3f}, "
          f"mean momentum count {summary['mean_momentum_count']:.1f}")
