"""Parameters of an execution problem (MODEL.md §1-§3).

Units: shares in shares, time in the user's unit (days, minutes, ...), prices in
currency per share. Volatility is in price units per square root of the time unit
(arithmetic, Bachelier price). Temporary impact η is in currency·time per share²
(a trade of n shares in a step of length τ moves its own fill by η·n/τ); permanent
impact γ is in currency per share² (every share sold lowers the price by γ).

All planning is done in *sell-equivalent* coordinates: a buy order is the same problem
with every price move flipped (`side = -1`), so a price drift α helps a seller and
hurts a buyer exactly as -α would help a buyer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError

SELL = 1
BUY = -1
SIDES = {"sell": SELL, "buy": BUY}


@dataclass(frozen=True)
class ExecutionProblem:
    """An order to work and the market it is worked in.

    shares: X > 0, the quantity to sell (or buy, with side = -1).
    horizon: T > 0, the time allowed, in time units.
    steps: N >= 1 trading intervals of length τ = T/N.
    price: S_0 > 0, the arrival (decision) price.
    volatility: σ >= 0, price units per √time.
    half_spread: ε >= 0, currency per share paid on every share traded.
    temporary_impact: η > 0.
    permanent_impact: γ >= 0.
    risk_aversion: λ >= 0, per currency (weights the variance of shortfall).
    drift: α, the exogenous price drift in price units per time unit.
    side: +1 sell, -1 buy.
    """

    shares: float = 1_000_000.0
    horizon: float = 60.0
    steps: int = 60
    price: float = 50.0
    volatility: float = math.sqrt(0.144)
    half_spread: float = 0.0625
    temporary_impact: float = 2.5e-6
    permanent_impact: float = 2.5e-7
    risk_aversion: float = 1e-6
    drift: float = 0.0
    side: int = SELL

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "shares", validation.positive("shares", self.shares))
        set_(self, "horizon", validation.positive("horizon", self.horizon))
        set_(self, "steps", validation.integer("steps", self.steps, 1))
        set_(self, "price", validation.positive("price", self.price))
        set_(self, "volatility", validation.non_negative("volatility", self.volatility))
        set_(self, "half_spread", validation.non_negative("half_spread", self.half_spread))
        set_(self, "temporary_impact",
             validation.positive("temporary_impact", self.temporary_impact))
        set_(self, "permanent_impact",
             validation.non_negative("permanent_impact", self.permanent_impact))
        set_(self, "risk_aversion", validation.non_negative("risk_aversion", self.risk_aversion))
        set_(self, "drift", validation.finite_number("drift", self.drift))
        if isinstance(self.side, str):
            set_(self, "side", SIDES.get(self.side, self.side))
        if isinstance(self.side, bool) or self.side not in (SELL, BUY):
            raise ParameterError(f"side must be 'sell', 'buy', 1 or -1, got {self.side!r}")
        set_(self, "side", int(self.side))
        if self.effective_temporary_impact <= 0.0:
            raise ParameterError(
                "effective temporary impact η̃ = temporary_impact - permanent_impact·τ/2 = "
                f"{self.temporary_impact!r} - {self.permanent_impact!r}·{self.step_length!r}/2 "
                f"= {self.effective_temporary_impact!r} must be > 0: increase temporary_impact, "
                "decrease permanent_impact, or use more steps (shorter steps τ = horizon/steps)"
            )

    @property
    def step_length(self) -> float:
        """τ = T/N, in time units."""
        return self.horizon / self.steps

    @property
    def effective_temporary_impact(self) -> float:
        """η̃ = η - γτ/2 (MODEL.md §3)."""
        return self.temporary_impact - 0.5 * self.permanent_impact * self.step_length

    @property
    def times(self) -> np.ndarray:
        """t_0..t_N = k·τ, N+1 values."""
        return np.arange(self.steps + 1) * self.step_length

    @property
    def planning_drift(self) -> float:
        """The exogenous drift in sell-equivalent coordinates (side·α)."""
        return self.side * self.drift

    def with_changes(self, **changes: object) -> "ExecutionProblem":
        """A copy with some fields replaced (validated again)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        unknown = set(changes) - set(values)
        if unknown:
            raise ParameterError(f"unknown ExecutionProblem field(s): {sorted(unknown)}")
        values.update(changes)
        return ExecutionProblem(**values)


@dataclass(frozen=True)
class ExtendedParameters:
    """The two feedback terms of the extended model (MODEL.md §2, §3b).

    coupling: price drift per unit of ensemble field (price units per time unit per
        field unit); any finite sign.
    self_alpha: >= 0, price drift per share of the trader's own remaining holdings
        (a seller's unsold shares pull the price down: α gets -self_alpha·x_k).
    """

    coupling: float = 0.0
    self_alpha: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "coupling", validation.finite_number("coupling", self.coupling))
        object.__setattr__(self, "self_alpha",
                           validation.non_negative("self_alpha", self.self_alpha))


@dataclass(frozen=True)
class PlanningInputs:
    """Everything the quadratic planner needs for a remaining horizon, in sell-equivalent units.

    The objective is  (η̃/τ)·Σ n_k² + urgency·τ·Σ x_k² - τ·Σ drift_k·x_k  over x_1..x_m
    with x_0 = holdings and x_m = 0; urgency = λσ² + self_alpha.
    """

    step_length: float
    effective_temporary_impact: float
    urgency: float
    drift: np.ndarray = field(repr=False)

    @property
    def steps(self) -> int:
        return int(self.drift.shape[-1])


def planning_drift(problem: ExecutionProblem, coupling: float,
                   field_forecast: np.ndarray | float) -> np.ndarray:
    """a_k = side·(α_exo + coupling·f̂_k), the planner's drift in sell-equivalent units
    (any shape of forecasts, e.g. (episodes, steps))."""
    return problem.side * (problem.drift + coupling * np.asarray(field_forecast, dtype=float))


def planning_inputs(
    problem: ExecutionProblem,
    extended: ExtendedParameters | None = None,
    field_forecast: object = None,
    steps: int | None = None,
) -> PlanningInputs:
    """Collect the planner's coefficients for `steps` remaining steps (default: all N).

    field_forecast: f̂_1..f̂_m for the remaining steps (a scalar is held constant);
    None means no field forecast (zeros). The planning drift per step is
    side·(α_exo + coupling·f̂_k).
    """
    extended = extended or ExtendedParameters()
    steps = problem.steps if steps is None else validation.integer("steps", steps, 1)
    if field_forecast is None:
        forecast = np.zeros(steps)
    elif np.ndim(field_forecast) == 0:
        forecast = np.full(steps, validation.finite_number("field_forecast", field_forecast))
    else:
        forecast = validation.finite_vector("field_forecast", field_forecast, steps)
    drift = planning_drift(problem, extended.coupling, forecast)
    urgency = problem.risk_aversion * problem.volatility**2 + extended.self_alpha
    return PlanningInputs(problem.step_length, problem.effective_temporary_impact, urgency, drift)
