"""The README's Python examples run as written (in a temporary directory), and its commands
stay true: the first two lines of the Quick start are the install-and-run and install-and-test
commands that .ci/run executes.

Oracles: the objects the examples build, checked against the library directly (the AC schedule's
published first trade for the README's problem, the study's shape, the custom policy's trades).
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
    from acsim.strategies import almgren_chriss

    assert np.array_equal(namespace["schedule"].holdings,
                          almgren_chriss.optimal_holdings(namespace["problem"]))
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
