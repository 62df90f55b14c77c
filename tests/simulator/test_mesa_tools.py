"""Mesa as Mesa users know it: `mesa.batch_run` drives the model from keyword parameters, and
the agent-level DataCollector records every agent's type.

Oracle: the vectorised engine, episode by episode (the same episode numbers of the same root
seed); the momentum count the model reports.
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from acsim.simulator.config import config_from_keywords
from acsim.simulator.model import ExecutionMarket
from acsim.simulator.vectorised import simulate_block

PARAMETERS = {"coupling": [0.0, 0.02], "episode": range(3), "steps": 6, "horizon": 6.0,
              "agents": 10, "strategy": "extended", "forecast": "model", "seed": 4}


def test_batch_run_equals_the_vectorised_engine():
    """Every collected step of every run (Mesa's batch_run reports the rows collected at steps
    0..N-1; row k is the state after k steps, as in Mesa's own examples)."""
    rows = pd.DataFrame(mesa.batch_run(ExecutionMarket, PARAMETERS, max_steps=100,
                                       data_collection_period=1, display_progress=False))
    assert len(rows) == 2 * 3 * 6
    for coupling in (0.0, 0.02):
        config = config_from_keywords(coupling=coupling, steps=6, horizon=6.0, agents=10,
                                      strategy="extended", forecast="model", seed=4)
        block = simulate_block(config, 0, 0, 3)
        for episode in range(3):
            got = rows[(rows["coupling"] == coupling) & (rows["episode"] == episode)]
            got = got.sort_values("Step")
            np.testing.assert_array_equal(got["price"].to_numpy(), block.prices[episode, :6])
            np.testing.assert_array_equal(got["holdings"].to_numpy(),
                                          block.holdings[episode, :6])
            np.testing.assert_array_equal(got["momentum_count"].to_numpy(),
                                          block.momentum_counts[episode, :6])


def test_agent_types_are_collected_when_asked():
    model = ExecutionMarket(steps=4, horizon=4.0, agents=10, strategy="twap", seed=2,
                            collect_agents=True)
    for _ in range(4):
        model.step()
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    counts = agents[agents["type"] == "momentum"].groupby("Step").size()
    reported = model.datacollector.get_model_vars_dataframe()["momentum_count"]
    assert len(counts) == 5  # the initial state and four steps
    for step, count in counts.items():
        assert count == reported.iloc[step]
    assert set(agents["type"]) <= {"momentum", "mean-reversion", "executing"}
    plain = ExecutionMarket(steps=4, horizon=4.0, agents=10, strategy="twap", seed=2)
    plain.step()
    assert plain.datacollector.agent_reporters == {}


def test_ensemble_agents_declare_their_type_when_they_step():
    model = ExecutionMarket(steps=3, horizon=3.0, agents=10, strategy="twap", seed=2)
    trader = model.momentum_traders[0]
    trader.step()
    assert trader.stance == 1
    model.switch_type(trader)
    trader.step()
    assert trader.stance == -1
