"""The README's Python examples run as written (in a temporary directory), and its commands
stay true: the first two lines of the Quick start are the install-and-run and install-and-test
commands that .ci/run executes.

Oracles: the objects the examples build, checked against closed forms and counts written here
(the AC holdings of MODEL §3a for the README's problem, the study's shape, the custom policy's
trades); the TOML examples are the files docs/examples/*.toml, load as a configuration and as a
study, and run (`acsim run` with 40 episodes, `acsim simulate` with 3): exit 0, the expected
number of rows, finite numbers.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = README.parent / "docs" / "examples"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)


def test_the_toml_blocks_are_the_example_files():
    assert toml_blocks() == [(EXAMPLES / "config.toml").read_text(),
                             (EXAMPLES / "study.toml").read_text()]
    text = README.read_text()
    assert "docs/examples/config.toml" in text and "docs/examples/study.toml" in text
    assert "source .venv/bin/activate" in text and ".venv/bin/acsim" in text


def test_the_configuration_and_study_examples_load():
    from acsim.simulator.config import load_config
    from acsim.simulator.study_files import load_study

    config = load_config(EXAMPLES / "config.toml")
    assert config.extended.coupling == 0.005 and config.strategy.options["forecast"] == "model"
    assert config.planning_beliefs().extended.coupling == 0.0
    loaded = load_study(EXAMPLES / "study.toml")
    assert len(loaded.cases()) == 4 * 3 * 2
    assert [case.strategy for case in loaded.cases()[:4]] == [
        "twap", "ac-adaptive", "extended/model", "extended/none"]


def finite_numbers(rows: list[dict]) -> bool:
    return all(np.isfinite(value) for row in rows for value in row.values()
               if isinstance(value, float))


def test_the_example_study_runs_through_acsim_run(tmp_path, capsys):
    from acsim.experiments.cli import main

    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(EXAMPLES / "study.toml"), "--episodes", "40", "--out", str(out),
                 "--backend", "inline", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    assert len(printed["summary"]) == 24 and len(printed["paired"]) == 18
    assert {row["episodes"] for row in printed["summary"]} == {40}
    assert finite_numbers(printed["summary"]) and finite_numbers(printed["paired"])
    assert (out / "report.md").is_file()
    assert "root seed 7" in printed["study"][0] and "40 episodes per case" in printed["study"][0]
    assert any(line.startswith("Cheapest on mean IS:") for line in printed["interpretation"])


def test_the_example_configuration_runs_through_acsim_simulate(capsys):
    from acsim.experiments.cli import main

    capsys.readouterr()
    code = main(["simulate", "--config", str(EXAMPLES / "config.toml"), "--episodes", "3",
                 "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    assert printed["episodes"] == 3 and printed["strategy"] == "extended/model"
    assert printed["seed"] == 7 and finite_numbers([printed])


def test_quick_start_has_exactly_the_two_commands():
    block = re.search(r"```bash\n(.*?)```", README.read_text(), flags=re.S).group(1)
    lines = block.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("python3 -m venv .venv && .venv/bin/pip install -e . && ")
    assert lines[0].endswith(".venv/bin/acsim run")
    assert lines[1].startswith('python3 -m venv .venv && .venv/bin/pip install -e ".[test,viz]"')
    assert "ruff check" in lines[1] and lines[1].endswith("pytest -q")


def test_the_python_examples_run(tmp_path, monkeypatch):
    """As a script would run them: in one module (its classes can be pickled by reference to
    the process pool's forked workers, as those of a script's __main__ can)."""
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("readme_examples")
    monkeypatch.setitem(sys.modules, "readme_examples", module)
    namespace = module.__dict__
    blocks = python_blocks()
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # what the examples built is what the library computes
    problem = namespace["problem"]  # MODEL §3a: x_j = X·sinh(κ(T - t_j))/sinh(κT)
    eta_tilde = problem.temporary_impact - 0.5 * problem.permanent_impact * problem.step_length
    rate = 2.0 / problem.step_length * np.arcsinh(
        0.5 * problem.step_length * np.sqrt(problem.risk_aversion * problem.volatility**2
                                            / eta_tilde))
    first = problem.shares * np.sinh(rate * (problem.horizon - problem.step_length)) / np.sinh(
        rate * problem.horizon)
    assert namespace["schedule"].holdings[1] == pytest.approx(first, rel=1e-12)
    assert namespace["plan"][0] == pytest.approx(1e6) and namespace["plan"][-1] == 0.0
    assert np.all(np.diff(namespace["plan"]) <= 0.0)  # no buy-back
    assert len(namespace["results"].summary) == 2 * 2 * 2
    assert len(namespace["frame"]) == 2 * 2 * 2 * 20_000
    block = namespace["block"]
    assert block.trades.shape == (4096, 20)
    np.testing.assert_allclose(block.trades[:, 0], 1000.0 * 2.0 / 20)
    assert list(namespace["mixed"].summary["strategy"]) == ["twap", "front-loaded"]
    assert (tmp_path / "results" / "api" / "manifest.json").exists()
    assert len(namespace["rows"]) == 2 * 5 * 20
