"""The implementation-shortfall identity of MODEL.md §2 on simulated Mesa episodes.

For every strategy, both sides and both switching rules, on every episode:

    IS = side·(X·S_0 - Σ n_k S̃_k)                               (definition, computed here)
       = -Σ side·D_k·x_k + ε Σ|n_k| + (η/τ) Σ n_k²,  D_k = S_k - S_{k-1}   (identity)

to 1e-9 relative, and the reported `shortfall` / `shortfall_bps` equal the definition.
Also the fills follow S̃_k = S_{k-1} - side·(ε sgn n_k + (η/τ) n_k) and the order completes.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from tests.oracles import strategy_settings

STEPS = 12
PROFILE = tuple(float(v) for v in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8))

STRATEGIES = strategy_settings(PROFILE)
EPISODES = (0, 1, 5)


def config_for(strategy, side, switching):
    return SimulationConfig().replace(
        market={"steps": STEPS, "horizon": 6.0, "shares": 1000.0, "price": 50.0,
                "volatility": 0.3, "half_spread": 0.02, "temporary_impact": 0.003,
                "permanent_impact": 2e-4, "risk_aversion": 0.002, "drift": 0.03, "side": side},
        extended={"coupling": 0.3, "self_alpha": 2e-5},
        ensemble={"agents": 20, "switching": switching, "switch_to_momentum": 0.05,
                  "switch_to_mean_reversion": 0.05, "herding": 0.4, "step_probability": 0.3,
                  "initial": "stationary", "field_scale": 5.0},
        strategy=STRATEGIES[strategy],
        simulation={"seed": 2025},
    )


def check_episode(config, result):
    problem = config.market
    side = problem.side
    tau = problem.horizon / problem.steps
    prices, fills = result.prices[0], result.fills[0]
    holdings, trades = result.holdings[0], result.trades[0]
    X, S0 = problem.shares, problem.price
    # path bookkeeping
    assert prices[0] == S0 and holdings[0] == X
    np.testing.assert_allclose(holdings[1:], holdings[:-1] - trades, rtol=0, atol=1e-9 * X)
    assert abs(holdings[-1]) <= 1e-9 * X
    np.testing.assert_allclose(
        fills, prices[:-1] - side * (problem.half_spread * np.sign(trades)
                                     + problem.temporary_impact / tau * trades),
        rtol=1e-13, atol=0)
    # definition and identity
    definition = side * (X * S0 - np.sum(trades * fills))
    moves = np.diff(prices)
    identity = (-np.sum(side * moves * holdings[1:]) + problem.half_spread * np.sum(np.abs(trades))
                + problem.temporary_impact / tau * np.sum(trades**2))
    scale = max(abs(definition), 1e-3)
    assert abs(identity - definition) <= 1e-9 * scale, (identity, definition)
    assert abs(result.shortfall[0] - definition) <= 1e-9 * scale
    assert result.shortfall_bps[0] == pytest.approx(1e4 * definition / (X * S0), rel=1e-9)
    return trades


@pytest.mark.parametrize("switching", ["kirman", "random-walk"])
@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_is_identity_on_every_episode(strategy, side, switching):
    config = config_for(strategy, side, switching)
    all_trades = [check_episode(config, run_episode(config, e)) for e in EPISODES]
    all_trades = np.array(all_trades)
    if "no-buyback" in strategy:
        assert np.all(all_trades >= -1e-9 * config.market.shares)


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_scenario_exercises_trades_against_the_order(side):
    """Guard: the parameters above make the extended agent trade against the order
    (n_k < 0) on some episodes, so the ε·Σ|n_k| term and sgn(n_k) of the fill are
    exercised by the identity test, not only positive trades."""
    config = config_for("extended/persistent", side, "kirman")
    trades = np.concatenate([run_episode(config, e).trades[0] for e in range(10)])
    assert np.any(trades < 0.0) and np.any(trades > 0.0)
    constrained = config_for("extended/persistent+no-buyback", side, "kirman")
    trades_nb = np.concatenate([run_episode(constrained, e).trades[0] for e in range(10)])
    assert np.all(trades_nb >= -1e-9 * constrained.market.shares)
    assert np.max(np.abs(trades_nb - trades)) > 1.0  # the constraint binds somewhere
