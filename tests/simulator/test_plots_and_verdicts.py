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


def ranges(spans: dict[str, tuple[float, float]], panel: float = 0.0) -> pd.DataFrame:
    """Two points per strategy whose intervals reach exactly from low to high."""
    rows = [{"strategy": name, "extended.coupling": x, "extended.self_alpha": panel,
             "value": (low + high) / 2, "ci95_low": low if x == 0.0 else (low + high) / 2,
             "ci95_high": high if x == 0.0 else (low + high) / 2}
            for name, (low, high) in spans.items() for x in (0.0, 0.01)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("spans,split", [
    ({"twap": (-20.0, 35.0), "extended/model": (-0.5, 0.0)}, True),  # 55 > 10 × 0.5
    ({"twap": (-20.0, 0.0), "extended/model": (-0.5, 1.6)}, True),  # 21.6 > 10 × 2.1
    ({"twap": (-20.0, 0.0), "extended/model": (-0.5, 2.0)}, False),  # 22 < 10 × 2.5
    ({"twap": (-20.0, 35.0)}, False),  # one strategy: its own axis already
    ({"twap": (-20.0, 35.0), "extended/model": (0.0, 0.0)}, False),  # constant 0 reads well
    ({"twap": (-8.0, 2.0), "mine": (-0.5, 0.5)}, False),  # 10 = 10 × 1: not more
    ({"twap": (100.0, 101.0), "mine": (100.25, 100.375)}, False),  # 1 < 10 × 0.125
])
def test_own_panels_are_chosen_by_the_ranges(spans, split):
    assert plots.flattened(ranges(spans), "strategy", ("ci95_low", "ci95_high")) is split


def test_own_panels_are_judged_per_panel():
    """A second sweep key's panels have their own y-axes: a strategy small in one panel and
    large in another is flattened only where it is small."""
    frame = pd.concat([ranges({"twap": (-20.0, 0.0), "ac": (-1.0, 1.0)}, panel=0.0),
                       ranges({"twap": (-0.5, 0.5), "ac": (-50.0, 0.0)}, panel=1e-4)])
    interval = ("ci95_low", "ci95_high")
    assert not plots.flattened(frame, "strategy", interval)  # spans 20.5 and 51 of 51
    assert plots.flattened(frame, "strategy", interval, panel="extended.self_alpha")


def test_own_panels_one_row_per_strategy_in_its_colour():
    frame = pd.concat([ranges({"twap": (-20.0, 35.0), "extended/model": (-0.5, 0.0)}),
                       ranges({"twap": (-19.0, 30.0), "extended/model": (-0.4, 0.0)},
                              panel=1e-4)])
    colours = plots.strategy_colours(["twap", "extended/model"])
    figure = plots.errorbar_panels(frame, "extended.coupling", "value", "IS − IS(b)",
                                   panel="extended.self_alpha", rows="strategy",
                                   colours=colours, title="Paired", note="a note")
    assert len(figure.axes) == 4
    for axes, name in zip(figure.axes, ["twap", "twap", "extended/model", "extended/model"]):
        drawn = {container.get_label(): matplotlib.colors.to_hex(container.lines[0].get_color())
                 for container in axes.containers}
        assert drawn == {name: matplotlib.colors.to_hex(colours[name])}
        assert axes.get_title().splitlines()[0] == name
        assert axes.get_title().splitlines()[1].startswith("self-alpha = ")
    small = figure.axes[2].get_ylim()
    assert -1.0 < small[0] and small[1] < 0.5  # fitted to -0.5..0, not to twap's -20..35
    assert figure.axes[0].get_ylim()[1] > 30.0
    assert figure.get_supylabel() == "IS − IS(b)" and figure.axes[0].get_ylabel() == ""
    assert [axes.get_xlabel() != "" for axes in figure.axes] == [False, False, True, True]
    assert figure._suptitle.get_text() == "Paired\n(a note)"
    assert len(figure.legends) == 1
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
