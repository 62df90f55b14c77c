"""References of the extended planner (MODEL.md §3b) for tests: its cvxpy formulation, and
the per-episode no-buy-back active set in numpy (`active_set_holdings`).

Never the default path in simulation: `strategies.extended` solves the same problem
exactly and thousands of times faster. The cvxpy problem is built once per remaining length
with cvxpy Parameters (DPP), so re-solving only updates parameter values.

It minimises the full objective, spread included, in normalised units u = x/|x_0|:

    Σ(Δu)² + r·Σu_k² - Σ ℓ_k·u_k + e·Σ|Δu|,
    r = qτ²/η̃,  ℓ = τ²·a/(η̃·|x_0|),  e = ετ/(η̃·|x_0|),

which is U·τ/(η̃·x_0²) up to a constant: the same minimiser, well scaled for CLARABEL.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from acsim.strategies.errors import InfeasibleProblemError, SolverError
from acsim.strategies.extended import optimal_holdings, tridiagonal_solve
from acsim.strategies.parameters import PlanningInputs

CLARABEL_SETTINGS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "tol_ktratio": 1e-10,
    "max_iter": 500,
}


class ReferencePlanner:
    """Solve the §3b problem with cvxpy + CLARABEL for any remaining length.

    half_spread: ε (currency per share); no_buyback adds n_k >= 0.
    """

    def __init__(self, half_spread: float = 0.0, no_buyback: bool = False) -> None:
        self.half_spread = half_spread
        self.no_buyback = no_buyback
        self._problems: dict[tuple[int, float], tuple] = {}

    def _problem(self, steps: int, ratio: float) -> tuple:
        key = (steps, ratio)
        if key not in self._problems:
            path = cp.Variable(steps + 1)
            start = cp.Parameter()
            linear = cp.Parameter(steps)
            spread = cp.Parameter(nonneg=True)
            trades = path[:-1] - path[1:]
            objective = (cp.sum_squares(trades) + ratio * cp.sum_squares(path[1:])
                         - linear @ path[1:])
            constraints = [path[0] == start, path[steps] == 0]
            if self.no_buyback:  # Σ|n| = x_0 is then a constant: the spread term is dropped
                constraints.append(trades >= 0)
            else:
                objective = objective + spread * cp.norm1(trades)
            self._problems[key] = (cp.Problem(cp.Minimize(objective), constraints),
                                   path, start, linear, spread)
        return self._problems[key]

    def holdings(self, inputs: PlanningInputs, holdings: float) -> np.ndarray:
        """Optimal x_0..x_m (unbatched)."""
        tau, impact = inputs.step_length, inputs.effective_temporary_impact
        ratio = inputs.urgency * tau**2 / impact
        problem, path, start, linear, spread = self._problem(inputs.steps, ratio)
        scale = abs(float(holdings)) or 1.0
        start.value = float(holdings) / scale
        linear.value = tau**2 * np.asarray(inputs.drift, dtype=float) / (impact * scale)
        spread.value = self.half_spread * tau / (impact * scale)
        try:
            problem.solve(solver=cp.CLARABEL, **CLARABEL_SETTINGS)
        except cp.error.SolverError as error:
            raise SolverError(f"CLARABEL failed on the reference planner: {error}") from None
        if problem.status != cp.OPTIMAL:
            raise SolverError(f"reference planner: solver status {problem.status!r}")
        result = np.asarray(path.value, dtype=float)
        if self.no_buyback:
            result = _polish(result, ratio, np.asarray(linear.value))
        result = result * scale
        result[-1] = 0.0
        return result


def _polish(path: np.ndarray, ratio: float, linear: np.ndarray) -> np.ndarray:
    """Interior-point answers stop a little inside the constraints n_k >= 0. Take the steps
    whose trade the solver left near 0 as exactly 0, solve the remaining equality-constrained
    problem directly (dense KKT system), and free any such step whose multiplier says the
    objective would fall if it traded. Kept only if the result is feasible."""
    steps = path.shape[0] - 1
    scale = max(1.0, float(np.abs(path).max()))
    trades = path[:-1] - path[1:]
    resting = set(np.flatnonzero(trades <= 1e-6 * scale).tolist())
    difference = np.eye(steps, steps + 1) - np.eye(steps, steps + 1, k=1)
    hessian = 2.0 * (difference.T @ difference + ratio * np.diag(np.r_[0.0, np.ones(steps)]))
    gradient_offset = np.r_[0.0, linear]
    for _ in range(steps + 1):
        order = sorted(resting)
        constraints = np.array([np.eye(steps + 1)[0], np.eye(steps + 1)[steps]]
                               + [difference[k] for k in order])
        size = constraints.shape[0]
        kkt = np.block([[hessian, constraints.T], [constraints, np.zeros((size, size))]])
        rhs = np.r_[gradient_offset, path[0], np.zeros(size - 1)]
        solution = np.linalg.solve(kkt, rhs)
        polished, multipliers = solution[: steps + 1], -solution[steps + 3:]
        if not order or multipliers.min() >= -1e-10 * scale:
            break
        resting.discard(order[int(np.argmin(multipliers))])
    if np.all(polished[:-1] - polished[1:] >= -1e-12 * scale):
        return polished
    return path


def _level_solution(inputs: PlanningInputs, start: float, trading: np.ndarray) -> np.ndarray:
    """Optimum when only the steps in `trading` (sorted, 1-based) may trade.

    Holdings are constant between trading steps, so the free variables are the levels
    between consecutive trading steps, and the system stays tridiagonal.
    """
    steps = inputs.steps
    tau2_over = inputs.step_length**2 / inputs.effective_temporary_impact
    path = np.zeros(steps + 1)
    path[: trading[0]] = start
    if trading.shape[0] > 1:
        widths = np.diff(trading)
        cumulative = np.concatenate([[0.0], np.cumsum(inputs.drift)])
        sums = cumulative[trading[1:] - 1] - cumulative[trading[:-1] - 1]
        diagonal = 2.0 + inputs.urgency * tau2_over * widths
        rhs = 0.5 * tau2_over * sums
        rhs[0] += start
        levels = tridiagonal_solve(diagonal, rhs[:, None])[:, 0]
        path[trading[0]:trading[-1]] = np.repeat(levels, widths)
    return path


def _gradient(inputs: PlanningInputs, path: np.ndarray) -> np.ndarray:
    """∂U/∂x_j for j = 1..m-1."""
    c = inputs.effective_temporary_impact / inputs.step_length
    interior = path[1:-1]
    return (2.0 * c * (2.0 * interior - path[:-2] - path[2:])
            + 2.0 * inputs.urgency * inputs.step_length * interior
            - inputs.step_length * inputs.drift[:-1])


def active_set_holdings(inputs: PlanningInputs, holdings: float) -> np.ndarray:
    """Exact optimum with n_k >= 0 for one episode by a primal active set in numpy: how the
    planner solved it, episode by episode, before `extended.no_buyback_plans` compiled the
    same method for whole batches. Kept as an independent implementation for tests and as
    the naive baseline of the no-buy-back benchmarks.

    Each iteration solves the equality problem with the steps of the working set held
    at zero trade (a tridiagonal system in the remaining levels); the KKT multipliers of
    n_k >= 0 are μ_{j+1} = μ_j + ∂U/∂x_j, zero on the trading steps. Trades on the
    working set are exactly 0, so the result never buys.
    """
    steps = inputs.steps
    start = float(holdings)
    if start < 0.0:
        raise InfeasibleProblemError(
            f"no buy-back: holdings {start!r} < 0 cannot be brought to 0 by selling only"
        )
    if start == 0.0 or steps == 1:
        path = np.zeros(steps + 1)
        path[0] = start
        return path
    drift = np.asarray(inputs.drift, dtype=float)
    unconstrained = optimal_holdings(inputs, start)
    if np.all(np.diff(unconstrained) <= 0.0):
        return unconstrained
    scale = (inputs.effective_temporary_impact / inputs.step_length * start
             + inputs.urgency * inputs.step_length * start * steps
             + inputs.step_length * float(np.sum(np.abs(drift))))
    tolerance = 1e-12 * scale
    # Warm start: rest where the unconstrained plan buys back, trade equal amounts elsewhere
    # (feasible, and consistent with that working set).
    resting = np.concatenate([[False], np.diff(unconstrained) >= 0.0])  # resting[k]: n_k = 0
    path = start - start * np.cumsum(np.concatenate([[0.0], ~resting[1:]])) / np.sum(~resting[1:])
    for _ in range(20 * steps + 20):
        trading = np.flatnonzero(~resting[1:]) + 1
        target = _level_solution(inputs, start, trading)
        current_trades = path[:-1] - path[1:]
        target_trades = target[:-1] - target[1:]
        blocked = ~resting[1:] & (target_trades < 0.0)
        if not np.any(blocked):
            path = target
            gradient = _gradient(inputs, path)
            cumulative = np.concatenate([[0.0], np.cumsum(gradient)])
            multipliers = cumulative - cumulative[trading[0] - 1]  # μ_k at index k-1
            candidates = np.where(resting[1:], multipliers, np.inf)
            worst = int(np.argmin(candidates))
            if candidates[worst] >= -tolerance:
                return path
            resting[worst + 1] = False
            continue
        ratios = np.full(steps, np.inf)
        index = np.flatnonzero(blocked)
        ratios[index] = current_trades[index] / (current_trades[index] - target_trades[index])
        blocking = int(np.argmin(ratios))
        path = path + ratios[blocking] * (target - path)
        resting[blocking + 1] = True
    raise SolverError(f"no-buy-back active set did not converge in {20 * steps + 20} iterations")
