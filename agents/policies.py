"""Execution policies: how the executing agent turns what it sees into a trade.

A policy has two methods and runs unchanged in both engines: arrays in its `Observation` have a
leading episodes axis (length 1 in the Mesa model, thousands in the vectorised engine).

    class FrontLoaded:
        def start(self, beliefs):           # once per run: precompute what you need
            self.steps = beliefs.market.steps
        def trades(self, observation):      # every step: shares to trade, per episode
            return observation.holdings * min(1.0, 2.0 / observation.remaining_steps)

`start` receives the policy's `Beliefs`: what it believes about the market (by default the
market itself; a study can make them differ, e.g. plan with coupling 0 in a market with
coupling 0.01). Trades are in the order's direction (a seller's n > 0 sells). Whatever a
policy returns in the last step, the agent trades the remaining holdings then, so every order
completes. An optional attribute `uses_field = False` (after `start`) tells a study that the
policy ignores the field and the momentum count; a policy without it is assumed to use them.

Built-in policies are registered by name in `POLICIES` (`register_policy`); their options are
keyword-only, declared once with their units and ranges, and validated when built.
`StrategyParameters` names a policy and its options (the [strategy] table of a configuration);
"package.module:Class" names a policy of your own, built with the given options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from acsim.strategies import almgren_chriss, baselines, ensemble
from acsim.strategies.components import is_path, load_object
from acsim.strategies.costs import trades_from_holdings
from acsim.strategies.declarations import (
    BOOLEAN,
    NUMBERS,
    check_parameters,
    choice,
    declared_fields,
    parameter,
)
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError, PlanningError, PolicyError
from acsim.strategies.impact import ImpactModel, LinearImpact
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, planning_drift
from acsim.strategies.regimes import RegimePlanner, VolatilityRegimes

FORECASTS = ("persistent", "model", "none")


@dataclass(frozen=True)
class Beliefs:
    """What a policy believes about the market it trades in (MODEL.md §2-§4).

    market: the order and the market parameters (σ, ε, η, γ, α, λ) as believed.
    extended: the believed feedback terms (coupling, self_alpha).
    ensemble: the believed ensemble (field scale and switching rule: the `model` forecast).
    impact: the believed impact model (its planner is the one used).
    regimes: the believed volatility regimes (MODEL §8), or None: σ is market.volatility.
    """

    market: ExecutionProblem
    extended: ExtendedParameters
    ensemble: EnsembleParameters
    impact: ImpactModel
    regimes: VolatilityRegimes | None = None


@dataclass(frozen=True)
class Observation:
    """What the executing agent sees before trading in step k (MODEL.md §2, item 2).

    step: k (1-based).  remaining_steps: N - k + 1, including this one.
    holdings: x_{k-1}.  price: S_{k-1}.  field: f_k, the count field α0·(2m_k - M)/M (in the
    order-flow market too, MODEL §6: the agent sees m_k, not the flow Q_k nor F).
    momentum_count: m_k.  past_trades: n_1..n_{k-1}, shape (E, k - 1): the order's own trades.
    regime: s_k, the volatility regime of step k (MODEL §8), integers (E,); None (or zeros)
        when the market has no regimes.
    """

    step: int
    remaining_steps: int
    holdings: np.ndarray
    price: np.ndarray
    field: np.ndarray
    momentum_count: np.ndarray
    past_trades: np.ndarray
    regime: np.ndarray | None = None

    def regimes(self) -> np.ndarray:
        """s_k of every episode, (E,) integers (zeros without regimes)."""
        if self.regime is None:
            return np.zeros(self.holdings.shape[0], dtype=np.int64)
        return self.regime

    def select(self, episodes: np.ndarray) -> Observation:
        """The observation of some episodes only (a boolean mask or indices)."""
        return Observation(self.step, self.remaining_steps, self.holdings[episodes],
                           self.price[episodes], self.field[episodes],
                           self.momentum_count[episodes], self.past_trades[episodes],
                           self.regimes()[episodes])


class ExecutionPolicy(Protocol):
    """The interface every strategy implements."""

    def start(self, beliefs: Beliefs) -> None: ...

    def trades(self, observation: Observation) -> np.ndarray: ...


def check_policy(policy: object) -> object:
    """`policy` if it has the two methods of the protocol, else a PolicyError."""
    missing = [name for name in ("start", "trades") if not callable(getattr(policy, name, None))]
    if missing:
        raise PolicyError(f"{policy!r} is not a policy: it has no {' or '.join(missing)} method")
    return policy


def checked_trades(trades: object, episodes: int, step: int) -> np.ndarray:
    """A policy's answer as (E,) finite floats, or a PolicyError naming what is wrong."""
    result = np.asarray(trades, dtype=float)
    if result.shape != (episodes,):
        raise PolicyError(f"a policy must return one trade per episode, shape ({episodes},), "
                          f"in step {step}; got shape {result.shape}")
    if not np.all(np.isfinite(result)):
        raise PolicyError(f"a policy returned a non-finite trade in step {step}")
    return result


