"""Simulated method of moments (simulator/method_of_moments.py) on a model with known truth.

Model: AR(1) with Student-t innovations, x_t = φ·x_{t−1} + σ·ε_t, ε_t ~ t(6) scaled to unit
variance, from 200 burn-in steps. Moments: variance, ACF at lags 1 and 2, and E|x − x̄|/sd
(K = 4 > P = 2: over-identified). Oracles: the true (φ, σ) = (0.5, 1); the spread of the
estimates over independent data sets (the standard errors must describe it); an AR(2) data set
(ACF(2) far from φ²) that the AR(1) model cannot fit (the J-test must reject); the sandwich
formula written out by hand for an exactly identified model.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from acsim.simulator.method_of_moments import Parameter, estimate, moment_covariance
from acsim.simulator.stylized_facts import SegmentedReturns
from acsim.strategies.errors import ParameterError

LENGTH, BURN_IN, FREEDOM = 1_000, 200, 6.0
TRUTH = np.array([0.5, 1.0])
NAMES = ["variance", "acf1", "acf2", "mean_absolute"]
PARAMETERS = [Parameter("persistence", 0.2, -1.0, 1.0), Parameter("volatility", 0.5, 0.0)]


def moments(returns: SegmentedReturns) -> np.ndarray:
    """Variance, ACF(1), ACF(2) (pairs inside segments) and mean |x − x̄| / sd."""
    values, ids = returns.values, returns.segment_ids
    centred = values - values.mean()
    variance = np.mean(centred**2)
    acf = [np.mean((centred[:-lag] * centred[lag:])[ids[:-lag] == ids[lag:]]) / variance
           for lag in (1, 2)]
    return np.array([variance, *acf, np.mean(np.abs(centred)) / np.sqrt(variance)])


def path(coefficients: list[float], volatility: float, sequence: np.random.SeedSequence,
         length: int = LENGTH) -> np.ndarray:
    """An AR(p) path with unit-variance t innovations drawn from `sequence`."""
    generator = np.random.Generator(np.random.PCG64(sequence))
    shocks = generator.standard_t(FREEDOM, length + BURN_IN) / np.sqrt(FREEDOM / (FREEDOM - 2))
    return lfilter([volatility], [1.0, *(-c for c in coefficients)], shocks)[BURN_IN:]


def simulate(parameters: np.ndarray, sequence: np.random.SeedSequence) -> np.ndarray:
    persistence, volatility = parameters
    return moments(SegmentedReturns.from_segments([path([persistence], volatility, sequence)]))


def data_moments(values: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return moment_covariance(SegmentedReturns.from_segments([values]), moments,
                             replicates=200, seed=seed)


def fit(values: np.ndarray, seed: int, **options):
    observed, covariance = data_moments(values, seed)
    return estimate(simulate, PARAMETERS, observed, covariance, NAMES,
                    simulations=options.pop("simulations", 5), seed=options.pop("smm_seed", 7),
                    **options)


def test_recovers_the_true_parameters_and_the_errors_describe_the_spread():
    estimates, errors = [], []
    for data_seed in range(10):
        data = path([TRUTH[0]], TRUTH[1], np.random.SeedSequence(1_000 + data_seed))
        result = fit(data, seed=data_seed)
        assert result.converged, result.message
        table = result.parameters
        assert np.all(np.abs(table["estimate"] - TRUTH) < 3.0 * table["standard_error"])
        assert result.j_p_value > 0.001  # the model is right
        estimates.append(table["estimate"].to_numpy())
        errors.append(table["standard_error"].to_numpy())
    spread = np.std(estimates, axis=0, ddof=1)
    ratio = spread / np.mean(errors, axis=0)
    # The data seeds are independent, the simulation seeds common: the spread omits the
    # 1/S simulation share of the variance; with 10 data sets the ratio is known to ±25%.
    assert np.all((0.5 < ratio) & (ratio < 1.6)), ratio


def test_common_random_numbers_give_the_same_seeds_to_every_candidate():
    seen: dict[tuple, set] = {}

    def spy(parameters: np.ndarray, sequence: np.random.SeedSequence) -> np.ndarray:
        seen.setdefault(tuple(parameters), set()).add(sequence.spawn_key)
        return simulate(parameters, sequence)

    data = path([0.5], 1.0, np.random.SeedSequence(5))
    observed, covariance = data_moments(data, seed=0)
    first = estimate(spy, PARAMETERS, observed, covariance, NAMES, simulations=3, seed=11)
    keys = {frozenset(value) for value in seen.values()}
    assert keys == {frozenset({(0,), (1,), (2,)})}
    again = estimate(simulate, PARAMETERS, observed, covariance, NAMES, simulations=3, seed=11)
    np.testing.assert_array_equal(first.parameters["estimate"], again.parameters["estimate"])
    np.testing.assert_array_equal(first.covariance, again.covariance)


def test_j_test_rejects_a_misspecified_model():
    data = path([0.2, 0.5], 1.0, np.random.SeedSequence(3))  # AR(2): ACF(2) ≫ ACF(1)²
    result = fit(data, seed=3)
    assert result.degrees_of_freedom == 2
    assert result.j_p_value < 1e-4
    worst = result.moments.loc[result.moments["t_statistic"].abs().idxmax(), "moment"]
    assert worst in ("acf1", "acf2")


def test_exactly_identified_fit_and_the_sandwich_by_hand():
    data = path([0.5], 1.0, np.random.SeedSequence(4))
    observed, covariance = data_moments(data, seed=4)
    keep = [0, 1]  # variance and ACF(1) identify (σ, φ) exactly

    def two_moments(parameters, sequence):
        return simulate(parameters, sequence)[keep]

    result = estimate(two_moments, PARAMETERS, observed[keep], covariance[np.ix_(keep, keep)],
                      NAMES[:2], simulations=4, seed=2, weighting="diagonal")
    assert result.degrees_of_freedom == 0 and np.isnan(result.j_p_value)
    assert result.criterion < 1e-6  # the moments are matched exactly
    sigma = (1 + 1 / 4) * covariance[np.ix_(keep, keep)]
    inverse = np.linalg.inv(result.jacobian)  # K = P: the sandwich is G⁻¹ Σ G⁻ᵀ for any W
    np.testing.assert_allclose(result.covariance, inverse @ sigma @ inverse.T, rtol=1e-6)
    assert result.standard_errors["volatility"] == pytest.approx(
        np.sqrt(result.covariance[1, 1]))


def test_longer_simulations_shrink_the_simulation_share_of_the_variance():
    data = path([0.5], 1.0, np.random.SeedSequence(6))
    short = fit(data, seed=6, simulations=1)
    long = fit(data, seed=6, simulations=1, length_ratio=1e6)
    assert short.moments["standard_error"].to_numpy() == pytest.approx(
        np.sqrt(2.0) * long.moments["standard_error"].to_numpy(), rel=1e-5)


def test_moment_covariance_never_joins_returns_across_a_gap():
    calls = []

    def spy(returns: SegmentedReturns) -> np.ndarray:
        for segment in returns.segments():
            calls.append(segment)
        return np.array([returns.values.mean()])

    values = np.concatenate([np.arange(0.0, 30.0), np.arange(1000.0, 1020.0)])
    returns = SegmentedReturns(values, np.array([30, 20]))
    moment_covariance(returns, spy, replicates=20, seed=1, block_length=6)
    for segment in calls:  # each segment handed to a moment is a run of adjacent data
        assert np.all(np.diff(segment) == 1.0)


@pytest.mark.parametrize("change, message", [
    ({"observed": [1.0]}, "at least as many moments as parameters"),
    ({"covariance": np.eye(3)}, "covariance must be 4×4"),
    ({"covariance": -np.eye(4)}, "positive definite"),
    ({"covariance": np.triu(np.ones((4, 4))) + np.eye(4)}, "symmetric"),
    ({"moment_names": ["a"]}, "one name per observed moment"),
    ({"simulations": 0}, "simulations must be an integer >= 1"),
    ({"length_ratio": 0.0}, "length_ratio must be > 0"),
    ({"weighting": "identity"}, "weighting must be one of"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"simulate": lambda parameters, sequence: np.ones(3)}, "must return 4 moments"),
    ({"simulate": lambda parameters, sequence: np.full(4, np.nan)}, "non-finite moments"),
    ({"parameters": [Parameter("a", 0.1), Parameter("a", 0.2)]}, "distinct"),
    ({"method": "bogus"}, "method must be a scipy.optimize.minimize method"),
])
def test_bad_input_raises_a_named_parameter_error(change, message):
    arguments = {"simulate": simulate, "parameters": PARAMETERS,
                 "observed": [1.0, 0.5, 0.25, 0.8], "covariance": 0.01 * np.eye(4),
                 "moment_names": NAMES, "simulations": 2, "seed": 0}
    arguments.update(change)
    with pytest.raises(ParameterError, match=message):
        estimate(**arguments)


@pytest.mark.parametrize("build, message", [
    (lambda: Parameter("φ", 2.0, -1.0, 1.0), r"strictly inside \(-1.0, 1.0\)"),
    (lambda: Parameter("σ", 1.0, lower=float("nan")), "lower must be a number"),
    (lambda: Parameter("", 1.0), "non-empty string"),
])
def test_bad_parameters_are_rejected_by_name(build, message):
    with pytest.raises(ParameterError, match=message):
        build()


def test_a_parameter_the_moments_ignore_gets_no_standard_error():
    def ignores_scale(parameters, sequence):
        return np.array([parameters[0], parameters[0] ** 2])

    result = estimate(ignores_scale, [Parameter("level", 1.0), Parameter("scale", 1.0, 0.0)],
                      [1.5, 2.3], 0.01 * np.eye(2), simulations=1)
    assert np.isnan(result.standard_errors["scale"])
    assert "do not identify" in result.message


def test_bounded_transforms_round_trip():
    for item, value in ((Parameter("a", 0.3, -1.0, 1.0), -0.999), (Parameter("b", 2.0, 0.0), 1e-6),
                        (Parameter("c", -2.0, upper=0.0), -5.0), (Parameter("d", 3.0), -7.5)):
        assert item.from_free(item.to_free(value)) == pytest.approx(value, rel=1e-9)


def test_a_parameter_s_units_do_not_make_the_fit_look_unidentified():
    """The same AR(1) fit with σ given in millionths (θ = 1e6·σ): GᵀWG's raw condition number
    grows by 1e12, yet the parameters are as identified as before. Estimates and standard
    errors scale by exactly the unit change (the search runs in log σ, steps are relative)."""
    data = path([0.5], 1.0, np.random.SeedSequence(8))
    observed, covariance = data_moments(data, seed=8)

    def in_millionths(parameters, sequence):
        return simulate(np.array([parameters[0], parameters[1] * 1e-6]), sequence)

    units = [PARAMETERS[0], Parameter("volatility", 0.5e6, 0.0)]
    plain = estimate(simulate, PARAMETERS, observed, covariance, NAMES, simulations=5, seed=7)
    scaled = estimate(in_millionths, units, observed, covariance, NAMES, simulations=5, seed=7)
    assert "singular" not in scaled.message
    assert np.linalg.cond(scaled.jacobian.T @ scaled.weighting @ scaled.jacobian) > 1e12
    for name, factor in (("persistence", 1.0), ("volatility", 1e6)):
        assert scaled.estimates[name] == pytest.approx(factor * plain.estimates[name], rel=1e-6)
        assert scaled.standard_errors[name] == pytest.approx(
            factor * plain.standard_errors[name], rel=1e-4)
