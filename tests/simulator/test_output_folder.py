"""Output folders (acsim.simulator.output_folder) and the audit's --out inputs.

- OutputFolder: a new or empty folder is claimed (ledger written), acsim's own folder is
  reopened, a folder with anything else is refused naming the files and left byte for byte
  unchanged; "" / a file / a read-only folder / an uncreatable folder are refused before
  anything is created; `path` refuses a file acsim did not write; a second open of a locked
  folder is refused and succeeds once the first is closed (or dropped).
- The audit's inputs through the command line (acsim run, simulate --engine fast, and an
  experiment through ExperimentOutput): exit status 2, one line on stderr naming --out, and the
  folder untouched; two runs on one folder (the second a separate process) refuse clearly.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from acsim.experiments.cli import COMMANDS as COMMAND_TABLE
from acsim.experiments.cli import main
from acsim.experiments.common import ExperimentOutput
from acsim.simulator.output_folder import LEDGER, OutputFolder, OutputFolderError
from acsim.strategies.errors import ParameterError
from tests.bars import simulated_bars, write_headerless

ACSIM = str(Path(sys.executable).with_name("acsim"))


def snapshot(folder: Path) -> dict:
    """Every file and folder under `folder`: bytes and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_mtime_ns,
                                            path.read_bytes() if path.is_file() else None)
            for path in sorted(folder.rglob("*"))}


def users_folder(tmp_path: Path) -> Path:
    """A folder holding the user's own summary.csv, figures/ and report.md."""
    folder = tmp_path / "mine"
    (folder / "figures").mkdir(parents=True)
    (folder / "summary.csv").write_text("my,own\n1,2\n")
    (folder / "figures" / "shortfall_vs_coupling.png").write_bytes(b"my figure")
    (folder / "report.md").write_text("# my notes\n")
    return folder


def test_a_new_folder_is_claimed_and_reopened(tmp_path):
    root = tmp_path / "a" / "b"
    with OutputFolder(root) as folder:
        target = folder.path("figures/x.png")
        target.write_bytes(b"x")
        folder.record({"blocks/b.parquet": {"rows": 3, "sha256": "00"}})
    ledger = json.loads((root / LEDGER).read_text())
    assert ledger["files"] == {"figures/x.png": {}, "blocks/b.parquet": {"rows": 3, "sha256": "00"}}
    with OutputFolder(root) as again:  # acsim's own folder: reopened, what it wrote overwritable
        assert again.facts("blocks/b.parquet") == {"rows": 3, "sha256": "00"}
        assert again.facts("report.md") is None
        assert again.path("figures/x.png") == root / "figures" / "x.png"


def test_an_existing_empty_folder_is_claimed(tmp_path):
    with OutputFolder(tmp_path):
        pass
    assert [path.name for path in tmp_path.iterdir()] == [LEDGER]


def test_a_folder_with_the_users_files_is_refused_and_left_unchanged(tmp_path):
    folder = users_folder(tmp_path)
    before = snapshot(folder)
    with pytest.raises(OutputFolderError) as caught:
        OutputFolder(folder).open()
    message = str(caught.value)
    assert message.startswith(f"--out {str(folder)!r} holds files acsim did not write")
    assert "figures, report.md, summary.csv" in message
    assert snapshot(folder) == before


def test_a_file_acsim_did_not_write_is_never_overwritten(tmp_path):
    with OutputFolder(tmp_path) as folder:
        (tmp_path / "report.md").write_text("added by hand")
        with pytest.raises(OutputFolderError, match="holds report.md, which acsim did not write"):
            folder.path("report.md")
        with pytest.raises(OutputFolderError, match="report.md"):  # nor among many
            folder.paths(["summary.csv", "report.md"])
        assert folder.facts("summary.csv") is None  # nothing recorded from the refused call
    assert (tmp_path / "report.md").read_text() == "added by hand"


@pytest.mark.parametrize("relative", ["/etc/passwd", "../outside.csv", ""])
def test_paths_outside_the_folder_are_a_programming_error(tmp_path, relative):
    with OutputFolder(tmp_path) as folder, pytest.raises(ValueError, match="relative path"):
        folder.path(relative)


def test_empty_name_file_and_uncreatable_folder_are_refused(tmp_path):
    with pytest.raises(OutputFolderError, match="--out is empty"):
        OutputFolder("").open()
    file = tmp_path / "results.txt"
    file.write_text("mine")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"):
        OutputFolder(file).open()
    with pytest.raises(OutputFolderError, match="cannot be created"):
        OutputFolder(file / "below", flag="--dir").open()
    assert file.read_text() == "mine"
    assert issubclass(OutputFolderError, ParameterError)


def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError, match="is read-only"):
            OutputFolder(folder).open()
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_an_unreadable_ledger_is_refused(tmp_path):
    (tmp_path / LEDGER).write_text("{half")
    with pytest.raises(OutputFolderError, match="unreadable"):
        OutputFolder(tmp_path).open()


def open_elsewhere(folder: Path) -> str:
    """Open `folder` as an OutputFolder in another process: 'opened' or the error."""
    code = ("import sys\nfrom acsim.simulator.output_folder import OutputFolder\n"
            "try:\n    OutputFolder(sys.argv[1]).open()\n    print('opened')\n"
            "except Exception as error:\n    print(error)\n")
    return subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, timeout=60, check=True).stdout.strip()


