"""The ensemble's count chain (MODEL.md §4) against oracles written in this file.

Oracles:
- p_up / p_down written out from MODEL §4;
- the micro-update birth-death matrix and the one-step matrix (micro^M for Kirman, a
  reflecting lazy ±1 walk for the paper's rule) built here with explicit loops;
- the stationary law by solving π P = π, Σπ = 1 with a dense solver, by detailed balance
  of the micro chain, and by scipy.stats.betabinom (independent of acsim);
- the Kirman forecast closed form m* + ρ^s (m - m*), ρ = (1 - (a1+a2)/M)^M, and for the
  random-walk rule powers of the loop-built matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from acsim.strategies import ensemble
from acsim.strategies.ensemble import EnsembleParameters
from acsim.strategies.errors import ParameterError
from tests.oracles import (
    kirman_closed_form,
    kirman_micro_matrix,
    kirman_up_down,
    loop_random_walk_matrix,
)

KIRMAN_CASES = [
    # (M, a1, a2, b)
    (2, 0.1, 0.2, 0.7),
    (5, 0.125, 0.0625, 0.5),
    (10, 0.2, 0.3, 0.4),
    (20, 0.05, 0.02, 0.6),
    (100, 0.01, 0.01, 0.5),   # the defaults
    (37, 0.003, 0.011, 0.9),
]


def kirman(M, a1, a2, b, **extra):
    return EnsembleParameters(agents=M, switch_to_momentum=a1, switch_to_mean_reversion=a2,
                              herding=b, switching="kirman", **extra)


def solve_stationary(P):
    """π with π P = π and Σπ = 1: the last balance equation is replaced by normalisation."""
    size = P.shape[0]
    system = P.T - np.eye(size)
    system[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    return np.linalg.solve(system, rhs)


# --- transition probabilities ----------------------------------------------------------

@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_micro_update_probabilities_match_model_formula(M, a1, a2, b):
    counts = np.arange(M + 1)
    up, down = kirman(M, a1, a2, b).rule.micro_update_probabilities(M, counts)
    for m in range(M + 1):
        expect_up, expect_down = kirman_up_down(M, a1, a2, b, m)
        assert up[m] == pytest.approx(expect_up, rel=1e-14, abs=1e-16)
        assert down[m] == pytest.approx(expect_down, rel=1e-14, abs=1e-16)
    # boundaries: cannot go below 0 or above M
    assert up[M] == 0.0 and down[0] == 0.0


@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_mean_micro_drift_is_linear(M, a1, a2, b):
    """E[Δm | m] = (a1(M-m) - a2 m)/M per micro-update (the herding terms cancel)."""
    counts = np.arange(M + 1)
    up, down = kirman(M, a1, a2, b).rule.micro_update_probabilities(M, counts)
    np.testing.assert_allclose(up - down, (a1 * (M - counts) - a2 * counts) / M,
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_step_transition_matrix_is_micro_matrix_to_the_M(M, a1, a2, b):
    """One step = M asynchronous micro-updates: P = micro^M (not a snapshot update)."""
    expected = np.eye(M + 1)
    micro = kirman_micro_matrix(M, a1, a2, b)
    for _ in range(M):
        expected = expected @ micro
    got = ensemble.step_transition_matrix(kirman(M, a1, a2, b))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("M, p", [(2, 0.5), (4, 0.4), (10, 0.25), (7, 0.0)])
def test_random_walk_transition_matrix(M, p):
    params = EnsembleParameters(agents=M, switching="random-walk", step_probability=p)
    np.testing.assert_allclose(ensemble.step_transition_matrix(params),
                               loop_random_walk_matrix(M, p), rtol=0, atol=1e-15)


# --- stationary law --------------------------------------------------------------------

@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_stationary_law_is_beta_binomial_and_solves_pi_P(M, a1, a2, b):
    params = kirman(M, a1, a2, b)
    got = ensemble.stationary_law(params)
    # (1) π P = π solved here from the loop-built one-step matrix
    P = np.linalg.matrix_power(kirman_micro_matrix(M, a1, a2, b), M)
    np.testing.assert_allclose(got, solve_stationary(P), rtol=0, atol=1e-10)
    # (2) detailed balance of the micro chain: π(m+1)/π(m) = p_up(m)/p_down(m+1)
    balance = np.ones(M + 1)
    for m in range(M):
        up, _ = kirman_up_down(M, a1, a2, b, m)
        _, down = kirman_up_down(M, a1, a2, b, m + 1)
        balance[m + 1] = balance[m] * up / down
    np.testing.assert_allclose(got, balance / balance.sum(), rtol=1e-10, atol=1e-14)
    # (3) scipy's beta-binomial with A_i = a_i (M-1)/b
    law = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b)
    np.testing.assert_allclose(got, law.pmf(np.arange(M + 1)), rtol=1e-10, atol=1e-14)
    # and it is invariant under the acsim step matrix too
    np.testing.assert_allclose(got @ ensemble.step_transition_matrix(params), got,
                               rtol=0, atol=1e-12)


def test_stationary_law_without_herding_is_binomial():
    M, a1, a2 = 12, 0.1, 0.3
    got = ensemble.stationary_law(kirman(M, a1, a2, 0.0))
    np.testing.assert_allclose(got, stats.binom(M, a1 / (a1 + a2)).pmf(np.arange(M + 1)),
                               rtol=1e-10, atol=1e-15)
    P = np.linalg.matrix_power(kirman_micro_matrix(M, a1, a2, 0.0), M)
    np.testing.assert_allclose(got, solve_stationary(P), rtol=0, atol=1e-10)


@pytest.mark.parametrize("a1, a2, absorbing", [(0.0, 0.3, 0), (0.25, 0.0, 12)])
def test_stationary_law_without_herding_and_one_zero_rate_is_a_point_mass(a1, a2, absorbing):
    """Allowed by validation (a1 + a2 > 0, b = 0): independent agents that only ever switch
    one way, Binomial(M, a1/(a1+a2)) = a point mass at 0 or M. 0·log 0 must count as 0."""
    M = 12
    got = ensemble.stationary_law(kirman(M, a1, a2, 0.0))
    expected = stats.binom(M, a1 / (a1 + a2)).pmf(np.arange(M + 1))
    assert expected[absorbing] == 1.0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("M, p", [(2, 0.5), (4, 0.4), (10, 0.25), (30, 0.1)])
def test_random_walk_stationary_law_is_uniform(M, p):
    params = EnsembleParameters(agents=M, switching="random-walk", step_probability=p)
    uniform = np.full(M + 1, 1.0 / (M + 1))
    np.testing.assert_allclose(ensemble.stationary_law(params), uniform, rtol=0, atol=1e-15)
    P = loop_random_walk_matrix(M, p)
    np.testing.assert_allclose(solve_stationary(P), uniform, rtol=0, atol=1e-10)
    np.testing.assert_allclose(uniform @ ensemble.step_transition_matrix(params), uniform,
                               rtol=0, atol=1e-15)


def test_stationary_initial_count_is_inverse_cdf():
    """initial = "stationary": m_0 is the smallest m with CDF(m) > u (betabinom from scipy)."""
    M, a1, a2, b = 10, 0.2, 0.3, 0.4
    params = kirman(M, a1, a2, b, initial="stationary")
    cdf = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).cdf(np.arange(M + 1))
    uniforms = np.linspace(0.0, 1.0, 2001, endpoint=False) + 0.00025
    expected = np.array([int(np.argmax(cdf > u)) for u in uniforms])
    np.testing.assert_array_equal(ensemble.initial_count(params, uniforms), expected)


# --- forecasts ----------------------------------------------------------------------------

@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_kirman_forecast_table_equals_closed_form(M, a1, a2, b):
    horizon = 25
    table = ensemble.expected_count_table(kirman(M, a1, a2, b), horizon)
    assert table.shape == (horizon + 1, M + 1)
    for s in range(horizon + 1):
        for m in range(M + 1):
            assert table[s, m] == pytest.approx(kirman_closed_form(M, a1, a2, s, m),
                                                rel=1e-10, abs=1e-10 * M)


def test_kirman_forecast_closed_form_function():
    M, a1, a2, b = 20, 0.05, 0.02, 0.6
    counts = np.arange(M + 1)
    for s in (0, 1, 3, 17):
        got = kirman(M, a1, a2, b).rule.expected_count(M, counts, s)
        np.testing.assert_allclose(got, kirman_closed_form(M, a1, a2, s, counts),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("M, p", [(4, 0.4), (10, 0.25), (7, 0.5)])
def test_random_walk_forecast_table_equals_matrix_powers(M, p):
    horizon = 15
    params = EnsembleParameters(agents=M, switching="random-walk", step_probability=p)
    table = ensemble.expected_count_table(params, horizon)
    P = loop_random_walk_matrix(M, p)
    counts = np.arange(M + 1, dtype=float)
    for s in range(horizon + 1):
        expected = np.linalg.matrix_power(P, s) @ counts
        np.testing.assert_allclose(table[s], expected, rtol=0, atol=1e-12)
    # the reflecting walk is not a martingale at the bounds: the table must show it
    assert table[1, 0] == pytest.approx(p) and table[1, M] == pytest.approx(M - p)


# --- parameter validation (what "frozen field" configurations are allowed) ----------------

@pytest.mark.parametrize("changes, word", [
    ({"herding": 1.5}, "herding"),
    ({"herding": -0.1}, "herding"),
    ({"switch_to_momentum": 0.6, "herding": 0.5}, "herding"),
    ({"switch_to_momentum": 0.0, "switch_to_mean_reversion": 0.0}, "cannot both be 0"),
    ({"step_probability": 0.6}, "step_probability"),
    ({"agents": 1}, "agents"),
    ({"agents": 10, "initial": 11}, "initial"),
    ({"initial": "middle"}, "initial"),
    ({"switching": "voter"}, "switching"),
    ({"field_scale": -1.0}, "field_scale"),
])
def test_invalid_ensemble_parameters_are_rejected(changes, word):
    with pytest.raises(ParameterError, match=word):
        EnsembleParameters(**changes)
