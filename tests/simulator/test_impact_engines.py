"""Power-law and transient impact (MODEL.md §7) in the price engine and both engines.

Oracles:
- with σ = 0, realised implementation shortfall equals the impact model's planned E of the
  executed schedule (written out in tests/strategies/test_impact_models.py), for every model,
  both sides and static, adaptive and extended strategies; the adaptive strategies (which carry
  the transient state from their own past trades) trade exactly the static plan (time
  consistency), so realised IS is also the planned optimum's E;
- β = 1 is the linear model: the same paths, digit for digit, in both engines;
- the seen price S_k = P_k - side·I_k with P following §2 (drift, noise rebuilt from the stream
  protocol, permanent impact) and I summed from the trade history;
- the Mesa model replays vectorised episodes bit for bit under every new model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.simulator.vectorised import simulate_block
from acsim.strategies.transient import ExponentialKernel
from tests.oracles import price_shocks
from tests.simulator.test_vectorised_replay import assert_replays

THIS = "tests.simulator.test_impact_engines"


@dataclass(frozen=True)
class HyperbolicKernel:
    """A kernel of our own, G(t) = G_0/(1 + t/t_0): convex and decreasing, so positive definite."""

    transient_impact: float = 0.003
    time_scale: float = 2.0

    def values(self, times):
        return self.transient_impact / (1.0 + np.asarray(times, dtype=float) / self.time_scale)


HYPERBOLIC = HyperbolicKernel()

MODELS = {
    "power-0.5": {"model": "power", "exponent": 0.5},
    "power-1": {"model": "power", "exponent": 1.0},
    "exponential": {"transient": "exponential", "transient_impact": 0.004, "resilience": 0.4},
    "propagator": {"transient": "power-law", "transient_impact": 0.004,
                   "transient_exponent": 0.6, "transient_time": 1.5},
    "power+exponential": {"model": "power", "exponent": 0.6, "transient": "exponential",
                          "transient_impact": 0.004, "resilience": 0.4},
}
STRATEGIES = {"ac-static": {"name": "ac-static"}, "ac-adaptive": {"name": "ac-adaptive"},
              "extended": {"name": "extended", "forecast": "persistent"}}


def market(impact, strategy, side="sell", volatility=0.0, seed=4, self_alpha=1e-5):
    """8 steps of a small market with drift and self-alpha; the strategy believes σ = 0.1
    (so it is not TWAP) whatever the market's σ."""
    sign = 1.0 if side == "sell" else -1.0
    return SimulationConfig(seed=seed).replace(
        market={"steps": 8, "horizon": 8.0, "volatility": volatility, "side": side,
                "drift": sign * 0.004},
        extended={"coupling": 0.0, "self_alpha": self_alpha}, impact=impact, strategy=strategy,
        beliefs={"market": {"volatility": 0.1}})


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_noise_free_shortfall_is_the_planned_expected_shortfall(model, side):
    static = None
    for name in STRATEGIES:
        if model == "power+exponential" and name != "ac-adaptive" and side == "buy":
            continue  # the convex reference is slow: one strategy on the buy side
        config = market(MODELS[model], STRATEGIES[name], side)
        problem, impact = config.market, config.impact.impact
        fast = simulate_block(config, 0, 0, 3)
        slow = run_episode(config, 1)
        np.testing.assert_array_equal(fast.prices[1], slow.prices[0])
        np.testing.assert_array_equal(fast.shortfall[1:2], slow.shortfall)
        self_alpha = 1e-5
        drift = problem.side * problem.drift
        for e in range(3):
            expected = impact.expected_shortfall(problem, fast.holdings[e], drift, self_alpha)
            assert fast.shortfall[e] == pytest.approx(expected, rel=1e-11), (model, name)
        if name == "ac-static":
            static = fast.holdings[0]
        elif name == "ac-adaptive" and static is not None:
            np.testing.assert_allclose(fast.holdings[0], static, rtol=0.0,
                                       atol=(1e-5 if "power+" in model else 1e-8) * 1000.0)


@pytest.mark.parametrize("strategy", [{"name": "twap"}, {"name": "ac-adaptive"},
                                      {"name": "extended", "forecast": "model"}])
