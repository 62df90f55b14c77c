"""The Mesa ensemble agents realise the count chain of MODEL.md §4.

- Deterministic grid sweeps: for a fixed state, one micro-update is driven by each u of
  a fine grid of [0, 1); the fraction of the grid that moves the count up / down equals
  p_up(m) / p_down(m) written from MODEL §4 in this file, to within the grid resolution
  (each of the at most 2M intervals of u that move the count can miscount one grid point).
- Chi-square tests (fixed seeds, significance 1e-3, bins merged to expected >= 5) that
  Mesa counts follow the stationary law (scipy.stats.betabinom; uniform for the
  random-walk rule) and that one step from a fixed count follows row m of micro^M built here.
- No agent ever copies itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import ExecutionMarket, run_episode
from acsim.simulator.randomness import block_draws
from tests.oracles import (
    kirman_micro_matrix,
    kirman_up_down,
    loop_random_walk_matrix,
    merged_chi_square,
)

GRID = 20_000
GRID_UNIFORMS = (np.arange(GRID) + 0.5) / GRID
SIGNIFICANCE = 1e-3


def make_config(agents, initial, steps=5, **ensemble):
    return SimulationConfig().replace(
        market={"steps": steps, "horizon": float(steps)},
        ensemble={"agents": agents, "initial": initial, **ensemble},
        strategy={"name": "twap"},
    )


def fresh_model(config):
    return ExecutionMarket(config, episode=0)


class Restorer:
    """Snapshot of the ensemble's two lists and type flags, to undo a micro-update."""

    def __init__(self, model):
        self.model = model
        self.momentum = list(model.momentum_traders)
        self.mean_reversion = list(model.mean_reversion_traders)

    def restore(self):
        self.model.momentum_traders[:] = self.momentum
        self.model.mean_reversion_traders[:] = self.mean_reversion
        for trader in self.momentum:
            trader.momentum = True
        for trader in self.mean_reversion:
            trader.momentum = False


def sweep(model, uniforms=GRID_UNIFORMS):
    """Count changes of one update_ensemble([u]) for every u, restoring the state each time."""
    restorer = Restorer(model)
    start = model.momentum_count
    changes = np.empty(uniforms.shape[0], dtype=np.int64)
    for i, u in enumerate(uniforms):
        model.update_ensemble(np.array([u]))
        changes[i] = model.momentum_count - start
        restorer.restore()
    assert model.momentum_count == start
    return changes


def chi_square(observed, expected):
    """(statistic, p-value) of the merged chi-square, which must keep at least 3 cells."""
    statistic, p_value, cells = merged_chi_square(observed, expected)
    assert np.all(cells >= 5.0) and len(cells) >= 3
    return statistic, p_value


# --- Kirman micro-update, deterministic sweeps ------------------------------------------

KIRMAN_SWEEPS = [
    # (M, a1, a2, b)
    (5, 0.125, 0.0625, 0.5),
    (6, 0.3, 0.05, 0.65),
    (3, 0.0, 0.2, 0.8),
]


@pytest.mark.parametrize("M, a1, a2, b", KIRMAN_SWEEPS)
def test_micro_update_of_mesa_agents_realises_p_up_p_down(M, a1, a2, b):
    tolerance = 2 * M / GRID + 1e-12
    for m in range(M + 1):
        config = make_config(M, m, switch_to_momentum=a1, switch_to_mean_reversion=a2,
                             herding=b)
        changes = sweep(fresh_model(config))
        assert set(np.unique(changes)) <= {-1, 0, 1}
        up, down = kirman_up_down(M, a1, a2, b, m)
        assert abs(np.mean(changes == 1) - up) <= tolerance, (m, np.mean(changes == 1), up)
        assert abs(np.mean(changes == -1) - down) <= tolerance, (m, np.mean(changes == -1), down)


