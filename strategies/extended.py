"""Extended Almgren-Chriss planner (MODEL.md §3b), exact and fast.

For a remaining horizon of m steps from holdings x_0 the planner minimises, in
sell-equivalent units,

    U = (η̃/τ)·Σ_{k=1}^{m} n_k² + q·τ·Σ_{k=1}^{m} x_k² - τ·Σ_{k=1}^{m} a_k·x_k,   x_m = 0,

with urgency q = λσ² + self_alpha and planning drift a_k = side·(α_exo + coupling·f̂_k).
The spread cost ε·Σ|n_k| equals ε·x_0 for any schedule that never reverses, so it does
not move the optimum; the equality-constrained solver is exact for it whenever the
answer never reverses, and the no-buy-back solver (n_k >= 0) is exact always.

Setting the gradient to zero gives the tridiagonal system

    -x_{j-1} + d·x_j - x_{j+1} = τ²·a_j/(2η̃),   j = 1..m-1,   d = 2 + qτ²/η̃ = 2·cosh κτ,

so the optimum is linear in (x_0, a): x_1 = h_1·x_0 + τ²/(2η̃)·Σ_j h_j·a_j with
h_j = sinh(κ(m-j)τ)/sinh(κmτ), the first column of the inverse matrix. `LinearGains`
precomputes h for every remaining length so a receding-horizon agent's first trade
costs one multiply-add per forecast step (O(1) when the forecast is constant).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dgtsv

from acsim.strategies.almgren_chriss import discrete_kappa, sinh_ratio
from acsim.strategies.errors import InfeasibleProblemError, SolverError
from acsim.strategies.parameters import (
    ExecutionProblem,
    ExtendedParameters,
    PlanningInputs,
    planning_inputs,
)


def tridiagonal_solve(diagonal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve tridiag(-1, diagonal, -1)·y = rhs (LAPACK dgtsv); rhs is (size,) or (size, k)."""
    if diagonal.shape[0] == 1:  # dgtsv's wrapper rejects empty off-diagonals
        return rhs / diagonal[0]
    off = np.full(diagonal.shape[0] - 1, -1.0)
    *_, solution, info = dgtsv(off, diagonal, off, rhs)
    if info != 0:
        raise SolverError(f"tridiagonal solve failed (LAPACK dgtsv info = {info})")
    return solution


def optimal_holdings(inputs: PlanningInputs, holdings: float | np.ndarray) -> np.ndarray:
    """Equality-constrained optimum x_0..x_m for current holdings (batched).

    inputs.drift has shape (..., m); holdings is a scalar or has shape (...).
    Returns an array of shape (..., m + 1) with x_0 = holdings and x_m = 0.
    """
    drift = np.asarray(inputs.drift, dtype=float)
    steps = drift.shape[-1]
    batch = drift.shape[:-1]
    path = np.zeros(batch + (steps + 1,))
    path[..., 0] = holdings
    if steps == 1:
        return path
    scale = inputs.step_length**2 / (2.0 * inputs.effective_temporary_impact)
    diagonal = np.full(steps - 1, 2.0 + 2.0 * scale * inputs.urgency)
    rhs = scale * drift[..., : steps - 1].reshape(-1, steps - 1).T
    rhs[0, :] += path[..., 0].reshape(-1)
    path[..., 1:steps] = tridiagonal_solve(diagonal, rhs).T.reshape(batch + (steps - 1,))
    return path


