"""A study's results do not depend on how its blocks are computed (MODEL.md §5).

Reference: the study computed inline (this process, one worker). Each other way of running
it must give a summary and paired table that are DataFrame.equals to the reference, and
block files with identical contents:
- the process backend with 1 worker and with 2 workers (a spawn pool);
- the Dask backend with 2 workers (run_study starts its own distributed.LocalCluster);
- the Dask backend connected by `scheduler=` to a LocalCluster started here;
- a mixture: some blocks computed inline, the rest later by another backend (resume).
The study has 2 strategies × 2 coupling values and 2·4096 + 100 episodes (3 blocks, the last
one partial).
"""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest

from simulator.config import SimulationConfig, StrategyParameters
from simulator.randomness import BLOCK_SIZE
from simulator.study import Study, block_path, run_study
from strategies.errors import ParameterError

EPISODES = 2 * BLOCK_SIZE + 100


def make_study():
    base = SimulationConfig(episodes=EPISODES, seed=0).replace(
        ensemble={"agents": 30, "initial": "stationary", "switch_to_momentum": 0.03,
                  "switch_to_mean_reversion": 0.05, "herding": 0.5},
        extended={"self_alpha": 1e-5})
    return Study(base, (StrategyParameters("ac-adaptive"), StrategyParameters("extended", "model")),
                 sweep={"extended.coupling": (0.0, 0.01)}, baseline=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("inline")
    return run_study(make_study(), out, backend="inline", workers=1, progress=False)


def assert_same_results(results, reference):
    assert results.summary.equals(reference.summary), (results.summary, reference.summary)
    assert results.paired.equals(reference.paired), (results.paired, reference.paired)
    for block, _ in make_study().blocks():
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


def test_dask_scheduler_address(tmp_path, reference):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster:
        results = run_study(make_study(), tmp_path, backend="dask",
                            scheduler=cluster.scheduler_address, progress=False)
    assert_same_results(results, reference)


def test_blocks_from_different_backends_mix(tmp_path, reference):
    """Half the work inline, then a resume with the process pool."""
    shutil.copytree(reference.out, tmp_path, dirs_exist_ok=True)
    block_path(tmp_path, 0).unlink()
    block_path(tmp_path, 2).unlink()
    results = run_study(make_study(), tmp_path, backend="processes", workers=2, progress=False)
    assert_same_results(results, reference)


def test_bad_backend_arguments_are_rejected(tmp_path):
    study = make_study()
    with pytest.raises(ParameterError, match="backend must be one of"):
        run_study(study, tmp_path, backend="threads")
    with pytest.raises(ParameterError, match="scheduler address needs the dask backend"):
        run_study(study, tmp_path, backend="processes", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="workers must be >= 1"):
        run_study(study, tmp_path, backend="inline", workers=0)
    assert not list(tmp_path.glob("blocks/*.parquet"))
