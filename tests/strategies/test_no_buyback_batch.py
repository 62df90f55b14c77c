"""The batched no-buy-back planner (`extended.no_buyback_plans`, compiled in
`strategies.no_buyback_kernels`) and the planner's warm start.

Oracles:
- the per-episode primal active set in numpy and LAPACK (`reference.active_set_holdings`,
  the planner's method before the batch, an independent implementation);
- the cvxpy/CLARABEL `ReferencePlanner` with n_k >= 0, and the KKT conditions checked in
  trade space (`assert_kkt_no_buyback`), at 390 steps with binding constraints;
- metamorphic relations: any guessed working set gives the same optimum; a row's answer does
  not depend on the rest of the batch; a planner that remembers its last working sets trades
  as fresh planners do.
"""

from __future__ import annotations

import numpy as np
import pytest

from acsim.strategies import (
    ExecutionProblem,
    ExtendedParameters,
    SolverError,
    no_buyback_kernels,
    planning_inputs,
)
from acsim.strategies.extended import LinearPlanner, no_buyback_plans, optimal_holdings
from acsim.strategies.parameters import PlanningInputs
from acsim.strategies.reference import ReferencePlanner, active_set_holdings
from tests.strategies.test_extended_planner import (
    INEQUALITY_REFERENCE_TOLERANCE,
    assert_kkt_no_buyback,
    planner_utility,
    random_case,
)


def batch_of(inputs: PlanningInputs, shares: float, rng: np.random.Generator,
             episodes: int) -> tuple[PlanningInputs, np.ndarray]:
    """Episodes sharing τ, η̃, q: the case's drift scaled by U(-2, 2) plus a constant drift of
    either sign (adverse or not), holdings in [0, 1.5 x_0] with some at exactly 0."""
    spread = np.max(np.abs(inputs.drift)) + 1e-12
    drift = (inputs.drift[None, :] * rng.uniform(-2.0, 2.0, (episodes, 1))
             + spread * rng.uniform(-1.0, 1.0, (episodes, 1)))
    holdings = shares * rng.uniform(0.0, 1.5, episodes)
    holdings[rng.random(episodes) < 0.1] = 0.0
    return PlanningInputs(inputs.step_length, inputs.effective_temporary_impact,
                          inputs.urgency, drift), holdings


def buys_back(plans: np.ndarray) -> np.ndarray:
    return np.any(np.diff(plans, axis=-1) > 0.0, axis=-1)


@pytest.mark.parametrize(("rounds", "sweeps"), [(None, True), (None, False), (1, False),
                                               (0, False)])
def test_batch_equals_per_episode_active_set(rounds, sweeps):
    """Every row of a batch equals the per-episode active set (to 1e-11 of the holdings
    scale), on random cases of up to 60 steps where most rows need the constraint: with the
    boundary sweeps first, with the active set alone, and when the primal-dual rounds stop
    early from a random guess (1) or are skipped (0), so that the primal active set finishes
    the work."""
    rng = np.random.default_rng(13)
    needing = rows = 0
    for _ in range(40):
        problem, extended, field = random_case(rng, max_steps=60)
        inputs, holdings = batch_of(planning_inputs(problem, extended, field), problem.shares,
                                    rng, 8)
        guess = None if rounds is None else rng.random((8, inputs.steps + 1)) < 0.3
        plans, resting = no_buyback_plans(inputs, holdings, guess, boundary_sweeps=sweeps,
                                          primal_dual_rounds=rounds)
        needing += int(np.sum(buys_back(optimal_holdings(inputs, holdings))))
        rows += holdings.shape[0]
        for row in range(holdings.shape[0]):
            single = PlanningInputs(inputs.step_length, inputs.effective_temporary_impact,
                                    inputs.urgency, inputs.drift[row])
            expected = active_set_holdings(single, holdings[row])
            np.testing.assert_allclose(plans[row], expected, rtol=0,
                                       atol=1e-11 * (problem.shares + holdings[row]))
        trades = -np.diff(plans, axis=1)
        assert np.all(trades >= 0.0) and np.all(plans[:, -1] == 0.0)
        assert np.all(trades[resting[:, 1:]] == 0.0)  # resting steps trade exactly 0
    assert needing >= rows // 3  # not vacuous: the constraint binds in many rows


