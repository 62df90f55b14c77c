"""`acsim market` and `acsim stylized-facts` end to end (small sizes).

Oracles: `simulate_market` itself for the Parquet file (whose kernel is checked against both
engines in tests/simulator/test_order_flow_market.py), the price path's own differences for
the returns, and `stylized_facts.measure` on the same returns for the experiment's tables; the
bar files are simulated in the three layouts the loader reads (tests/bars.py).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from acsim.experiments.cli import main
from acsim.simulator import stylized_facts
from acsim.simulator.market_data import load_bars
from acsim.simulator.market_run import STYLIZED_MARKET, bar_returns, simulate_market
from tests.bars import simulated_bars, write_header, write_headerless, write_yfinance

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_market_writes_every_run_to_parquet(tmp_path, capsys):
    target = tmp_path / "market.parquet"
    code, out, err = run_cli(capsys, ["market", "--market-steps", "3000", "--runs", "2",
                                      "--first-run", "5", "--seed", "4", "--agents", "30",
                                      "--momentum-sensitivity", "0.5", "--out", str(target),
                                      "--format", "json"])
    assert code == 0, err
    summary = json.loads(out)
    frame = pd.read_parquet(target)
    assert list(frame.columns) == ["run", "step", "return", "price", "efficient_price",
                                   "ensemble_flow", "field", "momentum_count"]
    assert summary["runs"] == 2 and len(frame) == 6000
    config = STYLIZED_MARKET.replace(ensemble={"agents": 30},
                                     order_flow={"momentum_sensitivity": 0.5},
                                     simulation={"seed": 4})
    for run in (5, 6):
        rows = frame[frame["run"] == run]
        expected = simulate_market(config, 3000, run)
        assert np.array_equal(rows["price"], expected.prices[1:])
        assert np.array_equal(rows["ensemble_flow"], expected.flows)
        assert np.array_equal(rows["step"], np.arange(1, 3001))
        np.testing.assert_allclose(rows["return"], np.diff(expected.prices), rtol=0, atol=0)
    assert summary["excess_kurtosis"] == pytest.approx(
        float(stylized_facts.excess_kurtosis(frame["return"].to_numpy())), rel=1e-12)
    assert not np.array_equal(frame.loc[frame["run"] == 5, "return"].to_numpy(),
                              frame.loc[frame["run"] == 6, "return"].to_numpy())


def test_market_refuses_the_field_drift_market(tmp_path, capsys):
    code, out, err = run_cli(capsys, ["market", "--feedback", "field-drift", "--market-steps",
                                      "100", "--out", str(tmp_path / "m.parquet")])
    assert code == 2 and "order-flow" in err


@pytest.fixture(scope="module")
def bar_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bars")
    bars = simulated_bars(sessions=4, seed=3)
    return bars, [write_headerless(directory / "firstrate.txt", bars),
                  write_yfinance(directory / "yahoo.csv", bars,
                                 ["close", "high", "low", "open", "volume"]),
                  write_header(directory / "plain.csv", bars,
                               {"time": "Datetime", "open": "Open", "high": "High",
                                "low": "Low", "close": "Close", "volume": "Volume"})]


def test_stylized_facts_side_by_side_on_simulated_and_real_bars(tmp_path, capsys, bar_files):
    """One simulated set, a Parquet file of `acsim market` and the three bar layouts: every
    set measured with the same settings; the tables equal `measure` on the same returns."""
    bars, files = bar_files
    returns_file = tmp_path / "market.parquet"
    assert run_cli(capsys, ["market", "--market-steps", "4000", "--seed", "2", "--out",
                            str(returns_file)])[0] == 0
    out = tmp_path / "facts"
    argv = ["stylized-facts", "--quick", "--market-steps", "4000", "--replicates", "20",
            "--seed", "2", "--returns", str(returns_file), "--out", str(out)]
    for path in files:
        argv += ["--bars", str(path)]
    code, printed, err = run_cli(capsys, argv)
    assert code == 0, err
    verdicts = pd.read_csv(out / "stylized_facts_verdicts.csv")
    names = list(dict.fromkeys(verdicts["set"]))
    assert names == ["simulated order-flow market", "market", "firstrate (bars)",
                     "yahoo (bars)", "plain (bars)"]
    assert len(verdicts) == 5 * len(names)
    assert set(verdicts["outcome"]) <= {"holds", "does not hold", "cannot tell"}
    for name in ("density", "autocorrelation", "kurtosis", "hill"):
        assert (out / "figures" / f"stylized_facts_{name}.png").read_bytes()[:8] == PNG_SIGNATURE
    summary = pd.read_csv(out / "stylized_facts_summary.csv").set_index("set")
    # the simulated set and the Parquet file hold the same run (run 0 of seed 2)
    assert summary.loc["simulated order-flow market", "tail_index"] == pytest.approx(
        summary.loc["market", "tail_index"], rel=1e-12)
    expected = bar_returns(load_bars(files[0]))
    assert summary.loc["firstrate (bars)", "observations"] == expected.size
    assert expected.lengths.size == 4  # nothing across a night
    for name in ("yahoo (bars)", "plain (bars)"):  # the three layouts read the same bars
        assert summary.loc[name, "tail_index"] == pytest.approx(
            summary.loc["firstrate (bars)", "tail_index"], rel=1e-9)
    report = (out / "report.md").read_text()
    assert "## Why facts fail" in report and "### yahoo (bars)" in report


def test_stylized_facts_needs_something_to_measure(tmp_path, capsys):
    code, out, err = run_cli(capsys, ["stylized-facts", "--no-simulation", "--out",
                                      str(tmp_path / "x")])
    assert code == 2 and "nothing to measure" in err


def test_deseasonalised_bars_keep_full_sessions_and_flatten_the_day(tmp_path, capsys, bar_files):
    """A U-shaped intraday volatility (×4 at the open) is measured as clustering and fat tails;
    divided by its time of day's typical size it is not. The last session loses a bar, so only
    full sessions are kept."""
    bars, _ = bar_files
    bars = bars.copy()
    minutes = (bars.index.hour * 60 + bars.index.minute).to_numpy() - 570
    scale = 1.0 + 3.0 * np.exp(-minutes / 30.0)
    changes = np.diff(bars["close"].to_numpy(), prepend=bars["close"].iloc[0]) * scale
    bars["close"] = bars["close"].iloc[0] + np.cumsum(changes)
    bars["open"] = bars["close"]
    bars["high"], bars["low"] = bars["close"] + 0.1, bars["close"] - 0.1
    path = write_headerless(tmp_path / "seasonal.txt", bars.iloc[:-1])
    out = tmp_path / "facts"
    measured = {}
    for flag in ([], ["--deseasonalise"]):
        code, _, err = run_cli(capsys, ["stylized-facts", "--no-simulation", *flag, "--bars",
                                        str(path), "--replicates", "20", "--out", str(out)])
        assert code == 0, err
        summary = pd.read_csv(out / "stylized_facts_summary.csv").iloc[0]
        kurtosis = pd.read_csv(out / "stylized_facts_kurtosis.csv")["excess_kurtosis"].iloc[0]
        measured[bool(flag)] = (summary, kurtosis)
    raw, flat = measured[False], measured[True]
    assert raw[0]["observations"] == 3 * 77 + 76 and raw[1] > 1.0
    assert flat[0]["set"] == "seasonal (bars, deseasonalised)"
    assert flat[0]["observations"] == 3 * 77 and flat[0]["segments"] == 3
    assert flat[1] < 0.5 * raw[1]
