"""Benchmark: purge a town-sized disaster past its retention period (`evac purge`).

On a fresh SQLite database in a temporary folder (and on PostgreSQL when reachable), builds the
demo town (36,198 residents), opens a 災害 incident and checks households in through the real
check-in service, registers walk-ins, checks everyone out, writes the hourly trend and marks every
event delivered (as the sender would), closes the shelters and the incident and dates its end 41
days back. Then it times `purge()` — one writing unit, so on SQLite the time the desks wait — and,
as the baseline measured in the same run, the raw `DELETE`s of the same rows in a transaction that
is rolled back (what the database itself must do). Reports rows removed and anonymised, seconds,
and the ratio purge / baseline.

    .venv/bin/python bench/purge.py [--evacuees N] [--walk-ins N] [--no-postgres] [--no-sqlite]

PostgreSQL: the server named by EVAC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
is used only to create a database of its own, `evac_bench_purge`, dropped and recreated each run.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.pgdb import postgres_bench_url
from evac.accounts import service as accounts
from evac.accounts.models import Role, StaffAccount
from evac.app import create_app
from evac.checkin import service as checkin
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc
from evac.demo.service import build_demo_town
from evac.extensions import db
from evac.hq import incidents
from evac.incidents.models import Incident
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from evac.retention.service import purge
from evac.shelters import service as shelters
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import OccupancyHour, Stay

TREND_DAYS = 14


def _walk_in(rng: random.Random, n: int) -> dict[str, Any]:
    return {"family_name": "避難", "given_name": f"太郎{n}", "family_name_kana": "ヒナン", "given_name_kana": "タロウ",
            "birth_date": f"{rng.randint(1940, 2020)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "sex": rng.choice(["male", "female"]), "address": "京都府相楽郡精華町祝園1-1", "phone": "0774-00-0000"}


def _admin() -> accounts.Principal:
    admin_id = db.session.scalar(sa.select(StaffAccount.id).where(StaffAccount.role == Role.ADMIN))
    principal = accounts.principal_by_id(admin_id)
    assert principal is not None
    return principal


def _build(workdir: Path, evacuees: int, walk_ins: int) -> int:
    """The town, a disaster with its stays, walk-ins, trend and delivered events; returns the incident id."""
    build_demo_town(residents=36_198, seed=1, csv_path=workdir / "residents.csv", evacuees=evacuees)
    db.session.remove()
    admin = _admin()
    rng = random.Random(2)
    open_ids = list(db.session.scalars(sa.select(Shelter.id).where(Shelter.status != ShelterStatus.CLOSED)))
    db.session.remove()
    for n in range(walk_ins):
        checkin.checkin(admin, {"shelter_id": rng.choice(open_ids), "person": _walk_in(rng, n),
                                "client_id": str(uuid.UUID(int=rng.getrandbits(128)))})
    staying = list(db.session.scalars(sa.select(Stay.person_id).where(Stay.checked_out_at.is_(None))))
    db.session.remove()
    for pid in staying:
        checkin.checkout(admin, {"person_id": pid, "reason": "left",
                                 "client_id": str(uuid.UUID(int=rng.getrandbits(128)))})
    incident_id = db.session.scalar(sa.select(Incident.id).where(Incident.ended_at.is_(None)))
    start = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(days=TREND_DAYS)
    db.session.add_all(OccupancyHour(incident_id=incident_id, shelter_id=sid, hour=start + timedelta(hours=h),
                                     opening=0, closing=0)
                       for sid in open_ids for h in range(TREND_DAYS * 24))
    db.session.commit()
    db.session.remove()
    for sid in open_ids:
        shelters.update_shelter(sid, status="closed")
    incidents.close_incident(None)
    seqs = list(db.session.scalars(sa.select(OutboxEvent.seq).order_by(OutboxEvent.seq)))
    db.session.add(SyncConnector(name="http", cursor=seqs[-1], delivered_events=len(seqs)))
    for i in range(0, len(seqs), 500):
        part = seqs[i:i + 500]
        db.session.add(SyncBatch(connector="http", incident_id=incident_id, status=BatchStatus.DELIVERED,
                                 first_seq=part[0], last_seq=part[-1], event_count=len(part), seqs=part,
                                 person_ids=[], attempts=1, retries=0))
    db.session.commit()
    db.session.remove()
    db.session.execute(sa.update(Incident).where(Incident.id == incident_id)
                       .values(ended_at=now_utc() - timedelta(days=41)))
    db.session.commit()
    return int(incident_id)


def _baseline(incident_id: int) -> float:
    """The raw deletes of the same rows, rolled back: what the database alone must do."""
    t0 = time.perf_counter()
    with db.engine.connect() as conn:
        with conn.begin() as tx:
            for model in (ClientRequest, OccupancyHour, SyncBatch, OutboxEvent):
                conn.execute(sa.delete(model).where(model.incident_id == incident_id))
            tx.rollback()
    return time.perf_counter() - t0


def run(label: str, url: str, workdir: Path, evacuees: int, walk_ins: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_INSTANCE_PATH": str(workdir)})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        incident_id = _build(workdir, evacuees, walk_ins)
        built = time.perf_counter() - t0
        stays = db.session.scalar(sa.select(sa.func.count()).select_from(Stay))
        db.session.remove()
        t0 = time.perf_counter()
        dry = purge(retention_days=40, dry_run=True)
        counted = time.perf_counter() - t0
        db.session.remove()
        baseline = min(_baseline(incident_id) for _ in range(3))
        t0 = time.perf_counter()
        report = purge(retention_days=40)
        took = time.perf_counter() - t0
        db.session.remove()
        left = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent).where(
            OutboxEvent.incident_id == incident_id, OutboxEvent.type != "person.updated"))
        assert dry.as_dict()["incidents"] == report.as_dict()["incidents"], "the dry run counted what the purge did"
        assert left == 0, f"{left} delivered events left behind"
    (item,) = report.incidents
    print(f"{label}: town built in {built:.0f} s ({stays:,} stays)")
    print(f"  purged: {item.outbox_events:,} outbox events, {item.sync_batches:,} sync batches, "
          f"{item.client_requests:,} desk answers, {item.trend_hours:,} trend hours; "
          f"{item.anonymised:,} walk-ins anonymised ({item.events_queued:,} person.updated queued)")
    print(f"  dry run {counted:.2f} s · purge {took:.2f} s (one unit: the write lock's hold on SQLite) · "
          f"raw deletes {baseline:.2f} s · ratio purge/raw {took / baseline:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evacuees", type=int, default=6000)
    parser.add_argument("--walk-ins", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evac-bench-purge-") as tmp:
        if not args.no_sqlite:
            work = Path(tmp) / "sqlite"
            work.mkdir()
            run("SQLite", f"sqlite:///{work / 'evac.sqlite3'}", work, args.evacuees, args.walk_ins)
        if not args.no_postgres:
            server = os.environ.get("EVAC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
            url = postgres_bench_url(server, "evac_bench_purge")
            if url is not None:
                work = Path(tmp) / "pg"
                work.mkdir()
                run("PostgreSQL", url, work, args.evacuees, args.walk_ins)


if __name__ == "__main__":
    main()
