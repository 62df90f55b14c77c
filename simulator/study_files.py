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

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from acsim.agents.policies import StrategyParameters, strategy
from acsim.simulator.config import (
    SECTIONS,
    SimulationConfig,
    build_config,
    config_parameters,
    read_toml,
)
from acsim.simulator.output_folder import OutputFolder
from acsim.simulator.plots import (
    FLATTENED,
    errorbar_panels,
    flattened,
    parameter_label,
    save_figure,
    strategy_colours,
)
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
    return study_from_parts(read_study(path), path)


def study_from_parts(parts: dict, source: str | Path) -> Study:
    """Study(**parts), its errors naming where the parts came from (a file's path)."""
    try:
        return Study(**parts)
    except ParameterError as error:
        raise ParameterError(f"{source}: {error}") from None


def read_study(path: str | Path) -> dict:
    """The parts of a study TOML file (base, strategies, sweep, baseline) as Study's keywords,
    checked but not yet combined into cases (a sweep's size can be judged first)."""
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
    return {"base": base, "strategies": strategies,
            "sweep": {key: tuple(values) for key, values in sweep.items()},
            "baseline": canonical.index(baseline)}


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(table: str, key: str, value: object) -> str:
    """A configuration value as people write it (side 1 -> sell, 0.0025 -> 0.0025)."""
    display = next((item.declaration.allowed.display for section, item in config_parameters()
                    if section == table and item.name == key), None)
    return display(value) if display is not None else _number(value)


def _short(key: str) -> str:
    """'extended.coupling' -> 'coupling'; 'beliefs.extended.coupling' -> 'believed coupling'."""
    return ("believed " if key.startswith("beliefs.") else "") + key.split(".")[-1]


def baseline_label(study: Study) -> str:
    return strategy_label(study.strategies[study.baseline])


def describe_study(study: Study) -> list[str]:
    """What a study ran: cases, episodes and seed, strategies and baseline, the sweep, the
    market, extended and ensemble tables as used, and every key that differs from the
    defaults."""
    base = study.base
    used, defaults = base.to_dict(), SimulationConfig().to_dict()
    points = len(study.points())
    lines = [f"{len(study.strategies)} strategies × {points} sweep point"
             f"{'s' if points > 1 else ''} = {len(study.strategies) * points} cases; "
             f"{base.episodes:,} episodes per case on common random numbers (every case sees "
             f"the same episodes); root seed {base.seed}",
             f"strategies: {', '.join(strategy_label(s) for s in study.strategies)}; paired "
             f"differences against {baseline_label(study)}"]
    lines += [f"swept: {parameter_label(key)} = {', '.join(_number(v) for v in values)}"
              for key, values in study.sweep.items()]
    for table in ("market", "extended", "ensemble"):
        lines.append(f"[{table}] " + ", ".join(
            f"{key} = {'swept' if f'{table}.{key}' in study.sweep else _shown(table, key, value)}"
            for key, value in used[table].items()))
    changed = [f"{table}.{key} = {_shown(table, key, value)} "
               f"(default {_shown(table, key, defaults[table][key])})"
               for table in SECTIONS for key, value in used[table].items()
               if value != defaults[table][key] and f"{table}.{key}" not in study.sweep]
    changed += [f"beliefs.{table}.{key} = {_number(value)}"
                for table, values in used["beliefs"].items() for key, value in values.items()]
    lines.append("differs from the defaults: " + ("; ".join(changed) if changed else
                                                  "nothing (the paper's synthetic setting)"))
    return lines


SUMMARY_NOTES = (
    "mean IS in bps: basis points of the arrival notional (shares × arrival price).",
    "VaR95: the 95% quantile of IS; CVaR95: the mean of IS at or above VaR95 (currency).",
    "Utility ± 95%: 1.96 delta-method standard errors √(var(ψ)/n), with "
    "ψ(x) = (x − μ) + λ((x − μ)² − σ²) the influence function of one episode's IS x "
    "(μ, σ²: the sample mean and variance of IS; λ: the market's risk aversion; "
    "n: episodes).")
PAIRED_NOTE = ("Paired intervals: IS, the per-episode differences' mean ± 1.96 standard "
               "errors; utility, the delta method on the difference of the two strategies' "
               "influence functions (each with its own μ, σ²), episode by episode.")
UNPAIRED_NOTE = ("intervals are per strategy; for differences use the paired figure "
                 "(common random numbers)")


@dataclass(frozen=True)
class Table:
    """A table of the screen and report.md: a unit under every column header, notes below."""

    title: str
    header: list[str]
    units: list[str]
    rows: list[list[str]]
    notes: tuple[str, ...] = ()


