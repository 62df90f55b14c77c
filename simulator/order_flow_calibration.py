"""Calibrating the order-flow market (MODEL §6) to bars, and its reduced form to episodes.

(a) Simulated method of moments (`acsim.simulator.method_of_moments`) of order-flow and
switching parameters to intraday bars. Time unit = one bar (τ = 1); the market's ε, η and γ
come from the bars by the Almgren-Chriss rules of thumb (`market_data.calibrate`). The data are
returns inside sessions; the model is a market-only run cut into sessions of the same length
(no statistic crosses a session's end in either). Moments, `MOMENT_NAMES`:

    std               standard deviation of 1-bar returns (price units)
    kurtosis          excess kurtosis of 1-bar returns
    kurtosis_6        excess kurtosis of 6-bar sums (30 minutes of 5-minute bars)
    acf_1             ACF(r) at lag 1 (mean reversion undoes noise: negative)
    acf_2_5           mean ACF(r) over lags 2..5 (trend following: positive)
    abs_acf_1_5       mean ACF(|r|) over lags 1..5 (short-range volatility clustering)
    abs_acf_6_20      mean ACF(|r|) over lags 6..20 (its persistence)
    mean_abs_ratio    E|r - r̄| / std (√(2/π) ≈ 0.80 for a Gaussian; lower: fat tails)

Common random numbers: every candidate's S simulations use the same S seed sequences, turned
into the market's root seed. The smooth parameters (σ, ν, ψ, ...: the moments move
continuously with them at fixed draws) are fitted by SMM with sandwich standard errors. The
switching rates are not: a Kirman micro-update compares its uniform with a and a + b, so at
fixed draws the moments jump as a rate crosses a draw, and a finite-difference derivative in a
rate is noise. They are searched on a grid (`fit_order_flow`), and each gets the range of grid
values whose profile criterion lies within χ²₁(95%) of the minimum (the distance test of
Newey-West 1987 with the optimal weighting). Returns of bars are divided by their time of day's
typical size first (`deseasonalise`): the market has no clock.

(b) The paper's reduced form fitted by least squares to simulated order-flow episodes in which
an order is worked: with D_k = S_k - S_{k-1} and the count field f_k = α0·(2m_k - M)/M that the
executing agent sees,

    D_k = α·τ + coupling·f_k·τ - side·self_alpha·x_k·τ - side·γ_eff·n_k + e_k,

the §2 market with drift α, coupling, self-alpha and an effective permanent impact γ_eff. The
orders are worked on random schedules (x_k = X·(1 - (k/N)^p), p log-uniform in [1/3, 3], per
episode) so that holdings and trades vary apart. Standard errors are clustered by episode
(episodes are independent, steps within one are not); R² is the share of Var(D) explained.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from acsim.simulator.config import SimulationConfig
from acsim.simulator.market_data import Calibration
from acsim.simulator.market_run import simulate_market
from acsim.simulator.method_of_moments import Parameter, SmmResult, estimate, moment_covariance
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.stylized_facts import (
    SegmentedReturns,
    acf_values,
    default_block_length,
    excess_kurtosis,
)
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import ensemble, order_flow, validation
from acsim.strategies.errors import ParameterError

MOMENT_NAMES = ("std", "kurtosis", "kurtosis_6", "acf_1", "acf_2_5", "abs_acf_1_5",
                "abs_acf_6_20", "mean_abs_ratio")
TABLES = ("market", "ensemble", "order_flow")
BURN_IN = 200  # market steps dropped before the first simulated session
LONGEST_LAG = 20  # the longest ACF lag of the moments
Z95 = 1.959963984540054


def return_moments(returns: SegmentedReturns) -> np.ndarray:
    """The eight `MOMENT_NAMES` moments, computed inside segments only."""
    values = returns.values
    centred = values - values.mean()
    std = float(np.sqrt(np.mean(centred**2)))
    acf = acf_values(returns, LONGEST_LAG)
    absolute = acf_values(returns, LONGEST_LAG, absolute=True)
    if acf.size < LONGEST_LAG:
        raise ParameterError(f"the moments need segments of more than {LONGEST_LAG} returns")
    return np.array([std, excess_kurtosis(values), excess_kurtosis(returns.aggregate(6).values),
                     acf[0], acf[1:5].mean(), absolute[:5].mean(), absolute[5:20].mean(),
                     np.mean(np.abs(centred)) / std])


def bar_market(calibration: Calibration, base: SimulationConfig) -> SimulationConfig:
    """`base` as an order-flow market in bar units (τ = 1) with the bars' price, σ, ε, η, γ;
    its momentum and reversion sizes rescaled to the bars' γ and σ (the same dimensionless
    γ·φ/σ and γ·ψ/σ as `base`), so its other order-flow settings keep their meaning."""
    market = base.market
    scale = (market.permanent_impact / market.volatility) / (
        calibration.permanent_impact / calibration.volatility)
    flow = base.order_flow
    return base.replace(
        market={"feedback": order_flow.ORDER_FLOW, "price": calibration.price,
                "volatility": calibration.volatility, "half_spread": calibration.half_spread,
                "temporary_impact": calibration.temporary_impact,
                "permanent_impact": calibration.permanent_impact,
                "horizon": float(market.steps)},
        order_flow={"momentum_size": flow.momentum_size * scale,
                    "reversion_size": flow.reversion_size * scale})


def with_values(config: SimulationConfig, names: Sequence[str],
                values: Sequence[float]) -> SimulationConfig:
    """`config` with parameters given as "table.key" names set to `values`."""
    tables: dict[str, dict] = {}
    for name, value in zip(names, values):
        table, _, key = name.partition(".")
        if table not in TABLES or not key:
            raise ParameterError(f"a calibrated parameter is named table.key with table in "
                                 f"{TABLES}, got {name!r}")
        tables.setdefault(table, {})[key] = float(value)
    return config.replace(**tables)


@dataclass(frozen=True)
class MarketMoments:
    """simulate(θ, seed_sequence) for SMM: the moments of `sessions` sessions of
    `session_length` bars of the order-flow market `base` with the parameters `names` = θ."""

    base: SimulationConfig
    names: tuple[str, ...]
    sessions: int
    session_length: int

    def returns(self, values: Sequence[float], sequence: np.random.SeedSequence
                ) -> SegmentedReturns:
        seed = int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))
        config = with_values(self.base, self.names, values).replace(
            simulation={"seed": seed})
        steps = self.sessions * self.session_length
        prices = simulate_market(config, BURN_IN + steps).prices[BURN_IN:]
        returns = np.diff(prices)
        return SegmentedReturns(returns, np.full(self.sessions, self.session_length))

    def __call__(self, values: np.ndarray, sequence: np.random.SeedSequence) -> np.ndarray:
        return return_moments(self.returns(values, sequence))


def deseasonalise(returns: SegmentedReturns, window: int = 5) -> SegmentedReturns:
    """Returns of equal-length sessions divided by their time of day's typical size.

    Slot j's scale is the mean |r| of bar j over the sessions, smoothed by a centred moving
    average of `window` slots (mirrored at the session's ends); each return is multiplied by
    (mean |r| overall)/(its slot's scale), so the units and the overall size stay. The
    order-flow market has no clock: the intraday U-shape of volatility would otherwise be read
    as clustering and fat tails.
    """
    length = _session_length(returns)
    window = validation.integer("window", window, 1)
    values = returns.values.reshape(-1, length)
    slots = np.abs(values).mean(axis=0)
    half = window // 2
    padded = np.concatenate([slots[1:half + 1][::-1], slots, slots[-half - 1:-1][::-1]])
    smooth = np.convolve(padded, np.ones(window) / window, mode="valid")
    if np.any(smooth <= 0.0):
        raise ParameterError("a time of day has only zero returns: cannot deseasonalise")
    scale = np.abs(values).mean() / smooth
    return SegmentedReturns((values * scale[None, :]).ravel(), returns.lengths)


def _session_length(returns: SegmentedReturns) -> int:
    lengths = np.unique(returns.lengths)
    if lengths.size != 1:
        raise ParameterError(f"every session must have the same number of returns, got "
                             f"{sorted(lengths.tolist())}; keep full sessions only")
    return int(lengths[0])


@dataclass(frozen=True)
class OrderFlowFit:
    """An order-flow calibration: SMM of the smooth parameters at the best point of a grid
    of switching parameters.

    result: the SMM estimate at the best grid point (sandwich standard errors, J-test).
    switching: the best grid values by name.
    profile: one row per grid point: its values, the criterion Q and the smooth estimates.
    intervals: per switching parameter, its estimate and the range of grid values whose
        profile criterion lies within χ²₁(95%) = 3.84 of the minimum (at_edge: the range
        reaches the grid's end, so the interval may be wider).
    config: the calibrated market.
    """

    result: SmmResult
    switching: dict
    profile: pd.DataFrame
    intervals: pd.DataFrame
    config: SimulationConfig

    def parameters(self) -> pd.DataFrame:
        """Every calibrated parameter: estimate, standard error (smooth ones), 95% interval."""
        smooth = self.result.parameters[["name", "estimate", "standard_error", "ci_low",
                                         "ci_high"]].assign(method="SMM, sandwich")
        grid = self.intervals[["name", "estimate", "ci_low", "ci_high"]].assign(
            standard_error=np.nan, method="grid, profile criterion")
        return pd.concat([smooth, grid[smooth.columns]], ignore_index=True)


CHI2_95 = 3.841458820694124  # χ²₁ 95% quantile


def fit_order_flow(returns: SegmentedReturns, base: SimulationConfig,
                   parameters: Sequence[Parameter], grid: dict[str, Sequence[float]], *,
                   simulations: int = 8, length_ratio: int = 4, seed: int = 0,
                   replicates: int = 500, weighting: str = "optimal",
                   difference_step: float = 0.02, restarts: int = 1) -> OrderFlowFit:
    """Calibrate the order-flow market `base` to returns in sessions of one length.

    parameters: the smooth parameters ("table.key", e.g. market.volatility,
        order_flow.momentum_noise, order_flow.reversion_size), fitted by SMM at every point of
    grid: the switching parameters ({"ensemble.herding": (0.25, 0.5, 0.9), ...}), whose
        moments jump as the count chain's draws cross their thresholds, so they are searched
        on a grid (a derivative there is noise) and get profile intervals.
    Each simulation has length_ratio times the data's sessions; Ω̂ is the block bootstrap of
    the data's moments (blocks inside sessions, longer than the moments' lags); every grid
    point uses the same Ω̂, weighting and simulation seeds (common random numbers).
    """
    if not base.order_flow_market:
        raise ParameterError("the calibrated market must be the order-flow market")
    length = _session_length(returns)
    validation.integer("length_ratio", length_ratio, 1)
    if not grid:
        raise ParameterError("grid must name at least one switching parameter")
    # blocks long enough for the ACF moments' lags (a block becomes a segment of its own)
    block_length = max(default_block_length(returns.size), 2 * LONGEST_LAG + 1)
    observed, covariance = moment_covariance(returns, return_moments, replicates=replicates,
                                             seed=seed, block_length=block_length)
    names = list(grid)
    points = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    rows, best = [], None
    current = list(parameters)
    for point in points:
        model = MarketMoments(with_values(base, names, point.values()),
                              tuple(item.name for item in parameters),
                              returns.lengths.size * length_ratio, length)
        result = estimate(model, current, observed, covariance, MOMENT_NAMES,
                          simulations=simulations,
                          seed=np.random.SeedSequence(seed, spawn_key=(1,)),
                          length_ratio=float(length_ratio), weighting=weighting,
                          difference_step=difference_step, restarts=restarts)
        rows.append({**point, "criterion": result.criterion, **result.estimates})
        if best is None or result.criterion < best[1].criterion:
            best = (point, result)
            current = [replace(item, start=result.estimates[item.name]) for item in parameters]
    point, result = best
    profile = pd.DataFrame(rows)
    intervals = []
    for name in names:
        lowest = profile.groupby(name)["criterion"].min()
        inside = lowest.index[lowest <= result.criterion + CHI2_95]
        values = sorted(grid[name])
        intervals.append({"name": name, "estimate": point[name], "ci_low": float(inside.min()),
                          "ci_high": float(inside.max()),
                          "at_edge": bool(inside.min() == values[0]
                                          or inside.max() == values[-1])})
    config = with_values(with_values(base, names, point.values()),
                         list(result.estimates), list(result.estimates.values()))
    return OrderFlowFit(result, point, profile, pd.DataFrame(intervals), config)


# ---------------------------------------------------------------------------------------------
# (b) The reduced form


REDUCED_FORM = ("drift", "coupling", "self_alpha", "permanent_impact")


class RandomSchedules:
    """A policy working each episode on its own schedule x_k = X·(1 - (k/N)^p), p drawn
    log-uniformly in [1/3, 3] per episode from `seed` (so holdings and trades vary apart)."""

    uses_field = False

    def __init__(self, seed: int, block: int) -> None:
        self.seed, self.block = seed, block

    def start(self, beliefs) -> None:
        self.market = beliefs.market

    def schedules(self, episodes: int) -> np.ndarray:
        generator = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(self.seed, spawn_key=(self.block,))))
        powers = np.exp(generator.uniform(np.log(1 / 3), np.log(3.0), episodes))
        steps = self.market.steps
        fraction = np.arange(steps + 1) / steps
        return self.market.shares * (1.0 - fraction[None, :] ** powers[:, None])

    def trades(self, observation) -> np.ndarray:
        if observation.step == 1:
            self.holdings = self.schedules(observation.holdings.shape[0])
        k = observation.step
        return self.holdings[:, k - 1] - self.holdings[:, k]


@dataclass(frozen=True)
class ReducedForm:
    """The fitted reduced form: estimates with clustered standard errors and 95% intervals
    (table), R², residual volatility σ̂ (price units per √time), episodes and steps used."""

    table: pd.DataFrame
    r_squared: float
    volatility: float
    episodes: int
    observations: int

    @property
    def estimates(self) -> dict[str, float]:
        return dict(zip(self.table["name"], self.table["estimate"]))

    def beliefs(self) -> dict:
        """The [beliefs] tables that make a planner believe the reduced form (self-alpha and
        γ_eff cut at 0, the smallest values a planner accepts)."""
        values = self.estimates
        return {"market": {"drift": values["drift"], "volatility": self.volatility,
                           "permanent_impact": max(values["permanent_impact"], 0.0)},
                "extended": {"coupling": values["coupling"],
                             "self_alpha": max(values["self_alpha"], 0.0)}}


def episode_design(config: SimulationConfig, result) -> tuple[np.ndarray, np.ndarray]:
    """(regressors (E·N, 4), price changes (E·N,)) of episodes: columns τ, f_k·τ,
    -side·x_k·τ, -side·n_k."""
    market = config.market
    tau, side = market.step_length, market.side
    counts = result.momentum_counts[:, 1:]
    field = ensemble.field(config.ensemble, counts)
    design = np.stack([np.full(field.shape, tau), field * tau,
                       -side * result.holdings[:, 1:] * tau, -side * result.trades], axis=-1)
    return design.reshape(-1, 4), np.diff(result.prices, axis=1).reshape(-1)


def fit_reduced_form(config: SimulationConfig, episodes: int, seed: int = 0) -> ReducedForm:
    """Least squares of the reduced form on `episodes` order-flow episodes (random schedules;
    episodes of root seed `seed`), standard errors clustered by episode (CR1)."""
    if not config.order_flow_market:
        raise ParameterError("the reduced form is fitted to the order-flow market")
    episodes = validation.integer("episodes", episodes, 2)
    config = config.replace(simulation={"seed": seed})
    designs, changes = [], []
    for block in range((episodes + BLOCK_SIZE - 1) // BLOCK_SIZE):
        count = min(BLOCK_SIZE, episodes - block * BLOCK_SIZE)
        result = simulate_block(config, block, 0, count, policy=RandomSchedules(seed, block))
        design, change = episode_design(config, result)
        designs.append(design)
        changes.append(change)
    design, change = np.concatenate(designs), np.concatenate(changes)
    steps = config.market.steps
    return _least_squares(design, change, episodes, steps, config.market.step_length)


def _least_squares(design: np.ndarray, change: np.ndarray, episodes: int, steps: int,
                   step_length: float) -> ReducedForm:
    gram = np.einsum("ni,nj->ij", design, design)
    scale = np.sqrt(np.diag(gram))
    if np.any(scale == 0.0) or np.linalg.cond(gram / np.outer(scale, scale)) > 1e12:
        raise ParameterError("the reduced form's regressors are collinear (no field "
                             "variation, or holdings and trades move together)")
    estimate_ = np.linalg.solve(gram, np.einsum("ni,n->i", design, change))
    residual = change - np.einsum("ni,i->n", design, estimate_)
    scores = (design * residual[:, None]).reshape(episodes, steps, -1).sum(axis=1)
    meat = np.einsum("ei,ej->ij", scores, scores)
    count, size = design.shape
    correction = episodes / (episodes - 1) * (count - 1) / (count - size)
    inverse = np.linalg.inv(gram)
    covariance = correction * inverse @ meat @ inverse
    errors = np.sqrt(np.diag(covariance))
    centred = change - change.mean()
    r_squared = 1.0 - float(residual @ residual) / float(centred @ centred)
    table = pd.DataFrame({"name": REDUCED_FORM, "estimate": estimate_, "standard_error": errors,
                          "ci_low": estimate_ - Z95 * errors, "ci_high": estimate_ + Z95 * errors})
    volatility = float(np.sqrt(np.mean(residual**2) / step_length))
    return ReducedForm(table, r_squared, volatility, episodes, count)