def read_only(array: np.ndarray) -> np.ndarray:
    """A view a policy can read but not write (the engine's own state stays intact)."""
    view = array.view()
    view.flags.writeable = False
    return view


POLICIES: dict[str, type] = {}


def register_policy(name: str) -> Callable[[type], type]:
    """Class decorator: make a policy class available under `name`."""
    def register(cls: type) -> type:
        cls.name = name
        POLICIES[name] = cls
        return cls
    return register


# ---------------------------------------------------------------------------------------------
# Static schedules: planned once at the start


class StaticSchedule:
    """Trades a schedule planned once at the start from the believed market."""

    uses_field = False

    def schedule(self, beliefs: Beliefs) -> np.ndarray:
        """Holdings x_0..x_N."""
        raise NotImplementedError

    def start(self, beliefs: Beliefs) -> None:
        self.planned = trades_from_holdings(self.schedule(beliefs))

    def trades(self, observation: Observation) -> np.ndarray:
        return np.full(observation.holdings.shape, self.planned[observation.step - 1])


@register_policy("twap")
@dataclass(kw_only=True)
class TWAP(StaticSchedule):
    """Equal trades X/N in every step."""

    def schedule(self, beliefs: Beliefs) -> np.ndarray:
        return baselines.twap_holdings(beliefs.market)


@register_policy("vwap")
@dataclass(kw_only=True)
class VWAP(StaticSchedule):
    """Trades proportional to an expected volume profile."""

    volume_profile: tuple[float, ...] | None = parameter(
        None, unit="weights", allowed=NUMBERS,
        help="vwap: N non-negative expected volume weights, one per step")

    def __post_init__(self) -> None:
        check_parameters(self)
        if self.volume_profile is None:
            raise ParameterError("strategy vwap needs a volume_profile (N weights)")

    def validate(self, beliefs: Beliefs) -> None:
        if len(self.volume_profile) != beliefs.market.steps:
            raise ParameterError(f"volume_profile must have steps = {beliefs.market.steps} "
                                 f"values, got {len(self.volume_profile)}")

    def schedule(self, beliefs: Beliefs) -> np.ndarray:
        return baselines.vwap_holdings(beliefs.market, self.volume_profile)


@register_policy("ac-static")
@dataclass(kw_only=True)
class StaticAC(StaticSchedule):
    """The optimal schedule under the believed impact model, planned once: the exact discrete
    Almgren-Chriss optimum for linear impact (MODEL.md §3a), the planner of the impact model
    otherwise (§7), with the believed σ, drift and λ."""

    def schedule(self, beliefs: Beliefs) -> np.ndarray:
        market = beliefs.market
        if isinstance(beliefs.impact, LinearImpact):
            return almgren_chriss.optimal_holdings(market)
        planner = beliefs.impact.planner(market, market.risk_aversion * market.volatility**2)
        return planner.holdings(np.array([market.shares]),
                                np.full((1, market.steps), market.planning_drift),
                                np.zeros((1, 0)))[0]


# ---------------------------------------------------------------------------------------------
# Receding horizon: re-solved every step


