"""The ensemble's count chain (MODEL.md §4): switching rules, transition law, stationary law,
forecasts.

M agents are momentum (MOM) or mean-reversion (MR) traders; m = #MOM and the field is
f = field_scale·(2m - M)/M. How m moves is a *switching rule*, a small object (the extension
point) that knows, for a population of M agents:

- `draws_per_step`: uniforms it consumes per step (the random-stream protocol);
- `step_counts`: one step of the count for many episodes at once, from those uniforms;
- `count_paths`: whole paths (E, N + 1) from (E, N, D) uniforms (a loop over `step_counts`
  unless the rule has a faster kernel);
- `transition_matrix`, `stationary_law`, `expected_counts` (E[m_{k+s} | m_k]: the `model`
  forecast).

Built-in rules:

- `KirmanRule` (Kirman 1993 / Alfarano-Lux-Wagner recruitment): M asynchronous micro-updates
  per step. A uniformly chosen agent switches on its own with probability a (a1 for an MR
  agent, a2 for a MOM agent), or with probability b copies another agent chosen uniformly
  among the other M-1, or keeps its type (exclusive, so a_i + b <= 1). Per micro-update
      p_up(m) = (M-m)/M·(a1 + b·m/(M-1)),   p_down(m) = m/M·(a2 + b·(M-m)/(M-1)),
  the stationary law is BetaBinomial(M, a1(M-1)/b, a2(M-1)/b) exactly, and
  E[m_{k+s} | m_k] = m* + ρ^s·(m_k - m*) with ρ = (1 - (a1+a2)/M)^M, m* = M·a1/(a1+a2).
- `RandomWalkRule` (the paper's rule): once per step the count moves +1 or -1 with
  probability p each; a move out of [0, M] is suppressed. Stationary law: uniform.

Write your own rule by subclassing `SwitchingRule` (a frozen dataclass, so it can be compared
and cached) and pass it as `EnsembleParameters(switching=MyRule(...))`, or name it in a
configuration file as "package.module:NAME" (a rule instance, or a class built without
arguments).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln

from acsim.strategies import validation
from acsim.strategies.components import build_component
from acsim.strategies.declarations import (
    NON_NEGATIVE,
    between,
    check_parameters,
    component,
    count_or_choice,
    integer,
    parameter,
    same_as,
)
from acsim.strategies.errors import ParameterError

INITIAL_COUNTS = ("balanced", "stationary")
PROBABILITY = between(0.0, 1.0)


class SwitchingRule(ABC):
    """How the momentum count moves in one step (see the module docstring)."""

    def draws_per_step(self, agents: int) -> int:
        """Uniform draws per step (default: one)."""
        return 1

    @abstractmethod
    def step_counts(self, counts: np.ndarray, uniforms: np.ndarray, agents: int) -> np.ndarray:
        """Counts after one step: counts (E,) int, uniforms (E, D) in [0, 1) -> (E,) int."""

    @abstractmethod
    def transition_matrix(self, agents: int) -> np.ndarray:
        """P[i, j] = P(m_{k+1} = j | m_k = i) for one whole step."""

    def count_paths(self, initial: np.ndarray, uniforms: np.ndarray, agents: int,
                    out: np.ndarray) -> None:
        """out[e, 0] = initial[e], out[e, k + 1] = count after step k; uniforms (E, N, D)."""
        out[:, 0] = initial
        for k in range(uniforms.shape[1]):
            out[:, k + 1] = self.step_counts(out[:, k], uniforms[:, k, :], agents)

    def stationary_law(self, agents: int) -> np.ndarray:
        """The stationary probabilities of m = 0..M (default: solved from the matrix)."""
        matrix = transition_matrix(self, agents)
        size = agents + 1
        system = matrix.T - np.eye(size)
        system[-1, :] = 1.0  # replace one balance equation by Σπ = 1
        rhs = np.zeros(size)
        rhs[-1] = 1.0
        return np.linalg.solve(system, rhs)

    def expected_counts(self, agents: int, horizon: int) -> np.ndarray:
        """table[s, m] = E[m_{k+s} | m_k = m], s = 0..horizon (default: iterated means)."""
        matrix = transition_matrix(self, agents)
        table = np.empty((horizon + 1, agents + 1))
        table[0] = np.arange(agents + 1)
        for s in range(1, horizon + 1):
            table[s] = np.sum(matrix * table[s - 1], axis=1)  # elementwise: no BLAS threading
        return table


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


@dataclass(frozen=True)
class KirmanRule(SwitchingRule):
    """Kirman recruitment: M asynchronous micro-updates per step (module docstring).

    switch_to_momentum: a1, own switching probability of an MR agent per micro-update.
    switch_to_mean_reversion: a2, the same for a MOM agent.
    herding: b, probability of copying another agent (a_i + b <= 1).
    """

    switch_to_momentum: float = parameter(
        0.01, unit="per micro-update", allowed=PROBABILITY,
        help="kirman a1: own switching probability of a mean-reversion agent")
    switch_to_mean_reversion: float = parameter(
        0.01, unit="per micro-update", allowed=PROBABILITY,
        help="kirman a2: own switching probability of a momentum agent")
    herding: float = parameter(0.5, unit="per micro-update", allowed=PROBABILITY,
                               help="kirman b: probability of copying another agent")

    def __post_init__(self) -> None:
        check_parameters(self)
        for name, own in (("switch_to_momentum", self.switch_to_momentum),
                          ("switch_to_mean_reversion", self.switch_to_mean_reversion)):
            if own + self.herding > 1.0:
                raise ParameterError(f"{name} + herding must be <= 1 (exclusive events), "
                                     f"got {own!r} + {self.herding!r}")
        if self.switch_to_momentum + self.switch_to_mean_reversion == 0:
            raise ParameterError("switch_to_momentum and switch_to_mean_reversion cannot both "
                                 "be 0 (the count would be absorbed at 0 or M)")

    def draws_per_step(self, agents: int) -> int:
        return agents

    def partner_scale(self, agents: int) -> float:
        """(M - 1)/b: maps a copying agent's draw d in [a, a + b) to a partner position
        floor((d - a)·(M - 1)/b) in [0, M - 1) (0 when b = 0: nobody copies)."""
        return (agents - 1) / self.herding if self.herding > 0.0 else 0.0

    def micro_update_probabilities(self, agents: int,
                                   counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_up(m), p_down(m)) of one micro-update."""
        m = np.asarray(counts, dtype=float)
        b = self.herding
        up = (agents - m) / agents * (self.switch_to_momentum + b * m / (agents - 1))
        down = m / agents * (self.switch_to_mean_reversion + b * (agents - m) / (agents - 1))
        return up, down

    def step_counts(self, counts: np.ndarray, uniforms: np.ndarray, agents: int) -> np.ndarray:
        out = np.empty((counts.shape[0], 2), dtype=np.int64)
        self.count_paths(counts, uniforms[:, None, :], agents, out)
        return out[:, 1]

    def count_paths(self, initial: np.ndarray, uniforms: np.ndarray, agents: int,
                    out: np.ndarray) -> None:
        from acsim.strategies.count_kernels import kirman_counts

        # (episodes, N, M) -> (N, M, episodes): the kernel's inner loop runs over episodes
        kirman_counts(np.ascontiguousarray(initial, dtype=np.int64),
                      np.ascontiguousarray(uniforms.transpose(1, 2, 0)), agents,
                      self.switch_to_momentum, self.switch_to_mean_reversion, self.herding,
                      self.partner_scale(agents), out)

    def transition_matrix(self, agents: int) -> np.ndarray:
        up, down = self.micro_update_probabilities(agents, np.arange(agents + 1))
        matrix = np.eye(agents + 1)
        for _ in range(agents):  # M micro-updates
            matrix = _times_birth_death(matrix, up, down)
        return matrix

    def stationary_law(self, agents: int) -> np.ndarray:
        counts = np.arange(agents + 1)
        a1, a2 = self.switch_to_momentum, self.switch_to_mean_reversion
        if a1 == 0.0 or a2 == 0.0:  # one-way switching: absorbed at 0 (a1 = 0) or at M (a2 = 0)
            law = np.zeros(agents + 1)
            law[0 if a1 == 0.0 else agents] = 1.0
            return law
        log_choose = gammaln(agents + 1) - gammaln(counts + 1) - gammaln(agents - counts + 1)
        if self.herding == 0.0:  # independent agents: Binomial(M, a1/(a1+a2))
            p = a1 / (a1 + a2)
            return np.exp(log_choose + counts * np.log(p) + (agents - counts) * np.log1p(-p))
        alpha = a1 * (agents - 1) / self.herding
        beta = a2 * (agents - 1) / self.herding
        return np.exp(log_choose + betaln(counts + alpha, agents - counts + beta)
                      - betaln(alpha, beta))

    def expected_counts(self, agents: int, horizon: int) -> np.ndarray:
        counts = np.arange(agents + 1, dtype=float)
        return self.expected_count(agents, counts[None, :],
                                   np.arange(horizon + 1, dtype=float)[:, None])

    def expected_count(self, agents: int, count: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        """Closed form E[m_{k+s} | m_k] = m* + ρ^s (m_k - m*)."""
        total = self.switch_to_momentum + self.switch_to_mean_reversion
        mean = agents * self.switch_to_momentum / total
        rho = (1.0 - total / agents) ** agents
        return mean + rho ** np.asarray(ahead, dtype=float) * (
            np.asarray(count, dtype=float) - mean)


@dataclass(frozen=True)
class RandomWalkRule(SwitchingRule):
    """The paper's ±1 rule: u < p moves up, p <= u < 2p moves down (suppressed at 0 and M).

    step_probability: p <= 1/2, the probability of each ±1 move.
    """

    step_probability: float = parameter(0.25, unit="per step", allowed=between(0.0, 0.5),
                                        help="random-walk p: probability of each ±1 move")

    def __post_init__(self) -> None:
        check_parameters(self)

    def step_counts(self, counts: np.ndarray, uniforms: np.ndarray, agents: int) -> np.ndarray:
        p = self.step_probability
        u = uniforms[:, 0]
        up = (u < p) & (counts < agents)
        down = (u >= p) & (u < 2.0 * p) & (counts > 0)
        return counts + up - down

    def transition_matrix(self, agents: int) -> np.ndarray:
        counts = np.arange(agents + 1)
        up = np.where(counts < agents, self.step_probability, 0.0)
        down = np.where(counts > 0, self.step_probability, 0.0)
        return _birth_death_matrix(up, down)

    def stationary_law(self, agents: int) -> np.ndarray:
        return np.full(agents + 1, 1.0 / (agents + 1))


SWITCHING_RULES = ("kirman", "random-walk")


SWITCHING = component(SwitchingRule, SWITCHING_RULES)


@dataclass(frozen=True)
class EnsembleParameters:
    """The ensemble of momentum / mean-reversion traders (MODEL.md §4)."""

    agents: int = parameter(100, unit="agents", allowed=integer(2),
                            help="M, momentum plus mean-reversion traders")
    field_scale: float = parameter(5.0, unit="field units", allowed=NON_NEGATIVE,
                                   help="α0: the field is f = α0·(2m - M)/M, in [-α0, α0]")
    switching: str | SwitchingRule = parameter(
        "kirman", unit="", allowed=SWITCHING,
        help="switching rule of the count: kirman (recruitment), random-walk (±1 per step) or "
             "a rule of your own as package.module:NAME")
    switch_to_momentum: float = same_as(KirmanRule, "switch_to_momentum")
    switch_to_mean_reversion: float = same_as(KirmanRule, "switch_to_mean_reversion")
    herding: float = same_as(KirmanRule, "herding")
    step_probability: float = same_as(RandomWalkRule, "step_probability")
    initial: str | int = parameter(
        "balanced", unit="agents", allowed=count_or_choice(0, *INITIAL_COUNTS),
        help="initial momentum count: balanced (M // 2), stationary (a draw from the "
             "stationary law) or a count in [0, M]")

    def __post_init__(self) -> None:
        check_parameters(self)
        object.__setattr__(self, "_rule", self._build_rule())
        if isinstance(self.initial, int) and self.initial > self.agents:
            raise ParameterError(f"initial count must be in [0, agents = {self.agents}], "
                                 f"got {self.initial}")

    def _build_rule(self) -> SwitchingRule:
        built_in = {
            "kirman": lambda: KirmanRule(self.switch_to_momentum, self.switch_to_mean_reversion,
                                         self.herding),
            "random-walk": lambda: RandomWalkRule(self.step_probability),
        }
        return build_component(self.switching, SwitchingRule, built_in, "switching")

    @property
    def rule(self) -> SwitchingRule:
        """The switching rule object."""
        return self._rule  # type: ignore[attr-defined]

    @property
    def draws_per_step(self) -> int:
        """Uniform draws the ensemble consumes per step (the random-stream protocol)."""
        return self.rule.draws_per_step(self.agents)


def field(parameters: EnsembleParameters, momentum_count: np.ndarray | int) -> np.ndarray:
    """f = field_scale·(2m - M)/M."""
    m = parameters.agents
    return parameters.field_scale * (2.0 * np.asarray(momentum_count, dtype=float) - m) / m


@functools.lru_cache(maxsize=32)
def transition_matrix(rule: SwitchingRule, agents: int) -> np.ndarray:
    """The rule's one-step transition matrix (read-only, cached)."""
    matrix = np.array(rule.transition_matrix(agents), dtype=float)
    matrix.flags.writeable = False
    return matrix


def step_transition_matrix(parameters: EnsembleParameters) -> np.ndarray:
    """P[i, j] = P(m_{k+1} = j | m_k = i) for one whole step (read-only, cached)."""
    return transition_matrix(parameters.rule, parameters.agents)


def stationary_law(parameters: EnsembleParameters) -> np.ndarray:
    """The exact stationary probabilities of m = 0..M."""
    return parameters.rule.stationary_law(parameters.agents)


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
    """table[s, m] = E[m_{k+s} | m_k = m] for s = 0..horizon, exact (read-only, cached)."""
    table = np.array(parameters.rule.expected_counts(parameters.agents, horizon), dtype=float)
    table.flags.writeable = False
    return table


def count_paths(parameters: EnsembleParameters, initial: np.ndarray,
                uniforms: np.ndarray) -> np.ndarray:
    """Momentum counts m_0..m_N of E episodes, shape (E, N + 1), from uniforms (E, N, D)."""
    out = np.empty((uniforms.shape[0], uniforms.shape[1] + 1), dtype=np.int64)
    parameters.rule.count_paths(np.asarray(initial, dtype=np.int64), uniforms,
                                parameters.agents, out)
    return out


def initial_law(parameters: EnsembleParameters) -> np.ndarray:
    """The law of m_0 over 0..M: a point mass (balanced or a given count) or the stationary law."""
    if parameters.initial == "stationary":
        return stationary_law(parameters)
    law = np.zeros(parameters.agents + 1)
    start = parameters.agents // 2 if parameters.initial == "balanced" else int(parameters.initial)
    law[start] = 1.0
    return law


def field_moments(parameters: EnsembleParameters, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean (N,) and covariance (N, N) of the field path f_1..f_N (field units).

    From the count chain alone: the law of m_k is law(m_0)·P^k, and for j <= k
    E[m_j m_k] = Σ_i P(m_j = i)·i·E[m_k | m_j = i] (the exact forecast table).
    """
    steps = validation.integer("steps", steps, 1)
    matrix = step_transition_matrix(parameters)
    counts = np.arange(parameters.agents + 1, dtype=float)
    laws = np.empty((steps + 1, counts.shape[0]))
    laws[0] = initial_law(parameters)
    for k in range(1, steps + 1):
        laws[k] = laws[k - 1] @ matrix
    forecast = expected_count_table(parameters, steps)
    mean = laws @ counts
    second = np.empty((steps + 1, steps + 1))
    for j in range(steps + 1):
        for k in range(j, steps + 1):
            second[j, k] = second[k, j] = np.sum(laws[j] * counts * forecast[k - j])
    covariance = second - np.outer(mean, mean)
    scale = 2.0 * parameters.field_scale / parameters.agents
    field_mean = parameters.field_scale * (2.0 * mean - parameters.agents) / parameters.agents
    return field_mean[1:], scale**2 * covariance[1:, 1:]
