"""Start-up benchmark: wall time of `acsim --help` and `acsim schedule`, warm, beside the
interpreter's own start-up and an `import numpy` measured in the same run.

    python -m acsim.experiments.benchmark_startup [--repeats 15]

Each command runs `repeats` times in a fresh interpreter (after one untimed warm-up run that
fills the file cache and Python's bytecode cache); the median is reported. A benchmark, not a
test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (interpreter start-up)": [sys.executable, "-c", "pass"],
    "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
    "acsim --help": [sys.executable, "-m", "acsim.experiments.cli", "--help"],
    "acsim schedule --steps 6": [sys.executable, "-m", "acsim.experiments.cli", "schedule",
                                 "--steps", "6"],
    "acsim simulate --help": [sys.executable, "-m", "acsim.experiments.cli", "simulate", "--help"],
}


def median_seconds(command: list[str], repeats: int) -> float:
    subprocess.run(command, check=True, capture_output=True)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"{'command':<42}{'median seconds':>16}")
    for name, command in COMMANDS.items():
        print(f"{name:<42}{median_seconds(command, args.repeats):>16.3f}")


if __name__ == "__main__":
    main()
