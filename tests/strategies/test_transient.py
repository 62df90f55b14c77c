"""Transient impact (MODEL.md §7): `strategies.transient`.

Oracles:
- the §7 market itself: with σ = 0, an independent step-by-step loop (price P, displacement
  summed from the trade history, fill with half the own displacement) realises exactly the E of
  `expected_shortfall`, past trades included;
- the Obizhaeva-Wang result: the discrete optimum of the exponential kernel alone, in closed
  form (the inverse of the Kac-Murdock-Szegő matrix Γ is tridiagonal), and its convergence to
  the continuous solution (blocks X/(ρT+2), rate ρX/(ρT+2));
- a dense KKT solve with numpy (independent of the reversed Cholesky), the cvxpy reference,
  Bellman's principle (the tail of a plan, re-planned with the displacement of its head, is
  the same plan), and kernels that are not positive definite (rejected by name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from acsim.strategies import power_law
from acsim.strategies.errors import ParameterError
from acsim.strategies.power_law import PowerLawImpact
from acsim.strategies.reference_impact import ImpactReference
from acsim.strategies.transient import (
    ExponentialKernel,
    PowerLawKernel,
    TransientPlanner,
    check_positive_definite,
    displacement,
    expected_shortfall,
    kernel_matrix,
    past_displacement,
    transient_cost,
)

KERNELS = [ExponentialKernel(0.02, 0.4), PowerLawKernel(0.03, 0.5, 1.5)]


@dataclass(frozen=True)
class GrowingKernel:
    """G(t) = G_0·(1 + t): impact that grows: not positive definite."""

    transient_impact: float

    def values(self, times):
        return self.transient_impact * (1.0 + np.asarray(times, dtype=float))


@dataclass(frozen=True)
class ParabolicKernel:
    """G(t) = G_0·max(1 - (t/t_c)², 0): decays but is concave, not positive definite."""

    transient_impact: float
    duration: float

    def values(self, times):
        return self.transient_impact * np.maximum(
            1.0 - (np.asarray(times, dtype=float) / self.duration) ** 2, 0.0)


@dataclass(frozen=True)
class GaussianKernel:
    """G(t) = G_0·exp(-(t/w)²): not convex, yet a positive-definite function (its Fourier
    transform is positive, Bochner), so Γ is positive definite."""

    transient_impact: float
    width: float

    def values(self, times):
        return self.transient_impact * np.exp(-(np.asarray(times, dtype=float) / self.width) ** 2)


# --- kernels ------------------------------------------------------------------------------


@pytest.mark.parametrize("build,field", [
    (lambda v: ExponentialKernel(v, 0.1), "transient_impact"),
    (lambda v: ExponentialKernel(0.1, v), "resilience"),
    (lambda v: PowerLawKernel(v, 0.5, 1.0), "transient_impact"),
    (lambda v: PowerLawKernel(0.1, v, 1.0), "transient_exponent"),
    (lambda v: PowerLawKernel(0.1, 0.5, v), "transient_time"),
])
@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf])
def test_invalid_kernel_parameters_are_rejected_by_name(build, field, value):
    with pytest.raises(ParameterError, match=field):
        build(value)


def test_kernel_values():
    times = np.array([0.0, 0.5, 3.0])
    np.testing.assert_allclose(ExponentialKernel(2.0, 0.7).values(times),
                               2.0 * np.exp(-0.7 * times), rtol=1e-15)
    np.testing.assert_allclose(PowerLawKernel(2.0, 0.4, 1.5).values(times),
                               2.0 * (1.0 + times / 1.5) ** -0.4, rtol=1e-15)


@pytest.mark.parametrize("step_length", [0.01, 1.0, 20.0])
@pytest.mark.parametrize("kernel", KERNELS + [PowerLawKernel(1.0, 2.5, 0.1)])
def test_both_kernels_are_positive_definite(kernel, step_length):
    check_positive_definite(kernel, step_length, 100)


@pytest.mark.parametrize("kernel", [GrowingKernel(0.1), ParabolicKernel(0.1, 3.0)])
def test_kernels_that_are_not_positive_definite_are_rejected_by_name(kernel):
    """Γ has a negative eigenvalue (numpy's eigvalsh, independent) and the check names the
    kernel; the planner refuses it too."""
    assert np.linalg.eigvalsh(kernel_matrix(kernel, 1.0, 20)).min() < -1e-3
    with pytest.raises(ParameterError, match=type(kernel).__name__):
        check_positive_definite(kernel, 1.0, 20)
    with pytest.raises(ParameterError, match="not positive definite"):
        TransientPlanner(kernel, 1.0, 0.01, 0.0, 0.0, 20)


class HugeKernel:
    """A kernel whose matrix numpy cannot allocate (as Γ of 10⁵ steps on a small machine)."""

    def values(self, lags: np.ndarray) -> np.ndarray:
        raise MemoryError("Unable to allocate 74.5 GiB")


def test_a_kernel_matrix_that_does_not_fit_is_a_named_error():
    with pytest.raises(ParameterError, match=r"steps = 40: .*\(40 × 40, .* reduce steps"):
        check_positive_definite(HugeKernel(), 1.0, 40)


def test_a_gaussian_decay_is_positive_definite():
    """Non-convex but positive definite (Bochner): accepted while Γ is well conditioned."""
    kernel = GaussianKernel(0.1, 2.0)
    assert np.linalg.eigvalsh(kernel_matrix(kernel, 1.0, 20)).min() > 1e-5
    check_positive_definite(kernel, 1.0, 20)


# --- displacement bookkeeping -------------------------------------------------------------


def test_exponential_recursion_equals_the_history_sum():
    """I_k = e^(-ρτ)(I_{k-1} + G_0 n_k) from I_0 = 0 is Σ_{j<=k} G((k+1-j)τ) n_j, batched."""
    rng = np.random.default_rng(1)
    kernel, tau = ExponentialKernel(0.05, 0.3), 0.7
    trades = rng.normal(0, 100, (5, 12))
    current = np.zeros(5)
    for k in range(1, 13):
        current = kernel.next_displacement(current, trades[:, k - 1], tau)
        np.testing.assert_allclose(current, displacement(kernel, trades[:, :k], tau),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernel.past_displacement_from(current, tau, 7),
                               past_displacement(kernel, trades, tau, 7), rtol=1e-12)


def test_past_displacement_from_the_history():
    """v_i = Σ_{j<=k} G((k+i-j)τ) n_j by a direct double loop, power-law kernel."""
    rng = np.random.default_rng(2)
    kernel, tau = PowerLawKernel(0.05, 0.6, 2.0), 0.5
    trades = rng.normal(0, 100, 9)
    expected = [sum(kernel.values((9 + i - j) * tau) * trades[j - 1] for j in range(1, 10))
                for i in range(1, 6)]
    np.testing.assert_allclose(past_displacement(kernel, trades, tau, 5), expected, rtol=1e-13)
    assert displacement(kernel, np.zeros((3, 0)), tau).shape == (3,)


# --- expected cost = realised cost --------------------------------------------------------


def simulated_shortfall(kernel, history, trades, tau, eta, gamma, spread, drift, self_alpha):
    """Realised IS of the planned trades in the §7 market with σ = 0, one step at a time.

    P_k = P_{k-1} + α_k·τ - γ·n_k with α_k = drift_k - self_alpha·x_k (x_k the holdings of the
    horizon after trade k; the history has no self-alpha drift); displacement before a trade
    = Σ over every earlier trade of G(elapsed)·n; fill S̃ = P - I - ε·sgn(n) - (η/τ)n - ½G(0)n.
    The history is traded first; IS is measured against the undisturbed price P_0 at the start
    of the horizon: Σ n_k·(P_0 - S̃_k).
    """
    everything = np.concatenate([history, trades])
    start = trades.sum()
    undisturbed, holdings, cost, reference = 0.0, start, 0.0, None
    for k, trade in enumerate(everything):
        in_horizon = k >= len(history)
        if in_horizon and reference is None:
            reference = undisturbed
        shift = sum(kernel.values((k - j) * tau) * everything[j] for j in range(k))
        fill = (undisturbed - shift - spread * np.sign(trade) - eta / tau * trade
                - 0.5 * kernel.values(0.0) * trade)
        if in_horizon:
            holdings -= trade
            cost += trade * (reference - fill)
            alpha = drift[k - len(history)] - self_alpha * holdings
        else:
            alpha = 0.0
        undisturbed += alpha * tau - gamma * trade
    return cost


@pytest.mark.parametrize("kernel", KERNELS)
def test_noise_free_shortfall_equals_expected_cost(kernel):
    """σ = 0: the loop's IS equals E exactly (1e-9), past displacement and buy-backs included."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        steps, past = int(rng.integers(1, 15)), int(rng.integers(0, 6))
        tau, eta, gamma = rng.uniform(0.2, 2), rng.uniform(0, 0.02), rng.uniform(0, 0.005)
        spread, self_alpha = rng.uniform(0, 0.03), rng.uniform(0, 1e-3)
        history = rng.normal(50, 80, past)
        trades = rng.normal(80, 60, steps)
        drift = rng.normal(0, 0.05, steps)
        path = np.concatenate([[trades.sum()], trades.sum() - np.cumsum(trades)])
        path[-1] = 0.0
        realised = simulated_shortfall(kernel, history, trades, tau, eta, gamma, spread, drift,
                                       self_alpha)
        expected = expected_shortfall(
            kernel, path, step_length=tau, temporary_impact=eta, permanent_impact=gamma,
            half_spread=spread, drift=drift, self_alpha=self_alpha,
            past_displacement=past_displacement(kernel, history, tau, steps))
        scale = np.abs(trades).sum() * (np.abs(history).sum() + np.abs(trades).sum()) * 0.05
        assert expected == pytest.approx(realised, rel=1e-9, abs=1e-9 * scale)


# --- the planner ----------------------------------------------------------------------------


def dense_plan(kernel, tau, eta, gamma, urgency, start, drift, past):
    """KKT of the equality-constrained quadratic problem, assembled from its definition and
    solved by numpy: trades n with Σn = x_0."""
    steps = drift.size
    lower = np.tril(np.ones((steps, steps)))
    hessian = (2 * (eta - gamma * tau / 2) / tau * np.eye(steps)
               + kernel_matrix(kernel, tau, steps) + 2 * urgency * tau * lower.T @ lower)
    rhs = 2 * urgency * tau * start * lower.T @ np.ones(steps) - past - tau * lower.T @ drift
    system = np.block([[hessian, -np.ones((steps, 1))], [np.ones((1, steps)), np.zeros((1, 1))]])
    return np.linalg.solve(system, np.r_[rhs, start])[:steps]


@pytest.mark.parametrize("kernel", KERNELS)
def test_planner_equals_dense_kkt_solve(kernel):
    """Full plans and gains' first trades = the dense solve to 1e-10·x_0, every length."""
    rng = np.random.default_rng(4)
    tau, eta, gamma, urgency = 0.5, 0.004, 0.002, 0.003
    planner = TransientPlanner(kernel, tau, eta, gamma, urgency, 25)
    for remaining in (1, 2, 3, 10, 25):
        starts = rng.uniform(10, 1000, 4)
        drifts = rng.normal(0, 0.3, (4, remaining))
        pasts = rng.normal(0, 2.0, (4, remaining))
        plans = planner.holdings(starts, drifts, pasts)
        firsts = planner.first_trade(starts, drifts, pasts)
        for e in range(4):
            trades = dense_plan(kernel, tau, eta, gamma, urgency, starts[e], drifts[e], pasts[e])
            np.testing.assert_allclose(plans[e, :-1] - plans[e, 1:], trades, rtol=0,
                                       atol=1e-10 * starts[e])
            assert firsts[e] == pytest.approx(trades[0], rel=0, abs=1e-10 * starts[e])
            assert plans[e, 0] == starts[e] and plans[e, -1] == 0.0


def test_first_trade_batched_equals_row_by_row():
    rng = np.random.default_rng(5)
    planner = TransientPlanner(KERNELS[1], 1.0, 0.01, 0.001, 0.001, 12)
    starts, drifts, pasts = rng.uniform(1, 100, 50), rng.normal(0, 1, (50, 12)), rng.normal(
        0, 1, (50, 12))
    batched = planner.first_trade(starts, drifts, pasts)
    for e in range(50):
        assert batched[e] == planner.first_trade(starts[e], drifts[e], pasts[e])


@pytest.mark.parametrize("kernel", KERNELS)
def test_planner_matches_the_cvxpy_reference(kernel):
    rng = np.random.default_rng(6)
    tau, eta, gamma, urgency = 1.0, 0.01, 0.004, 0.002
    planner = TransientPlanner(kernel, tau, eta, gamma, urgency, 16)
    drift, past = rng.normal(0, 0.2, 16), rng.normal(0, 1.0, 16)
    reference = ImpactReference(tau, urgency, temporary_impact=eta, permanent_impact=gamma,
                                kernel=kernel).holdings(500.0, drift, past)
    np.testing.assert_allclose(planner.holdings(500.0, drift, past), reference, rtol=0,
                               atol=1e-8 * 500.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_bellman_principle_with_past_displacement(kernel):
    """Re-planning after k trades of an optimal plan, with the displacement those trades left
    (v from `past_displacement`) and the drift of the remaining steps, gives the rest of the
    plan: the bookkeeping carries all the state the cost needs."""
    rng = np.random.default_rng(9)
    planner = TransientPlanner(kernel, 0.5, 0.004, 0.002, 0.003, 20)
    drift = rng.normal(0, 0.2, 20)
    plan = planner.holdings(1000.0, drift)
    trades = plan[:-1] - plan[1:]
    for done in (1, 5, 13):
        past = past_displacement(kernel, trades[:done], 0.5, 20 - done)
        tail = planner.holdings(plan[done], drift[done:], past)
        np.testing.assert_allclose(tail, plan[done:], rtol=0, atol=1e-9 * 1000.0)


# --- power-law temporary impact with transient impact (the cvxpy planner) -------------------


def test_combination_with_exponent_one_is_the_linear_transient_planner():
    """β = 1 power law (η = η_p) with a kernel = TransientPlanner (its plan never reverses)."""
    kernel, tau, eta, gamma, urgency = KERNELS[1], 0.5, 0.004, 0.002, 0.003
    plan = TransientPlanner(kernel, tau, eta, gamma, urgency, 12).holdings(300.0, np.zeros(12))
    assert np.all(np.diff(plan) < 0)
    combined = ImpactReference(tau, urgency, permanent_impact=gamma, kernel=kernel,
                               power_law=PowerLawImpact(eta, 1.0)).holdings(300.0, np.zeros(12))
    np.testing.assert_allclose(combined, plan, rtol=0, atol=1e-6 * 300.0)


def test_combination_satisfies_its_kkt_conditions():
    """Power law (β = 0.5) with the exponential kernel, a drift that makes steps rest: in trade
    space ∂U/∂n_k = φ'(n_k) + (Γn)_k + v_k - Σ_{j>=k}(2qτx_j - τa_j) is one value on trading
    steps and not below it on resting steps (to the reference's accuracy), and the plan costs
    less than the power-law-only plan and TWAP under the combined cost."""
    kernel, tau, gamma, urgency, shares, steps = ExponentialKernel(0.005, 0.4), 1.0, 1e-4, \
        2e-4, 1000.0, 12
    impact = PowerLawImpact(0.05, 0.5)
    drift = np.linspace(3.0, -1.0, steps)
    past = np.full(steps, 0.5)
    plan = ImpactReference(tau, urgency, permanent_impact=gamma, kernel=kernel,
                           power_law=impact).holdings(shares, drift, past)
    trades = plan[:-1] - plan[1:]
    c = impact.coefficient * tau ** -impact.exponent
    per_step = 2 * urgency * tau * plan[1:] - tau * drift
    gradient = (c * 1.5 * np.maximum(trades, 0) ** 0.5 - gamma * trades
                + kernel_matrix(kernel, tau, steps) @ trades + past
                - np.cumsum(per_step[::-1])[::-1])
    trading = trades > 1e-5 * shares
    assert 2 <= trading.sum() < steps
    level = np.median(gradient[trading])
    scale = c * 1.5 * shares**0.5
    assert np.max(np.abs(gradient[trading] - level)) < 1e-4 * scale
    assert np.all(gradient[~trading] > level - 1e-4 * scale)

    def combined_cost(path):
        moves = path[:-1] - path[1:]
        return (power_law.expected_shortfall(impact, path, step_length=tau,
                                             permanent_impact=gamma, drift=drift,
                                             self_alpha=urgency)
                + transient_cost(kernel, moves, tau) + moves @ past)

    power_only = power_law.optimal_holdings(impact, shares, drift, step_length=tau,
                                            permanent_impact=gamma, urgency=urgency)
    twap = shares * (1 - np.arange(steps + 1) / steps)
    assert combined_cost(plan) < min(combined_cost(power_only), combined_cost(twap))


# --- Obizhaeva-Wang -----------------------------------------------------------------------


def obizhaeva_wang_discrete(shares, steps, decay):
    """Trades ∝ Γ⁻¹1 with Γ = G_0 r^|k-j|: Γ⁻¹ is tridiagonal (diagonal 1, 1+r², ..., 1+r², 1,
    off-diagonal -r, over G_0(1-r²)), so Γ⁻¹1 ∝ (1, 1-r, ..., 1-r, 1)."""
    weights = np.full(steps, 1.0 - decay)
    weights[[0, -1]] = 1.0
    return shares * weights / weights.sum()


def test_obizhaeva_wang_discrete_optimum():
    """Exponential kernel alone (ε = η = γ = λ = 0): symmetric, equal first and last trades,
    equal interior trades, as in closed form."""
    shares, horizon, resilience = 1e5, 2.0, 3.0
    for steps in (2, 3, 7, 30):
        tau = horizon / steps
        planner = TransientPlanner(ExponentialKernel(1e-4, resilience), tau, 0.0, 0.0, 0.0,
                                   steps)
        trades = -np.diff(planner.holdings(shares, np.zeros(steps)))
        expected = obizhaeva_wang_discrete(shares, steps, math.exp(-resilience * tau))
        np.testing.assert_allclose(trades, expected, rtol=1e-12)
        np.testing.assert_allclose(trades, trades[::-1], rtol=1e-12)


def test_obizhaeva_wang_continuous_limit():
    """As N grows the end blocks tend to X/(ρT+2) and the interior rate to ρX/(ρT+2), with an
    error falling like 1/N."""
    shares, horizon, resilience = 1.0, 1.0, 3.0
    block, rate = shares / (resilience * horizon + 2), resilience * shares / (
        resilience * horizon + 2)
    errors = []
    for steps in (10, 40, 160, 640):
        tau = horizon / steps
        planner = TransientPlanner(ExponentialKernel(1.0, resilience), tau, 0.0, 0.0, 0.0, steps)
        trades = -np.diff(planner.holdings(shares, np.zeros(steps)))
        errors.append(max(abs(trades[0] - block), abs(trades[-1] - block),
                          np.max(np.abs(trades[1:-1] / tau - rate)) / resilience))
    errors = np.array(errors)
    assert errors[-1] < 2e-3
    np.testing.assert_allclose(errors[:-1] / errors[1:], 4.0, rtol=0.1)


def test_planner_rejects_bad_inputs():
    with pytest.raises(ParameterError, match="effective temporary impact"):
        TransientPlanner(KERNELS[0], 1.0, 0.001, 0.01, 0.0, 5)
    planner = TransientPlanner(KERNELS[0], 1.0, 0.01, 0.0, 0.0, 5)
    with pytest.raises(ParameterError, match="remaining steps"):
        planner.first_trade(1.0, np.zeros(6))