def _tables(results: StudyResults, study: Study) -> list[Table]:
    """The summary and the paired table."""
    summary, paired = results.summary, results.paired
    keys = list(study.sweep)
    blank = [""] * (1 + len(keys))
    baseline = baseline_label(study)
    tables = [Table(
        "Implementation shortfall and utility E + λV per strategy (mean and 95% interval "
        "half-width; utility is what AC minimises)",
        ["strategy", *map(_short, keys), "mean IS", "± 95%", "mean IS", "std", "VaR95",
         "CVaR95", "utility", "± 95%"],
        [*blank, "currency", "currency", "bps", *["currency"] * 5],
        [[row["strategy"], *(_number(row[k]) for k in keys), f"{row['mean_is']:,.3f}",
          f"{row['mean_is'] - row['ci95_low']:,.3f}", f"{row['mean_is_bps']:.3f}",
          f"{row['std_is']:,.2f}", f"{row['var95']:,.2f}", f"{row['cvar95']:,.2f}",
          f"{row['utility']:,.3f}", f"{row['utility'] - row['utility_ci95_low']:,.3f}"]
         for _, row in summary.iterrows()],
        SUMMARY_NOTES)]
    if not paired.empty:
        tables.append(Table(
            f"Paired differences against {baseline} on the same episodes "
            f"(negative: cheaper than {baseline})",
            ["strategy", *map(_short, keys), f"IS − IS({baseline})", "95% CI",
             f"utility − utility({baseline})", "95% CI"],
            [*blank, *["currency"] * 4],
            [[row["strategy"], *(_number(row[k]) for k in keys),
              f"{row['mean_difference']:,.3f}",
              f"[{row['ci95_low']:,.3f}, {row['ci95_high']:,.3f}]",
              f"{row['utility_difference']:,.3f}",
              f"[{row['utility_difference_ci95_low']:,.3f}, "
              f"{row['utility_difference_ci95_high']:,.3f}]"]
             for _, row in paired.iterrows()],
            (PAIRED_NOTE,)))
    return tables


def _significance(low: pd.Series, high: pd.Series, identical: pd.Series) -> str:
    """'lower at 3, higher at 0, not significantly different at 0, identical on every episode
    at 1 of 4 sweep points' (95% intervals; identical: the strategy's shortfall equals the
    baseline's on every episode, so the interval is [0, 0])."""
    same = int(identical.sum())
    lower, higher = int((high < 0).sum()), int((low > 0).sum())
    if len(low) == 1:
        return ("identical on every episode" if same else "significantly lower" if lower
                else "significantly higher" if higher else "not significantly different")
    return (f"lower at {lower}, higher at {higher}, not significantly different at "
            f"{len(low) - lower - higher - same}"
            + (f", identical on every episode at {same}" if same else "")
            + f" of {len(low)} sweep points")


TIE_TOLERANCE = 1e-9  # relative: strategies this close differ by rounding, not by choice


def cheapest(group: pd.DataFrame, column: str) -> str:
    """The strategy with the smallest `column`: 'twap', or 'ac-adaptive = ac-static (tied)' when
    several are within TIE_TOLERANCE (relative) of the minimum (the same schedule computed two
    ways differs in the last digits)."""
    lowest = group[column].min()
    close = group[column] <= lowest + TIE_TOLERANCE * max(abs(lowest), 1.0)
    names = group.loc[close, "strategy"]
    return names.iloc[0] if len(names) == 1 else " = ".join(names) + " (tied)"


def interpretation(results: StudyResults, study: Study) -> list[str]:
    """Sentences saying which strategy is cheapest on mean IS and on utility E + λV, and
    whether each paired difference against the baseline is significant (95% intervals, per
    sweep point) or exactly 0 (the same shortfall on every episode)."""
    summary, paired = results.summary, results.paired
    keys = list(study.sweep)
    groups = [group for _, group in summary.groupby(keys, sort=False)] if keys else [summary]
    lines = []
    for measure, column in (("mean IS", "mean_is"), ("utility E + λV", "utility")):
        winners = [cheapest(group, column) for group in groups]
        if len(groups) == 1:
            text = f"{winners[0]} ({groups[0][column].min():,.3f})"
        else:
            counts = pd.Series(winners).value_counts()
            text = ", ".join(f"{name} at {count} of {len(groups)} sweep points"
                             for name, count in counts.items())
        lines.append(f"Cheapest on {measure}: {text}.")
    baseline = baseline_label(study)
    for name, rows in (paired.groupby("strategy", sort=False) if not paired.empty else []):
        identical = (rows["mean_difference"] == 0.0) & (rows["std_difference"] == 0.0)
        shortfall = _significance(rows["ci95_low"], rows["ci95_high"], identical)
        utility = _significance(rows["utility_difference_ci95_low"],
                                rows["utility_difference_ci95_high"], identical)
        lines.append(f"{name} − {baseline}: IS {shortfall}; utility {utility} "
                     "(paired 95% intervals).")
    if not paired.empty and len(groups) > 1:
        lines.append("Each sweep point's interval is judged on its own, not adjusted for "
                     "multiple comparisons: where nothing differs, about 5% of the points "
                     "still look significantly different by chance.")
    lines.append("Utility E + λV (λ: the market's risk aversion) is what Almgren-Chriss "
                 "minimises: a strategy can be cheaper on mean IS and still worse on utility "
                 "when it carries more risk.")
    return lines


