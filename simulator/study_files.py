"""Study files, the embedded default study (the main job) and what a study writes out.

A study file is a simulation configuration (see simulator/config.py) plus a [study] table:

    [study]
    strategies = ["twap", "ac-adaptive", "extended/model",     # name[/forecast][+no-buyback]
                  "mypackage.policies:FrontLoaded",            # a policy class of your own
                  {name = "mypackage.policies:Urgent", urgency = 2.0}]   # ... with options
    baseline = "ac-adaptive"          # paired differences are taken against this strategy
                                      # (default: ac-adaptive if listed, else the first)
    [study.sweep]
    "extended.coupling" = [0.0, 0.005, 0.01]
    "beliefs.extended.coupling" = [0.0, 0.01]   # what the strategies believe (planning)
    [beliefs.extended]
    self_alpha = 0.0                  # plan as if there were no self-alpha
    [simulation]
    episodes = 200000
    seed = 0
"""

from __future__ import annotations

from pathlib import Path

from acsim.agents.policies import StrategyParameters, strategy
from acsim.simulator.config import SimulationConfig, build_config, read_toml
from acsim.simulator.plots import errorbar_panels, save_figure
from acsim.simulator.study import Study, StudyResults, strategy_label
from acsim.strategies.components import is_path
from acsim.strategies.errors import ParameterError

DEFAULT_STUDY = Study(
    base=SimulationConfig(episodes=200_000, seed=0),
    strategies=(strategy("twap"), strategy("ac-adaptive"), strategy("extended", forecast="model")),
    sweep={"extended.coupling": (0.0, 0.0025, 0.005, 0.01)},
    baseline=1,
)


def parse_strategy(entry: object, volume_profile: tuple | None = None) -> StrategyParameters:
    """A study's strategy entry as StrategyParameters.

    'extended/model+no-buyback' -> extended with forecast model and no_buyback true;
    'package.module:Class' -> a policy of your own without options;
    {name = "...", option = value, ...} -> any policy with options.
    volume_profile: the weights a vwap strategy trades by (from [strategy] volume_profile).
    """
    if isinstance(entry, dict):
        options = dict(entry)
        name = options.pop("name", None)
        if name is None:
            raise ParameterError(f"a strategy table needs a name, got {entry!r}")
        return StrategyParameters(name, options)
    if not isinstance(entry, str):
        raise ParameterError("a strategy is written as name[/forecast][+no-buyback], "
                             f"package.module:Class or a table {{name = ...}}, got {entry!r}")
    if is_path(entry):
        return StrategyParameters(entry, {})
    body, _, flag = entry.partition("+")
    if flag not in ("", "no-buyback"):
        raise ParameterError(f"strategy {entry!r}: the only suffix is +no-buyback")
    name, _, forecast = body.partition("/")
    if forecast and name != "extended":
        raise ParameterError(f"strategy {entry!r}: only extended takes a /forecast")
    options: dict = {"forecast": forecast} if forecast else {}
    if flag:
        options["no_buyback"] = True
    if name == "vwap" and volume_profile is not None:
        options["volume_profile"] = volume_profile
    return StrategyParameters(name, options)


