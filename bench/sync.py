"""Benchmark: drain a backlog of 100,000 outbox events into the loopback reference receiver.

On a fresh SQLite database in a temporary folder (and on PostgreSQL when reachable), writes a
backlog of realistic events (the payloads the check-in service writes, for a few thousand
synthetic persons across Seika's 18 shelters), starts `evac sync receiver` as its own process
and times one sync pass of the `http` connector until the backlog is empty: events per second
(target ≥ 2,000). The receiver's store is then checked: every event once, none missing, each
person's events in order.

Then the latency: `evac sync run` is started as its own process with a 10 s interval and a few
real check-ins are made while it runs; for each, the time from the check-in's commit to its
event's arrival at the receiver.

    .venv/bin/python bench/sync.py [--events N] [--checkins N] [--interval S] [--no-postgres] [--no-sqlite]

PostgreSQL: the server named by EVAC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
is used only to create a database of its own, `evac_bench_sync`, dropped and recreated each run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/sync.py`, this file's folder leads sys.path and its name would shadow the
# `sync` package it measures.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import contextlib
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from evac.accounts import service as accounts
from evac.accounts.models import Role, StaffAccount
from evac.app import create_app
from evac.checkin import service as checkin_service
from evac.common.db import now_utc
from evac.common.vocab import Sex
from evac.extensions import db
from evac.outbox.models import OutboxEvent
from evac.people import service as people
from evac.people.models import Person, PersonSource
from evac.settings import normalise_database_url
from evac.shelters import service as shelters
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus
from sync.config import SyncConfig
from sync.runner import SyncRunner

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "evac_bench_sync"
SECRET = "bench-sync-secret"
EVENT_CYCLE = ("checkin", "outing", "return", "transfer", "checkout")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _evac(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "evac", *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the receiver exited at start")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the receiver did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _seed(events: int, persons: int, rng: random.Random) -> None:
    """Shelters, persons and a backlog of outbox events shaped like the check-in service's."""
    db.session.execute(sa.insert(Shelter), [
        {"code": f"BENCH{i:03d}", "name": f"精華町ベンチ避難所{i}", "name_kana": "ベンチヒナンジョ",
         "address": "京都府相楽郡精華町南稲八妻北尻70", "lat": 34.76, "lon": 135.78, "municipality_code": "263664",
         "kind": ShelterKind.EVACUATION, "status": ShelterStatus.OPEN, "capacity": 800, "source": "bench",
         "hazards": [], "created_at": now_utc(), "updated_at": now_utc()}
        for i in range(18)])
    families = ["山田", "田中", "佐藤", "鈴木", "高橋", "渡辺", "伊藤", "中村", "小林", "加藤"]
    givens = ["花子", "太郎", "一郎", "美咲", "翔太", "陽菜", "蓮", "結衣", "大翔", "さくら"]
    db.session.execute(sa.insert(Person), [
        {"family_name": rng.choice(families), "given_name": rng.choice(givens), "family_name_kana": "ヤマダ",
         "given_name_kana": "ハナコ", "name_key": f"bench{i}", "kana_key": "ヤマダハナコ",
         "birth_date": None, "sex": rng.choice(list(Sex)), "postal_code": "619-0245",
         "address": f"京都府相楽郡精華町光台{rng.randint(1, 9)}丁目{rng.randint(1, 40)}番地", "phone": "0774-00-0000",
         "needs": rng.choice([0, 0, 0, 1, 4, 33]), "pets": 0, "consent_relatives": True,
         "consent_acquaintances": rng.random() < 0.5, "consent_public": False, "source": PersonSource.DEMO,
         "created_at": now_utc(), "updated_at": now_utc()}
        for i in range(persons)])
    db.session.commit()
    shelter_payloads = [shelters.shelter_payload(s) for s in db.session.scalars(sa.select(Shelter))]
    person_rows = list(db.session.scalars(sa.select(Person)))
    person_payloads = {p.id: people.sync_payload(p) for p in person_rows}
    person_ids = list(person_payloads)
    start = now_utc() - timedelta(hours=6)
    chunk: list[dict[str, Any]] = []
    for n in range(events):
        pid = person_ids[n % len(person_ids)]
        shelter = shelter_payloads[(n // len(person_ids) + pid) % len(shelter_payloads)]
        kind = EVENT_CYCLE[(n // len(person_ids)) % len(EVENT_CYCLE)]
        at = start + timedelta(milliseconds=n * 100)
        stay = {"id": n + 1, "person_id": pid, "shelter_id": shelter["id"], "household_id": None,
                "status": {"checkin": "present", "outing": "outing", "return": "present", "transfer": "present",
                           "checkout": "left"}[kind], "method": "qr", "checked_in_at": at.isoformat(),
                "checked_out_at": at.isoformat() if kind == "checkout" else None, "transferred_to_id": None}
        chunk.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": kind,
                      "occurred_at": at, "person_id": pid, "shelter_id": shelter["id"],
                      "payload": {"shelter": shelter, "person": person_payloads[pid], "stay": stay}})
        if len(chunk) == 5000:
            db.session.execute(sa.insert(OutboxEvent), chunk)
            chunk = []
    if chunk:
        db.session.execute(sa.insert(OutboxEvent), chunk)
    db.session.commit()


def _receiver_check(store: Path, expected: int) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(store)) as conn:
        events = conn.execute("SELECT COUNT(*) FROM event").fetchone()[0]
        arrivals, dups = conn.execute("SELECT COUNT(*), COALESCE(SUM(duplicate), 0) FROM arrival").fetchone()
        disorder = conn.execute(
            "SELECT COUNT(*) FROM (SELECT seq, LAG(seq) OVER (PARTITION BY person_id ORDER BY arrival) AS prev "
            "FROM event) WHERE prev > seq").fetchone()[0]
        batches = conn.execute("SELECT COUNT(*) FROM batch").fetchone()[0]
    return {"expected": expected, "stored": events, "missing": expected - events, "arrivals": arrivals,
            "repeats_dropped": dups, "out_of_order_persons": disorder, "batches": batches}


def _latency(app: Any, env: dict[str, str], url: str, store: Path, checkins: int, interval: float,
             workdir: Path) -> list[float]:
    """Check-ins made while `evac sync run` runs; seconds from commit to arrival at the receiver."""
    with app.app_context():
        account_id = accounts.create_account("bench-hq", role=Role.HQ, password="bench-password-123").id
        shelter_ids = list(db.session.scalars(sa.select(Shelter.id)))
        fresh = [p.id for p in db.session.scalars(sa.select(Person).order_by(Person.id.desc()).limit(checkins))]
        db.session.rollback()
    sender_env = {**env, "EVAC_SYNC_CONNECTOR": "http", "EVAC_SYNC_URL": url, "EVAC_SYNC_INTERVAL": f"{interval:g}"}
    sender = _evac("sync", "run", env=sender_env, log=workdir / "sender.log")
    rng = random.Random(5)
    made: list[tuple[str, float]] = []
    try:
        time.sleep(3)  # let it start and run its first pass
        for pid in fresh:
            time.sleep(rng.uniform(1.0, interval * 0.7))
            with app.app_context():
                account = db.session.get(StaffAccount, account_id)
                checkin_service.checkin(account, {"shelter_id": rng.choice(shelter_ids),
                                                  "client_id": str(uuid.uuid4()), "person_id": pid,
                                                  "transfer": True})
                committed = time.time()
                event_id = db.session.scalar(sa.select(OutboxEvent.event_id).where(OutboxEvent.person_id == pid)
                                             .order_by(OutboxEvent.seq.desc()).limit(1))
                db.session.rollback()
            made.append((event_id, committed))
        latencies: dict[str, float] = {}
        deadline = time.monotonic() + interval * 3 + 10
        while len(latencies) < len(made) and time.monotonic() < deadline:
            with contextlib.closing(sqlite3.connect(store)) as conn:
                for event_id, committed in made:
                    row = conn.execute("SELECT received_at FROM event WHERE event_id = ?", (event_id,)).fetchone()
                    if row and event_id not in latencies:
                        latencies[event_id] = row[0] - committed
            time.sleep(0.1)
    finally:
        _stop(sender)
    if len(latencies) < len(made):
        tail = (workdir / "sender.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"only {len(latencies)} of {len(made)} check-ins reached the receiver; sender log:\n{tail}")
    return [latencies[e] for e, _t in made]


def run(label: str, url: str, events: int, persons: int, checkins: int, interval: float, workdir: Path) -> None:
    """One database: seed, drain, check, then latency under the scheduler."""
    workdir.mkdir(parents=True, exist_ok=True)
    instance = workdir / "instance"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(instance / "sync")})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        _seed(events, persons, random.Random(1))
        seeded = time.perf_counter() - t0
        db.session.remove()

    port = _free_port()
    store = workdir / "received.sqlite3"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("EVAC_")},
           "EVAC_INSTANCE_PATH": str(instance), "EVAC_DATABASE_URL": url, "EVAC_SECRET_KEY": "bench",
           "EVAC_CARD_KEY": "bench", "EVAC_SYNC_SECRET": SECRET, "EVAC_LOG_LEVEL": "WARNING"}
    receiver = _evac("sync", "receiver", "--port", str(port), "--store", str(store), "--quiet",
                     env=env, log=workdir / "receiver.log")
    try:
        _wait_listening(port, receiver)
        target = f"http://127.0.0.1:{port}/roster"
        cfg = SyncConfig.from_app(app.config, connector="http", url=target, secret=SECRET)
        runner = SyncRunner(app, cfg)
        t0 = time.perf_counter()
        report = runner.run_pass()
        drained = time.perf_counter() - t0
        runner.close()
        check = _receiver_check(store, events)
        print(f"[{label}] backlog {events:,} events (seeded in {seeded:.1f} s), batches of ≤{cfg.batch_size} "
              f"events / ≤{cfg.batch_bytes // 1024} KiB")
        print(f"[{label}] drained in {drained:.2f} s: {events / drained:,.0f} events/s "
              f"(target ≥ 2,000); pass: delivered={report.delivered:,} batches={report.batches} "
              f"retries={report.retries} drained={report.drained}")
        print(f"[{label}] receiver: stored={check['stored']:,} missing={check['missing']} "
              f"repeats_dropped={check['repeats_dropped']} persons_out_of_order={check['out_of_order_persons']} "
              f"batches={check['batches']}")
        if check["missing"] or check["out_of_order_persons"] or check["stored"] != events:
            raise SystemExit(f"[{label}] FAILED: {check}")
        latencies = _latency(app, env, target, store, checkins, interval, workdir)
        print(f"[{label}] check-in → receiver with EVAC_SYNC_INTERVAL={interval:g} s, {len(latencies)} check-ins: "
              + ", ".join(f"{x:.2f}" for x in latencies)
              + f" s; median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s")
    finally:
        _stop(receiver)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    """Run the benchmark on SQLite and PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--persons", type=int, default=4_000)
    parser.add_argument("--checkins", type=int, default=6)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("EVAC_LOG_LEVEL", "WARNING")  # counts below; per-pass logs would drown them
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory(prefix="evac-bench-sync-") as tmp:
        if not args.no_sqlite:
            path = Path(tmp) / "sqlite"
            path.mkdir()
            run("sqlite", f"sqlite:///{path / 'evac.sqlite3'}", args.events, args.persons, args.checkins,
                args.interval, path)
        if not args.no_postgres:
            server = sa.engine.make_url(normalise_database_url(
                os.environ.get("EVAC_BENCH_DATABASE_URL", DEFAULT_PG_SERVER)))
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                    conn.execute(sa.text(f'CREATE DATABASE "{PG_DATABASE}"'))
            except sa.exc.OperationalError as exc:
                print(f"[postgresql] skipped: {type(exc).__name__}")
                admin.dispose()
                return
            try:
                url = server.set(database=PG_DATABASE).render_as_string(hide_password=False)
                run("postgresql", url, args.events, args.persons, args.checkins, args.interval, Path(tmp) / "pg")
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
