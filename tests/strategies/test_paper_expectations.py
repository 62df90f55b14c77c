"""Exact expectations of the paper QPs over a random field (strategies.paper and .ensemble).

Oracles:
- enumeration: for a small ensemble (M = 4 agents, T = 4 steps) every count path is listed
  with its probability from a transition matrix built entry by entry here (tests/oracles.py),
  so the field's mean and covariance, E[J*] and E[Σ(Δx)²] are exact weighted sums;
- Monte Carlo in the paper's setting (M = 100, ±1 walk with p = 1/2, T = 20, seeded): the
  sample means must lie within 4 standard errors of the exact values;
- finite differences: x*(b + δ) - x*(b) = ½Rδ for the response matrix R.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from acsim.strategies.ensemble import EnsembleParameters, field_moments
from acsim.strategies.errors import ParameterError
from acsim.strategies.paper import PaperParameters, PaperQP, paper_objective, roughness
from tests.oracles import kirman_micro_matrix, loop_random_walk_matrix

READINGS = ("cumulative", "remaining")
PENALTIES = (None, 50.0)


def enumerate_paths(matrix: np.ndarray, start: np.ndarray, steps: int):
    """Every count path m_1..m_T with its probability (start: the law of m_0)."""
    size = matrix.shape[0]
    for path in itertools.product(range(size), repeat=steps):
        probability = 0.0
        for first in range(size):
            weight = start[first]
            previous = first
            for count in path:
                weight *= matrix[previous, count]
                previous = count
            probability += weight
        if probability > 0.0:
            yield np.array(path, dtype=float), probability


def small_cases():
    agents, steps = 4, 4
    balanced = np.zeros(agents + 1)
    balanced[agents // 2] = 1.0
    walk = loop_random_walk_matrix(agents, 0.5)
    kirman = np.linalg.matrix_power(kirman_micro_matrix(agents, 0.1, 0.2, 0.5), agents)
    given = np.zeros(agents + 1)
    given[1] = 1.0
    return [
        (EnsembleParameters(agents=agents, field_scale=2.0, switching="random-walk",
                            step_probability=0.5, initial="balanced"), walk, balanced, steps),
        (EnsembleParameters(agents=agents, field_scale=1.5, switching="random-walk",
                            step_probability=0.5, initial="stationary"), walk,
         np.full(agents + 1, 1.0 / (agents + 1)), steps),
        (EnsembleParameters(agents=agents, field_scale=3.0, switching="kirman",
                            switch_to_momentum=0.1, switch_to_mean_reversion=0.2, herding=0.5,
                            initial=1), kirman, given, steps),
    ]


@pytest.mark.parametrize("case", range(3))
def test_field_moments_equal_enumeration(case):
    parameters, matrix, start, steps = small_cases()[case]
    mean, covariance = field_moments(parameters, steps)
    first, second = np.zeros(steps), np.zeros((steps, steps))
    for path, probability in enumerate_paths(matrix, start, steps):
        field = parameters.field_scale * (2.0 * path - parameters.agents) / parameters.agents
        first += probability * field
        second += probability * np.outer(field, field)
    np.testing.assert_allclose(mean, first, rtol=0, atol=1e-12)
    np.testing.assert_allclose(covariance, second - np.outer(first, first), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("penalty", PENALTIES)
def test_expected_objective_and_roughness_equal_enumeration(case, reading, penalty):
    ensemble, matrix, start, steps = small_cases()[case]
    parameters = PaperParameters(total_shares=100.0, steps=steps, trade_cost=1.0,
                                 risk_aversion=0.3, variance=1.0, penalty=penalty,
                                 inventory=reading)
    solver = PaperQP(parameters)
    self_alpha, coupling = np.array([0.5, -1.0, 2.0, 0.0]), 7.0
    value = rough = 0.0
    for path, probability in enumerate_paths(matrix, start, steps):
        field = ensemble.field_scale * (2.0 * path - ensemble.agents) / ensemble.agents
        trades = solver.trades(self_alpha, coupling, field)
        value += probability * paper_objective(parameters, trades, self_alpha, coupling, field)
        rough += probability * roughness(trades)
    mean, covariance = field_moments(ensemble, steps)
    assert solver.expected_objective(self_alpha, coupling, mean, covariance) == pytest.approx(
        value, rel=1e-10, abs=1e-8)
    assert solver.expected_roughness(self_alpha, coupling, mean, covariance) == pytest.approx(
        rough, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("penalty", PENALTIES)
def test_response_matrix_is_the_derivative_of_the_optimal_trades(penalty):
    parameters = PaperParameters(total_shares=500.0, steps=7, trade_cost=2.0, risk_aversion=0.2,
                                 variance=1.5, penalty=penalty, inventory="remaining")
    solver = PaperQP(parameters)
    response = solver.response_matrix()
    np.testing.assert_allclose(response, response.T, rtol=0, atol=1e-12)
    rng = np.random.default_rng(3)
    base, step = rng.normal(size=7), rng.normal(size=7)
    moved = solver.trades(0.0, 1.0, base + step) - solver.trades(0.0, 1.0, base)
    np.testing.assert_allclose(moved, 0.5 * response @ step, rtol=1e-9, atol=1e-10)
    if penalty is None:  # the equality holds for every b: R maps onto Σx = 0
        np.testing.assert_allclose(response.sum(axis=0), 0.0, atol=1e-12)


def paper_fields(paths: int, seed: int) -> np.ndarray:
    """The paper's ensemble (M = 100, ±1 with p = 1/2 each, start at 50), T = 20, simulated
    here with numpy; field = 5·(2m - 100)/100."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    moves = np.where(rng.random((paths, 20)) < 0.5, 1, -1)
    counts = 50 + np.cumsum(moves, axis=1)  # never leaves [0, 100] within 20 steps
    return 5.0 * (2.0 * counts - 100.0) / 100.0


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("penalty", PENALTIES)
def test_exact_expectations_against_monte_carlo_within_four_standard_errors(reading, penalty):
    ensemble = EnsembleParameters(agents=100, field_scale=5.0, switching="random-walk",
                                  step_probability=0.5, initial="balanced")
    mean, covariance = field_moments(ensemble, 20)
    fields = paper_fields(20_000, seed=11)
    standard_error = np.sqrt(np.diag(covariance) / fields.shape[0])
    assert np.all(np.abs(fields.mean(axis=0) - mean) < 4 * standard_error)
    parameters = PaperParameters(penalty=penalty, inventory=reading)
    solver = PaperQP(parameters)
    base = paper_objective(parameters, solver.trades(1.0, 0.0, fields[:1]), 1.0, 0.0,
                           fields[:1])[0]
    for coupling in (0.5, 2.0):
        trades = solver.trades(1.0, coupling, fields)
        change = paper_objective(parameters, trades, 1.0, coupling, fields) - base
        exact = solver.expected_objective(1.0, coupling, mean, covariance) - base
        error = change.std(ddof=1) / np.sqrt(change.shape[0])
        assert abs(change.mean() - exact) < 4 * error, (coupling, change.mean(), exact, error)
        assert exact == pytest.approx(-0.25 * coupling**2 * np.trace(
            solver.response_matrix() @ covariance), rel=1e-9)
        rough = roughness(trades)
        exact_rough = solver.expected_roughness(1.0, coupling, mean, covariance)
        assert abs(rough.mean() - exact_rough) < 4 * rough.std(ddof=1) / np.sqrt(rough.shape[0])


def test_field_moments_reject_bad_steps_and_the_solver_bad_laws():
    ensemble = EnsembleParameters(agents=10, switching="random-walk")
    for steps in (0, 2.7, "3"):
        with pytest.raises(ParameterError, match="steps must be an integer >= 1"):
            field_moments(ensemble, steps)
    solver = PaperQP(PaperParameters(steps=3))
    with pytest.raises(ParameterError, match="field_covariance must be a finite 3×3 matrix"):
        solver.expected_objective(0.0, 1.0, np.zeros(3), np.eye(2))
    with pytest.raises(ParameterError, match="field_mean"):
        solver.expected_objective(0.0, 1.0, np.zeros(4), np.eye(3))
