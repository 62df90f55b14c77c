"""Each parameter declared once: name, unit, allowed range, default and help in one place.

A parameter dataclass declares its fields with `parameter(...)`; `check_parameters` (called
from `__post_init__`) validates every declared field with its range and stores the cleaned
value. The same declarations drive the TOML keys (the field names), the command-line flags
(`flag`, default `--field-name`) and the reference page docs/parameters.md, so a parameter's
range and meaning are written nowhere else.

    @dataclass(frozen=True)
    class Example:
        shares: float = parameter(1000.0, unit="shares", allowed=POSITIVE,
                                  help="X, the quantity to execute")

        def __post_init__(self) -> None:
            check_parameters(self)
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acsim.strategies import validation
from acsim.strategies.errors import ParameterError


@dataclass(frozen=True)
class Allowed:
    """An allowed range: how a value is checked, how it is written, how a flag parses it.

    kind: "real", "integer", "choice", "boolean", "numbers" (a list of reals) or "count"
        (an integer or one of `choices`).
    check: (name, value) -> cleaned value, raising ParameterError naming the field.
    text: the range in words, e.g. "> 0" or "one of kirman, random-walk".
    extensible: a choice that also takes "package.module:NAME" (an object of your own).
    display: how a stored value is written for people (e.g. side 1 -> "sell").
    """

    kind: str
    check: Callable[[str, Any], Any]
    text: str
    choices: tuple = ()
    extensible: bool = False
    display: Callable[[Any], str] | None = None


def real(check: Callable[[str, Any], float], text: str) -> Allowed:
    return Allowed("real", check, text)


FINITE = real(validation.finite_number, "any real number")
POSITIVE = real(validation.positive, "> 0")
NON_NEGATIVE = real(validation.non_negative, ">= 0")


def between(low: float, high: float) -> Allowed:
    """A real number in the closed interval [low, high]."""
    return real(lambda name, value: validation.in_range(name, value, low, high),
                f"in [{low:g}, {high:g}]")


def integer(minimum: int) -> Allowed:
    """An integer >= minimum."""
    return Allowed("integer", lambda name, value: validation.integer(name, value, minimum),
                   f"integer >= {minimum}")


def choice(*options: str) -> Allowed:
    """One of a fixed set of words."""
    return Allowed("choice", lambda name, value: validation.one_of(name, value, options),
                   "one of " + ", ".join(options), options)


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"{name} must be true or false, got {value!r}")
    return value


BOOLEAN = Allowed("boolean", _boolean, "true or false")


def _numbers(name: str, value: object) -> tuple[float, ...] | None:
    if value is None:
        return None
    return tuple(float(item) for item in validation.finite_vector(name, value))


NUMBERS = Allowed("numbers", _numbers, "a list of finite numbers")


def count_or_choice(minimum: int, *options: str) -> Allowed:
    """An integer >= minimum or one of a few words (e.g. an initial count or 'balanced')."""
    def check(name: str, value: object) -> int | str:
        if isinstance(value, str) and value in options:
            return value
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return validation.integer(name, value, minimum)
        raise ParameterError(f"{name} must be an integer >= {minimum} or one of "
                             f"{', '.join(options)}, got {value!r}")
    return Allowed("count", check, f"integer >= {minimum} or one of {', '.join(options)}",
                   options)


def component(kind: type, names: tuple[str, ...]) -> Allowed:
    """A built-in name, "package.module:NAME" or an instance of `kind` (an extension point)."""
    def check(name: str, value: object) -> object:
        if isinstance(value, kind) or (isinstance(value, str)
                                       and (value in names or ":" in value)):
            return value
        raise ParameterError(f"{name} must be one of {', '.join(names)}, a "
                             f"'package.module:NAME' path or a {kind.__name__}, got {value!r}")
    return Allowed("choice", check, " or ".join([", ".join(names), "package.module:NAME"]),
                   names, extensible=True)


@dataclass(frozen=True)
class Declaration:
    """What a parameter means: unit, allowed range, help text and command-line flag."""

    unit: str
    allowed: Allowed
    help: str
    flag: str | None = None


def parameter(default: Any, *, unit: str, allowed: Allowed, help: str,
              flag: str | None = None) -> Any:
    """A dataclass field carrying its declaration (see the module docstring)."""
    return dataclasses.field(default=default, metadata={
        "parameter": Declaration(unit, allowed, help, flag)})


def same_as(kind: type, name: str) -> Any:
    """A dataclass field declared exactly as field `name` of `kind` (the same default and
    declaration): for a parameter that two classes carry, e.g. a switching rule's rate and the
    [ensemble] key that builds the rule."""
    original = kind.__dataclass_fields__[name]
    return dataclasses.field(default=original.default, metadata=original.metadata)


@dataclass(frozen=True)
class Declared:
    """One declared field of a parameter class, as the CLI and the reference page see it."""

    name: str
    default: Any
    declaration: Declaration

    @property
    def flag(self) -> str:
        return self.declaration.flag or "--" + self.name.replace("_", "-")


def declared_fields(kind: type) -> list[Declared]:
    """The declared fields of a parameter class, in declaration order."""
    result = []
    for item in dataclasses.fields(kind):
        declaration = item.metadata.get("parameter")
        if declaration is not None:
            result.append(Declared(item.name, item.default, declaration))
    return result


def check_parameters(instance: object) -> None:
    """Validate every declared field of a (frozen) dataclass and store the cleaned values."""
    for item in declared_fields(type(instance)):
        value = getattr(instance, item.name)
        object.__setattr__(instance, item.name, item.declaration.allowed.check(item.name, value))
