"""The audit's bad inputs (issue 13: silent wrong answers and tracebacks), each a named error
(exit 2, one line on standard error naming the field or flag) or a correct finite result.

Extreme values: every quantity derived from several parameters (λσ², X², κ, bounds of E and V,
of the simulated prices and shortfalls) is checked before it is computed, so no NaN, inf or
overflow warning reaches the user. Inputs: configuration, study and bar files that are
directories or binary, plot files of the wrong type, flags that would be ignored, duplicate
strategies and sweep values.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from acsim.agents.policies import strategy
from acsim.experiments import stylized
from acsim.experiments.cli import FiniteOutput, main
from acsim.experiments.planning import json_text
from acsim.simulator import model
from acsim.simulator.config import SimulationConfig
from acsim.simulator.study import Study
from acsim.strategies.errors import NonFiniteResultError, ParameterError
from acsim.strategies.parameters import ExecutionProblem


def refused(capsys, argv: list[str]) -> str:
    """Run `acsim argv` in process; assert exit 2, nothing on stdout and one line on stderr of
    the form 'acsim <command>: error: ...'; return that line."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"acsim {argv[0]}: error: "), lines[0]
    assert captured.out == ""
    return lines[0]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("argv, named", [
    (["schedule", "--risk-aversion", "1e308"], "risk_aversion"),
    (["schedule", "--shares", "1e308"], "shares"),
    (["schedule", "--volatility", "1e200"], "volatility"),
    (["schedule", "--drift", "1e308"], "drift"),
    (["schedule", "--shares", "1", "--risk-aversion", "1e300", "--temporary-impact", "1e-290",
      "--permanent-impact", "0"], "κ"),
    (["schedule", "--model", "extended", "--coupling", "1e308", "--field", "1"], "coupling"),
    (["schedule", "--model", "extended", "--self-alpha", "1e308"], "self_alpha"),
    (["schedule", "--model", "extended", "--no-buyback", "--coupling", "1e300", "--field",
      "1e10"], "coupling"),
    (["schedule", "--horizon", "1e-320"], "horizon"),
    (["schedule", "--impact", "power", "--impact-coefficient", "1e300"], "impact_coefficient"),
    (["schedule", "--transient", "exponential", "--transient-impact", "1e308"],
     "transient_impact"),
    (["schedule", "--transient", "exponential", "--resilience", "1e308"], "resilience"),
    (["schedule", "--transient", "power-law", "--transient-time", "1e-308"], "transient_time"),
    (["schedule", "--model", "ac-continuous", "--shares", "1", "--risk-aversion", "1e290",
      "--temporary-impact", "1e-320", "--permanent-impact", "0", "--volatility", "1",
      "--horizon", "1e10", "--steps", "3"], "κT"),
    (["cost", "--steps", "1", "--horizon", "1", "--shares", "1e308", "--trades", "1e308"],
     "shares"),
    (["cost", "--steps", "2", "--horizon", "2", "--holdings", "1e6,1e200,0"],
     "the schedule's holdings and trades"),
    (["cost", "--shares", "1", "--steps", "2", "--horizon", "2", "--holdings", "1,1e154,0"],
     "sums of squares"),
    (["cost", "--steps", "2", "--horizon", "2", "--holdings", "1e6,1e150,0",
      "--temporary-impact", "1e300"], "temporary-impact cost"),
    (["cost", "--steps", "2", "--horizon", "2", "--trades", "1e300,-1e300"], "holdings"),
    (["simulate", "--episodes", "2", "--volatility", "1e200"], "volatility"),
    (["simulate", "--episodes", "2", "--shares", "1e308"], "shares"),
    (["simulate", "--episodes", "2", "--shares", "1e150"], "shares"),
    (["simulate", "--episodes", "2", "--price", "1e300"], "price"),
    (["simulate", "--episodes", "2", "--coupling", "1e308"], "coupling"),
    (["simulate", "--episodes", "2", "--drift", "1e308"], "drift"),
    (["simulate", "--episodes", "2", "--self-alpha", "1e308"], "self_alpha"),
    (["simulate", "--episodes", "2", "--field-scale", "1e308"], "field_scale"),
    (["simulate", "--episodes", "2", "--engine", "fast", "--backend", "inline",
      "--coupling", "1e300"], "coupling"),
    (["episode", "--volatility", "1e200"], "volatility"),
    (["simulate", "--episodes", "2", "--regimes", "markov", "--regime-volatilities", "1e200,1",
      "--regime-transition", "0.9,0.1,0.2,0.8"], "[regimes] volatilities"),
    (["simulate", "--episodes", "2", "--belief", "market.volatility=1e200"], "beliefs.market"),
    (["simulate", "--episodes", "2", "--impact", "power", "--impact-coefficient", "1e300"],
     "impact_coefficient"),
    (["simulate", "--episodes", "1"], "episodes"),
])
def test_extreme_values_are_named_errors(capsys, argv, named):
    assert named in refused(capsys, argv)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("flags, named", [
    (["--momentum-size", "1e308"], "order-flow sizes"),
    (["--volatility", "1e150"], "fourth moment"),
    (["--price", "1e300"], "every return is the same"),
])
def test_market_extremes_are_named_errors_and_write_nothing(capsys, tmp_path, flags, named):
    out = tmp_path / "market.parquet"
    assert named in refused(capsys, ["market", "--market-steps", "100", "--out", str(out),
                                     *flags])
    assert not out.exists()


