"""The dashboard page: the Mesa model (`ExecutionMarket`) in Mesa's SolaraViz.

`acsim dashboard` serves this module with Solara (it needs the `viz` extra: pip install
"acsim[viz]"). The sidebar holds Mesa's controls (Reset, play, Step) and sliders for the market,
the ensemble and the strategy; a changed slider takes effect at Reset, which builds a new model
from the sliders (Mesa's SolaraViz calls the model class with them as keywords, named like the
command-line flags). The panels: price and fills, field and momentum count, holdings and trades
(beside the static AC plan), the ensemble agents' types step by step, and the strategies
compared on common random numbers in the same market.
"""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import Slider, SolaraViz

from acsim.agents.policies import FORECASTS, option_names
from acsim.agents.traders import MOMENTUM
from acsim.simulator.config import SimulationConfig
from acsim.simulator.model import ExecutionMarket
from acsim.simulator.statistics import summarise
from acsim.simulator.study import strategy_label
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import almgren_chriss

matplotlib.use("Agg")

STRATEGIES = ("twap", "ac-static", "ac-adaptive", "extended")
COMPARED = (("twap", {}), ("ac-static", {}), ("ac-adaptive", {}),
            ("extended", {"forecast": "persistent"}), ("extended", {"forecast": "model"}))
COMPARISON_EPISODES = 1000
DEFAULTS = SimulationConfig()


def _slider(label: str, value: float, low: float, high: float, step: float) -> Slider:
    return Slider(label, value=value, min=low, max=high, step=step)


# What the sidebar offers: flag-named model keywords, defaults from the built-in configuration.
MODEL_PARAMETERS = {
    "volatility": _slider("volatility σ (per √step)", DEFAULTS.market.volatility, 0.0, 0.5,
                          0.01),
    "temporary_impact": _slider("temporary impact η", DEFAULTS.market.temporary_impact, 0.0005,
                                0.01, 0.0005),
    "permanent_impact": _slider("permanent impact γ", DEFAULTS.market.permanent_impact, 0.0,
                                0.0005, 0.00005),
    "risk_aversion": _slider("risk aversion λ", DEFAULTS.market.risk_aversion, 0.0, 0.02,
                             0.0005),
    "drift": _slider("drift α", DEFAULTS.market.drift, -0.05, 0.05, 0.005),
    "coupling": _slider("coupling (drift per field unit)", 0.01, -0.05, 0.05, 0.0025),
    "self_alpha": _slider("self-alpha (drift per share held)", DEFAULTS.extended.self_alpha,
                          0.0, 1e-4, 5e-6),
    "agents": Slider("ensemble agents M", value=DEFAULTS.ensemble.agents, min=10, max=300,
                     step=10, dtype=int),
    "field_scale": _slider("field scale α0", DEFAULTS.ensemble.field_scale, 0.0, 10.0, 0.5),
    "herding": _slider("herding b", DEFAULTS.ensemble.herding, 0.0, 0.9, 0.05),
    "switch_to_momentum": _slider("switch to momentum a1", DEFAULTS.ensemble.switch_to_momentum,
                                  0.0, 0.1, 0.005),
    "switch_to_mean_reversion": _slider("switch to mean reversion a2",
                                        DEFAULTS.ensemble.switch_to_mean_reversion, 0.0, 0.1,
                                        0.005),
    "impact": {"type": "Select", "value": "linear", "values": ["linear", "power"],
               "label": "temporary impact (MODEL §7)"},
    "impact_exponent": _slider("power-law exponent β", DEFAULTS.impact.exponent, 0.3, 1.0, 0.05),
    "strategy": {"type": "Select", "value": "extended", "values": list(STRATEGIES),
                 "label": "strategy"},
    "forecast": {"type": "Select", "value": "model", "values": list(FORECASTS),
                 "label": "forecast (extended)"},
    "no_buyback": {"type": "Checkbox", "value": False, "label": "no buy-back"},
    "seed": Slider("root seed", value=0, min=0, max=99, step=1, dtype=int),
    "episode": Slider("episode", value=0, min=0, max=99, step=1, dtype=int),
}


class DashboardMarket(ExecutionMarket):
    """The Mesa model as the dashboard builds it: every agent's type recorded, and strategy
    options that the chosen strategy does not take (forecast for twap, ...) left out.
    (The keywords are named `kwargs`: Mesa's SolaraViz checks model parameters by that name.)"""

    def __init__(self, **kwargs: object) -> None:
        strategy = str(kwargs.get("strategy", DEFAULTS.strategy.name))
        for option in ("forecast", "no_buyback"):
            if option in kwargs and option not in option_names(strategy):
                del kwargs[option]

        super().__init__(collect_agents=True, **kwargs)


