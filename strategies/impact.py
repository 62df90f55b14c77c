"""Impact models: how the trader's own trades move prices (MODEL.md §2; the extension point).

An impact model is a small object with these parts, all in the order's own terms (`side` +1
sell, -1 buy; trades n > 0 go in the order's direction), arrays with a leading episodes axis:

- `initial_state(problem, episodes)`: what the model remembers between steps, shape (E, S)
  (S = 0 for memoryless impact; a transient model keeps its displacement here);
- `fill_price(problem, price, trade, state)`: S̃_k, the price trade k fills at, given the
  start-of-step price S_{k-1};
- `price_move(problem, trade, state)`: the trade's own contribution to S_k - S_{k-1} and the
  next state (drift, noise and the field are added by the price engine);
- `expected_shortfall(problem, holdings, drift, self_alpha)`: E of deterministic schedules
  under the model (the planning cost), and `planner(problem, urgency)`: the planner that is
  optimal under it (the hook the receding-horizon policies call). A model without a planner
  raises `PlanningError` there, by name, so a policy never plans with a model it cannot solve;
- optionally `check(problem)`: reject, with a `ParameterError`, parameters the model cannot
  work with (the configuration calls it for the market and for what a strategy believes).

`LinearImpact` is MODEL §2: S̃_k = S_{k-1} - side·(ε·sgn n_k + (η/τ)·n_k) and a permanent move
-side·γ·n_k, with ε, η, γ from the market (`ExecutionProblem`).

`CompositeImpact` is MODEL §7: temporary impact linear (η) or a power law η_p·sgn(n)·|n/τ|^β,
the linear permanent impact γ, and optionally transient impact decaying with a kernel G
(exponential, power-law propagator, or a kernel of your own). Its state is the displacement
I (sell-equivalent units, currency per share): one number per episode for the exponential
kernel (I_k = e^(-ρτ)·(I_{k-1} + G_0·n_k)), the order's own past trades (most recent first, N
of them) for any other kernel. The price the agent sees is S = P - side·I; trade k fills at
S_{k-1} - side·(h(n_k) + ½G(0)·n_k) and the trade's own move of S over step k is
-side·(γ·n_k + I_k - I_{k-1}). `check(problem)` rejects, at the configuration boundary, a power
law that is not convex on [0, X] and a kernel whose matrix Γ is not positive definite.

Write your own by subclassing `ImpactModel` (a frozen dataclass, so it can be compared and
cached) and put it in the configuration as `ImpactParameters(model=MyImpact(...))`, or name it
in a file as "package.module:NAME" (an instance, or a class built without arguments).
The maths modules (`power_law`, `transient`, which compile numba kernels) are imported only when
a model that needs them is used, so `acsim schedule` with linear impact stays light.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from acsim.strategies import costs, validation
from acsim.strategies.components import build_component, load_object
from acsim.strategies.declarations import (
    POSITIVE,
    Allowed,
    check_parameters,
    component,
    parameter,
)
from acsim.strategies.errors import ParameterError, PlanningError
from acsim.strategies.parameters import ExecutionProblem

NO_STATE_WIDTH = 0


class ImpactModel(ABC):
    """How one's own trades move prices (see the module docstring)."""

    def initial_state(self, problem: ExecutionProblem, episodes: int) -> np.ndarray:
        """The state before the first trade, shape (episodes, S); default: no state."""
        return np.zeros((episodes, NO_STATE_WIDTH))

    @abstractmethod
    def fill_price(self, problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray,
                   state: np.ndarray) -> np.ndarray:
        """S̃_k for trades n_k (E,) at start-of-step prices S_{k-1} (E,)."""

    @abstractmethod
    def price_move(self, problem: ExecutionProblem, trade: np.ndarray,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the trades' own move of S over the step, the state after the step)."""

    def check(self, problem: ExecutionProblem) -> None:
        """Raise ParameterError if the model cannot be used with this order and market (the
        configuration calls it for the market and for what a strategy believes); default: no
        condition."""
        return None

    def expected_shortfall(self, problem: ExecutionProblem, holdings: np.ndarray,
                           drift: float | np.ndarray | None = None,
                           self_alpha: float = 0.0) -> np.ndarray:
        """E of schedules `holdings` (last axis N + 1) under this model, currency."""
        raise PlanningError(f"the impact model {self!r} gives no expected shortfall")

    def planner(self, problem: ExecutionProblem, urgency: float):
        """The planner optimal under this model (see `acsim.strategies.extended.LinearPlanner`
        for the interface); urgency = λσ² + self_alpha."""
        raise PlanningError(f"no planner is known for the impact model {self!r}; use a "
                            "policy that does not plan (e.g. twap) or plan with another "
                            "believed impact model ([beliefs.impact])")


@dataclass(frozen=True)
class LinearImpact(ImpactModel):
    """MODEL §2: linear temporary impact η, half spread ε, linear permanent impact γ."""

    def fill_price(self, problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray,
                   state: np.ndarray) -> np.ndarray:
        """S̃_k = S_{k-1} - side·(ε·sgn(n_k) + (η/τ)·n_k)."""
        return price - problem.side * (problem.half_spread * np.sign(trade)
                                       + problem.temporary_impact / problem.step_length * trade)

    def price_move(self, problem: ExecutionProblem, trade: np.ndarray,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-side·γ·n_k; no state."""
        return -problem.side * problem.permanent_impact * trade, state

    def expected_shortfall(self, problem: ExecutionProblem, holdings: np.ndarray,
                           drift: float | np.ndarray | None = None,
                           self_alpha: float = 0.0) -> np.ndarray:
        return costs.expected_shortfall(problem, holdings, drift, self_alpha)

    def planner(self, problem: ExecutionProblem, urgency: float):
        from acsim.strategies.extended import LinearPlanner

        return LinearPlanner(problem.step_length, problem.effective_temporary_impact, urgency,
                             problem.steps)



@dataclass(frozen=True)
class CompositeImpact(ImpactModel):
    """MODEL §7: temporary impact (linear η, or the power law η_p·sgn(n)·|n/τ|^β), the linear
    permanent impact γ, and an optional transient impact kernel (see the module docstring).

    exponent: β in (0, 1] of power-law temporary impact, or None for linear temporary impact
        (the market's temporary_impact η).
    coefficient: η_p (currency per share per (shares per time unit)^β), or None for the value
        with the same impact as η at the TWAP rate X/T: η_p = η·(X/T)^(1-β) (η_p = η at β = 1).
    kernel: a decay kernel G(t) (`acsim.strategies.transient.DecayKernel`: `values(times)`) or
        None for no transient impact.
    """

    exponent: float | None = None
    coefficient: float | None = None
    kernel: object = None

    def power_law(self, problem: ExecutionProblem):
        """The power-law temporary impact (`power_law.PowerLawImpact`) of this order and
        market, or None for linear temporary impact."""
        if self.exponent is None:
            return None
        from acsim.strategies.power_law import PowerLawImpact

        coefficient = self.coefficient
        if coefficient is None:  # the same impact as η at the TWAP rate
            coefficient = (problem.temporary_impact
                           * (problem.shares / problem.horizon) ** (1.0 - self.exponent))
        return PowerLawImpact(coefficient, self.exponent)

    def temporary_impact(self, problem: ExecutionProblem, trade: np.ndarray) -> np.ndarray:
        """The temporary part of h(n) without the spread, currency per share (sell-equivalent):
        (η/τ)·n, or η_p/τ^β·sgn(n)·|n|^β (the same digits as the linear form when β = 1)."""
        power = self.power_law(problem)
        if power is None:
            return problem.temporary_impact / problem.step_length * trade
        return (power.coefficient / problem.step_length ** power.exponent
                * (np.sign(trade) * np.abs(trade) ** power.exponent))

    def instant_transient(self) -> float:
        """G(0): a trade pays half of it per share traded (currency per share²)."""
        return float(self.kernel.values(np.zeros(1))[0])

    def initial_state(self, problem: ExecutionProblem, episodes: int) -> np.ndarray:
        """No state; the displacement I (exponential kernel); or the last N trades."""
        from acsim.strategies.transient import ExponentialKernel

        if self.kernel is None:
            width = NO_STATE_WIDTH
        elif isinstance(self.kernel, ExponentialKernel):
            width = 1
        else:
            width = problem.steps
        return np.zeros((episodes, width))

    def fill_price(self, problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray,
                   state: np.ndarray) -> np.ndarray:
        """S̃_k = S_{k-1} - side·(ε·sgn(n_k) + temporary impact + ½G(0)·n_k)."""
        cost = problem.half_spread * np.sign(trade) + self.temporary_impact(problem, trade)
        if self.kernel is not None:
            cost = cost + 0.5 * self.instant_transient() * trade
        return price - problem.side * cost

    def displacement(self, problem: ExecutionProblem, state: np.ndarray) -> np.ndarray:
        """I: the transient displacement before the next trade, (E,) currency per share."""
        from acsim.strategies.transient import ExponentialKernel

        if self.kernel is None:
            return np.zeros(state.shape[0])
        if isinstance(self.kernel, ExponentialKernel):
            return state[:, 0]
        lags = np.arange(1, state.shape[1] + 1) * problem.step_length
        return np.sum(state * self.kernel.values(lags), axis=1)  # elementwise: no BLAS

    def price_move(self, problem: ExecutionProblem, trade: np.ndarray,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-side·(γ·n_k + I_k - I_{k-1}) and the state after the step."""
        from acsim.strategies.transient import ExponentialKernel

        move = -problem.side * problem.permanent_impact * trade
        if self.kernel is None:
            return move, state
        before = self.displacement(problem, state)
        if isinstance(self.kernel, ExponentialKernel):
            after = self.kernel.next_displacement(before, trade, problem.step_length)
            state = after[:, None]
        else:
            state = np.concatenate([trade[:, None], state[:, :-1]], axis=1)
            after = self.displacement(problem, state)
        return move - problem.side * (after - before), state

    def check(self, problem: ExecutionProblem) -> None:
        """A power law convex on [0, X] (MODEL §7) and a positive-definite kernel matrix Γ of
        N steps; else ParameterError naming the parameters."""
        self._check_magnitudes(problem)
        power = self.power_law(problem)
        if power is not None:
            from acsim.strategies.power_law import check_convexity

            check_convexity(power, problem.step_length, problem.permanent_impact,
                            problem.shares)
        if self.kernel is not None:
            from acsim.strategies.transient import check_positive_definite

            check_positive_definite(self.kernel, problem.step_length, problem.steps)

    def _check_magnitudes(self, problem: ExecutionProblem) -> None:
        """Bounds of the model's own terms stay in float64 (see `check_magnitudes` of
        acsim.strategies.parameters): the power-law cost η_p·τ^(-β)·Σ|n_k|^(1+β) <=
        η_p·τ^(-β)·N·(1 + |n|)^(1+β), the kernel's decay over the horizon (ρT or T/t_0) and the
        transient cost ½·nᵀΓn <= ½·G_0·(N·|n|)², for trades |n| up to twice the holdings
        bound."""
        steps, tau, horizon = problem.steps, problem.step_length, problem.horizon
        trade = 2.0 * problem.holdings_bound(abs(problem.drift))
        terms = []
        power = self.power_law(problem)
        if power is not None:
            try:
                largest = (1.0 + trade) ** (1.0 + power.exponent)
            except OverflowError:
                largest = math.inf
            terms.append(("η_p·τ^(-β)·N·(1 + |n|)^(1+β), the power-law cost (bound)",
                          power.coefficient / tau ** power.exponent * steps * largest,
                          "impact_coefficient, shares or steps/horizon"))
        kernel = self.kernel
        if hasattr(kernel, "resilience"):
            terms.append(("ρT, the exponential kernel's decay over the horizon",
                          kernel.resilience * horizon, "resilience or horizon"))
        if hasattr(kernel, "transient_time"):
            terms.append(("T/t_0, the power-law kernel's time over the horizon",
                          horizon / kernel.transient_time, "horizon, or raise transient_time"))
        if hasattr(kernel, "transient_impact"):
            terms.append(("½·G_0·(N·|n|)², the transient cost (bound)",
                          0.5 * kernel.transient_impact * (steps * trade) * (steps * trade),
                          "transient_impact, shares or steps"))
        validation.within_float_range(terms)

    def expected_shortfall(self, problem: ExecutionProblem, holdings: np.ndarray,
                           drift: float | np.ndarray | None = None,
                           self_alpha: float = 0.0) -> np.ndarray:
        """E of MODEL §7: the linear (§3) or power-law cost, plus ½·nᵀΓn with a kernel."""
        drift = problem.planning_drift if drift is None else drift
        power = self.power_law(problem)
        if power is None:
            total = costs.expected_shortfall(problem, holdings, drift, self_alpha)
        else:
            from acsim.strategies import power_law

            total = power_law.expected_shortfall(
                power, holdings, step_length=problem.step_length,
                permanent_impact=problem.permanent_impact, half_spread=problem.half_spread,
                drift=drift, self_alpha=self_alpha)
        if self.kernel is not None:
            from acsim.strategies.transient import transient_cost

            total = total + transient_cost(self.kernel, costs.trades_from_holdings(holdings),
                                           problem.step_length)
        return total

    def planner(self, problem: ExecutionProblem, urgency: float):
        """Power law: the exact sell-only Newton/active-set planner; transient with linear
        temporary impact: the exact dense solve with gains; both: the convex reference
        solver (cvxpy, slow); neither: the linear planner."""
        from acsim.strategies import impact_planners

        power = self.power_law(problem)
        if power is None and self.kernel is None:
            return LinearImpact().planner(problem, urgency)
        if self.kernel is None:
            return impact_planners.PowerLawPlanner(problem, power, urgency)
        if power is None:
            return impact_planners.TransientImpactPlanner(problem, self.kernel, urgency)
        return impact_planners.ConvexImpactPlanner(problem, power, self.kernel, urgency)


TEMPORARY_MODELS = ("linear", "power")
KERNELS = ("none", "exponential", "power-law")
MODEL = component(ImpactModel, TEMPORARY_MODELS)


def _exponent(name: str, value: object) -> float:
    result = validation.finite_number(name, value)
    if not 0.0 < result <= 1.0:
        raise ParameterError(f"{name} must be in (0, 1], got {value!r}")
    return result


def _optional_positive(name: str, value: object) -> float | None:
    return None if value is None or value == "none" else validation.positive(name, value)


def _kernel_name(name: str, value: object) -> object:
    if (isinstance(value, str) and (value in KERNELS or ":" in value)) or hasattr(
            value, "values"):
        return value
    raise ParameterError(f"{name} must be one of {', '.join(KERNELS)}, a "
                         f"'package.module:NAME' path or a kernel object, got {value!r}")


EXPONENT = Allowed("real", _exponent, "in (0, 1]")
OPTIONAL_POSITIVE = Allowed("real", _optional_positive, "> 0, or none (see the meaning)")
KERNEL = Allowed("choice", _kernel_name, " or ".join([", ".join(KERNELS), "package.module:NAME"]),
                 KERNELS, extensible=True)


@dataclass(frozen=True)
class ImpactParameters:
    """The impact model of the market (MODEL.md §2; power-law and transient impact: §7)."""

    model: str | ImpactModel = parameter(
        "linear", unit="", allowed=MODEL, flag="--impact",
        help="temporary impact: linear (MODEL §2, the market's temporary_impact η) or power "
             "(MODEL §7: η_p·sgn(n)·abs(n/τ)^β); both with the market's half_spread and "
             "permanent_impact; or an impact model of your own as package.module:NAME")
    exponent: float = parameter(
        0.6, unit="", allowed=EXPONENT, flag="--impact-exponent",
        help="β of power-law temporary impact (model = power): 1 is linear, 0.5 the square-root "
             "law, 0.6 the fit of Almgren, Thum, Hauptmann and Li (2005)")
    coefficient: float | None = parameter(
        None, unit="currency per share per (shares per time unit)^β", allowed=OPTIONAL_POSITIVE,
        flag="--impact-coefficient",
        help="η_p of power-law temporary impact (model = power); none: η·(X/T)^(1-β), the "
             "same impact as the linear temporary_impact at the TWAP rate X/T")
    transient: str | object = parameter(
        "none", unit="", allowed=KERNEL, flag="--transient",
        help="transient impact kernel G (MODEL §7): none, exponential G_0·e^(-ρt) "
             "(Obizhaeva-Wang), power-law G_0·(1 + t/t_0)^(-β_G) (propagator), or a kernel of "
             "your own as package.module:NAME (an object with values(times))")
    transient_impact: float = parameter(
        1e-3, unit="currency per share²", allowed=POSITIVE, flag="--transient-impact",
        help="G_0 = G(0): a trade of n shares displaces the price by G_0·n at once")
    resilience: float = parameter(
        0.5, unit="per time unit", allowed=POSITIVE, flag="--resilience",
        help="ρ of the exponential kernel: the displacement halves in ln 2/ρ")
    transient_exponent: float = parameter(
        0.5, unit="", allowed=POSITIVE, flag="--transient-exponent",
        help="β_G of the power-law kernel (decay exponent)")
    transient_time: float = parameter(
        1.0, unit="time units", allowed=POSITIVE, flag="--transient-time",
        help="t_0 of the power-law kernel (time scale of the decay)")

    def __post_init__(self) -> None:
        check_parameters(self)
        object.__setattr__(self, "_impact", self._build())

    def kernel(self) -> object:
        """The decay kernel object, or None (transient = none)."""
        if self.transient == "none":
            return None
        from acsim.strategies.transient import ExponentialKernel, PowerLawKernel

        if self.transient == "exponential":
            return ExponentialKernel(self.transient_impact, self.resilience)
        if self.transient == "power-law":
            return PowerLawKernel(self.transient_impact, self.transient_exponent,
                                  self.transient_time)
        kernel = self.transient
        if isinstance(kernel, str):
            kernel = load_object(kernel, "transient")
            if isinstance(kernel, type):
                kernel = kernel()
        if not callable(getattr(kernel, "values", None)):
            raise ParameterError(f"transient {self.transient!r} is not a kernel: it needs a "
                                 "method values(times) giving G at elapsed times")
        return kernel

    def _build(self) -> ImpactModel:
        if self.model in TEMPORARY_MODELS:
            kernel = self.kernel()
            if self.model == "linear" and kernel is None:
                return LinearImpact()
            return CompositeImpact(self.exponent if self.model == "power" else None,
                                   self.coefficient, kernel)
        if self.transient != "none":
            raise ParameterError(f"transient = {self.transient!r} applies to the built-in "
                                 "models linear and power, not to an impact model of your own "
                                 f"({self.model!r})")
        return build_component(self.model, ImpactModel, {}, "impact model")

    @property
    def impact(self) -> ImpactModel:
        """The impact model object."""
        return self._impact  # type: ignore[attr-defined]
