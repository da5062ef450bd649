"""Benchmark: `import-shelters` with a shelter list the size of all of Japan (82,557 shelters).

Generates a deterministic GSI 指定避難所 CSV of synthetic shelters, then on a fresh SQLite database
(and on PostgreSQL when reachable) times the first import, the idempotent re-import, and a
re-import in which every tenth shelter was renamed.

    .venv/bin/python bench/import_shelters.py [--rows N] [--seed S] [--no-postgres]

PostgreSQL: the server named by EVAC_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test) is used only to create a database of its own,
EVAC_BENCH_DATABASE_NAME (default evac_bench), dropped and recreated on every run, so a test
run against the `test` database at the same time is never disturbed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from pgdb import postgres_bench_url  # bench/ leads sys.path when run as a script

from evac.app import create_app
from evac.extensions import db
from evac.shelters.importers import GSI_EVACUATION_COLUMNS, import_shelters_file
from evac.shelters.models import Shelter

JAPAN_SHELTERS = 82_557
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
# In 全国地方公共団体コード order: index + 1 is the prefecture code.
PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県",
    "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県",
    "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県",
    "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
KINDS_OF_PLACE = ("小学校", "中学校", "高等学校", "公民館", "体育館", "コミュニティセンター",
                  "市民会館", "集会所")


def synthetic_rows(count: int, seed: int) -> Iterator[list[str]]:
    """GSI 指定避難所 rows: about 1,700 municipalities, their shelters numbered within each."""
    rng = random.Random(seed)
    serials: dict[str, int] = {}
    for n in range(count):
        pref = rng.randrange(1, 48)
        municipality = f"{pref:02d}{rng.randrange(100, 136):03d}"  # 47 x 36, about 1,700 municipalities
        serials[municipality] = serials.get(municipality, 0) + 1
        town = f"{PREFECTURES[pref - 1]}第{municipality[2:]}市"
        place = f"{town[len(PREFECTURES[pref - 1]):]}立第{serials[municipality]}{rng.choice(KINDS_OF_PLACE)}"
        admitted = "要配慮者" if rng.random() < 0.05 else ""
        yield [
            str(40_000 + n), f"E{municipality}{serials[municipality]:05d}111", town, place,
            f"{town}{rng.randrange(1, 30)}丁目{rng.randrange(1, 50)}-{rng.randrange(1, 20)}",
            rng.choice(["1", ""]), "", admitted,
            f"{rng.uniform(24.0, 45.5):.6f}", f"{rng.uniform(123.0, 145.8):.6f}", "",
        ]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    """The rows under the GSI header, as GSI publishes it (UTF-8, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GSI_EVACUATION_COLUMNS)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def bench(label: str, url: str, files: dict[str, Path], rows: int, instance: Path) -> None:
    """Build the schema with the migrations, then time each import on this database."""
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(instance / "sync")})
    with app.app_context():
        upgrade()
        runs = [("first import", files["original"]), ("re-import (idempotent)", files["original"]),
                ("re-import, 1 in 10 renamed", files["renamed"])]
        for name, path in runs:
            start = time.perf_counter()
            report = import_shelters_file(path)
            seconds = time.perf_counter() - start
            print(f"  {label:<10} {name:<28} {seconds:7.2f} s  {rows / seconds:9,.0f} rows/s   "
                  f"added {report.added:,} updated {report.updated:,} unchanged {report.unchanged:,}")
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Shelter))
        assert stored == rows, f"{stored} shelters stored, expected {rows}"
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Generate the files, run the imports on SQLite and PostgreSQL, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=JAPAN_SHELTERS)
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="evac-bench-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        rows = list(synthetic_rows(args.rows, args.seed))
        files = {"original": work / "japan.csv", "renamed": work / "japan_renamed.csv"}
        write_csv(files["original"], rows)
        for n, row in enumerate(rows):
            if n % 10 == 0:
                row[3] += " (改称)"
        write_csv(files["renamed"], rows)
        size = files["original"].stat().st_size
        print(f"evac import-shelters bench: {args.rows:,} synthetic shelters (seed {args.seed}), "
              f"GSI 指定避難所 CSV of {size / 1e6:.1f} MB, generated in {time.perf_counter() - start:.1f} s")

        bench("SQLite", f"sqlite:///{work / 'bench.sqlite3'}", files, args.rows, work)
        if not args.no_postgres:
            server = os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER)
            url = postgres_bench_url(server, os.environ.get("EVAC_BENCH_DATABASE_NAME", "evac_bench"))
            if url:
                bench("PostgreSQL", url, files, args.rows, work)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
