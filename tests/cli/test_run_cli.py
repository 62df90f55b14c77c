"""`acsim run` end to end, and study files (acsim.simulator.study_files).

- `acsim run --episodes 5000 --out DIR` (the real executable, default backend) writes
  summary.csv/.parquet, paired.csv/.parquet, figures/*.png, manifest.json and blocks/.
  Oracles recomputed here from the per-episode results `load_episodes(DIR)`: each case's
  mean (1e-12 relative), std, quantiles (np.quantile, exactly), cvar95, and each paired
  row's mean difference against the baseline; every order completes (final holdings 0).
- The CLI's tables equal `run_study` on DEFAULT_STUDY with 5000 episodes (DataFrame.equals).
- Rerunning is a no-op (block files and manifest untouched) with the same tables.
- What the screen and report.md say, against the tables: the cheapest strategy, the counts of
  paired intervals below, above and around 0 and of points identical to the baseline on every
  episode; the definitions (units, bps, VaR95, CVaR95, the delta-method utility interval, no
  multiple-comparison adjustment). On hand-written tables: the identical rule (mean 0 AND
  std 0) and the choice of own panels per strategy in the paired figures (by the ranges).
- `load_study` on a TOML study file: strategies, baseline, sweep, base configuration;
  defaults when [study] is missing.
- Bad study files are rejected with a ParameterError naming the problem (and by the CLI
  with exit status 2 and no traceback).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acsim.agents.policies import strategy
from acsim.experiments.cli import main
from acsim.simulator import study as study_module
from acsim.simulator import study_files
from acsim.simulator.output_folder import OutputFolder
from acsim.simulator.plots import errorbar_panels
from acsim.simulator.study import load_episodes, run_study
from acsim.simulator.study_files import (
    DEFAULT_STUDY,
    describe_study,
    interpretation,
    load_study,
    parse_strategy,
    write_outputs,
)
from acsim.strategies.errors import ParameterError

ACSIM = str(Path(sys.executable).with_name("acsim"))
EPISODES = 5000
# as at collection: a Dask LocalCluster started by another test sets OPENBLAS_NUM_THREADS=1
# (and OMP/MKL) in os.environ, which changes the last bits of extended/model results
# (see test_study_backends.py::test_results_do_not_depend_on_the_number_of_blas_threads)
ENVIRONMENT = dict(os.environ)


def snapshot(paths):
    return {str(path): (path.stat().st_mtime_ns, path.read_bytes()) for path in paths}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    done = subprocess.run([ACSIM, "run", "--episodes", str(EPISODES), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def read_csv(path):
    return pd.read_csv(path)  # pandas >= 3 parses floats round-trip exactly


def test_run_writes_every_output(default_run):
    out, stdout = default_run
    for name in ("summary.csv", "paired.csv", "summary.parquet", "paired.parquet",
                 "manifest.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    figures = sorted((out / "figures").glob("*.png"))
    assert [f.name for f in figures] == ["paired_utility_vs_coupling.png", "paired_vs_coupling.png",
                                         "shortfall_vs_coupling.png", "utility_vs_coupling.png"]
    for figure in figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "blocks").iterdir()) == [
        "block-000000.parquet", "block-000001.parquet"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["base"]["simulation"] == {"episodes": EPISODES, "seed": 0}
    assert len(manifest["cases"]) == 12
    assert "ac-adaptive" in stdout and "Paired differences against ac-adaptive" in stdout
    assert (out / "report.md").is_file()
    # CSV and Parquet hold the same tables
    for name in ("summary", "paired"):
        pd.testing.assert_frame_equal(read_csv(out / f"{name}.csv"),
                                      pd.read_parquet(out / f"{name}.parquet"), check_exact=True)


def test_summary_equals_statistics_recomputed_from_the_episodes(default_run):
    out, _ = default_run
    summary = pd.read_parquet(out / "summary.parquet").set_index("case")
    episodes = load_episodes(out)
    assert len(episodes) == 12 * EPISODES
    assert (episodes["final_holdings"] == 0.0).all()
    assert list(summary.index) == list(dict.fromkeys(episodes["case"]))
    for case, rows in episodes.groupby("case", sort=False):
        values = rows.sort_values("episode")["shortfall"].to_numpy()
        assert values.shape == (EPISODES,)
        row = summary.loc[case]
        assert row["episodes"] == EPISODES
        assert row["mean_is"] == pytest.approx(np.mean(values), rel=1e-12), case
        assert row["std_is"] == pytest.approx(np.std(values, ddof=1), rel=1e-12), case
        for key, p in (("q05", 0.05), ("q50", 0.5), ("q95", 0.95), ("var95", 0.95)):
            assert row[key] == np.quantile(values, p), (case, key)
        tail = values[values >= np.quantile(values, 0.95)]
        assert row["cvar95"] == pytest.approx(np.mean(tail), rel=1e-12), case
        notional = 1000.0 * 100.0  # the default market: 1,000 shares at 100
        assert row["mean_is_bps"] == pytest.approx(1e4 * np.mean(values) / notional, rel=1e-12)
        assert row["max_abs_final_holdings"] == 0.0
        # utility E + λV with its delta-method interval, λ = 0.002 (the default market)
        variance = np.var(values, ddof=1)
        assert row["utility"] == pytest.approx(np.mean(values) + 0.002 * variance, rel=1e-12)
        psi = (values - values.mean()) + 0.002 * ((values - values.mean()) ** 2 - variance)
        stderr = np.std(psi, ddof=1) / np.sqrt(EPISODES)
        assert row["utility_stderr"] == pytest.approx(stderr, rel=1e-9)
        assert row["utility_ci95_high"] - row["utility"] == pytest.approx(1.959963984540054
                                                                          * stderr, rel=1e-9)


def test_paired_table_equals_differences_recomputed_from_the_episodes(default_run):
    out, _ = default_run
    paired = pd.read_parquet(out / "paired.parquet")
    episodes = load_episodes(out)
    assert len(paired) == 8
    assert (paired["baseline"] == "ac-adaptive").all()
    for _, row in paired.iterrows():
        at_point = episodes[episodes["extended.coupling"] == row["extended.coupling"]]
        ours = at_point[at_point["strategy"] == row["strategy"]].sort_values("episode")
        base = at_point[at_point["strategy"] == "ac-adaptive"].sort_values("episode")
        difference = ours["shortfall"].to_numpy() - base["shortfall"].to_numpy()
        scale = np.max(np.abs(base["shortfall"]))
        assert abs(row["mean_difference"] - np.mean(difference)) <= 1e-12 * scale
        assert abs(row["std_difference"] - np.std(difference, ddof=1)) <= 1e-12 * scale
        psi = [(x - x.mean()) + 0.002 * ((x - x.mean()) ** 2 - np.var(x, ddof=1))
               for x in (ours["shortfall"].to_numpy(), base["shortfall"].to_numpy())]
        stderr = np.std(psi[0] - psi[1], ddof=1) / np.sqrt(EPISODES)
        assert row["utility_difference_stderr"] == pytest.approx(stderr, rel=1e-9)
    model_at_zero = paired[(paired["strategy"] == "extended/model")
                           & (paired["extended.coupling"] == 0.0)]
    assert model_at_zero["mean_difference"].tolist() == [0.0]


def test_cli_tables_equal_run_study_on_the_default_study(default_run, tmp_path):
    out, _ = default_run
    study = dataclasses.replace(DEFAULT_STUDY, base=DEFAULT_STUDY.base.replace(
        simulation={"episodes": EPISODES}))
    direct = run_study(study, tmp_path, backend="inline", progress=False)
    for frame, name in ((direct.summary, "summary"), (direct.paired, "paired")):
        written = pd.read_parquet(out / f"{name}.parquet")
        pd.testing.assert_frame_equal(frame, written, check_exact=True)
        assert frame.equals(written), name


def test_screen_and_report_say_what_was_run_and_what_it_means(default_run):
    """The sentences against the tables: the cheapest strategy at each coupling (ties named
    together: adaptive and extended AC coincide at coupling 0) and how many paired intervals
    lie below 0, above 0 or straddle it."""
    out, stdout = default_run
    report = (out / "report.md").read_text()
    summary = pd.read_parquet(out / "summary.parquet")
    paired = pd.read_parquet(out / "paired.parquet")
    for text in (stdout, report):
        for phrase in (f"{EPISODES:,} episodes per case", "root seed 0",
                       "[market] shares = 1000", "risk_aversion = 0.002",
                       "paired differences against ac-adaptive",
                       "differs from the defaults: nothing", "IS − IS(ac-adaptive)",
                       "utility − utility(ac-adaptive)"):
            assert phrase in text, phrase
        lines = text.splitlines()
        for measure, column in (("mean IS", "mean_is"), ("utility E + λV", "utility")):
            line = next(line for line in lines if f"Cheapest on {measure}:" in line)
            cheapest = [" = ".join(rows.loc[rows[column] == rows[column].min(), "strategy"])
                        + (" (tied)" if (rows[column] == rows[column].min()).sum() > 1 else "")
                        for _, rows in summary.groupby("extended.coupling")]
            for name in set(cheapest):
                assert f"{name} at {cheapest.count(name)} of 4 sweep points" in line, line
        for name, rows in paired.groupby("strategy"):
            line = next(line for line in lines if line.lstrip("- ").startswith(
                f"{name} − ac-adaptive:"))
            # identical: the same shortfall as the baseline on every episode (extended/model
            # at coupling 0), counted apart from "not significantly different"
            same = ((rows["mean_difference"] == 0) & (rows["std_difference"] == 0)).sum()
            assert same == (1 if name == "extended/model" else 0)
            for measure, low, high in (("IS", "ci95_low", "ci95_high"),
                                       ("utility", "utility_difference_ci95_low",
                                        "utility_difference_ci95_high")):
                lower, higher = (rows[high] < 0).sum(), (rows[low] > 0).sum()
                assert (f"{measure} lower at {lower}, higher at {higher}, not significantly "
                        f"different at {4 - lower - higher - same}"
                        + (f", identical on every episode at {same}" if same else "")
                        + " of 4 sweep points") in line, line
        for phrase in ("not adjusted for multiple comparisons", "about 5% of the points",
                       "basis points of the arrival notional (shares × arrival price)",
                       "VaR95: the 95% quantile of IS; CVaR95: the mean of IS at or above VaR95",
                       "delta-method standard errors",
                       "ψ(x) = (x − μ) + λ((x − μ)² − σ²)",
                       "difference of the two strategies' influence functions"):
            assert phrase in " ".join(text.split()), phrase
    # every summary column says its unit: bps under the mean in bps, currency elsewhere
    header = next(i for i, line in enumerate(stdout.splitlines())
                  if line.split()[:2] == ["strategy", "coupling"])
    assert stdout.splitlines()[header + 1].split() == [
        "currency", "currency", "bps", *["currency"] * 5]
    assert "| mean IS (currency) | ± 95% (currency) | mean IS (bps) | std (currency) |" in report
    assert "(currency;" not in stdout and "(currency;" not in report
    assert ("Mean IS and utility per strategy: intervals are per strategy; for differences use "
            "the paired figure (common random numbers)") in report
    assert "![paired_vs_coupling](figures/paired_vs_coupling.png)" in report


def test_streaming_summary_equals_the_one_read_summary(default_run, monkeypatch):
    """Blocks read at every pass (a memory budget of 0 bytes) give the tables written."""
    out, _ = default_run
    study = dataclasses.replace(DEFAULT_STUDY, base=DEFAULT_STUDY.base.replace(
        simulation={"episodes": EPISODES}))
    monkeypatch.setattr(study_module, "SUMMARY_MEMORY", 0)
    streamed = study_module.summarise_study(study, out)
    assert streamed.summary.equals(pd.read_parquet(out / "summary.parquet"))
    assert streamed.paired.equals(pd.read_parquet(out / "paired.parquet"))


def test_rerun_is_a_no_op_with_the_same_output(default_run, capsys):
    out, _ = default_run
    kept = [out / "manifest.json", *sorted((out / "blocks").iterdir())]
    before = snapshot(kept)
    tables = {name: (out / name).read_bytes() for name in ("summary.csv", "paired.csv")}
    frames = {name: pd.read_parquet(out / name) for name in ("summary.parquet", "paired.parquet")}
    capsys.readouterr()
    assert main(["run", "--episodes", str(EPISODES), "--out", str(out), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert snapshot(kept) == before
    for name, content in tables.items():
        assert (out / name).read_bytes() == content, name
    for name, frame in frames.items():
        assert pd.read_parquet(out / name).equals(frame), name
    assert pd.DataFrame(printed["summary"]).equals(frames["summary.parquet"])
    assert sorted(Path(p).name for p in printed["files"]) == sorted(
        ["summary.csv", "summary.parquet", "paired.csv", "paired.parquet", "report.md",
         "shortfall_vs_coupling.png", "utility_vs_coupling.png", "paired_vs_coupling.png",
         "paired_utility_vs_coupling.png"])


def synthetic_results(tmp_path, twap, model, sweep=(0.0, 0.01)):
    """Hand-written tables of the default study's strategies: paired rows (mean, std, low,
    high of IS and utility differences) of twap and extended/model per coupling."""
    study = dataclasses.replace(DEFAULT_STUDY, sweep={"extended.coupling": sweep})
    summary = pd.DataFrame([{"strategy": name, "extended.coupling": c, "mean_is": 100.0 + i,
                             "ci95_low": 99.0 + i, "ci95_high": 101.0 + i, "mean_is_bps": 10.0,
                             "std_is": 5.0, "var95": 110.0, "cvar95": 112.0,
                             "utility": 120.0 + i, "utility_ci95_low": 119.0 + i,
                             "utility_ci95_high": 121.0 + i}
                            for c in sweep for i, name in enumerate(
                                ["twap", "ac-adaptive", "extended/model"])])
    paired = pd.DataFrame([{"strategy": name, "extended.coupling": c, "mean_difference": mean,
                            "std_difference": std, "ci95_low": low, "ci95_high": high,
                            "utility_difference": mean, "utility_difference_ci95_low": low,
                            "utility_difference_ci95_high": high}
                           for c, rows in zip(sweep, zip(twap, model))
                           for name, (mean, std, low, high) in zip(
                               ["twap", "extended/model"], rows)])
    return study_module.StudyResults(summary, paired, tmp_path), study


def test_identical_on_every_episode_is_not_called_insignificant(tmp_path):
    """A difference exactly 0 with std 0 is "identical on every episode"; a constant
    non-zero difference (std 0, interval [c, c]) is significant; [0, 0] alone is not enough
    to be identical when the std is not 0 (cannot happen in a table, but the rule uses both)."""
    results, study = synthetic_results(tmp_path, twap=[(-1.0, 0.0, -1.0, -1.0)],
                                       model=[(0.0, 0.0, 0.0, 0.0)], sweep=(0.0,))
    lines = interpretation(results, study)
    assert "extended/model − ac-adaptive: IS identical on every episode; utility identical on " \
           "every episode (paired 95% intervals)." in lines
    assert "twap − ac-adaptive: IS significantly lower; utility significantly lower " \
           "(paired 95% intervals)." in lines
    assert not any("multiple comparisons" in line for line in lines)  # one point only
    results, study = synthetic_results(tmp_path, twap=[(-1.0, 3.0, -2.0, 0.5)] * 2,
                                       model=[(0.0, 0.0, 0.0, 0.0), (0.0, 2.0, 0.0, 0.0)])
    lines = interpretation(results, study)
    assert ("extended/model − ac-adaptive: IS lower at 0, higher at 0, not significantly "
            "different at 1, identical on every episode at 1 of 2 sweep points;") in " ".join(
                lines)
    assert ("twap − ac-adaptive: IS lower at 0, higher at 0, not significantly different at 2 "
            "of 2 sweep points;") in " ".join(lines)
    assert sum("not adjusted for multiple comparisons" in line for line in lines) == 1


def test_strategies_equal_to_rounding_are_tied_for_cheapest(tmp_path):
    """ac-adaptive and extended/model trade the same schedule when nothing is coupled; their
    utilities then differ in the 13th digit only: a tie, not a winner."""
    results, study = synthetic_results(tmp_path, twap=[(1.0, 1.0, 0.5, 1.5)],
                                       model=[(0.0, 0.0, 0.0, 0.0)], sweep=(0.0,))
    summary = results.summary.copy()
    summary["utility"] = [172311.9, 172311.74071530, 172311.74071526]
    lines = interpretation(study_module.StudyResults(summary, results.paired, tmp_path), study)
    assert "Cheapest on utility E + λV: ac-adaptive = extended/model (tied) (172,311.741)." \
        in lines
    summary["utility"] = [172311.9, 172311.7407, 172311.7307]  # 6e-8 relative: a real gap
    lines = interpretation(study_module.StudyResults(summary, results.paired, tmp_path), study)
    assert "Cheapest on utility E + λV: extended/model (172,311.731)." in lines


@pytest.mark.parametrize("model,split", [
    ([(-0.1, 1.0, -0.2, 0.0), (-0.4, 1.0, -0.5, -0.3)], True),  # 0.5 against twap's 55
    ([(-5.0, 1.0, -6.0, -4.0), (-10.0, 1.0, -11.0, -9.0)], False)])  # 7 against 55
def test_paired_figures_give_each_strategy_its_own_panel_when_one_is_flattened(
        tmp_path, monkeypatch, model, split):
    results, study = synthetic_results(tmp_path, twap=[(-19.0, 50.0, -20.0, -18.0),
                                                       (34.0, 50.0, 33.0, 35.0)], model=model)
    drawn = []

    def recording(frame, x, value, *args, **options):
        drawn.append((value, options.get("rows"), options.get("note")))
        return errorbar_panels(frame, x, value, *args, **options)
    monkeypatch.setattr(study_files, "errorbar_panels", recording)
    with OutputFolder(tmp_path / "out") as folder:
        write_outputs(results, study, folder)
    note = "intervals are per strategy; for differences use the paired figure " \
           "(common random numbers)"
    assert drawn == [("mean_is", None, note), ("utility", None, note),
                     ("mean_difference", "strategy" if split else None, None),
                     ("utility_difference", "strategy" if split else None, None)]


# --- study files -----------------------------------------------------------------------

STUDY_FILE = """
[market]
steps = 10
horizon = 10.0
side = "buy"
[ensemble]
agents = 20
[simulation]
episodes = 300
seed = 5
[study]
strategies = ["twap", "extended/model+no-buyback", "ac-adaptive"]
baseline = "ac-adaptive"
[study.sweep]
"extended.coupling" = [0.0, 0.02]
"market.risk_aversion" = [0.001, 0.004]
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_study_reads_strategies_baseline_sweep_and_configuration(tmp_path):
    study = load_study(write(tmp_path, STUDY_FILE))
    assert study.strategies == (strategy("twap"),
                                strategy("extended", forecast="model", no_buyback=True),
                                strategy("ac-adaptive"))
    assert study.baseline == 2
    assert study.sweep == {"extended.coupling": (0.0, 0.02),
                           "market.risk_aversion": (0.001, 0.004)}
    assert study.base.market.steps == 10 and study.base.market.side == -1
    assert study.base.ensemble.agents == 20
    assert (study.base.episodes, study.base.seed) == (300, 5)
    cases = study.cases()
    assert len(cases) == 12
    assert [c.label for c in cases[:4]] == [
        "twap coupling=0.0 risk_aversion=0.001",
        "extended/model+no-buyback coupling=0.0 risk_aversion=0.001",
        "ac-adaptive coupling=0.0 risk_aversion=0.001",
        "twap coupling=0.0 risk_aversion=0.004"]
    assert cases[4].config.extended.coupling == 0.0
    assert cases[4].config.market.risk_aversion == 0.004
    assert cases[-1].config.extended.coupling == 0.02
    assert cases[-1].config.market.side == -1


