"""`acsim simulate` and `acsim episode`: summaries checked against an independent
computation from run_episode, clear errors (exit code 2, field named), PNG output."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acsim.experiments.cli import main
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import run_episode

ACSIM = Path(sys.executable).with_name("acsim")  # the console script of this environment
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYS = {"episodes", "mean_is", "std_is", "stderr_is", "mean_is_bps", "var95", "cvar95"}


def quantile_linear(values, q):
    """The 'linear' (type 7) sample quantile, written out."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def independent_summary(config, episodes):
    values = [float(run_episode(config, e).shortfall[0]) for e in range(episodes)]
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    var95 = quantile_linear(values, 0.95)
    tail = [v for v in values if v >= var95]
    return {
        "episodes": n, "mean_is": mean, "std_is": std, "stderr_is": std / math.sqrt(n),
        "mean_is_bps": 1e4 * mean / (config.market.shares * config.market.price),
        "var95": var95, "cvar95": sum(tail) / len(tail),
    }


def run_cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_summary_matches(report, expected):
    assert KEYS <= set(report)
    assert report["episodes"] == expected["episodes"]
    for key in KEYS - {"episodes"}:
        assert report[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key


def test_simulate_json_defaults_match_independent_summary(capsys):
    code, out, err = run_cli(capsys, ["simulate", "--episodes", "20", "--format", "json"])
    assert code == 0, err
    report = json.loads(out)
    expected = independent_summary(SimulationConfig(), 20)
    assert_summary_matches(report, expected)
    assert report["std_is"] > 0 and report["cvar95"] >= report["var95"]


def test_simulate_json_with_flags_matches_independent_summary(capsys):
    argv = ["simulate", "--episodes", "20", "--format", "json", "--seed", "5",
            "--coupling", "0.05", "--self-alpha", "1e-5", "--agents", "20",
            "--strategy", "extended", "--forecast", "model", "--side", "buy",
            "--steps", "10", "--horizon", "10", "--herding", "0.3"]
    code, out, err = run_cli(capsys, argv)
    assert code == 0, err
    config = SimulationConfig().replace(
        market={"steps": 10, "horizon": 10.0, "side": "buy"},
        extended={"coupling": 0.05, "self_alpha": 1e-5},
        ensemble={"agents": 20, "herding": 0.3},
        strategy={"name": "extended", "forecast": "model"},
        simulation={"seed": 5})
    assert_summary_matches(json.loads(out), independent_summary(config, 20))


def test_simulate_flags_override_config_file(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text("[simulation]\nepisodes = 7\nseed = 3\n[strategy]\nname = \"twap\"\n"
                    "[market]\nsteps = 6\nhorizon = 6.0\n", encoding="utf-8")
    code, out, err = run_cli(capsys, ["simulate", "--config", str(path), "--seed", "4",
                                      "--format", "json"])
    assert code == 0, err
    config = SimulationConfig().replace(market={"steps": 6, "horizon": 6.0},
                                        strategy={"name": "twap"}, simulation={"seed": 4})
    assert_summary_matches(json.loads(out), independent_summary(config, 7))


def test_simulate_table_output(capsys):
    code, out, err = run_cli(capsys, ["simulate", "--episodes", "5", "--steps", "5",
                                      "--horizon", "5"])
    assert code == 0, err
    assert "mean IS" in out and "CVaR 95%" in out and "5 episodes" in out
    assert "utility" in out and "E + λV" in out


def test_simulate_console_script_json():
    completed = subprocess.run(
        [str(ACSIM), "simulate", "--episodes", "6", "--format", "json", "--seed", "11",
         "--steps", "8", "--horizon", "8", "--strategy", "ac-adaptive"],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    config = SimulationConfig().replace(market={"steps": 8, "horizon": 8.0},
                                        strategy={"name": "ac-adaptive"},
                                        simulation={"seed": 11})
    assert_summary_matches(json.loads(completed.stdout), independent_summary(config, 6))


# --- errors ---------------------------------------------------------------------------------

BAD_FLAGS = [
    # (extra argv, words the message must contain)
    (["--herding", "2"], ["herding"]),
    (["--herding", "-0.1"], ["herding"]),
    (["--strategy", "vwap"], ["vwap", "volume_profile"]),
    (["--strategy", "vwap", "--volume-profile", "1,2,3"], ["volume_profile", "20"]),
    (["--volume-profile", "1,2,3"], ["volume_profile"]),
    (["--strategy", "vwap", "--volume-profile", "1,x,3"], ["--volume-profile"]),
    (["--episodes", "0"], ["episodes"]),
    (["--episodes", "-3"], ["episodes"]),
    (["--seed", "-1"], ["seed"]),
    (["--agents", "1"], ["agents"]),
    (["--initial", "500"], ["initial"]),
    (["--initial", "sometimes"], ["initial"]),
    (["--step-probability", "0.9"], ["step_probability"]),
    (["--shares", "-10"], ["shares"]),
    (["--volatility", "-1"], ["volatility"]),
    (["--self-alpha", "-1"], ["self_alpha"]),
    (["--strategy", "twap", "--no-buyback"], ["no_buyback"]),
    (["--switch-to-momentum", "0", "--switch-to-mean-reversion", "0"], ["cannot both be 0"]),
    (["--switching", "voter"], ["switching", "kirman", "random-walk"]),
    (["--strategy", "genius"], ["strategy name", "genius"]),
    (["--forecast", "model", "--strategy", "twap"], ["forecast applies to extended"]),
    (["--belief", "market.shares=3"], ["beliefs.market", "shares"]),
    (["--belief", "extended.coupling"], ["--belief must be TABLE.KEY=VALUE"]),
]


@pytest.mark.parametrize("extra, words", BAD_FLAGS)
def test_simulate_bad_flags_exit_2_with_named_field(capsys, extra, words):
    code, out, err = run_cli(capsys, ["simulate", *extra])
    assert code == 2
    assert out == ""
    assert err.startswith("acsim simulate: error:"), err
    for word in words:
        assert word in err, (word, err)
    assert "Traceback" not in err


def test_simulate_bad_config_file_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[ensemble]\nherding = 2\n", encoding="utf-8")
    code, _, err = run_cli(capsys, ["simulate", "--config", str(path)])
    assert code == 2 and "herding" in err
    code, _, err = run_cli(capsys, ["simulate", "--config", str(tmp_path / "missing.toml")])
    assert code == 2 and "does not exist" in err and "missing.toml" in err


@pytest.mark.parametrize("extra, word", [
    (["--episodes", "two"], "--episodes"),
    (["--seed", "1.5"], "--seed"),
    (["--side", "short"], "--side"),
])
def test_simulate_argparse_errors_exit_2(capsys, extra, word):
    with pytest.raises(SystemExit) as info:
        main(["simulate", *extra])
    assert info.value.code == 2
    assert word in capsys.readouterr().err


def test_console_script_bad_flag_exit_code_2():
    completed = subprocess.run([str(ACSIM), "simulate", "--herding", "2"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "herding" in completed.stderr and "Traceback" not in completed.stderr


# --- episode --------------------------------------------------------------------------------

def test_episode_plot_writes_png(tmp_path, capsys):
    target = tmp_path / "anatomy.png"
    code, out, err = run_cli(capsys, ["episode", "--steps", "10", "--horizon", "10",
                                      "--episode", "2", "--seed", "9", "--plot", str(target)])
    assert code == 0, err
    data = target.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    assert str(target) in out


def test_episode_json_matches_run_episode(capsys):
    code, out, err = run_cli(capsys, ["episode", "--steps", "10", "--horizon", "10",
                                      "--episode", "3", "--seed", "9", "--format", "json"])
    assert code == 0, err
    report = json.loads(out)
    config = SimulationConfig().replace(market={"steps": 10, "horizon": 10.0},
                                        simulation={"seed": 9})
    result = run_episode(config, 3)
    assert report["shortfall"] == pytest.approx(float(result.shortfall[0]), rel=1e-12)
    assert len(report["path"]) == 11
    np.testing.assert_allclose([row["price"] for row in report["path"]], result.prices[0],
                               rtol=1e-12)


ORDER_FLOW_FLAGS = ["--feedback", "order-flow", "--steps", "6", "--horizon", "6", "--warmup",
                    "4", "--lookback", "2", "--momentum-size", "3", "--reversion-size", "4",
                    "--momentum-sensitivity", "0.8", "--reversion-sensitivity", "1.2",
                    "--momentum-noise", "5", "--agents", "10", "--seed", "9"]


def order_flow_config():
    return SimulationConfig().replace(
        market={"feedback": "order-flow", "steps": 6, "horizon": 6.0},
        order_flow={"warmup": 4, "lookback": 2, "momentum_size": 3.0, "reversion_size": 4.0,
                    "momentum_sensitivity": 0.8, "reversion_sensitivity": 1.2,
                    "momentum_noise": 5.0},
        ensemble={"agents": 10}, simulation={"seed": 9})


def test_order_flow_episode_json_lists_every_step_warm_up_included(capsys):
    """Steps -W..N; today's keys plus efficient_price and ensemble_flow (Q_k, shares); warm-up
    steps trade 0 and fill nothing; the field is γ·Q_k/τ."""
    code, out, err = run_cli(capsys, ["episode", *ORDER_FLOW_FLAGS, "--episode", "2",
                                      "--format", "json"])
    assert code == 0, err
    report = json.loads(out)
    path = report["path"]
    result = run_episode(order_flow_config(), 2)
    paths = result.market
    assert [row["step"] for row in path] == list(range(-4, 7))
    assert set(path[0]) == {"step", "price", "fill_price", "field", "momentum_count",
                            "holdings", "trade", "efficient_price", "ensemble_flow"}
    np.testing.assert_allclose([row["price"] for row in path], paths.prices[0], rtol=1e-12)
    np.testing.assert_allclose([row["efficient_price"] for row in path],
                               paths.efficient_prices[0], rtol=1e-12)
    assert path[0]["ensemble_flow"] is None and path[0]["trade"] is None
    # the JSON carries 10 decimals
    np.testing.assert_allclose([row["ensemble_flow"] for row in path[1:]], paths.flows[0],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose([row["field"] for row in path[1:]],
                               1e-4 * paths.flows[0] / 1.0, rtol=0, atol=1e-9)
    assert all(row["trade"] == 0.0 and row["fill_price"] is None for row in path[1:5])
    assert all(row["fill_price"] is not None for row in path[5:])
    assert report["shortfall"] == pytest.approx(float(result.shortfall[0]), rel=1e-12)
    np.testing.assert_allclose(1000.0 * paths.prices[0, 4] - sum(
        row["trade"] * row["fill_price"] for row in path[5:]), report["shortfall"], rtol=1e-9)


def test_order_flow_episode_plot_and_table(tmp_path, capsys):
    target = tmp_path / "order_flow.png"
    code, out, err = run_cli(capsys, ["episode", *ORDER_FLOW_FLAGS, "--plot", str(target)])
    assert code == 0, err
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert "efficient_price" in out and "ensemble_flow" in out
    assert out.count("\n") >= 12  # 11 rows (steps -4..6) and the header lines


def test_order_flow_rejects_a_market_coupling(capsys):
    code, out, err = run_cli(capsys, ["episode", *ORDER_FLOW_FLAGS, "--coupling", "0.01"])
    assert code == 2 and "coupling must be 0 in the order-flow market" in err
