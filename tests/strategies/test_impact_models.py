"""The impact models of MODEL.md §7 on the extension point (`strategies.impact`).

Oracles: MODEL §7 written out here (fills S - side·(ε·sgn n + η_p·sgn(n)·|n/τ|^β + ½G(0)·n),
displacement I_{k-1} = Σ_{j<k} G((k-j)τ)·n_j summed from the trade history, the expected cost
½γX² - ½γΣn² + εΣ|n| + η_pτ^(-β)Σ|n|^(1+β) + ½nᵀΓn - τΣα̂x written term by term); the linear
model itself (β = 1 must give the same digits); kernels whose matrix is not positive definite
and power laws that are not convex (rejected by name at the configuration boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig
from acsim.strategies.errors import ParameterError, PlanningError
from acsim.strategies.impact import CompositeImpact, ImpactParameters, LinearImpact
from acsim.strategies.parameters import ExecutionProblem
from acsim.strategies.transient import ExponentialKernel, PowerLawKernel

THIS = "tests.strategies.test_impact_models"
PROBLEM = ExecutionProblem(shares=1000.0, horizon=8.0, steps=8, price=100.0, volatility=0.1,
                           half_spread=0.01, temporary_impact=0.002, permanent_impact=1e-4,
                           risk_aversion=0.002, drift=0.003)


@dataclass(frozen=True)
class StepKernel:
    """G = G_0 for lags 0 and τ, then 0: Γ = [[1,1,0],[1,1,1],[0,1,1]]·G_0 has determinant
    -G_0³ < 0, so a round trip earns money."""

    transient_impact: float = 0.01

    def values(self, times):
        return np.where(np.asarray(times, dtype=float) <= 1.0, self.transient_impact, 0.0)


STEP_KERNEL = StepKernel()


def kernel_g(kernel, lag_steps, step_length):
    """G at lag·τ, written from the kernels' definitions."""
    t = lag_steps * step_length
    if isinstance(kernel, ExponentialKernel):
        return kernel.transient_impact * np.exp(-kernel.resilience * t)
    return kernel.transient_impact * (1.0 + t / kernel.transient_time) ** (
        -kernel.transient_exponent)


# --- the built models ---------------------------------------------------------------------------

def test_defaults_build_the_linear_model_and_the_new_keys_build_the_new_ones():
    assert isinstance(ImpactParameters().impact, LinearImpact)
    power = ImpactParameters(model="power", exponent=0.5).impact
    assert power == CompositeImpact(0.5, None, None)
    transient = ImpactParameters(transient="exponential", transient_impact=0.02,
                                 resilience=0.3).impact
    assert transient == CompositeImpact(None, None, ExponentialKernel(0.02, 0.3))
    both = ImpactParameters(model="power", exponent=0.7, coefficient=0.05, transient="power-law",
                            transient_impact=0.01, transient_exponent=0.4,
                            transient_time=2.0).impact
    assert both == CompositeImpact(0.7, 0.05, PowerLawKernel(0.01, 0.4, 2.0))
    assert ImpactParameters(transient=f"{THIS}:STEP_KERNEL").impact.kernel is STEP_KERNEL


@pytest.mark.parametrize("changes, words", [
    ({"exponent": 0.0}, ["exponent must be in (0, 1]"]),
    ({"exponent": 1.5}, ["exponent must be in (0, 1]"]),
    ({"coefficient": -1.0}, ["coefficient must be > 0"]),
    ({"transient": "gaussian"}, ["transient must be one of none, exponential, power-law"]),
    ({"resilience": 0.0}, ["resilience must be > 0"]),
    ({"transient_impact": -0.1}, ["transient_impact must be > 0"]),
    ({"transient_time": 0.0}, ["transient_time must be > 0"]),
    ({"model": f"{THIS}:STEP_KERNEL"}, ["not an object of type ImpactModel"]),
    ({"transient": f"{THIS}:PROBLEM"}, ["is not a kernel"]),
    ({"model": "tests.simulator.test_extension_points:IMPACT", "transient": "exponential"},
     ["applies to the built-in models"]),
])
def test_bad_impact_settings_are_named(changes, words):
    with pytest.raises(ParameterError) as error:
        ImpactParameters(**changes)
    for word in words:
        assert word in str(error.value)


