"""Components named by path: "package.module:NAME" in a configuration file or on the command line.

Switching rules, impact models and policies are extension points: besides the built-in names,
a configuration may name an object of your own by its import path. `load_object` imports it
and reports every failure as a ParameterError naming the setting.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from acsim.strategies.errors import ParameterError


def is_path(text: object) -> bool:
    """Whether `text` looks like "package.module:NAME"."""
    return isinstance(text, str) and ":" in text


def load_object(path: str, setting: str) -> object:
    """The object at "package.module:NAME" (a dotted NAME reaches attributes of attributes)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ParameterError(f"{setting} {path!r} must be written as package.module:NAME")
    try:
        result = importlib.import_module(module_name)
    except ImportError as error:
        raise ParameterError(f"{setting} {path!r}: cannot import {module_name!r}: "
                             f"{error}") from None
    for part in attribute.split("."):
        try:
            result = getattr(result, part)
        except AttributeError:
            raise ParameterError(f"{setting} {path!r}: {module_name!r} has no "
                                 f"{attribute!r}") from None
    return result


def build_component(value: object, kind: type, built_in: Mapping[str, Callable[[], object]],
                    setting: str) -> object:
    """An instance of `kind` from an instance, a built-in name, or "package.module:NAME" (an
    instance, or a class built without arguments)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in built_in:
        return built_in[value]()
    component = load_object(value, setting)
    if isinstance(component, type):
        component = component()
    if not isinstance(component, kind):
        raise ParameterError(f"{setting} {value!r} is not an object of type {kind.__name__}")
    return component