def day_inputs(steps: int = 390) -> tuple[PlanningInputs, np.ndarray, float]:
    """A trading day of minutes (the `acsim bench` case): model-like field forecasts
    f̂_k = f_0·e^(-t_k/θ) and constant adverse drifts of both signs, with no
    field; every one of these makes the equality-constrained plan buy back."""
    problem = ExecutionProblem(shares=10_000.0, horizon=390.0, steps=steps, price=100.0,
                               volatility=0.1, half_spread=0.01, temporary_impact=0.02,
                               permanent_impact=1e-4, risk_aversion=2e-3)
    extended = ExtendedParameters(coupling=0.005, self_alpha=1e-5)
    times = problem.times[1:]
    rows = [planning_inputs(problem, extended, start * np.exp(-times / decay)).drift
            for start, decay in ((-5.0, 60.0), (-20.0, 120.0), (-2.0, 300.0))]
    for drift in (1.0, -0.01):
        rows.append(planning_inputs(problem.with_changes(drift=drift), extended).drift)
    template = planning_inputs(problem, extended)
    inputs = PlanningInputs(template.step_length, template.effective_temporary_impact,
                            template.urgency, np.stack(rows))
    return inputs, np.full(len(rows), problem.shares), problem.half_spread


def test_boundary_sweeps_are_exact_or_decline():
    """Each single-boundary sweep either returns a boundary whose plan is the per-episode
    active set's optimum (to 1e-11 of the holdings), trading nothing after it (sold out) or
    before it (waiting), with every element of the plan written, or returns 0 and leaves the
    episode to the active set: never a wrong plan. The day rows of 390, 60 and 20 steps with
    x_0 and 0.3·x_0 (each found by one of them, waiting in a fifth of them), random cases of
    up to 60 steps (many found sold out; the others trade and rest in turns), and drifts that
    favour selling, then holding, then selling or not, where the boundary each sweep finds
    fails the multipliers on its far side."""
    rng = np.random.default_rng(11)
    cases = []
    for steps in (390, 60, 20):
        day, day_holdings, _ = day_inputs(steps)
        cases += [(day, day_holdings), (day, 0.3 * day_holdings)]
    days = len(cases)
    scale = np.max(np.abs(day.drift))  # of the 20-step day, whose coefficients these share
    for against, towards in ((1.0, 1.0), (3.0, 1.0), (1.0, 3.0), (10.0, 3.0)):
        blocks = [np.r_[np.full(3, -against), np.full(7, towards), np.full(10, tail)]
                  for tail in (0.0, -against)]
        cases.append((PlanningInputs(day.step_length, day.effective_temporary_impact,
                                     day.urgency, scale * np.array(blocks)), day_holdings[:2]))
    for _ in range(30):
        problem, extended, field = random_case(rng, max_steps=60)
        cases.append(batch_of(planning_inputs(problem, extended, field), problem.shares, rng,
                              8))
    sweeps = {"sold out": no_buyback_kernels._sell_out_plan,
              "waiting": no_buyback_kernels._wait_then_sell_plan}
    found = dict.fromkeys(sweeps, 0)
    for index, (inputs, holdings) in enumerate(cases):
        steps, tau = inputs.steps, inputs.step_length
        impact, urgency = inputs.effective_temporary_impact, inputs.urgency
        free_scale = tau**2 / (2.0 * impact)  # d = 2 + qτ²/η̃ eliminated without pivoting
        factors = np.zeros(steps + 1)
        no_buyback_kernels._eliminate(np.full(steps + 1, 2.0 + 2.0 * free_scale * urgency),
                                      factors, steps + 1)
        for row in np.flatnonzero(holdings > 0.0) if steps > 1 else ():
            single = PlanningInputs(tau, impact, urgency, inputs.drift[row])
            expected = active_set_holdings(single, holdings[row])
            answered = False
            for kind, sweep in sweeps.items():
                path = np.full(steps + 1, np.nan)
                boundary = sweep(holdings[row], single.drift, free_scale, factors,
                                 impact / tau, urgency, tau, path)
                if boundary == 0:
                    continue
                np.testing.assert_allclose(path, expected, rtol=0, atol=1e-11 * holdings[row])
                step = np.arange(1, steps + 1)
                resting = step > boundary if kind == "sold out" else step < boundary
                assert np.all(np.diff(path)[resting] == 0.0) and np.all(np.diff(path) <= 0.0)
                found[kind] += bool(np.any(resting))
                answered = True
            assert answered or index >= days
    assert found["sold out"] >= 100 and found["waiting"] >= days