@dataclass
class _Plan:
    """A receding-horizon policy's planner for one believed regime; `fast`: the first trade
    comes from the planner's gains; `field_term`: the `model` forecast through those gains."""

    planner: object
    fast: bool
    field_term: np.ndarray | None = None


@dataclass(kw_only=True)
class FieldForecaster:
    """What the planning policies share: the believed market and the planning drift
    side·(α + coupling·f̂_k), with the field forecast f̂ of `forecast` ("none" unless a subclass
    declares the option) and, when `believes_feedback`, the believed coupling and self-alpha."""

    forecast = "none"
    believes_feedback = False

    def __post_init__(self) -> None:
        check_parameters(self)

    def start_forecast(self, beliefs: Beliefs) -> ExtendedParameters:
        """Set up the planning drift (the believed market, coupling and field forecast);
        returns the believed feedback terms the plan uses."""
        self.market = beliefs.market
        believed = beliefs.extended if self.believes_feedback else ExtendedParameters()
        self.coupling = believed.coupling if self.forecast != "none" else 0.0
        self.uses_field = self.coupling != 0.0
        if self.forecast == "model":
            # expected field s steps ahead for every current count: (steps, M + 1)
            self.expected_field = ensemble.field(beliefs.ensemble, ensemble.expected_count_table(
                beliefs.ensemble, beliefs.market.steps - 1))
            # the same table by count (M + 1, steps): one count's forecasts are one row, so a
            # batch of forecasts is a contiguous (episodes, remaining) array (planners copy less)
            self.expected_field_by_count = np.ascontiguousarray(self.expected_field.T)
            # and the planning drift of those forecasts (one row per count), computed once
            self.drift_by_count = planning_drift(beliefs.market, self.coupling,
                                                 self.expected_field_by_count)
        return believed

    def field_forecast(self, observation: Observation) -> np.ndarray:
        """f̂ for the remaining steps, shape (episodes, remaining)."""
        remaining = observation.remaining_steps
        if self.forecast == "persistent":
            return np.repeat(observation.field[:, None], remaining, axis=1)
        if self.forecast == "model":
            return self.expected_field_by_count[observation.momentum_count, :remaining]
        return np.zeros((observation.holdings.shape[0], remaining))

    def planning_drifts(self, observation: Observation) -> np.ndarray:
        """The planning drift side·(α + coupling·f̂_k) for the remaining steps, shape
        (episodes, remaining), price units per time unit (with the `model` forecast, rows of
        a table computed once: the same numbers)."""
        if self.forecast == "model":
            return self.drift_by_count[observation.momentum_count, :observation.remaining_steps]
        return planning_drift(self.market, self.coupling, self.field_forecast(observation))


def forecast_option() -> Any:
    """The declared `forecast` option of the policies that forecast the field."""
    return parameter("persistent", unit="", allowed=choice(*FORECASTS),
                     help="extended and regime-aware strategies' field forecast: persistent "
                          "(the current field), model (the count chain's exact conditional "
                          "mean) or none")


