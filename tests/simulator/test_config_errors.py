"""TOML configuration files: what loads, and clear errors naming the offending field."""

from __future__ import annotations

import numpy as np
import pytest

from acsim.simulator.config import SimulationConfig, config_toml, load_config
from acsim.simulator.model import run_episode
from acsim.strategies.errors import ParameterError


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_overrides_only_what_it_sets(tmp_path):
    path = write(tmp_path, """
[market]
shares = 500.0
steps = 8
side = "buy"

[extended]
coupling = 0.25

[ensemble]
agents = 30
switching = "random-walk"
initial = 4

[strategy]
name = "vwap"
volume_profile = [1, 2, 3, 4, 4, 3, 2, 1]

[simulation]
episodes = 12
seed = 0
""")
    config = load_config(path)
    default = SimulationConfig()
    assert config.market.shares == 500.0 and config.market.steps == 8
    assert config.market.side == -1
    assert config.market.price == default.market.price           # untouched default
    assert config.extended.coupling == 0.25 and config.extended.self_alpha == 0.0
    assert config.ensemble.agents == 30 and config.ensemble.switching == "random-walk"
    assert config.ensemble.initial == 4
    assert config.strategy.name == "vwap"
    assert config.strategy.options["volume_profile"] == (1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 1.0)
    assert config.episodes == 12 and config.seed == 0
    # and it runs: vwap trades proportional to the profile
    trades = run_episode(config, 0).trades[0]
    np.testing.assert_allclose(trades, 500.0 * np.array([1, 2, 3, 4, 4, 3, 2, 1]) / 20.0,
                               rtol=1e-12)


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == SimulationConfig()


BAD_FILES = [
    # (file text, words the message must contain)
    ("[marketplace]\nshares = 1.0\n", ["marketplace", "unknown table"]),
    ("[market]\nsharez = 1.0\n", ["sharez", "market"]),
    ("[ensemble]\nherd = 0.5\n", ["herd", "ensemble"]),
    ("[simulation]\nworkers = 4\n", ["workers", "simulation"]),
    ("[ensemble]\nherding = 2\n", ["herding"]),
    ("[ensemble]\nherding = -0.5\n", ["herding"]),
    ("[ensemble]\nstep_probability = 0.75\n", ["step_probability"]),
    ("[ensemble]\nagents = 1\n", ["agents"]),
    ("[ensemble]\nagents = 10\ninitial = 11\n", ["initial"]),
    ("[ensemble]\ninitial = \"middle\"\n", ["initial"]),
    ("[ensemble]\nswitching = \"voter\"\n", ["switching"]),
    ("[ensemble]\nswitch_to_momentum = 0.6\nherding = 0.5\n", ["herding", "switch_to_momentum"]),
    ("[market]\nshares = -5.0\n", ["shares"]),
    ("[market]\nvolatility = -0.1\n", ["volatility"]),
    ("[market]\ntemporary_impact = 0.0\n", ["temporary_impact"]),
    ("[market]\nside = \"sideways\"\n", ["side"]),
    ("[market]\ntemporary_impact = 1e-6\npermanent_impact = 1.0\n", ["temporary_impact"]),
    ("[extended]\nself_alpha = -1.0\n", ["self_alpha"]),
    ("[simulation]\nepisodes = 0\n", ["episodes"]),
    ("[simulation]\nseed = -1\n", ["seed"]),
    ("[strategy]\nname = \"vwap\"\n", ["vwap", "volume_profile"]),
    ("[strategy]\nname = \"vwap\"\nvolume_profile = [1, 2, 3]\n", ["volume_profile", "20"]),
    ("[strategy]\nname = \"genius\"\n", ["strategy name"]),
    ("[strategy]\nforecast = \"crystal-ball\"\n", ["forecast"]),
    ("[strategy]\nname = \"twap\"\nno_buyback = true\n", ["no_buyback"]),
    # wrong types
    ("[market]\nsteps = \"ten\"\n", ["steps"]),
    ("[market]\nsteps = 12.0\n", ["steps"]),
    ("[market]\nshares = \"many\"\n", ["shares"]),
    ("[market]\nshares = true\n", ["shares"]),
    ("[ensemble]\nherding = \"high\"\n", ["herding"]),
    ("[strategy]\nno_buyback = \"yes\"\n", ["no_buyback"]),
    ("[simulation]\nseed = 1.5\n", ["seed"]),
    ("[simulation]\nepisodes = \"lots\"\n", ["episodes"]),
    ("market = 5\n", ["market", "table"]),
    # invalid TOML
    ("[market\nshares = 1\n", ["not valid TOML"]),
    ("[market]\nshares = \n", ["not valid TOML"]),
    ("[market]\nshares = 1\nshares = 2\n", ["not valid TOML"]),
]


@pytest.mark.parametrize("text, words", BAD_FILES)
def test_bad_file_is_rejected_with_a_clear_message(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ParameterError) as info:
        load_config(path)
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    # no raw Python exception leaks through instead
    assert "Traceback" not in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "config.toml"
    with pytest.raises(ParameterError, match="does not exist") as info:
        load_config(path)
    assert "config.toml" in str(info.value)


def test_overrides_are_validated_like_files():
    with pytest.raises(ParameterError, match="herding"):
        SimulationConfig().replace(ensemble={"herding": 2.0})
    with pytest.raises(ParameterError, match="bogus"):
        SimulationConfig().replace(market={"bogus": 1.0})


def test_a_configuration_written_to_toml_reads_back_equal(tmp_path):
    """config_toml is the inverse of load_config: every table, nested beliefs, strategy
    options with a list, the order-flow tables and a buy side survive the round trip."""
    config = SimulationConfig().replace(
        market={"feedback": "order-flow", "side": "buy", "drift": -0.003},
        order_flow={"warmup": 9, "momentum_sensitivity": 0.25},
        ensemble={"initial": 7, "switching": "random-walk"},
        beliefs={"extended": {"coupling": 0.01}, "market": {"permanent_impact": 2e-4}},
        strategy={"name": "vwap", "volume_profile": [1.0, 2.0] * 10},
        simulation={"seed": 2**40, "episodes": 17})
    path = tmp_path / "config.toml"
    path.write_text(config_toml(config))
    assert load_config(path) == config
    assert load_config(path) != config.replace(order_flow={"warmup": 10})