def test_huge_but_representable_order_scales_exactly(capsys):
    """1e100 shares instead of 1e6: the AC schedule is linear in X (no drift) and V = σ²τΣx_k²
    quadratic, so holdings scale by 1e94 and V by 1e188, all finite."""
    reports = []
    for shares in ("1e6", "1e100"):
        assert main(["schedule", "--shares", shares, "--format", "json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    small, large = reports
    np.testing.assert_allclose(np.array(large["holdings"]), 1e94 * np.array(small["holdings"]),
                               rtol=1e-12, atol=0)
    assert large["variance"] == pytest.approx(1e188 * small["variance"], rel=1e-12)
    assert np.isfinite(large["expected_shortfall"]) and np.isfinite(large["utility"])


@pytest.mark.parametrize("argv, words", [
    (["cost", "--coupling", "0.5", "--trades", ",".join(["16666.666666666668"] * 60)],
     "--coupling needs --field"),
    (["schedule", "--model", "extended", "--coupling", "0.5"], "--coupling needs --field"),
    (["cost", "--field", "1", "--trades", ",".join(["16666.666666666668"] * 60)],
     "--field needs --coupling"),
    (["schedule", "--model", "extended", "--field", "1"], "--field needs --coupling"),
])
def test_coupling_without_a_field_is_refused_not_ignored(capsys, argv, words):
    assert words in refused(capsys, argv)


def test_coupling_with_a_field_changes_the_cost(capsys):
    """The metamorphic twin of the refusal: with --field the coupling term enters E."""
    trades = ",".join(["16666.666666666668"] * 60)
    values = []
    for extra in ([], ["--coupling", "0.5", "--field", "1"]):
        assert main(["cost", "--trades", trades, "--format", "json", *extra]) == 0
        values.append(json.loads(capsys.readouterr().out)["expected_shortfall"])
    # E changes by -τ·Σ coupling·f·x_k = -0.5·Σ_{k=1}^{60} x_k, x_k = 1e6·(60 - k)/60
    assert values[1] - values[0] == pytest.approx(-0.5 * 1e6 * 59 / 2, rel=1e-9)


@pytest.fixture()
def bad_files(tmp_path):
    """A directory with a .toml name and a binary file with a .toml name."""
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    return folder, binary


def test_config_and_study_files_that_are_directories_or_binary(capsys, bad_files):
    folder, binary = bad_files
    assert "is a directory" in refused(capsys, ["simulate", "--config", str(folder)])
    assert "not a text file" in refused(capsys, ["simulate", "--config", str(binary)])
    assert "is a directory" in refused(capsys, ["run", str(folder)])
    assert "not a text file" in refused(capsys, ["run", str(binary)])


def test_bar_and_returns_files_are_checked_before_any_simulation(capsys, bad_files,
                                                                  monkeypatch, tmp_path):
    def no_work(*args, **kwargs):
        raise AssertionError("the market was simulated before the inputs were checked")

    monkeypatch.setattr(stylized, "simulate_market", no_work)
    folder, binary = bad_files
    out = ["--out", str(tmp_path / "out")]
    assert "is a directory" in refused(capsys, ["stylized-facts", "--bars", str(folder), *out])
    assert "not a text file" in refused(capsys, ["stylized-facts", "--bars", str(binary), *out])
    assert "is a directory" in refused(capsys, ["stylized-facts", "--returns", str(folder),
                                                *out])
    assert "not a readable Parquet file" in refused(
        capsys, ["stylized-facts", "--returns", str(binary), *out])
    assert not (tmp_path / "out").exists()


def test_plot_files_are_checked_before_the_episode_runs(capsys, tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the episode ran before --plot was checked")

    monkeypatch.setattr(model, "run_episode", no_work)
    folder = tmp_path / "figure.png"
    folder.mkdir()
    assert ".png" in refused(capsys, ["episode", "--plot", str(tmp_path / "out.txt")])
    assert "is a directory" in refused(capsys, ["episode", "--plot", str(folder)])
    assert "does not exist" in refused(capsys, ["episode", "--plot",
                                                str(tmp_path / "missing" / "a.png")])


def test_duplicate_strategies_and_sweep_values_are_refused():
    with pytest.raises(ParameterError, match="strategy 'twap' is listed twice"):
        Study(SimulationConfig(), (strategy("twap"), strategy("ac-adaptive"), strategy("twap")))
    with pytest.raises(ParameterError, match="'extended.coupling' lists the value 0.01 twice"):
        Study(SimulationConfig(), (strategy("twap"),),
              sweep={"extended.coupling": (0.0, 0.01, 0.01)})


def test_a_study_file_with_duplicates_is_refused(capsys, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[study]\nstrategies = ["twap", "ac-adaptive", "twap"]\n')
    assert "'twap' is listed twice" in refused(capsys, ["run", str(path)])
    path.write_text('[study]\nstrategies = ["twap"]\n[study.sweep]\n"market.drift" = [0, 0.0]\n')
    assert "lists the value 0.0 twice" in refused(capsys, ["run", str(path)])


def test_argparse_errors_are_one_line(capsys):
    assert "--steps" in refused(capsys, ["schedule", "--steps", "x"])
    assert "--volatility" in refused(capsys, ["schedule", "--volatility", "abc"])


def test_derived_quantities_of_a_problem_are_checked_at_construction():
    with pytest.raises(ParameterError, match="risk_aversion"):
        ExecutionProblem(risk_aversion=1e308)
    with pytest.raises(ParameterError, match="shares"):
        ExecutionProblem(shares=1e160)
    ExecutionProblem(shares=1e100)  # large, and every bound finite


def test_the_last_guard_refuses_a_non_finite_number_in_the_output():
    stream = io.StringIO()
    guard = FiniteOutput(stream)
    guard.write("wrote 3 files to results/nan/; inflation 2.0\n")  # words and paths pass
    guard.write("strategy pkg.policies:NaN-safe, label inf-free\n")  # hyphenated words pass
    for text in ("utility nan\n", "E = -inf", "[1.0, Infinity]", "std  NaN currency"):
        with pytest.raises(NonFiniteResultError):
            guard.write(text)
    assert stream.getvalue() == ("wrote 3 files to results/nan/; inflation 2.0\n"
                                 "strategy pkg.policies:NaN-safe, label inf-free\n")
    with pytest.raises(NonFiniteResultError, match=r"output\.utility"):
        json_text({"utility": float("nan")})


# --- the merged audit's findings (second pass) ---------------------------------------------

@pytest.mark.parametrize("argv", [
    ["coupling-study", "--episodes", "1"], ["impact-study", "--episodes", "1"],
    ["paper-synthetic", "--episodes", "1"], ["learn", "--episodes", "1"],
    ["frontier", "--episodes", "2"]])
def test_experiments_refuse_too_few_episodes_for_their_intervals(capsys, tmp_path, argv):
    """One episode has no standard deviation (reports showed nan); the frontier's variance
    z-test needs a large sample. Refused before the folder is made."""
    line = refused(capsys, [*argv, "--quick", "--out", str(tmp_path / "out")])
    assert "--episodes must be" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["schedule", "--shares", "1e-160"],
                                  ["simulate", "--engine", "fast", "--episodes", "10",
                                   "--shares", "1e-300"]])
def test_variances_that_would_underflow_are_refused(capsys, argv):
    """X² below float64's smallest normal number: V and Var IS would read 0."""
    line = refused(capsys, argv)
    assert "underflow" in line and "shares must be at least 1.5e-154" in line


def test_a_tiny_but_representable_order_has_a_positive_spread(capsys):
    assert main(["simulate", "--engine", "fast", "--backend", "inline", "--episodes", "50",
                 "--shares", "1e-140", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0.0 < summary["std_is"] < 1e-139 and summary["q05"] < summary["q95"]


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_trades_whose_total_overflows_are_named_as_trades(capsys):
    line = refused(capsys, ["cost", "--trades", "1e308,1e308,1e308", "--steps", "3",
                            "--horizon", "3"])
    assert "the trades' total" in line and "reduce the trades" in line


@pytest.mark.parametrize("argv", [["paper-real", "--csv"], ["order-flow-calibration", "--bars"]])
def test_bar_files_are_checked_before_the_output_folder_is_made(capsys, bad_files, tmp_path,
                                                                argv):
    folder, _ = bad_files
    assert "is a directory" in refused(capsys, [*argv, str(folder), "--out",
                                                str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "chmod"), reason="needs file modes")
def test_read_only_marks_are_respected_for_plots_and_new_folders(capsys, tmp_path):
    """Even as root (which os.access lets write anywhere), a file or folder without a write
    bit is not written into, and an --out inside a read-only folder is not created."""
    locked_file = tmp_path / "locked.png"
    locked_file.write_bytes(b"")
    locked_file.chmod(0o444)
    locked_folder = tmp_path / "locked"
    locked_folder.mkdir()
    locked_folder.chmod(0o555)
    try:
        assert "not writable" in refused(capsys, ["episode", "--plot", str(locked_file)])
        assert "not writable" in refused(capsys, ["episode", "--plot",
                                                  str(locked_folder / "x.png")])
        assert "read-only" in refused(capsys, ["run", "--episodes", "10", "--out",
                                               str(locked_folder / "sub")])
        assert not (locked_folder / "sub").exists()
    finally:
        locked_folder.chmod(0o755)
    assert "must name a .png file" in refused(capsys, ["episode", "--plot", ""])


def test_a_long_run_says_so_before_it_starts(capsys, tmp_path, monkeypatch):
    from acsim.simulator import sizes

    monkeypatch.setattr(sizes, "NOTICE_SECONDS", 0.0)  # every run counts as long
    assert main(["run", "--episodes", "10", "--backend", "inline", "--out",
                 str(tmp_path / "out")]) == 0
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert first.startswith("acsim: this run is estimated at about ")
    assert "10 episodes × 12 cases" in first


def test_a_reader_that_goes_away_is_no_error():
    """`acsim schedule | head -1`: the pipe closes before acsim writes; no traceback, exit 0."""
    command = [sys.executable, "-m", "acsim.experiments.cli", "schedule"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader has gone before anything is written
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and errors == "", errors


def test_a_field_of_the_wrong_length_is_named_by_its_flag(capsys):
    line = refused(capsys, ["schedule", "--model", "extended", "--coupling", "0.01", "--field",
                            "1,2", "--steps", "3", "--horizon", "3"])
    assert "--field takes one value or N = 3 values (one per step), got 2" in line
