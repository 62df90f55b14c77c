"""Independent oracles shared by several test files (written from MODEL.md, not from the code)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def dense_optimum(step_length: float, effective_temporary_impact: float, urgency: float,
                  drift: np.ndarray, start: float) -> np.ndarray:
    """Brute-force minimiser of the MODEL §3 planning objective: dense Hessian from difference
    and selection matrices (nothing tridiagonal, no hyperbolic functions), x_0 = start and
    x_m = 0 fixed, normal equations of the free holdings solved by numpy. Returns x_0..x_m."""
    drift = np.asarray(drift, dtype=float)
    steps = drift.shape[0]
    size = steps + 1
    difference = np.zeros((steps, size))
    difference[np.arange(steps), np.arange(steps)] = 1.0
    difference[np.arange(steps), np.arange(1, size)] = -1.0
    carried = np.zeros((steps, size))
    carried[np.arange(steps), np.arange(1, size)] = 1.0
    hessian = (2.0 * effective_temporary_impact / step_length * difference.T @ difference
               + 2.0 * urgency * step_length * carried.T @ carried)
    linear = step_length * carried.T @ drift  # gradient of the drift term is -linear
    path = np.zeros(size)
    path[0] = start
    if steps > 1:
        free = np.arange(1, steps)
        rhs = linear[free] - hessian[np.ix_(free, [0])][:, 0] * start
        path[free] = np.linalg.solve(hessian[np.ix_(free, free)], rhs)
    return path


def least_squares_holdings(shares: float, steps: int, step_length: float,
                           effective_impact: float, urgency: float) -> np.ndarray:
    """x_0..x_N minimising (η̃/τ)Σ n_k² + urgency·τ·Σ x_k² with x_0 = X, x_N = 0, written as
    one linear least-squares problem in x_1..x_{N-1} (numpy lstsq)."""
    free = steps - 1
    rows, rhs = [], []
    weight = math.sqrt(effective_impact / step_length)
    for k in range(1, steps + 1):
        row, constant = np.zeros(free), 0.0
        if k == 1:
            constant = shares
        else:
            row[k - 2] = 1.0
        if k <= free:
            row[k - 1] = -1.0
        rows.append(weight * row)
        rhs.append(-weight * constant)
    for k in range(1, steps):
        row = np.zeros(free)
        row[k - 1] = math.sqrt(urgency * step_length)
        rows.append(row)
        rhs.append(0.0)
    solution = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.concatenate([[shares], solution, [0.0]])


def expected_shortfall_with_self_alpha(holdings: np.ndarray, step_length: float,
                                       effective_impact: float, permanent_impact: float,
                                       half_spread: float, self_alpha: float) -> float:
    """MODEL §3 E with zero drift plus the self-alpha term self_alpha·τ·Σ x_k²."""
    trades = holdings[:-1] - holdings[1:]
    return float(0.5 * permanent_impact * holdings[0] ** 2 + half_spread * np.abs(trades).sum()
                 + effective_impact / step_length * np.sum(trades**2)
                 + self_alpha * step_length * np.sum(holdings[1:] ** 2))


def read_table(out: Path, name: str) -> pd.DataFrame:
    """An experiment table, after checking its CSV and Parquet copies agree."""
    csv = pd.read_csv(out / f"{name}.csv")
    parquet = pd.read_parquet(out / f"{name}.parquet")
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False, check_exact=False,
                                  rtol=1e-15, atol=0.0)
    return parquet


def price_shocks(seed: int, block: int, episodes: int, steps: int) -> np.ndarray:
    """ξ of the first `episodes` episodes of a block, rebuilt from the documented protocol:
    PCG64 stream SeedSequence(seed, spawn_key=(block, 2)), one uniform per step, episode by
    episode, ξ = Φ⁻¹(max(u, 2⁻⁵⁴))."""
    from scipy.special import ndtri

    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed,
                                                                           spawn_key=(block, 2))))
    uniforms = generator.random(episodes * steps)
    return ndtri(np.maximum(uniforms, 2.0**-54)).reshape(episodes, steps)


def kirman_up_down(M: int, a1: float, a2: float, b: float, m: int) -> tuple[float, float]:
    """MODEL §4, written out: p_up = (M-m)/M (a1 + b m/(M-1)), p_down = m/M (a2 + b(M-m)/(M-1))."""
    up = (M - m) / M * (a1 + b * m / (M - 1))
    down = m / M * (a2 + b * (M - m) / (M - 1))
    return up, down


def kirman_micro_matrix(M: int, a1: float, a2: float, b: float) -> np.ndarray:
    """The one-micro-update transition matrix of the count, built entry by entry."""
    matrix = np.zeros((M + 1, M + 1))
    for m in range(M + 1):
        up, down = kirman_up_down(M, a1, a2, b, m)
        if m < M:
            matrix[m, m + 1] = up
        if m > 0:
            matrix[m, m - 1] = down
        matrix[m, m] = 1.0 - up - down
    return matrix


def strategy_settings(volume_profile: tuple) -> dict[str, dict]:
    """Every built-in strategy variant as [strategy] settings, keyed by its label."""
    return {
        "twap": {"name": "twap"},
        "vwap": {"name": "vwap", "volume_profile": tuple(volume_profile)},
        "ac-static": {"name": "ac-static"},
        "ac-adaptive": {"name": "ac-adaptive"},
        "ac-adaptive+no-buyback": {"name": "ac-adaptive", "no_buyback": True},
        "extended/persistent": {"name": "extended", "forecast": "persistent"},
        "extended/model": {"name": "extended", "forecast": "model"},
        "extended/none": {"name": "extended", "forecast": "none"},
        "extended/persistent+no-buyback": {"name": "extended", "forecast": "persistent",
                                           "no_buyback": True},
        "extended/model+no-buyback": {"name": "extended", "forecast": "model",
                                      "no_buyback": True},
    }


def loop_random_walk_matrix(M, p):
    """The paper's ±1 rule as a matrix, built entry by entry (moves out of [0, M] suppressed)."""
    matrix = np.zeros((M + 1, M + 1))
    for m in range(M + 1):
        if m < M:
            matrix[m, m + 1] = p
        if m > 0:
            matrix[m, m - 1] = p
        matrix[m, m] = 1.0 - matrix[m].sum()
    return matrix


