"""Fixtures shared by every test package; the oracles themselves live in tests/oracles.py."""

from __future__ import annotations

import pytest

from tests import oracles


@pytest.fixture(scope="session")
def dense_optimum():
    """Brute-force minimiser: dense_optimum(τ, η̃, q, drift[m], x_0) -> x_0..x_m."""
    return oracles.dense_optimum
