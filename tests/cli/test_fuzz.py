"""Fuzzing the command line and its TOML files (hypothesis, derandomized, no database).

Whatever the flag values (finite extremes, 1e308, 0, negative, nan, inf, words) and whatever the
configuration or study file (wrong types, huge values, unknown keys and tables, duplicates), a
run of a fast command, in process, either
- exits 0, prints only finite numbers and raises no RuntimeWarning (numpy's overflow or invalid
  value), or
- exits 2 with exactly one line on standard error (plus no RuntimeWarning: a warning is a line
  a user would see on standard error).
Sizes are kept small (steps, agents, episodes) so that every example runs in milliseconds: the
fuzz is about values, not about sizes (those are refused by the size checks).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acsim.experiments.cli import main

FUZZ = settings(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# a non-finite number as Python, numpy, pandas or JSON print it, as a word of its own
NON_FINITE = re.compile(r"(?<![\w.])-?(nan|inf|infinity)(?![\w])", re.IGNORECASE)

EXTREMES = [0, -1, 1, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-308, 1e154, 1e200,
            1e-200, 1e30, -1e30]
WORDS = ["nan", "inf", "-inf", "NaN", "Infinity", "abc", "", "1e999", "-0", "0x10", "1,2"]

# a flag value: a float (any, including nan and inf), an extreme, a small integer or a word
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(EXTREMES).map(repr),
    st.floats(1e-6, 10.0).map(repr),
    st.integers(-3, 40).map(str),
    st.sampled_from(WORDS),
)
small_counts = st.one_of(st.integers(-2, 30).map(str), st.sampled_from(WORDS))

MARKET_FLAGS = ["--shares", "--horizon", "--price", "--volatility", "--half-spread",
                "--temporary-impact", "--permanent-impact", "--risk-aversion", "--drift"]
FEEDBACK_FLAGS = ["--coupling", "--self-alpha"]
IMPACT_FLAGS = ["--impact-exponent", "--impact-coefficient", "--transient-impact", "--resilience",
                "--transient-exponent", "--transient-time"]
impact_models = st.sampled_from([[], [], ["--impact", "power"], ["--transient", "exponential"],
                                 ["--transient", "power-law"],
                                 ["--impact", "power", "--transient", "exponential"]])


def flag_values(flags: list[str], value_strategy=values):
    """A few of `flags`, each with a generated value, as one argument list."""
    return st.lists(st.tuples(st.sampled_from(flags), value_strategy), max_size=4).map(
        lambda pairs: [f"{flag}={value}" for flag, value in pairs])  # = keeps "-1e+308" a value


def numbers_in(value: object):
    """Every number in a parsed JSON document."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers_in(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def run(argv: list[str]) -> tuple[int, str, str, list]:
    """main(argv) in process: (exit code, stdout, stderr, RuntimeWarnings raised)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's refusals
            code = stop.code
    runtime = [str(item.message) for item in caught if issubclass(item.category, RuntimeWarning)]
    return code, out.getvalue(), err.getvalue(), runtime


def check(argv: list[str]) -> None:
    code, out, err, runtime = run(argv)
    assert not runtime, (argv, runtime)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("acsim"), (argv, err)
        return
    assert code == 0, (argv, code, err)
    assert not NON_FINITE.search(out), (argv, out)
    if "--format" in argv and argv[argv.index("--format") + 1] == "json":
        numbers = list(numbers_in(json.loads(out)))
        assert numbers and all(math.isfinite(number) for number in numbers), (argv, out)


output_format = st.sampled_from([[], ["--format", "json"]])


@settings(FUZZ, max_examples=300)
@given(flag_values(MARKET_FLAGS + FEEDBACK_FLAGS + IMPACT_FLAGS),
       flag_values(["--steps"], small_counts),
       st.sampled_from([[], ["--model", "extended"], ["--model", "ac-continuous"],
                        ["--model", "twap"], ["--model", "extended", "--no-buyback"]]),
       impact_models, st.sampled_from([[], ["--field"]]), values, output_format)
def test_schedule(flags, steps, model, impact, field, field_value, form):
    check(["schedule", *flags, *steps, *model, *impact,
           *(field and [f"--field={field_value}"]), *form])


@settings(FUZZ, max_examples=200)
@given(flag_values(MARKET_FLAGS + FEEDBACK_FLAGS + IMPACT_FLAGS + ["--field"]), values,
       st.lists(values, max_size=3), st.sampled_from(["--trades", "--holdings"]),
       impact_models, output_format)
def test_cost(flags, shares, schedule, kind, impact, form):
    """A schedule of generated values closed so that it sells `shares` (when they are numbers):
    trades n_1.. n_{N-1} and n_N = X - Σ, or holdings X, x_1.. x_{N-1}, 0."""
    steps = len(schedule) + 1
    try:
        total = float(shares) - sum(float(value) for value in schedule)
        closed = [*schedule, repr(total)] if kind == "--trades" else [shares, *schedule, "0"]
    except ValueError:
        closed = schedule or [shares]
    check(["cost", *flags, f"--shares={shares}", "--steps", str(steps), "--horizon", str(steps),
           f"{kind}={','.join(closed)}", *impact, *form])


@settings(FUZZ, max_examples=40)
@given(flag_values(MARKET_FLAGS + FEEDBACK_FLAGS + IMPACT_FLAGS + ["--field-scale", "--herding"]),
       flag_values(["--steps", "--agents", "--episodes", "--seed"], small_counts),
       st.sampled_from(["twap", "ac-adaptive", "extended"]), impact_models,
       st.sampled_from([["simulate", "--engine", "fast", "--backend", "inline"], ["simulate"],
                        ["episode"]]), output_format)
def test_simulate_and_episode(flags, counts, strategy, impact, command, form):
    # few steps, agents and episodes unless a generated count (after these) says otherwise
    check([*command, "--steps", "5", "--agents", "10", "--episodes", "2", *flags, *counts,
           "--strategy", strategy, *impact, *form])


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                         ("inf" if value > 0 else "-inf"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def toml_text(tables: dict) -> str:
    lines = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{json.dumps(key)} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


toml_scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(EXTREMES),
    st.integers(-3, 40), st.booleans(), st.sampled_from(["abc", "", "sell", "model", "kirman"]),
)
toml_values = st.one_of(toml_scalars, st.lists(toml_scalars, max_size=3))
KEYS = {
    "market": ["shares", "horizon", "steps", "price", "volatility", "half_spread",
               "temporary_impact", "permanent_impact", "risk_aversion", "drift", "side"],
    "extended": ["coupling", "self_alpha"],
    "ensemble": ["agents", "field_scale", "herding", "initial", "switching"],
    "simulation": ["episodes", "seed"],
}
UNKNOWN = [{}, {}, {}, {}, {"nonsense": {"key": 1}}, {"simulation": {"workers": 2}}]


def with_unknown(pair: tuple[dict, dict]) -> dict:
    document, unknown = pair
    for table, keys in unknown.items():
        document[table] = {**document.get(table, {}), **keys}
    return document


# up to three tables with generated keys; now and then a table or key nobody knows
tables = st.tuples(
    st.lists(st.sampled_from(sorted(KEYS)), unique=True, max_size=3).flatmap(
        lambda names: st.fixed_dictionaries({
            name: st.dictionaries(st.sampled_from(KEYS[name]), toml_values, max_size=3)
            for name in names})),
    st.sampled_from(UNKNOWN),
).map(with_unknown)


def small(document: dict) -> dict:
    """Keep the sizes small: steps and agents a generated file gives, only when they are
    small or not integers (a wrong type or range must still be refused)."""
    for table, key, largest in (("market", "steps", 30), ("ensemble", "agents", 50)):
        value = document.get(table, {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > largest:
            document[table][key] = largest
    return document


@settings(FUZZ, max_examples=40)
@given(tables.map(small), flag_values(MARKET_FLAGS + FEEDBACK_FLAGS), output_format)
def test_simulate_with_a_config_file(document, flags, form):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(toml_text(document))
        check(["simulate", "--config", str(path), "--episodes", "2", *flags, *form])


study_entries = st.lists(st.sampled_from(["twap", "ac-adaptive", "extended/model", "ac-static",
                                          "extended/none+no-buyback", "twap", "ac-adaptive",
                                          "vwap", "nonsense"]),
                         min_size=0, max_size=3)
sweep_values = st.lists(st.one_of(st.sampled_from([0.0, 0.01, 0.01, 1e308, -1.0]),
                                  st.floats(allow_nan=True, allow_infinity=True)),
                        min_size=0, max_size=3)


@settings(FUZZ, max_examples=30)
@given(tables.map(small), study_entries,
       st.sampled_from(["extended.coupling", "market.drift", "beliefs.extended.coupling",
                        "market.nope"]), sweep_values, output_format)
def test_run_with_a_study_file(document, strategies, sweep_key, sweep, form):
    document = {**document, "market": {"steps": 5, **document.get("market", {})},
                "ensemble": {"agents": 10, **document.get("ensemble", {})}}
    text = toml_text({key: value for key, value in document.items()})
    text += (f"[study]\nstrategies = {toml_value(strategies)}\n"
             f"[study.sweep]\n{json.dumps(sweep_key)} = {toml_value(sweep)}\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.toml"
        path.write_text(text)
        check(["run", str(path), "--episodes", "2", "--backend", "inline",
               "--out", str(Path(folder) / "out"), *form])


@pytest.mark.parametrize("form", [[], ["--format", "markdown"]])
def test_parameters(form):
    check(["parameters", *form])
