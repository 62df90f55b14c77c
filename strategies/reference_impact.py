"""cvxpy references for the impact planners of MODEL.md §7: for tests, and the planner of last
resort for power-law temporary impact combined with transient impact.

`ImpactReference` minimises, over the trades n_1..n_m of a remaining horizon (Σn_k = x_0),

    (η/τ)Σn_k² + c·Σn_k^(1+β) - ½γΣn_k² + ½nᵀΓn + Σn_k·v_k + q·τ·Σx_k² - τ·Σa_k·x_k

with any combination of linear temporary impact η, power-law temporary impact (c = η_p·τ^(-β),
then n >= 0), permanent impact γ and a transient kernel (Γ_kj = G(|k-j|τ), past displacement v).
It is the objective of `power_law.optimal_holdings` (η = 0, no kernel), of
`transient.TransientPlanner` (no power law) and of their combination (both), without constants.
The spread ε·Σ|n| is ε·x_0 for every plan that never reverses and is left out.

The concave term -½γΣn² is not disciplined convex programming. When η/τ >= γ/2 it is merged
into the linear term ((η̃/τ)Σn², η̃ = η - γτ/2); otherwise (power law with η = 0) the total is
still convex (`power_law.check_convexity`) and is minimised by majorise-minimise: -½γΣn² is
replaced by its tangent at the previous answer (an upper bound touching it), and the convex
problem is re-solved (cvxpy Parameters, CLARABEL with power cones) until the trades move by
less than 1e-9·x_0, or stop shrinking once below 1e-5·x_0 (the interior-point noise floor).
The error contracts by about γ/φ''(n) per round. Accuracy: about 1e-6 of x_0 on the trades with
power cones (CLARABEL leaves steps that should rest slightly inside n > 0), 1e-9 without.
Slow: milliseconds per solve and a few to tens of solves; never on a simulation path.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError, SolverError
from acsim.strategies.power_law import PowerLawImpact
from acsim.strategies.reference import CLARABEL_SETTINGS
from acsim.strategies.transient import DecayKernel, check_positive_definite, kernel_matrix

MAJORISE_TOLERANCE = 1e-9  # stop when max |Δn| <= this times x_0, or when it stops shrinking
NOISE_FLOOR = 1e-5  # ... below this times x_0 (the interior-point noise); else keep going
MAJORISE_ROUNDS = 200
# CLARABEL stops short of the project's 1e-12 settings on power cones ("optimal_inaccurate"),
# so this reference asks for 1e-10; accuracy is then about 1e-7 of x_0 on the trades.
SETTINGS = {**CLARABEL_SETTINGS, "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10,
            "tol_ktratio": 1e-8}


class ImpactReference:
    """Reference planner for linear, power-law and transient impact (cvxpy + CLARABEL).

    step_length: τ > 0; urgency: q >= 0; temporary_impact: η >= 0 (linear part);
    permanent_impact: γ >= 0; power_law: PowerLawImpact or None; kernel: a DecayKernel or None;
    no_buyback: add n_k >= 0 (always on with a power law).
    """

    def __init__(self, step_length: float, urgency: float, *, temporary_impact: float = 0.0,
                 permanent_impact: float = 0.0, power_law: PowerLawImpact | None = None,
                 kernel: DecayKernel | None = None, no_buyback: bool = False) -> None:
        self.step_length = validation.positive("step_length", step_length)
        self.urgency = validation.non_negative("urgency", urgency)
        self.temporary_impact = validation.non_negative("temporary_impact", temporary_impact)
        self.permanent_impact = validation.non_negative("permanent_impact", permanent_impact)
        self.power_law = power_law
        self.kernel = kernel
        self.no_buyback = no_buyback or power_law is not None
        linear = self.temporary_impact / self.step_length - 0.5 * self.permanent_impact
        if linear < 0.0 and power_law is None:
            raise ParameterError("temporary_impact - permanent_impact·τ/2 must be >= 0 without "
                                 "a power law (the objective would not be convex)")
        self._merged = linear >= 0.0  # -½γΣn² folded into the linear term

    def holdings(self, holdings: float, drift: np.ndarray,
                 past_displacement: np.ndarray | None = None) -> np.ndarray:
        """Optimal x_0..x_m for one episode (drift and past displacement: m values)."""
        start = validation.finite_number("holdings", holdings)
        drift = validation.finite_vector("drift", drift)
        steps = drift.shape[0]
        past = (np.zeros(steps) if past_displacement is None
                else validation.finite_vector("past_displacement", past_displacement, steps))
        path = np.zeros(steps + 1)
        path[0] = start
        if start == 0.0 or steps == 1:
            return path
        if self.no_buyback and start < 0.0:
            raise ParameterError("holdings must be >= 0 when trades are constrained to n >= 0")
        trades = self._solve(start, drift, past)
        path[1:] = start - np.cumsum(trades)
        path[-1] = 0.0
        return path

    def _solve(self, start: float, drift: np.ndarray, past: np.ndarray) -> np.ndarray:
        """The trades, in shares. Works in u = n/x_0 with the objective divided by a cost scale,
        so CLARABEL sees numbers of order 1."""
        tau, steps = self.step_length, drift.shape[0]
        unit = cp.Variable(steps)  # u = n/x_0, Σu = 1
        carried = 1.0 - cp.cumsum(unit)[:-1]  # x_1..x_{m-1} / x_0
        linear = self.temporary_impact / tau - (0.5 * self.permanent_impact if self._merged
                                                else 0.0)
        terms = [linear * start**2 * cp.sum_squares(unit),
                 start * (past @ unit),
                 self.urgency * tau * start**2 * cp.sum_squares(carried),
                 -tau * start * (drift[:-1] @ carried)]
        size = (linear + self.urgency * tau * steps) * start**2 + abs(start) * (
            np.abs(past).sum() + tau * np.abs(drift).sum())
        if self.power_law is not None:
            beta = self.power_law.exponent
            coefficient = self.power_law.step_coefficient(tau) * start ** (1.0 + beta)
            terms.append(coefficient * cp.sum(cp.power(unit, 1.0 + beta, approx=False)))
            size += coefficient
        if self.kernel is not None:
            check_positive_definite(self.kernel, tau, steps)
            matrix = kernel_matrix(self.kernel, tau, steps)
            terms.append(0.5 * start**2 * cp.quad_form(unit, cp.psd_wrap(matrix)))
            size += matrix[0, 0] * start**2
        tangent = cp.Parameter(steps)  # -γ·x_0²·u_prev: the tangent of -½γΣn² (majorise)
        tangent.value = np.zeros(steps)
        if not self._merged:
            terms.append(tangent @ unit)
            size += self.permanent_impact * start**2
        constraints = [cp.sum(unit) == 1.0]
        if self.no_buyback:
            constraints.append(unit >= 0.0)
        problem = cp.Problem(cp.Minimize(sum(terms) / size), constraints)
        previous = np.full(steps, 1.0 / steps)
        last_change = np.inf
        for _ in range(MAJORISE_ROUNDS):
            tangent.value = -self.permanent_impact * start**2 * previous
            try:
                with np.errstate(invalid="ignore"):  # cvxpy evaluates u^(1+β) at u = -1e-12
                    problem.solve(solver=cp.CLARABEL, **SETTINGS)
            except cp.error.SolverError as error:
                raise SolverError(f"CLARABEL failed on the impact reference: {error}") from None
            if problem.status != cp.OPTIMAL or unit.value is None:
                raise SolverError(f"impact reference: solver status {problem.status!r}")
            current = np.asarray(unit.value, dtype=float)
            change = np.max(np.abs(current - previous))
            # a small change that no longer shrinks is the solver's own noise (about 1e-6)
            stalled = change >= last_change and change <= NOISE_FLOOR
            if self._merged or change <= MAJORISE_TOLERANCE or stalled:
                return current * start
            previous, last_change = current, change
        raise SolverError(f"impact reference: majorise-minimise did not converge in "
                          f"{MAJORISE_ROUNDS} rounds")
