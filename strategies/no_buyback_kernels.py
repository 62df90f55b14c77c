"""Compiled no-buy-back planner (numba), imported only when a no-buy-back plan is solved.

`solve_batch` solves the problem of `acsim.strategies.extended.no_buyback_plans` for every
episode in one compiled call: per episode the equality-constrained plan and, where it would
buy back, the exact optimum with n_k >= 0 (MODEL.md §3b) by an active set on the steps that
trade nothing (`_solve_episode`). Most optima rest on one side of a single boundary (sold out
early, or waiting before selling): one sweep of the tridiagonal elimination finds that
boundary and verifies the KKT conditions (`_sell_out_plan`, `_wait_then_sell_plan`); the
general active set, started from a guessed working set, solves the others. Every linear
system is tridiagonal in the holdings levels; the eliminations of the two constant-diagonal
ones are shared by the whole batch. Episodes are independent: a row's answer never depends on
the rest of the batch, so the vectorised engine's episodes replay in the Mesa model bit for
bit. Plans agree with the per-episode numpy active set (`reference.active_set_holdings`) to
rounding (4e-16 of the holdings on the tests' random cases, 2e-15 on the 390-step day rows).
"""

from __future__ import annotations

import numba
import numpy as np

# Episode status returned by `solve_batch` besides a count of working sets tried >= 0.
NOT_CONVERGED = -1
# Primal-dual rounds (every wrong step of the working set changed at once) before the primal
# active set (one step at a time, sure to finish) takes over; on the tests' random cases the
# rounds settle within 10, from any guess.
PRIMAL_DUAL_ROUNDS = 20

# The per-episode kernels allocate nothing (the batch driver owns every array), so they are
# compiled without numba's reference counting (as in acsim.strategies.power_law).
NO_ALLOCATION = numba.njit(cache=True, error_model="numpy", _nrt=False)


@NO_ALLOCATION
def _eliminate(diagonal, factors, size):
    """Forward elimination of tridiag(-1, diagonal, -1) (Gaussian, no pivoting: every pivot
    d_i is >= 1 here): factors[i] = -1/d_i, the multiple of row i subtracted from row i + 1
    and, negated, the reciprocal of pivot i. diagonal is overwritten with the pivots."""
    for i in range(size):
        factors[i] = -1.0 / diagonal[i]
        if i + 1 < size:
            diagonal[i + 1] += factors[i]


@NO_ALLOCATION
def _substitute(rhs, factors, size):
    """Solve in place with the factors of `_eliminate`: the divisions by the pivots are
    multiplications by their reciprocals, so nothing but multiply-adds depends on the
    previous unknown."""
    for i in range(size - 1):
        rhs[i + 1] -= factors[i] * rhs[i]
    rhs[size - 1] *= -factors[size - 1]
    for i in range(size - 2, -1, -1):
        rhs[i] = (rhs[i] + rhs[i + 1]) * -factors[i]


@NO_ALLOCATION
def _free_plan(start, drift, free_scale, free_factors, path):
    """The equality-constrained plan x_0..x_m into path (as `extended.optimal_holdings`)."""
    steps = drift.shape[0]
    path[0] = start
    path[steps] = 0.0
    if steps == 1:
        return
    for j in range(steps - 1):
        path[j + 1] = free_scale * drift[j]
    path[1] += start
    _substitute(path[1:], free_factors, steps - 1)