@dataclass(kw_only=True)
class RecedingHorizon(FieldForecaster):
    """Re-solves its planning model from the current state every step, trades the first slice.

    The planner is the believed impact model's (`ImpactModel.planner`), given the order's own
    past trades (a transient planner computes from them, with its believed kernel, the
    displacement they still cause); the planning drift is side·(α + coupling·f̂_k) with the
    field forecast f̂ of `forecast`. With believed volatility regimes it plans with the current
    regime's σ (certainty equivalence: as if σ stayed). When the planner is linear in the drift
    (it has `gains`) and trades are unconstrained, the first trade comes from precomputed gains:
    O(1) per episode and step for every forecast.
    """

    no_buyback: bool = parameter(False, unit="", allowed=BOOLEAN,
                                 help="adaptive strategies never trade against the order "
                                      "(n_k >= 0; exact active set)")

    def start(self, beliefs: Beliefs) -> None:
        market = beliefs.market
        believed = self.start_forecast(beliefs)
        # one planner per believed volatility regime: re-solved with the current σ (MODEL §8)
        volatilities = ((market.volatility,) if beliefs.regimes is None
                        else beliefs.regimes.volatilities)
        self.plans = [self._plan(beliefs, market.risk_aversion * sigma**2 + believed.self_alpha)
                      for sigma in volatilities]

    def _plan(self, beliefs: Beliefs, urgency: float) -> _Plan:
        """The believed impact model's planner for one urgency, with its precomputed field
        term when it has gains."""
        planner = beliefs.impact.planner(beliefs.market, urgency)
        plan = _Plan(planner, hasattr(planner, "gains") and not self.no_buyback)
        if plan.fast and self.forecast == "model":
            gains, steps = planner.gains, beliefs.market.steps
            # Σ_s gain_s·E[f_{k+s} | m] for every remaining length and count: (steps + 1, M + 1)
            plan.field_term = np.zeros((steps + 1, beliefs.ensemble.agents + 1))
            for remaining in range(1, steps + 1):
                plan.field_term[remaining] = np.sum(
                    gains.drift_gain[remaining][:, None] * self.expected_field[:remaining],
                    axis=0)  # elementwise: independent of BLAS threading
        return plan

    @property
    def planner(self) -> object:
        """The planner (of the first believed regime)."""
        return self.plans[0].planner

    def trades(self, observation: Observation) -> np.ndarray:
        if len(self.plans) == 1:
            return self._trades(self.plans[0], observation)
        regime = observation.regimes()
        result = np.empty(observation.holdings.shape)
        for index, plan in enumerate(self.plans):
            chosen = regime == index
            if np.any(chosen):
                result[chosen] = self._trades(plan, observation.select(chosen))
        return result

    def _trades(self, plan: _Plan, observation: Observation) -> np.ndarray:
        if plan.fast:
            return self._gains_trades(plan, observation)
        drift = self.planning_drifts(observation)
        return plan.planner.first_trades(observation.holdings, drift,
                                         observation.past_trades, self.no_buyback)

    def _gains_trades(self, plan: _Plan, observation: Observation) -> np.ndarray:
        gains, remaining = plan.planner.gains, observation.remaining_steps
        base = gains.first_trade_constant_drift(observation.holdings, remaining,
                                                self.market.planning_drift)
        if self.coupling == 0.0:
            return base
        if self.forecast == "persistent":
            field_term = gains.constant_drift_gain[remaining] * observation.field
        else:
            field_term = plan.field_term[remaining, observation.momentum_count]
        # the field's part of the planning drift, side·coupling·f̂, through the same gains
        return base - self.market.side * self.coupling * field_term


@register_policy("ac-adaptive")
@dataclass(kw_only=True)
class AdaptiveAC(RecedingHorizon):
    """Classical AC re-solved every step; ignores the field and self-alpha."""


@register_policy("extended")
@dataclass(kw_only=True)
class ExtendedAC(RecedingHorizon):
    """Extended AC (MODEL.md §3b) re-solved every step with the believed coupling and
    self-alpha and a forecast of the field."""

    forecast: str = forecast_option()
    believes_feedback = True


@register_policy("regime-aware")
@dataclass(kw_only=True)
class RegimeAwareAC(FieldForecaster):
    """Exact dynamic programme over the believed volatility regimes (MODEL §8, Almgren 2012):
    minimises expected cost plus λ·E[Σσ_{s_k}²τx_k²] knowing how regimes switch, re-planned
    every step from the current regime; with the believed feedback terms and field forecast of
    extended AC. Linear impact only; no no-buy-back version (the programme is unconstrained).
    With no believed regimes it is extended AC (one regime, σ = the believed volatility)."""

    forecast: str = forecast_option()
    believes_feedback = True

    def validate(self, beliefs: Beliefs) -> None:
        if not isinstance(beliefs.impact, LinearImpact):
            raise PlanningError(f"strategy regime-aware plans under linear impact only, not "
                                f"{beliefs.impact!r}; believe linear impact ([beliefs.impact] "
                                "model = \"linear\") or use ac-adaptive / extended")

    def start(self, beliefs: Beliefs) -> None:
        self.validate(beliefs)
        believed = self.start_forecast(beliefs)
        market = beliefs.market
        regimes = beliefs.regimes or VolatilityRegimes((market.volatility,), ((1.0,),))
        self.dynamic = RegimePlanner(regimes, market.step_length,
                                     market.effective_temporary_impact, market.risk_aversion,
                                     believed.self_alpha, market.steps)

    def trades(self, observation: Observation) -> np.ndarray:
        drift = self.planning_drifts(observation)
        # without believed regimes the programme has one regime, whatever the market shows
        regime = (observation.regimes() if self.dynamic.regimes.count > 1
                  else np.zeros(observation.holdings.shape[0], dtype=np.int64))
        return self.dynamic.first_trade(observation.holdings, regime, drift)


