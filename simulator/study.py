"""Monte Carlo studies at scale: many strategies and parameter values on common random numbers.

A study is a base configuration, a list of strategies and a sweep (a grid of parameter
values); every (strategy, sweep point) pair is a *case*. Episodes are computed in blocks
of BLOCK_SIZE (the unit of seeding and of work); within a block all cases share the
ensemble paths and price shocks of each episode (common random numbers), so differences
between cases are paired.

Each block is written to `OUT/blocks/block-NNNNNN.parquet` (atomically) with one
`shortfall_<i>` and one `final_holdings_<i>` column per case; `OUT/manifest.json` records the
study. OUT is an output folder (simulator/output_folder.py): new, empty or acsim's own, locked
while the study runs; its ledger records each finished block's row count and sha256, written by
the main process as blocks complete. Starting again with the same output folder computes only the
blocks that are not finished and intact (a missing, truncated or swapped block file is computed
again, never accepted), and the summaries are read back block by block in block order, so
results are identical for any worker count, backend or interruption, and memory stays bounded by
the block size.
Only per-episode shortfall and final holdings are stored (use `simulate_block` or the Mesa
model for whole paths).
"""

from __future__ import annotations

import copy
import ctypes
import dataclasses
import functools
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from acsim.agents.policies import POLICIES, StrategyParameters, policy_label
from acsim.simulator.config import BELIEF_FIELDS, SECTIONS, SimulationConfig, describe_object
from acsim.simulator.output_folder import LEDGER, OutputFolder
from acsim.simulator.randomness import BLOCK_SIZE, momentum_shocks, noise_shocks, regime_paths
from acsim.simulator.statistics import SUMMARY_MEMORY, Blocks, summarise_blocks
from acsim.simulator.vectorised import ensemble_paths, execute
from acsim.strategies.errors import ParameterError

if TYPE_CHECKING:
    from distributed import Client

MANIFEST_VERSION = 2


def strategy_label(strategy: StrategyParameters | object) -> str:
    """A short readable name: 'extended/model', 'ac-adaptive+no-buyback', or a policy
    object's `label` (default: its class name)."""
    if isinstance(strategy, StrategyParameters):
        return strategy.label
    return policy_label(strategy)


def describe_strategy(strategy: StrategyParameters | object) -> dict:
    """What the manifest records of a strategy (a policy object by its class and attributes,
    so that a rerun with an equal object resumes)."""
    if isinstance(strategy, StrategyParameters):
        return {"name": strategy.name, **{key: list(value) if isinstance(value, tuple) else
                                          value for key, value in strategy.options.items()}}
    return describe_object(strategy)


@dataclass(frozen=True)
class Case:
    """One strategy at one sweep point; `policy` is a policy object, or None for the
    configuration's [strategy]."""

    label: str
    strategy: str
    point: dict
    config: SimulationConfig
    policy: object = None


def _sweep_target(key: str) -> tuple[str, ...]:
    """'market.steps' -> ('market', 'steps'); 'beliefs.extended.coupling' -> three parts."""
    parts = tuple(key.split("."))
    if len(parts) == 2 and parts[0] in SECTIONS and parts[1] in {
            f.name for f in dataclasses.fields(SECTIONS[parts[0]])}:
        return parts
    if len(parts) == 3 and parts[0] == "beliefs" and parts[2] in BELIEF_FIELDS.get(parts[1], ()):
        return parts
    beliefs = ", ".join(f"{table}: {list(keys)}" for table, keys in BELIEF_FIELDS.items())
    raise ParameterError(f"sweep key {key!r} must be <table>.<key> for the tables "
                         f"{sorted(SECTIONS)}, or beliefs.<table>.<key> for what a strategy may "
                         f"believe ({beliefs})")


def _first_repeated(items: list | tuple) -> int | None:
    """The index of the first item that equals an earlier one, or None."""
    return next((index for index, item in enumerate(items) if item in items[:index]), None)