def test_the_lock_refuses_another_process_until_released(tmp_path):
    first = OutputFolder(tmp_path).open()
    again = OutputFolder(tmp_path).open()  # the same process may open it again
    assert "is in use by another acsim run" in open_elsewhere(tmp_path)
    first.close()
    with pytest.raises(RuntimeError, match="not open"):
        first.path("x.csv")
    assert "is in use by another acsim run" in open_elsewhere(tmp_path)  # `again` holds it
    del again  # dropping a folder releases it too
    gc.collect()
    assert open_elsewhere(tmp_path) == "opened"


def test_experiment_output_refuses_the_users_folder(tmp_path):
    folder = users_folder(tmp_path)
    before = snapshot(folder)
    with pytest.raises(OutputFolderError, match="holds files acsim did not write"):
        ExperimentOutput(folder)
    assert snapshot(folder) == before


def test_experiment_output_records_what_it_writes(tmp_path):
    output = ExperimentOutput(tmp_path / "out")
    csv = output.table("t", pd.DataFrame({"a": [1.0]}))
    output.report("# r\n")
    assert output.written == [csv, tmp_path / "out" / "t.parquet", tmp_path / "out" / "report.md"]
    assert set(output.folder.files) == {"t.csv", "t.parquet", "report.md"}
    output.folder.close()


# ---------------------------------------------------------------------------------------------
# the audit's inputs through the command line: exit 2, one line, nothing touched

COMMANDS = {
    "run": ["run", "--episodes", "10", "--backend", "inline"],
    "simulate": ["simulate", "--engine", "fast", "--episodes", "10", "--backend", "inline"],
    "experiment": ["frontier", "--quick", "--workers", "1"],
}


def refused(capsys, command: list[str], out: str) -> str:
    """Run `command --out out` in this process; assert exit 2 and one line; the line."""
    capsys.readouterr()
    code = main([*command, "--out", out])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"acsim {command[0]}: error: --out"), lines
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_refuses_the_users_folder(tmp_path, capsys, command):
    folder = users_folder(tmp_path)
    before = snapshot(folder)
    line = refused(capsys, COMMANDS[command], str(folder))
    assert "holds files acsim did not write (figures, report.md, summary.csv)" in line
    assert snapshot(folder) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_refuses_an_empty_out(tmp_path, capsys, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "is empty" in refused(capsys, COMMANDS[command], "")
    assert list(tmp_path.iterdir()) == []  # in particular no results/


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_refuses_a_file_and_a_read_only_folder(tmp_path, capsys, command):
    file = tmp_path / "out.txt"
    file.write_text("mine")
    assert "is a file" in refused(capsys, COMMANDS[command], str(file))
    assert file.read_text() == "mine"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert "is read-only" in refused(capsys, COMMANDS[command], str(folder))
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


EXPERIMENT_INPUTS = {"paper-real": "--csv", "order-flow-calibration": "--bars"}


@pytest.mark.parametrize("name", [name for name, (_, _, kind) in COMMAND_TABLE.items()
                                  if kind == "experiment"])
def test_every_experiment_checks_its_folder_before_any_work(tmp_path, capsys, name):
    """The users' folder is refused before anything is computed (an experiment reading bars
    reads, and so checks, them first: valid bars here)."""
    folder = users_folder(tmp_path)
    before = snapshot(folder)
    inputs = []
    if name in EXPERIMENT_INPUTS:
        bars = write_headerless(tmp_path / "bars.csv", simulated_bars(sessions=3))
        inputs = [EXPERIMENT_INPUTS[name], str(bars)]
    line = refused(capsys, [name, *inputs], str(folder))
    assert "holds files acsim did not write" in line
    assert snapshot(folder) == before


def test_a_second_run_on_the_same_folder_refuses(tmp_path):
    """The first run holds the folder (here: this process, as a run would); a second `acsim run`
    process on it exits 2 with one line, and computes nothing."""
    out = tmp_path / "out"
    with OutputFolder(out):
        done = subprocess.run([ACSIM, "run", "--episodes", "10", "--backend", "inline",
                               "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert done.stderr.strip() == (f"acsim run: error: --out {str(out)!r} is in use by "
                                       "another acsim run (it is locked); wait for that run "
                                       "to finish or choose another folder")
        assert sorted(path.name for path in out.iterdir()) == [LEDGER]


def test_an_own_folder_is_resumed_not_refused(tmp_path, capsys):
    out = tmp_path / "out"
    command = COMMANDS["run"]
    assert main([*command, "--out", str(out)]) == 0
    before = snapshot(out / "blocks")
    assert main([*command, "--out", str(out)]) == 0
    assert snapshot(out / "blocks") == before
    assert os.path.isfile(out / "summary.csv")


def test_market_writes_only_a_parquet_file_of_its_own(tmp_path, capsys):
    """`acsim market --out FILE`: a new file is written (with acsim's mark) and may be written
    again; "", a folder, a missing folder, and a file acsim did not write are refused."""
    command = ["market", "--market-steps", "300", "--format", "json"]
    target = tmp_path / "market.parquet"
    assert main([*command, "--out", str(target)]) == 0
    first = target.read_bytes()
    assert main([*command, "--out", str(target)]) == 0
    assert target.read_bytes() == first
    theirs = tmp_path / "theirs.parquet"
    pd.read_parquet(target).to_parquet(theirs)  # the same rows, written by someone else
    before = snapshot(tmp_path)
    assert "is empty" in refused(capsys, command, "")
    assert "is a folder" in refused(capsys, command, str(tmp_path))
    assert "does not exist" in refused(capsys, command, str(tmp_path / "missing" / "m.parquet"))
    assert "acsim did not write it" in refused(capsys, command, str(theirs))
    assert snapshot(tmp_path) == before
