"""Monte Carlo studies at scale: many strategies and parameter values on common random numbers.

A study is a base configuration, a list of strategies and a sweep (a grid of parameter
values); every (strategy, sweep point) pair is a *case*. Episodes are computed in blocks
of BLOCK_SIZE (the unit of seeding and of work); within a block all cases share the
ensemble paths and price shocks of each episode (common random numbers), so differences
between cases are paired.

Each block is written to `OUT/blocks/block-NNNNNN.parquet` (atomically) with one
`shortfall_<i>` and one `final_holdings_<i>` column per case; `OUT/manifest.json` records the
study. Starting again with the same output directory computes only the missing blocks,
and the summaries are read back block by block in block order, so results are identical
for any worker count, backend or interruption, and memory stays bounded by the block size.
Only per-episode shortfall and final holdings are stored (use `simulate_block` or the Mesa
model for whole paths).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from acsim.agents.policies import POLICIES, StrategyParameters, policy_label
from acsim.simulator.config import BELIEF_FIELDS, SECTIONS, SimulationConfig, describe_object
from acsim.simulator.randomness import BLOCK_SIZE, momentum_shocks, noise_shocks, regime_paths
from acsim.simulator.statistics import paired_difference, summarise_chunks
from acsim.simulator.vectorised import ensemble_paths, execute
from acsim.strategies.errors import ParameterError

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
        repeated = next((label for index, label in enumerate(labels) if label in labels[:index]),
                        None)
        if repeated is not None:
            raise ParameterError(f"strategy {repeated!r} is listed twice: each strategy once (it "
                                 "would be computed twice; a policy object of your own needs a "
                                 "distinct `label` attribute)")
        for key, values in self.sweep.items():
            _sweep_target(key)
            if len(values) == 0:
                raise ParameterError(f"sweep {key!r} needs at least one value")
            repeated = next((value for index, value in enumerate(values)
                             if value in values[:index]), None)
            if repeated is not None:
                raise ParameterError(f"sweep {key!r} lists the value {repeated!r} twice: each "
                                     "value once (it would be computed twice)")
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
        return result

    def blocks(self) -> list[tuple[int, int]]:
        """(block, episodes in it) for every block of the study."""
        episodes = self.base.episodes
        return [(block, min(BLOCK_SIZE, episodes - block * BLOCK_SIZE))
                for block in range((episodes + BLOCK_SIZE - 1) // BLOCK_SIZE)]

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


def block_path(out: Path, block: int) -> Path:
    return out / "blocks" / f"block-{block:06d}.parquet"


def run_block(study: Study, block: int, count: int, out: str) -> tuple[int, int, float]:
    """Compute every case of one block and write its Parquet file; (block, episodes, seconds)."""
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
    os.replace(partial, target)
    return block, count, time.perf_counter() - started


def make_directory(path: Path, flag: str = "--out") -> None:
    """Create an output directory, or a ParameterError saying why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(f"{flag} {str(path)!r} cannot be created: "
                             f"{error.strerror or error}") from None


def _prepare(study: Study, out: Path) -> None:
    make_directory(out / "blocks")
    manifest = out / "manifest.json"
    description = study.to_dict()
    if manifest.exists():
        recorded = json.loads(manifest.read_text())
        if recorded != json.loads(json.dumps(description)):
            raise ParameterError(f"output directory {str(out)!r} holds a different study; "
                                 "use another --out or delete it")
    else:
        manifest.write_text(json.dumps(description, indent=2))


BACKENDS = ("inline", "processes", "dask")


