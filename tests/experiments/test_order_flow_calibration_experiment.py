"""`acsim order-flow-calibration` end to end on simulated bars (small sizes).

Oracles: the written tables against each other and against the library (the calibrated
TOML reads back to the fitted market; its beliefs are the reduced form's table), the bar
calibration against `market_data.calibrate`.
"""

from __future__ import annotations

import pandas as pd
import pytest

from acsim.experiments.cli import main
from acsim.simulator import market_data
from acsim.simulator.config import load_config
from tests.bars import simulated_bars, write_headerless


def test_calibration_writes_the_fit_the_reduced_form_and_a_loadable_market(tmp_path, capsys):
    bars = simulated_bars(sessions=3, seed=5)
    path = write_headerless(tmp_path / "bars.txt", bars)
    out = tmp_path / "calibration"
    code = main(["order-flow-calibration", "--quick", "--bars", str(path), "--simulations",
                 "2", "--length-ratio", "1", "--episodes", "256", "--steps", "10", "--out",
                 str(out)])
    assert code == 0, capsys.readouterr().err
    parameters = pd.read_csv(out / "smm_parameters.csv").set_index("name")
    assert list(parameters.index) == ["market.volatility", "order_flow.momentum_noise",
                                      "order_flow.reversion_size",
                                      "ensemble.switch_to_momentum", "ensemble.herding"]
    config = load_config(out / "calibrated_market.toml")
    assert config.order_flow_market and config.market.steps == 10
    assert config.market.volatility == pytest.approx(parameters.loc["market.volatility",
                                                                    "estimate"])
    assert config.order_flow.momentum_noise == pytest.approx(
        parameters.loc["order_flow.momentum_noise", "estimate"])
    expected = market_data.calibrate(market_data.load_bars(path))
    assert config.market.permanent_impact == pytest.approx(expected.permanent_impact)
    assert config.market.shares == round(0.01 * expected.daily_volume)
    reduced = pd.read_csv(out / "reduced_form.csv").set_index("name")
    assert config.beliefs["extended"]["coupling"] == pytest.approx(
        reduced.loc["coupling", "estimate"])
    assert config.beliefs["market"]["permanent_impact"] == pytest.approx(
        max(reduced.loc["permanent_impact", "estimate"], 0.0))
    assert reduced["episodes"].iloc[0] == 256
    moments = pd.read_csv(out / "smm_moments.csv")
    assert len(moments) == 8 and moments["standard_error"].gt(0).all()
    report = (out / "report.md").read_text()
    assert "(a) Simulated method of moments" in report and "R² =" in report
    for name in ("smm_moments", "smm_profile"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