@NO_ALLOCATION
def _level_plan(start, prefix, resting, urgency_width, half_ratio, level_factors, path,
                trading, diagonal, factors, levels):
    """Optimum with the resting steps held at zero trade, into path; returns the number of
    trading steps p; trading[0] and trading[p - 1] are the first and the last (1-based).

    Holdings are constant between trading steps, so the unknowns are the p - 1 levels between
    consecutive trades: -y_{i-1} + (2 + qτ²w_i/η̃)·y_i - y_{i+1} = (τ²/2η̃)·Σ a over level i
    (w_i steps wide), with y_0 = x_0 and y_p = 0 (as the per-episode active set solves it).
    When the trading steps are consecutive every w_i is 1 and the elimination is the one
    precomputed for the whole batch (level_factors).
    """
    steps = path.shape[0] - 1
    first, last = 1, steps
    while resting[first]:
        first += 1
    while resting[last]:
        last -= 1
    count = 0
    for k in range(first, last + 1):
        count += not resting[k]
    for k in range(first):
        path[k] = start
    if last - first == count - 1:  # consecutive trading steps: one step per level
        trading[0], trading[count - 1] = first, last
        for i in range(count - 1):
            levels[i] = half_ratio * (prefix[first + i] - prefix[first + i - 1])
        if count > 1:
            levels[0] += start
            _substitute(levels, level_factors, count - 1)
        for i in range(count - 1):
            path[first + i] = levels[i]
    else:
        count = 0
        for k in range(first, last + 1):
            if not resting[k]:
                trading[count] = k
                count += 1
        for i in range(count - 1):
            levels[i] = half_ratio * (prefix[trading[i + 1] - 1] - prefix[trading[i] - 1])
            diagonal[i] = 2.0 + urgency_width * (trading[i + 1] - trading[i])
        levels[0] += start
        _eliminate(diagonal, factors, count - 1)
        _substitute(levels, factors, count - 1)
        for i in range(count - 1):
            for k in range(trading[i], trading[i + 1]):
                path[k] = levels[i]
    for k in range(last, steps + 1):
        path[k] = 0.0
    return count


@NO_ALLOCATION
def _multipliers(path, drift, first_trade, impact_rate, urgency_tau, tau, multipliers):
    """multipliers[k] = μ_k, the KKT multiplier of n_k >= 0 at path (k = 1..m).

    μ_k = Σ_{j<k} ∂U/∂x_j - Σ_{j<t} ∂U/∂x_j (t the first trading step), with ∂U/∂x_j =
    2(η̃/τ)(2x_j - x_{j-1} - x_{j+1}) + 2qτ·x_j - τ·a_j (currency per share); zero on every
    trading step when path is optimal for its working set.
    """
    steps = drift.shape[0]
    multipliers[1] = 0.0
    for k in range(1, steps):
        multipliers[k + 1] = multipliers[k] + (
            2.0 * impact_rate * (2.0 * path[k] - path[k - 1] - path[k + 1])
            + 2.0 * urgency_tau * path[k] - tau * drift[k - 1])
    base = multipliers[first_trade]
    for k in range(1, steps + 1):
        multipliers[k] -= base


@NO_ALLOCATION
def _primal_dual_round(path, drift, resting, first_trade, last_trade, prefix, peaks,
                       impact_rate, urgency_tau, tau, tolerance):
    """Update the working set from the optimum for it (path): rest every trading step whose
    trade is negative, free every resting step whose multiplier μ_k (as `_multipliers`) is
    below -tolerance. Returns (whether anything changed, the number of trading steps).

    After the last trade L nothing is held, so there ∂U/∂x_j = -τa_j and μ_k = μ_{L+1} -
    τ(prefix[k-1] - prefix[L]); those steps are visited only if the lowest of them,
    μ_{L+1} - τ(peaks[L] - prefix[L]) with peaks[i] = max(prefix[i..m-1]), is below
    -tolerance.
    """
    steps = drift.shape[0]
    base = 0.0
    for k in range(1, first_trade):
        base += (2.0 * impact_rate * (2.0 * path[k] - path[k - 1] - path[k + 1])
                 + 2.0 * urgency_tau * path[k] - tau * drift[k - 1])
    multiplier = -base
    changed = False
    count = 0
    for k in range(1, last_trade + 1):
        if resting[k] and multiplier < -tolerance:
            resting[k] = False
            changed = True
        elif not resting[k] and path[k - 1] - path[k] < 0.0:
            resting[k] = True
            changed = True
        count += not resting[k]
        if k < steps:
            multiplier += (2.0 * impact_rate * (2.0 * path[k] - path[k - 1] - path[k + 1])
                           + 2.0 * urgency_tau * path[k] - tau * drift[k - 1])
    if last_trade < steps and (multiplier - tau * (peaks[last_trade] - prefix[last_trade])
                               < -tolerance):
        for k in range(last_trade + 1, steps + 1):
            if multiplier - tau * (prefix[k - 1] - prefix[last_trade]) < -tolerance:
                resting[k] = False
                changed = True
                count += 1
    return changed, count