def test_batch_at_390_steps_equals_cvxpy_and_meets_kkt():
    """390 steps, binding constraints (model-like forecasts, adverse drift without a field):
    each row equals cvxpy/CLARABEL with n_k >= 0 and the spread, has a utility not above
    the reference's, and satisfies the KKT conditions."""
    inputs, holdings, half_spread = day_inputs()
    assert np.all(buys_back(optimal_holdings(inputs, holdings)))
    plans, _ = no_buyback_plans(inputs, holdings)
    reference = ReferencePlanner(half_spread=half_spread, no_buyback=True)
    for row in range(holdings.shape[0]):
        single = PlanningInputs(inputs.step_length, inputs.effective_temporary_impact,
                                inputs.urgency, inputs.drift[row])
        expected = reference.holdings(single, holdings[row])
        np.testing.assert_allclose(plans[row], expected, rtol=0,
                                   atol=INEQUALITY_REFERENCE_TOLERANCE * holdings[row])
        assert planner_utility(single, plans[row]) <= planner_utility(single, expected) + 1e-12 * (
            single.effective_temporary_impact / single.step_length * holdings[row] ** 2
            + single.step_length * np.sum(np.abs(single.drift)) * holdings[row])
        assert_kkt_no_buyback(single, plans[row])


def test_any_guessed_working_set_gives_the_same_optimum():
    """The guess changes the work, not the answer: random, empty, full, complementary and
    exact guesses all give the plan of the unguessed solve."""
    rng = np.random.default_rng(7)
    inputs, holdings, _ = day_inputs(120)
    plans, optimal = no_buyback_plans(inputs, holdings)
    shape = optimal.shape
    for guess in (rng.random(shape) < 0.5, rng.random(shape) < 0.05, np.zeros(shape, bool),
                  np.ones(shape, bool), ~optimal, optimal):
        guessed, resting = no_buyback_plans(inputs, holdings, guess)
        np.testing.assert_allclose(guessed, plans, rtol=0, atol=1e-12 * holdings[0])
        assert np.array_equal(resting[:, 1:], optimal[:, 1:])


def test_a_row_does_not_depend_on_the_batch():
    """Solving rows alone or in any order gives the same digits (the vectorised engine's
    episodes replay in the Mesa model, one at a time)."""
    rng = np.random.default_rng(3)
    problem, extended, field = random_case(rng, max_steps=40)
    inputs, holdings = batch_of(planning_inputs(problem, extended, field), problem.shares,
                                rng, 12)
    plans, _ = no_buyback_plans(inputs, holdings)
    order = rng.permutation(holdings.shape[0])
    shuffled, _ = no_buyback_plans(PlanningInputs(
        inputs.step_length, inputs.effective_temporary_impact, inputs.urgency,
        inputs.drift[order]), holdings[order])
    assert np.array_equal(shuffled, plans[order])
    for row in range(holdings.shape[0]):
        alone, _ = no_buyback_plans(PlanningInputs(
            inputs.step_length, inputs.effective_temporary_impact, inputs.urgency,
            inputs.drift[row:row + 1]), holdings[row:row + 1])
        assert np.array_equal(alone[0], plans[row])


def test_planner_memory_trades_as_fresh_planners():
    """A receding-horizon loop with one LinearPlanner (warm-started from its last working
    sets) trades as a fresh planner at every step, also after a call that looks like the
    next step but is not (the memory is only a guess)."""
    inputs, holdings, _ = day_inputs(60)
    drift = inputs.drift.copy()
    coefficients = (inputs.step_length, inputs.effective_temporary_impact, inputs.urgency, 60)
    remembering = LinearPlanner(*coefficients)
    held = holdings.copy()
    for k in range(60):
        forecast = drift[:, k:] * (1.0 + 0.05 * np.sin(k))  # the forecast moves every step
        trades = remembering.first_trades(held, forecast, None, no_buyback=True)
        fresh = LinearPlanner(*coefficients).first_trades(held, forecast, None, no_buyback=True)
        np.testing.assert_allclose(trades, fresh, rtol=0, atol=1e-12 * holdings[0])
        assert np.all(trades >= 0.0)
        held = held - trades
        if k == 29:  # a call shaped as the next step but for other episodes: a wrong guess
            others = remembering.first_trades(holdings[::-1], drift[::-1, 30:], None, True)
            np.testing.assert_allclose(others, LinearPlanner(*coefficients).first_trades(
                holdings[::-1], drift[::-1, 30:], None, True), rtol=0, atol=1e-12 * holdings[0])
    np.testing.assert_allclose(held, 0.0, atol=1e-9 * holdings[0])


def test_episodes_that_do_not_converge_raise_solver_error(monkeypatch):
    """An episode the kernel reports as not converged is a named SolverError naming it."""
    inputs, holdings, _ = day_inputs(20)

    def failing(start, *arguments):
        iterations = np.zeros(start.shape[0], dtype=np.int64)
        iterations[3] = no_buyback_kernels.NOT_CONVERGED
        return iterations

    monkeypatch.setattr(no_buyback_kernels, "solve_batch", failing)
    with pytest.raises(SolverError, match=r"did not converge .*episode\(s\) \[3\]"):
        no_buyback_plans(inputs, holdings)