@dataclass(frozen=True)
class Study:
    """strategies × sweep on the base configuration's episodes and seed.

    strategies: StrategyParameters (built-in or "package.module:Class" policies with their
        options) or policy objects of your own (each case starts a fresh copy).
    sweep: {"table.key": (value, ...)} for the tables market, extended, ensemble, impact,
        order_flow, regimes (every case must keep the base's steps and warm-up), and
        {"beliefs.table.key": (...)} for what the strategies believe; the grid is the
        Cartesian product, in the order given.
    baseline: index of the strategy that paired differences are taken against.
    """

    base: SimulationConfig = field(default_factory=SimulationConfig)
    strategies: tuple = (StrategyParameters(),)
    sweep: dict = field(default_factory=dict)
    baseline: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.base, SimulationConfig):
            raise ParameterError(f"a study's base must be a SimulationConfig, got {self.base!r}")
        if not isinstance(self.strategies, (tuple, list)) or not self.strategies:
            raise ParameterError("a study needs a non-empty tuple of strategies, got "
                                 f"{self.strategies!r}")
        if not isinstance(self.sweep, dict) or not all(
                isinstance(values, (tuple, list)) for values in self.sweep.values()):
            raise ParameterError("sweep must be {\"table.key\": (value, ...)}, got "
                                 f"{self.sweep!r}")
        if isinstance(self.baseline, bool) or not isinstance(self.baseline, int) \
                or not 0 <= self.baseline < len(self.strategies):
            raise ParameterError(f"baseline must index one of the {len(self.strategies)} "
                                 f"strategies, got {self.baseline}")
        for strategy in self.strategies:
            if not isinstance(strategy, StrategyParameters) and not (
                    callable(getattr(strategy, "start", None))
                    and callable(getattr(strategy, "trades", None))):
                raise ParameterError(f"a study strategy is StrategyParameters or a policy with "
                                     f"start and trades methods, got {strategy!r}")
        labels = [strategy_label(strategy) for strategy in self.strategies]
        repeated = _first_repeated(labels)
        if repeated is not None:
            raise ParameterError(f"strategy {labels[repeated]!r} is listed twice: each strategy "
                                 "once (it would be computed twice; a policy object of your own "
                                 "needs a distinct `label` attribute)")
        for key, values in self.sweep.items():
            _sweep_target(key)
            if len(values) == 0:
                raise ParameterError(f"sweep {key!r} needs at least one value")
            repeated = _first_repeated(values)
            if repeated is not None:
                raise ParameterError(f"sweep {key!r} lists the value {values[repeated]!r} "
                                     "twice: each value once (it would be computed twice)")
        cases = self.cases()
        for case in cases:
            case.config.check_simulated_magnitudes()
        shapes = {(c.config.market.steps, c.config.warmup, c.config.ensemble.draws_per_step)
                  for c in cases}
        if len(shapes) > 1 or shapes != {self.shape}:
            raise ParameterError("all cases of a study must share the base's steps, warm-up "
                                 "(feedback and order_flow.warmup) and the ensemble's draws per "
                                 "step (agents, switching), which set the random numbers they "
                                 "share; sweep them in separate studies")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(steps, warm-up, ensemble draws per step) of the base: the draws every case shares."""
        base = self.base
        return base.market.steps, base.warmup, base.ensemble.draws_per_step

    def points(self) -> list[dict]:
        grid = [{}]
        for key, values in self.sweep.items():
            grid = [dict(point, **{key: value}) for point in grid for value in values]
        return grid

    def cases(self) -> list[Case]:
        """Every (sweep point, strategy) case, points outermost (built once per study)."""
        return list(self._cases)

    @functools.cached_property
    def _cases(self) -> tuple[Case, ...]:
        result = []
        for point in self.points():
            tables: dict[str, dict] = {}
            for key, value in point.items():
                *path, name = _sweep_target(key)
                table = tables
                for part in path:
                    table = table.setdefault(part, {})
                table[name] = value
            for strategy in self.strategies:
                spec = strategy if isinstance(strategy, StrategyParameters) else None
                strategy_table = {"name": spec.name, **spec.options} if spec else {}
                config = self.base.replace(strategy=strategy_table, **tables)
                label = strategy_label(strategy) + "".join(
                    f" {key if key.startswith('beliefs.') else key.partition('.')[2]}={value}"
                    for key, value in point.items())
                result.append(Case(label, strategy_label(strategy), point, config,
                                   None if spec else strategy))
        return tuple(result)

    def blocks(self) -> list[tuple[int, int]]:
        """(block, episodes in it) for every block of the study."""
        return episode_blocks(self.base.episodes)

    def to_dict(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "block_size": BLOCK_SIZE,
            "base": self.base.to_dict(),
            "strategies": [describe_strategy(s) for s in self.strategies],
            "sweep": {key: list(values) for key, values in self.sweep.items()},
            "baseline": self.baseline,
            "cases": [{"label": c.label, "strategy": c.strategy, "point": c.point}
                      for c in self.cases()],
        }


_started_policies: dict = {}  # per process and study: built-in case configuration -> policy


def _policy(case: Case) -> object:
    """The case's policy, started. Built-in policies keep no state between steps, so they are
    started once per process and reused for every block; any other policy (an object, or a
    "package.module:Class") is built and started afresh for every block."""
    if case.policy is not None:
        return case.config.started_policy(copy.deepcopy(case.policy))
    if case.config.strategy.name not in POLICIES:
        return case.config.started_policy()
    if case.config not in _started_policies:
        _started_policies[case.config] = case.config.started_policy()
    return _started_policies[case.config]


def ignores_field(case: Case, policy: object) -> bool:
    """True when the ensemble cannot change this case's results: the market's coupling is 0
    (the field moves no price), the ensemble does not trade (field-drift market) and the policy
    is a built-in one that says it ignores the field (`uses_field` False after start). Any other
    policy, a subclass of a built-in among them, is given the real field."""
    built_in = type(policy) in POLICIES.values()
    return (case.config.extended.coupling == 0.0 and not case.config.order_flow_market
            and built_in
            and not getattr(policy, "uses_field", True))


def episode_blocks(episodes: int, size: int = BLOCK_SIZE) -> list[tuple[int, int]]:
    """(block, episodes in it) for `episodes` cut into blocks of `size`, the last one short."""
    return [(block, min(size, episodes - block * size))
            for block in range((episodes + size - 1) // size)]


def block_name(block: int) -> str:
    """A block file's path inside the study's output folder."""
    return f"blocks/block-{block:06d}.parquet"


def block_path(out: Path, block: int) -> Path:
    return out / block_name(block)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


BlockResult = tuple[int, int, float, str]  # run_block: block, episodes, seconds, sha256


def run_block(study: Study, block: int, count: int, out: str) -> BlockResult:
    """Compute every case of one block and write its Parquet file; (block, episodes, seconds,
    sha256 of the file)."""
    started = time.perf_counter()
    cases = study.cases()
    base = study.base
    steps = base.market_steps  # W + N: the warm-up of an order-flow market draws first
    noise = noise_shocks(base.seed, block, steps, 0, count)
    momentum = (momentum_shocks(base.seed, block, steps, 0, count)
                if any(case.config.order_flow_market for case in cases) else None)
    paths: dict = {}
    regimes: dict = {}  # regime paths per regime table (the same uniforms for every case)
    columns = {"episode": np.arange(block * BLOCK_SIZE, block * BLOCK_SIZE + count)}
    for index, case in enumerate(cases):
        policy = _policy(case)
        key = case.config.ensemble
        if ignores_field(case, policy):
            # Nothing reads the field: its paths are not simulated; a constant count stands in.
            counts = np.full((count, steps + 1), key.agents // 2, dtype=np.int64)
        else:
            if key not in paths:
                paths[key] = ensemble_paths(key, base.seed, block, steps, 0, count)
            counts = paths[key]
        table = case.config.regimes
        if table not in regimes:
            regimes[table] = regime_paths(table, base.seed, block, steps, 0, count)
        result = execute(case.config, policy, counts, noise,
                         momentum if case.config.order_flow_market else None, regimes[table])
        columns[f"shortfall_{index}"] = result.shortfall
        columns[f"final_holdings_{index}"] = result.holdings[:, -1]
    target = block_path(Path(out), block)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    pq.write_table(pa.table(columns), partial)
    digest = file_digest(partial)
    os.replace(partial, target)
    return block, count, time.perf_counter() - started, digest


def _prepare(study: Study, folder: OutputFolder) -> None:
    """Write the manifest in a new folder, or check that the folder holds this study; remove
    block files an interrupted write left half-written (the folder is locked: none is live)."""
    for stale in (folder.root / "blocks").glob("*.partial-*"):
        stale.unlink(missing_ok=True)
    manifest = folder.root / "manifest.json"
    description = json.loads(json.dumps(study.to_dict()))
    if folder.facts("manifest.json") is not None and manifest.exists():
        try:
            recorded = json.loads(manifest.read_text())
        except ValueError:
            recorded = None
        if recorded != description:
            raise ParameterError(f"output directory {str(folder.root)!r} holds a different "
                                 "study; use another --out or delete it")
        return
    # a new manifest: no block already in the folder is trusted to belong to this study
    folder.record({name: {} for name in folder.files if name.startswith("blocks/")})
    partial = folder.path("manifest.json").with_suffix(f".partial-{os.getpid()}")
    partial.write_text(json.dumps(description, indent=2))
    os.replace(partial, manifest)


def block_intact(root: Path, block: int, rows: int, facts: dict | None) -> bool:
    """Whether a block's file is what the ledger's `facts` record of it: `rows` rows (the
    block's episodes) and the recorded sha256."""
    facts = facts or {}
    path = root / block_name(block)
    return (facts.get("rows") == rows and path.is_file()
            and file_digest(path) == facts.get("sha256"))


def finished_blocks(study: Study, folder: OutputFolder) -> set[int]:
    """The blocks whose file the ledger records as finished and which are intact."""
    return {block for block, count in study.blocks()
            if block_intact(folder.root, block, count, folder.facts(block_name(block)))}


BACKENDS = ("inline", "processes", "dask")
SCHEDULER_TIMEOUT = 3.0  # seconds to wait for a Dask scheduler to answer
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal for this process when its parent ends


class SchedulerError(ParameterError):
    """No Dask scheduler answers at the given address."""


def connect_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT) -> Client:
    """A distributed.Client connected to the scheduler at `address`, or SchedulerError within
    `timeout` seconds (a TCP address is probed first, so a refused one fails at once)."""
    def unreachable(reason: str) -> SchedulerError:
        return SchedulerError(f"--scheduler {address!r}: no Dask scheduler answered within "
                              f"{timeout:g} s ({reason})")

    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if "://" not in host and port.isdigit():
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except OSError as error:
            raise unreachable(error.strerror or type(error).__name__) from None
    from distributed import Client

    outcome: dict = {}

    def connect() -> None:
        try:
            outcome["client"] = Client(address, timeout=timeout)
        except Exception as error:  # refused, timed out, a malformed address, not Dask there
            outcome["error"] = error

    # distributed bounds the connection by `timeout` but not the handshake after it: a server
    # that accepts and stays silent would hang the client, so the wait is bounded here
    attempt = threading.Thread(target=connect, name="acsim-scheduler", daemon=True)
    attempt.start()
    attempt.join(timeout + 1.0)
    if "client" in outcome:
        return outcome["client"]
    error = outcome.get("error")
    raise unreachable("no handshake" if error is None else
                      f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}")