def test_exponent_one_is_the_linear_market_digit_for_digit(strategy):
    """The same policy (planning with linear impact) in a power market with β = 1 and in the
    linear market: identical paths in the vectorised and the Mesa engine, with noise, field
    and self-alpha."""
    linear = SimulationConfig(seed=9).replace(
        market={"steps": 10, "horizon": 10.0}, extended={"coupling": 0.01, "self_alpha": 1e-5},
        strategy=strategy)
    power = linear.replace(impact={"model": "power", "exponent": 1.0},
                           beliefs={"impact": {"model": "linear"}})
    a, b = simulate_block(linear, 0, 0, 200), simulate_block(power, 0, 0, 200)
    for name in ("prices", "fills", "holdings", "trades", "shortfall"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(run_episode(power, 7).shortfall, a.shortfall[7:8])


def test_planning_with_exponent_one_is_planning_with_linear_impact():
    """ac-adaptive that believes the power law with β = 1 trades the linear plan (to the
    solvers' precision; the power-law planner is a different algorithm) when no plan buys back."""
    linear = SimulationConfig(seed=2).replace(market={"steps": 10, "horizon": 10.0},
                                              strategy={"name": "ac-adaptive"})
    power = linear.replace(impact={"model": "power", "exponent": 1.0})
    a, b = simulate_block(linear, 0, 0, 100), simulate_block(power, 0, 0, 100)
    assert (a.trades >= 0.0).all()
    np.testing.assert_allclose(b.trades, a.trades, rtol=0.0, atol=1e-9 * 1000.0)


@pytest.mark.parametrize("model", ["exponential", "propagator"])
@pytest.mark.parametrize("side", ["sell", "buy"])
def test_seen_price_is_the_undisturbed_price_minus_the_displacement(model, side):
    """S_k = P_k - side·I_k: P_k = S_0 + Σ (α τ + σ√τ ξ - side·γ n) (§2, shocks rebuilt from the
    stream protocol) and I_k = Σ_{j<=k} G((k+1-j)τ)·n_j from the trades."""
    config = market(MODELS[model], {"name": "ac-adaptive"}, side, volatility=0.2,
                    self_alpha=0.0)
    problem, kernel = config.market, config.impact.impact.kernel
    result = simulate_block(config, 0, 0, 5)
    shocks = price_shocks(config.seed, 0, 5, 8)
    tau, sign = problem.step_length, problem.side
    for e in range(5):
        undisturbed = problem.price
        for k in range(1, 9):
            trades = result.trades[e, :k]
            undisturbed += (problem.drift * tau + 0.2 * np.sqrt(tau) * shocks[e, k - 1]
                            - sign * problem.permanent_impact * trades[-1])
            lags = (k + 1 - np.arange(1, k + 1)) * tau
            displacement = np.sum(kernel.values(lags) * trades)
            assert result.prices[e, k] == pytest.approx(undisturbed - sign * displacement,
                                                        rel=1e-12)
        assert isinstance(kernel, ExponentialKernel) == (model == "exponential")


REPLAY = [("power-0.5", "extended/model", "sell"), ("power-0.5", "ac-static", "buy"),
          ("exponential", "extended/model", "buy"),
          ("exponential", "extended/model+no-buyback", "sell"),
          ("propagator", "extended/persistent", "sell"), ("propagator", "ac-static", "buy")]
REPLAY_STRATEGIES = {"extended/model": {"name": "extended", "forecast": "model"},
                     "extended/persistent": {"name": "extended", "forecast": "persistent"},
                     "ac-static": {"name": "ac-static"},
                     "extended/model+no-buyback": {"name": "extended", "forecast": "model",
                                                   "no_buyback": True}}


def replay_market(model, strategy, side):
    """Strong field, drift and self-alpha, noise (a drift of 1.0 makes unconstrained transient
    plans buy back)."""
    sign = 1.0 if side == "sell" else -1.0
    return SimulationConfig(seed=5).replace(
        market={"steps": 10, "horizon": 10.0, "volatility": 0.2, "side": side,
                "drift": sign * 1.0},
        extended={"coupling": 0.05, "self_alpha": 1e-5},
        ensemble={"agents": 12, "herding": 0.5, "switch_to_momentum": 0.1,
                  "switch_to_mean_reversion": 0.15, "initial": "stationary"},
        impact=MODELS[model], strategy=REPLAY_STRATEGIES[strategy])


@pytest.mark.parametrize("model, strategy, side", REPLAY)
def test_mesa_replays_vectorised_episodes_under_the_new_models(model, strategy, side):
    """Every path equal bit for bit (blocks 0 and 1, offsets > 0)."""
    config = replay_market(model, strategy, side)
    assert_replays(config, 0, 3, 3)
    fast = assert_replays(config, 1, 17, 2)
    if strategy.endswith("no-buyback"):  # not vacuous: the free plans buy back here
        assert (fast.trades >= 0.0).all()
        free = simulate_block(replay_market(model, "extended/model", side), 1, 17, 2)
        assert (free.trades < 0.0).any()


def test_the_combined_model_replays():
    config = market(MODELS["power+exponential"], {"name": "ac-adaptive"}, "sell", volatility=0.2)
    assert_replays(config, 0, 1, 1)


def test_a_kernel_of_our_own_named_by_path_runs_in_both_engines():
    """transient = "package.module:NAME": the market keeps the last N trades, the transient
    planner plans with the kernel; with σ = 0 realised IS is the planned E, and Mesa replays."""
    config = market({"transient": f"{THIS}:HYPERBOLIC"}, {"name": "ac-adaptive"})
    assert config.impact.impact.kernel is HYPERBOLIC
    result = simulate_block(config, 0, 0, 2)
    problem = config.market
    expected = config.impact.impact.expected_shortfall(problem, result.holdings[0],
                                                       problem.drift, 1e-5)
    assert result.shortfall[0] == pytest.approx(expected, rel=1e-11)
    static = simulate_block(config.replace(strategy={"name": "ac-static"}), 0, 0, 1)
    np.testing.assert_allclose(result.holdings[0], static.holdings[0], atol=1e-8 * 1000.0)
    assert_replays(config.replace(market={"volatility": 0.2}), 0, 1, 1)