class LinearGains:
    """Precomputed gains of the equality-constrained planner for every remaining length.

    first trade = holdings·holding_gain[m] - Σ_k drift_gain[m][k]·a_k,  k = 1..m,
    where m is the number of remaining steps (including the one being traded).
    """

    def __init__(self, step_length: float, effective_temporary_impact: float, urgency: float,
                 steps: int) -> None:
        self.steps = steps
        rate = discrete_kappa(urgency, effective_temporary_impact, step_length)
        scale = step_length**2 / (2.0 * effective_temporary_impact)
        self.holding_gain = np.zeros(steps + 1)
        self.drift_gain: list[np.ndarray] = [np.zeros(0)]
        for remaining in range(1, steps + 1):
            horizon = remaining * step_length
            # h_j for j = 0..m; h_m = 0 so the last drift (on x_m = 0) has no gain.
            h = sinh_ratio(rate, horizon - np.arange(remaining + 1) * step_length, horizon)
            h[-1] = 0.0
            self.holding_gain[remaining] = 1.0 - h[1] if remaining > 1 else 1.0
            self.drift_gain.append(scale * h[1:])
        self.constant_drift_gain = np.array([gain.sum() for gain in self.drift_gain])

    @classmethod
    def from_inputs(cls, inputs: PlanningInputs) -> LinearGains:
        return cls(inputs.step_length, inputs.effective_temporary_impact, inputs.urgency,
                   inputs.steps)

    def first_trade(self, holdings: np.ndarray, drift: np.ndarray) -> np.ndarray:
        """First trade for drift forecasts of shape (..., m) (m = remaining steps)."""
        drift = np.asarray(drift, dtype=float)
        remaining = drift.shape[-1]
        # elementwise product and sum, not a BLAS product: the same digits for one episode
        # or many, whatever the thread count
        return (holdings * self.holding_gain[remaining]
                - np.sum(drift * self.drift_gain[remaining], axis=-1))

    def first_trade_constant_drift(self, holdings: np.ndarray, remaining: int,
                                   drift: np.ndarray | float) -> np.ndarray:
        """First trade when the drift forecast is the same in every remaining step."""
        return holdings * self.holding_gain[remaining] - drift * self.constant_drift_gain[remaining]


