"""Model risk in the order-flow market: planners that believe the paper's reduced form.

At every point of a grid of the ensemble's momentum share and herding, the reduced form
(`acsim.simulator.order_flow_calibration.fit_reduced_form`) is fitted to simulated episodes of
that order-flow market (its own seed), and every strategy plans with it as its beliefs; a study
on common random numbers then measures what each strategy realises in the order-flow market
itself, where the ensemble's feedback emerges from its orders.

Grid coordinates: the momentum share s = a1/(a1 + a2), the stationary mean fraction of
momentum agents of the Kirman chain (a2 kept, a1 = s·a2/(1 - s)), and the herding b.

Predicted cost: the E and V each planner's own model assigns to its plan at the order's start
(MODEL §3: E with its planning drift and believed self-alpha, V = σ̂²τΣx_k²), in a sample of
episodes (the plan of a receding-horizon strategy, or of `extended`, depends on the count it
sees); the prediction of the realised mean is the sample mean of E and that of the realised
variance is mean(V) + variance(E) (the law of total variance over the episodes' starts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from acsim.agents.policies import RecedingHorizon, StaticSchedule, strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.vectorised import MarketBatch, market_draws
from acsim.strategies import costs, validation
from acsim.strategies.errors import ParameterError

STRATEGIES = (strategy("twap"), strategy("ac-static"), strategy("ac-adaptive"),
              strategy("extended", forecast="model"), strategy("extended", forecast="persistent"),
              strategy("extended", forecast="model", no_buyback=True),
              strategy("extended", forecast="persistent", no_buyback=True))


def grid_market(base: SimulationConfig, momentum_share: float,
                herding: float) -> SimulationConfig:
    """`base` with the Kirman chain's stationary momentum share s and herding b."""
    share = validation.in_range("momentum_share", momentum_share, 1e-9, 1.0 - 1e-9)
    a2 = base.ensemble.switch_to_mean_reversion
    a1 = share * a2 / (1.0 - share)
    if a1 + herding > 1.0 or a2 + herding > 1.0:
        raise ParameterError(f"momentum share {momentum_share} with herding {herding} needs "
                             f"switching rates a1 = {a1:.4g}, a2 = {a2:.4g} with a_i + b <= 1")
    return base.replace(ensemble={"switch_to_momentum": a1, "herding": herding})


def initial_plans(config: SimulationConfig, policy: object, episodes: int
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """(holdings plans (E, N+1), sell-equivalent planning drifts (E, N), believed self-alpha)
    of a started policy at the order's start in the first `episodes` episodes of block 0."""
    draws = market_draws(config, 0, 0, episodes)
    observation = MarketBatch(config, draws.counts, draws.noise, draws.momentum).observation()
    market = config.planning_beliefs().market
    if isinstance(policy, StaticSchedule):
        plan = costs.holdings_from_trades(market.shares, policy.planned)
        drift = np.full((episodes, market.steps), market.planning_drift)
        return np.repeat(plan[None, :], episodes, axis=0), drift, 0.0
    if isinstance(policy, RecedingHorizon):
        drift = policy.planning_drifts(observation)
        plans = policy.planner.holdings(observation.holdings, drift, None, policy.no_buyback)
        self_alpha = (config.planning_beliefs().extended.self_alpha
                      if policy.believes_feedback else 0.0)
        return plans, drift, self_alpha
    raise ParameterError(f"no predicted cost for the policy {policy!r}")


def predicted_cost(config: SimulationConfig, policy: object, episodes: int) -> dict:
    """The planner's own prediction of its mean and standard deviation of IS (module
    docstring), currency."""
    plans, drift, self_alpha = initial_plans(config, policy, episodes)
    market = config.planning_beliefs().market
    expected = costs.expected_shortfall(market, plans, drift, self_alpha)
    variance = costs.shortfall_variance(market, plans)
    return {"predicted_mean": float(expected.mean()),
            "predicted_std": float(np.sqrt(variance.mean() + expected.var())),
            "predicted_model_std": float(np.sqrt(variance.mean()))}


@dataclass(frozen=True)
class PointResults:
    """The tables of one grid point: summary (per strategy, realised and predicted),
    paired (differences against a reference, with 95% intervals) and the reduced form."""

    summary: pd.DataFrame
    paired: pd.DataFrame
    reduced_form: pd.DataFrame


def paired_against(frame: pd.DataFrame, reference: str, others: list[str]) -> pd.DataFrame:
    """IS(strategy) - IS(reference), episode by episode, with 95% intervals."""
    from acsim.simulator.statistics import paired_difference

    wide = frame.pivot(index="episode", columns="strategy", values="shortfall")
    rows = []
    for name in others:
        differences = (wide[name] - wide[reference]).to_numpy()
        rows.append({"strategy": name, "reference": reference,
                     **paired_difference(lambda values=differences: [values])})
    return pd.DataFrame(rows)