def _start_worker(parent: int) -> None:
    """Pool worker initializer: Ctrl-C is left to the parent (which lets running blocks finish
    and records them), and the worker is killed when the parent ends, kill -9 included (Linux:
    prctl PR_SET_PDEATHSIG; elsewhere workers end with their pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the signal was armed
        os._exit(1)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A local process pool whose workers end with this process."""
    # fork starts workers without re-importing the world; spawn where fork does not exist
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_start_worker, initargs=(os.getpid(),))


def _dispatch(study: Study, out: Path, todo: list[tuple[int, int]], backend: str,
              workers: int, client: Client | None,
              finished: Callable[[BlockResult], None]) -> None:
    """Compute the blocks `todo`, calling `finished` with each run_block result in the main
    process as the block completes. client: a connected Dask client (dask backend with a
    scheduler) or None."""
    if backend == "dask":
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed

        with ExitStack() as stack:
            if client is None:
                environment = dict(os.environ)  # LocalCluster sets thread-count variables here
                stack.callback(os.environ.update, environment)
                stack.callback(os.environ.clear)
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            shared = client.scatter(study, broadcast=True)
            futures = [client.submit(run_block, shared, block, count, str(out), pure=False)
                       for block, count in todo]
            recorded = set()
            try:
                for future in dask_completed(futures):
                    finished(future.result())
                    recorded.add(future.key)
            except BaseException:  # interrupted, or a block failed: keep those that finished
                for future in futures:
                    if future.key not in recorded and future.status == "finished":
                        finished(future.result())
                raise
        return
    if backend == "inline" or workers == 1 or len(todo) == 1:
        for block, count in todo:
            finished(run_block(study, block, count, str(out)))
        return
    with worker_pool(workers) as pool:
        pending = {pool.submit(run_block, study, block, count, str(out))
                   for block, count in todo}
        try:
            for future in as_completed(pending):
                pending.remove(future)
                finished(future.result())
        except BaseException:
            # interrupted, or a block failed: start no other block, keep those that finished
            pool.shutdown(wait=True, cancel_futures=True)
            for future in pending:
                if not future.cancelled() and future.exception() is None:
                    finished(future.result())
            raise


