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