@NO_ALLOCATION
def _cold_guess(start, drift, free_scale, tables, path, resting):
    """Rest where the equality-constrained plan (into path) buys back or stands still;
    returns whether it buys back anywhere (if not, path is the answer)."""
    _free_plan(start, drift, free_scale, tables[0], path)
    buys = False
    for k in range(1, path.shape[0]):
        resting[k] = path[k] - path[k - 1] >= 0.0
        buys = buys or path[k] - path[k - 1] > 0.0
    return buys


@NO_ALLOCATION
def _finish(start, drift, free_scale, tables, target, path, count, iterations):
    """Write the optimum into path (target, or the equality-constrained plan itself when
    nothing rests); returns iterations."""
    if count == drift.shape[0]:
        _free_plan(start, drift, free_scale, tables[0], path)
    else:
        for k in range(path.shape[0]):
            path[k] = target[k]
    return iterations


@NO_ALLOCATION
def _tolerance(start, drift, impact_rate, urgency, tau):
    """-tolerance is the lowest multiplier accepted as >= 0: 1e-12 of the cost scale
    η̃x_0/τ + qτmx_0 + τΣ|a_k| (currency per share)."""
    scale = impact_rate * start + urgency * tau * start * drift.shape[0]
    for k in range(drift.shape[0]):
        scale += tau * abs(drift[k])
    return 1e-12 * scale


@NO_ALLOCATION
def _sell_out_plan(start, drift, free_scale, free_factors, impact_rate, urgency, tau, path):
    """Try the working set "trade on steps 1..L, rest after" with L found in one sweep; into
    path; returns L if that plan is optimal, else 0.

    The forward elimination of the equality-constrained system (as `_free_plan`) gives, after
    row k, the last trade n_{k+1} of the plan sold out at step k + 1 (the last unknown of the
    first k rows). L is the first k at which that trade is <= 0: the multiplier of resting
    step L + 1 of the plan sold out at L, μ_{L+1} = ∂U/∂x_L = -2(η̃/τ)·n_L - τa_L, equals
    -2(η̃/τ)·p_L·n_{L+1} (p_L the pivot of row L), so it is then >= 0. The back substitution
    gives the plan; it is optimal if no trade is negative and the multipliers
    μ_{k+1} = μ_k - τa_k of the later steps (nothing held) are >= -tolerance. With L = m it is
    the equality-constrained plan, to the bit.
    """
    steps = drift.shape[0]
    path[0] = start
    last = steps
    for k in range(1, steps):
        path[k] = free_scale * drift[k - 1]
        if k == 1:
            path[1] += start
        else:
            path[k] -= free_factors[k - 2] * path[k - 1]
        if path[k] * -free_factors[k - 1] <= 0.0:
            last = k
            break
    for k in range(last, steps + 1):
        path[k] = 0.0
    if last > 1:
        path[last - 1] *= -free_factors[last - 2]
    for k in range(last - 2, 0, -1):
        path[k] = (path[k] + path[k + 1]) * -free_factors[k - 1]
        if path[k] - path[k + 1] < 0.0:
            return 0
    if start - path[1] < 0.0:
        return 0
    multiplier = -2.0 * impact_rate * path[last - 1] - tau * drift[last - 1]
    lowest = 0.0
    for k in range(last + 1, steps + 1):
        lowest = min(lowest, multiplier)
        multiplier -= tau * drift[k - 1]
    if lowest < 0.0 and lowest < -_tolerance(start, drift, impact_rate, urgency, tau):
        return 0
    return last


