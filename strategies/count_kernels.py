"""Compiled count kernels of the switching rules (numba), imported only when a rule runs.

`kirman_counts` is the count-level twin of the Mesa agents' Kirman recruitment
(`acsim.agents.traders.EnsembleTrader.revise` and the model's micro-update loop): the same
floating-point operations on the same uniform decide the same move, so an episode of the
vectorised engine replays bit for bit in the Mesa model. It is compiled because the rule
consumes M uniforms per step (2,000 per episode in the paper setting).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy")
def kirman_counts(counts: np.ndarray, uniforms: np.ndarray, agents: int, to_momentum: float,
                  to_mean_reversion: float, herding: float, partner_scale: float,
                  out: np.ndarray) -> None:
    """out[e, k+1] = count after step k; out[e, 0] = counts[e]; uniforms is (N, M, E).

    Micro-update with uniform u (as the Mesa model's agents do it): scaled = u·M picks position
    floor(scaled) of [momentum, mean-reversion] traders, so a momentum trader iff scaled < m;
    its own draw is d = scaled - floor(scaled). It switches if d < own rate a; else, if d < a +
    b, it copies the partner at position p = min(floor((d - a)·partner_scale), M - 2) among the
    others, a momentum trader iff p < m - [picked is momentum]. For integer m and x >= 0,
    min(floor(x), M - 2) < m exactly when min(x, M - 2) < m, so the comparisons are made on the
    floats directly (when d < a, x < 0 but the own switch decides). Episodes form the inner
    loop, independent of each other, so the CPU advances several at once.
    """
    steps, draws, episodes = uniforms.shape
    m = counts.astype(np.float64)  # exact for counts up to 2^53
    top = agents - 2.0
    for e in range(episodes):
        out[e, 0] = counts[e]
    for k in range(steps):
        for j in range(draws):
            row = uniforms[k, j]
            for e in range(episodes):
                scaled = row[e] * agents
                draw = scaled - np.floor(scaled)
                current = m[e]
                # a mean-reversion trader (scaled >= m) turns momentum:
                up = (draw < to_momentum) | ((draw < to_momentum + herding) & (
                    min((draw - to_momentum) * partner_scale, top) < current))
                # a momentum trader (scaled < m) turns mean-reversion:
                down = (draw < to_mean_reversion) | ((draw < to_mean_reversion + herding) & (
                    min((draw - to_mean_reversion) * partner_scale, top) >= current - 1.0))
                momentum = scaled < current
                m[e] = current + (up & ~momentum) * 1.0 - (down & momentum) * 1.0
        for e in range(episodes):
            out[e, k + 1] = np.int64(m[e])
