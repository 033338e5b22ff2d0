"""CLI start-up: `gate decide FILE` and `gate --help` against `python -c "import json"`.

Each command runs as a whole process (interpreter start-up included), alternating with the
baseline (A B A B ...) so both see the same machine state; the ratio is taken pair by pair and
the median reported, for wall time and for CPU time (user + system of the finished child, from
the operating system's own accounting). Target from issue 15: at most 5x the baseline.

    .venv/bin/python benchmarks/bench_cli_startup.py [runs]

To see where the time goes: `.venv/bin/python -X importtime -m gate.cli.main decide FILE`.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE = sorted((ROOT / "examples").glob("*.json"))[0]

BASELINE = [sys.executable, "-c", "import json"]
COMMANDS = {
    "gate decide FILE": [str(BIN / "gate"), "decide", str(EXAMPLE)],
    "gate --help": [str(BIN / "gate"), "--help"],
}


def one_run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, cpu seconds) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    if not (BIN / "gate").exists():
        sys.exit(f"no gate command next to {sys.executable}: install the project first")
    os.environ.setdefault("COLUMNS", "100")
    print(f"{runs} paired runs each; baseline: python -c 'import json'")
    print(
        f"{'command':<18} {'wall ms':>9} {'base ms':>9} {'x wall':>7} {'cpu ms':>8} "
        f"{'base ms':>8} {'x cpu':>7}"
    )
    for name, argv in COMMANDS.items():
        one_run(argv)  # warm the file cache for both
        one_run(BASELINE)
        pairs = [(one_run(argv), one_run(BASELINE)) for _ in range(runs)]
        wall = statistics.median(a[0] for a, _ in pairs)
        base_wall = statistics.median(b[0] for _, b in pairs)
        cpu = statistics.median(a[1] for a, _ in pairs)
        base_cpu = statistics.median(b[1] for _, b in pairs)
        x_wall = statistics.median(a[0] / b[0] for a, b in pairs)
        x_cpu = statistics.median(a[1] / max(b[1], 1e-3) for a, b in pairs)
        print(
            f"{name:<18} {wall * 1e3:>9.0f} {base_wall * 1e3:>9.0f} {x_wall:>7.1f} "
            f"{cpu * 1e3:>8.0f} {base_cpu * 1e3:>8.0f} {x_cpu:>7.1f}"
        )


if __name__ == "__main__":
    main()
