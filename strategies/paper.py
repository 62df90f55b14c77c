"""Paper-literal quadratic programs (Krovi 2025, §4.3 and §5.2; MODEL.md §3c).

Kept for reproduction only; the simulator plans with `strategies.extended`. In the
paper's notation x_k is the *trade* in step k (k = 1..T) and the objective is

    Σ_k ( κ·x_k² + λσ²·I_k² - a_self,k·x_k - γ·x̄_k·x_k )

with I_k = X_k = Σ_{i<=k} x_i as printed (cumulative executed, `inventory="cumulative"`)
or I_k = Q - X_k (remaining inventory, `inventory="remaining"`), subject to Σ x_k = Q
(§4.3) or with the penalty P·(Σ x_k - Q)² in its place (§5.2). Here κ is the paper's
quadratic trading-cost coefficient (`trade_cost`), not the AC decay rate, and γ is the
ensemble coupling.

Both solvers below minimise the same objective: `PaperQP` exactly (one factorised
linear system, batched over many field paths) and `PaperCvxpy` with cvxpy.

Exact expectations over a random field. The objective is x'Hx - b'x + c with
b = b̄ + γ(x̄ - μ) (μ the field's mean path, Σ its covariance). The optimal trades are
affine in b, x*(b) = x*(b̄) + ½R(b - b̄), with R the *response matrix* (the projected
inverse H⁻¹ - H⁻¹11'H⁻¹/(1'H⁻¹1) under the equality, (H + P·11')⁻¹ under the penalty), so
the optimal value is quadratic in b with Hessian -½R and, exactly,

    E[J*] = J*(b̄) - (γ²/4)·tr(RΣ),
    E[Σ_k (x_k - x_{k-1})²] = Σ_k (x̄_k - x̄_{k-1})² + (γ²/4)·tr(D R Σ R D')

(D the first-difference matrix, x̄ = x*(b̄)). Both hold for any field law with that mean
and covariance; `acsim.strategies.ensemble.field_moments` gives them for the count chain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.linalg

from acsim.strategies import validation
from acsim.strategies.errors import SolverError
from acsim.strategies.reference import CLARABEL_SETTINGS

INVENTORY_READINGS = ("cumulative", "remaining")


@dataclass(frozen=True)
class PaperParameters:
    """Parameters of the paper's QP.

    total_shares: Q > 0.  steps: T >= 1.  trade_cost: κ > 0.  risk_aversion: λ >= 0.
    variance: σ² >= 0.  penalty: None for the §4.3 equality, or P > 0 for §5.2.
    inventory: "cumulative" (as printed) or "remaining".
    """

    total_shares: float = 1000.0
    steps: int = 20
    trade_cost: float = 1.0
    risk_aversion: float = 0.1
    variance: float = 1.0
    penalty: float | None = None
    inventory: str = "cumulative"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "total_shares", validation.positive("total_shares", self.total_shares))
        set_(self, "steps", validation.integer("steps", self.steps, 1))
        set_(self, "trade_cost", validation.positive("trade_cost", self.trade_cost))
        set_(self, "risk_aversion", validation.non_negative("risk_aversion", self.risk_aversion))
        set_(self, "variance", validation.non_negative("variance", self.variance))
        if self.penalty is not None:
            set_(self, "penalty", validation.positive("penalty", self.penalty))
        validation.one_of("inventory", self.inventory, INVENTORY_READINGS)

    def linear_term(self, self_alpha: object, coupling: float, field: object) -> np.ndarray:
        """a_self,k + γ·x̄_k, shape (..., T); self_alpha is a scalar or T values."""
        coupling = validation.finite_number("coupling", coupling)
        field = np.asarray(field, dtype=float)
        if field.shape[-1:] != (self.steps,) or not np.all(np.isfinite(field)):
            raise validation.ParameterError(
                f"field must have {self.steps} finite values per path, got shape {field.shape}")
        alpha = np.asarray(self_alpha, dtype=float)
        if alpha.ndim > 0:
            alpha = validation.finite_vector("self_alpha", alpha, self.steps)
        else:
            alpha = validation.finite_number("self_alpha", float(alpha))
        return alpha + coupling * field


def paper_objective(parameters: PaperParameters, trades: np.ndarray, self_alpha: object,
                    coupling: float, field: object) -> np.ndarray:
    """The paper's objective evaluated term by term for trades x_1..x_T (batched)."""
    trades = np.asarray(trades, dtype=float)
    executed = np.cumsum(trades, axis=-1)
    inventory = executed if parameters.inventory == "cumulative" else (
        parameters.total_shares - executed)
    value = np.sum(
        parameters.trade_cost * trades**2
        + parameters.risk_aversion * parameters.variance * inventory**2
        - parameters.linear_term(self_alpha, coupling, field) * trades,
        axis=-1,
    )
    if parameters.penalty is not None:
        value = value + parameters.penalty * (executed[..., -1] - parameters.total_shares) ** 2
    return value


