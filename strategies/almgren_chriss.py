"""Classical Almgren-Chriss (2000) optimal execution, exact in discrete time (MODEL.md §3a).

The optimal holdings of the mean-variance problem min E + λV with constant drift α are

    x_j = X·sinh(κ(T - t_j))/sinh(κT) + x̄·[1 - (sinh(κ(T - t_j)) + sinh(κ t_j))/sinh(κT)],

x̄ = α/(2λσ²) (AC 2000 §4.1), with κ solving (2/τ²)(cosh κτ - 1) = λσ²/η̃. Every ratio
of hyperbolic functions is evaluated in a form that neither overflows for κT in the
thousands nor cancels for small κT. The continuous-time approximation κ² = λσ²/η is
kept separately and labelled as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acsim.strategies import validation
from acsim.strategies.costs import ScheduleCost, schedule_cost, trades_from_holdings
from acsim.strategies.errors import ParameterError
from acsim.strategies.parameters import ExecutionProblem

SMALL_DECAY = 1e-8  # below this κT the drift term's limit is exact to rounding


def discrete_kappa(urgency: float, effective_temporary_impact: float, step_length: float) -> float:
    """κ = (2/τ)·asinh(τ·√(urgency/η̃)/2), the exact discrete decay rate per time unit.

    urgency is λσ² (plus self_alpha in the extended model). κT = Nκτ must be finite: the
    schedules are ratios of hyperbolic functions of it.
    """
    rate = 2.0 / step_length * math.asinh(
        0.5 * step_length * math.sqrt(urgency / effective_temporary_impact)
    )
    validation.within_float_range([(
        "κ, the decay rate (per time unit)", rate,
        "risk_aversion·volatility² + self_alpha (the urgency), or raise temporary_impact")])
    return rate


def kappa(problem: ExecutionProblem) -> float:
    """Exact discrete κ of the classical problem, per time unit."""
    return discrete_kappa(problem.risk_aversion * problem.volatility**2,
                          problem.effective_temporary_impact, problem.step_length)


def continuous_kappa(problem: ExecutionProblem) -> float:
    """APPROXIMATION: the continuous-time κ = √(λσ²/η) (AC 2000, τ → 0)."""
    rate = math.sqrt(problem.risk_aversion * problem.volatility**2 / problem.temporary_impact)
    validation.within_float_range([("κT = √(λσ²/η)·T, the continuous decay over the horizon",
                                    rate * problem.horizon,
                                    "risk_aversion·volatility² or horizon, or raise "
                                    "temporary_impact")])
    return rate


def half_life(problem: ExecutionProblem) -> float:
    """θ = 1/κ, the time in which the optimal holdings fall by a factor e (inf for TWAP)."""
    rate = kappa(problem)
    return math.inf if rate == 0.0 else 1.0 / rate


def sinh_ratio(rate: float, numerator_time: np.ndarray, total_time: float) -> np.ndarray:
    """sinh(rate·s)/sinh(rate·T) for s in [0, T], stable for any rate·T >= 0.

    At rate = 0 this is the limit s/T.
    """
    s = np.asarray(numerator_time, dtype=float)
    if rate == 0.0:
        return s / total_time
    # sinh(a)/sinh(b) = e^{a-b}·(1 - e^{-2a})/(1 - e^{-2b}); expm1 keeps small a, b exact.
    return np.exp(rate * (s - total_time)) * np.expm1(-2.0 * rate * s) / np.expm1(
        -2.0 * rate * total_time
    )


def drift_shape(rate: float, times: np.ndarray, total_time: float) -> np.ndarray:
    """1 - (sinh(κ(T-t)) + sinh(κt))/sinh(κT) = (1-e^{-κ(T-t)})(1-e^{-κt})/(1+e^{-κT})."""
    t = np.asarray(times, dtype=float)
    return np.expm1(-rate * (total_time - t)) * np.expm1(-rate * t) / (
        1.0 + math.exp(-rate * total_time)
    )


def _holdings(problem: ExecutionProblem, rate: float, impact: float) -> np.ndarray:
    """The AC holdings for decay rate `rate` and temporary impact `impact` (η̃ or η)."""
    times = problem.times
    horizon = problem.horizon
    path = problem.shares * sinh_ratio(rate, horizon - times, horizon)
    drift = problem.planning_drift
    if drift != 0.0:
        urgency = problem.risk_aversion * problem.volatility**2
        if rate * horizon >= SMALL_DECAY:
            # x̄·shape with x̄ = α/(2λσ²), divided first: x̄ alone may overflow when λσ² is tiny
            path = path + drift * (drift_shape(rate, times, horizon) / (2.0 * urgency))
        else:  # κT -> 0: the drift term tends to the parabola α·t(T - t)/(4η̃), error O((κT)²)
            path = path + drift * times * (horizon - times) / (4.0 * impact)
    path[-1] = 0.0
    return path


def optimal_holdings(problem: ExecutionProblem) -> np.ndarray:
    """The exact discrete optimal holdings x_0..x_N (N+1 values, x_0 = X, x_N = 0)."""
    return _holdings(problem, kappa(problem), problem.effective_temporary_impact)


def continuous_holdings(problem: ExecutionProblem) -> np.ndarray:
    """APPROXIMATION: the continuous-time optimal trajectory sampled at t_0..t_N.

    Uses κ² = λσ²/η and η in place of η̃; it is not the optimum of the discrete problem.
    """
    return _holdings(problem, continuous_kappa(problem), problem.temporary_impact)


def _inverse_sinh(z: float) -> float:
    """1/sinh(z) for z > 0 without overflow."""
    return 2.0 * math.exp(-z) / -math.expm1(-2.0 * z)


def closed_form_cost(problem: ExecutionProblem) -> ScheduleCost:
    """E and V of the optimal schedule by the AC (2000) closed forms (zero drift only).

    E = ½γX² + εX + η̃X²·tanh(κτ/2)·(τ·sinh 2κT + 2T·sinh κτ)/(2τ²·sinh²κT)
    V = ½σ²X²·(τ·sinh κT·cosh κ(T-τ) - T·sinh κτ)/(sinh²κT·sinh κτ)
    An independent check on the summation formulas of `strategies.costs`; it loses
    relative precision as κT → 0 (the TWAP limit is used at κ = 0 exactly).
    """
    if problem.drift != 0.0:
        raise ParameterError("closed_form_cost covers drift = 0 only, got drift = "
                             f"{problem.drift!r}; use schedule_cost")
    x, tau, big_t = problem.shares, problem.step_length, problem.horizon
    rate = kappa(problem)
    base = 0.5 * problem.permanent_impact * x**2 + problem.half_spread * x
    if rate == 0.0:
        n = problem.steps
        expected = base + problem.effective_temporary_impact * x**2 / big_t
        variance = problem.volatility**2 * tau * x**2 * (n - 1) * (2 * n - 1) / (6 * n)
    else:
        inv = _inverse_sinh(rate * big_t)
        coth = 1.0 / math.tanh(rate * big_t)
        # sinh 2κT / sinh² κT = 2·coth κT
        bracket = 2.0 * tau * coth + 2.0 * big_t * math.sinh(rate * tau) * inv**2
        expected = base + problem.effective_temporary_impact * x**2 * math.tanh(
            0.5 * rate * tau
        ) * bracket / (2.0 * tau**2)
        # sinh κT·cosh κ(T-τ)/sinh² κT = cosh κ(T-τ)/sinh κT
        ratio = math.exp(-rate * tau) * (1.0 + math.exp(-2.0 * rate * (big_t - tau))) / -math.expm1(
            -2.0 * rate * big_t
        )
        variance = 0.5 * problem.volatility**2 * x**2 * (
            tau * ratio - big_t * math.sinh(rate * tau) * inv**2
        ) / math.sinh(rate * tau)
    return ScheduleCost(expected, variance, expected + problem.risk_aversion * variance)


@dataclass(frozen=True)
class ACSchedule:
    """An optimal AC schedule with its cost under the planning model."""

    kappa: float
    holdings: np.ndarray
    cost: ScheduleCost

    @property
    def trades(self) -> np.ndarray:
        return trades_from_holdings(self.holdings)


def optimal_schedule(problem: ExecutionProblem) -> ACSchedule:
    """The exact discrete AC optimum with its E, V and U."""
    holdings = optimal_holdings(problem)
    return ACSchedule(kappa(problem), holdings, schedule_cost(problem, holdings))


def continuous_schedule(problem: ExecutionProblem) -> ACSchedule:
    """APPROXIMATION: the sampled continuous-time trajectory, costed exactly in discrete time."""
    holdings = continuous_holdings(problem)
    return ACSchedule(continuous_kappa(problem), holdings, schedule_cost(problem, holdings))


@dataclass(frozen=True)
class Frontier:
    """The efficient frontier: E and V of the optimal schedule for each risk aversion."""

    risk_aversion: np.ndarray
    expected_shortfall: np.ndarray
    variance: np.ndarray


def efficient_frontier(problem: ExecutionProblem, risk_aversions: np.ndarray) -> Frontier:
    """E and V of the exact optimum over a grid of λ >= 0 (other parameters fixed)."""
    grid = np.asarray(risk_aversions, dtype=float)
    costs = [optimal_schedule(problem.with_changes(risk_aversion=float(lam))).cost for lam in grid]
    return Frontier(
        grid,
        np.array([cost.expected_shortfall for cost in costs]),
        np.array([cost.variance for cost in costs]),
    )
