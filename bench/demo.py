"""Benchmark: `evac demo` (the whole synthetic town) and the resident importer behind it.

On a fresh SQLite database (and on PostgreSQL when reachable) times the first demo build
(migrations, 22 GSI shelters, 36,198 synthetic residents generated and imported, accounts),
the idempotent second build, and a resident re-import in which every tenth phone changed.

    .venv/bin/python bench/demo.py [--residents N] [--seed S] [--no-postgres]

PostgreSQL: the server named by EVAC_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test) is used only to create a database of its own,
EVAC_BENCH_DEMO_DATABASE_NAME (default evac_bench_demo), dropped and recreated on every run,
so a test run against the `test` database at the same time is never disturbed.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import resource
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


def changed_phones(source: Path, target: Path) -> None:
    """A copy of the resident CSV with every tenth row's phone number changed."""
    text = source.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for n, row in enumerate(rows[1:]):
        if n % 10 == 0:
            row[8] = f"0774-00-{n % 10000:04d}"
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    target.write_bytes("\ufeff".encode() + buffer.getvalue().encode("utf-8"))


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


def main(argv: list[str] | None = None) -> None:
    """Run the demo build on SQLite and PostgreSQL and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=36198)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    print(f"evac demo bench: {args.residents:,} synthetic residents (seed {args.seed}), "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="evac-bench-demo-") as tmp:
        work = Path(tmp)
        bench("SQLite", f"sqlite:///{work / 'bench.sqlite3'}", args.residents, args.seed, work)
        if not args.no_postgres:
            server = os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER)
            name = os.environ.get("EVAC_BENCH_DEMO_DATABASE_NAME", "evac_bench_demo")
            url = postgres_bench_url(server, name)
            if url:
                bench("PostgreSQL", url, args.residents, args.seed, work)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
