"""Volatility regimes (MODEL.md §8) and the regime-aware planner (Almgren 2012).

The volatility σ_s follows a Markov chain over regimes s = 0..R-1 with a per-step transition
matrix P (P[s, s'] = probability of regime s' in step k+1 given s in step k). The executing agent
sees the regime s_k of step k before trading n_k; step k's price shock, and so its risk term on
x_k, use σ_{s_k}.

The regime-aware planner minimises, over adaptive trading rules, in sell-equivalent units

    E[ Σ_k (η̃/τ)·n_k² + q_{s_k}·τ·x_k² - τ·a_k·x_k ],   q_s = λσ_s² + self_alpha,

(plus the constants ½γx_0² + ε·x_0 of a schedule that never buys back, left out), with a
deterministic planning drift a_k. By dynamic programming, with m steps remaining (the current
one included) in regime s the optimal cost-to-go is quadratic in the holdings x before the trade,

    W_m(x, s) = A_m(s)·x² - B_m(s)·x + C_m(s),   W_1(x, s) = (η̃/τ)·x²  (sell everything),

and with c = η̃/τ, Ā(s) = Σ_s' P[s, s']·A_{m-1}(s'), B̄ and C̄ likewise, D_m(s) = c + q_s·τ + Ā(s),
the optimal holdings after the trade are y = (2c·x + τa_1 + B̄(s))/(2·D_m(s)), and

    A_m(s) = c·(q_s·τ + Ā(s))/D_m(s),   B_m(s) = c·(τa_1 + B̄(s))/D_m(s),
    C_m(s) = C̄(s) - (τa_1 + B̄(s))²/(4·D_m(s))

(a_1 is the drift of the current step; B_{m-1} uses a_2..a_m). A does not depend on the drift,
and B is linear in it, so the first trade n = x - y is linear in (x, a) with gains per remaining
length and regime, precomputed here:

    first trade = holding_gain[m, s]·x + Σ_k drift_gain[m, s, k]·a_k,   k = 1..m.

With one regime (or identical regimes) this is exact discrete Almgren-Chriss.

`RegimeParameters` is the [regimes] table of a configuration (declared parameters); its
`paths(uniforms)` turns one uniform per step into regime paths by the inverse CDF of the chain:
s_1 from the initial law (a given regime, or the stationary law), then s_k from row s_{k-1} of P.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acsim.strategies import validation
from acsim.strategies.declarations import (
    NUMBERS,
    Allowed,
    check_parameters,
    choice,
    count_or_choice,
    parameter,
)
from acsim.strategies.errors import ParameterError


@dataclass(frozen=True)
class VolatilityRegimes:
    """Regime volatilities and their per-step Markov chain.

    volatilities: σ_s >= 0 for each regime, price units per √time.
    transition: R×R per-step transition matrix, entries in [0, 1], rows summing to 1 (to 1e-12).
    """

    volatilities: tuple[float, ...]
    transition: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        volatilities = validation.finite_vector("volatilities", self.volatilities)
        if volatilities.shape[0] < 1 or np.any(volatilities < 0.0):
            raise ParameterError("volatilities must be one or more numbers >= 0, got "
                                 f"{self.volatilities!r}")
        count = volatilities.shape[0]
        try:
            matrix = np.asarray(self.transition, dtype=float)
        except (TypeError, ValueError) as error:
            raise ParameterError(f"transition must be a matrix of numbers: {error}") from None
        if matrix.shape != (count, count):
            raise ParameterError(f"transition must be {count}×{count} (one row and column per "
                                 f"regime), got shape {matrix.shape}")
        if not np.all(np.isfinite(matrix)) or np.any(matrix < 0.0) or np.any(matrix > 1.0):
            raise ParameterError("transition entries must be probabilities in [0, 1]")
        if np.any(np.abs(matrix.sum(axis=1) - 1.0) > 1e-12):
            sums = ", ".join(f"{value:.15g}" for value in matrix.sum(axis=1))
            raise ParameterError(f"transition rows must sum to 1, got row sums {sums}")
        object.__setattr__(self, "volatilities", tuple(float(value) for value in volatilities))
        object.__setattr__(self, "transition",
                           tuple(tuple(float(value) for value in row) for row in matrix))

    @property
    def count(self) -> int:
        """R, the number of regimes."""
        return len(self.volatilities)

    @property
    def transition_matrix(self) -> np.ndarray:
        return np.array(self.transition)

    def stationary_law(self) -> np.ndarray:
        """π with π·P = π, Σπ = 1, by the Grassmann-Taksar-Heyman elimination (subtraction-
        free, so accurate even for rare switches). Requires one recurrent class reachable from
        every regime through the eliminated states; else ParameterError."""
        matrix = self.transition_matrix
        size = self.count
        for last in range(size - 1, 0, -1):
            outflow = matrix[last, :last].sum()
            if outflow <= 0.0:
                raise ParameterError(
                    f"transition: regime {last} never leaves to regimes 0..{last - 1}; the "
                    "chain has no unique stationary law that this elimination can find "
                    "(make it irreducible)")
            matrix[:last, last] /= outflow
            matrix[:last, :last] += np.outer(matrix[:last, last], matrix[last, :last])
        law = np.zeros(size)
        law[0] = 1.0
        for state in range(1, size):
            law[state] = np.sum(law[:state] * matrix[:state, state])
        return law / law.sum()


class RegimePlanner:
    """Exact regime-aware planner (dynamic programming) for every remaining length.

    step_length: τ > 0. effective_temporary_impact: η̃ > 0. risk_aversion: λ >= 0.
    self_alpha: >= 0 (adds to every regime's urgency). steps: N >= 1, the longest horizon.
    Attributes (index [m, s] or [m, s, k-1]; m = remaining steps, s = regime):
      quadratic[m, s] = A_m(s); holding_gain[m, s]; drift_gain[m, s, :m];
      linear_gain[m, s, :m] with B_m(s) = Σ_k linear_gain[m, s, k]·a_k.
    """

    def __init__(self, regimes: VolatilityRegimes, step_length: float,
                 effective_temporary_impact: float, risk_aversion: float, self_alpha: float,
                 steps: int) -> None:
        tau = validation.positive("step_length", step_length)
        impact = validation.positive("effective_temporary_impact", effective_temporary_impact)
        risk = validation.non_negative("risk_aversion", risk_aversion)
        self_alpha = validation.non_negative("self_alpha", self_alpha)
        self.steps = validation.integer("steps", steps, 1)
        self.regimes = regimes
        self.step_length = tau
        self.impact_rate = impact / tau  # c = η̃/τ
        self.transition = regimes.transition_matrix
        self.urgency = risk * np.asarray(regimes.volatilities) ** 2 + self_alpha  # q_s
        count = regimes.count
        self.quadratic = np.zeros((self.steps + 1, count))
        self.denominator = np.ones((self.steps + 1, count))  # D_m(s) (1 at m = 1: unused)
        self.linear_gain = np.zeros((self.steps + 1, count, self.steps))
        self.holding_gain = np.zeros((self.steps + 1, count))
        self.drift_gain = np.zeros((self.steps + 1, count, self.steps))
        c = self.impact_rate
        self.quadratic[1] = c
        self.holding_gain[1] = 1.0
        for m in range(2, self.steps + 1):
            expected_quadratic = self._expected(self.quadratic[m - 1])
            expected_linear = self._expected(self.linear_gain[m - 1].T).T  # B̄ on a_2..a_m
            denominator = c + self.urgency * tau + expected_quadratic
            self.denominator[m] = denominator
            self.quadratic[m] = c * (self.urgency * tau + expected_quadratic) / denominator
            # τa_1 + B̄(s) = Σ_k coefficient[s, k]·a_k
            coefficient = np.zeros((count, m))
            coefficient[:, 0] = tau
            coefficient[:, 1:] = expected_linear[:, : m - 1]
            self.linear_gain[m, :, :m] = c * coefficient / denominator[:, None]
            self.holding_gain[m] = 1.0 - c / denominator
            self.drift_gain[m, :, :m] = -0.5 * coefficient / denominator[:, None]

    def first_trade(self, holdings: np.ndarray, regime: np.ndarray,
                    drift: np.ndarray) -> np.ndarray:
        """Optimal trade now for episodes in different regimes: holdings (E,), regime (E,)
        integers in 0..R-1 (the regime of the current step), drift (E, m) or (m,) with m the
        remaining steps. Elementwise products and sums (no BLAS)."""
        drift = np.asarray(drift, dtype=float)
        remaining = validation.remaining_steps(drift, self.steps)
        regime = self._regime(regime)
        return (np.asarray(holdings, dtype=float) * self.holding_gain[remaining, regime]
                + np.sum(drift * self.drift_gain[remaining, regime, :remaining], axis=-1))

    def cost_to_go(self, holdings: np.ndarray, regime: np.ndarray,
                   drift: np.ndarray) -> np.ndarray:
        """W_m(x, s): the optimal expected objective from holdings x in regime s with the drift
        a_1..a_m (batched as in first_trade), the constants ½γx² + εx excluded."""
        drift = np.asarray(drift, dtype=float)
        remaining = validation.remaining_steps(drift, self.steps)
        regime = self._regime(regime)
        holdings = np.asarray(holdings, dtype=float)
        batch = np.broadcast_shapes(holdings.shape, regime.shape, drift.shape[:-1])
        drift = np.broadcast_to(drift, batch + (remaining,))
        constant = np.zeros(batch + (self.regimes.count,))  # C_1(s) = 0
        for m in range(2, remaining + 1):
            tail = drift[..., remaining - m:]  # a_1..a_m of the m-step problem
            following = np.sum(tail[..., None, 1:] * self.linear_gain[m - 1, :, : m - 1],
                               axis=-1)  # B_{m-1}(s') on a_2..a_m
            pull = self.step_length * tail[..., :1] + self._expected(following)
            constant = self._expected(constant) - pull**2 / (4.0 * self.denominator[m])
        linear = np.sum(drift[..., None, :] * self.linear_gain[remaining, :, :remaining], axis=-1)
        index = np.broadcast_to(regime, batch)[..., None]
        return (self.quadratic[remaining][index[..., 0]] * holdings**2
                - np.take_along_axis(linear, index, axis=-1)[..., 0] * holdings
                + np.take_along_axis(constant, index, axis=-1)[..., 0])

    def _expected(self, values: np.ndarray) -> np.ndarray:
        """Σ_s' P[s, s']·values[..., s'] for every s (regimes on the last axis); elementwise
        products and sums, no BLAS."""
        return np.sum(self.transition * values[..., None, :], axis=-1)

    def _regime(self, regime: np.ndarray) -> np.ndarray:
        regime = np.asarray(regime)
        if not np.issubdtype(regime.dtype, np.integer) or np.any(regime < 0) or np.any(
                regime >= self.regimes.count):
            raise ParameterError(f"regime must be integers in 0..{self.regimes.count - 1}, "
                                 f"got {regime!r}")
        return regime


def _matrix(name: str, value: object) -> tuple[tuple[float, ...], ...] | None:
    """A square matrix as a tuple of rows: from a list of rows (TOML) or from its rows one after
    another (R² numbers, the command line)."""
    if value is None:
        return None
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{name} must be a square matrix of numbers: {error}") from None
    if matrix.ndim == 1:
        size = int(round(np.sqrt(matrix.shape[0])))
        if size * size != matrix.shape[0] or size == 0:
            raise ParameterError(f"{name} given as a flat list needs R² numbers (R rows of R), "
                                 f"got {matrix.shape[0]}")
        matrix = matrix.reshape(size, size)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ParameterError(f"{name} must be a square matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ParameterError(f"{name} must contain only finite numbers")
    return tuple(tuple(float(item) for item in row) for row in matrix)


MATRIX = Allowed("numbers", _matrix, "a square matrix: a list of rows (on the command line, the "
                 "rows one after another, comma separated)",
                 display=lambda value: "none" if value is None else
                 "; ".join(", ".join(f"{item:g}" for item in row) for row in value))
REGIME_MODELS = ("none", "markov")


@dataclass(frozen=True)
class RegimeParameters:
    """Volatility regimes of the market (MODEL.md §8): off unless model = markov."""

    model: str = parameter(
        "none", unit="", allowed=choice(*REGIME_MODELS), flag="--regimes",
        help="none (σ is the market's volatility) or markov: σ follows a Markov chain over "
             "regimes, one state per step, seen by the executing agent")
    volatilities: tuple[float, ...] | None = parameter(
        None, unit="price units per √time unit", allowed=NUMBERS, flag="--regime-volatilities",
        help="σ_s of each regime s = 0..R-1 (model = markov)")
    transition: tuple[tuple[float, ...], ...] | None = parameter(
        None, unit="probability per step", allowed=MATRIX, flag="--regime-transition",
        help="P[s, s']: probability that step k+1 is in regime s' when step k is in s; rows sum "
             "to 1 (model = markov)")
    initial: int | str = parameter(
        "stationary", unit="", allowed=count_or_choice(0, "stationary"), flag="--initial-regime",
        help="the regime of step 1: an index 0..R-1, or stationary (drawn from the chain's "
             "stationary law)")

    def __post_init__(self) -> None:
        check_parameters(self)
        regimes = None
        if self.model == "markov":
            if self.volatilities is None or self.transition is None:
                raise ParameterError("regimes model = markov needs volatilities and transition "
                                     "(--regime-volatilities, --regime-transition)")
            regimes = VolatilityRegimes(self.volatilities, self.transition)
            if self.initial != "stationary" and self.initial >= regimes.count:
                raise ParameterError(f"initial regime must be in 0..{regimes.count - 1} or "
                                     f"stationary, got {self.initial!r}")
        object.__setattr__(self, "_regimes", regimes)

    @property
    def regimes(self) -> VolatilityRegimes | None:
        """The regime chain, or None (model = none)."""
        return self._regimes  # type: ignore[attr-defined]

    def initial_law(self) -> np.ndarray:
        """The law of the first step's regime, shape (R,)."""
        if self.initial == "stationary":
            return self.regimes.stationary_law()
        law = np.zeros(self.regimes.count)
        law[self.initial] = 1.0
        return law

    def paths(self, uniforms: np.ndarray) -> np.ndarray:
        """Regime paths s_1..s_N (E, N) from one uniform per step (E, N): s_1 by the inverse
        CDF of the initial law, s_k by that of row s_{k-1} of P (the number of cumulative
        probabilities the uniform reaches). Comparisons only: the same path for one episode
        or many."""
        uniforms = np.asarray(uniforms, dtype=float)
        initial = np.cumsum(self.initial_law())[:-1]
        rows = np.cumsum(self.regimes.transition_matrix, axis=1)[:, :-1]
        paths = np.empty(uniforms.shape, dtype=np.int64)
        paths[:, 0] = np.sum(uniforms[:, :1] >= initial, axis=1)
        for step in range(1, uniforms.shape[1]):
            paths[:, step] = np.sum(uniforms[:, step, None] >= rows[paths[:, step - 1]], axis=1)
        return paths
