"""Large vectorised Monte Carlo of the static AC schedule vs the closed-form E and V.

With coupling = 0 the field never reaches prices, and the IS of a deterministic schedule
is exactly Gaussian (MODEL.md §2, identity IS = -Σ D_k x_k + ε Σ|n_k| + (η/τ) Σ n_k²):

    E = ½γX² + ε Σ|n_k| + (η̃/τ) Σ n_k² - τ Σ side·α·x_k + self_alpha·τ Σ x_k²,  η̃ = η - γτ/2
    V = σ² τ Σ x_k²

Two oracles for E and V: strategies.costs.schedule_cost on the executed schedule
strategies.almgren_chriss.optimal_holdings(config.market), and the formula above written
out here. The study runs 200,704 episodes (49 blocks) per case through `run_study`
(inline), over sides, drifts and self-alpha, and each case's sample mean and variance
must be within 4 standard errors: SE(mean) = √(V/n), SE(var) = V·√(2/(n-1)) (Gaussian).
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.agents.policies import strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.study import Study, run_study
from acsim.strategies.almgren_chriss import optimal_holdings
from acsim.strategies.costs import schedule_cost
from acsim.strategies.parameters import ExtendedParameters

EPISODES = 49 * BLOCK_SIZE


def written_out(problem, holdings, self_alpha):
    tau = problem.horizon / problem.steps
    trades = holdings[:-1] - holdings[1:]
    carried = holdings[1:]
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * tau
    expected = (0.5 * problem.permanent_impact * problem.shares**2
                + problem.half_spread * np.sum(np.abs(trades))
                + eta_tilde / tau * np.sum(trades**2)
                - tau * problem.side * problem.drift * np.sum(carried)
                + self_alpha * tau * np.sum(carried**2))
    variance = problem.volatility**2 * tau * np.sum(carried**2)
    return expected, variance


@pytest.fixture(scope="module")
def static_study(tmp_path_factory):
    base = SimulationConfig(episodes=EPISODES, seed=0).replace(
        extended={"coupling": 0.0, "self_alpha": 0.0},
        # irrelevant with coupling 0; a tiny random-walk ensemble is cheap
        ensemble={"agents": 4, "switching": "random-walk"})
    study = Study(base, (strategy("ac-static"),),
                  sweep={"market.side": ("sell", "buy"), "market.drift": (0.0, 0.02),
                         "extended.self_alpha": (0.0, 1e-4)})
    out = tmp_path_factory.mktemp("static")
    return study, run_study(study, out, backend="inline", progress=False)


def test_sample_mean_and_variance_match_the_closed_form(static_study):
    study, results = static_study
    assert len(results.summary) == 8
    for case, (_, row) in zip(study.cases(), results.summary.iterrows()):
        problem = case.config.market
        self_alpha = case.config.extended.self_alpha
        holdings = optimal_holdings(problem)
        cost = schedule_cost(problem, holdings, ExtendedParameters(0.0, self_alpha))
        expected, variance = written_out(problem, holdings, self_alpha)
        assert cost.expected_shortfall == pytest.approx(expected, rel=1e-10), case.label
        assert cost.variance == pytest.approx(variance, rel=1e-10), case.label
        n = row["episodes"]
        assert n == EPISODES
        mean_error = (row["mean_is"] - expected) / np.sqrt(variance / n)
        variance_error = (row["std_is"] ** 2 - variance) / (variance * np.sqrt(2.0 / (n - 1)))
        assert abs(mean_error) < 4.0, (case.label, row["mean_is"], expected, mean_error)
        assert abs(variance_error) < 4.0, (case.label, row["std_is"] ** 2, variance,
                                           variance_error)


def test_the_terms_tested_are_many_standard_errors_large(static_study):
    """The drift and self-alpha terms each move E by > 40 standard errors, so a sign or
    factor error in either (or in side handling) fails the test above."""
    study, results = static_study
    for case in study.cases():
        problem, self_alpha = case.config.market, case.config.extended.self_alpha
        holdings = optimal_holdings(problem)
        _, variance = written_out(problem, holdings, self_alpha)
        stderr = np.sqrt(variance / EPISODES)
        tau = problem.step_length
        if problem.drift:
            assert tau * problem.drift * np.sum(holdings[1:]) > 40 * stderr
        if self_alpha:
            assert self_alpha * tau * np.sum(holdings[1:] ** 2) > 40 * stderr
    # and the realised means of the cases really differ accordingly
    means = results.summary["mean_is"].to_numpy()
    assert np.ptp(means) > 100 * results.summary["stderr_is"].max()