def no_buyback_plans(inputs: PlanningInputs, holdings: np.ndarray,
                     resting: np.ndarray | None = None, *, boundary_sweeps: bool = True,
                     primal_dual_rounds: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimum with n_k >= 0 (a seller never buys back) of every episode, in one
    compiled call (`acsim.strategies.no_buyback_kernels`).

    inputs.drift: (E, m), price units per time unit; holdings: x_0 >= 0 in shares,
    shape (E,). resting: a guessed working set, (E, m + 1) booleans, True where n_k = 0
    (column 0 unused; None: guess where the equality-constrained plan buys back). The guess
    changes the work, not the optimum: the previous step's working set, shifted by a step,
    is usually close. boundary_sweeps: first try the optima that rest on one side of a single
    boundary (sold out early, or waiting before selling), one sweep each (False: the active
    set alone). primal_dual_rounds: how many rounds may change the working set wholesale
    before the primal active set, one step at a time, takes over (None: the kernel's
    PRIMAL_DUAL_ROUNDS; 0: the primal active set alone). Returns (x_0..x_m of shape
    (E, m + 1), the optimal working sets).
    Where the equality-constrained plan never buys back it is the answer (as
    `optimal_holdings` gives it, to rounding). Every trade is >= 0, resting ones exactly 0.
    Episodes are independent of each other. Raises
    InfeasibleProblemError for x_0 < 0, SolverError naming episodes that did not converge.
    """
    from acsim.strategies.no_buyback_kernels import (
        NOT_CONVERGED,
        PRIMAL_DUAL_ROUNDS,
        solve_batch,
    )

    drift = np.ascontiguousarray(inputs.drift, dtype=float)
    episodes, steps = drift.shape
    start = np.ascontiguousarray(np.broadcast_to(np.asarray(holdings, dtype=float),
                                                 (episodes,)))
    negative = np.flatnonzero(start < 0.0)
    if negative.size:
        raise InfeasibleProblemError(
            f"no buy-back: holdings {start[negative[0]]!r} < 0 (episode {negative[0]}) cannot "
            "be brought to 0 by selling only")
    guess = (np.zeros((episodes, steps + 1), dtype=bool) if resting is None
             else np.array(resting, dtype=bool))
    path = np.empty((episodes, steps + 1))  # the kernel writes every element
    tau, impact, urgency = (inputs.step_length, inputs.effective_temporary_impact,
                            inputs.urgency)
    free_scale = tau**2 / (2.0 * impact)  # the coefficients of optimal_holdings
    ratio = tau**2 / impact  # and of the per-episode active set's level systems
    iterations = solve_batch(start, drift, guess, path, 2.0 + 2.0 * free_scale * urgency,
                             free_scale, urgency * ratio, 0.5 * ratio, impact / tau, urgency,
                             tau, boundary_sweeps, PRIMAL_DUAL_ROUNDS
                             if primal_dual_rounds is None else primal_dual_rounds)
    failed = np.flatnonzero(iterations == NOT_CONVERGED)
    if failed.size:
        raise SolverError(f"no-buy-back active set did not converge in {20 * steps + 20} "
                          f"primal iterations for episode(s) {failed[:10]}")
    return path, guess


def no_buyback_holdings(inputs: PlanningInputs, holdings: float) -> np.ndarray:
    """Exact optimum x_0..x_m with n_k >= 0 for one episode (inputs.drift of shape (m,)),
    by `no_buyback_plans`."""
    one = PlanningInputs(inputs.step_length, inputs.effective_temporary_impact, inputs.urgency,
                         np.asarray(inputs.drift, dtype=float)[None, :])
    return no_buyback_plans(one, np.array([float(holdings)]))[0][0]


class LinearPlanner:
    """The planner optimal under linear impact (MODEL §3b), as the receding-horizon policies
    and `acsim.strategies.impact.LinearImpact.planner` use it.

    Every method takes current holdings x_0 of shape (E,) and planning drifts a_k of shape
    (E, m) for the m remaining steps (sell-equivalent units, see `PlanningInputs`); `state` is
    the impact model's state, unused here. The plan is linear in (x_0, a) unless trades are
    constrained to n_k >= 0, so `gains` (precomputed for every remaining length) give the first
    trade with one multiply-add per forecast step. With n_k >= 0 it keeps the last working
    sets and guesses the next call's from them when that call has the same episodes and one
    step fewer (a receding-horizon agent's next step); the guess saves iterations only.
    """

    def __init__(self, step_length: float, effective_temporary_impact: float, urgency: float,
                 steps: int) -> None:
        self.step_length = step_length
        self.effective_temporary_impact = effective_temporary_impact
        self.urgency = urgency
        self.gains = LinearGains(step_length, effective_temporary_impact, urgency, steps)
        self._resting: np.ndarray | None = None

    def inputs(self, drift: np.ndarray) -> PlanningInputs:
        return PlanningInputs(self.step_length, self.effective_temporary_impact, self.urgency,
                              np.asarray(drift, dtype=float))

    def holdings(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                 no_buyback: bool = False) -> np.ndarray:
        """Optimal x_0..x_m of every episode, shape (E, m + 1)."""
        inputs = self.inputs(drift)
        if not no_buyback:
            return optimal_holdings(inputs, holdings)
        guess = None
        if self._resting is not None and self._resting.shape == (inputs.drift.shape[0],
                                                                 inputs.steps + 2):
            guess = self._resting[:, 1:]  # step k + 1 of the last plan is step k of this one
        plans, self._resting = no_buyback_plans(inputs, holdings, guess)
        return plans

    def first_trades(self, holdings: np.ndarray, drift: np.ndarray, state: object = None,
                     no_buyback: bool = False) -> np.ndarray:
        """n_1 of the optimal plan of every episode, shape (E,)."""
        if not no_buyback:
            return self.gains.first_trade(holdings, drift)
        plans = self.holdings(holdings, drift, state, no_buyback=True)
        return plans[:, 0] - plans[:, 1]


def extended_schedule(problem: ExecutionProblem, extended: ExtendedParameters | None = None,
                      field_forecast: object = None, no_buyback: bool = False) -> np.ndarray:
    """Optimal holdings x_0..x_N of the whole order under the extended model.

    field_forecast: f̂_1..f̂_N (scalar held constant, None for no field).
    """
    inputs = planning_inputs(problem, extended, field_forecast)
    if no_buyback:
        return no_buyback_holdings(inputs, problem.shares)
    return optimal_holdings(inputs, problem.shares)
