"""The policies plan with the impact model and the volatility regimes they believe (MODEL §7-§8).

Oracles: the cvxpy references of the planners (`reference_impact.ImpactReference`, CLARABEL with
power cones) solved from the state each policy observed, with the past displacement summed here
from its own past trades and the kernel's definition; scipy's SLSQP on the combined objective
written out (power law plus transient impact); the Obizhaeva-Wang symmetry of the exponential
kernel (equal first and last trades, equal interior trades); the exact discrete AC schedule of
the remaining horizon at the current regime's σ; the regime planner's own value function against
the Monte Carlo mean of the objective it minimises (IS + λ·Σσ_{s_k}²τx_k², seeded, 4 standard
errors).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from acsim.agents.policies import Beliefs, Observation
from acsim.simulator.config import SimulationConfig
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import almgren_chriss
from acsim.strategies.costs import trades_from_holdings
from acsim.strategies.power_law import PowerLawImpact
from acsim.strategies.reference_impact import ImpactReference
from acsim.strategies.regimes import RegimePlanner


class Recorder:
    """Wraps a started policy; records what it saw and what it traded."""

    def __init__(self, policy) -> None:
        self.policy, self.seen = policy, []

    def start(self, beliefs: Beliefs) -> None:
        self.policy.start(beliefs)

    def trades(self, observation: Observation) -> np.ndarray:
        trades = self.policy.trades(observation)
        self.seen.append((observation, trades.copy()))
        return trades


def recorded(config, episodes=3):
    recorder = Recorder(config.strategy.build())
    simulate_block(config, 0, 0, episodes, policy=recorder)
    return recorder.seen


def market(impact, strategy, volatility=0.1, **tables):
    return SimulationConfig(seed=6).replace(
        market={"steps": 8, "horizon": 8.0, "drift": 0.004, "volatility": volatility},
        extended={"coupling": 0.02, "self_alpha": 1e-5}, impact=impact, strategy=strategy,
        **tables)


def planning_drift(config, observation, forecast):
    """side·(α + coupling·f̂) for the remaining steps (persistent forecast: f̂ = f_k)."""
    problem = config.market
    coupling = config.extended.coupling if forecast else 0.0
    return problem.side * (problem.drift + coupling * observation.field[:, None]
                           * np.ones(observation.remaining_steps))


def urgency(config, feedback):
    problem = config.market
    return (problem.risk_aversion * problem.volatility**2
            + (config.extended.self_alpha if feedback else 0.0))


@pytest.mark.parametrize("strategy", [{"name": "ac-adaptive"},
                                      {"name": "extended", "forecast": "persistent"}])
def test_power_law_policies_trade_the_cvxpy_optimum_from_their_state(strategy):
    config = market({"model": "power", "exponent": 0.5}, strategy)
    feedback = strategy["name"] == "extended"
    power = config.impact.impact.power_law(config.market)
    reference = ImpactReference(config.market.step_length, urgency(config, feedback),
                                permanent_impact=config.market.permanent_impact,
                                power_law=PowerLawImpact(power.coefficient, power.exponent))
    for observation, trades in recorded(config)[::3]:
        drift = planning_drift(config, observation, feedback)
        for e in range(2):
            plan = reference.holdings(observation.holdings[e], drift[e])
            assert trades[e] == pytest.approx(plan[0] - plan[1], abs=1e-5 * 1000.0)


def kernel_g(kernel, times):
    return kernel.transient_impact * np.exp(-kernel.resilience * np.asarray(times))


@pytest.mark.parametrize("strategy", [{"name": "ac-adaptive"},
                                      {"name": "extended", "forecast": "persistent"}])
def test_transient_policies_carry_the_displacement_of_their_own_past_trades(strategy):
    """At step k the policy trades the first trade of the cvxpy optimum given v_i = Σ_j
    G((k-1+i-j)τ)·n_j, summed here from the trades it made."""
    config = market({"transient": "exponential", "transient_impact": 0.004,
                     "resilience": 0.3}, strategy, volatility=0.2)
    feedback = strategy["name"] == "extended"
    problem, kernel = config.market, config.impact.impact.kernel
    tau = problem.step_length
    reference = ImpactReference(tau, urgency(config, feedback),
                                temporary_impact=problem.temporary_impact,
                                permanent_impact=problem.permanent_impact, kernel=kernel)
    moved = 0.0
    for observation, trades in recorded(config)[1::2]:
        done, remaining = observation.step - 1, observation.remaining_steps
        drift = planning_drift(config, observation, feedback)
        for e in range(2):
            past = observation.past_trades[e]
            displacement = np.array([sum(kernel_g(kernel, (done + i - j) * tau) * past[j - 1]
                                         for j in range(1, done + 1))
                                     for i in range(1, remaining + 1)])
            plan = reference.holdings(observation.holdings[e], drift[e], displacement)
            assert trades[e] == pytest.approx(plan[0] - plan[1], abs=1e-6 * 1000.0)
            blind = reference.holdings(observation.holdings[e], drift[e])
            moved = max(moved, abs((blind[0] - blind[1]) - trades[e]))
    assert moved > 1.0  # the carried displacement changes the trade by more than a share


def test_static_plan_under_power_law_and_transient_impact_is_the_convex_optimum():
    """ac-static under power-law temporary impact with an exponential kernel: the schedule
    minimises c·Σn^(1+β) - ½γΣn² + ½nᵀΓn + qτΣx² - τΣαx with n >= 0 (scipy SLSQP on the
    objective written out)."""
    config = market({"model": "power", "exponent": 0.6, "transient": "exponential",
                     "transient_impact": 0.004, "resilience": 0.3}, {"name": "ac-static"},
                    volatility=0.2)
    problem = config.market
    schedule = config.started_policy().planned
    power = config.impact.impact.power_law(problem)
    tau, steps, shares = problem.step_length, problem.steps, problem.shares
    c = power.coefficient * tau ** -power.exponent
    q = problem.risk_aversion * problem.volatility**2
    lags = np.abs(np.subtract.outer(np.arange(steps), np.arange(steps))) * tau
    gamma_matrix = 0.004 * np.exp(-0.3 * lags)

    def objective(trades):
        held = shares - np.cumsum(trades)
        return (c * np.sum(np.abs(trades) ** (1 + power.exponent))
                - 0.5 * problem.permanent_impact * np.sum(trades**2)
                + 0.5 * trades @ gamma_matrix @ trades + q * tau * np.sum(held**2)
                - tau * problem.drift * np.sum(held)) / shares

    solution = minimize(objective, np.full(steps, shares / steps), method="SLSQP",
                        bounds=[(0.0, shares)] * steps,
                        constraints=[{"type": "eq", "fun": lambda n: np.sum(n) - shares}],
                        options={"ftol": 1e-14, "maxiter": 500})
    assert solution.success
    np.testing.assert_allclose(schedule, solution.x, rtol=0.0, atol=1e-3 * shares)
    assert objective(schedule) <= objective(solution.x) + 1e-9


def test_obizhaeva_wang_in_the_simulated_market():
    """Exponential kernel, (almost) no other cost and no risk aversion: static AC plans the
    symmetric discrete optimum (equal first and last trades, equal interior trades, larger
    ends), and adaptive AC, carrying the displacement of its own past trades through noisy
    prices, trades exactly that plan in every episode."""
    config = SimulationConfig(seed=2).replace(
        market={"steps": 12, "horizon": 12.0, "volatility": 0.2, "half_spread": 0.0,
                "temporary_impact": 1e-9, "permanent_impact": 0.0, "risk_aversion": 0.0},
        impact={"transient": "exponential", "transient_impact": 0.004, "resilience": 0.25})
    static = simulate_block(config.replace(strategy={"name": "ac-static"}), 0, 0, 4)
    adaptive = simulate_block(config.replace(strategy={"name": "ac-adaptive"}), 0, 0, 4)
    trades = static.trades[0]
    # η = 1e-9 (the market needs η > 0) moves the pure kernel optimum by a few parts in 10⁶
    assert trades[0] == pytest.approx(trades[-1], rel=1e-5)
    np.testing.assert_allclose(trades[1:-1], trades[1], rtol=1e-5)
    assert trades[0] > 2.0 * trades[1]
    np.testing.assert_allclose(adaptive.trades, static.trades, rtol=0.0, atol=1e-8 * 1000.0)
    assert not np.allclose(static.prices[0], static.prices[1])  # the prices really differ


def test_adaptive_ac_re_solves_with_the_current_regimes_volatility():
    """Certainty equivalence: in regime s the trade is the first trade of the exact discrete AC
    schedule of the remaining order with σ = σ_s."""
    regimes = {"model": "markov", "volatilities": (0.05, 0.4),
               "transition": ((0.7, 0.3), (0.4, 0.6))}
    config = SimulationConfig(seed=3).replace(market={"steps": 8, "horizon": 8.0},
                                              regimes=regimes, strategy={"name": "ac-adaptive"})
    problem = config.market
    seen = set()
    for observation, trades in recorded(config, 6):
        for e in range(6):
            regime = int(observation.regime[e])
            seen.add(regime)
            remaining = observation.remaining_steps
            rest = problem.with_changes(shares=float(observation.holdings[e]), steps=remaining,
                                        horizon=float(remaining),
                                        volatility=regimes["volatilities"][regime])
            plan = almgren_chriss.optimal_holdings(rest)
            assert trades[e] == pytest.approx(plan[0] - plan[1], rel=1e-10)
    assert seen == {0, 1}


def test_regime_aware_with_one_regime_is_adaptive_ac():
    """No believed regimes: the dynamic programme has one regime, σ = the believed volatility;
    it trades the adaptive AC (and, with its feedback terms, the extended) plan."""
    base = SimulationConfig(seed=4).replace(market={"steps": 10, "horizon": 10.0},
                                            extended={"coupling": 0.01, "self_alpha": 1e-5})
    pairs = (({"name": "regime-aware", "forecast": "none"}, {"name": "ac-adaptive"}),
             ({"name": "regime-aware", "forecast": "model"},
              {"name": "extended", "forecast": "model"}))
    for aware, other in pairs:
        a = simulate_block(base.replace(strategy=aware,
                                        beliefs={"extended": {"self_alpha": 0.0}}
                                        if aware["forecast"] == "none" else {}), 0, 0, 50)
        b = simulate_block(base.replace(strategy=other), 0, 0, 50)
        np.testing.assert_allclose(a.trades, b.trades, rtol=0.0, atol=1e-9 * 1000.0)


def test_regime_aware_policy_realises_its_value_and_beats_the_alternatives():
    """8,192 episodes (seed 1) of a two-regime market (σ = 0.05 / 0.4, sticky): the mean of the
    objective the programme minimises, IS + λ·Σσ_{s_k}²τx_k², is the programme's value
    ½γX² + εX + Σ_s π_s·W_N(X, s) within 4 standard errors; the certainty-equivalent adaptive
    AC and the regime-blind adaptive AC (σ = the stationary RMS volatility) do worse, paired,
    by more than 4 standard errors."""
    regimes = {"model": "markov", "volatilities": (0.05, 0.4),
               "transition": ((0.9, 0.1), (0.2, 0.8))}
    law = np.array([2.0 / 3.0, 1.0 / 3.0])
    rms = float(np.sqrt(law @ np.square(regimes["volatilities"])))
    base = SimulationConfig(seed=1).replace(market={"steps": 10, "horizon": 10.0,
                                                    "volatility": rms}, regimes=regimes)
    problem = base.market

    def objective(strategy, **beliefs):
        config = base.replace(strategy=strategy, beliefs=beliefs)
        values = []
        for block in (0, 1):
            result = simulate_block(config, block)
            sigma = np.asarray(regimes["volatilities"])[result.regimes]
            values.append(result.shortfall + problem.risk_aversion * np.sum(
                sigma**2 * problem.step_length * result.holdings[:, 1:] ** 2, axis=1))
        return np.concatenate(values)

    aware = objective({"name": "regime-aware", "forecast": "none"})
    planner = RegimePlanner(base.regimes.regimes, problem.step_length,
                            problem.effective_temporary_impact, problem.risk_aversion, 0.0,
                            problem.steps)
    value = planner.cost_to_go(np.full(2, problem.shares), np.array([0, 1]),
                               np.zeros(problem.steps))
    expected = (0.5 * problem.permanent_impact * problem.shares**2
                + problem.half_spread * problem.shares + law @ value)
    error = aware.std(ddof=1) / np.sqrt(aware.size)
    assert abs(aware.mean() - expected) < 4.0 * error
    for other in (objective({"name": "ac-adaptive"}),
                  objective({"name": "ac-adaptive"}, regimes={"model": "none"})):
        difference = other - aware
        assert difference.mean() > 4.0 * difference.std(ddof=1) / np.sqrt(difference.size)


def test_static_schedule_under_a_believed_impact_model():
    """ac-static that believes the square-root law in a linear market trades the power-law
    planner's schedule, not the AC one."""
    config = market({"model": "linear"}, {"name": "ac-static"},
                    beliefs={"impact": {"model": "power", "exponent": 0.5}})
    schedule = config.started_policy().planned
    believed = config.planning_beliefs()
    power = believed.impact.power_law(believed.market)
    plan = ImpactReference(believed.market.step_length, urgency(config, False),
                           permanent_impact=believed.market.permanent_impact,
                           power_law=power).holdings(1000.0, np.full(8, 0.004))
    np.testing.assert_allclose(schedule, trades_from_holdings(plan), atol=1e-5 * 1000.0)
    linear = trades_from_holdings(almgren_chriss.optimal_holdings(config.market))
    assert np.max(np.abs(schedule - linear)) > 1.0


def test_regime_blind_programme_in_a_regime_market_is_regime_blind_adaptive_ac():
    """Believing no regimes, the programme has one regime and ignores the regime it is shown:
    it trades as regime-blind adaptive AC does."""
    regimes = {"model": "markov", "volatilities": (0.05, 0.4),
               "transition": ((0.9, 0.1), (0.2, 0.8))}
    base = SimulationConfig(seed=4).replace(market={"steps": 10, "horizon": 10.0},
                                            regimes=regimes,
                                            beliefs={"regimes": {"model": "none"}})
    aware = simulate_block(base.replace(strategy={"name": "regime-aware", "forecast": "none"}),
                           0, 0, 100)
    blind = simulate_block(base.replace(strategy={"name": "ac-adaptive"}), 0, 0, 100)
    assert len(np.unique(aware.regimes)) == 2
    np.testing.assert_allclose(aware.trades, blind.trades, rtol=0.0, atol=1e-9 * 1000.0)
