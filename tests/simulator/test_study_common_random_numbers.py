"""Common random numbers in a study (MODEL.md §5): every case sees the same noise.

Identities (no statistics):
- a strategy compared with itself (twap vs the same TWAP under another label: a study refuses
  one strategy listed twice) has a paired difference of exactly 0 in every episode, so mean,
  std and both CI ends are exactly 0;
- `extended/model` at coupling = self_alpha = 0 plans exactly like `ac-adaptive`, so
  every episode's IS is identical (and differs at coupling > 0, so this is not vacuous);
- for TWAP (a deterministic schedule) the IS at coupling c minus the IS at coupling 0 is,
  episode by episode, -side·τ·c·Σ_k f_k x_k (the drift c·f_k lands on the holdings x_k
  carried through step k) — which holds only if both sweep points see the same shocks
  and the same ensemble path;
- a case's results do not depend on which other strategies or sweep values are in the
  study, or their order;
- a study's per-episode IS replays in the Mesa model (run_episode) exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from acsim.agents.policies import TWAP, strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.study import Study, load_episodes, run_study
from acsim.simulator.vectorised import ensemble_paths
from acsim.strategies import ensemble
from acsim.strategies.baselines import twap_holdings

EPISODES = BLOCK_SIZE + 300  # two blocks, the second one partial


def base_config(**simulation):
    return SimulationConfig(episodes=EPISODES, seed=simulation.get("seed", 0)).replace(
        ensemble={"agents": 20, "switch_to_momentum": 0.05, "switch_to_mean_reversion": 0.08,
                  "herding": 0.5, "initial": "stationary"})


def run(study, tmp_path, name):
    return run_study(study, tmp_path / name, backend="inline", progress=False)


def shortfalls(out):
    """{case label: IS per episode (episode order)} from the block files."""
    frame = load_episodes(out).sort_values(["case", "episode"], kind="stable")
    return {case: rows["shortfall"].to_numpy() for case, rows in frame.groupby("case")}


class TwinTWAP(TWAP):
    """The built-in TWAP under another label (a study refuses one strategy listed twice)."""

    label = "twap (twin)"


def test_strategy_against_itself_has_exactly_zero_paired_difference(tmp_path):
    study = Study(base_config(), (strategy("twap"), TwinTWAP()),
                  sweep={"extended.coupling": (0.0, 0.02)})
    results = run(study, tmp_path, "twin")
    paired = results.paired
    assert len(paired) == 2
    for column in ("mean_difference", "std_difference", "stderr_difference", "ci95_low",
                   "ci95_high"):
        assert (paired[column] == 0.0).all(), paired[column]
    assert (paired["episodes"] == EPISODES).all()


def test_extended_model_at_zero_coupling_is_adaptive_ac(tmp_path):
    study = Study(base_config(), (strategy("ac-adaptive"),
                                  strategy("extended", forecast="model")),
                  sweep={"extended.coupling": (0.0, 0.01)}, baseline=0)
    results = run(study, tmp_path, "model")
    values = shortfalls(results.out)
    assert np.array_equal(values["ac-adaptive coupling=0.0"],
                          values["extended/model coupling=0.0"])
    assert not np.array_equal(values["ac-adaptive coupling=0.01"],
                              values["extended/model coupling=0.01"])
    paired = results.paired.set_index("extended.coupling")
    assert paired.loc[0.0, "mean_difference"] == 0.0
    assert paired.loc[0.0, "std_difference"] == 0.0
    assert paired.loc[0.01, "std_difference"] > 0.0


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_twap_difference_across_coupling_is_the_field_drift_on_holdings(tmp_path, side):
    couplings = (0.0, 0.004, 0.03)
    config = base_config().replace(market={"side": side})
    study = Study(config, (strategy("twap"),),
                  sweep={"extended.coupling": couplings})
    values = shortfalls(run(study, tmp_path, side).out)
    problem = config.market
    tau = problem.step_length
    carried = twap_holdings(problem)[1:]
    counts = np.concatenate([ensemble_paths(config.ensemble, config.seed, block, problem.steps,
                                            0, count) for block, count in study.blocks()])
    fields = ensemble.field(config.ensemble, counts[:, 1:])
    reference = values["twap coupling=0.0"]
    scale = np.max(np.abs(reference))
    for coupling in couplings[1:]:
        expected = -problem.side * tau * coupling * fields @ carried
        got = values[f"twap coupling={coupling}"] - reference
        assert np.max(np.abs(got - expected)) <= 1e-9 * scale, coupling
        assert np.std(expected) > 1.0  # the field matters: not a trivially small check


def test_results_do_not_depend_on_the_other_cases(tmp_path):
    alone = Study(base_config(), (strategy("extended", forecast="persistent"),),
                  sweep={"extended.coupling": (0.01,)})
    crowded = Study(base_config(), (strategy("twap"), strategy("ac-static"),
                                    strategy("extended", forecast="persistent")),
                    sweep={"extended.coupling": (0.02, 0.01, 0.0)}, baseline=2)
    one = shortfalls(run(alone, tmp_path, "alone").out)
    many = shortfalls(run(crowded, tmp_path, "crowded").out)
    label = "extended/persistent coupling=0.01"
    assert np.array_equal(one[label], many[label])
    assert len(many) == 9


def test_study_episodes_replay_in_the_mesa_model(tmp_path):
    study = Study(base_config(seed=0), (strategy("twap"),
                                        strategy("extended", forecast="model")),
                  sweep={"extended.coupling": (0.0, 0.01)})
    run(study, tmp_path, "replay")
    frame = load_episodes(tmp_path / "replay")
    assert len(frame) == 4 * EPISODES
    for case in study.cases():
        rows = frame[frame["case"] == case.label].set_index("episode")
        for episode in (0, 17, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 299):
            mesa = run_episode(case.config, episode)
            assert rows.loc[episode, "shortfall"] == mesa.shortfall[0], (case.label, episode)
            assert rows.loc[episode, "final_holdings"] == mesa.holdings[0, -1]


def test_seed_changes_every_case_and_seed_zero_is_a_seed(tmp_path):
    strategies = (strategy("twap"),)
    zero = shortfalls(run(Study(base_config(seed=0), strategies), tmp_path, "s0").out)
    one = shortfalls(run(Study(base_config(seed=1), strategies), tmp_path, "s1").out)
    (a,), (b,) = zero.values(), one.values()
    assert a.shape == b.shape == (EPISODES,)
    assert np.mean(a == b) < 0.01
    assert pd.Series(a).nunique() == EPISODES


def test_a_sweep_that_moves_every_case_off_the_base_shape_is_refused():
    """The study draws with the base's steps and warm-up: cases must share them."""
    from acsim.strategies.errors import ParameterError

    base = SimulationConfig(episodes=100).replace(market={"feedback": "order-flow"},
                                                  order_flow={"warmup": 50})
    for sweep in ({"order_flow.warmup": (10,)}, {"market.steps": (30,)},
                  {"market.feedback": ("field-drift",)}):
        with pytest.raises(ParameterError, match="must share the base's steps"):
            Study(base, (strategy("twap"),), sweep=sweep)
