"""The vectorised engine's count dynamics against MODEL.md §4, independently of Mesa.

Oracles written in this file:
- p_up(m) = (M-m)/M·(a1 + b·m/(M-1)),  p_down(m) = m/M·(a2 + b·(M-m)/(M-1))  (MODEL §4).
  The Kirman rule's compiled kernel is driven for ONE micro-update (steps = 1, draws = 1) by a
  deterministic fine grid of uniforms u_i = (i + ½)/G; the fraction of the grid that moves the
  count up (down) must equal p_up(m) (p_down(m)) to grid resolution, for every m in 0..M. The up
  and down sets are unions of at most 2M intervals each, so the fraction is within (2M + 2)/G of
  the probability. This catches a kernel error even if the Mesa agents shared it.
- The random-walk rule's step (`RandomWalkRule.step_counts`): up with probability p unless
  m = M, down with probability p unless m = 0, by the same grid argument.
- Long runs of the engine's count paths (`ensemble_paths`, many independent episodes)
  against the exact stationary laws: scipy.stats.betabinom(M, a1(M-1)/b, a2(M-1)/b) for
  the Kirman rule and the uniform law on 0..M for the random walk (chi-square, fixed
  seeds, p > 1e-3), and the stationary initial draw against the same law.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.vectorised import ensemble_paths
from acsim.strategies.ensemble import EnsembleParameters
from tests.oracles import kirman_up_down, merged_chi_square

GRID = 1 << 20
UNIFORM_GRID = (np.arange(GRID) + 0.5) / GRID

KIRMAN_CASES = [
    # (M, a1, a2, b): a1 != a2 so that swapping them is caught
    (2, 0.13, 0.31, 0.55),
    (3, 0.07, 0.21, 0.6),
    (5, 0.11, 0.037, 0.43),
    (5, 0.2, 0.05, 0.0),      # no herding: partner_scale = 0
    (7, 0.0, 0.17, 0.8),      # a1 = 0
    (6, 0.3, 0.1, 0.7),       # a1 + b = 1
]


def kirman(M, a1, a2, b, **extra):
    return EnsembleParameters(agents=M, switch_to_momentum=a1, switch_to_mean_reversion=a2,
                              herding=b, switching="kirman", **extra)


def one_micro_update(parameters, m, uniforms):
    """The kernel's count after one micro-update from m for each uniform."""
    episodes = uniforms.shape[0]
    counts = np.full(episodes, m, dtype=np.int64)
    return parameters.rule.step_counts(counts, uniforms.reshape(episodes, 1), parameters.agents)


@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_CASES)
def test_one_micro_update_moves_with_the_model_probabilities(M, a1, a2, b):
    parameters = kirman(M, a1, a2, b)
    tolerance = (2 * M + 2) / GRID
    for m in range(M + 1):
        after = one_micro_update(parameters, m, UNIFORM_GRID)
        moves = after - m
        assert set(np.unique(moves)) <= {-1, 0, 1}, (m, np.unique(moves))
        up, down = kirman_up_down(M, a1, a2, b, m)
        got_up, got_down = np.mean(moves == 1), np.mean(moves == -1)
        assert abs(got_up - up) <= tolerance, (
            f"M={M} a1={a1} a2={a2} b={b} m={m}: p_up expected {up}, kernel {got_up}")
        assert abs(got_down - down) <= tolerance, (
            f"M={M} a1={a1} a2={a2} b={b} m={m}: p_down expected {down}, kernel {got_down}")
        if m == M:
            assert got_up == 0.0
        if m == 0:
            assert got_down == 0.0


def test_micro_updates_are_applied_in_order_within_a_step():
    """draws = 2 per step equals two successive single micro-updates (same uniforms),
    and a step's count is recorded only after all of its draws."""
    parameters = kirman(5, 0.11, 0.037, 0.43)
    rng = np.random.default_rng(20240601)
    uniforms = rng.random((5000, 3, 2))
    start = rng.integers(0, 6, size=5000)
    out = np.empty((5000, 4), dtype=np.int64)
    parameters.rule.count_paths(start.copy(), uniforms, 5, out)
    expected = np.empty_like(out)
    expected[:, 0] = start
    current = start.copy()
    for k in range(3):
        for j in range(2):
            for e in range(5000):
                current[e] = one_micro_update(parameters, int(current[e]),
                                              uniforms[e:e + 1, k, j])[0]
        expected[:, k + 1] = current
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("M, p", [(4, 0.25), (10, 0.5), (7, 0.13)])
def test_random_walk_step_moves_with_probability_p_each_way(M, p):
    parameters = EnsembleParameters(agents=M, switching="random-walk", step_probability=p)
    for m in range(M + 1):
        moves = parameters.rule.step_counts(np.full(GRID, m), UNIFORM_GRID[:, None], M) - m
        assert set(np.unique(moves)) <= {-1, 0, 1}
        up = p if m < M else 0.0
        down = p if m > 0 else 0.0
        assert abs(np.mean(moves == 1) - up) <= 2.0 / GRID, (m, np.mean(moves == 1), up)
        assert abs(np.mean(moves == -1) - down) <= 2.0 / GRID, (m, np.mean(moves == -1), down)


