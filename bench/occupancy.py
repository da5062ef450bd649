"""Benchmark: HQ's occupancy summary at the 2011 peak — 82,557 shelters, 470,000 open stays.

Builds, on a fresh database, all of Japan's designated shelters (bulk insert, not the importer),
470,000 persons in households with needs and pets, and one open stay each spread over about
2,500 open shelters; rebuilds the HQ counters from the stays (timed: that is `evac hq
rebuild-tallies`); then times GET /api/v1/occupancy (and the 24-hour trend) through the Flask
test client with a bearer token, as an HQ page poll would, and prints p50 / p95 / max.

    .venv/bin/python bench/occupancy.py [--persons N] [--open-shelters N] [--requests N] [--no-postgres]

SQLite: a file under /tmp (`--sqlite-path`). PostgreSQL: the server named by
EVAC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) is used only to
create a database of its own, `evac_bench_occ` (`--pg-database`), dropped and recreated on every
run — never the `test` database itself. Two people benchmarking at once give different names.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import io
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pgdb import postgres_bench_url  # bench/ leads sys.path when run as a script

from evac.app import create_app
from evac.extensions import db

JAPAN_SHELTERS = 82_557
PEAK_STAYS = 470_000
OPEN_SHELTERS = 2_500
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "evac_bench_occ"
SQLITE_PATH = Path("/tmp/evac_bench_occ.sqlite3")
TARGET_P95_MS = 100.0
REPEATS = 3

SHELTER_COLUMNS = ("id", "code", "name", "name_kana", "address", "lat", "lon", "municipality_code",
                   "municipality_name", "kind", "hazards", "capacity", "status", "source", "opened_at",
                   "created_at", "updated_at")
HOUSEHOLD_COLUMNS = ("id", "number", "address", "district", "created_at")
PERSON_COLUMNS = ("id", "household_id", "family_name", "given_name", "family_name_kana", "given_name_kana",
                  "name_key", "kana_key", "birth_date", "sex", "address", "needs", "pets", "consent_relatives",
                  "consent_acquaintances", "consent_public", "source", "created_at", "updated_at")
STAY_COLUMNS = ("id", "person_id", "shelter_id", "household_id", "status", "method", "checked_in_at",
                "updated_at", "incident_id")
INCIDENT_COLUMNS = ("id", "name", "kind", "is_open", "public", "started_at")
# Need bits and how common each is among evacuees (a rough, synthetic guess).
NEED_RATES = ((1, 0.28), (2, 0.04), (4, 0.05), (8, 0.01), (16, 0.02), (32, 0.03), (64, 0.04), (128, 0.03),
              (256, 0.02))


def generate(persons: int, open_shelters: int, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """Deterministic rows for every table, as tuples in the column orders above."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    shelters = []
    open_ids = set(rng.sample(range(1, JAPAN_SHELTERS + 1), open_shelters))
    for sid in range(1, JAPAN_SHELTERS + 1):
        municipality = f"{rng.randrange(1, 48):02d}{rng.randrange(100, 136):03d}0"
        capacity = None if rng.random() < 0.25 else rng.randrange(50, 1500, 10)
        is_open = sid in open_ids
        status = ("full" if rng.random() < 0.03 else "open") if is_open else "closed"
        shelters.append((sid, f"B{sid:06d}", f"ベンチ第{sid}避難所", "ベンチヒナンジョ", f"架空県架空市{sid}番地",
                         rng.uniform(24.0, 45.5), rng.uniform(123.0, 145.8), municipality, f"架空市{municipality}",
                         "evacuation", "[]", capacity, status, "bench", now if is_open else None, now, now))
    opened = sorted(open_ids)
    households, people, stays = [], [], []
    pid = 0
    hid = 0
    while pid < persons:
        hid += 1
        size = min(rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5)), persons - pid)
        shelter = rng.choice(opened)
        households.append((hid, f"BH{hid:08d}", "架空県架空市", "架空", now))
        for _ in range(size):
            pid += 1
            needs = sum(bit for bit, rate in NEED_RATES if rng.random() < rate)
            pets = 1 if rng.random() < 0.06 else 0
            people.append((pid, hid, "避難", f"{pid}", "ヒナン", "テスト", f"避難{pid}", "ヒナンテスト",
                           datetime(1930 + pid % 90, 1 + pid % 12, 1 + pid % 28).date(), "other", "架空県架空市",
                           needs, pets, True, False, pid % 3 == 0, "demo", now, now))
            roll = rng.random()
            status = "present" if roll < 0.82 else "outing" if roll < 0.88 else "at_home" if roll < 0.95 else "in_car"
            checked_in = now - timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
            stays.append((pid, pid, shelter, hid, status, "manual", checked_in, checked_in, 1))
    incident = [(1, "ベンチ災害", "disaster", True, True, now - timedelta(days=3))]
    return {"incident": incident, "shelter": shelters, "household": households, "person": people, "stay": stays}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL, executemany on SQLite: minutes of ORM work become seconds."""
    connection = db.session.connection()
    raw = connection.connection.driver_connection
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        [tuple(_sqlite_value(v) for v in row) for row in rows])


def after_bulk_load(tables: Sequence[str]) -> None:
    """After rows were inserted with their ids: PostgreSQL's id sequences moved past them, and
    fresh planner statistics on both databases (as a live database would have)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            for table in tables:
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
            conn.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed_requests(client: Any, path: str, headers: dict[str, str], count: int,
                   before: Callable[[], dict[str, str]] | None = None, status: int = 200,
                   query: Callable[[], dict[str, str]] | None = None) -> tuple[list[float], int]:
    """Milliseconds per request (after two warm-ups) and the bytes of the last answer's body.

    `before` runs untimed before each request and returns extra headers for it (a change to the
    data and the ETag of the last answer, for the conditional polls); `query`, after it, the
    query string (the `since` of a delta poll).
    """
    size = 0
    for _ in range(2):
        client.get(path, headers={**headers, **(before() if before else {})}, query_string=query() if query else None)
    times = []
    for _ in range(count):
        sent = {**headers, **(before() if before else {})}
        args = query() if query else None
        start = time.perf_counter()
        response = client.get(path, headers=sent, query_string=args)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == status, (response.status_code, status)
        size = len(response.data)
    return times, size