class PaperQP:
    """Exact solver: the quadratic is fixed, so its KKT matrix is factorised once.

    Objective x'Hx - b'x with H = κI + λσ²·L'L (L the lower-triangular cumulative-sum
    matrix) and b = a_self + γx̄ (+ 2λσ²Q·L'1 for the remaining-inventory reading).
    """

    def __init__(self, parameters: PaperParameters) -> None:
        self.parameters = parameters
        steps = parameters.steps
        cumulative = np.tril(np.ones((steps, steps)))
        weight = parameters.risk_aversion * parameters.variance
        hessian = parameters.trade_cost * np.eye(steps) + weight * cumulative.T @ cumulative
        # Σ_j I_j² with I_j = offset ± X_j has the linear part ±2·offset·λσ²·Σ_j X_j, whose
        # gradient in x_i is this vector times ±offset: (L'1)_i = T - i + 1 later steps.
        self._tail = 2.0 * weight * cumulative.T @ np.ones(steps)
        if parameters.penalty is None:
            kkt = np.zeros((steps + 1, steps + 1))
            kkt[:steps, :steps] = 2.0 * hessian
            kkt[:steps, steps] = 1.0
            kkt[steps, :steps] = 1.0
        else:
            kkt = 2.0 * hessian + 2.0 * parameters.penalty * np.ones((steps, steps))
        self._factor = scipy.linalg.lu_factor(kkt)
        self._size = kkt.shape[0]

    def trades(self, self_alpha: object, coupling: float, field: object,
               executed: float = 0.0) -> np.ndarray:
        """Optimal x_1..x_T for one field path (T,) or many (E, T).

        executed: shares already traded before step 1 (a receding-horizon step); the steps
        then trade Q - executed, and the inventory counts them (cumulative: executed + X_k,
        remaining: Q - executed - X_k).
        """
        p = self.parameters
        executed = validation.finite_number("executed", executed)
        left = p.total_shares - executed
        offset = left if p.inventory == "remaining" else -executed
        linear = p.linear_term(self_alpha, coupling, field) + offset * self._tail
        batch = np.atleast_2d(linear)
        if p.penalty is None:
            rhs = np.hstack([batch, np.full((batch.shape[0], 1), left)])
        else:
            rhs = batch + 2.0 * p.penalty * left
        solution = scipy.linalg.lu_solve(self._factor, rhs.T).T[:, : p.steps]
        return solution.reshape(linear.shape)

    def response_matrix(self) -> np.ndarray:
        """R (T, T), symmetric: x*(b) - x*(b') = ½R(b - b') (see the module docstring)."""
        steps = self.parameters.steps
        unit = np.zeros((self._size, steps))
        unit[:steps] = np.eye(steps)
        response = 2.0 * scipy.linalg.lu_solve(self._factor, unit)[:steps]
        return 0.5 * (response + response.T)

    def _field_law(self, mean: object, covariance: object) -> tuple[np.ndarray, np.ndarray]:
        steps = self.parameters.steps
        mean = validation.finite_vector("field_mean", mean, steps)
        covariance = np.asarray(covariance, dtype=float)
        if covariance.shape != (steps, steps) or not np.all(np.isfinite(covariance)):
            raise validation.ParameterError(
                f"field_covariance must be a finite {steps}×{steps} matrix, "
                f"got shape {covariance.shape}")
        return mean, covariance

    def expected_objective(self, self_alpha: object, coupling: float, field_mean: object,
                           field_covariance: object) -> float:
        """E[J(x*)] over field paths of the given mean and covariance, exactly (currency)."""
        mean, covariance = self._field_law(field_mean, field_covariance)
        at_mean = paper_objective(self.parameters, self.trades(self_alpha, coupling, mean),
                                  self_alpha, coupling, mean)
        return float(at_mean) - 0.25 * coupling**2 * float(
            np.sum(self.response_matrix() * covariance))

    def expected_roughness(self, self_alpha: object, coupling: float, field_mean: object,
                           field_covariance: object) -> float:
        """E[Σ_k (x_k - x_{k-1})²] of the optimal trades, exactly (shares²)."""
        mean, covariance = self._field_law(field_mean, field_covariance)
        steps = self.parameters.steps
        difference = np.eye(steps)[1:] - np.eye(steps)[:-1]
        spread = difference @ self.response_matrix()
        return float(roughness(self.trades(self_alpha, coupling, mean))) + 0.25 * coupling**2 * (
            float(np.sum((spread @ covariance) * spread)))


