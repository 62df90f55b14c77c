"""The built-in policies (acsim.agents.policies): forecasts, options, registry, beliefs.

Oracles: the count chain's conditional means written out in tests/oracles.py (the Kirman closed
form, powers of the loop-built random-walk matrix).
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.agents.policies import ExtendedAC, Observation
from acsim.simulator.config import SimulationConfig
from acsim.strategies.ensemble import EnsembleParameters
from tests.oracles import kirman_closed_form, loop_random_walk_matrix


def kirman(M, a1, a2, b, **extra):
    return EnsembleParameters(agents=M, switch_to_momentum=a1, switch_to_mean_reversion=a2,
                              herding=b, switching="kirman", **extra)


def policy_expected_field(ensemble_parameters, steps=12):
    config = SimulationConfig(ensemble=ensemble_parameters).replace(
        market={"steps": steps, "horizon": float(steps)}, extended={"coupling": 0.1})
    policy = ExtendedAC(forecast="model")
    policy.start(config.planning_beliefs())
    return policy.expected_field


def test_policy_model_forecast_uses_kirman_closed_form():
    """The `model` forecast of the extended agent: f̂_s = α0 (2 E[m_{k+s}|m] - M)/M."""
    M, a1, a2, b, scale = 20, 0.05, 0.02, 0.6, 3.0
    params = kirman(M, a1, a2, b, field_scale=scale)
    table = policy_expected_field(params)
    for s in range(table.shape[0]):
        for m in range(M + 1):
            expected = scale * (2.0 * kirman_closed_form(M, a1, a2, s, m) - M) / M
            assert table[s, m] == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_policy_model_forecast_for_random_walk_uses_matrix_powers():
    M, p, scale = 6, 0.3, 2.0
    params = EnsembleParameters(agents=M, switching="random-walk", step_probability=p,
                                field_scale=scale)
    table = policy_expected_field(params)
    P = loop_random_walk_matrix(M, p)
    for s in range(table.shape[0]):
        expected = scale * (2.0 * np.linalg.matrix_power(P, s) @ np.arange(M + 1) - M) / M
        np.testing.assert_allclose(table[s], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("forecast", ["model", "persistent", "none"])
def test_planning_drifts_are_side_times_drift_plus_coupling_times_forecast(forecast):
    """The planning drift a_k = side·(α + coupling·f̂_k) of every episode and remaining step,
    written out from the forecast: the `model` forecast's precomputed rows by count give the
    same digits as computing it from the forecast (buy side, nonzero α and coupling)."""
    config = SimulationConfig(ensemble=kirman(20, 0.05, 0.02, 0.6)).replace(
        market={"steps": 12, "horizon": 12.0, "side": "buy", "drift": 0.03},
        extended={"coupling": 0.1})
    policy = ExtendedAC(forecast=forecast)
    policy.start(config.planning_beliefs())
    counts = np.array([0, 7, 20, 7])
    observation = Observation(step=5, remaining_steps=8, holdings=np.ones(4),
                              price=np.full(4, 100.0), field=np.array([-1.0, 0.3, 1.0, 0.3]),
                              momentum_count=counts, past_trades=np.zeros((4, 4)))
    forecasts = policy.field_forecast(observation)
    expected = -1.0 * (0.03 + 0.1 * forecasts)  # a buyer: side -1
    assert np.array_equal(policy.planning_drifts(observation), expected)
    if forecast == "model":
        assert np.array_equal(forecasts, policy.expected_field.T[counts, :8])