def chi_square_p_value(observed_counts, probabilities):
    """Pearson chi-square p-value of counts against probabilities (cells merged to expect
    >= 5) and the number of cells."""
    _, p_value, cells = merged_chi_square(observed_counts, probabilities * observed_counts.sum())
    return p_value, len(cells)


def final_counts(parameters, seed, blocks, steps):
    """m_N of BLOCK_SIZE independent episodes per block."""
    return np.concatenate([ensemble_paths(parameters, seed, block, steps, 0, BLOCK_SIZE)[:, -1]
                           for block in range(blocks)])


@pytest.mark.parametrize("M, a1, a2, b, initial, seed", [
    (10, 0.2, 0.1, 0.4, "balanced", 0),
    (10, 0.2, 0.1, 0.4, 0, 5),          # start at the boundary
    (16, 0.08, 0.15, 0.6, 16, 11),      # start at the other boundary
])
def test_kirman_counts_reach_the_beta_binomial_law(M, a1, a2, b, initial, seed):
    """After 150 steps (ρ^150 = (1 - (a1+a2)/M)^(150·M) < 1e-15) the count of 5·4096
    independent episodes follows BetaBinomial(M, a1(M-1)/b, a2(M-1)/b)."""
    parameters = kirman(M, a1, a2, b, initial=initial)
    counts = final_counts(parameters, seed, blocks=5, steps=150)
    law = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).pmf(np.arange(M + 1))
    observed = np.bincount(counts, minlength=M + 1)
    p_value, cells = chi_square_p_value(observed, law)
    assert cells >= 5
    assert p_value > 1e-3, (observed, law * counts.size)
    # and a law that is only slightly off is rejected at this sample size
    wrong = stats.betabinom(M, a2 * (M - 1) / b, a1 * (M - 1) / b).pmf(np.arange(M + 1))
    assert chi_square_p_value(observed, wrong)[0] < 1e-6


def test_stationary_initial_count_follows_the_beta_binomial_law():
    M, a1, a2, b = 20, 0.05, 0.08, 0.5
    parameters = kirman(M, a1, a2, b, initial="stationary")
    counts = np.concatenate([ensemble_paths(parameters, 3, block, 1, 0, BLOCK_SIZE)[:, 0]
                             for block in range(4)])
    law = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).pmf(np.arange(M + 1))
    p_value, _ = chi_square_p_value(np.bincount(counts, minlength=M + 1), law)
    assert p_value > 1e-3


def test_stationary_start_stays_stationary_at_every_step():
    """From the stationary law the count is stationary at each step: pooled over steps
    3, 10 and 25 of 4·4096 episodes (each step tested on its own)."""
    M, a1, a2, b = 12, 0.1, 0.15, 0.5
    parameters = kirman(M, a1, a2, b, initial="stationary")
    paths = np.concatenate([ensemble_paths(parameters, 8, block, 25, 0, BLOCK_SIZE)
                            for block in range(4)])
    law = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).pmf(np.arange(M + 1))
    for step in (3, 10, 25):
        p_value, _ = chi_square_p_value(np.bincount(paths[:, step], minlength=M + 1), law)
        assert p_value > 1e-3, step


@pytest.mark.parametrize("M, p, initial, seed", [(8, 0.25, "balanced", 0), (5, 0.4, 0, 17)])
def test_random_walk_counts_reach_the_uniform_law(M, p, initial, seed):
    parameters = EnsembleParameters(agents=M, switching="random-walk", step_probability=p,
                                    initial=initial)
    counts = final_counts(parameters, seed, blocks=5, steps=600)
    observed = np.bincount(counts, minlength=M + 1)
    p_value, cells = chi_square_p_value(observed, np.full(M + 1, 1.0 / (M + 1)))
    assert cells == M + 1
    assert p_value > 1e-3, observed
    # a start-of-walk law (no mixing) would be rejected
    assert chi_square_p_value(np.bincount(final_counts(parameters, seed, 1, 3),
                                          minlength=M + 1),
                              np.full(M + 1, 1.0 / (M + 1)))[0] < 1e-6
