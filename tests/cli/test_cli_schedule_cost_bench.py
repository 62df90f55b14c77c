"""`acsim schedule`, `acsim cost` and `acsim bench` from the command line.

Oracles: the published Almgren-Chriss reference numbers (syntheticChrissAlmgren defaults:
κ = 0.245617/day, E = $477,712.60, √V = $476,456.32, first trades 217,778 / 170,351 /
133,252); MODEL §3's E and V of a schedule written out here; the exact discrete AC schedule
through the library; the benchmark's own ratio definition (rate / naive rate of the same case).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from acsim.experiments.cli import main
from acsim.strategies.extended import extended_schedule
from acsim.strategies.parameters import ExecutionProblem, ExtendedParameters


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_schedule_defaults_reproduce_the_published_ac_numbers(capsys):
    code, out, _ = run(capsys, "schedule", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["kappa"] == pytest.approx(0.245617, abs=5e-7)
    assert report["expected_shortfall"] == pytest.approx(477_712.60, abs=0.01)
    assert math.sqrt(report["variance"]) == pytest.approx(476_456.32, abs=0.01)
    assert [round(n) for n in report["trades"][:3]] == [217_778, 170_351, 133_252]
    assert report["utility"] == pytest.approx(report["expected_shortfall"]
                                              + 1e-6 * report["variance"], rel=1e-12)


def test_schedule_table_output_names_units(capsys):
    code, out, _ = run(capsys, "schedule", "--steps", "6")
    assert code == 0
    assert "expected shortfall" in out and "currency" in out and "kappa" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 6


def test_extended_schedule_flags_reach_the_planner(capsys):
    code, out, _ = run(capsys, "schedule", "--model", "extended", "--coupling", "0.1",
                       "--self-alpha", "1e-7", "--field", "2", "--no-buyback", "--format",
                       "json")
    assert code == 0
    expected = extended_schedule(ExecutionProblem(), ExtendedParameters(0.1, 1e-7), 2.0, True)
    np.testing.assert_allclose(json.loads(out)["holdings"], expected, rtol=0, atol=1e-6)


def test_cost_of_given_trades_is_model_e_and_v(capsys):
    trades = [500_000.0, 300_000.0, 200_000.0]
    code, out, _ = run(capsys, "cost", "--trades", ",".join(map(str, trades)), "--steps", "3",
                       "--horizon", "3", "--format", "json")
    assert code == 0
    report = json.loads(out)
    problem = ExecutionProblem(steps=3, horizon=3.0)
    holdings = np.array([1e6, 5e5, 2e5, 0.0])
    tau, eta_tilde = 1.0, problem.temporary_impact - 0.5 * problem.permanent_impact
    expected = (0.5 * problem.permanent_impact * 1e12 + problem.half_spread * 1e6
                + eta_tilde / tau * sum(n * n for n in trades))
    variance = problem.volatility**2 * tau * float(np.sum(holdings[1:] ** 2))
    assert report["expected_shortfall"] == pytest.approx(expected, rel=1e-12)
    assert report["variance"] == pytest.approx(variance, rel=1e-12)
    assert report["kappa"] is None
    code, out, _ = run(capsys, "cost", "--holdings", "1e6,5e5,2e5,0", "--steps", "3",
                       "--horizon", "3", "--format", "json")
    assert json.loads(out)["expected_shortfall"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("argv, words", [
    (["cost", "--steps", "6"], ["exactly one of --holdings and --trades"]),
    (["cost", "--steps", "6", "--trades", "1,2"], ["trades must have 6 values"]),
    (["schedule", "--steps", "3"], ["effective temporary impact"]),
    (["cost", "--steps", "3", "--horizon", "3", "--holdings", "1e6,1,1,1"],
     ["holdings must end at 0"]),
    (["schedule", "--coupling", "0.1"], ["need --model extended"]),
    (["schedule", "--shares", "-1"], ["shares must be > 0"]),
    (["schedule", "--temporary-impact", "1e-9"], ["effective temporary impact"]),
    (["schedule", "--field", "a,b", "--model", "extended"], ["--field must be comma-separated"]),
])
def test_bad_schedule_and_cost_input_is_a_named_error(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    for word in words:
        assert word in err, err


def test_bench_reports_rates_and_ratios_measured_in_one_run(capsys):
    code, out, _ = run(capsys, "bench", "--cases", "paper", "--episodes", "4096",
                       "--mesa-episodes", "5", "--naive-episodes", "1", "--workers", "1",
                       "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert {"date", "cpu", "numpy", "mesa"} <= set(report["machine"])
    rows = {row["engine"]: row for row in report["cases"]}
    assert set(rows) == {"fast", "fast-one-process", "mesa", "naive-cvxpy"}
    naive = rows["naive-cvxpy"]["episodes_per_second"]
    for row in rows.values():
        assert row["episodes_per_second"] == pytest.approx(row["episodes"] / row["seconds"])
        assert row["speedup_vs_naive_cvxpy"] == pytest.approx(row["episodes_per_second"] / naive)
    assert rows["fast"]["episodes"] == 4096 and rows["mesa"]["episodes"] == 5


def test_bench_rejects_an_unknown_case(capsys):
    code, _, err = run(capsys, "bench", "--cases", "paper,warp-drive")
    assert code == 2 and "warp-drive" in err


def test_bench_order_flow_case_runs_and_is_compared_with_the_paper_case(capsys):
    code, out, _ = run(capsys, "bench", "--cases", "paper,order-flow", "--episodes", "4096",
                       "--mesa-episodes", "4", "--naive-episodes", "1", "--workers", "1")
    assert code == 0
    lines = [line for line in out.splitlines()
             if line.startswith("order-flow ") and "/" not in line]
    assert {line.split()[1] for line in lines} == {"fast", "fast-one-process", "mesa",
                                                   "naive-cvxpy"}
    assert "order-flow / paper (fast-one-process):" in out


def test_bench_no_buyback_case_runs_its_naive_baseline_and_its_twin(capsys):
    """A no-buy-back case also times the per-episode active set and is compared with its
    unconstrained twin, measured in the same run (figures are printed, never asserted)."""
    code, out, _ = run(capsys, "bench", "--cases", "adverse,adverse-no-buyback", "--episodes",
                       "4096", "--mesa-episodes", "4", "--naive-episodes", "1", "--workers",
                       "1", "--active-set-episodes", "4", "--format", "json")
    assert code == 0
    rows = {(row["name"], row["engine"]): row for row in json.loads(out)["cases"]}
    assert rows["adverse-no-buyback", "naive-active-set"]["episodes"] == 4
    assert ("adverse", "naive-active-set") not in rows
    code, out, _ = run(capsys, "bench", "--cases", "adverse,adverse-no-buyback", "--episodes",
                       "4096", "--mesa-episodes", "4", "--naive-episodes", "1", "--workers",
                       "1", "--active-set-episodes", "4")
    for engine, twin in (("fast-one-process", "fast-one-process"),
                         ("naive-active-set", "fast-one-process")):
        assert f"adverse-no-buyback ({engine}) / adverse ({twin}):" in out


# --- impact models beyond linear (MODEL §7) --------------------------------------------------

SMALL = ["--shares", "1000", "--steps", "6", "--horizon", "6", "--volatility", "0.1",
         "--temporary-impact", "0.002", "--permanent-impact", "1e-4", "--half-spread", "0.01",
         "--risk-aversion", "0.01"]


def power_e(holdings, beta, coefficient, tau=1.0, gamma=1e-4, eps=0.01):
    n = -np.diff(holdings)
    return (0.5 * gamma * holdings[0] ** 2 - 0.5 * gamma * np.sum(n**2) + eps * np.abs(n).sum()
            + coefficient * tau**-beta * np.sum(np.abs(n) ** (1 + beta)))


def test_schedule_under_power_law_impact_is_the_power_law_optimum(capsys):
    from acsim.strategies.power_law import PowerLawImpact, optimal_holdings

    code, out, _ = run(capsys, "schedule", *SMALL, "--impact", "power", "--impact-exponent",
                       "0.5", "--impact-coefficient", "0.02", "--format", "json")
    assert code == 0
    report = json.loads(out)
    expected = optimal_holdings(PowerLawImpact(0.02, 0.5), 1000.0, np.zeros(6), step_length=1.0,
                                permanent_impact=1e-4, urgency=0.01 * 0.1**2)
    np.testing.assert_allclose(report["holdings"], expected, rtol=0, atol=1e-9)
    assert report["kappa"] is None and "power-law temporary" in report["impact"]
    holdings = np.array(report["holdings"])
    assert report["expected_shortfall"] == pytest.approx(power_e(holdings, 0.5, 0.02), rel=1e-12)
    variance = 0.1**2 * np.sum(holdings[1:] ** 2)
    assert report["utility"] == pytest.approx(report["expected_shortfall"] + 0.01 * variance,
                                              rel=1e-12)


def test_schedule_under_transient_impact_beats_ac_under_that_model(capsys):
    """The transient planner's E + λV, computed here with Γ built entry by entry, is below that
    of the AC schedule (planned without the kernel) under the same model."""
    flags = [*SMALL, "--transient", "exponential", "--transient-impact", "0.004",
             "--resilience", "0.3", "--format", "json"]
    lags = np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    gamma_matrix = 0.004 * np.exp(-0.3 * lags)

    def utility(holdings):
        n = -np.diff(holdings)
        e = (0.5e-4 * 1e6 + 0.01 * np.abs(n).sum() + (0.002 - 0.5e-4) * np.sum(n**2)
             + 0.5 * n @ gamma_matrix @ n)
        return e, e + 0.01 * 0.1**2 * np.sum(holdings[1:] ** 2)

    _, out, _ = run(capsys, "schedule", *flags)
    planned = json.loads(out)
    e, u = utility(np.array(planned["holdings"]))
    assert planned["expected_shortfall"] == pytest.approx(e, rel=1e-12)
    assert planned["utility"] == pytest.approx(u, rel=1e-12)
    _, out, _ = run(capsys, "schedule", *SMALL, "--format", "json")
    ac = np.array(json.loads(out)["holdings"])
    _, out, _ = run(capsys, "cost", *flags, "--holdings", ",".join(map(str, ac)))
    assert json.loads(out)["utility"] == pytest.approx(utility(ac)[1], rel=1e-12)
    assert u < utility(ac)[1] - 1e-3


def test_cost_under_power_law_impact(capsys):
    code, out, _ = run(capsys, "cost", *SMALL, "--impact", "power", "--impact-exponent", "0.6",
                       "--trades", "400,200,100,100,100,100", "--format", "json")
    assert code == 0
    coefficient = 0.002 * (1000.0 / 6.0) ** 0.4  # matched to η at the TWAP rate
    holdings = np.array([1000.0, 600.0, 400.0, 300.0, 200.0, 100.0, 0.0])
    expected = power_e(holdings, 0.6, coefficient)
    assert json.loads(out)["expected_shortfall"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("argv, words", [
    (["schedule", *SMALL, "--impact", "power", "--impact-coefficient", "1e-7"],
     ["[impact]", "not convex"]),
    (["schedule", *SMALL, "--impact", "power", "--model", "ac-continuous"],
     ["ac-continuous is the linear-impact approximation"]),
    (["schedule", *SMALL, "--transient", "exponential", "--resilience", "1e-40"],
     ["not positive definite"]),
    (["simulate", "--regimes", "markov", "--regime-volatilities", "0.1,0.2",
      "--regime-transition", "0.9,0.1,0.2"], ["R² numbers"]),
    (["simulate", "--regimes", "markov"], ["needs volatilities and transition"]),
])
def test_bad_impact_and_regime_flags_are_named_errors(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    for word in words:
        assert word in err, err


def test_simulate_with_regimes_and_a_regime_blind_belief(capsys):
    """The flags reach the configuration: regime-aware and regime-blind AC differ; the Mesa and
    the fast engine agree."""
    flags = ["--regimes", "markov", "--regime-volatilities", "0.05,0.4", "--regime-transition",
             "0.9,0.1,0.2,0.8", "--episodes", "20", "--format", "json", "--seed", "2"]
    results = {}
    for name, extra in (("aware", ["--strategy", "regime-aware"]),
                        ("blind", ["--strategy", "ac-adaptive", "--belief",
                                   "regimes.model=none"])):
        for engine in ("mesa", "fast"):
            code, out, err = run(capsys, "simulate", *flags, *extra, "--engine", engine,
                                 *(["--workers", "1"] if engine == "fast" else []))
            assert code == 0, err
            results[name, engine] = json.loads(out)["mean_is"]
    assert results["aware", "mesa"] == pytest.approx(results["aware", "fast"], rel=1e-12)
    assert results["blind", "mesa"] == pytest.approx(results["blind", "fast"], rel=1e-12)
    assert results["aware", "fast"] != pytest.approx(results["blind", "fast"], rel=1e-6)
