"""Validated simulation parameters, loadable from TOML, from flags or from keywords.

A configuration file has up to eight tables, each optional; unknown tables or keys and
out-of-range values are rejected with the offending name:

    [market]      # the order and the market: shares, horizon, steps, price, volatility,
                  # half_spread, temporary_impact, permanent_impact, risk_aversion, drift, side,
                  # feedback (field-drift or order-flow)
    [extended]    # coupling, self_alpha: the market's true feedback terms
    [ensemble]    # agents, field_scale, switching, switch_to_momentum,
                  # switch_to_mean_reversion, herding, step_probability, initial
    [impact]      # model (linear, power), exponent, coefficient, transient (none,
                  # exponential, power-law), transient_impact, resilience, transient_exponent,
                  # transient_time (MODEL §7)
    [order_flow]  # momentum_size, reversion_size, lookback, momentum_sensitivity,
                  # reversion_sensitivity, momentum_noise, warmup (used by the order-flow market)
    [regimes]     # model (none, markov), volatilities, transition, initial (MODEL §8)
    [strategy]    # name and the policy's options (forecast, no_buyback, volume_profile)
    [beliefs]     # what the strategy believes, where it differs from the market, e.g.
                  # beliefs.extended.coupling = 0.0 (tables market, extended, ensemble, impact,
                  # regimes)
    [simulation]  # episodes, seed

Every key is declared once, with its unit and range, on its parameter class (see
`acsim.strategies.declarations` and docs/parameters.md). The defaults are the paper's synthetic
setting (1,000 shares, 20 steps, 100 ensemble agents, field scale 5) with market parameters of a
plausible magnitude: price 100, σ = 0.1 per √step, η = 0.002, γ = 1e-4, ε = 0.01, λ = 0.002
(κT ≈ 2).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from acsim.agents.policies import POLICIES, Beliefs, StrategyParameters, check_policy
from acsim.strategies import validation
from acsim.strategies.declarations import (
    Allowed,
    Declaration,
    Declared,
    check_parameters,
    declared_fields,
    integer,
    parameter,
)
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError
from acsim.strategies.impact import ImpactParameters
from acsim.strategies.order_flow import ORDER_FLOW, OrderFlowParameters
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters, check_magnitudes
from acsim.strategies.regimes import RegimeParameters

DEFAULT_MARKET = ExecutionProblem(
    shares=1000.0, horizon=20.0, steps=20, price=100.0, volatility=0.1, half_spread=0.01,
    temporary_impact=0.002, permanent_impact=1e-4, risk_aversion=0.002, drift=0.0,
)

# The parameter classes of the configuration's tables, in the order they are documented.
SECTIONS = {
    "market": ExecutionProblem,
    "extended": ExtendedParameters,
    "ensemble": EnsembleParameters,
    "impact": ImpactParameters,
    "order_flow": OrderFlowParameters,
    "regimes": RegimeParameters,
}

# What a strategy may believe differently from the market (order facts and the trader's own
# risk aversion are not beliefs; the ensemble's size must match the counts it observes).
BELIEF_FIELDS = {
    "market": ("volatility", "half_spread", "temporary_impact", "permanent_impact", "drift"),
    "extended": ("coupling", "self_alpha"),
    "ensemble": ("field_scale", "switching", "switch_to_momentum", "switch_to_mean_reversion",
                 "herding", "step_probability"),
    "impact": tuple(f.name for f in dataclasses.fields(ImpactParameters)),
    "regimes": ("model", "volatilities", "transition"),
}


def _strategy_name(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{name} must be a strategy name, got {value!r}")
    return value


STRATEGY_NAME = Declared("name", "extended", Declaration(
    unit="", allowed=Allowed("choice", _strategy_name,
                             "one of " + ", ".join(POLICIES) + " or package.module:Class",
                             tuple(POLICIES), extensible=True),
    help="execution strategy: " + "; ".join(
        f"{name}: {cls.__doc__.strip().splitlines()[0].rstrip('.')}"
        for name, cls in POLICIES.items()) + "; or a policy of your own as package.module:Class",
    flag="--strategy"))


def strategy_options() -> list[Declared]:
    """The declared options of every built-in policy (each once, in registration order)."""
    seen: dict[str, Declared] = {}
    for cls in POLICIES.values():
        for item in declared_fields(cls):
            seen.setdefault(item.name, item)
    return list(seen.values())


def freeze(value: object) -> object:
    """A nested table (dicts, lists of lists, ...) as a hashable, order-independent value."""
    if isinstance(value, dict):
        return tuple(sorted((key, freeze(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


@dataclass(frozen=True)
class SimulationConfig:
    """Everything one run needs: the market's tables, the strategy, its beliefs, the run size.

    beliefs: {table: {key: value}} where the strategy's beliefs differ from the market
        (validated against BELIEF_FIELDS); `planning_beliefs()` resolves them.
    """

    market: ExecutionProblem = DEFAULT_MARKET
    extended: ExtendedParameters = field(default_factory=ExtendedParameters)
    ensemble: EnsembleParameters = field(default_factory=EnsembleParameters)
    impact: ImpactParameters = field(default_factory=ImpactParameters)
    order_flow: OrderFlowParameters = field(default_factory=OrderFlowParameters)
    regimes: RegimeParameters = field(default_factory=RegimeParameters)
    strategy: StrategyParameters = field(default_factory=StrategyParameters)
    beliefs: dict = field(default_factory=dict)
    episodes: int = parameter(1000, unit="episodes", allowed=integer(1),
                              help="Monte Carlo episodes")
    seed: int = parameter(0, unit="", allowed=integer(0),
                          help="root seed, integer >= 0 (0 is a seed like any other)")

    def __post_init__(self) -> None:
        for name, kind in {**SECTIONS, "strategy": StrategyParameters}.items():
            if not isinstance(getattr(self, name), kind):
                raise ParameterError(f"[{name}] must be given as {kind.__name__}, got "
                                     f"{getattr(self, name)!r} (use .replace({name}={{...}}) or "
                                     "build_config for plain tables)")
        check_parameters(self)
        if self.order_flow_market:
            for name in ("coupling", "self_alpha"):
                value = getattr(self.extended, name)
                if value != 0.0:
                    raise ParameterError(
                        f"[extended] {name} must be 0 in the order-flow market ([market] "
                        f"feedback = 'order-flow', MODEL §6: the ensemble's feedback is its "
                        f"order flow, not a drift term), got {value!r}")
            if self.regimes.regimes is not None:
                raise ParameterError(
                    "[regimes] volatility regimes are not available in the order-flow market "
                    "([market] feedback = 'order-flow'): its agents scale their signals by the "
                    "market's one σ (MODEL §6); use model = 'none' there")
        check_belief_table(self.beliefs)
        if self.regimes.regimes is not None:  # the market's paths start from its initial law
            try:
                self.regimes.initial_law()
            except ParameterError as error:
                raise ParameterError(f"[regimes] {error}") from None
        try:
            self.impact.impact.check(self.market)
        except ParameterError as error:
            raise ParameterError(f"[impact] {error}") from None
        beliefs = self.planning_beliefs()  # every believed value validated here, at the boundary
        try:
            beliefs.impact.check(beliefs.market)
        except ParameterError as error:
            raise ParameterError(f"[beliefs.impact] {error}") from None
        market_regimes = self.regimes.regimes
        if beliefs.regimes is not None and (market_regimes is None
                                            or market_regimes.count != beliefs.regimes.count):
            raise ParameterError(
                f"[beliefs.regimes] a strategy that believes in {beliefs.regimes.count} "
                "volatility regimes needs a market with as many (it observes the market's "
                "regime); the market has "
                + ("none" if market_regimes is None else str(market_regimes.count)))
        policy = self.strategy.build()
        if hasattr(policy, "validate"):
            policy.validate(beliefs)

    def check_simulated_magnitudes(self, market_only_steps: int | None = None) -> None:
        """The simulated quantities stay in float64 (MODEL §2, §6-§8): bounds of the planner's
        drift and holdings (as believed), of the price path, the fills and the shortfall and its
        variance over the episodes; a named error instead of overflow, NaN or inf later. The
        engines and studies call it before they simulate (planning alone does not need it).

        market_only_steps: a run of the market with no order, of this many steps: its price path
        and the fourth moment of its returns (kurtosis) are checked instead."""
        beliefs = self.planning_beliefs()
        market, believed = self.market, beliefs.market
        field = max(self.ensemble.field_scale, beliefs.ensemble.field_scale)
        largest_volatility = max((market.volatility, believed.volatility,
                                  *(self.regimes.regimes.volatilities if self.regimes.regimes
                                    else ()),
                                  *(beliefs.regimes.volatilities if beliefs.regimes else ())))
        drift = abs(market.drift) + abs(self.extended.coupling) * field
        believed_drift = abs(believed.drift) + abs(beliefs.extended.coupling) * field
        validation.within_float_range([
            ("field_scale·agents, the field's numerator (bound)",
             field * max(self.ensemble.agents, beliefs.ensemble.agents), "field_scale or agents"),
            ("|α| + |coupling|·field_scale, the drift (bound)", max(drift, believed_drift),
             "drift, coupling or field_scale")])
        try:
            planner = believed.with_changes(volatility=largest_volatility)
            check_magnitudes(planner, believed_drift, beliefs.extended.self_alpha)
        except ParameterError as error:
            if largest_volatility == market.volatility:
                raise
            raise ParameterError(f"{error} (volatility here is the largest regime volatility, "
                                 f"{largest_volatility:g}: reduce [regimes] volatilities)"
                                 ) from None
        largest = max(market.holdings_bound(drift), planner.holdings_bound(believed_drift))
        tau, trade = market.step_length, 2.0 * largest
        flow = 0.0
        if self.order_flow_market:  # |Q_k| <= M·(φ + ψ) + 10·φ·ν·√M, moved by γ per share
            agents, flows = self.ensemble.agents, self.order_flow
            flow = market.permanent_impact * (
                agents * (flows.momentum_size + flows.reversion_size)
                + 10.0 * flows.momentum_size * flows.momentum_noise * agents ** 0.5)
        # one step's price move: drift, the order's and the ensemble's impact, 10 σ√τ of noise
        move = (tau * (drift + self.extended.self_alpha * largest)
                + market.permanent_impact * trade + flow + 10.0 * largest_volatility * tau ** 0.5)
        moves = ("price, volatility, drift, coupling, self_alpha, permanent_impact, shares or "
                 "the order-flow sizes")
        if market_only_steps is not None:
            price = market.price + market_only_steps * move
            validation.within_float_range([
                ("the price path (bound S_0 + steps·largest move)", price, moves),
                ("Σ r_k⁴, the returns' fourth moment (bound)",
                 market_only_steps * move * move * move * move, moves)])
            return
        steps = self.market_steps
        price = market.price + steps * move
        impact = market.temporary_impact / tau * trade
        if isinstance(self.impact.model, str) and self.impact.model == "power" \
                and self.impact.coefficient is not None:  # |n/τ|^β <= 1 + |n/τ| for β <= 1
            impact += self.impact.coefficient * (1.0 + trade / tau)
        if self.impact.transient != "none":
            impact += self.impact.transient_impact * steps * trade
        fill = price + market.half_spread + impact
        shortfall = market.shares * market.price + market.steps * trade * fill
        fills = ("half_spread, temporary_impact, impact_coefficient, transient_impact, shares or "
                 "what moves the price (price, volatility, drift, coupling, self_alpha, "
                 "permanent_impact, the order-flow sizes)")
        validation.within_float_range([
            ("the price path (bound S_0 + steps·largest move)", price, moves),
            ("the fill price (bound)", fill, fills),
            ("the implementation shortfall (bound)", shortfall, fills),
            ("the shortfall in bps of the notional (bound)",
             1e4 * (shortfall / (market.shares * market.price)), fills),
            ("Σ IS² over the episodes, the variance (bound)",
             self.episodes * shortfall * shortfall, "episodes, " + fills),
            ("λ·Var IS, the utility's risk term (bound)",
             market.risk_aversion * shortfall * shortfall, "risk_aversion, " + fills),
        ])

    def __hash__(self) -> int:
        return hash((*(getattr(self, name) for name in SECTIONS), self.strategy,
                     freeze(self.beliefs), self.episodes, self.seed))

    @property
    def order_flow_market(self) -> bool:
        """Whether the ensemble trades ([market] feedback = "order-flow", MODEL §6)."""
        return self.market.feedback == ORDER_FLOW

    @property
    def warmup(self) -> int:
        """W: market steps before the order starts (0 in the field-drift market)."""
        return self.order_flow.warmup if self.order_flow_market else 0

    @property
    def market_steps(self) -> int:
        """W + N: every step the market runs in an episode (the random-stream protocol's N)."""
        return self.warmup + self.market.steps

    def planning_beliefs(self) -> Beliefs:
        """What the strategy believes: the market, with the [beliefs] table applied."""
        tables = {name: getattr(self, name) for name in BELIEF_FIELDS}
        for name, changes in self.beliefs.items():
            kind = SECTIONS[name]
            values = {f.name: getattr(tables[name], f.name) for f in dataclasses.fields(kind)}
            values.update(changes)
            try:
                tables[name] = kind(**values)
            except ParameterError as error:
                raise ParameterError(f"[beliefs.{name}] {error}") from None
        return Beliefs(tables["market"], tables["extended"], tables["ensemble"],
                       tables["impact"].impact, tables["regimes"].regimes)

    def started_policy(self, policy: object = None) -> object:
        """`policy` (default: a new one of the [strategy] table), started with its beliefs."""
        policy = self.strategy.build() if policy is None else check_policy(policy)
        policy.start(self.planning_beliefs())
        return policy

    def replace(self, **sections: dict) -> SimulationConfig:
        """A copy with fields of some tables replaced, e.g. replace(market={"steps": 30})."""
        return build_config(self, sections, source="")

    def to_dict(self) -> dict:
        """A plain dictionary in the TOML layout (for manifests and reports)."""
        result = {name: {f.name: _plain(getattr(getattr(self, name), f.name))
                         for f in dataclasses.fields(kind)} for name, kind in SECTIONS.items()}
        result["strategy"] = {"name": self.strategy.name,
                              **{k: _plain(v) for k, v in self.strategy.options.items()}}
        result["beliefs"] = {name: {k: _plain(v) for k, v in table.items()}
                             for name, table in self.beliefs.items()}
        result["simulation"] = {"episodes": self.episodes, "seed": self.seed}
        return result


def describe_object(value: object) -> dict:
    """An object of your own as the manifest records it: "package.module:Class" and its
    attributes that are plain numbers, words or lists of them (never a memory address)."""
    cls = type(value)
    attributes = {key: list(item) if isinstance(item, tuple) else item
                  for key, item in sorted(vars(value).items())
                  if not key.startswith("_") and _is_plain(item)}
    return {"object": f"{cls.__module__}:{cls.__qualname__}", "attributes": attributes}


def _is_plain(item: object) -> bool:
    if isinstance(item, (list, tuple)):
        return all(_is_plain(entry) for entry in item)
    return item is None or isinstance(item, (bool, int, float, str))


def _plain(value: object) -> object:
    """A TOML/JSON-able value: components of your own are described by class and attributes."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return describe_object(value)  # a component of your own (switching rule, impact model, kernel)


def check_belief_table(beliefs: object) -> None:
    """The [beliefs] table names only tables and keys a strategy may believe differently."""
    if not isinstance(beliefs, dict):
        raise ParameterError(f"[beliefs] must be a table, got {beliefs!r}")
    for name, table in beliefs.items():
        if name not in BELIEF_FIELDS:
            raise ParameterError(f"unknown table [beliefs.{name}]; allowed: "
                                 f"{sorted(BELIEF_FIELDS)}")
        if not isinstance(table, dict):
            raise ParameterError(f"[beliefs.{name}] must be a table")
        bad = set(table) - set(BELIEF_FIELDS[name])
        if bad:
            raise ParameterError(f"[beliefs.{name}] cannot hold {sorted(bad)}: a strategy may "
                                 f"believe differently only about {list(BELIEF_FIELDS[name])}")


def _table(given: object, name: str) -> dict:
    if not isinstance(given, dict):
        raise ParameterError(f"[{name}] must be a table")
    return given


def _section(kind: type, current: object, given: dict, name: str) -> object:
    allowed = [f.name for f in dataclasses.fields(kind)]
    bad = set(given) - set(allowed)
    if bad:
        raise ParameterError(f"unknown key(s) {sorted(bad)} in [{name}]; "
                             f"allowed: {sorted(allowed)}")
    values = {f: getattr(current, f) for f in allowed}
    values.update(given)
    try:
        return kind(**values)
    except ParameterError as error:
        raise ParameterError(f"[{name}] {error}") from None


def _strategy(current: StrategyParameters, given: dict) -> StrategyParameters:
    """The [strategy] table: a new name starts from no options; the same name keeps them."""
    name = given.get("name", current.name)
    options = {} if name != current.name else dict(current.options)
    options.update({key: value for key, value in given.items() if key != "name"})
    try:
        return StrategyParameters(name, options)
    except ParameterError as error:
        raise ParameterError(f"[strategy] {error}") from None


def _beliefs(current: dict, given: dict) -> dict:
    check_belief_table(given)
    merged = {name: dict(table) for name, table in current.items()}
    for name, table in given.items():
        merged.setdefault(name, {}).update(table)
    return {name: table for name, table in merged.items() if table}


ALL_TABLES = [*SECTIONS, "strategy", "beliefs", "simulation"]


def build_config(base: SimulationConfig, tables: dict, source: str) -> SimulationConfig:
    """`base` with the tables of a parsed TOML document (or overrides) applied and validated.

    source names the file in error messages ("" for overrides given in code or by flags).
    """
    prefix = f"{source}: " if source else ""
    try:
        unknown = set(tables) - set(ALL_TABLES)
        if unknown:
            raise ParameterError(f"unknown table(s) {sorted(unknown)}; allowed: {ALL_TABLES}")
        values = {name: _section(kind, getattr(base, name), _table(tables.get(name, {}), name),
                                 name) for name, kind in SECTIONS.items()}
        values["strategy"] = _strategy(base.strategy, _table(tables.get("strategy", {}),
                                                             "strategy"))
        values["beliefs"] = _beliefs(base.beliefs, _table(tables.get("beliefs", {}), "beliefs"))
        run = _table(tables.get("simulation", {}), "simulation")
        bad = set(run) - {"episodes", "seed"}
        if bad:
            raise ParameterError(f"unknown key(s) {sorted(bad)} in [simulation]; "
                                 "allowed: ['episodes', 'seed']")
        return SimulationConfig(**values, episodes=run.get("episodes", base.episodes),
                                seed=run.get("seed", base.seed))
    except ParameterError as error:
        raise ParameterError(f"{prefix}{error}") from None


def read_toml(path: str | Path, what: str = "configuration file") -> dict:
    """A parsed TOML document, or a clear error for a missing or malformed file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ParameterError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ParameterError(f"{what} {str(path)!r} is a directory, not a TOML file") from None
    except OSError as error:
        raise ParameterError(f"{what} {str(path)!r} cannot be read: "
                             f"{error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{what} {str(path)!r} is not a text file (not UTF-8): "
                             "a TOML file is expected") from None
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{path}: not valid TOML: {error}") from None


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise ParameterError(f"cannot write {value!r} to TOML")


def config_toml(config: SimulationConfig) -> str:
    """The configuration as a TOML file that `load_config` reads back to an equal one
    (components of your own are written by name only if they were given by name)."""
    lines = []
    for name, table in config.to_dict().items():
        scalars = {key: value for key, value in table.items()
                   if value is not None and not isinstance(value, dict)}
        lines += [f"[{name}]", *(f"{key} = {_toml_value(value)}"
                                 for key, value in scalars.items()), ""]
        for key, nested in table.items():
            if isinstance(nested, dict) and nested:
                lines += [f"[{name}.{key}]", *(f"{inner} = {_toml_value(value)}"
                                               for inner, value in nested.items()), ""]
    return "\n".join(lines)


def load_config(path: str | Path, base: SimulationConfig | None = None) -> SimulationConfig:
    """Read a TOML configuration file on top of `base` (default: the built-in defaults)."""
    return build_config(base or SimulationConfig(), read_toml(path), source=str(path))


# ---------------------------------------------------------------------------------------------
# Every parameter by its flat name (the command-line flag without dashes): flags, Mesa keywords


def config_parameters() -> list[tuple[str, Declared]]:
    """(table, declared parameter) of every configuration key that has a flag, in order."""
    result = [(name, item) for name, kind in SECTIONS.items() for item in declared_fields(kind)]
    result.append(("strategy", STRATEGY_NAME))
    result += [("strategy", item) for item in strategy_options()]
    result += [("simulation", item) for item in declared_fields(SimulationConfig)]
    return result


def flat_name(item: Declared) -> str:
    """The keyword of a parameter: its flag without the dashes ('--self-alpha' -> self_alpha)."""
    return item.flag[2:].replace("-", "_")


def tables_from_flat(values: dict) -> dict:
    """{flat name: value} -> {table: {key: value}} (unknown names are a clear error)."""
    where = {flat_name(item): (table, item.name) for table, item in config_parameters()}
    tables: dict[str, dict] = {}
    for key, value in values.items():
        if key not in where:
            raise ParameterError(f"unknown parameter {key!r}; known: {sorted(where)}")
        table, name = where[key]
        tables.setdefault(table, {})[name] = value
    return tables


def config_from_keywords(base: SimulationConfig | None = None,
                         **values: object) -> SimulationConfig:
    """A configuration from flat keywords, e.g. config_from_keywords(coupling=0.01, agents=50,
    strategy="extended", forecast="model", seed=3) (the names of the command-line flags)."""
    return build_config(base or SimulationConfig(), tables_from_flat(values), source="")