def test_sweep_would_detect_self_copying():
    """Power check: with self-copy allowed (partner uniform among all M) p_up would differ
    from MODEL's formula by far more than the sweep's tolerance."""
    M, a1, b, m = 5, 0.125, 0.5, 2
    with_self = (M - m) / M * (a1 + b * m / M)
    without_self, _ = kirman_up_down(M, a1, 0.0625, b, m)
    assert abs(with_self - without_self) > 20 * (2 * M / GRID)


def test_no_self_copy_two_agents_always_copy_the_other():
    """M = 2, one MOM and one MR, tiny own rates, herding = 1 - a: every micro-update
    changes the type of the chosen agent (the partner is always the other agent, of the
    other type). With self-copy allowed half of the copying draws would keep the count."""
    a = 1e-3
    config = make_config(2, 1, switch_to_momentum=a, switch_to_mean_reversion=a,
                         herding=1.0 - a)
    model = fresh_model(config)
    momentum_agent = model.momentum_traders[0]
    changes = sweep(model)
    assert np.all(changes != 0)
    # u < 1/2 picks position 0 (the MOM agent): it becomes MR, count 1 -> 0
    picked_momentum = GRID_UNIFORMS < 0.5
    assert np.all(changes[picked_momentum] == -1)
    assert np.all(changes[~picked_momentum] == +1)
    assert model.momentum_traders == [momentum_agent]


@pytest.mark.parametrize("M, m", [(5, 1), (5, 4), (7, 0), (7, 7), (4, 2)])
def test_each_agent_copies_a_uniform_other_agent(M, m):
    """Per agent: over a grid of its own draw d in [0, 1), the fraction of draws that make
    it switch is a_own + b·(number of OTHER agents of the opposite type)/(M - 1). With
    self-copy (partner among all M) it would be a_own + b·(opposite)/M instead."""
    a1, a2, b = 0.05, 0.1, 0.8
    config = make_config(M, m, switch_to_momentum=a1, switch_to_mean_reversion=a2, herding=b)
    model = fresh_model(config)
    restorer = Restorer(model)
    traders = model.momentum_traders + model.mean_reversion_traders
    for trader in traders:
        switched = 0
        for d in GRID_UNIFORMS:
            before = trader.momentum
            trader.revise(float(d))
            switched += trader.momentum != before
            restorer.restore()
        own = a2 if trader.momentum else a1
        opposite = (M - m) if trader.momentum else m
        expected = own + b * opposite / (M - 1)
        assert abs(switched / GRID - expected) <= (M + 1) / GRID, (trader.momentum, switched / GRID,
                                                                  expected)
        if 0 < opposite:
            assert abs(expected - (own + b * opposite / M)) > 10 * (M + 1) / GRID


# --- random-walk rule, deterministic sweeps ----------------------------------------------

@pytest.mark.parametrize("M, p", [(4, 0.4), (3, 0.5), (6, 0.1)])
def test_random_walk_step_of_mesa_agents(M, p):
    tolerance = 2.0 / GRID + 1e-12
    for m in range(M + 1):
        config = make_config(M, m, switching="random-walk", step_probability=p)
        changes = sweep(fresh_model(config))
        expected_up = p if m < M else 0.0
        expected_down = p if m > 0 else 0.0
        assert abs(np.mean(changes == 1) - expected_up) <= tolerance
        assert abs(np.mean(changes == -1) - expected_down) <= tolerance
        assert set(np.unique(changes)) <= {-1, 0, 1}


# --- chi-square tests ----------------------------------------------------------------------

def test_one_step_law_from_fixed_count_is_row_of_micro_matrix_power():
    """M sequential micro-updates (not a start-of-step snapshot): the law of m_1 given
    m_0 is row m_0 of micro^M. Drives update_ensemble with the protocol's block draws."""
    M, a1, a2, b, m0, replicas = 10, 0.1, 0.15, 0.7, 2, 3000
    config = make_config(M, m0, switch_to_momentum=a1, switch_to_mean_reversion=a2, herding=b)
    model = fresh_model(config)
    restorer = Restorer(model)
    draws = block_draws(20240611, 0, steps=1, draws_per_step=M, count=replicas).ensemble
    counts = np.empty(replicas, dtype=np.int64)
    for r in range(replicas):
        model.update_ensemble(draws[r, 0])
        counts[r] = model.momentum_count
        restorer.restore()
    law = np.linalg.matrix_power(kirman_micro_matrix(M, a1, a2, b), M)[m0]
    observed = np.bincount(counts, minlength=M + 1)
    _, p_value = chi_square(observed, replicas * law)
    assert p_value > SIGNIFICANCE


