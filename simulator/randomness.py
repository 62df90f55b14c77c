"""The random-stream protocol shared by the Mesa and the vectorised engines (MODEL.md §5).

One root seed drives everything through numpy's SeedSequence; there is no global RNG.

- Episodes are numbered 0, 1, 2, ... and grouped in blocks of BLOCK_SIZE; episode i
  lies in block b = i // BLOCK_SIZE at offset o = i % BLOCK_SIZE. A block is the unit
  of seeding, so results do not depend on how blocks are shared among workers.
- Block b has PCG64 streams seeded by SeedSequence(root_seed, spawn_key=(b, j)), i.e. the
  j-th child of the block's own sequence: j = 0 initial count, j = 1 ensemble, j = 2 price
  noise, j = 3 momentum noise ζ (the order-flow market only, MODEL §6), j = 4 volatility
  regimes (MODEL §8; drawn only when the market has regimes). A stream a market does not use is
  never drawn, so adding one changed no result of the others.
- Every draw is one double from `Generator.random()` (one 64-bit output each), laid out
  episode by episode: episode o of a block owns
    initial  stream: the draw at position o                      (1 per episode),
    ensemble stream: positions [o·N·D, (o+1)·N·D), step-major      (D per step),
    noise    stream: positions [o·N, (o+1)·N)                      (1 per step),
    momentum stream: positions [o·N, (o+1)·N)                      (1 per step),
    regime   stream: positions [o·N, (o+1)·N)                      (1 per step: the first
                     gives step 1's regime, the k-th the move into step k's regime),
  where N is the number of steps and D the ensemble's draws per step (M micro-updates
  for the Kirman rule, 1 for the random-walk rule). Any episode is reached directly by
  `advance`, without generating its predecessors.
- In the order-flow market N counts every step the market runs, the W warm-up steps
  (numbered 1-W..0) first and then the order's steps 1..N_order: an episode's draws of
  warm-up step 1-W come first in its range. In the field-drift market (MODEL §2) there is no
  warm-up, N is the order's steps and the momentum stream is never read.
- The Gaussian shocks of step k, ξ_k and ζ_k, are Φ⁻¹(max(u_k, 2⁻⁵⁴)) (inverse normal CDF),
  so each too costs exactly one draw.

Because a draw's meaning depends only on (root seed, episode, step), every strategy
and every parameter value of a study sees the same random numbers for the same episode
(common random numbers), as long as N and D are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError
from acsim.strategies.regimes import RegimeParameters

BLOCK_SIZE = 4096
INITIAL_STREAM, ENSEMBLE_STREAM, NOISE_STREAM, MOMENTUM_STREAM, REGIME_STREAM = 0, 1, 2, 3, 4
SMALLEST_UNIFORM = 2.0**-54


@dataclass(frozen=True)
class EpisodeDraws:
    """The draws of a run of consecutive episodes (leading axis: episodes).

    initial: (E,) uniforms.  ensemble: (E, N, D) uniforms.  noise: (E, N) standard normals.
    momentum: (E, N) standard normals ζ of the order-flow market (None when not drawn).
    """

    initial: np.ndarray
    ensemble: np.ndarray
    noise: np.ndarray
    momentum: np.ndarray | None = None


def validate_seed(seed: object) -> int:
    """A root seed is an integer >= 0 (0 is a seed like any other)."""
    return validation.integer("seed", seed, 0)


def stream(root_seed: int, block: int, kind: int, position: int = 0) -> np.random.Generator:
    """Stream `kind` of a block, advanced to draw number `position`."""
    sequence = np.random.SeedSequence(validate_seed(root_seed), spawn_key=(block, kind))
    bit_generator = np.random.PCG64(sequence)
    if position:
        bit_generator.advance(position)
    return np.random.Generator(bit_generator)


def _check_range(first: int, count: int) -> None:
    if first < 0 or count < 1 or first + count > BLOCK_SIZE:
        raise ParameterError(f"episodes {first}..{first + count - 1} are outside a block of "
                             f"{BLOCK_SIZE} (offsets 0..{BLOCK_SIZE - 1}, at least one episode)")


def initial_uniforms(root_seed: int, block: int, first: int, count: int) -> np.ndarray:
    """The initial-count uniform of episodes first..first+count-1 of a block, shape (count,)."""
    _check_range(first, count)
    return stream(root_seed, block, INITIAL_STREAM, first).random(count)


def normal_shocks(root_seed: int, block: int, kind: int, steps: int, first: int,
                  count: int) -> np.ndarray:
    """Standard normal shocks of stream `kind` for the episodes, shape (count, steps)."""
    _check_range(first, count)
    uniforms = stream(root_seed, block, kind, first * steps).random(count * steps)
    return ndtri(np.maximum(uniforms, SMALLEST_UNIFORM)).reshape(count, steps)


def noise_shocks(root_seed: int, block: int, steps: int, first: int, count: int) -> np.ndarray:
    """Standard normal price shocks ξ of the episodes, shape (count, steps)."""
    return normal_shocks(root_seed, block, NOISE_STREAM, steps, first, count)


def momentum_shocks(root_seed: int, block: int, steps: int, first: int,
                    count: int) -> np.ndarray:
    """Standard normal momentum-noise shocks ζ of the episodes, shape (count, steps)."""
    return normal_shocks(root_seed, block, MOMENTUM_STREAM, steps, first, count)


def regime_paths(parameters: RegimeParameters, root_seed: int, block: int, steps: int,
                 first: int, count: int) -> np.ndarray | None:
    """Regimes s_1..s_N of the episodes, shape (count, steps), from the regime stream (one
    uniform per step); None when the market has no regimes (nothing is drawn)."""
    _check_range(first, count)
    if parameters.regimes is None:
        return None
    uniforms = stream(root_seed, block, REGIME_STREAM, first * steps).random(count * steps)
    return parameters.paths(uniforms.reshape(count, steps))


def ensemble_stream(root_seed: int, block: int, steps: int, draws_per_step: int,
                    first: int) -> np.random.Generator:
    """The ensemble stream positioned at episode `first`; draw (count·N·D) from it in order."""
    _check_range(first, 1)
    return stream(root_seed, block, ENSEMBLE_STREAM, first * steps * draws_per_step)


def block_draws(root_seed: int, block: int, steps: int, draws_per_step: int,
                first: int = 0, count: int = BLOCK_SIZE, momentum: bool = False) -> EpisodeDraws:
    """All draws of episodes first..first+count-1 of a block (offsets within the block);
    momentum: also the momentum-noise shocks ζ (the order-flow market)."""
    _check_range(first, count)
    ensemble = ensemble_stream(root_seed, block, steps, draws_per_step, first).random(
        count * steps * draws_per_step).reshape(count, steps, draws_per_step)
    return EpisodeDraws(initial_uniforms(root_seed, block, first, count), ensemble,
                        noise_shocks(root_seed, block, steps, first, count),
                        momentum_shocks(root_seed, block, steps, first, count)
                        if momentum else None)


def episode_draws(root_seed: int, episode: int, steps: int, draws_per_step: int,
                  momentum: bool = False) -> EpisodeDraws:
    """The draws of one episode (leading axis of length 1)."""
    episode = validation.integer("episode", episode, 0)
    block, offset = divmod(episode, BLOCK_SIZE)
    return block_draws(root_seed, block, steps, draws_per_step, first=offset, count=1,
                       momentum=momentum)
