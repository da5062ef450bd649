"""Benchmark: person search (GET /api/v1/persons) over a city-sized register — 1,000,000 persons.

Builds, on a fresh database, a million persons in households with names drawn from common
Japanese family and given names (their search keys made by evac's own normalisation,
`name_key` / `kana_key`, bulk inserted), 3 % of them staying at 40 open shelters. Then, through
the Flask test client with bearer tokens, times kana and kanji prefixes of 1 to 6 characters,
with and without a birth date, as HQ (the whole register) and as staff (scoped to two
shelters), and as the baseline in the same run the trivial `/healthz`. Prints p50 / p95 / p99,
the ratio of each p95 to the baseline's, SQL statements per request, and the query plan of the
search statement for one kana and one kanji prefix.

    .venv/bin/python bench/search.py [--persons N] [--requests N] [--no-postgres] [--no-sqlite]

PostgreSQL: the server of EVAC_BENCH_DATABASE_URL, in a database of the bench's own, dropped and
recreated: EVAC_BENCH_SEARCH_DATABASE_NAME (default evac_bench_search).

Target (issue 14): p95 ≤ 20 ms on both databases, 1-character prefixes included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from occupancy import after_bulk_load, bulk_insert  # bench/ leads sys.path when run as a script
from pgdb import postgres_bench_url

from evac.app import create_app
from evac.common.textnorm import kana_key, name_key
from evac.extensions import db

FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
          ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
          ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
          ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
          ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
          ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"), ("石井", "イシイ"), ("小川", "オガワ"),
          ("前田", "マエダ"), ("岡田", "オカダ"), ("長谷川", "ハセガワ"), ("藤田", "フジタ"), ("後藤", "ゴトウ"),
          ("近藤", "コンドウ"), ("村上", "ムラカミ"), ("遠藤", "エンドウ"), ("青木", "アオキ"), ("坂本", "サカモト"),
          ("岩田", "イワタ"), ("精華", "セイカ"), ("祝園", "ホウソノ"), ("菱田", "ヒシダ"), ("北村", "キタムラ")]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("翔太", "ショウタ"), ("陽菜", "ヒナ"), ("大輔", "ダイスケ"),
         ("美咲", "ミサキ"), ("健一", "ケンイチ"), ("由美", "ユミ"), ("誠", "マコト"), ("明美", "アケミ"),
         ("浩", "ヒロシ"), ("恵子", "ケイコ"), ("蓮", "レン"), ("結衣", "ユイ"), ("悠真", "ユウマ"),
         ("葵", "アオイ"), ("湊", "ミナト"), ("凛", "リン"), ("哲也", "テツヤ"), ("裕子", "ユウコ"),
         ("隆", "タカシ"), ("幸子", "サチコ"), ("一郎", "イチロウ"), ("和子", "カズコ"), ("直樹", "ナオキ"),
         ("真由美", "マユミ"), ("拓海", "タクミ"), ("さくら", "サクラ"), ("大和", "ヤマト"), ("千尋", "チヒロ")]
OPEN_SHELTERS = 40
STAYING = 0.03
QUERIES = [("kana 1", "ヤ"), ("kana 2", "タナ"), ("kana 4", "タナカハ"), ("kana full", "タナカ ハナコ"),
           ("kanji 1", "山"), ("kanji 2", "田中"), ("kanji 3", "田中花"), ("kanji full", "田中 花子")]
PERSON_COLUMNS = ("id", "household_id", "family_name", "given_name", "family_name_kana", "given_name_kana",
                  "name_key", "kana_key", "birth_date", "sex", "address", "needs", "pets", "consent_relatives",
                  "consent_acquaintances", "consent_public", "source", "created_at", "updated_at")


def _people(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    household = 0
    pid = 0
    while pid < count:
        household += 1
        family, family_kana = rng.choice(FAMILY)
        for _ in range(min(rng.choice((1, 2, 2, 3, 3, 4)), count - pid)):
            pid += 1
            given, given_kana = rng.choice(GIVEN)
            born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 95 * 365))
            yield (pid, household, family, given, family_kana, given_kana, name_key(family, given),
                   kana_key(family_kana, given_kana), born, rng.choice(("male", "female")), "京都府相楽郡精華町",
                   0, 0, False, False, False, "register", now, now)


def build(count: int) -> tuple[int, date]:
    """Households, persons, shelters and stays; returns the number of stays and one birth date to ask for."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    rows = list(_people(count, rng))
    households = rows[-1][1]
    bulk_insert("household", ("id", "number", "address", "district", "created_at"),
                ((h, f"SH{h:08d}", "京都府相楽郡精華町", "祝園", now) for h in range(1, households + 1)))
    for start in range(0, len(rows), 100_000):
        bulk_insert("person", PERSON_COLUMNS, rows[start:start + 100_000])
    bulk_insert("shelter", ("id", "code", "name", "name_kana", "kind", "hazards", "status", "source", "opened_at",
                            "created_at", "updated_at"),
                ((s, f"S{s:05d}", f"ベンチ避難所{s}", "ベンチヒナンジョ", "evacuation", "[]", "open", "bench", now,
                  now, now) for s in range(1, OPEN_SHELTERS + 1)))
    db.session.commit()
    from evac.hq import incidents

    incident = incidents.open_incident(None, "ベンチ災害", "disaster")["id"]
    staying = rng.sample(range(len(rows)), int(len(rows) * STAYING))
    bulk_insert("stay", ("id", "person_id", "shelter_id", "household_id", "incident_id", "status", "method",
                         "checked_in_at", "updated_at"),
                ((n + 1, rows[i][0], 1 + i % OPEN_SHELTERS, rows[i][1], incident, "present", "manual", now, now)
                 for n, i in enumerate(staying)))
    db.session.commit()
    return len(staying), rows[len(rows) // 2][8]


class Statements:
    """Counts SQL statements, and keeps the last SELECT on person (for its plan)."""

    def __init__(self) -> None:
        self.count = 0
        self.search: tuple[str, Any] | None = None

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        self.count += 1
        if statement.lstrip().upper().startswith("SELECT") and "kana_key" in statement and "FROM person" in statement:
            self.search = (statement, parameters)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _timed(client: Any, path: str, headers: dict[str, str], requests: int, counter: Statements) -> dict[str, Any]:
    for _ in range(3):
        assert client.get(path, headers=headers).status_code == 200
    times: list[float] = []
    before = counter.count
    found = 0
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[:200]
        found = len(response.get_json().get("items", [])) if path.startswith("/api/") else 0
    return {"p50": statistics.median(times), "p95": _percentile(times, 0.95), "p99": _percentile(times, 0.99),
            "statements": (counter.count - before) / requests, "found": found}


def _plan(statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN " + statement, parameters)
            return [row[0] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in cursor.fetchall()]


def run(label: str, url: str, workdir: Path, persons: int, requests: int) -> None:
    from flask_migrate import upgrade

    from evac.accounts import service as accounts
    from evac.accounts.models import Role

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench", "TESTING": True,
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_INSTANCE_PATH": str(workdir),
                      "EVAC_AUDIT_JOURNAL_DIR": str(workdir / "audit-journal")})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        stays, born = build(persons)
        after_bulk_load(("incident", "household", "person", "shelter", "stay"))
        built = time.perf_counter() - started
        accounts.create_account("bench-hq", role=Role.HQ, password="bench bench bench")
        accounts.create_account("bench-staff", role=Role.STAFF, password="bench bench bench", shelter_ids=[1, 2])
        callers = {"HQ": {"Authorization": f"Bearer {accounts.issue_token('bench-hq')}"},
                   "staff": {"Authorization": f"Bearer {accounts.issue_token('bench-staff')}"}}
        counter = Statements()
        sa.event.listen(db.engine, "before_cursor_execute", counter)
        client = app.test_client()
        load = os.getloadavg()
        print(f"{label}: {persons:,} persons, {stays:,} staying at {OPEN_SHELTERS} shelters, built in {built:.0f} s;"
              f" load average {load[0]:.2f} {load[1]:.2f}")
        baseline = _timed(client, "/healthz", {}, requests, counter)
        print(f"  baseline /healthz: p50 {baseline['p50']:.2f} ms · p95 {baseline['p95']:.2f} ms")
        print(f"  {'query':<22} {'caller':<6} {'found':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'p95/base':>8} {'stmts':>6}")
        plans: dict[str, tuple[str, Any]] = {}
        for name, text in QUERIES:
            for with_birth in (False, True):
                query = f"/api/v1/persons?q={text}" + (f"&birth_date={born.isoformat()}" if with_birth else "")
                for caller, headers in callers.items():
                    result = _timed(client, query, headers, requests, counter)
                    if caller == "HQ" and not with_birth and name in ("kana 1", "kanji 1") and counter.search:
                        plans[name] = counter.search
                    title = name + (" + birth" if with_birth else "")
                    print(f"  {title:<22} {caller:<6} {result['found']:>5} {result['p50']:>8.2f} "
                          f"{result['p95']:>8.2f} {result['p99']:>8.2f} {result['p95'] / baseline['p95']:>8.1f} "
                          f"{result['statements']:>6.1f}")
        for name, (statement, parameters) in plans.items():
            print(f"  plan ({name}, HQ):")
            for line in _plan(statement, parameters):
                print(f"    {line}")
        sa.event.remove(db.engine, "before_cursor_execute", counter)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evac-bench-search-") as tmp:
        if not args.no_sqlite:
            work = Path(tmp) / "sqlite"
            work.mkdir()
            run("SQLite", f"sqlite:///{work / 'evac.sqlite3'}", work, args.persons, args.requests)
        if not args.no_postgres:
            server = os.environ.get("EVAC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
            url = postgres_bench_url(server, os.environ.get("EVAC_BENCH_SEARCH_DATABASE_NAME", "evac_bench_search"))
            if url is not None:
                work = Path(tmp) / "pg"
                work.mkdir()
                run("PostgreSQL", url, work, args.persons, args.requests)


if __name__ == "__main__":
    main()