def test_the_matched_coefficient_has_the_linear_impact_at_the_twap_rate():
    """coefficient none: η_p·(X/T)^β = η·(X/T), the linear impact per unit rate at TWAP."""
    for beta in (0.4, 0.6, 1.0):
        power = CompositeImpact(beta).power_law(PROBLEM)
        rate = PROBLEM.shares / PROBLEM.horizon
        assert power.coefficient * rate**beta == pytest.approx(PROBLEM.temporary_impact * rate,
                                                               rel=1e-14)
    assert CompositeImpact(1.0).power_law(PROBLEM).coefficient == PROBLEM.temporary_impact


# --- fills and moves, against MODEL §7 written out ------------------------------------------------

@pytest.mark.parametrize("side", ["sell", "buy"])
def test_power_law_fill_and_move(side):
    problem = PROBLEM.with_changes(side=side)
    model = CompositeImpact(0.5, 0.03)
    trades = np.array([120.0, 0.0, -35.0, 4.0])
    price = np.array([100.0, 99.0, 101.0, 100.5])
    sign = problem.side
    expected = price - sign * (0.01 * np.sign(trades)
                               + 0.03 * np.sign(trades) * np.abs(trades / 1.0) ** 0.5)
    state = model.initial_state(problem, 4)
    assert state.shape == (4, 0)
    np.testing.assert_allclose(model.fill_price(problem, price, trades, state), expected,
                               rtol=1e-15)
    move, after = model.price_move(problem, trades, state)
    np.testing.assert_array_equal(move, -sign * 1e-4 * trades)
    assert after.shape == (4, 0)


@pytest.mark.parametrize("trades", [np.array([37.5, -12.25, 0.0, 1e-7, 950.0]),
                                    np.random.default_rng(3).normal(0.0, 200.0, 64)])
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_exponent_one_gives_the_linear_models_digits(trades, side):
    """β = 1 with the matched coefficient (η_p = η) fills and moves exactly like LinearImpact:
    the same floating-point numbers, not merely close ones."""
    problem = PROBLEM.with_changes(side=side, horizon=3.7)
    linear, power = LinearImpact(), CompositeImpact(1.0)
    price = 100.0 + np.arange(trades.shape[0]) * 0.37
    empty = np.zeros((trades.shape[0], 0))
    np.testing.assert_array_equal(power.fill_price(problem, price, trades, empty),
                                  linear.fill_price(problem, price, trades, empty))
    np.testing.assert_array_equal(power.price_move(problem, trades, empty)[0],
                                  linear.price_move(problem, trades, empty)[0])


@pytest.mark.parametrize("kernel", [ExponentialKernel(0.02, 0.4), PowerLawKernel(0.03, 0.5, 1.5)])
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_transient_fill_displacement_and_move(kernel, side):
    """Over a whole schedule: the state's displacement is Σ_{j<k} G((k-j)τ)n_j, the fill pays
    half its own displacement, and the move of S is -side·(γn_k + I_k - I_{k-1})."""
    problem = PROBLEM.with_changes(side=side)
    tau, sign = problem.step_length, problem.side
    model = CompositeImpact(None, None, kernel)
    history = np.array([[300.0, 150.0, -40.0, 200.0, 0.0, 90.0, 170.0, 130.0],
                        [125.0] * 8])
    state = model.initial_state(problem, 2)
    assert state.shape == ((2, 1) if isinstance(kernel, ExponentialKernel) else (2, 8))
    price = np.array([100.0, 100.0])
    g0 = kernel.transient_impact
    for k in range(8):
        trade = history[:, k]
        before = np.array([sum(kernel_g(kernel, k - j, tau) * history[e, j] for j in range(k))
                           for e in range(2)])
        np.testing.assert_allclose(model.displacement(problem, state), before, rtol=1e-12,
                                   atol=1e-15)
        fill = model.fill_price(problem, price, trade, state)
        expected_fill = price - sign * (0.01 * np.sign(trade) + 0.002 / tau * trade
                                        + 0.5 * g0 * trade)
        np.testing.assert_allclose(fill, expected_fill, rtol=1e-14)
        move, state = model.price_move(problem, trade, state)
        after = np.array([sum(kernel_g(kernel, k + 1 - j, tau) * history[e, j]
                              for j in range(k + 1)) for e in range(2)])
        np.testing.assert_allclose(move, -sign * (1e-4 * trade + after - before), rtol=1e-11,
                                   atol=1e-14)
        price = price + move