@NO_ALLOCATION
def _wait_then_sell_plan(start, drift, free_scale, free_factors, impact_rate, urgency, tau,
                         path):
    """Try the working set "rest on steps 1..F-1, trade from F on" with F found in one
    sweep; into path; returns F if that plan is optimal, else 0.

    The same system eliminated from the bottom (the same pivots: the matrix is symmetric under
    reversal) gives, after row k, the first trade n_k of the plan that holds x_0 until step k
    and trades from k on. F is k + 1 for the first k (from the bottom) at which that trade is
    <= 0: the multiplier of resting step F - 1 of the plan trading from F, μ_{F-1} =
    -∂U/∂x_{F-1}, equals -2(η̃/τ)·p_{m-F+1}·n_{F-1}, so it is then >= 0. The forward
    substitution gives the plan; it is optimal if no trade is negative and the multipliers
    μ_k = μ_{k+1} - ∂U/∂x_k of the earlier steps (x_0 held) are >= -tolerance. With F = 1 it
    is the equality-constrained plan (to rounding: eliminated from the other end).
    """
    steps = drift.shape[0]
    path[steps] = 0.0
    first = 1
    for k in range(steps - 1, 0, -1):
        path[k] = free_scale * drift[k - 1]
        if k < steps - 1:
            path[k] -= free_factors[steps - k - 2] * path[k + 1]
        if start - (path[k] + start) * -free_factors[steps - k - 1] <= 0.0:
            first = k + 1
            break
    for k in range(first):
        path[k] = start
    for k in range(first, steps):
        path[k] = (path[k] + path[k - 1]) * -free_factors[steps - k - 1]
        if path[k - 1] - path[k] < 0.0:
            return 0
    if path[steps - 1] < 0.0:
        return 0
    holding = 2.0 * urgency * tau * start  # ∂U/∂x_k + τa_k where x_k and its neighbours are x_0
    lowest = 0.0
    if first > 1:
        multiplier = -(2.0 * impact_rate * (start - path[first]) + holding
                       - tau * drift[first - 2])
        lowest = multiplier
        for k in range(first - 2, 0, -1):
            multiplier -= holding - tau * drift[k - 1]
            lowest = min(lowest, multiplier)
    if lowest < 0.0 and lowest < -_tolerance(start, drift, impact_rate, urgency, tau):
        return 0
    return first


@NO_ALLOCATION
def _solve_episode(start, drift, resting, path, free_scale, urgency_width, half_ratio,
                   impact_rate, urgency, tau, sweeps, rounds, tables, work, trading):
    """One episode's no-buy-back plan into path; returns the number of working sets tried
    (0 when the equality-constrained plan never buys back) or NOT_CONVERGED.

    resting[1..m] is the guessed working set on entry (steps held at zero trade; none or all:
    guess from the equality-constrained plan, resting where it does not sell) and the optimal
    one on exit. With `sweeps`, the two single-boundary working sets are tried first, the kind
    of the guess first (it waits if it rests at step 1); each is kept only if optimal. Else
    each iteration solves the optimum for a working set (`_level_plan`), starting from the
    guess: first up to `rounds` primal-dual rounds: rest every trading step whose trade
    would be negative, free every resting step whose multiplier is below -tolerance; if the
    working set stands still, it is optimal. Then, if they have not settled (they may cycle),
    the primal active set from a feasible path: move towards the working set's optimum, stop
    at the first trade that would turn negative and hold it at zero, or, once there, free the
    resting step with the lowest multiplier. Optimal when every trade is >= 0 and no
    multiplier is below -tolerance = -1e-12 of the cost scale η̃x_0/τ + qτmx_0 + τΣ|a_k|
    (currency per share).
    """
    steps = drift.shape[0]
    target, prefix, peaks, diagonal = work[0], work[1], work[2], work[3]
    factors, levels, multipliers = work[4], work[5], work[6]
    resting[0] = False
    if start == 0.0 or steps == 1:
        path[0] = start
        for k in range(1, steps + 1):
            path[k] = 0.0
            resting[k] = start == 0.0
        return 0
    count = 0
    for k in range(1, steps + 1):
        count += not resting[k]
    if count == 0 or count == steps:
        if not _cold_guess(start, drift, free_scale, tables, path, resting):
            for k in range(1, steps + 1):
                resting[k] = False
            return 0
    tried = 0
    if sweeps:
        waits = resting[1]
        for tried in range(1, 3):
            wait = waits == (tried == 1)
            if wait:
                boundary = _wait_then_sell_plan(start, drift, free_scale, tables[0],
                                                impact_rate, urgency, tau, path)
            else:
                boundary = _sell_out_plan(start, drift, free_scale, tables[0], impact_rate,
                                          urgency, tau, path)
            if boundary:
                for k in range(1, steps + 1):
                    resting[k] = k < boundary if wait else k > boundary
                return 0 if boundary == (1 if wait else steps) else tried
    prefix[0] = 0.0
    for k in range(1, steps + 1):
        prefix[k] = prefix[k - 1] + drift[k - 1]
    tolerance = _tolerance(start, drift, impact_rate, urgency, tau)
    urgency_tau = urgency * tau
    peaks[steps - 1] = prefix[steps - 1]
    for i in range(steps - 2, -1, -1):
        peaks[i] = max(prefix[i], peaks[i + 1])

    for iteration in range(rounds):
        count = _level_plan(start, prefix, resting, urgency_width, half_ratio, tables[1],
                            target, trading, diagonal, factors, levels)
        changed, count = _primal_dual_round(target, drift, resting, trading[0],
                                            trading[count - 1], prefix, peaks, impact_rate,
                                            urgency_tau, tau, tolerance)
        if not changed:
            return _finish(start, drift, free_scale, tables, target, path, count,
                           tried + iteration + 1)
        if count == 0:  # everything rests: no working set to go on from
            _cold_guess(start, drift, free_scale, tables, path, resting)
            break

    # primal active set from a feasible path consistent with the working set: equal trades
    count = 0
    for k in range(1, steps + 1):
        count += not resting[k]
    traded = 0
    path[0] = start
    for k in range(1, steps + 1):
        traded += not resting[k]
        path[k] = start - start * traded / count
    for iteration in range(rounds, rounds + 20 * steps + 20):
        count = _level_plan(start, prefix, resting, urgency_width, half_ratio, tables[1],
                            target, trading, diagonal, factors, levels)
        blocking, ratio = 0, np.inf
        for k in range(1, steps + 1):
            goal = target[k - 1] - target[k]
            if not resting[k] and goal < 0.0:
                current = path[k - 1] - path[k]
                if current / (current - goal) < ratio:
                    blocking, ratio = k, current / (current - goal)
        if blocking == 0:
            _multipliers(target, drift, trading[0], impact_rate, urgency_tau, tau, multipliers)
            worst, lowest = 0, -tolerance
            for k in range(1, steps + 1):
                if resting[k] and multipliers[k] < lowest:
                    worst, lowest = k, multipliers[k]
            if worst == 0:
                return _finish(start, drift, free_scale, tables, target, path, count,
                               tried + iteration + 1)
            resting[worst] = False
            for k in range(steps + 1):
                path[k] = target[k]
            continue
        for k in range(steps + 1):
            path[k] += ratio * (target[k] - path[k])
        resting[blocking] = True
    return NOT_CONVERGED