def run_study(study: Study, out: str | Path | OutputFolder, backend: str = "processes",
              workers: int | None = None, scheduler: str | None = None,
              progress: bool | None = None) -> StudyResults:
    """Compute the unfinished blocks of a study in the output folder `out`, then summarise
    every case.

    out: a folder path (opened, checked and locked here, released on return), or an
        OutputFolder: opened here if it is not yet open, and left open for the caller to write
        more files into and close.

    backend: "inline" (this process), "processes" (a local process pool, the default) or
        "dask" (Dask distributed: the cluster at `scheduler`, or a local one started with
        `workers` worker processes).
    workers: processes to use (default: every core).
    progress: a tqdm bar with episodes per second (default: only on a terminal).
    """
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ParameterError("a scheduler address needs the dask backend")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be >= 1, got {workers}")
    if backend == "inline" and workers not in (None, 1):
        raise ParameterError(f"the inline backend runs in this process; workers = {workers} "
                             "needs the processes or dask backend")
    if workers is None:
        workers = os.cpu_count() or 1
    folder = out if isinstance(out, OutputFolder) else OutputFolder(out)
    with ExitStack() as stack:
        # the scheduler must answer before the output folder is touched
        client = stack.enter_context(connect_scheduler(scheduler)) if scheduler else None
        if not folder.is_open:
            folder.open()
            if folder is not out:
                stack.callback(folder.close)
        _prepare(study, folder)
        _started_policies.clear()  # each study starts its built-in policies afresh
        finished = finished_blocks(study, folder)
        todo = [(block, count) for block, count in study.blocks() if block not in finished]
        damaged = sum(block_path(folder.root, block).exists() for block, _ in todo)
        folder.paths([block_name(block) for block, _ in todo])
        show = sys.stderr.isatty() if progress is None else progress
        total = sum(count for _, count in todo)
        with tqdm(total=total, unit="ep", unit_scale=True, disable=not show,
                  desc="episodes") as bar:

            def record(result: BlockResult) -> None:
                block, count, _, digest = result
                folder.record({block_name(block): {"rows": count, "sha256": digest}})
                bar.update(count)

            if todo:
                # workers, maybe on other machines, write into the folder (a shared disk)
                _dispatch(study, folder.root, todo, backend, workers, client, record)
        return dataclasses.replace(summarise_study(study, folder.root, show),
                                   reused_blocks=len(finished), damaged_blocks=damaged)