def test_the_parameters_that_differ_from_the_defaults_are_named(tmp_path):
    lines = describe_study(load_study(write(tmp_path, STUDY_FILE)))
    assert lines[0].startswith("3 strategies × 4 sweep points = 12 cases; 300 episodes per case")
    assert lines[0].endswith("root seed 5")
    changed = lines[-1]
    for phrase in ("market.steps = 10 (default 20)", "market.horizon = 10 (default 20)",
                   "market.side = buy (default sell)", "ensemble.agents = 20 (default 100)"):
        assert phrase in changed, phrase
    assert "[extended] coupling = swept, self_alpha = 0" in lines
    assert "risk_aversion" not in changed and "coupling" not in changed  # swept: not a default


def test_run_with_a_study_file(tmp_path, capsys):
    path = write(tmp_path, STUDY_FILE)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(path), "--out", str(out), "--backend", "inline", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    assert len(printed["summary"]) == 12 and len(printed["paired"]) == 8
    assert {row["baseline"] for row in printed["paired"]} == {"ac-adaptive"}
    assert all(row["episodes"] == 300 for row in printed["summary"])
    assert all(row["max_abs_final_holdings"] == 0.0 for row in printed["summary"])
    episodes = load_episodes(out)
    nbb = episodes[episodes["strategy"] == "extended/model+no-buyback"]
    assert len(nbb) == 4 * 300
    for row in printed["summary"]:
        values = episodes[episodes["case"] == row["case"]]["shortfall"].to_numpy()
        assert row["mean_is"] == pytest.approx(np.mean(values), rel=1e-12)
    # --episodes and --seed override the file; the changed study needs another directory
    assert main(["run", str(path), "--out", str(out), "--backend", "inline",
                 "--seed", "6"]) == 2
    assert "holds a different study" in capsys.readouterr().err


