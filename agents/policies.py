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
from typing import Protocol

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
from acsim.strategies.errors import ParameterError, PolicyError
from acsim.strategies.impact import ImpactModel
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, planning_drift

FORECASTS = ("persistent", "model", "none")


@dataclass(frozen=True)
class Beliefs:
    """What a policy believes about the market it trades in (MODEL.md §2-§4).

    market: the order and the market parameters (σ, ε, η, γ, α, λ) as believed.
    extended: the believed feedback terms (coupling, self_alpha).
    ensemble: the believed ensemble (field scale and switching rule: the `model` forecast).
    impact: the believed impact model (its planner is the one used).
    """

    market: ExecutionProblem
    extended: ExtendedParameters
    ensemble: EnsembleParameters
    impact: ImpactModel


@dataclass(frozen=True)
class Observation:
    """What the executing agent sees before trading in step k (MODEL.md §2, item 2).

    step: k (1-based).  remaining_steps: N - k + 1, including this one.
    holdings: x_{k-1}.  price: S_{k-1}.  field: f_k, the count field α0·(2m_k - M)/M (in the
    order-flow market too, MODEL §6: the agent sees m_k, not the flow Q_k nor F).
    momentum_count: m_k.  past_trades: n_1..n_{k-1}, shape (E, k - 1): the order's own trades.
    """

    step: int
    remaining_steps: int
    holdings: np.ndarray
    price: np.ndarray
    field: np.ndarray
    momentum_count: np.ndarray
    past_trades: np.ndarray


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
    """The exact discrete Almgren-Chriss optimum, planned once (MODEL.md §3a)."""

    def schedule(self, beliefs: Beliefs) -> np.ndarray:
        return almgren_chriss.optimal_holdings(beliefs.market)


# ---------------------------------------------------------------------------------------------
# Receding horizon: re-solved every step


@dataclass(kw_only=True)
class RecedingHorizon:
    """Re-solves its planning model from the current state every step, trades the first slice.

    The planner is the believed impact model's (`ImpactModel.planner`); the planning drift is
    side·(α + coupling·f̂_k) with the field forecast f̂ of `forecast`. When the planner is linear
    in the drift (it has `gains`) and trades are unconstrained, the first trade comes from
    precomputed gains: O(1) per episode and step for every forecast.
    """

    no_buyback: bool = parameter(False, unit="", allowed=BOOLEAN,
                                 help="adaptive strategies never trade against the order "
                                      "(n_k >= 0; exact active set)")
    forecast = "none"
    believes_feedback = False

    def __post_init__(self) -> None:
        check_parameters(self)

    def start(self, beliefs: Beliefs) -> None:
        market = beliefs.market
        self.market = market
        believed = beliefs.extended if self.believes_feedback else ExtendedParameters()
        self.coupling = believed.coupling if self.forecast != "none" else 0.0
        self.uses_field = self.coupling != 0.0
        urgency = market.risk_aversion * market.volatility**2 + believed.self_alpha
        self.planner = beliefs.impact.planner(market, urgency)
        steps, agents = market.steps, beliefs.ensemble.agents
        if self.forecast == "model":
            # expected field s steps ahead for every current count: (steps, M + 1)
            self.expected_field = ensemble.field(
                beliefs.ensemble, ensemble.expected_count_table(beliefs.ensemble, steps - 1))
        self.fast = hasattr(self.planner, "gains") and not self.no_buyback
        if self.fast and self.forecast == "model":
            gains = self.planner.gains
            # Σ_s gain_s·E[f_{k+s} | m] for every remaining length and count: (steps + 1, M + 1)
            self.field_term = np.zeros((steps + 1, agents + 1))
            for remaining in range(1, steps + 1):
                self.field_term[remaining] = np.sum(
                    gains.drift_gain[remaining][:, None] * self.expected_field[:remaining],
                    axis=0)  # elementwise: independent of BLAS threading

    def field_forecast(self, observation: Observation) -> np.ndarray:
        """f̂ for the remaining steps, shape (episodes, remaining)."""
        remaining = observation.remaining_steps
        if self.forecast == "persistent":
            return np.repeat(observation.field[:, None], remaining, axis=1)
        if self.forecast == "model":
            return self.expected_field[:remaining, observation.momentum_count].T
        return np.zeros((observation.holdings.shape[0], remaining))

    def trades(self, observation: Observation) -> np.ndarray:
        if self.fast:
            return self._gains_trades(observation)
        drift = planning_drift(self.market, self.coupling, self.field_forecast(observation))
        return self.planner.first_trades(observation.holdings, drift,
                                         observation.past_trades, self.no_buyback)

    def _gains_trades(self, observation: Observation) -> np.ndarray:
        gains, remaining = self.planner.gains, observation.remaining_steps
        base = gains.first_trade_constant_drift(observation.holdings, remaining,
                                                self.market.planning_drift)
        if self.coupling == 0.0:
            return base
        if self.forecast == "persistent":
            field_term = gains.constant_drift_gain[remaining] * observation.field
        else:
            field_term = self.field_term[remaining, observation.momentum_count]
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

    forecast: str = parameter("persistent", unit="", allowed=choice(*FORECASTS),
                              help="extended strategy's field forecast: persistent (the "
                                   "current field), model (the count chain's exact "
                                   "conditional mean) or none")
    believes_feedback = True


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
        """A short readable name: 'extended/model', 'ac-adaptive+no-buyback', ..."""
        options = dict(self.options)
        label = self.name
        if self.name == "extended":
            label += "/" + options.pop("forecast", "persistent")
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