@pytest.mark.parametrize("model", [CompositeImpact(0.6), CompositeImpact(None, None,
                                   ExponentialKernel(0.01, 0.7)),
                                   CompositeImpact(0.5, 0.02, PowerLawKernel(0.02, 0.6, 2.0))])
def test_expected_shortfall_is_model_7_written_out(model):
    """E = ½γX² - ½γΣn² + εΣ|n| + temporary cost + ½nᵀΓn - τΣα̂x + self_alpha·τ·Σx², with
    Γ built entry by entry and a schedule that reverses once."""
    problem = PROBLEM
    holdings = np.array([1000.0, 700.0, 720.0, 500.0, 300.0, 260.0, 120.0, 40.0, 0.0])
    trades = holdings[:-1] - holdings[1:]
    tau, gamma = problem.step_length, problem.permanent_impact
    drift = np.linspace(-0.01, 0.02, 8)
    power = model.power_law(problem)
    if power is None:
        temporary = problem.temporary_impact / tau * np.sum(trades**2)
    else:
        temporary = power.coefficient * tau ** (-power.exponent) * np.sum(
            np.abs(trades) ** (1.0 + power.exponent))
    transient = 0.0
    if model.kernel is not None:
        transient = 0.5 * sum(kernel_g(model.kernel, abs(k - j), tau) * trades[k] * trades[j]
                              for k in range(8) for j in range(8))
    expected = (0.5 * gamma * 1000.0**2 - 0.5 * gamma * np.sum(trades**2)
                + 0.01 * np.sum(np.abs(trades)) + temporary + transient
                - tau * np.sum(drift * holdings[1:]) + 2e-5 * tau * np.sum(holdings[1:] ** 2))
    got = model.expected_shortfall(problem, holdings, drift, self_alpha=2e-5)
    assert got == pytest.approx(expected, rel=1e-12)


# --- the configuration boundary -----------------------------------------------------------------

def test_a_kernel_that_is_not_positive_definite_is_rejected_by_name():
    config = SimulationConfig()
    with pytest.raises(ParameterError) as error:
        config.replace(impact={"transient": f"{THIS}:STEP_KERNEL"})
    message = str(error.value)
    assert "[impact]" in message and "StepKernel" in message
    assert "not positive definite" in message and "price manipulation" in message
    with pytest.raises(ParameterError) as error:  # believed only: rejected as well
        config.replace(beliefs={"impact": {"transient": f"{THIS}:STEP_KERNEL"}})
    assert "[beliefs.impact]" in str(error.value) and "StepKernel" in str(error.value)


def test_a_kernel_that_barely_decays_is_numerically_singular_and_rejected():
    with pytest.raises(ParameterError, match="resilience"):
        SimulationConfig().replace(impact={"transient": "exponential", "resilience": 1e-30})


def test_a_power_law_that_is_not_convex_is_rejected_with_the_fixes():
    """c(1+β)β·X^(β-1) = 1e-6·1.6·0.6·1000^(-0.4) ≈ 6.06e-8 < γ = 1e-4 (MODEL §7)."""
    with pytest.raises(ParameterError) as error:
        SimulationConfig().replace(impact={"model": "power", "coefficient": 1e-6})
    message = str(error.value)
    assert "[impact]" in message and "not convex" in message
    assert "must exceed permanent_impact 0.0001" in message and "increase coefficient" in message
    # just convex: the limit above γ by 1% passes
    limit = 1e-6 * 1.6 * 0.6 * 1000.0**-0.4
    SimulationConfig().replace(market={"permanent_impact": 0.99 * limit},
                               impact={"model": "power", "coefficient": 1e-6})
    with pytest.raises(ParameterError, match=r"\[beliefs.impact\].*not convex"):
        SimulationConfig().replace(beliefs={"impact": {"model": "power", "coefficient": 1e-6}})


def test_a_model_of_your_own_without_a_planner_is_refused_by_the_planning_policies():
    config = SimulationConfig().replace(impact={"model": "tests.simulator.test_extension_points"
                                                         ":IMPACT"},
                                        strategy={"name": "ac-adaptive"})
    with pytest.raises(PlanningError, match="no planner"):
        config.started_policy()
