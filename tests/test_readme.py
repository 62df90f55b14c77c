"""The README's Python examples run as written (in a temporary directory), and its commands
stay true: the first two lines of the Quick start are the install-and-run and install-and-test
commands that .ci/run executes.

Oracles: the objects the examples build, checked against closed forms and counts written here
(the AC holdings of MODEL §3a for the README's problem, the study's shape, the custom policy's
trades); the TOML examples load as a configuration and as a study.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)


def test_the_configuration_and_study_examples_load(tmp_path):
    from acsim.simulator.config import load_config
    from acsim.simulator.study_files import load_study

    configuration, study = toml_blocks()
    (tmp_path / "config.toml").write_text(configuration)
    (tmp_path / "study.toml").write_text(study)
    config = load_config(tmp_path / "config.toml")
    assert config.extended.coupling == 0.005 and config.strategy.options["forecast"] == "model"
    assert config.planning_beliefs().extended.coupling == 0.0
    loaded = load_study(tmp_path / "study.toml")
    assert len(loaded.cases()) == 4 * 3 * 2
    assert [case.strategy for case in loaded.cases()[:4]] == [
        "twap", "ac-adaptive", "extended/model", "extended/none"]


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