def _change_one_counter(shelter_ids: list[int], rng: random.Random) -> None:
    """What a check-in does to the counters, without the check-in: one shelter's occupancy + 1."""
    db.session.execute(sa.text("UPDATE hq_shelter_tally SET occupancy = occupancy + 1, updated_at = :now "
                               "WHERE shelter_id = :sid"),
                       {"now": _sqlite_value(datetime.now(UTC)) if db.engine.dialect.name == "sqlite"
                        else datetime.now(UTC), "sid": rng.choice(shelter_ids)})
    db.session.commit()


def poll_kinds(client: Any, headers: dict[str, str], requests: int, shelter_ids: list[int]) -> dict[str, Any]:
    """The ways the HQ page may poll, each timed `REPEATS` times: p95 per repeat and bytes.

    The baseline is what every poll cost before summaries were kept: the process's kept summary
    is dropped before each poll, so each is built from all rows (plain 200, no ETag, no gzip).
    "changed, plain" writes a counter before each poll as a check-in would (on SQLite that also
    empties the reader's page cache): the kept summary is refreshed with that shelter.
    """
    rng = random.Random(14)
    gzip_headers = {**headers, "Accept-Encoding": "gzip"}
    last: dict[str, str] = {}

    def remember() -> str:
        answer = client.get("/api/v1/occupancy", headers=gzip_headers)
        last["etag"] = answer.headers["ETag"]
        last["since"] = json.loads(gzip.decompress(answer.data) if answer.headers.get("Content-Encoding") == "gzip"
                                   else answer.data)["generated_at"]
        return last["etag"]

    def since() -> dict[str, str]:
        return {"since": last["since"]}

    def changed() -> dict[str, str]:
        etag = last.get("etag") or remember()
        _change_one_counter(shelter_ids, rng)
        last.pop("etag")
        remember()  # untimed: keeps `last` one answer behind the change made above
        _change_one_counter(shelter_ids, rng)
        return {"If-None-Match": etag}

    def changed_plain() -> dict[str, str]:
        _change_one_counter(shelter_ids, rng)
        return {}

    def unchanged() -> dict[str, str]:
        return {"If-None-Match": last.get("etag") or remember()}

    def forgotten() -> dict[str, str]:
        from evac.hq import summary

        summary.cache().clear()
        return {}

    kinds: dict[str, Any] = {}
    for name, extra, before, status, query in (
        ("baseline: built from all rows, plain", headers, forgotten, 200, None),
        ("unchanged, plain 200 (kept summary)", headers, None, 200, None),
        ("changed, plain 200 (no ETag, no gzip)", headers, changed_plain, 200, None),
        ("changed poll: If-None-Match, gzip", gzip_headers, changed, 200, None),
        ("changed delta poll: since=, gzip", gzip_headers, changed, 200, since),
        ("unchanged poll: If-None-Match -> 304", gzip_headers, unchanged, 304, None),
    ):
        p95s, p50s = [], []
        size = 0
        for _ in range(REPEATS):
            last.clear()
            times, size = timed_requests(client, "/api/v1/occupancy", extra, requests, before, status, query)
            p95s.append(_percentile(times, 0.95))
            p50s.append(statistics.median(times))
        kinds[name] = {"p95": p95s, "p50": p50s, "bytes": size}
    return kinds


