"""Each parameter declared once: every configuration key has a declaration, a flag and a row of
docs/parameters.md, and the page is exactly what `acsim parameters --format markdown` prints.

Oracle: the dataclass fields themselves (what a configuration file may set), walked here
independently of the declarations' own listing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acsim.agents.policies import POLICIES
from acsim.experiments import cli, parameters_page
from acsim.simulator.config import SECTIONS, SimulationConfig, config_parameters

PAGE = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"


def every_key() -> list[tuple[str, str]]:
    """(table, key) of every key a configuration file may set, from the dataclasses."""
    keys = [(table, f.name) for table, kind in SECTIONS.items() for f in dataclasses.fields(kind)]
    keys.append(("strategy", "name"))
    for cls in POLICIES.values():
        keys += [("strategy", f.name) for f in dataclasses.fields(cls)
                 if ("strategy", f.name) not in keys]
    keys += [("simulation", "episodes"), ("simulation", "seed")]
    return keys


def test_the_page_is_generated_from_the_declarations():
    assert PAGE.read_text() == parameters_page.markdown(), (
        "docs/parameters.md is stale: run `acsim parameters --format markdown > "
        "docs/parameters.md`")


@pytest.mark.parametrize("table, key", every_key())
def test_every_key_has_a_declaration_a_flag_and_a_row(table, key):
    declared = {(t, item.name): item for t, item in config_parameters()}
    assert (table, key) in declared, f"[{table}] {key} has no declaration"
    item = declared[(table, key)]
    row = f"| `{key}` | `{item.flag}` |"
    section = PAGE.read_text().split(f"## [{table}]")[1].split("\n## ")[0]
    assert row in section, f"docs/parameters.md has no row for [{table}] {key}"
    parser = cli.build_parser("simulate")
    action = next((a for a in parser._subparsers._group_actions[0].choices["simulate"]._actions
                   if item.flag in a.option_strings), None)
    assert action is not None, f"acsim simulate has no flag {item.flag}"


def test_flags_are_unique_and_no_parameter_is_declared_twice():
    flags = [item.flag for _, item in config_parameters()]
    assert len(flags) == len(set(flags))
    names = [(table, item.name) for table, item in config_parameters()]
    assert len(names) == len(set(names))


def test_fields_without_a_declaration_are_only_the_tables():
    undeclared = [f.name for f in dataclasses.fields(SimulationConfig)
                  if "parameter" not in f.metadata]
    assert undeclared == [*SECTIONS, "strategy", "beliefs"]
