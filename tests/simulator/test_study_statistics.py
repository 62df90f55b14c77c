"""The streamed statistics (simulator/statistics.py) against numpy on the concatenated array.

Oracles (numpy / scipy on the whole array, computed in the test):
- q05, q50, q95 and var95: np.quantile(x, p) with numpy's default (linear) method, EXACTLY;
- mean: np.mean, std: np.std(ddof=1), stderr = std/√n: 1e-12 relative (plus 1e-12 of
  max|x| for results near 0, the conditioning of a sum);
- cvar95: np.mean(x[x >= np.quantile(x, 0.95)]), 1e-12 relative;
- utility = mean + λ·var(ddof=1); mean_is_bps = 1e4·mean/notional;
- paired_difference: mean ± z·sd/√n with z = scipy.stats.norm.ppf(0.975) (≈ 1.96).
Each property holds for ANY chunking of the data (random cut points, empty chunks, one
chunk per value), including ties, constant arrays, a single value and two values.
Hypothesis is derandomised (deterministic examples).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from acsim.simulator import statistics
from acsim.simulator.statistics import paired_difference, summarise, summarise_chunks
from acsim.strategies.errors import ParameterError

Z975 = stats.norm.ppf(0.975)
SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=150)


def chunked(values, cuts):
    """A callable returning a fresh iterator over the pieces of `values` split at `cuts`."""
    edges = [0, *sorted(cuts), len(values)]
    pieces = [values[a:b] for a, b in zip(edges[:-1], edges[1:])]

    def chunks():
        return iter([piece.copy() for piece in pieces])
    return chunks


def close(got, expected, scale):
    return abs(got - expected) <= 1e-12 * abs(expected) + 1e-12 * scale


def check_summary(values, cuts, notional=1234.5, risk_aversion=0.003):
    values = np.asarray(values, dtype=float)
    result = summarise_chunks(chunked(values, cuts), notional, risk_aversion)
    n = values.size
    scale = float(np.max(np.abs(values)))
    assert result["episodes"] == n
    for key, p in (("q05", 0.05), ("q50", 0.5), ("q95", 0.95), ("var95", 0.95)):
        expected = np.quantile(values, p)
        assert result[key] == expected, (key, result[key], expected, n)
    mean = np.mean(values)
    assert close(result["mean_is"], mean, scale), (result["mean_is"], mean)
    assert close(result["mean_is_bps"], 1e4 * mean / notional, 1e4 * scale / notional)
    tail = values[values >= np.quantile(values, 0.95)]
    assert close(result["cvar95"], np.mean(tail), scale), (result["cvar95"], np.mean(tail))
    if n > 1:
        std = np.std(values, ddof=1)
        assert close(result["std_is"], std, scale), (result["std_is"], std)
        assert close(result["stderr_is"], std / np.sqrt(n), scale / np.sqrt(n))
        variance = np.var(values, ddof=1)
        assert close(result["utility"], mean + risk_aversion * variance,
                     scale + risk_aversion * scale**2)
    else:
        assert np.isnan(result["std_is"]) and np.isnan(result["stderr_is"])
    return result


FLOATS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False,
                   allow_subnormal=False)
TIES = st.sampled_from([-3.0, -0.5, 0.0, 0.25, 1.0, 7.0])


@st.composite
def data_and_cuts(draw):
    kind = draw(st.sampled_from(["floats", "ties", "constant", "mixed"]))
    size = draw(st.integers(min_value=1, max_value=400))
    if kind == "floats":
        values = draw(st.lists(FLOATS, min_size=size, max_size=size))
    elif kind == "ties":
        values = draw(st.lists(TIES, min_size=size, max_size=size))
    elif kind == "constant":
        values = [draw(FLOATS)] * size
    else:
        values = draw(st.lists(st.one_of(FLOATS, TIES), min_size=size, max_size=size))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=size), max_size=12))
    return np.array(values, dtype=float), cuts


@SETTINGS
@given(data_and_cuts())
def test_summary_of_any_chunking_equals_numpy_on_the_whole_array(case):
    values, cuts = case
    check_summary(values, cuts)


@SETTINGS
@given(data_and_cuts())
def test_summary_does_not_depend_on_the_chunking(case):
    """Quantiles exactly equal across chunkings (and one chunk per value)."""
    values, cuts = case
    one = summarise(values, 1.0)
    many = summarise_chunks(chunked(values, cuts), 1.0)
    others = [many]
    if values.size <= 60:  # one chunk per value (kept small: each chunk costs a histogram)
        others.append(summarise_chunks(chunked(values, range(1, values.size)), 1.0))
    for other in others:
        for key in ("episodes", "q05", "q50", "q95", "var95"):
            assert other[key] == one[key], key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_continuous_sample_with_heavy_tail(seed):
    """20,000 values (more than one histogram bin's worth of structure), lognormal tail,
    in 7 uneven chunks."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(50.0, 10.0, 15_000), rng.lognormal(5.0, 1.5, 5_000)])
    rng.shuffle(values)
    check_summary(values, [1, 4096, 4097, 8192, 12_000, 19_999])


def test_clustered_values_inside_one_histogram_bin():
    """Almost every value within 1e-9 of each other plus two far outliers: the exact
    quantile must be found inside one bin of the 65,536-bin histogram."""
    rng = np.random.default_rng(4)
    values = np.concatenate([1.0 + 1e-9 * rng.random(5000), [-1e5, 1e5]])
    rng.shuffle(values)
    check_summary(values, [100, 2500, 4999])


def test_ties_at_the_quantile_and_constant_arrays():
    values = np.array([1.0] * 90 + [2.0] * 10 + [5.0] * 3)
    result = check_summary(values, [10, 50])
    assert result["var95"] == 2.0  # written out: rank 96.9 lies inside the run of 2.0s
    assert result["cvar95"] == pytest.approx((10 * 2.0 + 3 * 5.0) / 13, rel=1e-15)
    constant = np.full(777, -2.5)
    result = check_summary(constant, [0, 0, 300, 777])
    assert result["std_is"] == 0.0
    assert result["var95"] == result["cvar95"] == result["q05"] == -2.5


def test_single_and_two_values():
    check_summary(np.array([3.5]), [])
    result = check_summary(np.array([1.0, 3.0]), [1])
    # written out: linear interpolation at position 0.95 between 1 and 3
    assert result["var95"] == pytest.approx(2.9, rel=1e-15)
    assert result["cvar95"] == 3.0
    assert result["std_is"] == pytest.approx(np.sqrt(2.0), rel=1e-15)


def test_empty_input_is_rejected():
    with pytest.raises(ParameterError, match="no episodes"):
        summarise_chunks(lambda: iter([np.array([]), np.array([])]), 1.0)


@SETTINGS
@given(data_and_cuts())
def test_paired_difference_is_mean_plus_minus_z_standard_errors(case):
    values, cuts = case
    if values.size < 2:
        return
    result = paired_difference(chunked(values, cuts))
    n = values.size
    scale = float(np.max(np.abs(values)))
    mean, std = np.mean(values), np.std(values, ddof=1)
    stderr = std / np.sqrt(n)
    assert result["episodes"] == n
    assert close(result["mean_difference"], mean, scale)
    assert close(result["std_difference"], std, scale)
    assert close(result["stderr_difference"], stderr, scale / np.sqrt(n))
    assert close(result["ci95_low"], mean - Z975 * stderr, scale)
    assert close(result["ci95_high"], mean + Z975 * stderr, scale)


def test_paired_difference_written_out():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    result = paired_difference(chunked(values, [2]))
    sd = np.sqrt(((1 - 3.5) ** 2 + (2 - 3.5) ** 2 + (4 - 3.5) ** 2 + (7 - 3.5) ** 2) / 3)
    assert result["mean_difference"] == 3.5
    assert result["std_difference"] == pytest.approx(sd, rel=1e-14)
    assert result["ci95_low"] == pytest.approx(3.5 - 1.959963984540054 * sd / 2, rel=1e-14)
    assert result["ci95_high"] == pytest.approx(3.5 + 1.959963984540054 * sd / 2, rel=1e-14)


@pytest.mark.parametrize("limit", [1, 50, 1000])
def test_quantiles_stay_exact_when_the_kept_values_are_capped(monkeypatch, limit):
    """Memory bound: with at most `limit` values held while locating a quantile, heavy tails
    (one huge outlier puts every other value in one histogram bin), ties and a point mass
    still give numpy's exact quantiles and the exact tail mean."""
    monkeypatch.setattr(statistics, "KEEP_LIMIT", limit)
    rng = np.random.default_rng(7)
    samples = [
        np.concatenate([rng.normal(size=20_000), [1e7]]),
        np.concatenate([np.zeros(5_000), [5.0], rng.normal(size=300)]),
        rng.integers(0, 3, size=10_000).astype(float),
    ]
    for values in samples:
        chunks = np.array_split(values, 7)
        summary = statistics.summarise_chunks(lambda chunks=chunks: chunks, 1.0)
        var95 = np.quantile(values, 0.95)
        assert summary["var95"] == var95
        assert summary["q05"] == np.quantile(values, 0.05)
        assert summary["q50"] == np.quantile(values, 0.5)
        assert summary["cvar95"] == pytest.approx(values[values >= var95].mean(), rel=1e-12)
