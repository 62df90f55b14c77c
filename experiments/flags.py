"""Command-line flags generated from the parameter declarations (declared once, used here).

Every configuration key has one flag (its `Declared.flag`, e.g. --self-alpha for
extended.self_alpha); its help text shows the unit, the allowed range and the default of the
command's base configuration. A flag left out keeps the value of --config or the default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from acsim.simulator.config import BELIEF_FIELDS, SimulationConfig, config_parameters, flat_name
from acsim.strategies.declarations import Declared
from acsim.strategies.errors import ParameterError


def parse_numbers(flag: str, text: str) -> tuple[float, ...]:
    """A comma-separated list of numbers, or a clear error naming the flag."""
    try:
        return tuple(float(item) for item in text.split(","))
    except ValueError:
        raise ParameterError(f"{flag} must be comma-separated numbers, got {text!r}") from None


def _number_or_none(text: str) -> float | str:
    """A real number, or the word 'none' (a parameter whose default is computed) kept as text
    for its class to judge."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a real number, got {text!r}") from None


def _count_or_word(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def default_text(value: object, item: Declared | None = None) -> str:
    """A default as people write it (side 1 -> sell, 0.002 -> 0.002, None -> none)."""
    display = item.declaration.allowed.display if item is not None else None
    if display is not None:
        return display(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)


def help_text(item: Declared, default: object) -> str:
    """'σ, ... [price units per √time unit; >= 0] (default 0.1)'."""
    declaration = item.declaration
    unit = f"{declaration.unit}; " if declaration.unit else ""
    return (f"{declaration.help} [{unit}{declaration.allowed.text}] "
            f"(default {default_text(default, item)})")


def add_flag(group: argparse._ArgumentGroup, item: Declared, default: object) -> None:
    """One flag for one declared parameter (default None: 'not given')."""
    allowed = item.declaration.allowed
    text = help_text(item, default).replace("%", "%%")
    dest = flat_name(item)
    if allowed.kind == "boolean":
        group.add_argument(item.flag, dest=dest, action="store_true", default=None, help=text)
    elif allowed.kind == "real":
        group.add_argument(item.flag, dest=dest, type=_number_or_none, default=None, help=text)
    elif allowed.kind == "integer":
        group.add_argument(item.flag, dest=dest, type=int, default=None, help=text)
    elif allowed.kind == "numbers":
        group.add_argument(item.flag, dest=dest, default=None, metavar="X1,X2,...", help=text)
    elif allowed.kind == "count":
        group.add_argument(item.flag, dest=dest, type=_count_or_word, default=None, help=text)
    elif allowed.extensible:  # a built-in name or package.module:NAME, checked by its class
        group.add_argument(item.flag, dest=dest, default=None,
                           metavar="{" + ",".join(allowed.choices) + ",package.module:NAME}",
                           help=text)
    else:
        group.add_argument(item.flag, dest=dest, default=None, choices=allowed.choices,
                           help=text)


TITLES = {
    "market": "order and market (MODEL.md §1-§2)",
    "extended": "feedback terms of the market (MODEL.md §2)",
    "ensemble": "ensemble (MODEL.md §4)",
    "impact": "impact model (MODEL.md §2, §7)",
    "order_flow": "order-flow market: the ensemble trades (MODEL.md §6)",
    "regimes": "volatility regimes (MODEL.md §8)",
    "strategy": "strategy",
    "simulation": "run",
}


def add_config_flags(parser: argparse.ArgumentParser, base: SimulationConfig,
                     tables: Iterable[str] | None = None) -> None:
    """Flags for every declared key of `tables` (default: all), defaults shown from `base`."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    wanted = None if tables is None else set(tables)
    for table, item in config_parameters():
        if wanted is not None and table not in wanted:
            continue
        if table not in groups:
            groups[table] = parser.add_argument_group(TITLES.get(table, table))
        add_flag(groups[table], item, default_of(base, table, item))


def default_of(base: SimulationConfig, table: str, item: Declared) -> object:
    """The value `base` gives a declared parameter."""
    if table == "simulation":
        return getattr(base, item.name)
    if table == "strategy":
        return base.strategy.name if item.name == "name" else base.strategy.options.get(
            item.name, item.default)
    return getattr(getattr(base, table), item.name)


def tables_from_args(args: argparse.Namespace, tables: Iterable[str] | None = None) -> dict:
    """{table: {key: value}} of the declared flags the user gave."""
    wanted = None if tables is None else set(tables)
    result: dict[str, dict] = {}
    for table, item in config_parameters():
        if wanted is not None and table not in wanted:
            continue
        value = getattr(args, flat_name(item), None)
        if value is None:
            continue
        if item.declaration.allowed.kind == "numbers":
            value = parse_numbers(item.flag, value)
        result.setdefault(table, {})[item.name] = value
    return result


def figure_path(flag: str, text: str) -> Path:
    """A PNG file a command may write (checked before any work): a .png name, not a directory,
    in a directory that exists and is writable."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise ParameterError(f"{flag} must name a .png file, got {text!r}")
    if path.is_dir():
        raise ParameterError(f"{flag}: {text!r} is a directory; name a .png file")
    from acsim.simulator.output_folder import writable

    folder = path.resolve().parent
    if not folder.is_dir():
        raise ParameterError(f"{flag}: the directory of {text!r} does not exist")
    if not writable(folder) or (path.exists() and not writable(path)):
        raise ParameterError(f"{flag}: {text!r} is not writable (read-only file or folder)")
    return path


def add_belief_flag(parser: argparse.ArgumentParser) -> None:
    allowed = "; ".join(f"{table}: {', '.join(keys)}" for table, keys in BELIEF_FIELDS.items())
    parser.add_argument("--belief", action="append", default=[], metavar="TABLE.KEY=VALUE",
                        help="what the strategy believes where it differs from the market, e.g. "
                             f"--belief extended.coupling=0 (repeatable; {allowed})")


def parse_text(item: Declared, flag: str, text: str) -> object:
    """A value written on the command line, read by its declared kind (numbers: a comma list;
    true/false for booleans); a word that is no number stays a word for its class to judge."""
    kind = item.declaration.allowed.kind
    text = text.strip()
    if kind == "numbers":
        return parse_numbers(flag, text)
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "count":
        return _count_or_word(text)
    if kind in ("real", "integer"):
        try:
            return int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ParameterError(f"{flag} must be a number, got {text!r}") from None
    return text


def belief_table(entries: list[str]) -> dict:
    """['extended.coupling=0', 'regimes.volatilities=0.1,0.2', ...] -> {table: {key: value}},
    each value read by the kind its parameter declares."""
    declared = {(table, item.name): item for table, item in config_parameters()}
    result: dict[str, dict] = {}
    for entry in entries:
        key, equals, text = entry.partition("=")
        table, dot, name = key.strip().partition(".")
        if not equals or not dot or not name:
            raise ParameterError(f"--belief must be TABLE.KEY=VALUE, got {entry!r}")
        item = declared.get((table, name))
        value = text.strip() if item is None else parse_text(item, f"--belief {key}", text)
        result.setdefault(table, {})[name] = value
    return result


def add_size_flag(parser: argparse.ArgumentParser) -> None:
    """--allow-large: run even when the size check (acsim.simulator.sizes) refuses."""
    parser.add_argument("--allow-large", action="store_true",
                        help="run even when the estimated peak memory exceeds the memory "
                             "available or the estimated time exceeds 24 hours (the check "
                             "runs before any work; see docs/sizes.md)")
