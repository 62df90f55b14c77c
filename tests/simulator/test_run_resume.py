"""Kill and resume: an interrupted study finishes with exactly the uninterrupted result.

`acsim simulate --engine fast --backend inline --out DIR` is started in a subprocess on a
study of 24 blocks (the ensemble is simulated: coupling 0.01), killed with SIGKILL once at
least one block file exists but not all, then started again with the same DIR. Oracle: an
uninterrupted run of the same command in another directory; the JSON summaries must be
identical (every field, exact floats), and so must every block file.

Also: a stray `block-NNNNNN.partial-PID` file (what a killed writer leaves behind) is not
counted as a block, a different study in the same DIR is rejected with a clear message
and leaves the directory untouched, and rerunning a finished study computes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from acsim.experiments.cli import main
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.study import load_episodes

ACSIM = str(Path(sys.executable).with_name("acsim"))
BLOCKS = 24
EPISODES = BLOCKS * BLOCK_SIZE - 123  # the last block is partial
COMMAND = [ACSIM, "simulate", "--engine", "fast", "--backend", "inline", "--coupling", "0.01",
           "--initial", "stationary", "--seed", "0", "--episodes", str(EPISODES),
           "--format", "json"]
ENVIRONMENT = dict(os.environ)  # as at collection, before any Dask cluster edits os.environ


def acsim(out, *extra, check=True):
    done = subprocess.run([*COMMAND, *extra, "--out", str(out)], capture_output=True, text=True,
                          timeout=120, env=ENVIRONMENT)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def block_files(out):
    return sorted((Path(out) / "blocks").glob("block-*.parquet"))


def snapshot(out):
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes())
            for path in sorted(Path(out).rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(reference output, reference directory, resumed directory) after kill and resume."""
    reference_dir = tmp_path_factory.mktemp("reference")
    resumed_dir = tmp_path_factory.mktemp("resumed")
    # the uninterrupted reference runs alongside the run that gets killed
    reference = subprocess.Popen([*COMMAND, "--out", str(reference_dir)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=ENVIRONMENT)
    victim = subprocess.Popen([*COMMAND, "--out", str(resumed_dir)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENVIRONMENT)
    try:
        deadline = time.monotonic() + 90
        while (not block_files(resumed_dir) and victim.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        survivors = len(block_files(resumed_dir))
        assert 1 <= survivors < BLOCKS, survivors
        # what a writer killed mid-write leaves behind, for a block not yet computed
        stray = Path(resumed_dir) / "blocks" / f"block-{BLOCKS - 1:06d}.partial-999999"
        stray.write_bytes(b"PAR1 half a parquet file")
        resumed = acsim(resumed_dir)
        out, err = reference.communicate(timeout=120)
        assert reference.returncode == 0, err
    finally:  # never leave a process of ours running
        for process in (victim, reference):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    return {"reference": json.loads(out), "resumed": json.loads(resumed.stdout),
            "reference_dir": reference_dir, "resumed_dir": resumed_dir,
            "survivors": survivors, "stray": stray}


def test_resumed_summary_equals_the_uninterrupted_one(runs):
    reference, resumed = runs["reference"], runs["resumed"]
    assert resumed == reference
    assert reference["episodes"] == EPISODES
    assert reference["strategy"] == "extended/persistent"


def test_resumed_block_files_equal_the_uninterrupted_ones(runs):
    ours, theirs = block_files(runs["resumed_dir"]), block_files(runs["reference_dir"])
    assert [p.name for p in ours] == [p.name for p in theirs] == [
        f"block-{b:06d}.parquet" for b in range(BLOCKS)]
    for mine, other in zip(ours, theirs):
        assert pq.read_table(mine).equals(pq.read_table(other)), mine.name


def test_stray_partial_file_is_not_a_block(runs):
    episodes = load_episodes(runs["resumed_dir"])
    assert len(episodes) == EPISODES
    assert sorted(episodes["episode"]) == list(range(EPISODES))
    assert (episodes["final_holdings"] == 0.0).all()
    last = pq.read_table(Path(runs["resumed_dir"]) / "blocks" / f"block-{BLOCKS - 1:06d}.parquet")
    assert last.num_rows == EPISODES - (BLOCKS - 1) * BLOCK_SIZE


def in_process(out, capsys, *extra, command=COMMAND):
    """The same command through acsim.experiments.cli.main in this process:
    (code, stdout, stderr)."""
    capsys.readouterr()
    code = main([*command[1:], *extra, "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_rerunning_a_finished_study_computes_nothing(runs, capsys):
    before = snapshot(runs["reference_dir"])
    code, out, err = in_process(runs["reference_dir"], capsys)
    assert code == 0, err
    assert json.loads(out) == runs["reference"]
    assert snapshot(runs["reference_dir"]) == before


@pytest.mark.parametrize("change", [
    ["--seed", "1"],
    ["--coupling", "0.02"],
    ["--strategy", "twap"],
])
def test_a_different_study_in_the_same_directory_is_rejected(runs, capsys, change):
    before = snapshot(runs["reference_dir"])
    code, out, err = in_process(runs["reference_dir"], capsys, *change)
    assert code == 2
    assert "acsim simulate: error:" in err and "holds a different study" in err, err
    assert str(runs["reference_dir"]) in err
    assert out == ""
    assert snapshot(runs["reference_dir"]) == before


def test_a_different_episode_count_is_rejected(runs, capsys):
    """Even a longer run of the same study is a different study (its manifest differs)."""
    command = [c if c != str(EPISODES) else str(EPISODES + 1) for c in COMMAND]
    before = snapshot(runs["reference_dir"])
    code, _, err = in_process(runs["reference_dir"], capsys, command=command)
    assert code == 2
    assert "holds a different study" in err
    assert snapshot(runs["reference_dir"]) == before


def test_rejection_exits_with_a_message_from_the_installed_command(runs):
    """The same check through the real `acsim` executable: exit status 2, no traceback."""
    done = acsim(runs["reference_dir"], "--seed", "3", check=False)
    assert done.returncode == 2
    assert "holds a different study" in done.stderr
    assert "Traceback" not in done.stderr
