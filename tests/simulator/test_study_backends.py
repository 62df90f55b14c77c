"""A study's results do not depend on how its blocks are computed (MODEL.md §5).

Reference: the study computed inline (this process, one worker). Each other way of running
it must give a summary and paired table that are DataFrame.equals to the reference, and
block files with identical contents:
- the process backend with 1 worker and with 2 workers (a process pool);
- the Dask backend with 2 workers (run_study starts its own distributed.LocalCluster);
- the Dask backend connected by `scheduler=` to a LocalCluster started here;
- a mixture: some blocks computed inline, the rest later by another backend (resume).
The study has 2 strategies (ac-adaptive, extended/model) × 2 coupling values and
2·4096 + 100 episodes (3 blocks, the last one partial), on the default ensemble
(M = 100 agents) and, as a control, on a small one (M = 30).

Results must not depend on the number of BLAS threads either: Dask workers run with
OMP/OPENBLAS/MKL_NUM_THREADS = 1 (distributed's default), a local process with as many
threads as cores. Checked directly with OPENBLAS_NUM_THREADS = 1 and 2 in subprocesses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from acsim.agents.policies import strategy
from acsim.simulator.config import SimulationConfig
from acsim.simulator.randomness import BLOCK_SIZE
from acsim.simulator.study import Study, block_path, run_study
from acsim.strategies.errors import ParameterError

EPISODES = 2 * BLOCK_SIZE + 100
ENVIRONMENT = dict(os.environ)  # as at collection, before any Dask cluster edits os.environ


def make_study(agents=100):
    base = SimulationConfig(episodes=EPISODES, seed=0).replace(
        ensemble={"agents": agents, "initial": "stationary"}, extended={"self_alpha": 1e-5})
    return Study(base, (strategy("ac-adaptive"), strategy("extended", forecast="model")),
                 sweep={"extended.coupling": (0.0, 0.01)}, baseline=0)


@pytest.fixture(scope="module", autouse=True)
def restore_environment():
    """Dask's LocalCluster sets OMP/OPENBLAS/MKL_NUM_THREADS = 1 (and more) in os.environ
    and leaves them there; undo that after this module so later tests' subprocesses are
    unaffected (module scope and autouse: saved before the cluster starts, restored last)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return {agents: run_study(make_study(agents), tmp_path_factory.mktemp(f"inline{agents}"),
                              backend="inline", workers=1, progress=False)
            for agents in (100, 30)}


@pytest.fixture(scope="module")
def reference(references):
    return references[100]


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                      dashboard_address=None) as local:
        yield local


def assert_same_results(results, reference, agents=100):
    assert results.summary.equals(reference.summary), (results.summary, reference.summary)
    assert results.paired.equals(reference.paired), (results.paired, reference.paired)
    for block, _ in make_study(agents).blocks():
        ours = pq.read_table(block_path(results.out, block))
        theirs = pq.read_table(block_path(reference.out, block))
        assert ours.equals(theirs), block


def test_reference_is_a_real_study(reference):
    summary, paired = reference.summary, reference.paired
    assert len(summary) == 4 and len(paired) == 2
    assert (summary["episodes"] == EPISODES).all()
    assert summary["mean_is"].nunique() == 4
    assert sorted(p.name for p in (reference.out / "blocks").iterdir()) == [
        "block-000000.parquet", "block-000001.parquet", "block-000002.parquet"]
    assert pq.read_table(block_path(reference.out, 2)).num_rows == 100


@pytest.mark.parametrize("workers", [1, 2])
def test_process_pool(tmp_path, reference, workers):
    results = run_study(make_study(), tmp_path, backend="processes", workers=workers,
                        progress=False)
    assert_same_results(results, reference)


def test_dask_local_cluster_started_by_run_study(tmp_path, reference):
    results = run_study(make_study(), tmp_path, backend="dask", workers=2, progress=False)
    assert_same_results(results, reference)


def test_dask_scheduler_address(tmp_path, reference, cluster):
    results = run_study(make_study(), tmp_path, backend="dask",
                        scheduler=cluster.scheduler_address, progress=False)
    assert_same_results(results, reference)


def test_dask_scheduler_address_small_ensemble(tmp_path, references, cluster):
    """Control: with M = 30 (matrices too small for threaded BLAS) Dask matches inline."""
    results = run_study(make_study(30), tmp_path, backend="dask",
                        scheduler=cluster.scheduler_address, progress=False)
    assert_same_results(results, references[30], agents=30)


def test_blocks_from_different_backends_mix(tmp_path, reference):
    """Part of the work inline, then a resume with the process pool."""
    shutil.copytree(reference.out, tmp_path, dirs_exist_ok=True)
    block_path(tmp_path, 0).unlink()
    block_path(tmp_path, 2).unlink()
    results = run_study(make_study(), tmp_path, backend="processes", workers=2, progress=False)
    assert_same_results(results, reference)


SHORTFALLS_BY_THREADS = """
import sys
from acsim.simulator.vectorised import simulate_block
from acsim.simulator.study_files import DEFAULT_STUDY
case = [c for c in DEFAULT_STUDY.cases() if c.label == "extended/model coupling=0.01"][0]
sys.stdout.write(simulate_block(case.config, 0, 0, 512).shortfall.tobytes().hex())
"""


def test_results_do_not_depend_on_the_number_of_blas_threads():
    """The default study's extended/model case, 512 episodes, bit for bit."""
    outputs = {}
    for threads in ("1", "2"):
        environment = dict(ENVIRONMENT, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
                           MKL_NUM_THREADS=threads)
        done = subprocess.run([sys.executable, "-c", SHORTFALLS_BY_THREADS], env=environment,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs[threads] = done.stdout
    assert len(outputs["1"]) == 2 * 8 * 512
    assert outputs["1"] == outputs["2"], "IS differs between 1 and 2 BLAS threads"


def test_bad_backend_arguments_are_rejected(tmp_path):
    study = make_study()
    with pytest.raises(ParameterError, match="backend must be one of"):
        run_study(study, tmp_path, backend="threads")
    with pytest.raises(ParameterError, match="scheduler address needs the dask backend"):
        run_study(study, tmp_path, backend="processes", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="workers must be >= 1"):
        run_study(study, tmp_path, backend="inline", workers=0)
    assert not list(tmp_path.glob("blocks/*.parquet"))
