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
import sys
from dataclasses import dataclass, field

import numpy as np

from acsim.strategies import validation
from acsim.strategies.declarations import (
    FINITE,
    NON_NEGATIVE,
    POSITIVE,
    Allowed,
    check_parameters,
    choice,
    integer,
    parameter,
)
from acsim.strategies.errors import ParameterError
from acsim.strategies.order_flow import FEEDBACKS, FIELD_DRIFT

SELL = 1
BUY = -1
SIDES = {"sell": SELL, "buy": BUY}


def _side(name: str, value: object) -> int:
    """'sell' or 1 -> +1, 'buy' or -1 -> -1."""
    value = SIDES.get(value, value) if isinstance(value, str) else value
    if isinstance(value, bool) or value not in (SELL, BUY):
        raise ParameterError(f"{name} must be 'sell', 'buy', 1 or -1, got {value!r}")
    return int(value)


SIDE = Allowed("choice", _side, "sell or buy", ("sell", "buy"),
               display=lambda value: "sell" if value == SELL else "buy")


@dataclass(frozen=True)
class ExecutionProblem:
    """An order to work and the market it is worked in (MODEL.md §1-§3; units: see above)."""

    shares: float = parameter(1_000_000.0, unit="shares", allowed=POSITIVE,
                              help="X, the quantity to sell (or buy, with side = buy)")
    horizon: float = parameter(60.0, unit="time units", allowed=POSITIVE,
                               help="T, the time allowed")
    steps: int = parameter(60, unit="steps", allowed=integer(1),
                           help="N trading steps of length τ = T/N")
    price: float = parameter(50.0, unit="currency per share", allowed=POSITIVE,
                             help="S_0, the arrival (decision) price")
    volatility: float = parameter(math.sqrt(0.144), unit="price units per √time unit",
                                  allowed=NON_NEGATIVE,
                                  help="σ, arithmetic (Bachelier) volatility of the price")
    half_spread: float = parameter(0.0625, unit="currency per share", allowed=NON_NEGATIVE,
                                   help="ε, paid on every share traded")
    temporary_impact: float = parameter(
        2.5e-6, unit="currency·time per share²", allowed=POSITIVE,
        help="η: a trade of n shares in a step of length τ fills η·n/τ worse")
    permanent_impact: float = parameter(
        2.5e-7, unit="currency per share²", allowed=NON_NEGATIVE,
        help="γ: every share traded moves the price by γ against the trader, for good")
    risk_aversion: float = parameter(1e-6, unit="per currency", allowed=NON_NEGATIVE,
                                     help="λ, the weight of the variance of shortfall")
    drift: float = parameter(0.0, unit="price units per time unit", allowed=FINITE,
                             help="α, the exogenous price drift")
    side: int = parameter(SELL, unit="", allowed=SIDE,
                          help="sell or buy; a buy is the mirror image of a sell")
    feedback: str = parameter(
        FIELD_DRIFT, unit="", allowed=choice(*FEEDBACKS),
        help="field-drift (MODEL §2: the ensemble's count sets a price drift, it never trades) "
             "or order-flow (MODEL §6: the ensemble trades; see [order_flow])")

    def __post_init__(self) -> None:
        check_parameters(self)
        if self.step_length <= 0.0 or self.shares * self.price <= 0.0:  # underflow to 0
            raise ParameterError(
                f"step length τ = horizon/steps = {self.step_length!r} and notional shares·price "
                f"= {self.shares * self.price!r} must be > 0 in float64: increase horizon "
                "(or use fewer steps), shares or price")
        if self.effective_temporary_impact <= 1e-12 * self.temporary_impact:  # 0 up to rounding
            raise ParameterError(
                "effective temporary impact η̃ = temporary_impact - permanent_impact·τ/2 = "
                f"{self.temporary_impact!r} - {self.permanent_impact!r}·{self.step_length!r}/2 "
                f"= {self.effective_temporary_impact!r} must be > 0: increase temporary_impact, "
                "decrease permanent_impact, or use more steps (shorter steps τ = horizon/steps)"
            )
        check_magnitudes(self, abs(self.drift))

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

    def holdings_bound(self, drift_bound: float) -> float:
        """max |x_k| of the linear planner's optimum for planning drifts |a_k| <= drift_bound:
        X + drift_bound·T²/(16η̃), the drift's parabola a·t(T-t)/(4η̃) at zero urgency (urgency
        only shrinks it), in shares."""
        horizon = self.horizon
        return self.shares + drift_bound * horizon / (16.0 * self.effective_temporary_impact) \
            * horizon

    def with_changes(self, **changes: object) -> ExecutionProblem:
        """A copy with some fields replaced (validated again)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        unknown = set(changes) - set(values)
        if unknown:
            raise ParameterError(f"unknown ExecutionProblem field(s): {sorted(unknown)}")
        values.update(changes)
        return ExecutionProblem(**values)


def check_magnitudes(problem: ExecutionProblem, drift_bound: float, self_alpha: float = 0.0,
                     holdings: float | None = None, trade: float | None = None) -> None:
    """Refuse a problem whose planning quantities would leave float64 (overflow, then NaN or inf
    schedules and costs), naming the fields: λσ², the sums of squares Σx_k², Σn_k² and bounds of
    every term of E and V (MODEL §3) for planning drifts |a_k| <= drift_bound, holdings
    |x_k| <= holdings (default: the linear planner's bound) and trades |n_k| <= trade (default:
    twice the holdings bound)."""
    shares, horizon, steps = problem.shares, problem.horizon, problem.steps
    impact = problem.effective_temporary_impact
    largest = problem.holdings_bound(drift_bound) if holdings is None else holdings
    trade = 2.0 * largest if trade is None else trade
    if holdings is not None:
        held = "the schedule's holdings and trades"
    else:
        held = "shares" if drift_bound == 0.0 else "shares, drift or coupling·field"
    urgency = problem.risk_aversion * problem.volatility * problem.volatility
    variance = problem.volatility * problem.volatility * horizon * largest * largest
    costs = [  # the terms of E (bounds)
        ("½γX², the permanent-impact cost", 0.5 * problem.permanent_impact * shares * shares,
         "permanent_impact or shares"),
        ("ε·Σ|n_k|, the spread cost (bound)", problem.half_spread * steps * trade,
         f"half_spread, steps or {held}"),
        ("(η̃/τ)·Σn_k², the temporary-impact cost (bound)",
         impact / problem.step_length * steps * trade * trade,
         f"temporary_impact, steps/horizon or {held}"),
        ("τ·Σ|a_k·x_k|, the drift term (bound)", horizon * drift_bound * largest,
         f"horizon or {held}"),
        ("self_alpha·τ·Σx_k², the self-impact cost (bound)", self_alpha * horizon * largest
         * largest, f"self_alpha, horizon or {held}"),
    ]
    risk = problem.risk_aversion * variance
    utility = sum(value for _, value, _ in costs) + risk
    square = max(largest, trade)
    terms = [
        ("max |x_k|, the holdings (bound X + |a|·T²/(16η̃))", largest,
         "drift (or coupling·field) or horizon, or raise temporary_impact"),
        ("Σx_k², Σn_k², the sums of squares in E and V (bound N·max²)",
         steps * square * square, f"steps or {held}"),
        *costs,
        ("λσ², the urgency", urgency, "risk_aversion or volatility"),
        ("V = σ²τ·Σx_k², the variance (bound)", variance, f"volatility, horizon or {held}"),
        ("λV, the risk term (bound)", risk, f"risk_aversion, volatility, horizon or {held}"),
        ("E + λV in basis points of the notional (bound)",
         1e4 * (utility / (shares * problem.price)), "the parameters above, or raise price"),
    ]
    validation.within_float_range(terms)
    if shares * shares < sys.float_info.min:  # X², the scale of every quadratic term
        raise ParameterError(
            f"shares = {shares!r}: X² is below float64's smallest normal number "
            f"({sys.float_info.min:.3g}), so the quadratic costs and the variances V and Var IS "
            "would underflow to 0; shares must be at least 1.5e-154")


@dataclass(frozen=True)
class ExtendedParameters:
    """The two feedback terms of the extended model (MODEL.md §2, §3b)."""

    coupling: float = parameter(
        0.0, unit="price units per time unit per field unit", allowed=FINITE,
        help="price drift per unit of ensemble field (the paper's η_ens)")
    self_alpha: float = parameter(
        0.0, unit="price units per time unit per share", allowed=NON_NEGATIVE,
        help="price drift per share still held: a seller's unsold shares pull the price down")

    def __post_init__(self) -> None:
        check_parameters(self)


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
    largest_forecast = float(np.max(np.abs(forecast)))
    drift_bound = abs(problem.drift) + abs(extended.coupling) * largest_forecast
    validation.within_float_range([("|α| + |coupling|·max|f̂|, the planning drift (bound)",
                                    drift_bound, "drift, coupling or the field forecast")])
    check_magnitudes(problem, drift_bound, extended.self_alpha)
    drift = planning_drift(problem, extended.coupling, forecast)
    urgency = problem.risk_aversion * problem.volatility**2 + extended.self_alpha
    return PlanningInputs(problem.step_length, problem.effective_temporary_impact, urgency, drift)
