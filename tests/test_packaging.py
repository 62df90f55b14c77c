"""Packaging: one namespace, `acsim`, in an editable install and in a wheel.

The wheel is built from a clean copy of this checkout (pip, with build isolation) and installed with
`--no-deps --target` into an empty directory: its top level must hold only `acsim` and its
metadata. A fresh interpreter without the site module (so without this environment's editable
finder or the repository on its path) and with only that directory and the dependencies on its
path imports `acsim.agents` from the wheel, fails to import `agents`, and runs a command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout, installed alone into an empty directory."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a clean copy: pip builds in the tree it is given
    shutil.copytree(REPOSITORY, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "results"))
    wheels = root / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "--wheel-dir", str(wheels), str(source)],
                           capture_output=True, text=True, cwd=root)
    if built.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{built.stdout}\n{built.stderr}")
    (wheel,) = wheels.glob("acsim-*.whl")
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, cwd=root)
    return target


def isolated(target: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `code` with no site module: only the wheel's directory and the dependencies
    (this environment's site-packages, whose .pth files, the editable finder among them, are
    not processed without the site module)."""
    path = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])
    environment = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=environment)


def test_the_wheel_installs_only_the_acsim_namespace(installed):
    top = {path.name for path in installed.iterdir()} - {"bin"}
    assert {name for name in top if not name.endswith(".dist-info")} == {"acsim"}
    assert {p.name for p in (installed / "acsim").iterdir() if p.is_dir()} >= {
        "strategies", "agents", "simulator", "experiments"}
    assert not (installed / "acsim" / "__init__.py").exists()  # a namespace package
    scripts = (next(installed.glob("acsim-*.dist-info")) / "entry_points.txt").read_text()
    assert "acsim = acsim.experiments.cli:main" in scripts


def test_the_wheel_imports_acsim_and_not_the_generic_names(installed, tmp_path):
    result = isolated(installed, (
        "import acsim.agents, acsim.strategies, acsim.simulator, acsim.experiments\n"
        "print(acsim.agents.__file__)\n"
        "try:\n    import agents\nexcept ModuleNotFoundError:\n    print('no agents')\n"
        "try:\n    import simulator\nexcept ModuleNotFoundError:\n    print('no simulator')\n"),
        tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert Path(lines[0]).is_relative_to(installed)
    assert lines[1:] == ["no agents", "no simulator"]


def test_the_wheel_runs_a_command(installed, tmp_path):
    result = isolated(installed, (
        "import sys\nfrom acsim.experiments.cli import main\n"
        "sys.exit(main(['schedule', '--steps', '6', '--format', 'json']))\n"), tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["trades"]) == 6 and sum(report["trades"]) == pytest.approx(1e6)
