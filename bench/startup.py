"""Benchmark: how long `evac --help` takes, beside a bare `python -c pass` in the same run.

Runs each command five times per repeat (median of 5), three repeats, and prints min / median of
the repeats, the ratio to the baseline, the load average (2 shared cores: read the ratio, not the
seconds) and how many modules `evac --help` imports.

    .venv/bin/python bench/startup.py [--runs 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.4
EVAC = [str(Path(sys.executable).with_name("evac")), "--help"]
BASELINE = [sys.executable, "-c", "pass"]
COUNT_MODULES = """
import json, sys
sys.argv = ["evac", "--help"]
from evac.cli import main
try:
    main()
except SystemExit:
    pass
heavy = [m for m in ("reportlab", "faker", "alembic", "sqlalchemy", "argon2", "evac.app") if m in sys.modules]
print(json.dumps({"modules": len(sys.modules), "heavy": heavy}))
"""


def wall(command: list[str]) -> float:
    """Seconds of one run, output discarded."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def median_of(command: list[str], runs: int) -> float:
    """The median wall time of `runs` runs."""
    return statistics.median(wall(command) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    wall(EVAC)  # warm the page cache and the .pyc files
    evac, base = [], []
    for _ in range(args.repeats):
        base.append(median_of(BASELINE, args.runs))
        evac.append(median_of(EVAC, args.runs))
    last = subprocess.run([sys.executable, "-c", COUNT_MODULES], capture_output=True, text=True, check=True)
    probe = json.loads(last.stdout.strip().splitlines()[-1])
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    ratios = [e / b for e, b in zip(evac, base, strict=True)]
    print(f"load average {load} ({os.cpu_count()} cores); median of {args.runs} runs, {args.repeats} repeats")
    print(f"  python -c pass  min {min(base):.3f} s  median {statistics.median(base):.3f} s")
    verdict = "OK" if statistics.median(evac) <= TARGET_S else "OVER TARGET"
    print(f"  evac --help     min {min(evac):.3f} s  median {statistics.median(evac):.3f} s  "
          f"ratio to baseline min {min(ratios):.1f}x median {statistics.median(ratios):.1f}x  "
          f"target <= {TARGET_S} s: {verdict}")
    print(f"  modules imported by evac --help: {probe['modules']}; heavy ones among them: {probe['heavy'] or 'none'}")


if __name__ == "__main__":
    main()