def test_study_file_defaults(tmp_path):
    study = load_study(write(tmp_path, "[simulation]\nepisodes = 7\n"))
    assert study.strategies == DEFAULT_STUDY.strategies
    # without a baseline, adaptive AC when listed (as in the embedded study), else the first
    assert study.strategies[study.baseline] == strategy("ac-adaptive")
    assert study.baseline == DEFAULT_STUDY.baseline
    assert study.sweep == {}
    assert study.base.episodes == 7


@pytest.mark.parametrize("label, expected", [
    ("twap", strategy("twap")),
    ("ac-static", strategy("ac-static")),
    ("ac-adaptive+no-buyback", strategy("ac-adaptive", no_buyback=True)),
    ("extended", strategy("extended", forecast="persistent")),
    ("extended/none", strategy("extended", forecast="none")),
    ("extended/persistent+no-buyback",
     strategy("extended", forecast="persistent", no_buyback=True)),
])
def test_parse_strategy(label, expected):
    assert parse_strategy(label) == expected


BAD_STUDIES = {
    "unknown study key": ('[study]\nstrategy = ["twap"]\n',
                          r"unknown key\(s\) \['strategy'\] in \[study\]"),
    "unknown suffix": ('[study]\nstrategies = ["twap+fast"]\n', r"only suffix is \+no-buyback"),
    "forecast on a non-extended strategy": ('[study]\nstrategies = ["ac-static/model"]\n',
                                            r"only extended takes a /forecast"),
    "unknown strategy name": ('[study]\nstrategies = ["hodl"]\n', r"strategy name.*'hodl'"),
    "unknown forecast": ('[study]\nstrategies = ["extended/psychic"]\n', r"forecast.*'psychic'"),
    "no-buyback on a static strategy": ('[study]\nstrategies = ["twap+no-buyback"]\n',
                                        r"no_buyback applies to ac-adaptive, extended, "
                                        r"not to 'twap'"),
    "non-string strategy": ("[study]\nstrategies = [3]\n", r"name\[/forecast\]\[\+no-buyback\]"),
    "baseline not a strategy": ('[study]\nstrategies = ["twap", "ac-adaptive"]\n'
                                'baseline = "extended/model"\n',
                                r"baseline 'extended/model' is not one of the strategies"),
    "sweep of a strategy field": ('[study.sweep]\n"strategy.name" = ["twap"]\n',
                                  r"sweep key 'strategy.name' must be <table>.<key>"),
    "sweep of an unknown field": ('[study.sweep]\n"market.colour" = [1, 2]\n',
                                  r"sweep key 'market.colour'"),
    "sweep key without section": ('[study.sweep]\ncoupling = [0.0, 0.01]\n',
                                  r"sweep key 'coupling'"),
    "empty sweep": ('[study.sweep]\n"extended.coupling" = []\n', r"needs at least one value"),
    "sweep changing the steps": ('[study.sweep]\n"market.steps" = [10, 20]\n',
                                 r"must share the base's steps"),
    "invalid swept value": ('[study.sweep]\n"extended.self_alpha" = [0.0, -1.0]\n',
                            r"self_alpha must be >= 0"),
    "unknown configuration section": ("[marketplace]\nsteps = 3\n", r"unknown table"),
    "not TOML": ("[study\n", r"not valid TOML"),
    # a [study] value of the wrong TOML type must be a clear ParameterError, not a crash
    "sweep not a table": ("[study]\nsweep = 3\n", r"sweep"),
    "sweep values not a list": ('[study.sweep]\n"extended.coupling" = 0.01\n',
                                r"extended\.coupling"),
    "no strategies": ("[study]\nstrategies = []\n", r"strateg"),
    "strategies not a list": ('[study]\nstrategies = "twap"\n', r"strategies"),
}


@pytest.mark.parametrize("name", BAD_STUDIES)
def test_bad_study_files_are_rejected_with_clear_messages(tmp_path, name):
    text, message = BAD_STUDIES[name]
    with pytest.raises(ParameterError, match=message):
        load_study(write(tmp_path, text))


def test_missing_study_file(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_study(tmp_path / "nowhere.toml")


def test_cli_reports_a_bad_study_file_without_a_traceback(tmp_path, capsys):
    path = write(tmp_path, '[study]\nstrategies = ["twap"]\nbaseline = "vwap"\n')
    capsys.readouterr()
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acsim run: error:") and "baseline 'vwap'" in err
    assert not (tmp_path / "out").exists()
