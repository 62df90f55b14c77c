"""Faults: kill -9 of `acsim run`, corrupt blocks on resume, an unreachable Dask scheduler.

- `acsim run` with the processes backend (2 workers) is killed with SIGKILL once a block is
  finished but not all: within 5 s no process started by it survives (pool workers, resource
  tracker: every process carrying the run's marker in its environment), and `acsim run` again
  on the same folder gives tables and blocks identical to an uninterrupted run's.
- Ctrl-C (SIGINT to the run's process group) starts no further block and loses no finished
  one: every block file on disk is recorded in the ledger with its sha256.
- Resume verifies each block against the ledger (row count, sha256): block 1 copied over
  block 0, block 2 truncated and block 3 deleted are computed again (the blocks that were
  left intact are not rewritten), and the results equal a clean run's.
- An unreachable Dask scheduler (a port nothing listens on) is a named error, one line with
  exit status 2, within 10 s, and --out is not created; so is a server there that never answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from acsim.agents.policies import strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.output_folder import LEDGER
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.study import (
    SchedulerError,
    Study,
    block_path,
    connect_scheduler,
    load_episodes,
    run_study,
)
from acsim.strategies.errors import ParameterError

ACSIM = str(Path(sys.executable).with_name("acsim"))
BLOCKS = 16
STUDY_FILE = f"""
[study]
strategies = ["twap", "ac-adaptive", "extended/persistent"]
[extended]
coupling = 0.01
[simulation]
episodes = {BLOCKS * BLOCK_SIZE - 50}
seed = 3
"""
ENVIRONMENT = dict(os.environ)  # as at collection, before any Dask cluster edits os.environ


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries `marker` (zombies have no environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile, or not ours
            continue
    return found


def block_files(out: Path) -> list[Path]:
    return sorted((out / "blocks").glob("block-*.parquet"))


def outputs(out: Path) -> dict:
    """What must not depend on an interruption: the tables' bytes and every block's table."""
    tables = {name: (out / name).read_bytes() for name in ("summary.csv", "paired.csv")}
    return {**tables, **{path.name: pq.read_table(path) for path in block_files(out)}}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PDEATHSIG")
def test_kill_9_leaves_no_process_and_resume_equals_an_uninterrupted_run(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY_FILE)
    command = [ACSIM, "run", str(study), "--backend", "processes", "--workers", "2", "--out"]
    marker = f"ACSIM_TEST_RUN={uuid.uuid4().hex}"
    name, value = marker.split("=")
    victim = subprocess.Popen([*command, str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**ENVIRONMENT, name: value})
    try:
        while not block_files(tmp_path / "killed") and victim.poll() is None:
            time.sleep(0.005)
        started = marked(marker)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL, "the run finished before it was killed"
        assert len(started) >= 3, started  # the run and its two pool workers at least
        deadline = time.monotonic() + 5.0
        while marked(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked(marker) == [], "processes of the killed run survived it by 5 s"
    finally:  # never leave a process of ours running
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)
    assert 1 <= len(block_files(tmp_path / "killed")) < BLOCKS
    for out in ("killed", "clean"):
        done = subprocess.run([*command, str(tmp_path / out)], capture_output=True, text=True,
                              timeout=300, env=ENVIRONMENT)
        assert done.returncode == 0, done.stderr
    assert outputs(tmp_path / "killed").keys() == outputs(tmp_path / "clean").keys()
    for key, value in outputs(tmp_path / "clean").items():
        assert outputs(tmp_path / "killed")[key] == value, key


def test_ctrl_c_records_every_finished_block(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY_FILE)
    out = tmp_path / "out"
    run = subprocess.Popen([ACSIM, "run", str(study), "--backend", "processes", "--workers", "2",
                            "--out", str(out)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, env=ENVIRONMENT,
                           start_new_session=True)
    try:
        while not block_files(out) and run.poll() is None:
            time.sleep(0.005)
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, errors = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
    assert run.returncode != 0, "the run finished before it was interrupted"
    assert run.returncode == 130 and errors.strip().splitlines() == [
        "acsim run: interrupted (a study keeps its finished blocks: run it again with the same "
        "--out to resume)"], errors
    recorded = {name: facts for name, facts in
                json.loads((out / LEDGER).read_text())["files"].items() if "sha256" in facts}
    on_disk = {f"blocks/{path.name}": path for path in block_files(out)}
    assert 1 <= len(on_disk) < BLOCKS
    assert set(recorded) == set(on_disk)
    for name, path in on_disk.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[name]["sha256"]


def small_study() -> Study:
    return Study(SimulationConfig(episodes=4 * BLOCK_SIZE + 20, seed=5).replace(
        market={"steps": 10}), (strategy("twap"), strategy("ac-adaptive")))


def test_resume_recomputes_swapped_truncated_and_missing_blocks(tmp_path):
    study = small_study()
    clean = run_study(study, tmp_path / "clean", backend="inline", progress=False)
    out = tmp_path / "damaged"
    shutil.copytree(tmp_path / "clean", out)
    shutil.copyfile(block_path(out, 1), block_path(out, 0))  # the same rows, another block
    data = block_path(out, 2).read_bytes()
    block_path(out, 2).write_bytes(data[: len(data) // 2])
    block_path(out, 3).unlink()
    intact = {block: block_path(out, block).stat().st_mtime_ns for block in (1, 4)}
    resumed = run_study(study, out, backend="inline", progress=False)
    assert resumed.summary.equals(clean.summary)
    assert resumed.paired.equals(clean.paired)
    assert (resumed.reused_blocks, resumed.damaged_blocks) == (2, 2)  # 1, 4 kept; 0, 2 bad
    assert resumed.resume_note(5) == (f"resumed {str(out)!r}: 2 of 5 blocks already finished "
                                      "and verified; 2 block file(s) damaged or unrecorded, "
                                      "computed again")
    assert clean.resume_note(5) is None
    for block in range(5):
        assert block_path(out, block).read_bytes() == block_path(tmp_path / "clean",
                                                                 block).read_bytes(), block
    assert {block: block_path(out, block).stat().st_mtime_ns for block in (1, 4)} == intact


def test_a_block_the_ledger_does_not_vouch_for_is_recomputed(tmp_path):
    """A block file whose completion was never recorded (the run was killed between the
    worker's write and the ledger update) is computed again, not trusted."""
    study = small_study()
    run_study(study, tmp_path, backend="inline", progress=False)
    ledger = (tmp_path / LEDGER).read_text()
    key = '"blocks/block-000002.parquet": {'
    start = ledger.index(key) + len(key)
    (tmp_path / LEDGER).write_text(ledger[:start] + ledger[ledger.index("}", start):])
    block_path(tmp_path, 2).write_bytes(block_path(tmp_path, 1).read_bytes())
    resumed = run_study(study, tmp_path, backend="inline", progress=False)
    assert resumed.summary.equals(run_study(study, tmp_path / "clean", backend="inline",
                                            progress=False).summary)
    assert (tmp_path / LEDGER).read_text() == ledger


def test_loading_episodes_checks_every_block_as_a_resume_does(tmp_path):
    """load_episodes refuses a swapped block (the same rows under another block's name)
    instead of returning another block's episodes."""
    study = small_study()
    run_study(study, tmp_path, backend="inline", progress=False)
    episodes = load_episodes(tmp_path)
    assert sorted(episodes["episode"].unique()) == list(range(study.base.episodes))
    shutil.copyfile(block_path(tmp_path, 1), block_path(tmp_path, 0))
    with pytest.raises(ParameterError, match="block 0 of the study is missing or does not "
                                             "match its record"):
        load_episodes(tmp_path)


def test_half_written_block_files_are_removed_on_resume(tmp_path):
    study = small_study()
    first = run_study(study, tmp_path, backend="inline", progress=False)
    stale = tmp_path / "blocks" / "block-000001.partial-12345"
    stale.write_bytes(b"cut short")
    again = run_study(study, tmp_path, backend="inline", progress=False)
    assert not stale.exists() and again.summary.equals(first.summary)


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_a_named_error_before_out_is_touched(tmp_path):
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = subprocess.run([ACSIM, "run", "--episodes", "10", "--scheduler", address,
                           "--out", str(out)], capture_output=True, text=True, timeout=60,
                          env=ENVIRONMENT)
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"acsim run: error: --scheduler {address!r}: no Dask scheduler answered"), lines
    assert elapsed < 10.0, elapsed
    assert not out.exists()


def test_a_server_that_never_answers_is_a_named_error():
    """A port that accepts connections but never speaks Dask (the kernel accepts them into the
    listen backlog): distributed alone would wait for the handshake forever."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(SchedulerError, match="no Dask scheduler answered within 1 s"):
            connect_scheduler(address, timeout=1.0)
