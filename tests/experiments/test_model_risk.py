"""`acsim model-risk` and its library (simulator/model_risk.py), at small sizes.

Oracles: MODEL §3's E and V written out for a TWAP schedule; a market whose reduced form is
the true model (no ensemble orders), where a planner's prediction must be realised (means
within 4 SE, standard deviations within 10%); the study's own per-episode files for the
summaries and paired differences of the report's tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from acsim.experiments.cli import main
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model_risk import grid_market, predicted_cost
from acsim.simulator.order_flow_calibration import fit_reduced_form
from acsim.simulator.study import load_episodes
from acsim.simulator.vectorised import simulate_block
from acsim.strategies.errors import ParameterError


def quiet_market() -> SimulationConfig:
    """An order-flow market without ensemble orders: its reduced form is the true model."""
    return SimulationConfig().replace(
        market={"feedback": "order-flow", "shares": 20_000.0, "temporary_impact": 0.01,
                "drift": 0.003, "risk_aversion": 2e-5},
        order_flow={"momentum_size": 0.0, "reversion_size": 0.0},
        ensemble={"initial": "stationary"})


def test_twap_prediction_is_model_e_and_v_written_out():
    config = quiet_market().replace(beliefs={"market": {"drift": 0.002, "volatility": 0.12,
                                                        "permanent_impact": 2e-4}},
                                    strategy={"name": "twap"})
    predicted = predicted_cost(config, config.started_policy(), 16)
    market = config.market
    x = market.shares * (1 - np.arange(21) / 20)
    n = market.shares / 20
    expected = (0.5 * 2e-4 * x[0] ** 2 + market.half_spread * market.shares
                + (market.temporary_impact - 0.5 * 2e-4) * 20 * n**2 - 0.002 * x[1:].sum())
    assert predicted["predicted_mean"] == pytest.approx(expected, rel=1e-12)
    assert predicted["predicted_std"] == pytest.approx(0.12 * np.sqrt((x[1:] ** 2).sum()),
                                                       rel=1e-12)


@pytest.mark.parametrize("name, options", [("twap", {}), ("ac-adaptive", {}),
                                           ("extended", {"forecast": "model"})])
def test_with_the_true_model_the_prediction_is_realised(name, options):
    market = quiet_market()
    reduced = fit_reduced_form(market, 2048, seed=3)
    config = market.replace(beliefs=reduced.beliefs(), strategy={"name": name, **options},
                            simulation={"seed": 8})
    predicted = predicted_cost(config, config.started_policy(), 256)
    realised = np.concatenate([simulate_block(config, block, 0, 2000).shortfall
                               for block in range(2)])
    error = realised.std(ddof=1) / np.sqrt(realised.size)
    assert abs(realised.mean() - predicted["predicted_mean"]) < 4 * error
    assert realised.std() == pytest.approx(predicted["predicted_std"], rel=0.1)


def test_grid_points_set_the_momentum_share_and_herding():
    base = SimulationConfig().replace(market={"feedback": "order-flow"},
                                      ensemble={"switch_to_mean_reversion": 0.02})
    market = grid_market(base, 0.2, 0.3)
    a1, a2 = market.ensemble.switch_to_momentum, market.ensemble.switch_to_mean_reversion
    assert a1 / (a1 + a2) == pytest.approx(0.2) and market.ensemble.herding == 0.3
    with pytest.raises(ParameterError, match="a_i \\+ b <= 1"):
        grid_market(base, 0.99, 0.9)


def test_model_risk_tables_come_from_the_study_files(tmp_path, capsys):
    out = tmp_path / "risk"
    code = main(["model-risk", "--momentum-shares", "0.25", "--herding", "0.5", "--episodes",
                 "600", "--fit-episodes", "600", "--prediction-episodes", "32", "--workers",
                 "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = pd.read_csv(out / "summary.csv")
    paired = pd.read_csv(out / "paired.csv")
    episodes = load_episodes(out / "studies" / "share-0.25-herding-0.5")
    wide = episodes.pivot(index="episode", columns="strategy", values="shortfall")
    assert len(summary) == 7 and set(paired["reference"]) == {"twap", "ac-adaptive"}
    for row in summary.itertuples():
        assert row.mean_is == pytest.approx(wide[row.strategy].mean(), rel=1e-12)
    for row in paired.itertuples():
        difference = wide[row.strategy] - wide[row.reference]
        assert row.mean_difference == pytest.approx(difference.mean(), rel=1e-9, abs=1e-9)
    reduced = pd.read_csv(out / "reduced_form.csv")
    assert list(reduced["name"]) == ["drift", "coupling", "self_alpha", "permanent_impact"]
    report = (out / "report.md").read_text()
    assert "## The answer" in report and "cost of a wrong model" in report
    for name in ("paired_vs_twap", "anticipation_gain", "predicted_vs_realised"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