def _text_table(table: Table) -> list[str]:
    widths = [max(len(cell) for cell in column)
              for column in zip(table.header, table.units, *table.rows)]
    def line(cells: list[str]) -> str:
        return "  " + "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                                for i, (cell, width) in enumerate(zip(cells, widths)))
    return [table.title, line(table.header), line(table.units), *map(line, table.rows),
            *(text for note in table.notes
              for text in textwrap.wrap(note, 100, initial_indent="  ", subsequent_indent="    "))]


def _markdown_table(table: Table) -> list[str]:
    header = [f"{name} ({unit})" if unit else name
              for name, unit in zip(table.header, table.units)]
    return [f"## {table.title}", "", "| " + " | ".join(header) + " |",
            "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
            *("| " + " | ".join(row) + " |" for row in table.rows), "",
            *(f"- {note}" for note in table.notes), ""]


def format_tables(results: StudyResults, study: Study) -> str:
    """What `acsim run` prints: what was run, the summary and paired tables, and what they
    say."""
    first, *rest = describe_study(study)
    lines = [f"Study: {first}", *(f"  {line}" for line in rest), ""]
    for table in _tables(results, study):
        lines += [*_text_table(table), ""]
    lines += interpretation(results, study)
    lines.append(f"\nTables, Parquet, figures and report.md: {results.out}/")
    return "\n".join(lines)


def report_markdown(results: StudyResults, study: Study, figures: list[Path]) -> str:
    """report.md of a study: what was run, the tables, what they say, the figures."""
    lines = ["# acsim run: study report", "", *(f"- {line}" for line in describe_study(study)),
             ""]
    for table in _tables(results, study):
        lines += _markdown_table(table)
    lines += ["## What it says", "", *(f"- {line}" for line in interpretation(results, study)),
              ""]
    if figures:
        lines += ["## Figures", "", f"Mean IS and utility per strategy: {UNPAIRED_NOTE}. The "
                  "paired figures give each strategy its own row of panels when one "
                  f"strategy's lines would span under 1/{FLATTENED:g} of a shared y-axis.",
                  ""]
        lines += [f"![{path.stem}](figures/{path.name})" for path in figures]
    lines.append("")
    return "\n".join(lines)


def write_outputs(results: StudyResults, study: Study, folder: OutputFolder) -> list[Path]:
    """Every file `acsim run` writes besides the blocks and the manifest, in its output
    folder (open): the tables (CSV and Parquet), the figures (the per-strategy ones noting
    that their intervals are not paired; the paired ones with a row of panels per strategy
    when one would be `flattened`) and report.md; every path comes from `folder`, which
    refuses a file acsim did not write."""
    written = []
    for name, frame in (("summary", results.summary), ("paired", results.paired)):
        if frame.empty:
            continue
        csv, parquet = folder.paths([f"{name}.csv", f"{name}.parquet"])
        frame.to_csv(csv, index=False)
        frame.to_parquet(parquet, index=False)
        written += [csv, parquet]
    figures = []
    if study.sweep:
        keys = list(study.sweep)
        x, panel, rest = keys[0], (keys[1] if len(keys) > 1 else None), keys[2:]
        name = x.split(".")[-1]
        baseline = baseline_label(study)
        colours = strategy_colours([strategy_label(s) for s in study.strategies])
        runs = f"\n{study.base.episodes:,} episodes per case, seed {study.base.seed}"
        for frame, value, interval, label, title, stem in (
                (results.summary, "mean_is", ("ci95_low", "ci95_high"),
                 "mean IS (currency, ±95% CI)",
                 f"Mean implementation shortfall per strategy{runs}", "shortfall"),
                (results.summary, "utility", ("utility_ci95_low", "utility_ci95_high"),
                 "utility E + λV (currency, ±95% CI)",
                 f"Utility E + λV per strategy (what AC minimises){runs}", "utility"),
                (results.paired, "mean_difference", ("ci95_low", "ci95_high"),
                 f"IS − IS({baseline}) (currency, ±95% CI)",
                 f"Paired: IS − IS({baseline}) on the same episodes{runs}", "paired"),
                (results.paired, "utility_difference",
                 ("utility_difference_ci95_low", "utility_difference_ci95_high"),
                 f"utility − utility({baseline}) (currency, ±95% CI)",
                 f"Paired: utility − utility({baseline}), same episodes{runs}",
                 "paired_utility")):
            if frame.empty:
                continue
            lines = frame.assign(line=frame["strategy"] + frame[rest].astype(str).apply(
                lambda row: "".join(f" {k.split('.')[-1]}={v}" for k, v in row.items()),
                axis=1) if rest else frame["strategy"])
            paired = frame is results.paired
            own_rows = paired and flattened(frame, "strategy", interval, panel)
            figure = errorbar_panels(lines, x, value, label, panel=panel, group="line",
                                     title=title, interval=interval, colours=colours,
                                     rows="strategy" if own_rows else None,
                                     note=None if paired else UNPAIRED_NOTE)
            figures.append(save_figure(figure, folder.path(f"figures/{stem}_vs_{name}.png")))
    report = folder.path("report.md")
    report.write_text(report_markdown(results, study, figures))
    return written + figures + [report]
