"""What the planner benchmarks share: timing, the machine header and printing a report.

`timed` runs a callable once untimed (warm-up: numba compiles, caches fill), then `repeats`
times with garbage collection paused (as timeit does), and returns the median wall time and
the median CPU time of this process. On a shared machine a busy neighbour stretches wall time
much more than this process's CPU time, so ratios are best taken on CPU time.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("numpy", "scipy", "numba", "cvxpy", "clarabel")


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of `repeats` calls of run(),
    after one untimed warm-up call, garbage collection paused."""
    run()
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        finally:
            gc.enable()
    return statistics.median(walls), statistics.median(cpus)


def format_seconds(seconds: float) -> str:
    """'  12.34 ms', '  56.7 ns': a duration in a fixed-width column."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.1f} ns"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine_header(packages: tuple[str, ...] = PACKAGES) -> dict:
    """Platform, CPU, package versions and the date of this run."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        **{package: _version(package) for package in packages},
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def benchmark_main(description: str, run: Callable[[argparse.Namespace], list[dict]],
                   table: Callable[[list[dict]], str], argv: list[str] | None,
                   add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
                   ) -> None:
    """The command line of a planner benchmark: --format, --repeats, --seed (and its own
    flags); prints the machine header and the rows as a table or as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    header = machine_header()
    rows = run(args)
    if args.format == "json":
        print(json.dumps({"machine": header, "cases": rows}, indent=2))
    else:
        print("\n".join(f"{key}: {value}" for key, value in header.items()))
        print()
        print(table(rows))
