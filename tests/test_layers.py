"""The package's layers: strategies (maths) → agents → simulator → experiments → command line.

Every import statement of every module (including those inside functions and under
`if TYPE_CHECKING:`) is read with `ast`; an import from a higher layer, an import by the old
top-level names (`import simulator`), or a cycle between modules fails. The command line
(`acsim.experiments.cli`) imports its commands only when they run: a fresh interpreter that
builds the parser for `acsim --help` must not load any command module, Mesa, pandas or cvxpy.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
LAYERS = {"strategies": 0, "agents": 1, "simulator": 2, "experiments": 3}
COMMAND_LINE = "acsim.experiments.cli"
COMMAND_LINE_LAYER = 4


@functools.cache
def modules() -> dict[str, Path]:
    """acsim module name -> file, for every module of the four packages."""
    result = {}
    for package in LAYERS:
        for path in sorted((REPOSITORY / package).rglob("*.py")):
            parts = path.relative_to(REPOSITORY).with_suffix("").parts
            name = ".".join(("acsim",) + parts).removesuffix(".__init__")
            result[name] = path
    return result


def imported(path: Path, name: str) -> list[str]:
    """Every module named by an import statement of the file (relative imports resolved).

    `from package import module` names the module; `from module import name` the module.
    """
    known = modules()
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    result = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            result += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                result.append(submodule if submodule in known else base)
    return result


def layer(module: str) -> int | None:
    if module == COMMAND_LINE:
        return COMMAND_LINE_LAYER
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "acsim":
        return LAYERS.get(parts[1])
    return None


def dependency_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target in imported(path, name) if target in known}
            for name, path in known.items()}


def test_there_are_modules_in_every_layer():
    names = modules()
    assert {name.split(".")[1] for name in names} == set(LAYERS)
    assert COMMAND_LINE in names


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_imports_from_a_higher_layer(name):
    path = modules()[name]
    own = layer(name)
    for target in imported(path, name):
        top = target.split(".")[0]
        assert top not in LAYERS, f"{name} imports {target!r} by its old top-level name"
        other = layer(target)
        if other is not None:
            assert other <= own, f"{name} (layer {own}) imports {target} (layer {other})"


def test_no_import_cycles():
    graph = dependency_graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_checker_sees_an_upward_import(tmp_path):
    """The checker itself can fail: a strategies module importing the simulator is caught."""
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from acsim.simulator.config import SimulationConfig\n")
    targets = imported(path, "acsim.strategies.bad")
    assert any(layer(t) == LAYERS["simulator"] for t in targets)


HEAVY = ("mesa", "cvxpy", "numba", "pandas", "matplotlib", "gymnasium")


def loaded_after_parsing(command: str | None, packages: tuple[str, ...]) -> list[str]:
    """The modules of `packages` a fresh interpreter holds after building the parser for
    `command` (None: `acsim --help`)."""
    code = ("import sys\nfrom acsim.experiments import cli\n"
            f"cli.build_parser({command!r})\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPOSITORY.parent).stdout
    return ast.literal_eval(output.strip())


def test_help_imports_no_command_module():
    """`acsim --help` builds its parser without importing any command or heavy library."""
    loaded = loaded_after_parsing(None, ("acsim", *HEAVY))
    assert loaded == ["acsim", "acsim.experiments", "acsim.experiments.cli"], loaded


def test_schedule_loads_no_simulation_machinery():
    """`acsim schedule` imports its own module and the maths, not Mesa, cvxpy or numba."""
    assert loaded_after_parsing("schedule", HEAVY) == []
