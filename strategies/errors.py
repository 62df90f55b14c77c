"""Named errors raised by acsim.

Every failure a user can provoke has its own class, so callers can catch exactly what
they mean to handle. `ParameterError` is also a `ValueError` for convenience.
"""


class AcsimError(Exception):
    """Base class of every error acsim raises on purpose."""


class ParameterError(AcsimError, ValueError):
    """A parameter is missing, of the wrong type or outside its allowed range."""


class NonFiniteResultError(ParameterError):
    """A result the command line was about to print is not a finite number (NaN or infinity):
    the inputs reach beyond float64 somewhere no boundary check foresaw. Refused rather than
    printed."""


class InfeasibleProblemError(AcsimError):
    """The constraints of an execution problem cannot all be met."""


class SolverError(AcsimError):
    """A numerical solver failed; no schedule is returned in its place."""


class PlanningError(AcsimError):
    """A planner was asked to plan under a model it cannot solve (e.g. an impact model
    without a planner); it refuses instead of planning with the wrong model."""


class PolicyError(AcsimError):
    """A policy broke its contract: it lacks `start` or `trades`, or returned trades that are not
    one finite number per episode."""