def _figure() -> Figure:
    return Figure(figsize=(6.0, 3.9), dpi=90, layout="constrained")


def _history(model: ExecutionMarket):
    return model.datacollector.get_model_vars_dataframe()


def _show(figure: Figure) -> solara.Element:
    return solara.FigureMatplotlib(figure, format="png")


def PricePanel(model: ExecutionMarket) -> solara.Element:
    """Price S_k and fills S̃_k so far, on the whole horizon."""
    problem, history = model.config.market, _history(model)
    times = problem.times
    figure = _figure()
    axes = figure.subplots()
    axes.plot(times[: len(history)], history["price"], marker=".", label="price $S_k$")
    axes.scatter(times[1: len(history)], history["fill_price"].iloc[1:], color="tab:red",
                 marker="x", label="fill $\\tilde S_k$")
    axes.axhline(problem.price, color="grey", linestyle=":", label="arrival price")
    axes.set_xlim(times[0], times[-1])
    axes.set_xlabel("time")
    axes.set_ylabel("price")
    axes.set_title(f"price and fills, step {model.steps}/{problem.steps}")
    axes.legend(loc="best", fontsize="small")
    return _show(figure)


def FieldPanel(model: ExecutionMarket) -> solara.Element:
    """The field f_k and the momentum count m_k so far."""
    problem, history = model.config.market, _history(model)
    times = problem.times[: len(history)]
    figure = _figure()
    axes = figure.subplots()
    axes.step(times[1:], history["field"].iloc[1:], where="pre", color="tab:purple",
              label="field $f_k$")
    scale = model.config.ensemble.field_scale
    axes.set_ylim(-scale * 1.05 - 1e-9, scale * 1.05 + 1e-9)
    axes.set_xlim(problem.times[0], problem.times[-1])
    axes.set_ylabel("field")
    axes.set_xlabel("time")
    counts = axes.twinx()
    counts.plot(times, history["momentum_count"], color="tab:green", alpha=0.7, marker=".",
                label="momentum count $m_k$")
    counts.set_ylim(0, model.config.ensemble.agents)
    counts.set_ylabel("momentum agents")
    axes.set_title("ensemble field and momentum count")
    axes.legend(loc="upper left", fontsize="small")
    counts.legend(loc="upper right", fontsize="small")
    return _show(figure)


def HoldingsPanel(model: ExecutionMarket) -> solara.Element:
    """Holdings x_k and trades n_k so far, beside the static AC plan of the same market."""
    problem, history = model.config.market, _history(model)
    times = problem.times
    figure = _figure()
    axes = figure.subplots()
    axes.plot(times, almgren_chriss.optimal_holdings(problem), color="grey", linestyle="--",
              label="static AC plan")
    axes.plot(times[: len(history)], history["holdings"], marker=".", label="holdings $x_k$")
    axes.set_xlim(times[0], times[-1])
    axes.set_ylabel("shares held")
    axes.set_xlabel("time")
    trades = axes.twinx()
    trades.bar(times[1: len(history)], history["trade"].iloc[1:],
               width=0.6 * problem.step_length, color="tab:orange", alpha=0.5,
               label="trade $n_k$")
    trades.set_ylabel("shares traded")
    axes.set_title(f"holdings and trades: {strategy_label(model.config.strategy)}")
    axes.legend(loc="upper right", fontsize="small")
    return _show(figure)


def AgentsPanel(model: ExecutionMarket) -> solara.Element:
    """Every ensemble agent's type at every step so far (rows: agents, columns: steps)."""
    problem = model.config.market
    kinds = model.datacollector.get_agent_vars_dataframe()["type"].unstack("Step")
    kinds = kinds[kinds.iloc[:, 0] != "executing"]
    grid = np.full((len(kinds), problem.steps + 1), np.nan)
    grid[:, : kinds.shape[1]] = (kinds.to_numpy() == MOMENTUM).astype(float)
    figure = _figure()
    axes = figure.subplots()
    axes.imshow(grid, aspect="auto", interpolation="nearest", cmap="coolwarm", vmin=0, vmax=1,
                extent=(-0.5, problem.steps + 0.5, len(kinds), 0))
    axes.set_xlabel("step")
    axes.set_ylabel("agent")
    axes.set_title(f"ensemble agents' types: {model.momentum_count} momentum (red), "
                   f"{len(kinds) - model.momentum_count} mean-reversion (blue)", fontsize=10)
    return _show(figure)


