"""Simulated method of moments (SMM) with common random numbers.

The model is a function `simulate(parameters, seed_sequence) -> moments`: it simulates one
sample with the random numbers of `seed_sequence` and returns its K moments. The data give
observed moments m̂ (K values) and Ω̂, an estimate of their covariance Var(m̂) (for example
`moment_covariance`: a block bootstrap of the data).

Estimator (McFadden 1989; Pakes-Pollard 1989; Duffie-Singleton 1993):

- Simulated moments m̄(θ) = (1/S)·Σ_s simulate(θ, ω_s), with the same S seed sequences ω_s for
  every candidate θ (common random numbers): ω_s = SeedSequence(root, spawn_key=(s,)), a fresh
  object per call, so the criterion is a deterministic function of θ and, for a simulator
  that is smooth in θ at fixed draws, a smooth one.
- Criterion Q(θ) = g(θ)ᵀ W g(θ), g(θ) = m̂ − m̄(θ).
- Each simulation is assumed to have `length_ratio` times the data's length, so its moments
  have covariance Ω/length_ratio, and at the true θ Var g = Σ = (1 + 1/(S·length_ratio))·Ω.
  Weighting "optimal": W = Σ̂⁻¹; "diagonal": W = diag(Σ̂)⁻¹ (robust when Ω̂ is noisy).
- Minimised over an unconstrained u: θ = lower + (upper − lower)·logistic(u) with both bounds,
  lower + e^u or upper − e^(−u) with one, θ = u with none; scipy.optimize.minimize (default
  Nelder-Mead, restarted from its answer to guard against a collapsed simplex). A candidate
  whose simulated moments are not finite gets Q = +∞.
- Standard errors by the sandwich formula Var(θ̂) = (GᵀWG)⁻¹ GᵀWΣ̂WG (GᵀWG)⁻¹, which is
  (GᵀΣ̂⁻¹G)⁻¹ for the optimal W. G = ∂m̄/∂θ at θ̂ by central finite differences of the
  common-random-number m̄ (one-sided next to a bound), step difference_step·|θ̂_j|.
- Over-identified (K > P) with the optimal W: J = Q(θ̂) is asymptotically χ²(K − P) under a
  correct model (Hansen 1982); its p-value is reported.

Assumptions: m̂ is asymptotically normal with covariance Ω̂; θ is interior to its bounds and
identified (GᵀWG invertible, judged on its condition number after scaling every parameter to
unit diagonal, so units do not matter; otherwise the standard errors are NaN and the message
says so).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from acsim.simulator.stylized_facts import BlockBootstrap, SegmentedReturns, default_block_length
from acsim.strategies import validation
from acsim.strategies.errors import ParameterError

Simulator = Callable[[np.ndarray, np.random.SeedSequence], np.ndarray]
WEIGHTINGS = ("optimal", "diagonal")
SINGULAR_CONDITION = 1e12  # GᵀWG with a larger condition number is treated as singular
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Parameter:
    """One model parameter: its name, start value and bounds (open interval; ±inf = none).

    The start must lie strictly inside the bounds.
    """

    name: str
    start: float
    lower: float = -math.inf
    upper: float = math.inf

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"a parameter name must be a non-empty string, got {self.name!r}")
        start = validation.finite_number(f"{self.name} start", self.start)
        for bound in ("lower", "upper"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
                raise ParameterError(f"{self.name} {bound} must be a number or ±inf, "
                                     f"got {value!r}")
        if not self.lower < start < self.upper:
            raise ParameterError(f"{self.name} start must lie strictly inside "
                                 f"({self.lower}, {self.upper}), got {self.start!r}")

    def to_free(self, value: float) -> float:
        """The unconstrained coordinate u of a value inside the bounds."""
        if math.isfinite(self.lower) and math.isfinite(self.upper):
            share = (value - self.lower) / (self.upper - self.lower)
            return math.log(share / (1.0 - share))
        if math.isfinite(self.lower):
            return math.log(value - self.lower)
        if math.isfinite(self.upper):
            return -math.log(self.upper - value)
        return value

    def from_free(self, free: float) -> float:
        """The value of an unconstrained coordinate u (always inside the bounds)."""
        if math.isfinite(self.lower) and math.isfinite(self.upper):
            return self.lower + (self.upper - self.lower) * float(_logistic(free))
        if math.isfinite(self.lower):
            return self.lower + math.exp(free)
        if math.isfinite(self.upper):
            return self.upper - math.exp(-free)
        return free

    def initial_step(self) -> float:
        """Nelder-Mead's first step in u: 0.5 (a factor e^0.5 in the distance to a bound)
        for a bounded parameter, 10% of |start| (or 0.1) for an unbounded one."""
        if math.isfinite(self.lower) or math.isfinite(self.upper):
            return 0.5
        return 0.1 * abs(self.start) if self.start != 0.0 else 0.1


def _logistic(free: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * free))


@dataclass(frozen=True)
class SmmResult:
    """An SMM estimate.

    parameters: name, estimate, standard_error, ci_low, ci_high (estimate ± 1.96 SE), lower,
        upper, start. moments: moment, observed, fitted (m̄(θ̂)), difference (observed −
        fitted), standard_error (√ of Σ̂'s diagonal), t_statistic (difference / standard_error).
    criterion: Q(θ̂). j_statistic, degrees_of_freedom (K − P), j_p_value: the J-test (NaN
        unless over-identified with the optimal weighting). covariance: Var(θ̂), P×P.
    jacobian: G = ∂m̄/∂θ at θ̂, K×P. weighting: W, K×K. converged, message, evaluations:
    the optimiser's report (evaluations of Q, each S simulations).
    """

    parameters: pd.DataFrame = field(repr=False)
    moments: pd.DataFrame = field(repr=False)
    criterion: float
    j_statistic: float
    degrees_of_freedom: int
    j_p_value: float
    converged: bool
    message: str
    evaluations: int
    simulations: int
    covariance: np.ndarray = field(repr=False)
    jacobian: np.ndarray = field(repr=False)
    weighting: np.ndarray = field(repr=False)

    @property
    def estimates(self) -> dict[str, float]:
        """Estimates by parameter name."""
        return dict(zip(self.parameters["name"], self.parameters["estimate"]))

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard errors by parameter name."""
        return dict(zip(self.parameters["name"], self.parameters["standard_error"]))


class _Objective:
    """m̄(θ) on common random numbers, and Q(θ), counting evaluations."""

    def __init__(self, simulate: Simulator, observed: np.ndarray, weighting: np.ndarray,
                 simulations: int, root: np.random.SeedSequence) -> None:
        self.simulate = simulate
        self.observed = observed
        self.weighting = weighting
        self.seeds = [(root.entropy, (*root.spawn_key, index)) for index in range(simulations)]
        self.evaluations = 0

    def moments(self, values: np.ndarray) -> np.ndarray:
        """m̄(θ): the mean simulated moments over the S fixed seeds."""
        total = np.zeros(self.observed.size)
        for entropy, key in self.seeds:
            sequence = np.random.SeedSequence(entropy, spawn_key=key)
            moments = np.asarray(self.simulate(values.copy(), sequence), dtype=float)
            if moments.shape != self.observed.shape:
                raise ParameterError(f"simulate must return {self.observed.size} moments (as "
                                     f"many as observed), got shape {moments.shape}")
            total += moments
        return total / len(self.seeds)

    def criterion(self, values: np.ndarray) -> float:
        self.evaluations += 1
        gap = self.observed - self.moments(values)
        value = float(gap @ self.weighting @ gap)
        return value if math.isfinite(value) else math.inf


def estimate(simulate: Simulator, parameters: Sequence[Parameter], observed: Sequence[float],
             covariance: np.ndarray, moment_names: Sequence[str] | None = None, *,
             simulations: int = 10, seed: int | np.random.SeedSequence = 0,
             length_ratio: float = 1.0, weighting: str = "optimal",
             method: str = "Nelder-Mead", restarts: int = 1, difference_step: float = 1e-2,
             options: dict | None = None) -> SmmResult:
    """Estimate `parameters` by SMM (see the module docstring).

    simulate(θ, seed_sequence) -> K moments: one simulated sample's moments at θ (an array in
        the order of `parameters`); it must draw all its randomness from seed_sequence.
    observed: the K data moments. covariance: K×K estimate of their covariance Var(m̂).
    moment_names: K names (default m0, m1, …). simulations: S >= 1 per evaluation.
    seed: root seed (integer >= 0) or SeedSequence of the common random numbers.
    length_ratio: simulated sample length / data length (> 0).
    weighting: "optimal" or "diagonal". method, options: passed to scipy.optimize.minimize
        (on the unconstrained coordinates). restarts: extra runs from the previous answer.
    difference_step: relative finite-difference step of the Jacobian (in (0, 0.5]).
    Raises ParameterError for bad input, naming the argument.
    """
    if not callable(simulate):
        raise ParameterError("simulate must be callable as simulate(parameters, seed_sequence)")
    parameters = _parameters(parameters)
    observed = validation.finite_vector("observed", observed)
    count = observed.size
    if count < len(parameters):
        raise ParameterError(f"observed must hold at least as many moments as parameters "
                             f"({len(parameters)}), got {count}")
    moment_names = _moment_names(moment_names, count)
    omega = _covariance(covariance, count)
    simulations = validation.integer("simulations", simulations, 1)
    length_ratio = validation.positive("length_ratio", length_ratio)
    validation.one_of("weighting", weighting, WEIGHTINGS)
    restarts = validation.integer("restarts", restarts, 0)
    difference_step = validation.in_range("difference_step", difference_step, 1e-8, 0.5)
    root = (seed if isinstance(seed, np.random.SeedSequence)
            else np.random.SeedSequence(validation.integer("seed", seed, 0)))

    sigma = (1.0 + 1.0 / (simulations * length_ratio)) * omega
    weights = (np.linalg.inv(sigma) if weighting == "optimal"
               else np.diag(1.0 / np.diag(sigma)))
    objective = _Objective(simulate, observed, weights, simulations, root)
    start = np.array([item.start for item in parameters])
    if not math.isfinite(objective.criterion(start)):
        raise ParameterError("simulate returned non-finite moments at the start values")
    answer = _minimise(objective, parameters, method, restarts, options)
    estimates = np.array([item.from_free(u) for item, u in zip(parameters, answer.x)])
    fitted = objective.moments(estimates)
    gap = observed - fitted
    criterion = float(gap @ weights @ gap)
    if not math.isfinite(criterion):
        raise ParameterError("simulate returned non-finite moments at the estimate")

    jacobian = _jacobian(objective, parameters, estimates, difference_step)
    bread = jacobian.T @ weights @ jacobian
    message = str(answer.message)
    if _scaled_condition(bread) > SINGULAR_CONDITION:
        parameter_covariance = np.full((len(parameters),) * 2, np.nan)
        message += "; GᵀWG is singular: the moments do not identify every parameter"
    else:
        inverse = np.linalg.inv(bread)
        meat = jacobian.T @ weights @ sigma @ weights @ jacobian
        parameter_covariance = inverse @ meat @ inverse
    errors = np.sqrt(np.diag(parameter_covariance))
    names = [item.name for item in parameters]

    freedom = count - len(parameters)
    testable = weighting == "optimal" and freedom > 0
    return SmmResult(
        parameters=pd.DataFrame({
            "name": names, "estimate": estimates, "standard_error": errors,
            "ci_low": estimates - Z95 * errors, "ci_high": estimates + Z95 * errors,
            "lower": [item.lower for item in parameters],
            "upper": [item.upper for item in parameters], "start": start}),
        moments=pd.DataFrame({
            "moment": moment_names, "observed": observed, "fitted": fitted, "difference": gap,
            "standard_error": np.sqrt(np.diag(sigma)),
            "t_statistic": gap / np.sqrt(np.diag(sigma))}),
        criterion=criterion, j_statistic=criterion if testable else math.nan,
        degrees_of_freedom=freedom,
        j_p_value=float(stats.chi2.sf(criterion, freedom)) if testable else math.nan,
        converged=bool(answer.success), message=message, evaluations=objective.evaluations,
        simulations=simulations, covariance=parameter_covariance, jacobian=jacobian,
        weighting=weights)


def _scaled_condition(bread: np.ndarray) -> float:
    """The condition number of GᵀWG after scaling each parameter to unit diagonal: a
    parameter's units (0.1 against 4e5) must not make an identified problem look singular."""
    scale = np.sqrt(np.diag(bread))
    if not np.all(np.isfinite(scale)) or np.any(scale == 0.0):
        return math.inf
    return float(np.linalg.cond(bread / np.outer(scale, scale)))


def _parameters(parameters: Sequence[Parameter]) -> list[Parameter]:
    parameters = list(parameters)
    if not parameters or not all(isinstance(item, Parameter) for item in parameters):
        raise ParameterError("parameters must be a non-empty sequence of Parameter")
    names = [item.name for item in parameters]
    if len(set(names)) != len(names):
        raise ParameterError(f"parameter names must be distinct, got {names}")
    return parameters


def _minimise(objective: _Objective, parameters: list[Parameter], method: str, restarts: int,
              options: dict | None) -> optimize.OptimizeResult:
    """Minimise Q over the unconstrained coordinates, from the starts, then `restarts` more
    times from each answer (Nelder-Mead gets a fresh simplex of `initial_step` each time)."""
    def criterion(free: np.ndarray) -> float:
        return objective.criterion(np.array([item.from_free(u)
                                             for item, u in zip(parameters, free)]))

    free = np.array([item.to_free(item.start) for item in parameters])
    settings = dict(options or {})
    for _ in range(restarts + 1):
        if method == "Nelder-Mead":
            steps = np.diag([item.initial_step() for item in parameters])
            settings["initial_simplex"] = np.vstack([free, free + steps])
            settings.setdefault("xatol", 1e-6)
            settings.setdefault("fatol", 1e-8)
            settings.setdefault("maxiter", 400 * len(parameters))
        try:
            answer = optimize.minimize(criterion, free, method=method, options=settings)
        except ValueError as error:
            if "Unknown solver" in str(error):
                raise ParameterError(f"method must be a scipy.optimize.minimize method, got "
                                     f"{method!r}") from None
            raise
        free = answer.x
    return answer


def _moment_names(names: Sequence[str] | None, count: int) -> list[str]:
    if names is None:
        return [f"m{index}" for index in range(count)]
    names = [str(name) for name in names]
    if len(names) != count:
        raise ParameterError(f"moment_names must have one name per observed moment ({count}), "
                             f"got {len(names)}")
    return names


def _covariance(covariance: np.ndarray, count: int) -> np.ndarray:
    """A symmetric positive definite K×K matrix, or a ParameterError."""
    try:
        matrix = np.asarray(covariance, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError("covariance must be a K×K matrix of numbers") from None
    if matrix.shape != (count, count):
        raise ParameterError(f"covariance must be {count}×{count} (one row per observed "
                             f"moment), got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ParameterError("covariance must contain only finite numbers")
    if not np.allclose(matrix, matrix.T, rtol=1e-8, atol=0.0):
        raise ParameterError("covariance must be symmetric")
    if np.linalg.eigvalsh(matrix).min() <= 0.0:
        raise ParameterError("covariance must be positive definite (a moment is constant or "
                             "a linear combination of others)")
    return matrix


def _jacobian(objective: _Objective, parameters: Sequence[Parameter], estimates: np.ndarray,
              relative_step: float) -> np.ndarray:
    """∂m̄/∂θ by central differences on common random numbers, one-sided at a bound."""
    columns = []
    for index, item in enumerate(parameters):
        value = estimates[index]
        step = relative_step * abs(value) if value != 0.0 else relative_step
        up, down = estimates.copy(), estimates.copy()
        up[index] = value + step if value + step < item.upper else value
        down[index] = value - step if value - step > item.lower else value
        if up[index] == down[index]:
            raise ParameterError(f"{item.name}: the estimate {value} leaves no room for a "
                                 f"finite-difference step {step} inside its bounds")
        columns.append((objective.moments(up) - objective.moments(down))
                       / (up[index] - down[index]))
    return np.column_stack(columns)


def moment_covariance(returns: SegmentedReturns,
                      moments: Callable[[SegmentedReturns], np.ndarray], *,
                      replicates: int = 500, seed: int | np.random.SeedSequence = 0,
                      block_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(observed moments, their block-bootstrap covariance) of a segmented series.

    moments(returns) -> K values, computed segment by segment (never across a segment's end).
    A replicate draws circular blocks inside segments (`BlockBootstrap`); each block becomes
    a segment of its own (a block that wraps past its segment's end becomes two), so a moment
    never joins returns that are not adjacent in the data. block_length: default ⌈n^(1/3)⌉;
    it should exceed the longest lag a moment uses. The covariance is that of the replicates'
    moments (ddof 1), an estimate of Var(m̂).
    """
    if not isinstance(returns, SegmentedReturns):
        raise ParameterError("returns must be a SegmentedReturns")
    observed = validation.finite_vector("moments(returns)", moments(returns))
    block_length = block_length or default_block_length(returns.size)
    bootstrap = BlockBootstrap(returns.lengths, block_length, replicates, seed)
    samples = np.empty((bootstrap.replicates, observed.size))
    for replicate in range(bootstrap.replicates):
        positions = bootstrap.positions(slice(replicate, replicate + 1)).ravel()
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        lengths = np.diff(np.concatenate([[0], breaks, [positions.size]]))
        drawn = moments(SegmentedReturns(returns.values[positions], lengths))
        samples[replicate] = np.asarray(drawn, dtype=float)
    return observed, np.atleast_2d(np.cov(samples, rowvar=False))
