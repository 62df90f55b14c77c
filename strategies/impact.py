"""Impact models: how the trader's own trades move prices (MODEL.md §2; the extension point).

An impact model is a small object with four parts, all in the order's own terms (`side` +1
sell, -1 buy; trades n > 0 go in the order's direction), arrays with a leading episodes axis:

- `initial_state(problem, episodes)`: what the model remembers between steps, shape (E, S)
  (S = 0 for memoryless impact; a transient model keeps its displacement here);
- `fill_price(problem, price, trade, state)`: S̃_k, the price trade k fills at, given the
  start-of-step price S_{k-1};
- `price_move(problem, trade, state)`: the trade's own contribution to S_k - S_{k-1} and the
  next state (drift, noise and the field are added by the price engine);
- `expected_shortfall(problem, holdings, drift, self_alpha)`: E of deterministic schedules
  under the model (the planning cost), and `planner(problem, urgency)`: the planner that is
  optimal under it (the hook the receding-horizon policies call). A model without a planner
  raises `PlanningError` there, by name, so a policy never plans with a model it cannot solve.

`LinearImpact` is MODEL §2: S̃_k = S_{k-1} - side·(ε·sgn n_k + (η/τ)·n_k) and a permanent move
-side·γ·n_k, with ε, η, γ from the market (`ExecutionProblem`).

Write your own by subclassing `ImpactModel` (a frozen dataclass, so it can be compared and
cached) and put it in the configuration as `ImpactParameters(model=MyImpact(...))`, or name it
in a file as "package.module:NAME" (an instance, or a class built without arguments).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from acsim.strategies import costs
from acsim.strategies.components import build_component
from acsim.strategies.declarations import check_parameters, component, parameter
from acsim.strategies.errors import PlanningError
from acsim.strategies.parameters import ExecutionProblem

NO_STATE_WIDTH = 0


class ImpactModel(ABC):
    """How one's own trades move prices (see the module docstring)."""

    def initial_state(self, problem: ExecutionProblem, episodes: int) -> np.ndarray:
        """The state before the first trade, shape (episodes, S); default: no state."""
        return np.zeros((episodes, NO_STATE_WIDTH))

    @abstractmethod
    def fill_price(self, problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray,
                   state: np.ndarray) -> np.ndarray:
        """S̃_k for trades n_k (E,) at start-of-step prices S_{k-1} (E,)."""

    @abstractmethod
    def price_move(self, problem: ExecutionProblem, trade: np.ndarray,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the trades' own move of S over the step, the state after the step)."""

    def expected_shortfall(self, problem: ExecutionProblem, holdings: np.ndarray,
                           drift: float | np.ndarray | None = None,
                           self_alpha: float = 0.0) -> np.ndarray:
        """E of schedules `holdings` (last axis N + 1) under this model, currency."""
        raise PlanningError(f"the impact model {self!r} gives no expected shortfall")

    def planner(self, problem: ExecutionProblem, urgency: float):
        """The planner optimal under this model (see `acsim.strategies.extended.LinearPlanner`
        for the interface); urgency = λσ² + self_alpha."""
        raise PlanningError(f"no planner is known for the impact model {self!r}; use a "
                            "policy that does not plan (e.g. twap) or plan with another "
                            "believed impact model ([beliefs.impact])")


@dataclass(frozen=True)
class LinearImpact(ImpactModel):
    """MODEL §2: linear temporary impact η, half spread ε, linear permanent impact γ."""

    def fill_price(self, problem: ExecutionProblem, price: np.ndarray, trade: np.ndarray,
                   state: np.ndarray) -> np.ndarray:
        """S̃_k = S_{k-1} - side·(ε·sgn(n_k) + (η/τ)·n_k)."""
        return price - problem.side * (problem.half_spread * np.sign(trade)
                                       + problem.temporary_impact / problem.step_length * trade)

    def price_move(self, problem: ExecutionProblem, trade: np.ndarray,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-side·γ·n_k; no state."""
        return -problem.side * problem.permanent_impact * trade, state

    def expected_shortfall(self, problem: ExecutionProblem, holdings: np.ndarray,
                           drift: float | np.ndarray | None = None,
                           self_alpha: float = 0.0) -> np.ndarray:
        return costs.expected_shortfall(problem, holdings, drift, self_alpha)

    def planner(self, problem: ExecutionProblem, urgency: float):
        from acsim.strategies.extended import LinearPlanner

        return LinearPlanner(problem.step_length, problem.effective_temporary_impact, urgency,
                             problem.steps)


IMPACT_MODELS = {"linear": LinearImpact}


MODEL = component(ImpactModel, tuple(IMPACT_MODELS))


@dataclass(frozen=True)
class ImpactParameters:
    """The impact model of the market (MODEL.md §2; nonlinear and transient models: §7)."""

    model: str | ImpactModel = parameter(
        "linear", unit="", allowed=MODEL, flag="--impact",
        help="impact model: linear (MODEL §2, with the market's half_spread, temporary_impact "
             "and permanent_impact) or a model of your own as package.module:NAME")

    def __post_init__(self) -> None:
        check_parameters(self)
        object.__setattr__(self, "_impact", self._build())

    def _build(self) -> ImpactModel:
        return build_component(self.model, ImpactModel, IMPACT_MODELS, "impact model")

    @property
    def impact(self) -> ImpactModel:
        """The impact model object."""
        return self._impact  # type: ignore[attr-defined]
