"""The shared figure style (simulator.plots) and the verdict statistics (simulator.statistics).

Oracles: the parameter declarations (unit text) for axis labels; Student-t and Fisher-z
intervals written out here with scipy's quantiles; the verdict rule stated in words.
"""

from __future__ import annotations

import math

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from acsim.simulator import plots
from acsim.simulator.statistics import correlation_interval, mean_interval, verdict
from acsim.strategies.errors import ParameterError
from acsim.strategies.parameters import ExtendedParameters


def test_table_keys_become_words_with_units():
    unit = ExtendedParameters.__dataclass_fields__["coupling"].metadata["parameter"].unit
    assert plots.parameter_label("extended.coupling") == f"coupling ({unit})"
    assert plots.parameter_label("beliefs.extended.self_alpha").startswith("believed self-alpha (")
    assert plots.parameter_label("market.risk_aversion") == "risk aversion λ (per currency)"
    assert plots.parameter_value("extended.coupling", 0.005) == f"coupling = 0.005 ({unit})"


def test_errorbar_panels_words_independent_axes_and_legend_outside():
    frame = pd.DataFrame({"strategy": ["a", "a", "b", "b"] * 2,
                          "extended.coupling": [0.0, 0.01] * 4,
                          "extended.self_alpha": [0.0] * 4 + [1e-4] * 4,
                          "mean_is": [1.0, 2.0, 1.5, 2.5, 100.0, 200.0, 150.0, 250.0]})
    frame["ci95_low"], frame["ci95_high"] = frame["mean_is"] - 0.1, frame["mean_is"] + 0.1
    figure = plots.errorbar_panels(frame, "extended.coupling", "mean_is", "IS (currency)",
                                   panel="extended.self_alpha")
    left, right = figure.axes
    for axes in (left, right):
        assert "." not in axes.get_xlabel().split(" (")[0] and "(" in axes.get_xlabel()
        assert axes.get_legend() is None  # the one legend belongs to the figure
    assert len(figure.legends) == 1
    assert right.get_ylim()[1] > 200 and left.get_ylim()[1] < 10  # not one shared y-axis
    plots.plt.close(figure)


def test_one_colour_per_strategy_and_axes_that_show_the_effect():
    """Built-in strategies keep their colour whatever else is drawn; others get distinct
    unused colours; every line is drawn in its strategy's colour; a y-axis of values far from
    0 is not stretched to 0, and a zero line is drawn only where 0 is in view."""
    colours = plots.strategy_colours(["mine", "twap", "ac-adaptive+no-buyback", "twap"])
    again = plots.strategy_colours(["ac-adaptive", "twap"])
    assert colours["twap"] == again["twap"] == plots.STRATEGY_COLOURS["twap"]
    assert len(set(colours.values())) == 3
    assert not set(colours.values()) - {plots.STRATEGY_COLOURS["twap"]} & set(
        plots.STRATEGY_COLOURS.values())
    frame = pd.DataFrame({"strategy": ["twap", "twap", "mine", "mine"],
                          "extended.coupling": [0.0, 0.01] * 2,
                          "mean_is": [100.0, 100.5, 101.0, 101.2]})
    frame["ci95_low"], frame["ci95_high"] = frame["mean_is"] - 0.1, frame["mean_is"] + 0.1
    figure = plots.errorbar_panels(frame, "extended.coupling", "mean_is", "IS (currency)",
                                   title="Mean IS", colours=colours)
    axes = figure.axes[0]
    assert figure._suptitle.get_text() == "Mean IS"
    assert axes.get_ylim()[0] > 99.0  # not forced down to 0
    assert not any(list(line.get_ydata()) == [0.0, 0.0] for line in axes.get_lines())
    drawn = {container.get_label(): matplotlib.colors.to_hex(container.lines[0].get_color())
             for container in axes.containers}
    assert drawn == {name: matplotlib.colors.to_hex(colours[name]) for name in ("twap", "mine")}
    plots.plt.close(figure)
    frame["mean_is"] -= 100.7  # now straddling 0: the zero line is drawn
    frame["ci95_low"], frame["ci95_high"] = frame["mean_is"] - 0.1, frame["mean_is"] + 0.1
    figure = plots.errorbar_panels(frame, "extended.coupling", "mean_is", "IS (currency)")
    assert any(list(line.get_ydata()) == [0.0, 0.0] for line in figure.axes[0].get_lines())
    plots.plt.close(figure)


def test_mean_interval_is_the_student_t_interval():
    values = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
    stats = mean_interval(values)
    half = student_t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert (stats["low"], stats["high"]) == pytest.approx((values.mean() - half,
                                                           values.mean() + half))
    assert math.isnan(mean_interval(np.array([2.0]))["low"])
    with pytest.raises(ParameterError, match="values must be a non-empty 1-D array"):
        mean_interval(np.array([]))


def test_correlation_interval_is_fisher_z():
    rng = np.random.default_rng(np.random.SeedSequence(4))
    x = rng.normal(size=200)
    y = 0.3 * x + rng.normal(size=200)
    stats = correlation_interval(x, y)
    r = np.corrcoef(x, y)[0, 1]
    half = norm.ppf(0.975) / math.sqrt(197)
    assert (stats["correlation"], stats["low"], stats["high"]) == pytest.approx(
        (r, math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)))
    with pytest.raises(ParameterError, match="at least 4"):
        correlation_interval(x[:3], y[:3])


@pytest.mark.parametrize("low,high,sign,expected", [
    (-2.0, -1.0, -1, "holds"), (1.0, 2.0, -1, "does not hold"), (-1.0, 1.0, -1, "cannot tell"),
    (1.0, 2.0, 1, "holds"), (0.0, 0.0, 1, "does not hold"), (-0.5, -0.5, -1, "holds"),
    (float("nan"), float("nan"), 1, "cannot tell"), (-1.0, 0.0, -1, "cannot tell")])
def test_verdict_rule(low, high, sign, expected):
    assert verdict(low, high, sign) == expected


def test_verdict_threshold_and_bad_sign():
    assert verdict(1.5, 2.0, 1, threshold=1.0) == "holds"
    with pytest.raises(ParameterError, match="claimed_sign must be"):
        verdict(0.0, 1.0, 0)