@functools.lru_cache(maxsize=16)
def compare_strategies(config: SimulationConfig, episode: int) -> list[dict]:
    """Mean IS (95% CI) of the compared strategies over the first COMPARISON_EPISODES
    episodes of the root seed, on common random numbers, and their IS in `episode`."""
    rows = []
    for name, options in COMPARED:
        chosen = config.replace(strategy={"name": name, **options})
        shortfall = simulate_block(chosen, 0, 0, COMPARISON_EPISODES).shortfall
        summary = summarise(shortfall, chosen.market.shares * chosen.market.price)
        block, offset = divmod(episode, COMPARISON_EPISODES)
        this = shortfall[offset] if block == 0 else float(
            simulate_block(chosen, *divmod(episode, 4096), 1).shortfall[0])
        rows.append({"label": strategy_label(chosen.strategy), "mean": summary["mean_is"],
                     "half_width": 1.96 * summary["stderr_is"], "episode": float(this)})
    return rows


def ComparisonPanel(model: ExecutionMarket) -> solara.Element:
    """The strategies in this market: mean IS with 95% CI, and this episode's IS."""
    rows = compare_strategies(model.config, model.episode)
    figure = _figure()
    axes = figure.subplots()
    positions = np.arange(len(rows))
    axes.barh(positions, [row["mean"] for row in rows],
              xerr=[row["half_width"] for row in rows], color="tab:blue", alpha=0.6,
              capsize=3, label=f"mean IS, {COMPARISON_EPISODES:,} episodes (95% CI)")
    axes.scatter([row["episode"] for row in rows], positions, color="black", marker="D",
                 zorder=3, label=f"episode {model.episode}")
    axes.set_yticks(positions, [row["label"] for row in rows])
    axes.invert_yaxis()
    axes.axvline(0.0, color="grey", linewidth=0.5)
    axes.set_xlabel("implementation shortfall (currency)")
    axes.set_title("strategies on common random numbers")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize="small")
    return _show(figure)


def SummaryPanel(model: ExecutionMarket) -> solara.Element:
    """The model's state and parameters in words."""
    config, history = model.config, _history(model)
    problem, ensemble = config.market, config.ensemble
    trades, fills = history["trade"].iloc[1:], history["fill_price"].iloc[1:]
    shortfall = problem.side * float(np.sum(trades * (problem.price - fills)))
    items = [
        f"holdings: {model.holdings:,.1f} of {problem.shares:,.0f} shares",
        f"shortfall so far: {shortfall:,.2f} (currency)",
        f"ensemble agents: {ensemble.agents}, momentum: {model.momentum_count}, "
        f"field: {model.field:+.3f}",
        f"market: σ {problem.volatility:g}, η {problem.temporary_impact:g}, "
        f"γ {problem.permanent_impact:g}, λ {problem.risk_aversion:g}, α {problem.drift:g}",
        f"feedback: coupling {config.extended.coupling:g}, self-alpha "
        f"{config.extended.self_alpha:g}",
        "temporary impact: " + ("linear" if config.impact.model == "linear" else
                                f"power law, β {config.impact.exponent:g}"),
        f"ensemble: field scale {ensemble.field_scale:g}, herding {ensemble.herding:g}, "
        f"a1 {ensemble.switch_to_momentum:g}, a2 {ensemble.switch_to_mean_reversion:g}",
    ]
    html = (f"<p><b>{strategy_label(config.strategy)}</b>, root seed {config.seed}, episode "
            f"{model.episode}, step {model.steps} of {problem.steps}</p><ul>"
            + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    return solara.HTML(unsafe_innerHTML=html)


COMPONENTS = [SummaryPanel, PricePanel, FieldPanel, HoldingsPanel, AgentsPanel,
              ComparisonPanel]


def dashboard(model: ExecutionMarket | None = None) -> solara.Element:
    """The SolaraViz page of a model (default: the sliders' defaults)."""
    model = model or DashboardMarket(**{name: item.value if isinstance(item, Slider)
                                        else item["value"]
                                        for name, item in MODEL_PARAMETERS.items()})
    return SolaraViz(model, components=COMPONENTS, model_params=MODEL_PARAMETERS,
                     name="acsim: execution in an agent-based market", play_interval=300)


page = dashboard()