def receding_horizon_trades(parameters: PaperParameters, coupling: float,
                            forecasts: Callable[[int], tuple[np.ndarray, np.ndarray]]
                            ) -> np.ndarray:
    """Trades x_1..x_T planned step by step: at step k the QP over steps k..T is re-solved
    for the shares not yet traded, with the linear terms known at k (`forecasts(k)` returns
    a_self and x̄ for steps k..T, each T - k + 1 values), and its first trade is executed.
    The last step trades whatever is left, so Σx = Q exactly. With forecasts that never
    change, the result is the full-horizon optimum (the QP is time consistent).
    """
    steps = parameters.steps
    solvers: dict[int, PaperQP] = {}
    trades = np.zeros(steps)
    for k in range(1, steps + 1):
        executed = float(trades[: k - 1].sum())
        if k == steps:
            trades[k - 1] = parameters.total_shares - executed
            break
        size = steps - k + 1
        if size not in solvers:
            solvers[size] = PaperQP(dataclasses.replace(parameters, steps=size))
        self_alpha, field = forecasts(k)
        trades[k - 1] = solvers[size].trades(self_alpha, coupling, field, executed=executed)[0]
    return trades


def roughness(trades: np.ndarray) -> np.ndarray:
    """Σ_k (x_k - x_{k-1})², shares²: how much a schedule's trades change from step to step."""
    return np.sum(np.diff(np.asarray(trades, dtype=float), axis=-1) ** 2, axis=-1)


class PaperCvxpy:
    """The same QP in cvxpy, built once with a Parameter for the linear term (DPP)."""

    def __init__(self, parameters: PaperParameters) -> None:
        self.parameters = parameters
        p = parameters
        self._trades = cp.Variable(p.steps)
        self._linear = cp.Parameter(p.steps)
        executed = cp.cumsum(self._trades)
        inventory = executed if p.inventory == "cumulative" else p.total_shares - executed
        objective = (p.trade_cost * cp.sum_squares(self._trades)
                     + p.risk_aversion * p.variance * cp.sum_squares(inventory)
                     - self._linear @ self._trades)
        constraints = []
        if p.penalty is None:
            constraints.append(cp.sum(self._trades) == p.total_shares)
        else:
            objective = objective + p.penalty * cp.square(cp.sum(self._trades) - p.total_shares)
        self._problem = cp.Problem(cp.Minimize(objective), constraints)

    def trades(self, self_alpha: object, coupling: float, field: object) -> np.ndarray:
        """Optimal x_1..x_T for one field path."""
        self._linear.value = self.parameters.linear_term(self_alpha, coupling, field)
        try:
            self._problem.solve(solver=cp.CLARABEL, **CLARABEL_SETTINGS)
        except cp.error.SolverError as error:
            raise SolverError(f"CLARABEL failed on the paper QP: {error}") from None
        if self._problem.status != cp.OPTIMAL:
            raise SolverError(f"paper QP: solver status {self._problem.status!r}")
        return np.asarray(self._trades.value, dtype=float)