@dataclass(frozen=True)
class StudyResults:
    """Per-case summaries and paired differences against the baseline strategy; on a resume,
    how many blocks were found finished (and verified) and how many block files were found
    damaged or unrecorded and computed again."""

    summary: pd.DataFrame
    paired: pd.DataFrame
    out: Path
    reused_blocks: int = 0
    damaged_blocks: int = 0

    def resume_note(self, total: int) -> str | None:
        """One line on what a resume reused and recomputed, or None for a fresh run."""
        if not (self.reused_blocks or self.damaged_blocks):
            return None
        note = (f"resumed {str(self.out)!r}: {self.reused_blocks} of {total} blocks already "
                "finished and verified")
        if self.damaged_blocks:
            note += (f"; {self.damaged_blocks} block file(s) damaged or unrecorded, computed "
                     "again")
        return note


def _study_blocks(out: Path, study: Study, cases: int, progress: bool) -> Blocks:
    """Every block as one array (the cases' shortfalls, then their final holdings × episodes),
    in block order: read once and kept when the study's values fit SUMMARY_MEMORY, else read
    afresh at each pass (bounded memory)."""
    files = [block_path(out, block) for block, _ in study.blocks()]
    columns = ([f"shortfall_{i}" for i in range(cases)]
               + [f"final_holdings_{i}" for i in range(cases)])

    def read(path: Path) -> np.ndarray:
        table = pq.ParquetFile(path).read()  # all columns: faster than choosing 1,000s by name
        return np.stack([table.column(name).to_numpy() for name in columns])

    if study.base.episodes * len(columns) * 8 <= SUMMARY_MEMORY:
        kept = [read(path) for path in tqdm(files, desc="summary: reading", unit="block",
                                            disable=not progress, leave=False)]
        return lambda: kept
    return lambda: (read(path) for path in files)