@numba.njit(cache=True, error_model="numpy")
def solve_batch(start, drift, resting, path, free_diagonal, free_scale, urgency_width,
                half_ratio, impact_rate, urgency, tau, sweeps=True, rounds=PRIMAL_DUAL_ROUNDS):
    """Solve every episode (start (E,), drift (E, m)) into path (E, m + 1), resting (E, m + 1)
    the guessed working sets on entry and the optimal ones on exit (see `_solve_episode`);
    returns how many working sets each episode tried (NOT_CONVERGED where it failed).

    free_diagonal, free_scale: 2 + qτ²/η̃ and τ²/(2η̃) as `extended.optimal_holdings` computes
    them; urgency_width, half_ratio: qτ²/η̃ and τ²/(2η̃) as the level systems use them;
    impact_rate η̃/τ; urgency q; tau τ; sweeps: whether the single-boundary working sets are
    tried first; rounds: the primal-dual rounds before the primal active set takes over.
    """
    episodes, steps = drift.shape
    # the eliminations of the two constant-diagonal systems, shared by every episode:
    # the factors of the equality-constrained plan's and of consecutive trading steps' levels
    tables = np.zeros((2, steps + 1))
    diagonal = np.full(steps + 1, free_diagonal)
    _eliminate(diagonal, tables[0], steps + 1)
    diagonal[:] = 2.0 + urgency_width
    _eliminate(diagonal, tables[1], steps + 1)
    work = np.zeros((7, steps + 1))
    trading = np.zeros(steps + 1, dtype=np.int64)
    iterations = np.zeros(episodes, dtype=np.int64)
    for e in range(episodes):
        iterations[e] = _solve_episode(start[e], drift[e], resting[e], path[e], free_scale,
                                       urgency_width, half_ratio, impact_rate, urgency, tau,
                                       sweeps, rounds, tables, work, trading)
    return iterations
