"""The planners optimal under the impact models of MODEL.md §7, behind one interface.

`acsim.strategies.impact.CompositeImpact.planner(problem, urgency)` returns one of these; the
policies call them exactly as they call `acsim.strategies.extended.LinearPlanner`:

- `holdings(holdings, drift, state, no_buyback)`: the optimal holdings x_0..x_m of every
  episode, shape (E, m + 1), from current holdings x_0 (E,) and planning drifts a_1..a_m
  (E, m) (sell-equivalent units, urgency q = λσ² + self_alpha);
- `first_trades(...)`: n_1 of those plans, shape (E,) (what a receding-horizon policy trades).

`state` is what the planner needs to know of the past: the order's own past trades n_1..n_k
(E, k) (`Observation.past_trades`; sell-equivalent), from which a transient planner computes,
with its own (believed) kernel, the displacement they will still cause at each remaining trade.
Power-law and memoryless planners ignore it.

Every planner is exact for its model: the power law by Newton's method with an active set
(`power_law.optimal_holdings`, sell-only by construction), transient impact with linear
temporary impact by the dense solve with precomputed gains (`transient.TransientPlanner`; with
no buy-back, the plans that would buy back are re-solved by the convex reference), and power law
with transient impact by the convex reference solver (`reference_impact.ImpactReference`, cvxpy
+ CLARABEL: milliseconds per episode and step, for small runs only).
"""

from __future__ import annotations

import numpy as np

from acsim.strategies import power_law, transient
from acsim.strategies.parameters import ExecutionProblem
from acsim.strategies.power_law import PowerLawImpact
from acsim.strategies.reference_impact import ImpactReference


def first_trades_of(plans: np.ndarray) -> np.ndarray:
    """n_1 = x_0 - x_1 of plans (E, m + 1)."""
    return plans[:, 0] - plans[:, 1]


def past_displacement(kernel: transient.DecayKernel, state: object, step_length: float,
                      episodes: int, remaining: int) -> np.ndarray:
    """v_1..v_m (E, m): the displacement the past trades `state` (E, k) cause at each of the
    m remaining trades under `kernel` (zeros without past trades)."""
    if state is None or np.shape(state)[-1] == 0:
        return np.zeros((episodes, remaining))
    return transient.past_displacement(kernel, state, step_length, remaining)


class PowerLawPlanner:
    """The exact sell-only optimum under power-law temporary impact (MODEL §7).

    Trades are never negative, so `no_buyback` changes nothing; holdings a hair below 0 from
    rounding are planned from 0.
    """

    def __init__(self, problem: ExecutionProblem, impact: PowerLawImpact, urgency: float) -> None:
        self.impact = impact
        self.step_length = problem.step_length
        self.permanent_impact = problem.permanent_impact
        self.urgency = urgency

    def holdings(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                 no_buyback: bool = False) -> np.ndarray:
        return power_law.optimal_holdings(
            self.impact, np.maximum(np.asarray(holdings, dtype=float), 0.0), drift,
            step_length=self.step_length, permanent_impact=self.permanent_impact,
            urgency=self.urgency)

    def first_trades(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                     no_buyback: bool = False) -> np.ndarray:
        return first_trades_of(self.holdings(holdings, drift, state, no_buyback))


class TransientImpactPlanner:
    """The exact optimum with linear temporary and transient impact (MODEL §7), from the
    displacement the order's own past trades still cause (computed with this planner's kernel).

    Unconstrained plans come from `transient.TransientPlanner`'s gains (exact whenever they do
    not reverse); with `no_buyback`, the plans that would buy back are solved by the convex
    reference with n >= 0.
    """

    def __init__(self, problem: ExecutionProblem, kernel: transient.DecayKernel,
                 urgency: float) -> None:
        self.kernel = kernel
        self.step_length = problem.step_length
        self.temporary_impact = problem.temporary_impact
        self.permanent_impact = problem.permanent_impact
        self.urgency = urgency
        self.planner = transient.TransientPlanner(kernel, problem.step_length,
                                                  problem.temporary_impact,
                                                  problem.permanent_impact, urgency,
                                                  problem.steps)

    def holdings(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                 no_buyback: bool = False) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=float)
        drift = np.asarray(drift, dtype=float)
        past = past_displacement(self.kernel, state, self.step_length, holdings.shape[0],
                                 drift.shape[-1])
        plans = self.planner.holdings(holdings, drift, past)
        if no_buyback:
            buys = np.flatnonzero(np.any(np.diff(plans, axis=1) > 0.0, axis=1) | (holdings < 0.0))
            if buys.size:
                reference = ImpactReference(
                    self.step_length, self.urgency, temporary_impact=self.temporary_impact,
                    permanent_impact=self.permanent_impact, kernel=self.kernel, no_buyback=True)
                for episode in buys:
                    plans[episode] = reference.holdings(holdings[episode], drift[episode],
                                                        past[episode])
        return plans

    def first_trades(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                     no_buyback: bool = False) -> np.ndarray:
        if no_buyback:
            return first_trades_of(self.holdings(holdings, drift, state, True))
        drift = np.asarray(drift, dtype=float)
        past = past_displacement(self.kernel, state, self.step_length, np.shape(holdings)[0],
                                 drift.shape[-1])
        return self.planner.first_trade(holdings, drift, past)


class ConvexImpactPlanner:
    """Power-law temporary impact with transient impact: the convex reference solver
    (cvxpy + CLARABEL, power cones; sell-only), one episode at a time. Slow: for small runs."""

    def __init__(self, problem: ExecutionProblem, impact: PowerLawImpact,
                 kernel: transient.DecayKernel, urgency: float) -> None:
        self.kernel = kernel
        self.step_length = problem.step_length
        self.reference = ImpactReference(problem.step_length, urgency,
                                         permanent_impact=problem.permanent_impact,
                                         power_law=impact, kernel=kernel)

    def holdings(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                 no_buyback: bool = False) -> np.ndarray:
        holdings = np.maximum(np.asarray(holdings, dtype=float), 0.0)
        drift = np.asarray(drift, dtype=float)
        episodes, remaining = holdings.shape[0], drift.shape[-1]
        past = past_displacement(self.kernel, state, self.step_length, episodes, remaining)
        drift = np.broadcast_to(drift, (episodes, remaining))
        return np.stack([self.reference.holdings(holdings[e], drift[e], past[e])
                         for e in range(episodes)])

    def first_trades(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                     no_buyback: bool = False) -> np.ndarray:
        return first_trades_of(self.holdings(holdings, drift, state, no_buyback))
