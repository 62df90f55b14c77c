"""Shared test oracles for the strategies tests.

`dense_optimum` minimises the MODEL.md §3 planning objective by brute force: it builds
the dense Hessian of

    U(x) = (η̃/τ)·Σ_{k=1}^{m} (x_{k-1} - x_k)² + q·τ·Σ_{k=1}^{m} x_k² - τ·Σ_{k=1}^{m} a_k·x_k

from difference / selection matrices (nothing tridiagonal, no hyperbolic functions),
fixes x_0 and x_m = 0, and solves the normal equations of the free holdings with
numpy's dense solver. It is independent of every formula in `strategies`.
"""

from __future__ import annotations

import numpy as np
import pytest


def _dense_optimum(step_length, effective_temporary_impact, urgency, drift, start):
    drift = np.asarray(drift, dtype=float)
    steps = drift.shape[0]
    size = steps + 1
    difference = np.zeros((steps, size))
    difference[np.arange(steps), np.arange(steps)] = 1.0
    difference[np.arange(steps), np.arange(1, size)] = -1.0
    carried = np.zeros((steps, size))
    carried[np.arange(steps), np.arange(1, size)] = 1.0
    hessian = (2.0 * effective_temporary_impact / step_length * difference.T @ difference
               + 2.0 * urgency * step_length * carried.T @ carried)
    linear = step_length * carried.T @ drift  # gradient of the drift term is -linear
    path = np.zeros(size)
    path[0] = start
    if steps > 1:
        free = np.arange(1, steps)
        rhs = linear[free] - hessian[np.ix_(free, [0])][:, 0] * start
        path[free] = np.linalg.solve(hessian[np.ix_(free, free)], rhs)
    return path


@pytest.fixture(scope="session")
def dense_optimum():
    """Brute-force minimiser: dense_optimum(τ, η̃, q, drift[m], x_0) -> x_0..x_m."""
    return _dense_optimum
