"""Power-law temporary impact (MODEL.md §7): costs and the exact sell-only planner.

A trade of n shares in a step of length τ fills at S̃ = S - h(n) with

    h(n) = ε·sgn(n) + η_p·sgn(n)·|n/τ|^β,   0 < β <= 1,

so its temporary cost is n·h(n) = ε|n| + η_p·τ^(-β)·|n|^(1+β) (β = 1 is the linear model of §2
with η = η_p). Units: η_p (`coefficient`) is in currency per share per (shares per time unit)^β.

Planning (remaining horizon of m steps from holdings x_0, x_m = 0, trades n_k >= 0) minimises

    U = Σ_k φ(n_k) + q·τ·Σ_k x_k² - τ·Σ_k a_k·x_k,   φ(n) = c·n^(1+β) - ½γn²,   c = η_p·τ^(-β),

with urgency q = λσ² + self_alpha and planning drift a_k (as `PlanningInputs`). The spread
costs ε·x_0 whatever the sell-only schedule, and ½γx_0² is a constant, so neither moves the
optimum. φ is convex on [0, X] iff φ''(X) = c(1+β)β·X^(β-1) - γ >= 0 (φ'' decreases in n);
this module requires it strictly (for β = 1 that is §3's η̃ > 0), so U is strictly convex on
the feasible set and its KKT point is the unique optimum.

KKT in trade space: with r_j = 2qτ·x_j - τ·a_j and ν_k = φ'(n_k) + Σ_{j<k} r_j (the marginal
cost of selling one more share in step k rather than carrying it), the optimum has one value
Λ = ν_k on every trading step (n_k > 0) and ν_k >= Λ on every resting step (n_k = 0); the
multiplier of n_k >= 0 is μ_k = ν_k - Λ.

Precision. With P = c(1+β)x_0^β + γx_0 + 2qτ·m·x_0 + τΣ|a_k| (currency per share) the planner
stops when the gradient in the free holdings is <= KKT_TOLERANCE·P, or when a Newton step
moves the holdings by less than their resolution RESOLUTION·x_0; so |ν_k - Λ| <=
m·KKT_TOLERANCE·P plus the change of ν_k that moving a trade by RESOLUTION·x_0 makes
(φ''(n)·RESOLUTION·x_0, which matters only for trades near the resolution when β < 1, where
φ'' is huge). Trades at or below RESOLUTION·x_0 are set to exactly 0. A resting step satisfies
ν_k - Λ >= -max(KKT_TOLERANCE·P, c(1+β)(2·RESOLUTION·x_0)^β) (the trade it asks for is at most
about twice the resolution), except in two cases where the remaining gain is below what the
arithmetic resolves: the iteration drove the step below the resolution (it then stays at 0 for
good, which is what makes the iteration terminate when β is near 0), or releasing it lowers U
by less than U's rounding error (seen only in stress tests: hundreds of steps, κτ ~ 100, plans
that are at 1e-12 of x_0 after a few steps). For β = 1 the answer is the linear optimum to
rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from acsim.strategies import validation
from acsim.strategies.errors import InfeasibleProblemError, ParameterError, SolverError

KKT_TOLERANCE = 1e-11  # stationarity, relative to the marginal-cost scale P (see above)
RESOLUTION = 1e-14  # holdings resolution, relative to x_0
ARMIJO = 1e-4  # sufficient-decrease constant of the line search
ROUNDING_ALLOWANCE = 1e-13  # a full Newton step may raise U by this times Σ|terms of U|

# The per-episode kernels allocate nothing (the batch driver owns every array), so they are
# compiled without numba's reference counting: atomic increments on every array argument
# and view cost about a sixth of the solve time otherwise.
NO_ALLOCATION = numba.njit(cache=True, error_model="numpy", _nrt=False)


@dataclass(frozen=True)
class PowerLawImpact:
    """Power-law temporary impact h(n) = η_p·sgn(n)·|n/τ|^β (spread ε counted separately).

    coefficient: η_p > 0, currency per share per (shares per time unit)^β.
    exponent: β in (0, 1]; 1 is linear impact (η = η_p), ½ the square-root law.
    """

    coefficient: float
    exponent: float = 0.6

    def __post_init__(self) -> None:
        object.__setattr__(self, "coefficient",
                           validation.positive("coefficient", self.coefficient))
        exponent = validation.finite_number("exponent", self.exponent)
        if not 0.0 < exponent <= 1.0:
            raise ParameterError(f"exponent must be in (0, 1], got {self.exponent!r}")
        object.__setattr__(self, "exponent", exponent)

    def step_coefficient(self, step_length: float) -> float:
        """c = η_p·τ^(-β): the temporary cost of n shares in one step is c·|n|^(1+β)."""
        return self.coefficient * step_length ** (-self.exponent)

    def convexity_limit(self, step_length: float, shares: float) -> float:
        """c(1+β)β·X^(β-1): the largest permanent impact γ for which φ is convex on [0, X]."""
        beta = self.exponent
        return self.step_coefficient(step_length) * (1.0 + beta) * beta * shares ** (beta - 1.0)


def calibrated_impact(daily_volatility: float, daily_volume: float, exponent: float = 0.6,
                      days_per_time_unit: float = 1.0) -> PowerLawImpact:
    """Almgren-Thum-Hauptmann-Li (2005): h = 0.142·σ_day·(v/V_day)^β, v in shares per day.

    daily_volatility: σ_day in price units per √day (for a return volatility s, σ_day = s·S_0).
    daily_volume: V_day, shares per (trading) day. days_per_time_unit: the length of the
    model's time unit in days (1 when τ is in days, 1/390 for one-minute units in a 390-minute
    day). Returns η_p = 0.142·σ_day/(V_day·days_per_time_unit)^β for rates in shares per time
    unit.
    """
    volatility = validation.positive("daily_volatility", daily_volatility)
    volume = validation.positive("daily_volume", daily_volume)
    unit = validation.positive("days_per_time_unit", days_per_time_unit)
    beta = PowerLawImpact(1.0, exponent).exponent
    return PowerLawImpact(0.142 * volatility / (volume * unit) ** beta, beta)


def check_convexity(impact: PowerLawImpact, step_length: float, permanent_impact: float,
                    shares: float) -> None:
    """Raise ParameterError unless c(1+β)β·X^(β-1) > γ (MODEL §7, strict as explained above)."""
    limit = impact.convexity_limit(step_length, shares)
    if not limit > permanent_impact:
        raise ParameterError(
            "power-law impact is not convex on [0, shares]: coefficient·τ^(-exponent)·"
            f"(1+exponent)·exponent·shares^(exponent-1) = {impact.coefficient!r}·"
            f"{step_length!r}^(-{impact.exponent!r})·(1+{impact.exponent!r})·{impact.exponent!r}"
            f"·{shares!r}^({impact.exponent!r}-1) = {limit!r} must exceed permanent_impact "
            f"{permanent_impact!r}: increase coefficient, decrease permanent_impact, use shorter "
            "steps (more steps) or an exponent closer to 1"
        )


def expected_shortfall(impact: PowerLawImpact, holdings: np.ndarray, *, step_length: float,
                       permanent_impact: float = 0.0, half_spread: float = 0.0,
                       drift: float | np.ndarray = 0.0, self_alpha: float = 0.0) -> np.ndarray:
    """E of schedule(s) under power-law temporary impact (MODEL §7), in currency.

    E = ½γX² - ½γΣn_k² + εΣ|n_k| + η_pτ^(-β)Σ|n_k|^(1+β) - τΣα̂_k·x_k + self_alpha·τ·Σx_k².
    holdings: x_0..x_m on the last axis (any leading episode axes); drift: α̂_1..α̂_m in
    sell-equivalent units (scalar or broadcastable to (..., m)). Any trade signs are allowed.
    """
    holdings = np.asarray(holdings, dtype=float)
    tau = validation.positive("step_length", step_length)
    trades = holdings[..., :-1] - holdings[..., 1:]
    size = np.abs(trades)
    carried = holdings[..., 1:]
    return (0.5 * permanent_impact * (holdings[..., 0] ** 2 - np.sum(trades**2, axis=-1))
            + half_spread * np.sum(size, axis=-1)
            + impact.step_coefficient(tau) * np.sum(size ** (1.0 + impact.exponent), axis=-1)
            - tau * np.sum(np.asarray(drift, dtype=float) * carried, axis=-1)
            + self_alpha * tau * np.sum(carried**2, axis=-1))


def optimal_holdings(impact: PowerLawImpact, holdings: float | np.ndarray, drift: np.ndarray, *,
                     step_length: float, permanent_impact: float,
                     urgency: float) -> np.ndarray:
    """Exact sell-only optimum x_0..x_m under power-law impact, batched over episodes.

    holdings: x_0 >= 0, a scalar or shape (E,). drift: a_1..a_m, shape (m,) (shared) or (E, m).
    step_length: τ > 0. permanent_impact: γ >= 0. urgency: q = λσ² + self_alpha >= 0.
    Returns holdings of shape (m+1,) (scalar holdings and 1-D drift) or (E, m+1), x_m = 0,
    every trade >= 0 and steps at the bound trading exactly 0; KKT to the precision stated in
    the module docstring. Method: Newton's method in the holdings (tridiagonal Hessian) with a
    primal active set for n >= 0 (`_solve_episode`). Raises ParameterError if φ is not convex
    on [0, max x_0] (`check_convexity`), InfeasibleProblemError for x_0 < 0, SolverError naming
    the episodes that did not converge.
    """
    tau = validation.positive("step_length", step_length)
    gamma = validation.non_negative("permanent_impact", permanent_impact)
    q = validation.non_negative("urgency", urgency)
    start = np.asarray(holdings, dtype=float)
    drift = np.asarray(drift, dtype=float)
    if start.ndim > 1 or drift.ndim not in (1, 2) or drift.shape[-1] < 1:
        raise ParameterError(f"holdings must be a scalar or (episodes,) and drift (m,) or "
                             f"(episodes, m), got shapes {start.shape} and {drift.shape}")
    single = start.ndim == 0 and drift.ndim == 1
    episodes = drift.shape[0] if drift.ndim == 2 else (start.shape[0] if start.ndim == 1 else 1)
    steps = drift.shape[-1]
    try:
        drift = np.ascontiguousarray(np.broadcast_to(drift, (episodes, steps)))
        start = np.ascontiguousarray(np.broadcast_to(start, (episodes,)))
    except ValueError:
        raise ParameterError(f"holdings {start.shape} and drift {drift.shape} do not match: "
                             "one value of holdings per row of drift") from None
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(drift))):
        raise ParameterError("holdings and drift must be finite")
    if np.any(start < 0.0):
        raise InfeasibleProblemError(
            "power-law planner sells only: holdings < 0 cannot be brought to 0 by selling"
        )
    largest = float(np.max(start, initial=0.0))
    if largest > 0.0:
        check_convexity(impact, tau, gamma, largest)
    path = np.zeros((episodes, steps + 1))
    iterations = _solve_batch(start, drift, impact.step_coefficient(tau), impact.exponent,
                              gamma, q, tau, path)
    failed = np.flatnonzero(iterations < 0)
    if failed.size:
        raise SolverError(f"power-law planner did not converge for episode(s) {failed[:10]}")
    return path[0] if single else path


@numba.njit(cache=True, error_model="numpy")
def _solve_batch(start, drift, coefficient, exponent, permanent, urgency, step_length, path):
    """Solve every episode into path (E, m+1); returns the iterations per episode (-1: failed)."""
    episodes, steps = drift.shape
    work = np.zeros((15, steps + 1))
    resting = np.zeros(steps + 1, dtype=np.bool_)
    settled = np.zeros(steps + 1, dtype=np.bool_)
    trading = np.zeros(steps + 2, dtype=np.int64)
    iterations = np.zeros(episodes, dtype=np.int64)
    for e in range(episodes):
        iterations[e] = _solve_episode(start[e], drift[e], coefficient, exponent, permanent,
                                       urgency, step_length, path[e], work, resting, settled,
                                       trading)
    return iterations


@NO_ALLOCATION
def _factor(diagonal, off, size):
    """LDLᵀ of a symmetric positive definite tridiagonal matrix, in place: diagonal[i] becomes
    the reciprocal of pivot i. off[i] couples unknowns i and i+1; no pivoting (the matrices
    here are diagonally dominant)."""
    diagonal[0] = 1.0 / diagonal[0]
    for i in range(1, size):
        diagonal[i] = 1.0 / (diagonal[i] - off[i - 1] * off[i - 1] * diagonal[i - 1])


@NO_ALLOCATION
def _substitute(diagonal, off, rhs, first, size):
    """Solve with a matrix factored by `_factor`, in place: unknown j is rhs[first + j]."""
    for i in range(1, size):
        rhs[first + i] -= off[i - 1] * diagonal[i - 1] * rhs[first + i - 1]
    rhs[first + size - 1] *= diagonal[size - 1]
    for i in range(size - 2, -1, -1):
        rhs[first + i] = (rhs[first + i] - off[i] * rhs[first + i + 1]) * diagonal[i]


@NO_ALLOCATION
def _rebuild(start, prefix, path, resting, trading, levels, widths, sums, power, exponent):
    """Levels, widths and drift sums of the current working set; returns p (trading steps).

    trading[1..p] are the steps with n > 0; levels[i] = holdings after trade i (levels[0] = x_0,
    levels[p] = 0); widths[i], sums[i] = steps and Σ a_k over which level i is carried (i < p).
    """
    steps = path.shape[0] - 1
    count = 0
    for k in range(1, steps + 1):
        if not resting[k]:
            count += 1
            trading[count] = k
    trading[count + 1] = steps + 1  # sentinel: the level after the last trade is held to the end
    levels[0] = start
    widths[0] = trading[1] - 1  # x_0 is carried until the first trade
    sums[0] = prefix[trading[1] - 1]
    for i in range(1, count):
        levels[i] = path[trading[i]]
        widths[i] = trading[i + 1] - trading[i]
        sums[i] = prefix[trading[i + 1] - 1] - prefix[trading[i] - 1]
    levels[count] = 0.0
    for i in range(1, count + 1):
        power[i] = (levels[i - 1] - levels[i]) ** exponent
    return count


@NO_ALLOCATION
def _write_path(start, path, trading, levels, count):
    """Holdings x_0..x_m from the levels (constant between trading steps)."""
    steps = path.shape[0] - 1
    for k in range(0, trading[1]):
        path[k] = start
    for i in range(1, count + 1):
        for k in range(trading[i], trading[i + 1]):
            path[k] = levels[i]
    path[steps] = 0.0


@NO_ALLOCATION
def _objective(levels, power, widths, sums, count, coefficient, permanent, urgency, tau):
    """U on the levels (power[i] = T_i^β), including the steps before the first trade, so that
    working sets can be compared; and Σ|terms| for the rounding allowance."""
    total = 0.0
    size = 0.0
    for i in range(1, count + 1):
        trade = levels[i - 1] - levels[i]
        term = coefficient * trade * power[i] - 0.5 * permanent * trade * trade
        total += term
        size += abs(term)
    for i in range(count):
        carry = urgency * tau * widths[i] * levels[i] * levels[i]
        linear = tau * sums[i] * levels[i]
        total += carry - linear
        size += carry + abs(linear)
    return total, size


@NO_ALLOCATION
def _trial_objective(trial, trial_power, widths, sums, count, coefficient, beta, permanent,
                     urgency, tau):
    """U at trial levels; fills trial_power[i] = T_i^β for reuse if the trial is accepted."""
    for i in range(1, count + 1):
        trial_power[i] = (trial[i - 1] - trial[i]) ** beta
    return _objective(trial, trial_power, widths, sums, count, coefficient, permanent, urgency,
                      tau)[0]


@NO_ALLOCATION
def _change_along(gradient, trial, levels, count):
    """Σ_i gradient_i·(trial_i - levels_i) over the free levels: the first-order change of U."""
    change = 0.0
    for i in range(1, count):
        change += gradient[i] * (trial[i] - levels[i])
    return change


@NO_ALLOCATION
def _project(trial, start, count):
    """Make trial levels feasible: x_0 and 0 at the ends, non-increasing and >= 0."""
    trial[0] = start
    trial[count] = 0.0
    for i in range(1, count):
        trial[i] = max(min(trial[i], trial[i - 1]), 0.0)


@NO_ALLOCATION
def _multipliers(levels, power, trading, count, drift, gain, permanent, urgency, tau, values):
    """values[k] = μ_k = ν_k - Λ for every step (0 up to rounding on trading steps).

    ν_k = φ'(n_k) + Σ_{j<k} r_j with r_j = 2qτ·x_j - τ·a_j, φ'(0) = 0; Λ = ν at the largest
    trade (the best resolved: φ'' is smallest there). Uses the cached T_i^β: no powers.
    """
    steps = drift.shape[0]
    carried = 0.0
    level = 0
    largest, reference = -1.0, 1
    for k in range(1, steps + 1):
        values[k] = carried
        if level < count and k == trading[level + 1]:
            level += 1
            trade = levels[level - 1] - levels[level]
            values[k] += gain * power[level] - permanent * trade
            if trade > largest:
                largest, reference = trade, k
        carried += 2.0 * urgency * tau * levels[level] - tau * drift[k - 1]
    level_value = values[reference]
    for k in range(1, steps + 1):
        values[k] -= level_value


@NO_ALLOCATION
def _release_sizes(path, resting, settled, multipliers, threshold, gain, beta):
    """Plan releasing every resting step with μ_k < -threshold (not `settled`): the donor is the
    largest trade (the reference of the multipliers, so μ_k·δ is the first-order change of U
    when δ moves from the donor to step k) and step k asks for δ_k = (-μ_k/(c(1+β)))^(1/β),
    the size at which its marginal cost would match the multiplier (γ neglected); together at
    most half the donor's trade. multipliers[k] is overwritten with δ_k (0 if not released).
    Returns the donor, the predicted change Σ μ_k·δ_k (< 0, or 0 if nothing to release), and
    the step with the most negative μ_k·δ_k with its predicted change.
    """
    steps = path.shape[0] - 1
    donor, largest = 1, -1.0
    for k in range(1, steps + 1):
        if path[k - 1] - path[k] > largest:
            donor, largest = k, path[k - 1] - path[k]
    requested, predicted = 0.0, 0.0
    best, best_predicted = -1, 0.0
    for k in range(1, steps + 1):
        if resting[k] and not settled[k] and multipliers[k] < -threshold:
            size = (-multipliers[k] / gain) ** (1.0 / beta)
            predicted += multipliers[k] * size
            requested += size
            if multipliers[k] * size < best_predicted:
                best, best_predicted = k, multipliers[k] * size
            multipliers[k] = size
        else:
            multipliers[k] = 0.0
    if requested > 0.5 * largest:
        scale = 0.5 * largest / requested
        predicted *= scale
        best_predicted *= scale
        for k in range(1, steps + 1):
            multipliers[k] *= scale
    return donor, predicted, best, best_predicted


@NO_ALLOCATION
def _apply_release(path, saved, resting, sizes, factor, resolution, donor):
    """path = saved with factor·δ_k moved from the donor to every planned step k whose
    factor·δ_k exceeds twice the resolution (the holdings between them move, no other trade
    changes); those steps stop resting. Returns how many."""
    steps = path.shape[0] - 1
    released = 0
    for k in range(steps + 1):
        path[k] = saved[k]
    for k in range(1, steps + 1):
        if sizes[k] == 0.0:
            continue
        resting[k] = True
        delta = factor * sizes[k]
        if delta <= 2.0 * resolution:
            continue
        if donor < k:
            for j in range(donor, k):
                path[j] += delta
        else:
            for j in range(k, donor):
                path[j] -= delta
        resting[k] = False
        released += 1
    return released


@NO_ALLOCATION
def _rest_tiny_trades(levels, trading, count, resolution, resting, settled):
    """Hold trading steps whose trade is at most the resolution at 0 for good (resting and
    settled); True if any."""
    found = False
    for i in range(1, count + 1):
        if levels[i - 1] - levels[i] <= resolution:
            resting[trading[i]] = True
            settled[trading[i]] = True
            found = True
    return found


@NO_ALLOCATION
def _hold_resting(path, resting):
    """Make the resting steps trade exactly 0 (their holdings carried over) and the last
    trading step sell what is left."""
    steps = path.shape[0] - 1
    for k in range(1, steps + 1):
        if resting[k]:
            path[k] = path[k - 1]
    last = steps
    while resting[last]:
        last -= 1
    for k in range(last, steps + 1):
        path[k] = 0.0


@NO_ALLOCATION
def _solve_episode(start, drift, coefficient, exponent, permanent, urgency, tau, path, work,
                   resting, settled, trading):
    """Newton's method in the holdings with a primal active set for n_k >= 0 (one episode).

    Working set: the resting steps (n_k = 0 exactly). Holdings are constant across them, so
    the unknowns are the levels between consecutive trading steps, and the Hessian of U in the
    levels is tridiagonal: diagonal φ''(T_i) + φ''(T_{i+1}) + 2qτw_i, off-diagonal -φ''(T_{i+1})
    (T_i the trades, w_i the widths), positive definite while the trades are positive
    (φ''(n) -> ∞ as n -> 0 for β < 1, so a trade at 0 must be held there, never approached).

    Every iteration first computes the multipliers μ_k of the resting steps (`_multipliers`);
    those below -max(dual tolerance, Σ|gradient|) are released (`_release_sizes`,
    `_apply_release`): the sign of such a multiplier cannot change by converging the current
    working set further. All of them are released together if that lowers U by at least ARMIJO
    times the first-order prediction Σμ_k·δ_k, with the δ_k halved up to three times; otherwise
    only the most negative, with δ halved until it does (so U decreases at every change of the
    working set and the iteration cannot cycle). Otherwise, if the levels are stationary
    (gradient <= KKT_TOLERANCE·P, or the last Newton step moved them by less than the resolution
    RESOLUTION·x_0) the point is optimal, once trades at or below the resolution have been set
    to exactly 0 (with β near 0 their marginal cost is far from negligible); if not, a Newton
    step is taken in the levels: the full step (projected onto non-increasing levels >= 0 if it
    would leave them), else the step to the first trade that reaches 0, else backtracking
    (Armijo, with an allowance for rounding on the full step). Trades that land on 0 join the
    working set at exactly 0. The dual tolerance is max(KKT_TOLERANCE·P,
    c(1+β)(2·RESOLUTION·x_0)^β): a step whose released trade would not exceed twice the
    resolution stays at 0.
    Start: the equality-constrained linear plan with the curvature φ'' at the TWAP trade
    x_0/m, trades below 1e-9·x_0/m set to 0 and the rest scaled to sum to x_0 (exact for
    β = 1 when it never reverses). Returns the number of iterations, or -1.
    """
    steps = drift.shape[0]
    beta = exponent
    gain = coefficient * (1.0 + beta)
    for k in range(steps + 1):
        path[k] = 0.0
        settled[k] = False
    path[0] = start
    if start == 0.0 or steps == 1:
        return 0
    prefix, levels, widths, sums, power = work[0], work[1], work[2], work[3], work[4]
    gradient, diagonal, off, direction = work[5], work[6], work[7], work[8]
    trial, trial_power, scratch = work[9], work[10], work[11]
    marginal, curvature, saved = work[12], work[13], work[14]
    prefix[0] = 0.0
    absolute = 0.0
    for k in range(1, steps + 1):
        prefix[k] = prefix[k - 1] + drift[k - 1]
        absolute += abs(drift[k - 1])
    tolerance = KKT_TOLERANCE * (gain * start**beta + permanent * start
                                 + 2.0 * urgency * tau * steps * start + tau * absolute)
    resolution = RESOLUTION * start
    dual_tolerance = max(tolerance, gain * (2.0 * resolution) ** beta)

    # Warm start: linear plan with curvature k0 = φ''(x_0/m), tridiagonal in x_1..x_{m-1}:
    # -x_{j-1} + (2 + 2qτ/k0)·x_j - x_{j+1} = τ·a_j/k0.
    twap_curvature = gain * beta * (start / steps) ** (beta - 1.0) - permanent
    for j in range(steps - 1):
        diagonal[j] = 2.0 + 2.0 * urgency * tau / twap_curvature
        off[j] = -1.0
        scratch[j] = tau * drift[j] / twap_curvature
    scratch[0] += start
    _factor(diagonal, off, steps - 1)
    _substitute(diagonal, off, scratch, 0, steps - 1)
    positive = 0.0
    previous = start
    for k in range(1, steps + 1):
        current = scratch[k - 1] if k < steps else 0.0
        direction[k] = previous - current  # the linear plan's trades
        resting[k] = direction[k] <= 1e-9 * start / steps
        if not resting[k]:
            positive += direction[k]
        previous = current
    for k in range(1, steps + 1):
        path[k] = path[k - 1] - (0.0 if resting[k] else direction[k] * (start / positive))
    count = _rebuild(start, prefix, path, resting, trading, levels, widths, sums, power, beta)

    current, size = _objective(levels, power, widths, sums, count, coefficient, permanent,
                               urgency, tau)
    moved = np.inf  # how far the last Newton step moved the holdings
    for iteration in range(100 + 20 * steps):  # the bound of extended.no_buyback_holdings
        for i in range(1, count + 1):
            trade = levels[i - 1] - levels[i]
            marginal[i] = gain * power[i] - permanent * trade
            curvature[i] = gain * beta * power[i] / trade - permanent
        largest = 0.0
        total = 0.0
        for i in range(1, count):
            gradient[i] = (marginal[i + 1] - marginal[i]
                           + 2.0 * urgency * tau * widths[i] * levels[i] - tau * sums[i])
            largest = max(largest, abs(gradient[i]))
            total += abs(gradient[i])
        stationary = largest <= tolerance or moved <= resolution
        if not stationary:  # Chebyshev (third-order Newton) step on the free levels
            for i in range(1, count):
                diagonal[i - 1] = (curvature[i] + curvature[i + 1]
                                   + 2.0 * urgency * tau * widths[i])
                off[i - 1] = -curvature[i + 1]
                direction[i] = -gradient[i]
            _factor(diagonal, off, count - 1)
            _substitute(diagonal, off, direction, 1, count - 1)
            direction[0] = 0.0
            direction[count] = 0.0
            # second-order change of the gradient along the Newton step d, ½·D³U[d, d]: its
            # component j is ½(φ'''(T_{j+1})·ΔT_{j+1}² - φ'''(T_j)·ΔT_j²), φ''' = (φ''+γ)(β-1)/T
            for i in range(1, count + 1):
                change = direction[i - 1] - direction[i]
                trial_power[i] = (0.5 * (curvature[i] + permanent) * (beta - 1.0)
                                  / (levels[i - 1] - levels[i]) * change * change)
            newton_move = 0.0
            for i in range(1, count):
                trial[i] = trial_power[i] - trial_power[i + 1]
                newton_move = max(newton_move, abs(direction[i]))
            _substitute(diagonal, off, trial, 1, count - 1)
            correction = 0.0
            for i in range(1, count):
                correction = max(correction, abs(trial[i]))
            slope = 0.0
            for i in range(1, count):
                slope += gradient[i] * (direction[i] + trial[i])
            if correction <= 0.25 * newton_move and slope < 0.0:  # a small correction, downhill
                for i in range(1, count):
                    direction[i] += trial[i]
            move = 0.0
            for i in range(1, count):
                move = max(move, abs(direction[i]))
            stationary = move <= resolution
        if stationary and _rest_tiny_trades(levels, trading, count, resolution, resting, settled):
            _write_path(start, path, trading, levels, count)
            _hold_resting(path, resting)
            count = _rebuild(start, prefix, path, resting, trading, levels, widths, sums, power,
                             beta)
            current, size = _objective(levels, power, widths, sums, count, coefficient,
                                       permanent, urgency, tau)
            moved = np.inf
            continue
        if count < steps:
            _multipliers(levels, power, trading, count, drift, gain, permanent, urgency, tau,
                         scratch)
            threshold = dual_tolerance if stationary else max(dual_tolerance, total)
            _write_path(start, path, trading, levels, count)
            donor, predicted, best, best_predicted = _release_sizes(
                path, resting, settled, scratch, threshold, gain, beta)
            if predicted < 0.0:  # release, backtracking until U falls as predicted
                for k in range(steps + 1):
                    saved[k] = path[k]
                factor, released, together = 1.0, False, True
                while _apply_release(path, saved, resting, scratch, factor, resolution,
                                     donor) > 0:
                    count = _rebuild(start, prefix, path, resting, trading, levels, widths,
                                     sums, power, beta)
                    value, size = _objective(levels, power, widths, sums, count, coefficient,
                                             permanent, urgency, tau)
                    if value <= current + ARMIJO * factor * predicted:
                        released = True
                        break
                    if together and factor < 0.2:  # all at once keeps overshooting:
                        together = False  # only the most negative, from full size again
                        factor = 1.0
                        for k in range(1, steps + 1):
                            if scratch[k] > 0.0 and k != best:
                                scratch[k] = 0.0
                                resting[k] = True
                        predicted = best_predicted
                    else:
                        factor *= 0.5
                if released:
                    current, moved = value, np.inf
                    continue
                # nothing worth releasing: back to the working set before (path = saved)
                count = _rebuild(start, prefix, path, resting, trading, levels, widths, sums,
                                 power, beta)
                current, size = _objective(levels, power, widths, sums, count, coefficient,
                                           permanent, urgency, tau)
        if stationary:
            _write_path(start, path, trading, levels, count)
            return iteration

        allowance = ROUNDING_ALLOWANCE * size
        longest, blocking = 1.0, -1
        for i in range(1, count + 1):
            change = direction[i - 1] - direction[i]
            if change < 0.0:
                reach = (levels[i - 1] - levels[i]) / -change
                if reach <= longest:
                    longest, blocking = reach, i
        # 1. the full step, projected onto non-increasing levels >= 0 if it leaves them
        for i in range(count + 1):
            trial[i] = levels[i] + direction[i]
        _project(trial, start, count)
        value = _trial_objective(trial, trial_power, widths, sums, count, coefficient, beta,
                                 permanent, urgency, tau)
        change = _change_along(gradient, trial, levels, count)
        accepted = change < 0.0 and value <= current + ARMIJO * change + allowance
        allowance = 0.0  # shorter steps must decrease U beyond rounding
        # 2. the step to the first trade that reaches 0, then 3. backtracking
        step = longest if blocking > 0 else 0.5
        for _ in range(80):
            if accepted:
                break
            for i in range(count + 1):
                trial[i] = levels[i] + step * direction[i]
            if blocking > 0:  # land exactly on n = 0
                if blocking < count:
                    trial[blocking] = trial[blocking - 1]
                else:
                    trial[count - 1] = 0.0
                _project(trial, start, count)
            value = _trial_objective(trial, trial_power, widths, sums, count, coefficient, beta,
                                     permanent, urgency, tau)
            change = _change_along(gradient, trial, levels, count)
            accepted = value <= current + ARMIJO * change + allowance
            step *= 0.5
            blocking = -1
        if not accepted:
            return -1
        lands, moved = False, 0.0
        for i in range(count + 1):
            moved = max(moved, abs(trial[i] - levels[i]))
            levels[i] = trial[i]
            power[i] = trial_power[i]
            lands = lands or (i > 0 and levels[i - 1] - levels[i] <= 0.0)
        current = value
        if lands:
            _write_path(start, path, trading, levels, count)
            for i in range(1, count + 1):
                if levels[i - 1] - levels[i] <= 0.0:
                    resting[trading[i]] = True
            count = _rebuild(start, prefix, path, resting, trading, levels, widths, sums, power,
                             beta)
            current, size = _objective(levels, power, widths, sums, count, coefficient,
                                       permanent, urgency, tau)
            moved = np.inf
    return -1