def kirman_closed_form(M, a1, a2, s, m):
    """MODEL §4: E[m_{k+s} | m_k = m] = m* + ρ^s (m - m*), ρ = (1 - (a1+a2)/M)^M,
    m* = M·a1/(a1+a2)."""
    mean = M * a1 / (a1 + a2)
    rho = (1.0 - (a1 + a2) / M) ** M
    return mean + rho**s * (m - mean)


def verdict_rule(low: float, high: float, sign: int) -> str:
    """The verdict rule as the reports state it: a claim "the statistic is above (sign +1) or
    below (-1) 0" holds when its whole interval is strictly on that side, does not hold when
    the interval is wholly on the other side or the exact value is 0, else cannot be told."""
    low, high = sorted((sign * low, sign * high))
    if low > 0:
        return "holds"
    if high < 0 or low == high == 0:
        return "does not hold"
    return "cannot tell"


def order_flow_recursion(*, price: float, drift: float, volatility: float, step_length: float,
                         permanent_impact: float, half_spread: float, temporary_impact: float,
                         side: int, agents: int, momentum_size: float, reversion_size: float,
                         lookback: int, momentum_sensitivity: float,
                         reversion_sensitivity: float, momentum_noise: float, warmup: int,
                         counts, trades, noise, momentum_shocks) -> dict:
    """MODEL §6 step by step, written from the text with plain Python floats and loops.

    Market steps j = 1..W+N (order step k = j - W); counts m_0..m_{W+N} (m_0 = the count
    before the first warm-up step), trades n_1..n_N of the order, shocks ξ and ζ per market
    step. With σ = 0 the signal tanh(β·x/(σ·…)) is taken at its limit sgn(β·x). Returns the
    market prices S_{-W}..S_N, efficient prices, flows Q_{1-W}..Q_N, fills S̃_1..S̃_N and IS
    (side·(X·S_0 - Σ n_k S̃_k), X = Σ n_k).
    """
    def respond(difference, scale, sensitivity):
        if scale == 0.0:
            return float(np.sign(sensitivity * difference))
        return math.tanh(sensitivity * difference / scale)

    prices, efficient, flows, fills = [price], [price], [], []
    total = warmup + len(trades)
    for j in range(1, total + 1):
        m = counts[j]
        previous = prices[j - 1]
        back = prices[max(j - 1 - lookback, 0)]
        trend = respond(previous - back, volatility * math.sqrt(lookback * step_length),
                        momentum_sensitivity)
        mispricing = respond(previous - efficient[j - 1], volatility * math.sqrt(step_length),
                             reversion_sensitivity)
        flow = (m * momentum_size * trend
                + momentum_size * momentum_noise * math.sqrt(m) * momentum_shocks[j - 1]
                - (agents - m) * reversion_size * mispricing)
        flows.append(flow)
        trade = trades[j - warmup - 1] if j > warmup else 0.0
        if j > warmup:
            fills.append(previous - side * (half_spread * np.sign(trade)
                                            + temporary_impact / step_length * trade))
        move = drift * step_length + volatility * math.sqrt(step_length) * noise[j - 1]
        prices.append(previous + move + permanent_impact * (flow - side * trade))
        efficient.append(efficient[j - 1] + move)
    arrival = prices[warmup]
    shortfall = side * (sum(trades) * arrival - sum(n * s for n, s in zip(trades, fills)))
    return {"prices": np.array(prices), "efficient_prices": np.array(efficient),
            "flows": np.array(flows), "fills": np.array(fills), "shortfall": shortfall}


def merged_chi_square(observed: np.ndarray, expected: np.ndarray,
                      minimum: float = 5.0) -> tuple[float, float, np.ndarray]:
    """Pearson chi-square after merging adjacent cells left to right until each expects at least
    `minimum` (a remainder joins the last cell): (statistic, p-value, merged expectations)."""
    observed_cells, expected_cells, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(observed, expected):
        o_acc += o
        e_acc += e
        if e_acc >= minimum:
            observed_cells.append(o_acc)
            expected_cells.append(e_acc)
            o_acc = e_acc = 0.0
    observed_cells[-1] += o_acc
    expected_cells[-1] += e_acc
    observed_cells, expected_cells = np.array(observed_cells), np.array(expected_cells)
    statistic = float(np.sum((observed_cells - expected_cells) ** 2 / expected_cells))
    return statistic, float(stats.chi2.sf(statistic, len(expected_cells) - 1)), expected_cells
