"""The ensemble's count chain (MODEL.md §4): transition law, stationary law, forecasts.

M agents are momentum (MOM) or mean-reversion (MR) traders; m = #MOM and the field is
f = field_scale·(2m - M)/M. Two switching rules:

- "kirman" (Kirman 1993 / Alfarano-Lux-Wagner recruitment): M asynchronous
  micro-updates per step. A uniformly chosen agent switches on its own with
  probability a (a1 for an MR agent, a2 for a MOM agent), or with probability b copies
  another agent chosen uniformly among the other M-1, or keeps its type (the three
  are exclusive, so a_i + b <= 1). Per micro-update:
      p_up(m) = (M-m)/M·(a1 + b·m/(M-1)),   p_down(m) = m/M·(a2 + b·(M-m)/(M-1)),
  and the stationary law is BetaBinomial(M, a1(M-1)/b, a2(M-1)/b) exactly.
- "random-walk" (the paper's rule): once per step the count moves +1 or -1 with
  probability p each; a move out of [0, M] is suppressed. Stationary law: uniform.

Forecasts: the exact conditional mean E[m_{k+s} | m_k]: for Kirman the closed form
m* + ρ^s·(m_k - m*) with ρ = (1 - (a1+a2)/M)^M and m* = M·a1/(a1+a2); for the random walk
from powers of the one-step transition matrix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln
from scipy.stats import binom

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError

SWITCHING_RULES = ("kirman", "random-walk")
INITIAL_COUNTS = ("balanced", "stationary")


@dataclass(frozen=True)
class EnsembleParameters:
    """The ensemble of momentum / mean-reversion traders.

    agents: M >= 2.  field_scale: α0 >= 0 (field in [-α0, α0]).
    switching: "kirman" or "random-walk".
    switch_to_momentum: a1, own switching probability of an MR agent per micro-update.
    switch_to_mean_reversion: a2, the same for a MOM agent.
    herding: b, probability of copying another agent (a_i + b <= 1).
    step_probability: p <= 1/2, the random-walk rule's probability of each ±1 move.
    initial: "balanced" (M // 2), "stationary" (a draw from the stationary law) or an
        integer count in [0, M].
    """

    agents: int = 100
    field_scale: float = 5.0
    switching: str = "kirman"
    switch_to_momentum: float = 0.01
    switch_to_mean_reversion: float = 0.01
    herding: float = 0.5
    step_probability: float = 0.25
    initial: str | int = "balanced"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "agents", validation.integer("agents", self.agents, 2))
        set_(self, "field_scale", validation.non_negative("field_scale", self.field_scale))
        validation.one_of("switching", self.switching, SWITCHING_RULES)
        set_(self, "switch_to_momentum",
             validation.in_range("switch_to_momentum", self.switch_to_momentum, 0.0, 1.0))
        set_(self, "switch_to_mean_reversion",
             validation.in_range("switch_to_mean_reversion", self.switch_to_mean_reversion,
                                 0.0, 1.0))
        set_(self, "herding", validation.in_range("herding", self.herding, 0.0, 1.0))
        set_(self, "step_probability",
             validation.in_range("step_probability", self.step_probability, 0.0, 0.5))
        for name, own in (("switch_to_momentum", self.switch_to_momentum),
                          ("switch_to_mean_reversion", self.switch_to_mean_reversion)):
            if own + self.herding > 1.0:
                raise ParameterError(f"{name} + herding must be <= 1 (exclusive events), "
                                     f"got {own!r} + {self.herding!r}")
        if self.switching == "kirman" and self.switch_to_momentum + self.switch_to_mean_reversion == 0:
            raise ParameterError("switch_to_momentum and switch_to_mean_reversion cannot both be 0 "
                                 "(the count would be absorbed at 0 or M)")
        if isinstance(self.initial, str):
            validation.one_of("initial", self.initial, INITIAL_COUNTS)
        else:
            count = validation.integer("initial", self.initial, 0)
            if count > self.agents:
                raise ParameterError(f"initial count must be in [0, agents = {self.agents}], "
                                     f"got {count}")

    @property
    def partner_scale(self) -> float:
        """(M - 1)/b: maps a copying agent's draw d in [a, a + b) to a partner position
        floor((d - a)·(M - 1)/b) in [0, M - 1) (0 when b = 0: nobody copies)."""
        return (self.agents - 1) / self.herding if self.herding > 0.0 else 0.0

    @property
    def draws_per_step(self) -> int:
        """Uniform draws the ensemble consumes per step (the random-stream protocol)."""
        return self.agents if self.switching == "kirman" else 1


def field(parameters: EnsembleParameters, momentum_count: np.ndarray | int) -> np.ndarray:
    """f = field_scale·(2m - M)/M."""
    m = parameters.agents
    return parameters.field_scale * (2.0 * np.asarray(momentum_count, dtype=float) - m) / m


def micro_update_probabilities(parameters: EnsembleParameters,
                               momentum_count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p_up(m), p_down(m)) of one Kirman micro-update."""
    big_m = parameters.agents
    m = np.asarray(momentum_count, dtype=float)
    b = parameters.herding
    up = (big_m - m) / big_m * (parameters.switch_to_momentum + b * m / (big_m - 1))
    down = m / big_m * (parameters.switch_to_mean_reversion + b * (big_m - m) / (big_m - 1))
    return up, down


def _birth_death_matrix(up: np.ndarray, down: np.ndarray) -> np.ndarray:
    size = up.shape[0]
    matrix = np.diag(1.0 - up - down)
    matrix[np.arange(size - 1), np.arange(1, size)] = up[:-1]
    matrix[np.arange(1, size), np.arange(size - 1)] = down[1:]
    return matrix


def _times_birth_death(matrix: np.ndarray, up: np.ndarray, down: np.ndarray) -> np.ndarray:
    """matrix · B for the birth-death matrix B(up, down), by elementwise operations only.

    Matrix products through BLAS may split work across threads and round differently with
    the thread count; results must not depend on the machine, so the chain's matrices are
    built without them.
    """
    result = matrix * (1.0 - up - down)
    result[:, 1:] += matrix[:, :-1] * up[:-1]
    result[:, :-1] += matrix[:, 1:] * down[1:]
    return result


@functools.lru_cache(maxsize=32)
def step_transition_matrix(parameters: EnsembleParameters) -> np.ndarray:
    """P[i, j] = P(m_{k+1} = j | m_k = i) for one whole step of the rule (read-only, cached)."""
    counts = np.arange(parameters.agents + 1)
    if parameters.switching == "kirman":
        up, down = micro_update_probabilities(parameters, counts)
        matrix = np.eye(parameters.agents + 1)
        for _ in range(parameters.agents):  # M micro-updates
            matrix = _times_birth_death(matrix, up, down)
    else:
        p = parameters.step_probability
        up = np.where(counts < parameters.agents, p, 0.0)
        down = np.where(counts > 0, p, 0.0)
        matrix = _birth_death_matrix(up, down)
    matrix.flags.writeable = False
    return matrix


def stationary_law(parameters: EnsembleParameters) -> np.ndarray:
    """The exact stationary probabilities of m = 0..M."""
    big_m = parameters.agents
    counts = np.arange(big_m + 1)
    if parameters.switching == "random-walk":
        return np.full(big_m + 1, 1.0 / (big_m + 1))
    a1, a2 = parameters.switch_to_momentum, parameters.switch_to_mean_reversion
    if a1 == 0.0 or a2 == 0.0:  # one-way switching: absorbed at 0 (a1 = 0) or at M (a2 = 0)
        law = np.zeros(big_m + 1)
        law[0 if a1 == 0.0 else big_m] = 1.0
        return law
    if parameters.herding == 0.0:  # independent agents: Binomial(M, a1/(a1+a2))
        return binom.pmf(counts, big_m, a1 / (a1 + a2))
    alpha = a1 * (big_m - 1) / parameters.herding
    beta = a2 * (big_m - 1) / parameters.herding
    log_pmf = (gammaln(big_m + 1) - gammaln(counts + 1) - gammaln(big_m - counts + 1)
               + betaln(counts + alpha, big_m - counts + beta) - betaln(alpha, beta))
    return np.exp(log_pmf)


def initial_count(parameters: EnsembleParameters, uniform: np.ndarray) -> np.ndarray:
    """m_0 for each episode from its one initial uniform draw (inverse CDF if stationary)."""
    uniform = np.asarray(uniform, dtype=float)
    if parameters.initial == "balanced":
        return np.full(uniform.shape, parameters.agents // 2, dtype=np.int64)
    if parameters.initial == "stationary":
        cdf = np.cumsum(stationary_law(parameters))
        cdf[-1] = 1.0
        return np.searchsorted(cdf, uniform, side="right").astype(np.int64)
    return np.full(uniform.shape, int(parameters.initial), dtype=np.int64)


@functools.lru_cache(maxsize=32)
def expected_count_table(parameters: EnsembleParameters, horizon: int) -> np.ndarray:
    """table[s, m] = E[m_{k+s} | m_k = m] for s = 0..horizon, exact (read-only, cached).

    Kirman: the closed form m* + ρ^s·(m - m*) (the drift per micro-update is linear in m).
    Random walk: iterated one-step conditional means, E_s = P·E_{s-1} (the suppressed moves
    at 0 and M make the mean non-linear in m).
    """
    counts = np.arange(parameters.agents + 1, dtype=float)
    ahead = np.arange(horizon + 1, dtype=float)
    if parameters.switching == "kirman":
        table = kirman_expected_count(parameters, counts[None, :], ahead[:, None])
    else:
        transition = step_transition_matrix(parameters)
        table = np.empty((horizon + 1, parameters.agents + 1))
        table[0] = counts
        for s in range(1, horizon + 1):
            table[s] = np.sum(transition * table[s - 1], axis=1)  # no BLAS: see _times_birth_death
    table.flags.writeable = False
    return table


def kirman_expected_count(parameters: EnsembleParameters, count: np.ndarray,
                          ahead: np.ndarray) -> np.ndarray:
    """Closed form E[m_{k+s} | m_k] = m* + ρ^s (m_k - m*) of the Kirman chain."""
    big_m = parameters.agents
    total = parameters.switch_to_momentum + parameters.switch_to_mean_reversion
    mean = big_m * parameters.switch_to_momentum / total
    rho = (1.0 - total / big_m) ** big_m
    return mean + rho ** np.asarray(ahead, dtype=float) * (np.asarray(count, dtype=float) - mean)
