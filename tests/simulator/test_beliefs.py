"""Beliefs apart from the market: what a strategy plans with versus what the market is.

Oracles: extended AC that believes coupling = self_alpha = 0 is adaptive AC (per-episode IS
identical, whatever the market's true feedback); a static AC schedule planned with a believed σ
is the exact AC schedule of that σ; believing the truth changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.agents.policies import strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.study import Study, load_episodes, run_study
from acsim.simulator.study_files import load_study
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import almgren_chriss
from acsim.strategies.costs import trades_from_holdings
from acsim.strategies.errors import ParameterError

EPISODES = 300


def market(**tables) -> SimulationConfig:
    return SimulationConfig(episodes=EPISODES, seed=5).replace(
        extended={"coupling": 0.01, "self_alpha": 1e-5}, **tables)


def test_by_default_beliefs_are_the_market():
    config = market()
    beliefs = config.planning_beliefs()
    assert beliefs.market == config.market and beliefs.extended == config.extended
    assert beliefs.ensemble == config.ensemble and beliefs.impact == config.impact.impact


def test_believing_the_truth_changes_nothing():
    config = market(strategy={"name": "extended", "forecast": "model"})
    same = config.replace(beliefs={"extended": {"coupling": 0.01, "self_alpha": 1e-5}})
    np.testing.assert_array_equal(simulate_block(config, 0, 0, 64).shortfall,
                                  simulate_block(same, 0, 0, 64).shortfall)


def test_one_line_of_a_study_file_plans_with_a_wrong_coupling(tmp_path):
    """`beliefs.extended.coupling = 0.0`: extended AC plans without the field. With self_alpha
    also believed 0 it is adaptive AC, episode by episode, in a market that has both."""
    path = tmp_path / "study.toml"
    path.write_text(f"""
beliefs.extended.coupling = 0.0
beliefs.extended.self_alpha = 0.0
[extended]
coupling = 0.01
self_alpha = 1e-5
[study]
strategies = ["ac-adaptive", "extended/model"]
[simulation]
episodes = {EPISODES}
seed = 5
""")
    study = load_study(path)
    assert study.base.beliefs == {"extended": {"coupling": 0.0, "self_alpha": 0.0}}
    assert study.base.extended.coupling == 0.01
    run_study(study, tmp_path / "out", backend="inline", progress=False)
    frame = load_episodes(tmp_path / "out")
    adaptive = frame[frame["strategy"] == "ac-adaptive"]["shortfall"].to_numpy()
    extended = frame[frame["strategy"] == "extended/model"]["shortfall"].to_numpy()
    np.testing.assert_array_equal(extended, adaptive)


def test_a_sweep_over_a_belief_moves_only_the_plan(tmp_path):
    study = Study(market(), (strategy("extended", forecast="model"),),
                  sweep={"beliefs.extended.coupling": (0.0, 0.01, 0.05)})
    results = run_study(study, tmp_path / "out", backend="inline", progress=False)
    summary = results.summary.set_index("beliefs.extended.coupling")
    assert list(summary.index) == [0.0, 0.01, 0.05]
    right = simulate_block(market(strategy={"name": "extended", "forecast": "model"}), 0, 0,
                           EPISODES)
    assert summary.loc[0.01, "mean_is"] == pytest.approx(right.shortfall.mean(), rel=1e-12)
    assert len(set(summary["mean_is"])) == 3


def test_a_believed_volatility_sets_the_static_schedule():
    config = market(strategy={"name": "ac-static"}, beliefs={"market": {"volatility": 0.3}})
    result = simulate_block(config, 0, 0, 4)
    planned = almgren_chriss.optimal_holdings(config.market.with_changes(volatility=0.3))
    np.testing.assert_allclose(result.trades[0], trades_from_holdings(planned), rtol=1e-12)
    truth = almgren_chriss.optimal_holdings(config.market)
    assert not np.allclose(result.trades[0], trades_from_holdings(truth))


@pytest.mark.parametrize("beliefs, words", [
    ({"market": {"shares": 3.0}}, ["beliefs.market", "shares"]),
    ({"market": {"risk_aversion": 3.0}}, ["risk_aversion"]),
    ({"ensemble": {"agents": 50}}, ["agents"]),
    ({"weather": {"rain": 1.0}}, ["beliefs.weather"]),
    ({"extended": {"self_alpha": -1.0}}, ["beliefs.extended", "self_alpha must be >= 0"]),
])
def test_bad_beliefs_are_named(beliefs, words):
    with pytest.raises(ParameterError) as error:
        market(beliefs=beliefs)
    for word in words:
        assert word in str(error.value)
