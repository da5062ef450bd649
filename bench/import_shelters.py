"""Benchmark: `import-shelters` with shelter lists the size of all of Japan, twins merged.

Generates deterministic GSI lists of synthetic sites: 82,557 指定避難所 and 115,402 指定緊急避難場所
(the national counts), of which about 70 % of the 指定避難所 have a twin in the other list with the
same name and address (as in Kyoto's real files: 902 of 1,279). Then on a fresh SQLite database (and
on PostgreSQL when reachable) it times the first import of each list (the second merging the
twins), the idempotent re-import of each, and a re-import of the 指定避難所 list in which every
tenth site was renamed, and checks the number of shelters stored.

    .venv/bin/python bench/import_shelters.py [--rows N] [--emergency-rows M] [--seed S] [--no-postgres]

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
from evac.shelters.importers import import_shelters_file
from evac.shelters.models import Shelter, ShelterListing

JAPAN_SHELTERS = 82_557
JAPAN_EMERGENCY_SITES = 115_402
TWIN_SHARE = 0.7
GSI_EVACUATION_COLUMNS = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", "指定緊急避難場所との住所同一",
    "その他市町村長が必要と認める事項", "受入対象者", "緯度", "経度", "備考",
)
GSI_EMERGENCY_COLUMNS = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", "洪水", "崖崩れ、土石流及び地滑り", "高潮",
    "地震", "津波", "大規模な火事", "内水氾濫", "火山現象", "指定避難所との住所同一", "緯度", "経度", "備考",
)
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
OPEN_GROUND = ("公園", "運動場", "広場", "緑地")


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


def emergency_rows(evacuation: list[list[str]], count: int, seed: int) -> Iterator[list[str]]:
    """GSI 指定緊急避難場所 rows: twins of TWIN_SHARE of the 指定避難所 (same name and address, the
    point a few metres off, their own 共通ID), then open ground of the same municipalities."""
    rng = random.Random(seed + 1)
    twins = [row for row in evacuation if rng.random() < TWIN_SHARE][:count]
    for n, row in enumerate(twins):
        flags = [rng.choice(["1", ""]) for _ in range(8)]
        yield [str(60_000 + n), row[1][:-3] + "201", row[2], row[3], row[4], *flags, "1",
               f"{float(row[8]) + rng.uniform(-0.0005, 0.0005):.6f}",
               f"{float(row[9]) + rng.uniform(-0.0005, 0.0005):.6f}", ""]
    serials: dict[str, int] = {}
    for n in range(count - len(twins)):
        base = evacuation[rng.randrange(len(evacuation))]
        municipality = base[1][1:6]
        serials[municipality] = serials.get(municipality, 0) + 1
        town = base[2]
        place = f"{town[-6:]}第{serials[municipality]}{rng.choice(OPEN_GROUND)}"
        flags = [rng.choice(["1", ""]) for _ in range(8)]
        yield [str(60_000 + len(twins) + n), f"E{municipality}{90_000 + serials[municipality]:05d}201", town, place,
               f"{town}{rng.randrange(1, 30)}丁目{rng.randrange(50, 99)}-{rng.randrange(1, 20)}", *flags, "",
               f"{rng.uniform(24.0, 45.5):.6f}", f"{rng.uniform(123.0, 145.8):.6f}", ""]


def write_csv(path: Path, rows: list[list[str]], header: tuple[str, ...] = GSI_EVACUATION_COLUMNS) -> None:
    """The rows under the GSI header, as GSI publishes it (UTF-8, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def bench(label: str, url: str, files: dict[str, Path], expected: dict[str, int], instance: Path) -> None:
    """Build the schema with the migrations, then time each import on this database."""
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(instance / "sync")})
    with app.app_context():
        upgrade()
        runs = [("指定避難所, first import", files["original"], expected["evacuation"]),
                ("指定緊急避難場所, first (merging)", files["emergency"], expected["emergency"]),
                ("指定避難所, re-import", files["original"], expected["evacuation"]),
                ("指定緊急避難場所, re-import", files["emergency"], expected["emergency"]),
                ("指定避難所, 1 in 10 renamed", files["renamed"], expected["evacuation"])]
        for name, path, rows in runs:
            start = time.perf_counter()
            report = import_shelters_file(path)
            seconds = time.perf_counter() - start
            print(f"  {label:<10} {name:<32} {seconds:7.2f} s  {rows / seconds:8,.0f} rows/s  "
                  f"added {report.added:,} merged {report.merged:,} updated {report.updated:,} "
                  f"unchanged {report.unchanged:,}")
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Shelter))
        listings = db.session.scalar(sa.select(sa.func.count()).select_from(ShelterListing))
        assert stored == expected["shelters"], f"{stored} shelters stored, expected {expected['shelters']}"
        assert listings == expected["evacuation"] + expected["emergency"], f"{listings} listings"
        print(f"  {label:<10} {stored:,} shelters for {listings:,} list rows")
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Generate the files, run the imports on SQLite and PostgreSQL, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=JAPAN_SHELTERS)
    parser.add_argument("--emergency-rows", type=int, default=JAPAN_EMERGENCY_SITES)
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="evac-bench-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        rows = list(synthetic_rows(args.rows, args.seed))
        emergency = list(emergency_rows(rows, args.emergency_rows, args.seed))
        twins = sum(1 for row in emergency if row[13] == "1")
        files = {"original": work / "japan.csv", "renamed": work / "japan_renamed.csv",
                 "emergency": work / "japan_emergency.csv"}
        write_csv(files["original"], rows)
        write_csv(files["emergency"], emergency, GSI_EMERGENCY_COLUMNS)
        for n, row in enumerate(rows):
            if n % 10 == 0:
                row[3] += " (改称)"
        write_csv(files["renamed"], rows)
        size = files["original"].stat().st_size + files["emergency"].stat().st_size
        print(f"evac import-shelters bench: {args.rows:,} 指定避難所 + {len(emergency):,} 指定緊急避難場所 "
              f"({twins:,} twins), synthetic (seed {args.seed}), GSI CSV of {size / 1e6:.1f} MB, "
              f"generated in {time.perf_counter() - start:.1f} s")
        expected = {"evacuation": args.rows, "emergency": len(emergency),
                    "shelters": args.rows + len(emergency) - twins}

        bench("SQLite", f"sqlite:///{work / 'bench.sqlite3'}", files, expected, work)
        if not args.no_postgres:
            server = os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER)
            url = postgres_bench_url(server, os.environ.get("EVAC_BENCH_DATABASE_NAME", "evac_bench"))
            if url:
                bench("PostgreSQL", url, files, expected, work)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
