"""Extension points: a switching rule, an impact model and policies defined in this file run
through both engines and a study, by object and by "package.module:NAME" path.

Oracles: each component's own recursion written out here step by step (counts, prices, IS);
the built-in TWAP (a custom TWAP must give identical per-episode IS); the vectorised engine
against the Mesa model, bit for bit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from acsim.agents.policies import Beliefs, Observation, strategy
from acsim.experiments.cli import main
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import ExecutionMarket, run_episode
from acsim.simulator.randomness import block_draws, noise_shocks
from acsim.simulator.study import Study, load_episodes, run_study
from acsim.simulator.vectorised import ensemble_paths, simulate_block
from acsim.strategies import ensemble
from acsim.strategies.ensemble import EnsembleParameters, SwitchingRule
from acsim.strategies.errors import ParameterError, PlanningError, PolicyError
from acsim.strategies.impact import ImpactModel, ImpactParameters

THIS = "tests.simulator.test_extension_points"
EPISODES = 40


# --- a switching rule of our own ---------------------------------------------------------------

@dataclass(frozen=True)
class DriftRule(SwitchingRule):
    """One draw per step: u < up moves the count up, u > 1 - down moves it down (suppressed at
    the bounds)."""

    up: float = 0.3
    down: float = 0.1

    def step_counts(self, counts, uniforms, agents):
        u = uniforms[:, 0]
        return counts + ((u < self.up) & (counts < agents)) - ((u > 1.0 - self.down)
                                                              & (counts > 0))

    def transition_matrix(self, agents):
        matrix = np.zeros((agents + 1, agents + 1))
        for m in range(agents + 1):
            up = self.up if m < agents else 0.0
            down = self.down if m > 0 else 0.0
            matrix[m, min(m + 1, agents)] += up
            matrix[m, max(m - 1, 0)] += down
            matrix[m, m] += 1.0 - up - down
        return matrix


RULE = DriftRule(up=0.3, down=0.1)


# --- an impact model of our own: linear impact that decays (a transient displacement) --------

@dataclass(frozen=True)
class DecayingImpact(ImpactModel):
    """Fill S - side·(ε sgn n + (η/τ)·n) - side·displacement; the trade adds g·n to the
    displacement, which decays by the factor `keep` every step; the price the market sees moves
    by the change of the displacement."""

    strength: float = 0.01
    keep: float = 0.5

    def initial_state(self, problem, episodes):
        return np.zeros((episodes, 1))

    def fill_price(self, problem, price, trade, state):
        return price - problem.side * (problem.half_spread * np.sign(trade)
                                       + problem.temporary_impact / problem.step_length * trade)

    def price_move(self, problem, trade, state):
        before = state[:, 0]
        after = self.keep * (before + self.strength * trade)
        return -problem.side * (after - before), after[:, None]


IMPACT = DecayingImpact(strength=0.01, keep=0.5)


# --- policies of our own ---------------------------------------------------------------------

class FrontLoaded:
    """Sells twice the TWAP rate while it can."""

    label = "front-loaded"

    def start(self, beliefs: Beliefs) -> None:
        self.steps = beliefs.market.steps

    def trades(self, observation: Observation) -> np.ndarray:
        return observation.holdings * min(1.0, 2.0 / observation.remaining_steps)


class MyTWAP:
    """TWAP written from scratch: X/N per step."""

    label = "my-twap"

    def start(self, beliefs: Beliefs) -> None:
        self.trade = beliefs.market.shares / beliefs.market.steps

    def trades(self, observation: Observation) -> np.ndarray:
        return np.full(observation.holdings.shape, self.trade)


class FieldChaser:
    """Sells faster when the field is high; says nothing about `uses_field`."""

    def __init__(self, *, boost: float = 0.5) -> None:
        self.boost = boost

    def start(self, beliefs: Beliefs) -> None:
        self.scale = beliefs.ensemble.field_scale

    def trades(self, observation: Observation) -> np.ndarray:
        share = (1.0 + self.boost * observation.field / self.scale) / observation.remaining_steps
        return observation.holdings * np.clip(share, 0.0, 1.0)


def config(**tables) -> SimulationConfig:
    base = SimulationConfig(episodes=EPISODES, seed=11).replace(
        market={"steps": 8, "horizon": 8.0}, ensemble={"agents": 12},
        extended={"coupling": 0.01})
    return base.replace(**tables)


# --- the switching rule ----------------------------------------------------------------------

def test_a_rule_of_our_own_moves_the_counts_as_written():
    parameters = EnsembleParameters(agents=12, switching=RULE)
    assert parameters.draws_per_step == 1
    counts = ensemble_paths(parameters, 11, 0, 8, 0, EPISODES)
    uniforms = block_draws(11, 0, 8, 1, count=EPISODES).ensemble[:, :, 0]
    expected = np.empty_like(counts)
    expected[:, 0] = 6
    for e in range(EPISODES):
        for k in range(8):
            m = expected[e, k]
            u = uniforms[e, k]
            expected[e, k + 1] = m + (u < 0.3 and m < 12) - (u > 0.9 and m > 0)
    np.testing.assert_array_equal(counts, expected)


def test_a_rule_of_our_own_gets_the_stationary_law_and_forecasts():
    parameters = EnsembleParameters(agents=5, switching=RULE)
    law = ensemble.stationary_law(parameters)
    matrix = RULE.transition_matrix(5)
    np.testing.assert_allclose(law @ matrix, law, atol=1e-14)
    ratio = 0.3 / 0.1  # birth-death chain: π_{m+1}/π_m = up/down
    np.testing.assert_allclose(law[1:] / law[:-1], ratio, rtol=1e-10)
    table = ensemble.expected_count_table(parameters, 3)
    np.testing.assert_allclose(table[2], np.linalg.matrix_power(matrix, 2) @ np.arange(6),
                               atol=1e-12)


@pytest.mark.parametrize("switching", [RULE, f"{THIS}:RULE", f"{THIS}:DriftRule"])
def test_a_rule_of_our_own_replays_in_mesa(switching):
    chosen = config(ensemble={"switching": switching}, strategy={"name": "extended",
                                                                 "forecast": "model"})
    block = simulate_block(chosen, 0, 0, 6)
    for episode in range(6):
        mesa = run_episode(chosen, episode)
        np.testing.assert_array_equal(mesa.momentum_counts[0], block.momentum_counts[episode])
        np.testing.assert_array_equal(mesa.shortfall, block.shortfall[episode:episode + 1])


# --- the impact model ------------------------------------------------------------------------

def decaying_shortfall(problem, trades, shocks, coupling_field=None):
    """IS of a trade schedule in the DecayingImpact market, step by step (σ, drift 0 here)."""
    price, displacement, cash = problem.price, 0.0, 0.0
    for trade in trades:
        fill = price - (problem.half_spread * np.sign(trade)
                        + problem.temporary_impact / problem.step_length * trade)
        cash += trade * fill
        after = 0.5 * (displacement + 0.01 * trade)
        price = price - (after - displacement)
        displacement = after
    return problem.shares * problem.price - cash


def test_an_impact_model_of_our_own_sets_fills_and_prices():
    chosen = config(impact={"model": IMPACT}, extended={"coupling": 0.0},
                    market={"volatility": 0.0}, strategy={"name": "twap"})
    result = simulate_block(chosen, 0, 0, 3)
    trades = np.full(8, chosen.market.shares / 8)
    expected = decaying_shortfall(chosen.market, trades, None)
    np.testing.assert_allclose(result.shortfall, expected, rtol=1e-13)
    # and it differs from the linear market (the impact model is really used)
    linear = simulate_block(chosen.replace(impact={"model": "linear"}), 0, 0, 3)
    assert abs(linear.shortfall[0] - result.shortfall[0]) > 1e-3


def test_an_impact_model_of_our_own_in_a_study(tmp_path):
    chosen = config(impact={"model": IMPACT})
    study = Study(chosen, (strategy("twap"), MyTWAP()), sweep={"market.volatility": (0.0, 0.1)})
    run_study(study, tmp_path / "out", backend="processes", workers=2, progress=False)
    frame = load_episodes(tmp_path / "out")
    for volatility in (0.0, 0.1):
        rows = frame[frame["market.volatility"] == volatility]
        direct = simulate_block(chosen.replace(market={"volatility": volatility},
                                               strategy={"name": "twap"}), 0, 0, EPISODES)
        for label in ("twap", "my-twap"):
            np.testing.assert_array_equal(rows[rows["strategy"] == label]["shortfall"],
                                          direct.shortfall)


@pytest.mark.parametrize("model", [IMPACT, f"{THIS}:IMPACT"])
def test_an_impact_model_of_our_own_replays_in_mesa(model):
    chosen = config(impact={"model": model}, strategy={"name": "twap"})
    block = simulate_block(chosen, 0, 0, 4)
    for episode in range(4):
        np.testing.assert_array_equal(run_episode(chosen, episode).prices[0],
                                      block.prices[episode])


def test_a_planner_refuses_an_impact_model_it_cannot_solve():
    chosen = config(impact={"model": IMPACT}, strategy={"name": "ac-adaptive"})
    with pytest.raises(PlanningError, match="no planner is known for the impact model"):
        simulate_block(chosen, 0, 0, 2)
    # planning with a believed linear model in the decaying market is allowed
    believed = chosen.replace(beliefs={"impact": {"model": "linear"}})
    assert np.all(np.isfinite(simulate_block(believed, 0, 0, 2).shortfall))


def test_impact_parameters_reject_what_is_not_an_impact_model():
    with pytest.raises(ParameterError, match="is not an object of type ImpactModel"):
        ImpactParameters(model=f"{THIS}:FrontLoaded")


# --- policies --------------------------------------------------------------------------------

def test_a_policy_of_our_own_runs_in_both_engines():
    chosen = config()
    block = simulate_block(chosen, 0, 0, 5, policy=FrontLoaded())
    for episode in range(5):
        mesa = run_episode(chosen, episode, policy=FrontLoaded())
        np.testing.assert_array_equal(mesa.trades, block.trades[episode:episode + 1])
        np.testing.assert_array_equal(mesa.shortfall, block.shortfall[episode:episode + 1])
    np.testing.assert_allclose(block.trades[0, :3], [250.0, 750.0 / 7 * 2, 750 * 5 / 7 / 6 * 2])


def test_a_custom_twap_gives_the_built_in_twap_per_episode(tmp_path):
    """Per-episode IS identical to the built-in TWAP, in a study with the process pool."""
    study = Study(config(), (strategy("twap"), MyTWAP(), FrontLoaded()),
                  sweep={"extended.coupling": (0.0, 0.02)})
    run_study(study, tmp_path / "out", backend="processes", workers=2, progress=False)
    frame = load_episodes(tmp_path / "out")
    for coupling in (0.0, 0.02):
        rows = frame[frame["extended.coupling"] == coupling]
        built_in = rows[rows["strategy"] == "twap"]["shortfall"].to_numpy()
        mine = rows[rows["strategy"] == "my-twap"]["shortfall"].to_numpy()
        assert built_in.shape == (EPISODES,)
        np.testing.assert_array_equal(mine, built_in)
    front = frame[frame["strategy"] == "front-loaded"]
    assert not np.allclose(front["shortfall"].to_numpy()[:EPISODES], built_in)


def test_a_study_resumes_with_policy_objects(tmp_path):
    study = Study(config(simulation={"episodes": 5000}), (MyTWAP(), FrontLoaded()))
    first = run_study(study, tmp_path / "out", backend="inline", progress=False)
    (tmp_path / "out" / "blocks" / "block-000001.parquet").unlink()
    again = run_study(study, tmp_path / "out", backend="inline", progress=False)
    assert first.summary.equals(again.summary)


def test_the_zero_coupling_shortcut_never_applies_to_a_policy_it_cannot_inspect(tmp_path):
    """In a market with coupling 0 the field moves no price, but FieldChaser reads it: the
    study must simulate the ensemble for it (equal to a direct run) and may skip it only for
    policies that say they ignore the field."""
    chosen = config(extended={"coupling": 0.0})
    study = Study(chosen, (FieldChaser(), strategy("twap")))
    results = run_study(study, tmp_path / "out", backend="inline", progress=False)
    direct = simulate_block(chosen, 0, 0, EPISODES, policy=FieldChaser())
    frame = load_episodes(tmp_path / "out")
    np.testing.assert_array_equal(frame[frame["strategy"] == "FieldChaser"]["shortfall"],
                                  direct.shortfall)
    assert results.summary.shape[0] == 2


def test_the_shortcut_does_not_apply_when_the_strategy_believes_in_a_field(tmp_path):
    """Built-in extended AC with a believed coupling in a market without one reads the field."""
    chosen = config(extended={"coupling": 0.0}, beliefs={"extended": {"coupling": 0.05}},
                    strategy={"name": "extended", "forecast": "persistent"})
    study = Study(chosen, (chosen.strategy,))
    run_study(study, tmp_path / "out", backend="inline", progress=False)
    direct = simulate_block(chosen, 0, 0, EPISODES)
    np.testing.assert_array_equal(load_episodes(tmp_path / "out")["shortfall"], direct.shortfall)
    assert np.std(direct.trades[:, 0]) > 0.0  # the field really changes its trades


def test_a_policy_path_with_options_in_a_study_file_and_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text(f"""
[market]
steps = 8
horizon = 8.0
[ensemble]
agents = 12
switching = "{THIS}:RULE"
[study]
strategies = ["twap", "{THIS}:MyTWAP", {{name = "{THIS}:FieldChaser", boost = 1.0}}]
baseline = "twap"
[simulation]
episodes = {EPISODES}
seed = 11
""")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--backend", "inline",
                 "--format", "json"]) == 0
    frame = load_episodes(tmp_path / "out")
    labels = sorted(set(frame["strategy"]))
    assert labels == sorted(["twap", f"{THIS}:MyTWAP", f"{THIS}:FieldChaser(boost=1.0)"])
    twap = frame[frame["strategy"] == "twap"]["shortfall"].to_numpy()
    mine = frame[frame["strategy"] == f"{THIS}:MyTWAP"]["shortfall"].to_numpy()
    np.testing.assert_array_equal(twap, mine)
    capsys.readouterr()
    assert main(["simulate", "--strategy", f"{THIS}:FrontLoaded", "--engine", "fast",
                 "--episodes", "300", "--steps", "8", "--horizon", "8", "--backend", "inline",
                 "--format", "json"]) == 0
    assert '"strategy": "tests.simulator.test_extension_points:FrontLoaded"' in \
        capsys.readouterr().out


def test_bad_component_paths_are_clear_errors():
    with pytest.raises(ParameterError, match="cannot import 'no_such_module'"):
        EnsembleParameters(switching="no_such_module:Rule")
    with pytest.raises(ParameterError, match="has no 'Missing'"):
        EnsembleParameters(switching=f"{THIS}:Missing")
    with pytest.raises(ParameterError, match="not an object of type SwitchingRule"):
        EnsembleParameters(switching=f"{THIS}:IMPACT")
    with pytest.raises(ParameterError, match="unexpected keyword argument 'boots'"):
        strategy(f"{THIS}:FieldChaser", boots=1.0)


def test_dask_runs_policy_objects(tmp_path):
    study = Study(config(simulation={"episodes": 600}), (MyTWAP(), strategy("twap")))
    run_study(study, tmp_path / "out", backend="dask", workers=1, progress=False)
    frame = load_episodes(tmp_path / "out")
    np.testing.assert_array_equal(frame[frame["strategy"] == "my-twap"]["shortfall"],
                                  frame[frame["strategy"] == "twap"]["shortfall"])


def test_noise_is_shared_by_every_component():
    """The same shocks drive the custom-impact market and the linear one (common numbers)."""
    shocks = noise_shocks(11, 0, 8, 0, 2)
    chosen = config(impact={"model": IMPACT}, strategy={"name": "twap"},
                    extended={"coupling": 0.0})
    result = simulate_block(chosen, 0, 0, 2)
    problem = chosen.market
    tau = problem.step_length
    trades = np.full(8, problem.shares / 8)
    price, displacement = problem.price, 0.0
    for k in range(8):
        after = 0.5 * (displacement + 0.01 * trades[k])
        price = price + problem.volatility * np.sqrt(tau) * shocks[0, k] - (after - displacement)
        displacement = after
    assert result.prices[0, -1] == pytest.approx(price, rel=1e-13)


def test_mesa_models_are_built_from_keywords():
    model = ExecutionMarket(coupling=0.01, agents=12, steps=8, horizon=8.0, strategy="extended",
                            forecast="model", seed=11, episode=3, collect_agents=True)
    assert model.config == config(strategy={"name": "extended", "forecast": "model"},
                                  simulation={"episodes": 1000})
    while model.running:
        model.step()
    block = simulate_block(model.config, 0, 3, 1)
    np.testing.assert_array_equal(model.results().shortfall, block.shortfall)
    agents = model.datacollector.get_agent_vars_dataframe()
    last = agents.xs(8, level="Step")["type"]
    assert (last == "momentum").sum() == block.momentum_counts[0, -1]
    assert (last == "executing").sum() == 1
    assert dataclasses.is_dataclass(model.config)


# --- the policy contract ---------------------------------------------------------------------

class Stateful:
    """Counts its own steps from start(): right only if it is started afresh for each run of
    episodes (a study must not reuse it across blocks)."""

    def start(self, beliefs: Beliefs) -> None:
        self.calls = 0
        self.shares = beliefs.market.shares

    def trades(self, observation: Observation) -> np.ndarray:
        self.calls += 1
        return np.full(observation.holdings.shape, self.shares * self.calls / 100.0)


class Vandal:
    """Writes into what it observes."""

    def start(self, beliefs: Beliefs) -> None:
        pass

    def trades(self, observation: Observation) -> np.ndarray:
        holdings = observation.holdings
        holdings /= observation.remaining_steps
        return holdings


class Scalar(MyTWAP):
    def trades(self, observation: Observation) -> np.ndarray:
        return self.trade  # one number for every episode: not the contract


class NotANumber(MyTWAP):
    def trades(self, observation: Observation) -> np.ndarray:
        return np.full(observation.holdings.shape, np.nan)


def test_a_stateful_policy_named_by_path_is_started_for_every_block(tmp_path):
    chosen = config(simulation={"episodes": 4097})
    study = Study(chosen, (strategy(f"{THIS}:Stateful"),))
    run_study(study, tmp_path / "out", backend="inline", progress=False)
    frame = load_episodes(tmp_path / "out")
    last = frame[frame["episode"] == 4096]["shortfall"].to_numpy()
    mesa = run_episode(chosen.replace(strategy={"name": f"{THIS}:Stateful"}), 4096)
    np.testing.assert_array_equal(last, mesa.shortfall)


def test_a_policy_cannot_write_into_the_engine():
    chosen = config()
    with pytest.raises(ValueError, match="read-only"):
        simulate_block(chosen, 0, 0, 4, policy=Vandal())
    clean = simulate_block(chosen, 0, 0, 4, policy=MyTWAP())
    np.testing.assert_allclose(clean.holdings[:, 1], 1000.0 * 7 / 8)


@pytest.mark.parametrize("policy, words", [(Scalar(), "one trade per episode"),
                                           (NotANumber(), "non-finite trade")])
def test_a_policy_that_breaks_its_contract_is_a_named_error(policy, words):
    with pytest.raises(PolicyError, match=words):
        simulate_block(config(), 0, 0, 4, policy=policy)
    with pytest.raises(PolicyError, match=words if words != "one trade per episode" else "shape"):
        run_episode(config(), 0, policy=policy)


def test_objects_without_the_two_methods_are_not_policies():
    with pytest.raises(PolicyError, match="no start or trades method"):
        simulate_block(config(), 0, 0, 2, policy=object())
    with pytest.raises(ParameterError, match="not a policy class"):
        strategy("collections:OrderedDict")


def test_a_study_of_policy_objects_resumes_from_another_session(tmp_path):
    """The manifest records a policy object by class and attributes: an equal object, built
    anew (as in a new Python session), resumes the same study."""
    first = Study(config(simulation={"episodes": 5000}), (MyTWAP(), FieldChaser(boost=0.25)))
    run_study(first, tmp_path / "out", backend="inline", progress=False)
    (tmp_path / "out" / "blocks" / "block-000001.parquet").unlink()
    again = Study(config(simulation={"episodes": 5000}), (MyTWAP(), FieldChaser(boost=0.25)))
    resumed = run_study(again, tmp_path / "out", backend="inline", progress=False)
    assert resumed.summary["episodes"].tolist() == [5000, 5000]
    other = Study(config(simulation={"episodes": 5000}), (MyTWAP(), FieldChaser(boost=0.5)))
    with pytest.raises(ParameterError, match="holds a different study"):
        run_study(other, tmp_path / "out", backend="inline", progress=False)
