"""Benchmark: `evac demo` (the whole synthetic town) and the resident importer behind it.

For the default town (36,198 residents) and a larger one (--residents, default 200,000), on a
fresh SQLite database and on PostgreSQL when reachable, times the first demo build (migrations,
22 GSI shelters, synthetic residents generated and imported, accounts), the idempotent second
build, and a resident re-import in which every tenth phone changed. Each (database, size) runs
in a child process of its own, so its peak RSS is its own; the ratio of the larger town's peak
to the default town's says whether memory stays bounded (about 1: it does; about N: it grows
with the town).

    .venv/bin/python bench/demo.py [--residents N] [--seed S] [--no-postgres] [--no-sqlite]

PostgreSQL: the server named by EVAC_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test) is used only to create a database of its own,
EVAC_BENCH_DEMO_DATABASE_NAME (default evac_bench_demo), dropped and recreated for every size,
so a test run against the `test` database at the same time is never disturbed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgdb import postgres_bench_url

from evac.app import create_app
from evac.demo.service import build_demo_town
from evac.extensions import db
from evac.people.importers import import_residents_file
from evac.people.models import Person

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_RESIDENTS = 36_198  # the default demo town


def changed_phones(source: Path, target: Path) -> None:
    """A copy of the resident CSV with every tenth row's phone number changed (row by row)."""
    with source.open(encoding="utf-8-sig", newline="") as reading, \
            target.open("w", encoding="utf-8", newline="") as writing:
        writing.write("\ufeff")
        writer = csv.writer(writing, lineterminator="\r\n")
        rows = csv.reader(reading)
        writer.writerow(next(rows))
        for n, row in enumerate(rows):
            if n % 10 == 0:
                row[8] = f"0774-00-{n % 10000:04d}"
            writer.writerow(row)


def bench(label: str, url: str, residents: int, seed: int, work: Path) -> None:
    """Build the demo twice and re-import a changed file on this database, printing the times."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(work / "sync")})
    logging.getLogger("evac").setLevel(logging.WARNING)
    path = work / f"residents-{label}.csv"
    with app.app_context():
        for name in ("first build", "second build (idempotent)"):
            result = build_demo_town(residents=residents, seed=seed, csv_path=path)
            steps = ", ".join(f"{step} {seconds:.2f}" for step, seconds in result.seconds.items()
                              if step != "total")
            report = result.resident_report
            print(f"  {label:<10} {name:<28} {result.seconds['total']:6.2f} s  ({steps})  "
                  f"added {report.added:,} unchanged {report.unchanged:,}")
        changed = work / f"residents-{label}-changed.csv"
        changed_phones(path, changed)
        start = time.perf_counter()
        report = import_residents_file(changed)
        seconds = time.perf_counter() - start
        print(f"  {label:<10} {'re-import, 1 in 10 changed':<28} {seconds:6.2f} s  "
              f"{residents / seconds:9,.0f} rows/s  "
              f"updated {report.updated:,} unchanged {report.unchanged:,}")
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Person))
        assert stored == residents, f"{stored} persons stored, expected {residents}"
        db.session.remove()
        db.engine.dispose()


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(label: str, url: str, residents: int, seed: int) -> None:
    """One (database, size) in this process: the timings, then its peak RSS on a line of its own."""
    with tempfile.TemporaryDirectory(prefix="evac-bench-demo-") as tmp:
        started = time.perf_counter()
        bench(label, url.replace("{tmp}", tmp), residents, seed, Path(tmp))
        wall = time.perf_counter() - started
    print(f"  {label:<10} {residents:>9,} residents: wall {wall:7.1f} s, peak RSS {peak_rss_mb():6.0f} MB")
    print(f"PEAK {peak_rss_mb():.1f} {wall:.3f}")


def run_child(label: str, url: str, residents: int, seed: int) -> tuple[float, float]:
    """Run `child` in a fresh interpreter; pass its lines through; return (peak RSS MB, wall s)."""
    command = [sys.executable, __file__, "--child", label, url, str(residents), "--seed", str(seed)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    peak = wall = 0.0
    for line in out.splitlines():
        if line.startswith("PEAK "):
            peak, wall = (float(v) for v in line.split()[1:])
        else:
            print(line, flush=True)
    return peak, wall


def main(argv: list[str] | None = None) -> None:
    """Run the demo build for both sizes on SQLite and PostgreSQL and print timings and peaks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200_000, help="the larger town (default 200,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("LABEL", "URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        label, url, n = args.child
        child(label, url, int(n), args.seed)
        return
    sizes = (DEFAULT_RESIDENTS, args.residents) if args.residents != DEFAULT_RESIDENTS else (DEFAULT_RESIDENTS,)
    print(f"evac demo bench: {' and '.join(f'{n:,}' for n in sizes)} synthetic residents (seed {args.seed}), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    databases = [] if args.no_sqlite else [("SQLite", "sqlite:///{tmp}/bench.sqlite3")]
    server = os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER)
    name = os.environ.get("EVAC_BENCH_DEMO_DATABASE_NAME", "evac_bench_demo")
    results: dict[tuple[str, int], tuple[float, float]] = {}
    for label, url in databases + ([] if args.no_postgres else [("PostgreSQL", "")]):
        for n in sizes:
            if label == "PostgreSQL":
                url = postgres_bench_url(server, name) or ""
                if not url:
                    break
            results[label, n] = run_child(label, url, n, args.seed)
    print(f"summary (load average {os.getloadavg()[0]:.2f}):")
    for (label, n), (peak, wall) in results.items():
        line = f"  {label:<10} {n:>9,} residents: wall {wall:7.1f} s ({n / wall:7,.0f} residents/s), peak RSS {peak:6.0f} MB"
        base = results.get((label, DEFAULT_RESIDENTS))
        if base and n != DEFAULT_RESIDENTS:
            line += f", {peak / base[0]:.2f}× the peak at {DEFAULT_RESIDENTS:,} ({n / DEFAULT_RESIDENTS:.1f}× the residents)"
        print(line)


if __name__ == "__main__":
    main()
