"""Transient impact (MODEL.md §7): decay kernels, displacement bookkeeping, cost, exact planner.

A trade of n_j shares displaces the price by G(elapsed)·n_j, decaying with the kernel G (currency
per share). Before trade k the displacement is I_{k-1} = Σ_{j<k} G((k-j)τ)·n_j; the price the
agent sees is S_{k-1} = P_{k-1} - I_{k-1} (P follows §2: drift, noise, permanent impact) and trade
k fills at S̃_k = S_{k-1} - h(n_k) - ½G(0)·n_k (a trade pays half its own displacement,
Alfonsi-Fruth-Schied), h(n) = ε·sgn(n) + (η/τ)·n.

Expected cost. Summing the fills of a deterministic schedule over a remaining horizon of m steps,
in sell-equivalent units, with past trades (before this horizon) displacing the price by v_k at
trade k (`past_displacement`), and measuring against the undisturbed price P_0:

    E = ½γx_0² + εΣ|n_k| + (η̃/τ)Σn_k² + ½·nᵀΓn + Σ_k n_k·v_k - τΣα̂_k·x_k,   η̃ = η - γτ/2,

Γ_kj = G(|k-j|τ) (the diagonal ½G(0)n_k² is the half own displacement; the off-diagonal terms
are each earlier trade's displacement still present at a later one). With self_alpha, α̂_k holds
-self_alpha·x_k, which adds self_alpha·τ·Σx_k². Against the observed price S_0 = P_0 - v_1 the
cost is E - x_0·v_1: the same minimiser. With σ = 0 and the drift forecast equal to the drift,
the realised implementation shortfall of the §7 market is exactly E (tested step by step).

Γ must be positive definite, else a round trip can earn money (price manipulation, Gatheral
2010). The exponential kernel G_0·e^(-ρt) gives Γ = G_0·r^|k-j|, r = e^(-ρτ) < 1 (a
Kac-Murdock-Szegő matrix, positive definite); the power-law propagator G_0(1 + t/t_0)^(-β_G) is
convex, decreasing and positive, hence a positive-definite function (Pólya's criterion).

Planner. Minimising U = E + λV over n with Σn_k = x_0 (x_m = 0) is a quadratic problem with
Hessian H = 2(η̃/τ)I + Γ + 2qτ·LᵀL (L lower-triangular ones, x_k = x_0 - (Ln)_k, q = λσ² +
self_alpha). H is positive definite when η̃ >= 0, q >= 0 and Γ is, and its optimum is linear in
(x_0, v, a), so the receding-horizon first trade is precomputed as gains. Indexing from the end
(a = m + 1 - k), H_m is the leading m×m block of one matrix M (Γ is Toeplitz, (LᵀL)_kj =
m + 1 - max(k, j) = min(a, b)), so a single Cholesky factor of M (size N) serves every remaining
length. The factorisation and the triangular solves are small numba loops: no BLAS, no threads,
so the gains do not depend on the BLAS thread count. Like `extended.optimal_holdings`, this
planner is exact whenever its answer never reverses (the spread ε·Σ|n| is then ε·x_0); power-law
temporary impact with transient impact is planned by the convex reference solver
`reference_impact.ImpactReference` (cvxpy + CLARABEL, power cones; slow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError, SolverError


class DecayKernel(Protocol):
    """A transient-impact kernel: G(t) in currency per share, t >= 0 in time units."""

    def values(self, times: np.ndarray) -> np.ndarray:
        """G at the given elapsed times (any shape)."""
        ...


@dataclass(frozen=True)
class ExponentialKernel:
    """Obizhaeva-Wang kernel G(t) = G_0·e^(-ρt).

    transient_impact: G_0 > 0, currency per share (displacement right after a trade of 1 share).
    resilience: ρ > 0, per time unit (the displacement halves in ln 2/ρ).
    """

    transient_impact: float
    resilience: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "transient_impact",
                           validation.positive("transient_impact", self.transient_impact))
        object.__setattr__(self, "resilience", validation.positive("resilience", self.resilience))

    def values(self, times: np.ndarray) -> np.ndarray:
        return self.transient_impact * np.exp(-self.resilience * np.asarray(times, dtype=float))

    def next_displacement(self, displacement: np.ndarray, trades: np.ndarray,
                          step_length: float) -> np.ndarray:
        """I_k = e^(-ρτ)·(I_{k-1} + G_0·n_k): the displacement before trade k+1 (batched)."""
        decay = np.exp(-self.resilience * step_length)
        return decay * (np.asarray(displacement, dtype=float)
                        + self.transient_impact * np.asarray(trades, dtype=float))

    def past_displacement_from(self, displacement: np.ndarray, step_length: float,
                               steps: int) -> np.ndarray:
        """v_i = I·e^(-ρ(i-1)τ), i = 1..m: what the current displacement I (before the next
        trade) will be at each of the next m trades if nothing more trades. Shape (..., m)."""
        decay = np.exp(-self.resilience * step_length * np.arange(steps))
        return np.asarray(displacement, dtype=float)[..., None] * decay


@dataclass(frozen=True)
class PowerLawKernel:
    """Power-law propagator G(t) = G_0·(1 + t/t_0)^(-β_G).

    transient_impact: G_0 > 0, currency per share. transient_exponent: β_G > 0.
    transient_time: t_0 > 0, time units.
    """

    transient_impact: float
    transient_exponent: float
    transient_time: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "transient_impact",
                           validation.positive("transient_impact", self.transient_impact))
        object.__setattr__(self, "transient_exponent",
                           validation.positive("transient_exponent", self.transient_exponent))
        object.__setattr__(self, "transient_time",
                           validation.positive("transient_time", self.transient_time))

    def values(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        return self.transient_impact * (1.0 + times / self.transient_time) ** (
            -self.transient_exponent)


def kernel_matrix(kernel: DecayKernel, step_length: float, steps: int) -> np.ndarray:
    """Γ_kj = G(|k - j|·τ), k, j = 1..m (currency per share)."""
    lags = np.abs(np.subtract.outer(np.arange(steps), np.arange(steps)))
    return np.asarray(kernel.values(lags * step_length), dtype=float)


def check_positive_definite(kernel: DecayKernel, step_length: float, steps: int) -> None:
    """Raise ParameterError, naming the kernel, unless Γ (m = steps) is positive definite.

    Tested by a Cholesky factorisation (numba loops): it fails at the first leading minor that
    is not positive in floating point, so a kernel that is positive definite but numerically
    singular on this grid (e.g. a Gaussian much wider than τ) is rejected too.
    """
    steps = validation.integer("steps", steps, 1)
    try:
        matrix = kernel_matrix(kernel, validation.positive("step_length", step_length), steps)
    except MemoryError:
        raise ParameterError(
            f"steps = {steps}: the transient kernel's matrix Γ ({steps} × {steps}, "
            f"{8 * steps**2 / 1e9:.3g} GB) that proves it positive definite does not fit in "
            "memory; reduce steps") from None
    if not np.all(np.isfinite(matrix)):
        raise ParameterError(f"kernel {kernel!r} has non-finite values on {steps} steps")
    failed_at = _cholesky(matrix)
    if failed_at >= 0:
        raise ParameterError(
            f"kernel {type(kernel).__name__} {kernel!r} is not positive definite: the matrix "
            f"Γ_kj = G(|k-j|·{step_length!r}) of {steps} steps has a leading minor of order "
            f"{failed_at + 1} that is not positive (Cholesky pivot <= 0 in floating point), so "
            "a round trip could earn money (price manipulation, Gatheral 2010). Use a convex "
            "decreasing kernel such as ExponentialKernel or PowerLawKernel that decays visibly "
            "over the horizon (one that barely decays, e.g. a tiny resilience, makes Γ "
            "numerically singular)"
        )


def displacement(kernel: DecayKernel, past_trades: np.ndarray, step_length: float) -> np.ndarray:
    """I_k = Σ_{j<=k} G((k+1-j)τ)·n_j: the displacement before trade k+1, from the trades
    n_1..n_k on the last axis (any leading episode axes; k = 0 gives 0)."""
    return past_displacement(kernel, past_trades, step_length, 1)[..., 0]


def past_displacement(kernel: DecayKernel, past_trades: np.ndarray, step_length: float,
                      steps: int) -> np.ndarray:
    """v_i = Σ_{j<=k} G((k+i-j)τ)·n_j, i = 1..m: the displacement that the past trades n_1..n_k
    (last axis) cause at each of the next m trades. Shape (..., m). Elementwise products and
    sums (no BLAS); O(k·m) per episode, memory O(k) per episode."""
    trades = np.asarray(past_trades, dtype=float)
    done = trades.shape[-1]
    elapsed = (done + np.arange(1, steps + 1)[:, None] - np.arange(1, done + 1)[None, :])
    weights = np.asarray(kernel.values(elapsed * step_length), dtype=float)  # (m, k)
    result = np.empty(trades.shape[:-1] + (steps,))
    for ahead in range(steps):
        result[..., ahead] = np.sum(trades * weights[ahead], axis=-1)
    return result


def transient_cost(kernel: DecayKernel, trades: np.ndarray, step_length: float) -> np.ndarray:
    """½·nᵀΓn over the last axis (batched), as Σ_d of lag products (no BLAS)."""
    trades = np.asarray(trades, dtype=float)
    steps = trades.shape[-1]
    lags = np.asarray(kernel.values(np.arange(steps) * step_length), dtype=float)
    total = 0.5 * lags[0] * np.sum(trades**2, axis=-1)
    for lag in range(1, steps):
        total = total + lags[lag] * np.sum(trades[..., lag:] * trades[..., :-lag], axis=-1)
    return total


def expected_shortfall(kernel: DecayKernel, holdings: np.ndarray, *, step_length: float,
                       temporary_impact: float, permanent_impact: float = 0.0,
                       half_spread: float = 0.0, drift: float | np.ndarray = 0.0,
                       self_alpha: float = 0.0,
                       past_displacement: np.ndarray | None = None) -> np.ndarray:
    """E of schedule(s) x_0..x_m (last axis) under linear temporary and transient impact, in
    currency, against the undisturbed price (see the module docstring).

    temporary_impact: η; permanent_impact: γ; half_spread: ε; drift: α̂_1..α̂_m (sell-
    equivalent, scalar or (..., m)); past_displacement: v_1..v_m (..., m) or None (no past).
    """
    holdings = np.asarray(holdings, dtype=float)
    tau = validation.positive("step_length", step_length)
    trades = holdings[..., :-1] - holdings[..., 1:]
    carried = holdings[..., 1:]
    effective = temporary_impact - 0.5 * permanent_impact * tau
    total = (0.5 * permanent_impact * holdings[..., 0] ** 2
             + half_spread * np.sum(np.abs(trades), axis=-1)
             + effective / tau * np.sum(trades**2, axis=-1)
             + transient_cost(kernel, trades, tau)
             - tau * np.sum(np.asarray(drift, dtype=float) * carried, axis=-1)
             + self_alpha * tau * np.sum(carried**2, axis=-1))
    if past_displacement is not None:
        total = total + np.sum(trades * np.asarray(past_displacement, dtype=float), axis=-1)
    return total


class TransientPlanner:
    """Exact equality-constrained planner with transient impact, for every remaining length.

    Minimises (η̃/τ)Σn² + ½nᵀΓn + Σn_k·v_k + q·τ·Σx_k² - τ·Σa_k·x_k with Σn_k = x_0, for
    m = 1..steps remaining steps. Gains (sell-equivalent units):

        first trade = holding_gain[m]·x_0 + Σ_k displacement_gain[m][k]·v_k
                      + Σ_k drift_gain[m][k]·a_k,   k = 1..m.

    temporary_impact: η >= 0; permanent_impact: γ >= 0 with η̃ = η - γτ/2 >= 0 (Γ keeps H
    positive definite, so the pure Obizhaeva-Wang case η = γ = 0 is allowed); urgency: q >= 0.
    """

    def __init__(self, kernel: DecayKernel, step_length: float, temporary_impact: float,
                 permanent_impact: float, urgency: float, steps: int) -> None:
        tau = validation.positive("step_length", step_length)
        eta = validation.non_negative("temporary_impact", temporary_impact)
        gamma = validation.non_negative("permanent_impact", permanent_impact)
        self.urgency = validation.non_negative("urgency", urgency)
        self.steps = validation.integer("steps", steps, 1)
        self.step_length = tau
        self.effective_temporary_impact = eta - 0.5 * gamma * tau
        if self.effective_temporary_impact < 0.0:
            raise ParameterError(
                "effective temporary impact η̃ = temporary_impact - permanent_impact·τ/2 = "
                f"{self.effective_temporary_impact!r} must be >= 0: increase temporary_impact "
                "or decrease permanent_impact or the step length"
            )
        check_positive_definite(kernel, tau, self.steps)
        self.kernel = kernel
        reversed_index = np.arange(1, self.steps + 1)
        matrix = (kernel_matrix(kernel, tau, self.steps)
                  + 2.0 * self.effective_temporary_impact / tau * np.eye(self.steps)
                  + 2.0 * self.urgency * tau * np.minimum.outer(reversed_index, reversed_index))
        if _cholesky(matrix) >= 0:  # in place: the lower triangle becomes the factor
            raise SolverError("transient planner: the Hessian is not numerically positive "
                              "definite (Cholesky failed)")
        self._factor = np.tril(matrix)
        self.holding_gain = np.zeros(self.steps + 1)
        self.displacement_gain: list[np.ndarray] = [np.zeros(0)]
        self.drift_gain: list[np.ndarray] = [np.zeros(0)]
        self._ones_solution: list[np.ndarray] = [np.zeros(0)]
        for remaining in range(1, self.steps + 1):
            ones, first_column = _gain_vectors(self._factor, remaining)
            total = ones.sum()
            column = first_column - ones * ones[0] / total  # P·e_1, P = H⁻¹ - wwᵀ/(1ᵀw)
            cumulative = np.cumsum(column)
            cumulative[-1] = 0.0  # Σ P·e_1 = 0 exactly: the drift on x_m = 0 has no effect
            self.holding_gain[remaining] = (ones[0] / total + 2.0 * self.urgency * tau
                                            * np.sum(column * np.arange(remaining, 0, -1)))
            self.displacement_gain.append(-column)
            self.drift_gain.append(-tau * cumulative)
            self._ones_solution.append(ones)

    def first_trade(self, holdings: np.ndarray, drift: np.ndarray,
                    past_displacement: np.ndarray | None = None) -> np.ndarray:
        """First trade for drift a_1..a_m and past displacement v_1..v_m of shape (..., m)
        (m = remaining steps <= steps); elementwise products and sums, no BLAS."""
        drift = np.asarray(drift, dtype=float)
        remaining = validation.remaining_steps(drift, self.steps)
        trade = (np.asarray(holdings, dtype=float) * self.holding_gain[remaining]
                 + np.sum(drift * self.drift_gain[remaining], axis=-1))
        if past_displacement is not None:
            trade = trade + np.sum(np.asarray(past_displacement, dtype=float)
                                   * self.displacement_gain[remaining], axis=-1)
        return trade

    def holdings(self, holdings: np.ndarray, drift: np.ndarray,
                 past_displacement: np.ndarray | None = None) -> np.ndarray:
        """Optimal x_0..x_m for every episode: holdings (E,) or scalar, drift and past
        displacement (E, m) or (m,). Returns (E, m+1) (or (m+1,) for one unbatched episode)."""
        drift = np.asarray(drift, dtype=float)
        remaining = validation.remaining_steps(drift, self.steps)
        start = np.asarray(holdings, dtype=float)
        single = start.ndim == 0 and drift.ndim == 1
        past = (np.zeros_like(drift) if past_displacement is None
                else np.asarray(past_displacement, dtype=float))
        shape = np.broadcast_shapes(start.shape + (1,), drift.shape, past.shape)
        drift2 = np.ascontiguousarray(np.broadcast_to(drift, shape).reshape(-1, remaining))
        past2 = np.ascontiguousarray(np.broadcast_to(past, shape).reshape(-1, remaining))
        start2 = np.ascontiguousarray(np.broadcast_to(start[..., None], shape)[..., 0].ravel())
        path = np.zeros((start2.shape[0], remaining + 1))
        _plan_batch(self._factor, self._ones_solution[remaining], start2, drift2, past2,
                    self.step_length, self.urgency, path)
        return path[0] if single else path.reshape(shape[:-1] + (remaining + 1,))



@numba.njit(cache=True, error_model="numpy")
def _cholesky(matrix):
    """In-place Cholesky (lower triangle) of a symmetric matrix; -1 on success, else the index
    of the first pivot that is not positive. Plain loops: the same digits on any machine
    configuration (no BLAS, no threads)."""
    size = matrix.shape[0]
    for j in range(size):
        pivot = matrix[j, j]
        for k in range(j):
            pivot -= matrix[j, k] * matrix[j, k]
        if not pivot > 0.0:
            return j
        pivot = np.sqrt(pivot)
        matrix[j, j] = pivot
        for i in range(j + 1, size):
            value = matrix[i, j]
            for k in range(j):
                value -= matrix[i, k] * matrix[j, k]
            matrix[i, j] = value / pivot
    return -1


@numba.njit(cache=True, error_model="numpy")
def _solve_reversed(factor, remaining, rhs):
    """Solve H_m·y = rhs in the original step order (rhs[k-1] for step k), using the Cholesky
    factor of M, whose leading m×m block is H_m with steps indexed from the end."""
    work = np.empty(remaining)
    for a in range(remaining):  # forward: C·z = rhs reversed
        value = rhs[remaining - 1 - a]
        for b in range(a):
            value -= factor[a, b] * work[b]
        work[a] = value / factor[a, a]
    for a in range(remaining - 1, -1, -1):  # backward: Cᵀ·y = z
        value = work[a]
        for b in range(a + 1, remaining):
            value -= factor[b, a] * work[b]
        work[a] = value / factor[a, a]
    solution = np.empty(remaining)
    for a in range(remaining):
        solution[remaining - 1 - a] = work[a]
    return solution


@numba.njit(cache=True, error_model="numpy")
def _gain_vectors(factor, remaining):
    """H_m⁻¹·1 and H_m⁻¹·e_1 (original order) for one remaining length."""
    ones = _solve_reversed(factor, remaining, np.ones(remaining))
    unit = np.zeros(remaining)
    unit[0] = 1.0
    return ones, _solve_reversed(factor, remaining, unit)


@numba.njit(cache=True, error_model="numpy")
def _plan_batch(factor, ones, start, drift, past, tau, urgency, path):
    """Full optimal plans: n = H⁻¹b + μ·H⁻¹1 with b = 2qτx_0·Lᵀ1 - v - τLᵀa and μ from Σn = x_0."""
    episodes, remaining = drift.shape
    total_ones = 0.0
    for k in range(remaining):
        total_ones += ones[k]
    rhs = np.empty(remaining)
    for e in range(episodes):
        tail = 0.0  # (Lᵀa)_k = Σ_{j>=k} a_j
        for k in range(remaining - 1, -1, -1):
            tail += drift[e, k]
            rhs[k] = 2.0 * urgency * tau * start[e] * (remaining - k) - past[e, k] - tau * tail
        particular = _solve_reversed(factor, remaining, rhs)
        shortfall = start[e]
        for k in range(remaining):
            shortfall -= particular[k]
        multiplier = shortfall / total_ones
        path[e, 0] = start[e]
        for k in range(remaining):
            path[e, k + 1] = path[e, k] - (particular[k] + multiplier * ones[k])
        path[e, remaining] = 0.0
