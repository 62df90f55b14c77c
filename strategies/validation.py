"""Boundary checks shared by every parameter dataclass.

Each check names the offending field and the allowed range in its message.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from acsim.strategies.errors import ParameterError


def finite_number(name: str, value: object) -> float:
    """Return `value` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return result


def positive(name: str, value: object) -> float:
    """A finite number > 0."""
    result = finite_number(name, value)
    if result <= 0.0:
        raise ParameterError(f"{name} must be > 0, got {value!r}")
    return result


def non_negative(name: str, value: object) -> float:
    """A finite number >= 0."""
    result = finite_number(name, value)
    if result < 0.0:
        raise ParameterError(f"{name} must be >= 0, got {value!r}")
    return result


def in_range(name: str, value: object, low: float, high: float) -> float:
    """A finite number in the closed interval [low, high]."""
    result = finite_number(name, value)
    if not low <= result <= high:
        raise ParameterError(f"{name} must be in [{low}, {high}], got {value!r}")
    return result


def integer(name: str, value: object, minimum: int) -> int:
    """An integer >= minimum (bools and floats are rejected, even 3.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def one_of(name: str, value: object, allowed: tuple) -> object:
    """A value from a fixed set of choices."""
    if value not in allowed:
        choices = ", ".join(repr(choice) for choice in allowed)
        raise ParameterError(f"{name} must be one of {choices}, got {value!r}")
    return value


def finite_vector(name: str, values: object, length: int | None = None) -> np.ndarray:
    """A 1-D float array of finite numbers, optionally of a given length."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{name} must be a sequence of numbers: {error}") from None
    if array.ndim != 1:
        raise ParameterError(f"{name} must be one-dimensional, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ParameterError(f"{name} must have {length} values, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} must contain only finite numbers")
    return array


def within_float_range(quantities: list[tuple[str, float, str]]) -> None:
    """Quantities derived from several parameters (λσ², X², bounds of E and V, ...) must be
    finite float64 numbers: the first that is not is refused, naming the fields it is formed
    from. Each value is a bound computed with Python floats, so an overflow shows as inf (or nan)
    here instead of a warning and a non-finite result later."""
    for name, value, fields in quantities:
        if not math.isfinite(value):
            raise ParameterError(f"{name} = {value!r}: must be a finite number below "
                                 f"{sys.float_info.max:.3g} in magnitude; reduce {fields}")


def remaining_steps(drift: np.ndarray, longest: int) -> int:
    """m, the remaining steps a planner is asked about: the length of the last axis of a drift
    array, between 1 and the planner's longest horizon."""
    remaining = drift.shape[-1] if drift.ndim else 0
    if not 1 <= remaining <= longest:
        raise ParameterError(f"drift must have 1..{longest} values on its last axis "
                             f"(the remaining steps), got shape {drift.shape}")
    return remaining
