"""The summary's share of `acsim run`'s wall time, beside the per-case summariser (the naive
baseline) measured in the same run.

    python -m acsim.experiments.benchmark_summary [--episodes 200000] [--sweep-values 200]
                                                  [--sweep-episodes 100] [--workers N]

Two studies: the default study (`acsim run`: 3 strategies × 4 couplings) and a sweep of its
three strategies over `--sweep-values` couplings with `--sweep-episodes` episodes. For each:
`run_study` in a fresh folder (simulating and summarising, timed as a whole), then on the
finished study `summarise_study` (the re-summary a rerun does) and the naive baseline: every
case and every paired difference summarised on its own (`summarise_chunks` per case,
`paired_difference` per pair, a pass over the final holdings per case), each pass re-reading
its Parquet columns, as acsim did before issue 13. The tables are checked equal (quantiles
exactly). A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from acsim.experiments.benchmark_timing import machine_header
from acsim.simulator.statistics import paired_difference, summarise_chunks
from acsim.simulator.study import Study, block_path, run_study, summarise_study
from acsim.simulator.study_files import DEFAULT_STUDY


def per_case_summary(study: Study, out: Path) -> tuple[list[dict], list[dict]]:
    """The naive baseline: one case or one paired difference at a time, reading its Parquet
    columns afresh at every pass."""
    files = [block_path(out, block) for block, _ in study.blocks()]

    def column(name: str, minus: str | None = None):
        def chunks():
            for path in files:
                table = pq.read_table(path, columns=[name] if minus is None else [name, minus])
                values = table.column(0).to_numpy()
                yield values if minus is None else values - table.column(1).to_numpy()
        return chunks

    cases = study.cases()
    summaries = []
    for index, case in enumerate(cases):
        market = case.config.market
        summary = summarise_chunks(column(f"shortfall_{index}"), market.shares * market.price,
                                   market.risk_aversion)
        summary["max_abs_final_holdings"] = max(
            float(np.max(np.abs(chunk))) for chunk in column(f"final_holdings_{index}")())
        summaries.append(summary)
    per_point = len(study.strategies)
    paired = [paired_difference(column(f"shortfall_{start + offset}",
                                       f"shortfall_{start + study.baseline}"))
              for start in range(0, len(cases), per_point)
              for offset in range(per_point) if offset != study.baseline]
    return summaries, paired


def seconds(run) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def measure(name: str, study: Study, workers: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="acsim-bench-summary-") as directory:
        total, _ = seconds(lambda: run_study(study, directory, workers=workers, progress=False))
        summary, results = seconds(lambda: summarise_study(study, directory))
        naive, (summaries, paired) = seconds(lambda: per_case_summary(study, Path(directory)))
    for key in ("q05", "q50", "q95", "var95"):
        assert results.summary[key].tolist() == [row[key] for row in summaries], key
    assert np.allclose(results.paired["mean_difference"], [row["mean_difference"]
                                                           for row in paired], rtol=1e-12)
    simulate = total - summary
    return {"study": name, "cases": len(study.cases()), "episodes": study.base.episodes,
            "run_seconds": total, "simulate_seconds": simulate, "summary_seconds": summary,
            "summary_share": summary / total, "naive_seconds": naive,
            "naive_share": naive / (simulate + naive), "speed_up": naive / summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200_000,
                        help="episodes of the default study")
    parser.add_argument("--sweep-values", type=int, default=200)
    parser.add_argument("--sweep-episodes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes for simulating (default: every core)")
    args = parser.parse_args(argv)
    default = dataclasses.replace(DEFAULT_STUDY, base=DEFAULT_STUDY.base.replace(
        simulation={"episodes": args.episodes}))
    sweep = dataclasses.replace(
        DEFAULT_STUDY, base=DEFAULT_STUDY.base.replace(simulation={"episodes":
                                                                   args.sweep_episodes}),
        sweep={"extended.coupling": tuple(float(value) for value in
                                          np.linspace(0.0, 0.01, args.sweep_values))})
    print("\n".join(f"{key}: {value}" for key, value in machine_header(("numpy",
                                                                         "pyarrow")).items()))
    print(f"\n{'study':<34}{'cases':>6}{'run s':>9}{'simulate s':>12}{'summary s':>11}"
          f"{'share':>8}{'naive s':>10}{'naive share':>13}{'speed-up':>10}")
    for name, study in ((f"default ({args.episodes:,} episodes)", default),
                        (f"{args.sweep_values}-value sweep ({args.sweep_episodes} episodes)",
                         sweep)):
        row = measure(name, study, args.workers)
        print(f"{name:<34}{row['cases']:>6}{row['run_seconds']:>9.2f}"
              f"{row['simulate_seconds']:>12.2f}{row['summary_seconds']:>11.2f}"
              f"{row['summary_share']:>8.1%}{row['naive_seconds']:>10.2f}"
              f"{row['naive_share']:>13.1%}{row['speed_up']:>9.1f}×")


if __name__ == "__main__":
    main()