def summarise_study(study: Study, out: str | Path, progress: bool = False) -> StudyResults:
    """Read the block files back (in block order) and summarise every case and every paired
    difference against the baseline together (simulator/statistics.py: a few passes, each
    block read once per pass, or once in all when the study fits SUMMARY_MEMORY).

    progress: a tqdm bar for every phase."""
    out = Path(out)
    cases = study.cases()
    per_point = len(study.strategies)
    pairs = [(start + offset, start + study.baseline)
             for start in range(0, len(cases), per_point)
             for offset in range(per_point) if offset != study.baseline]
    summaries, differences, moments = summarise_blocks(
        _study_blocks(out, study, len(cases), progress),
        [case.config.market.shares * case.config.market.price for case in cases],
        [case.config.market.risk_aversion for case in cases], pairs, progress,
        len(study.blocks()))
    holdings = slice(len(cases), 2 * len(cases))
    final = np.maximum(np.abs(moments.low[holdings]), np.abs(moments.high[holdings]))
    rows = [{"case": case.label, "strategy": case.strategy, **case.point, **stats,
             "max_abs_final_holdings": float(final[index])}
            for index, (case, stats) in enumerate(zip(cases, summaries))]
    paired = [{"strategy": cases[index].strategy, "baseline": cases[base].strategy,
               **cases[index].point, **stats}
              for (index, base), stats in zip(pairs, differences)]
    return StudyResults(pd.DataFrame(rows), pd.DataFrame(paired), out)


def load_episodes(out: str | Path) -> pd.DataFrame:
    """All per-episode results of a finished study directory in long form (one row per episode
    and case). Every block is checked as a resume checks it (the ledger's row count and sha256);
    a study with a block missing or not matching its record is refused (ParameterError)."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = json.loads((out / LEDGER).read_text())["files"] if (out / LEDGER).is_file() else {}
    frames = []
    for block, rows in episode_blocks(manifest["base"]["simulation"]["episodes"],
                                      manifest["block_size"]):
        if not block_intact(out, block, rows, ledger.get(block_name(block))):
            raise ParameterError(f"{str(out)!r}: block {block} of the study is missing or does "
                                 "not match its record; run the study again on this folder to "
                                 "compute it")
        table = pq.read_table(block_path(out, block)).to_pandas()
        for index, case in enumerate(manifest["cases"]):
            frames.append(pd.DataFrame({
                "episode": table["episode"], "case": case["label"],
                "strategy": case["strategy"], **case["point"],
                "shortfall": table[f"shortfall_{index}"],
                "final_holdings": table[f"final_holdings_{index}"]}))
    return pd.concat(frames, ignore_index=True)
