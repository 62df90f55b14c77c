"""Validated simulation parameters, loadable from TOML.

A configuration file has up to five tables, each optional; unknown tables or keys and
out-of-range values are rejected with the offending name:

    [market]      # ExecutionProblem: shares, horizon, steps, price, volatility,
                  # half_spread, temporary_impact, permanent_impact, risk_aversion,
                  # drift, side ("sell" or "buy")
    [extended]    # coupling, self_alpha (the market's true feedback terms)
    [ensemble]    # agents, field_scale, switching, switch_to_momentum,
                  # switch_to_mean_reversion, herding, step_probability, initial
    [strategy]    # name, forecast, no_buyback, volume_profile
    [simulation]  # episodes, seed

The defaults are the paper's synthetic setting (1,000 shares, 20 steps, 100 ensemble
agents, field scale 5) with market parameters of a plausible magnitude: price 100,
σ = 0.1 per √step, η = 0.002, γ = 1e-4, ε = 0.01, λ = 0.002 (κT ≈ 2).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from acsim.strategies import validation
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters

STRATEGIES = ("twap", "vwap", "ac-static", "ac-adaptive", "extended")
FORECASTS = ("persistent", "model", "none")

DEFAULT_MARKET = ExecutionProblem(
    shares=1000.0, horizon=20.0, steps=20, price=100.0, volatility=0.1, half_spread=0.01,
    temporary_impact=0.002, permanent_impact=1e-4, risk_aversion=0.002, drift=0.0,
)


@dataclass(frozen=True)
class StrategyParameters:
    """The executing agent's strategy.

    name: twap, vwap, ac-static (planned once), ac-adaptive (re-solved every step,
        ignores the field and self-alpha) or extended (re-solved every step).
    forecast: the extended strategy's field forecast: persistent, model or none.
    no_buyback: forbid trades against the order (adaptive strategies).
    volume_profile: N non-negative weights, required by vwap.
    """

    name: str = "extended"
    forecast: str = "persistent"
    no_buyback: bool = False
    volume_profile: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        validation.one_of("strategy name", self.name, STRATEGIES)
        validation.one_of("forecast", self.forecast, FORECASTS)
        if not isinstance(self.no_buyback, bool):
            raise ParameterError(f"no_buyback must be true or false, got {self.no_buyback!r}")
        if self.no_buyback and self.name not in ("ac-adaptive", "extended"):
            raise ParameterError("no_buyback applies to the adaptive strategies "
                                 f"(ac-adaptive, extended), not to {self.name!r}")
        if self.forecast != "persistent" and self.name != "extended":
            raise ParameterError(f"forecast applies to the extended strategy only, not to "
                                 f"{self.name!r}")
        if self.volume_profile is not None:
            if self.name != "vwap":
                raise ParameterError(f"volume_profile applies to vwap only, not to {self.name!r}")
            profile = validation.finite_vector("volume_profile", self.volume_profile)
            object.__setattr__(self, "volume_profile", tuple(float(v) for v in profile))
        elif self.name == "vwap":
            raise ParameterError("strategy vwap needs a volume_profile (N weights)")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything one study needs: market, feedback terms, ensemble, strategy, run size."""

    market: ExecutionProblem = DEFAULT_MARKET
    extended: ExtendedParameters = field(default_factory=ExtendedParameters)
    ensemble: EnsembleParameters = field(default_factory=EnsembleParameters)
    strategy: StrategyParameters = field(default_factory=StrategyParameters)
    episodes: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "episodes", validation.integer("episodes", self.episodes, 1))
        object.__setattr__(self, "seed", validation.integer("seed", self.seed, 0))
        profile = self.strategy.volume_profile
        if profile is not None and len(profile) != self.market.steps:
            raise ParameterError(f"volume_profile must have steps = {self.market.steps} values, "
                                 f"got {len(profile)}")

    def replace(self, **sections: dict) -> "SimulationConfig":
        """A copy with fields of some sections replaced, e.g. replace(market={"steps": 30})."""
        return build_config(self, sections, source="")

    def to_dict(self) -> dict:
        """A plain dictionary in the TOML layout (for manifests and reports)."""
        return {
            "market": dataclasses.asdict(self.market),
            "extended": dataclasses.asdict(self.extended),
            "ensemble": dataclasses.asdict(self.ensemble),
            "strategy": dataclasses.asdict(self.strategy),
            "simulation": {"episodes": self.episodes, "seed": self.seed},
        }


SECTIONS = {
    "market": ExecutionProblem,
    "extended": ExtendedParameters,
    "ensemble": EnsembleParameters,
    "strategy": StrategyParameters,
}


def build_config(base: SimulationConfig, sections: dict, source: str) -> SimulationConfig:
    """`base` with the tables of a parsed TOML document (or overrides) applied and validated.

    source names the file in error messages ("" for overrides given in code or by flags).
    """
    prefix = f"{source}: " if source else ""
    unknown = set(sections) - set(SECTIONS) - {"simulation"}
    if unknown:
        raise ParameterError(f"{prefix}unknown section(s) {sorted(unknown)}; allowed: "
                             f"{sorted(SECTIONS) + ['simulation']}")
    values = {}
    for name, kind in SECTIONS.items():
        current = getattr(base, name)
        given = sections.get(name, {})
        if not isinstance(given, dict):
            raise ParameterError(f"{prefix}[{name}] must be a table")
        allowed = {f.name for f in dataclasses.fields(kind)}
        bad = set(given) - allowed
        if bad:
            raise ParameterError(f"{prefix}unknown key(s) {sorted(bad)} in [{name}]; "
                                 f"allowed: {sorted(allowed)}")
        merged = {f: getattr(current, f) for f in allowed}
        merged.update(given)
        if name == "strategy" and isinstance(merged.get("volume_profile"), list):
            merged["volume_profile"] = tuple(merged["volume_profile"])
        if name == "strategy" and "name" in given and "volume_profile" not in given \
                and given["name"] != "vwap":
            merged["volume_profile"] = None  # a profile belongs to the vwap it came with
        if name == "strategy" and "name" in given and "forecast" not in given \
                and given["name"] != "extended":
            merged["forecast"] = "persistent"
        try:
            values[name] = kind(**merged)
        except ParameterError as error:
            raise ParameterError(f"{prefix}[{name}] {error}") from None
    run = sections.get("simulation", {})
    bad = set(run) - {"episodes", "seed"}
    if bad:
        raise ParameterError(f"{prefix}unknown key(s) {sorted(bad)} in [simulation]; "
                             "allowed: ['episodes', 'seed']")
    try:
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
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{path}: not valid TOML: {error}") from None


def load_config(path: str | Path, base: SimulationConfig | None = None) -> SimulationConfig:
    """Read a TOML configuration file on top of `base` (default: the built-in defaults)."""
    return build_config(base or SimulationConfig(), read_toml(path), source=str(path))