def _dispatch(study: Study, out: Path, todo: list[tuple[int, int]], backend: str,
              workers: int, scheduler: str | None, bar: tqdm) -> None:
    if backend == "dask":
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed

        cluster = None
        environment = dict(os.environ)  # LocalCluster sets thread-count variables here
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
        client = Client(scheduler if scheduler is not None else cluster)
        try:
            shared = client.scatter(study, broadcast=True)
            futures = [client.submit(run_block, shared, block, count, str(out), pure=False)
                       for block, count in todo]
            for future in dask_completed(futures):
                bar.update(future.result()[1])
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
            os.environ.clear()
            os.environ.update(environment)
        return
    if backend == "inline" or workers == 1 or len(todo) == 1:
        for block, count in todo:
            bar.update(run_block(study, block, count, str(out))[1])
        return
    # fork starts workers without re-importing the world; spawn where fork does not exist
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_block, study, block, count, str(out)) for block, count in todo]
        for future in as_completed(futures):
            bar.update(future.result()[1])


def run_study(study: Study, out: str | Path, backend: str = "processes",
              workers: int | None = None, scheduler: str | None = None,
              progress: bool | None = None) -> StudyResults:
    """Compute the missing blocks of a study in `out`, then summarise every case.

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
    out = Path(out).resolve()  # workers, maybe on other machines, write here (shared disk)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"output directory {str(out)!r} is a file")
    _prepare(study, out)
    _started_policies.clear()  # each study starts its built-in policies afresh
    todo = [(block, count) for block, count in study.blocks()
            if not block_path(out, block).exists()]
    show = sys.stderr.isatty() if progress is None else progress
    total = sum(count for _, count in todo)
    with tqdm(total=total, unit="ep", unit_scale=True, disable=not show,
              desc="episodes") as bar:
        if todo:
            _dispatch(study, out, todo, backend, workers, scheduler, bar)
    return summarise_study(study, out)


@dataclass(frozen=True)
class StudyResults:
    """Per-case summaries and paired differences against the baseline strategy."""

    summary: pd.DataFrame
    paired: pd.DataFrame
    out: Path


def _column_chunks(out: Path, study: Study, column: str, minus: str | None = None):
    """A callable giving a fresh pass over `column` (or `column - minus`), block by block."""
    files = [block_path(out, block) for block, _ in study.blocks()]
    columns = [column] if minus is None else [column, minus]

    def chunks():
        for path in files:
            table = pq.read_table(path, columns=columns)
            values = table.column(0).to_numpy()
            yield values if minus is None else values - table.column(1).to_numpy()
    return chunks


def summarise_study(study: Study, out: str | Path) -> StudyResults:
    """Read the block files back (in block order) and summarise every case."""
    out = Path(out)
    cases = study.cases()
    rows = []
    for index, case in enumerate(cases):
        market = case.config.market
        stats = summarise_chunks(_column_chunks(out, study, f"shortfall_{index}"),
                                 market.shares * market.price, market.risk_aversion)
        final = max(float(np.max(np.abs(chunk))) for chunk in
                    _column_chunks(out, study, f"final_holdings_{index}")())
        rows.append({"case": case.label, "strategy": case.strategy, **case.point, **stats,
                     "max_abs_final_holdings": final})
    paired = []
    per_point = len(study.strategies)
    for start in range(0, len(cases), per_point):
        base_index = start + study.baseline
        for offset in range(per_point):
            index = start + offset
            if index == base_index:
                continue
            stats = paired_difference(_column_chunks(
                out, study, f"shortfall_{index}", minus=f"shortfall_{base_index}"))
            paired.append({"strategy": cases[index].strategy,
                           "baseline": cases[base_index].strategy,
                           **cases[index].point, **stats})
    return StudyResults(pd.DataFrame(rows), pd.DataFrame(paired), out)


def load_episodes(out: str | Path) -> pd.DataFrame:
    """All per-episode results of a study directory in long form (one row per episode and case)."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    frames = []
    for path in sorted((out / "blocks").glob("block-*.parquet")):
        table = pq.read_table(path).to_pandas()
        for index, case in enumerate(manifest["cases"]):
            frames.append(pd.DataFrame({
                "episode": table["episode"], "case": case["label"],
                "strategy": case["strategy"], **case["point"],
                "shortfall": table[f"shortfall_{index}"],
                "final_holdings": table[f"final_holdings_{index}"]}))
    return pd.concat(frames, ignore_index=True)