def load_study(path: str | Path) -> Study:
    """A study from a TOML file: the configuration sections plus [study]."""
    path = Path(path)
    document = read_toml(path, "study file")
    table = document.pop("study", {})
    if not isinstance(table, dict):
        raise ParameterError(f"{path}: [study] must be a table")
    unknown = set(table) - {"strategies", "baseline", "sweep"}
    if unknown:
        raise ParameterError(f"{path}: unknown key(s) {sorted(unknown)} in [study]; "
                             "allowed: ['baseline', 'strategies', 'sweep']")
    strategy_table = document.pop("strategy", {})
    if not isinstance(strategy_table, dict) or set(strategy_table) - {"volume_profile"}:
        raise ParameterError(f"{path}: a study lists its strategies in [study] strategies; "
                             "[strategy] may only give the volume_profile of vwap")
    base = build_config(SimulationConfig(), document, str(path))
    labels = table.get("strategies", [strategy_label(s) for s in DEFAULT_STUDY.strategies])
    if not isinstance(labels, list) or not labels:
        raise ParameterError(f"{path}: [study] strategies must be a non-empty list such as "
                             f"[\"twap\", \"extended/model\"], got {labels!r}")
    profile = strategy_table.get("volume_profile")
    try:
        strategies = tuple(parse_strategy(label, profile) for label in labels)
    except ParameterError as error:
        raise ParameterError(f"{path}: [study] strategies: {error}") from None
    canonical = [strategy_label(s) for s in strategies]
    default_baseline = "ac-adaptive" if "ac-adaptive" in canonical else canonical[0]
    baseline = table.get("baseline", default_baseline)
    if baseline not in canonical:
        raise ParameterError(f"{path}: baseline {baseline!r} is not one of the strategies "
                             f"{canonical}")
    sweep = table.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ParameterError(f"{path}: [study.sweep] must be a table of "
                             f"\"table.key\" = [values], got {sweep!r}")
    for key, values in sweep.items():
        if not isinstance(values, list):
            raise ParameterError(f"{path}: sweep {key!r} must be a list of values, "
                                 f"got {values!r}")
    try:
        return Study(base, strategies, {key: tuple(values) for key, values in sweep.items()},
                     canonical.index(baseline))
    except ParameterError as error:
        raise ParameterError(f"{path}: {error}") from None


def write_outputs(results: StudyResults, study: Study) -> list[Path]:
    """Tables (CSV and Parquet) and figures of a finished study in its output directory."""
    out = results.out
    written = []
    for name, frame in (("summary", results.summary), ("paired", results.paired)):
        if frame.empty:
            continue
        frame.to_csv(out / f"{name}.csv", index=False)
        frame.to_parquet(out / f"{name}.parquet", index=False)
        written += [out / f"{name}.csv", out / f"{name}.parquet"]
    if study.sweep:
        figures = out / "figures"
        figures.mkdir(exist_ok=True)
        keys = list(study.sweep)
        x, panel, rest = keys[0], (keys[1] if len(keys) > 1 else None), keys[2:]
        name = x.split(".")[-1]
        for frame, value, label, stem in (
                (results.summary, "mean_is", "mean implementation shortfall (currency, ±95% CI)",
                 "shortfall"),
                (results.paired, "mean_difference", "IS − IS(baseline), paired (currency, "
                 "±95% CI)", "paired")):
            if frame.empty:
                continue
            lines = frame.assign(line=frame["strategy"] + frame[rest].astype(str).apply(
                lambda row: "".join(f" {k.split('.')[-1]}={v}" for k, v in row.items()),
                axis=1) if rest else frame["strategy"])
            figure = errorbar_panels(lines, x, value, label, panel=panel, group="line")
            written.append(save_figure(figure, figures / f"{stem}_vs_{name}.png"))
    return written


def format_tables(results: StudyResults) -> str:
    """The summary and paired-difference tables for the terminal."""
    summary = results.summary
    keys = [c for c in summary.columns if "." in c]
    lines = ["Implementation shortfall per strategy (currency; mean ± 95% CI, common random "
             "numbers)"]
    header = "".join(f"{k.split('.')[-1]:>12}" for k in keys)
    lines.append(f"  {'strategy':<26}{header}{'mean IS':>12}{'± CI':>10}{'bps':>9}"
                 f"{'std':>10}{'VaR95':>10}{'CVaR95':>10}")
    for _, row in summary.iterrows():
        point = "".join(f"{row[k]!s:>12}" for k in keys)
        lines.append(f"  {row['strategy']:<26}{point}{row['mean_is']:>12.3f}"
                     f"{row['mean_is'] - row['ci95_low']:>10.3f}{row['mean_is_bps']:>9.3f}"
                     f"{row['std_is']:>10.2f}{row['var95']:>10.2f}{row['cvar95']:>10.2f}")
    if not results.paired.empty:
        paired = results.paired
        lines += ["", f"Paired difference against {paired['baseline'].iloc[0]} "
                      "(negative: cheaper than the baseline)"]
        for _, row in paired.iterrows():
            point = "".join(f"{row[k]!s:>12}" for k in keys)
            lines.append(f"  {row['strategy']:<26}{point}{row['mean_difference']:>12.3f}"
                         f"  95% CI [{row['ci95_low']:.3f}, {row['ci95_high']:.3f}]")
    lines.append(f"\nTables, Parquet and figures: {results.out}/")
    return "\n".join(lines)