# ---------------------------------------------------------------------------------------------
# Naming a policy: the [strategy] table


def policy_class(name: str) -> type:
    """The class of a registered policy, or of a "package.module:Class" path."""
    if name in POLICIES:
        return POLICIES[name]
    if is_path(name):
        cls = load_object(name, "strategy")
        if not callable(cls) or not all(callable(getattr(cls, method, None))
                                        for method in ("start", "trades")):
            raise ParameterError(f"strategy {name!r} is not a policy class (one with start and "
                                 "trades methods)")
        return cls
    raise ParameterError(f"strategy name must be one of {', '.join(POLICIES)} or a "
                         f"'package.module:Class' path, got {name!r}")


def option_names(name: str) -> list[str]:
    """The declared options of a registered policy (empty for policies of your own)."""
    cls = policy_class(name)
    return [item.name for item in declared_fields(cls)] if name in POLICIES else []


@dataclass(frozen=True)
class StrategyParameters:
    """A policy by name with its options: the [strategy] table of a configuration.

    name: a registered policy (twap, vwap, ac-static, ac-adaptive, extended) or
        "package.module:Class" (a policy of your own, built with `options` as keywords).
    options: keyword options of the policy, e.g. {"forecast": "model", "no_buyback": True}.
    """

    name: str = "extended"
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.options, dict):
            raise ParameterError(f"strategy options must be a table, got {self.options!r}")
        policy = self.build()  # validates the name and every option
        if self.name in POLICIES:  # every declared option, cleaned (a list becomes a tuple)
            object.__setattr__(self, "options", {key: getattr(policy, key)
                                                 for key in option_names(self.name)})

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted((k, _hashable(v)) for k, v in
                                             self.options.items()))))

    def build(self) -> ExecutionPolicy:
        """A new policy object (not started)."""
        cls = policy_class(self.name)
        allowed = option_names(self.name)
        unknown = sorted(set(self.options) - set(allowed)) if self.name in POLICIES else []
        if unknown:
            owners = {option: [name for name in POLICIES if option in option_names(name)]
                      for option in unknown}
            raise ParameterError("; ".join(
                f"{option} applies to {', '.join(owners[option]) or 'no built-in strategy'}, "
                f"not to {self.name!r}" for option in unknown))
        try:
            return cls(**self.options)
        except TypeError as error:
            raise ParameterError(f"strategy {self.name!r}: {error}") from None

    @property
    def label(self) -> str:
        """A short readable name: 'extended/model', 'regime-aware/none',
        'ac-adaptive+no-buyback', ..."""
        options = dict(self.options)
        label = self.name
        if "forecast" in options:
            label += "/" + options.pop("forecast")
        if options.pop("no_buyback", False):
            label += "+no-buyback"
        options.pop("volume_profile", None)
        if options:
            label += "(" + ", ".join(f"{k}={v!r}" for k, v in sorted(options.items())) + ")"
        return label


def _hashable(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def strategy(name: str, **options: object) -> StrategyParameters:
    """StrategyParameters from keywords: strategy("extended", forecast="model")."""
    return StrategyParameters(name, options)


def policy_label(policy: object) -> str:
    """The label of a policy object: its `label` attribute, else its class name."""
    return str(getattr(policy, "label", None) or type(policy).__name__)
