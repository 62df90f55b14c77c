"""Monte Carlo IS of the static AC schedule vs the closed-form E and V (MODEL.md §3).

With coupling = self_alpha = 0 the field has no effect on prices, and realised IS of a
deterministic schedule is Gaussian with

    E = ½γX² + ε Σ|n_k| + (η̃/τ) Σ n_k² - τ Σ side·α·x_k,   η̃ = η - γτ/2
    V = σ² τ Σ x_k²

(written out here; strategies.costs.schedule_cost must agree). Tests (fixed seeds):
- sample mean within 4 standard errors of E;
- sample variance within 4 standard errors of V (SE = sqrt((m4 - s⁴)/n)) and inside the
  two-sided 1e-4 chi-square interval (n-1)s²/V ∈ [χ²_{n-1}(5e-5), χ²_{n-1}(1-5e-5)];
- with an exogenous drift, the drift term -τ Σ side·α x_k is many standard errors
  large, so the mean test confirms it (a model ignoring the drift would fail).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.strategies.almgren_chriss import optimal_holdings
from acsim.strategies.costs import schedule_cost

EPISODES = 400


def config_for(side, drift, seed):
    return SimulationConfig().replace(
        market={"side": side, "drift": drift},
        extended={"coupling": 0.0, "self_alpha": 0.0},
        # the ensemble is irrelevant with coupling 0; a tiny random-walk one is cheap
        ensemble={"agents": 4, "switching": "random-walk"},
        strategy={"name": "ac-static"},
        simulation={"seed": seed},
    )


def closed_form(problem, holdings):
    tau = problem.horizon / problem.steps
    trades = holdings[:-1] - holdings[1:]
    carried = holdings[1:]
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * tau
    drift_term = -tau * np.sum(problem.side * problem.drift * carried)
    expected = (0.5 * problem.permanent_impact * problem.shares**2
                + problem.half_spread * np.sum(np.abs(trades))
                + eta_tilde / tau * np.sum(trades**2) + drift_term)
    variance = problem.volatility**2 * tau * np.sum(carried**2)
    return expected, variance, drift_term


@pytest.mark.parametrize("side, drift, seed", [
    ("sell", 0.0, 101),
    ("sell", 0.02, 202),
    ("buy", 0.02, 303),
    ("buy", -0.015, 404),
])
def test_static_ac_mean_and_variance_match_closed_form(side, drift, seed):
    config = config_for(side, drift, seed)
    problem = config.market
    planned = optimal_holdings(problem)
    expected, variance, drift_term = closed_form(problem, planned)
    cost = schedule_cost(problem, planned)
    assert cost.expected_shortfall == pytest.approx(expected, rel=1e-10)
    assert cost.variance == pytest.approx(variance, rel=1e-10)

    results = [run_episode(config, e) for e in range(EPISODES)]
    for result in results[:5]:  # the agent executes the planned schedule
        np.testing.assert_allclose(result.holdings[0], planned, rtol=0, atol=1e-9 * problem.shares)
    shortfall = np.array([r.shortfall[0] for r in results])

    n = shortfall.shape[0]
    mean = shortfall.mean()
    s2 = shortfall.var(ddof=1)
    stderr_mean = np.sqrt(s2 / n)
    assert abs(mean - expected) < 4 * stderr_mean, (mean, expected, stderr_mean)

    m4 = np.mean((shortfall - mean) ** 4)
    stderr_var = np.sqrt((m4 - s2**2) / n)
    assert abs(s2 - variance) < 4 * stderr_var, (s2, variance, stderr_var)
    ratio = (n - 1) * s2 / variance
    assert stats.chi2.ppf(5e-5, n - 1) < ratio < stats.chi2.ppf(1 - 5e-5, n - 1)

    if drift != 0.0:
        # power: the drift term is far outside the tolerance, so it is really confirmed
        assert abs(drift_term) > 10 * stderr_mean
        # and its sign: positive α helps a seller, hurts a buyer
        assert np.sign(drift_term) == -np.sign(drift) * (1 if side == "sell" else -1)


def test_variance_test_has_power():
    """The variance tolerance is tight enough to reject a σ off by 15%."""
    problem = config_for("sell", 0.0, 1).market
    _, variance, _ = closed_form(problem, optimal_holdings(problem))
    # Gaussian IS: SE of the sample variance ≈ V·sqrt(2/n)
    assert 4 * variance * np.sqrt(2.0 / EPISODES) < (1.15**2 - 1.0) * variance