def bench(label: str, url: str, data: dict[str, list[tuple[Any, ...]]], requests: int, instance: Path) -> dict:
    """Schema by migrations, bulk rows, counters rebuilt, then the timed requests."""
    from flask_migrate import upgrade

    from evac.accounts import service as accounts
    from evac.accounts.models import Role
    from evac.hq import tallies

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(instance / "sync"), "TESTING": True})
    result: dict[str, Any] = {"database": label}
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        for table, columns in (("incident", INCIDENT_COLUMNS), ("shelter", SHELTER_COLUMNS), ("household", HOUSEHOLD_COLUMNS),
                               ("person", PERSON_COLUMNS), ("stay", STAY_COLUMNS)):
            bulk_insert(table, columns, data[table])
        db.session.commit()
        after_bulk_load(("incident", "shelter", "household", "person", "stay"))
        result["load_s"] = time.perf_counter() - started

        started = time.perf_counter()
        report = tallies.rebuild()
        result["rebuild_s"] = time.perf_counter() - started
        result["rebuild"] = report.summary()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))

        accounts.create_account("bench-hq", role=Role.HQ, password="bench bench bench")
        headers = {"Authorization": f"Bearer {accounts.issue_token('bench-hq')}"}
        db.session.commit()
        client = app.test_client()
        body = client.get("/api/v1/occupancy", headers=headers).get_json()
        totals = body["totals"]
        assert totals["occupancy"] + totals["at_home"] + totals["in_car"] <= len(data["stay"])
        result["open_shelters"] = totals["open_shelters"]
        result["totals"] = {k: totals[k] for k in ("occupancy", "households", "at_home", "in_car", "capacity")}
        times, size = timed_requests(client, "/api/v1/occupancy", headers, requests)
        result["occupancy"] = {"p50": statistics.median(times), "p95": _percentile(times, 0.95),
                               "max": max(times), "bytes": size}
        open_ids = [s["id"] for s in body["shelters"] if s["occupancy"]]
        result["polls"] = poll_kinds(client, headers, requests, open_ids)
        times, _ = timed_requests(client, "/api/v1/occupancy/trend", headers, max(20, requests // 4))
        result["trend"] = {"p50": statistics.median(times), "p95": _percentile(times, 0.95), "max": max(times)}
        db.session.remove()
        db.engine.dispose()
    return result


def _postgres_url(database: str) -> str | None:
    return postgres_bench_url(os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER), database)


def report(result: dict[str, Any]) -> str:
    """The lines to paste into a closing note."""
    occ, trend = result["occupancy"], result["trend"]
    verdict = "OK" if occ["p95"] <= TARGET_P95_MS else "OVER TARGET"
    out = io.StringIO()
    out.write(f"[{result['database']}] load {result['load_s']:.1f} s, rebuild-tallies {result['rebuild_s']:.1f} s "
              f"({result['rebuild']})\n")
    out.write(f"  open shelters {result['open_shelters']:,}; totals {json.dumps(result['totals'])}\n")
    out.write(f"  GET /api/v1/occupancy        p50 {occ['p50']:6.1f} ms  p95 {occ['p95']:6.1f} ms  "
              f"max {occ['max']:6.1f} ms  ({occ['bytes'] / 1024:.0f} KiB)  target p95 <= {TARGET_P95_MS:.0f} ms: "
              f"{verdict}\n")
    polls = result["polls"]
    base = statistics.median(next(iter(polls.values()))["p95"])
    for name, kind in polls.items():
        p95 = statistics.median(kind["p95"])
        verdict = "" if name.startswith("baseline") else (
            f"  target <= {TARGET_P95_MS:.0f}: {'OK' if p95 <= TARGET_P95_MS else 'OVER'}")
        out.write(f"  {name:<38} p95 min {min(kind['p95']):6.1f} median {p95:6.1f} ms  "
                  f"p50 median {statistics.median(kind['p50']):6.1f} ms  {kind['bytes']:>9,} bytes/poll  "
                  f"p95 ratio to baseline {p95 / base:4.2f}{verdict}\n")
    out.write(f"  GET /api/v1/occupancy/trend  p50 {trend['p50']:6.1f} ms  p95 {trend['p95']:6.1f} ms  "
              f"max {trend['max']:6.1f} ms\n")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=PEAK_STAYS)
    parser.add_argument("--open-shelters", type=int, default=OPEN_SHELTERS)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--sqlite-path", type=Path, default=SQLITE_PATH)
    parser.add_argument("--pg-database", default=PG_DATABASE, help="dropped and recreated: never a shared one")
    args = parser.parse_args()

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average {load} ({os.cpu_count()} cores); {REPEATS} repeats of {args.requests} polls each")
    started = time.perf_counter()
    data = generate(args.persons, args.open_shelters, args.seed)
    print(f"generated {len(data['shelter']):,} shelters, {len(data['household']):,} households, "
          f"{len(data['person']):,} persons and open stays over {args.open_shelters:,} open shelters "
          f"in {time.perf_counter() - started:.1f} s")
    # The generated rows (millions of tuples) stay alive for both databases; left to the cyclic
    # collector, every full collection walks them all, and the polls that allocate most (a plain
    # 1.4 MB answer) pay 100+ ms pauses that a server process, which holds no such data, never has.
    gc.freeze()
    instance = args.sqlite_path.with_name(args.sqlite_path.stem + "_instance")
    instance.mkdir(exist_ok=True)
    if not args.no_sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite_path}{suffix}").unlink(missing_ok=True)
        print(report(bench("SQLite", f"sqlite:///{args.sqlite_path}", data, args.requests, instance)), flush=True)
    if not args.no_postgres:
        url = _postgres_url(args.pg_database)
        if url:
            print(report(bench("PostgreSQL", url, data, args.requests, instance)), flush=True)


if __name__ == "__main__":
    main()