def test_mesa_counts_follow_beta_binomial_stationary_law():
    """Kirman M = 10, a1 = .2, a2 = .3, b = .4: the slowest mode decays by
    (1 - (a1+a2)/M)^M = 0.60 per step, so after 30 steps from the balanced start the
    count is stationary up to ~1e-7. Independent episodes (one per replica)."""
    M, a1, a2, b, steps, replicas = 10, 0.2, 0.3, 0.4, 30, 800
    config = make_config(M, "balanced", steps=steps, switch_to_momentum=a1,
                         switch_to_mean_reversion=a2, herding=b).replace(
        simulation={"seed": 7})
    paths = np.array([run_episode(config, i).momentum_counts[0] for i in range(replicas)])
    assert np.all(paths[:, 0] == M // 2)
    law = stats.betabinom(M, a1 * (M - 1) / b, a2 * (M - 1) / b).pmf(np.arange(M + 1))
    observed = np.bincount(paths[:, -1], minlength=M + 1)
    _, p_value = chi_square(observed, replicas * law)
    assert p_value > SIGNIFICANCE
    # Early means follow the forecast m* + ρ^s (m_0 - m*), within 4 standard errors.
    mean, rho = M * a1 / (a1 + a2), (1 - (a1 + a2) / M) ** M
    for s in (1, 2, 4):
        column = paths[:, s]
        expected = mean + rho**s * (M // 2 - mean)
        stderr = column.std(ddof=1) / np.sqrt(replicas)
        assert abs(column.mean() - expected) < 4 * stderr, (s, column.mean(), expected)


def test_mesa_random_walk_counts_are_uniform_and_follow_forecast():
    """Random-walk rule, M = 4, p = 0.4, start at 0: the second-largest |eigenvalue| is
    0.2 + 0.8 cos(π/5) = 0.847, so 60 steps leave < 1e-4 of the start."""
    M, p, steps, replicas = 4, 0.4, 60, 600
    config = make_config(M, 0, steps=steps, switching="random-walk",
                         step_probability=p).replace(simulation={"seed": 11})
    paths = np.array([run_episode(config, i).momentum_counts[0] for i in range(replicas)])
    assert np.all(np.abs(np.diff(paths, axis=1)) <= 1)
    observed = np.bincount(paths[:, -1], minlength=M + 1)
    _, p_value = chi_square(observed, np.full(M + 1, replicas / (M + 1)))
    assert p_value > SIGNIFICANCE
    # mean count s steps ahead vs matrix powers computed here
    P = loop_random_walk_matrix(M, p)
    for s in (1, 2, 5):
        expected = (np.linalg.matrix_power(P, s) @ np.arange(M + 1))[0]
        column = paths[:, s]
        stderr = column.std(ddof=1) / np.sqrt(replicas)
        assert abs(column.mean() - expected) < 4 * stderr, (s, column.mean(), expected)


def test_field_is_scaled_count():
    """f_k = field_scale (2 m_k - M)/M along a simulated path."""
    M, scale = 10, 2.5
    config = make_config(M, 3, steps=15, field_scale=scale, switch_to_momentum=0.2,
                         switch_to_mean_reversion=0.2, herding=0.5)
    result = run_episode(config, 0)
    counts = result.momentum_counts[0]
    np.testing.assert_allclose(result.fields[0], scale * (2.0 * counts[1:] - M) / M,
                               rtol=0, atol=1e-14)
    assert counts[0] == 3 and len(np.unique(counts)) > 1
