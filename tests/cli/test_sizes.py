"""Sizes checked before work (acsim.simulator.sizes): the audit's absurd sizes refused with exit 2
and one line naming the estimate and --allow-large, before any output or simulation; the flag
skips the check; the memory estimate checked against measured allocations (tracemalloc, the
arrays' nbytes)."""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pytest

from acsim.experiments.cli import COMMANDS, main
from acsim.simulator import model, sizes, study
from acsim.simulator.config import SimulationConfig
from acsim.simulator.study_files import DEFAULT_STUDY
from acsim.simulator.vectorised import simulate_block
from acsim.strategies import transient
from acsim.strategies.extended import LinearGains


@pytest.fixture
def no_work(monkeypatch):
    """Any simulation, any study's cases: a test failure (the check must come first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the size check")

    for module_name, _, _ in COMMANDS.values():  # imported first: none keeps a patched name
        importlib.import_module(module_name)

    monkeypatch.setattr(model, "run_episode", refuse)
    monkeypatch.setattr(study, "run_study", refuse)
    monkeypatch.setattr(study.Study, "cases", refuse)


def sweep_file(path):
    """The audit's 100 × 100 × 100 sweep as a study file."""
    values = {"extended.coupling": [k * 1e-4 for k in range(100)],
              "extended.self_alpha": [k * 1e-7 for k in range(100)],
              "ensemble.field_scale": [1.0 + k for k in range(100)]}
    lines = ["[study]", 'strategies = ["twap", "ac-adaptive", "extended/model"]',
             "[study.sweep]"]
    lines += [f'"{key}" = [{", ".join(repr(v) for v in items)}]' for key, items in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


GRID = ",".join(f"{k / 1000:g}" for k in range(1, 1000))  # 999 values: a 999 × 999 grid
AUDIT = {
    "steps": lambda out: ["simulate", "--engine", "fast", "--steps", "100000", "--horizon",
                          "100000", "--out", out],
    "sweep": lambda out: ["run", "SWEEP", "--out", out],
    "agents-fast": lambda out: ["simulate", "--engine", "fast", "--agents", "100000000",
                                "--out", out],
    "agents-mesa": lambda out: ["episode", "--agents", "100000000"],
    "episodes-run": lambda out: ["run", "--episodes", str(10**12), "--out", out],
    "episodes-simulate": lambda out: ["simulate", "--episodes", str(10**12)],
    "episodes-experiment": lambda out: ["coupling-study", "--episodes", str(10**12),
                                        "--out", out],
    "episodes-bench": lambda out: ["bench", "--episodes", str(10**12)],
    "market": lambda out: ["market", "--runs", "100000", "--out", out + ".parquet"],
    "grid-experiment": lambda out: ["model-risk", "--momentum-shares", GRID, "--herding", GRID,
                                    "--out", out],
}


@pytest.mark.parametrize("case", sorted(AUDIT))
def test_audit_sizes_refused_before_work(case, tmp_path, capsys, no_work):
    out = str(tmp_path / "out")
    argv = [sweep_file(tmp_path / "sweep.toml") if word == "SWEEP" else word
            for word in AUDIT[case](out)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"acsim {argv[0]}: error: this run would need about ")
    assert "--allow-large" in lines[0]
    assert any(unit in lines[0] for unit in (" GB ", " TB ", " days ", " years "))
    assert sorted(path.name for path in tmp_path.iterdir()) == (
        ["sweep.toml"] if case == "sweep" else [])


def test_allow_large_skips_the_check(monkeypatch, capsys):
    """Under a lowered limit a tiny run is refused; --allow-large runs it."""
    monkeypatch.setattr(sizes, "TIME_LIMIT", 1e-9)
    argv = ["simulate", "--episodes", "3", "--format", "json"]
    assert main(argv) == 2
    assert "where the limit is" in capsys.readouterr().err
    assert main(argv + ["--allow-large"]) == 0
    assert '"episodes": 3' in capsys.readouterr().out


def test_memory_limit_names_what_drives_it(monkeypatch):
    monkeypatch.setattr(sizes, "available_memory", lambda: 1e6)
    work = sizes.study_workload(SimulationConfig().replace(market={"steps": 2000}), episodes=1)
    with pytest.raises(sizes.SizeError, match=r"of memory \(mostly planners\) where 1.0 MB"):
        sizes.check(work)
    assert sizes.check(work, allow_large=True).bytes > 1e6


def test_a_wide_sweep_is_bounded_by_its_summary_phase():
    """Many cases and episodes: the summary after the blocks (stored values up to
    SUMMARY_MEMORY, histograms, chosen bins) is the larger phase; the peak is that phase, not
    the sum of both, and a refusal says so."""
    from acsim.simulator.statistics import SUMMARY_MEMORY

    work = sizes.study_workload(SimulationConfig(episodes=100_000), points=2000)
    result = sizes.estimate(work)
    assert result.summary_memory > sum(result.memory.values())
    assert result.bytes == result.summary_memory > SUMMARY_MEMORY
    with pytest.raises(sizes.SizeError, match=r"\(mostly the summary\)"):
        sizes.check(work, memory_limit=SUMMARY_MEMORY, time_limit=1e9)


def test_default_run_and_small_runs_pass():
    work = sizes.study_workload(DEFAULT_STUDY.base, DEFAULT_STUDY.strategies, 4, workers=2)
    result = sizes.check(work, memory_limit=1e9, time_limit=600.0)
    assert result.bytes < 1e9 and result.seconds < 600.0


def test_planner_gains_estimate_is_their_size():
    """The linear planner's gains: N(N + 1)/2 float64, counted from the arrays themselves."""
    steps = 300
    gains = LinearGains(1.0, 0.002, 2e-5, steps)
    held = sum(array.nbytes for array in gains.drift_gain)
    assert sizes.PLANNERS["gains"].memory(steps) == pytest.approx(held, rel=0.01)


def peak_bytes(action) -> float:
    """Peak bytes traced while `action` runs."""
    tracemalloc.start()
    try:
        action()
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


FACTOR = 2.0  # the memory estimate is within this factor of the measured peak (1.06-1.16 here)


@pytest.mark.parametrize("steps, strategy", [(40, "extended"), (120, "twap")])
def test_block_memory_estimate_within_factor(steps, strategy):
    config = SimulationConfig().replace(market={"steps": steps, "horizon": float(steps)},
                                        strategy={"name": strategy}, simulation={"episodes": 512})
    simulate_block(config, 0, 0, 8)  # compile and import outside the measurement
    measured = peak_bytes(lambda: simulate_block(config, 0, 0, 512))
    estimated = sizes.estimate(sizes.study_workload(config)).bytes
    assert measured / FACTOR < estimated < measured * FACTOR


def test_transient_planner_memory_within_factor():
    steps = 300
    kernel = transient.ExponentialKernel(0.004, 0.5)
    measured = peak_bytes(lambda: transient.TransientPlanner(kernel, 1.0, 0.002, 1e-4, 2e-5,
                                                             steps))
    estimated = sizes.PLANNERS["transient"].memory(steps)
    assert measured / FACTOR < estimated < measured * FACTOR


def test_mesa_memory_within_factor():
    config = SimulationConfig().replace(ensemble={"agents": 4000}, strategy={"name": "twap"})
    model.ExecutionMarket(config)  # imports outside the measurement
    measured = peak_bytes(lambda: model.ExecutionMarket(config))
    estimated = sizes.estimate(sizes.study_workload(config, mesa=True, episodes=1)).bytes
    assert measured / FACTOR < estimated < measured * FACTOR


def test_estimate_scales_with_its_drivers():
    """Metamorphic: time linear in whole blocks of episodes, planner memory quadratic in N."""
    config = SimulationConfig()
    one, two = (sizes.estimate(sizes.study_workload(config, episodes=blocks * 4096))
                for blocks in (10, 20))
    assert two.time["engine"] == pytest.approx(2 * one.time["engine"])
    assert two.bytes == pytest.approx(one.bytes)
    gains = sizes.PLANNERS["gains"].memory
    assert gains(2000) / gains(1000) == pytest.approx(4.0, rel=1e-3)
    assert np.isfinite(sizes.estimate(sizes.study_workload(config, episodes=10**15)).seconds)
