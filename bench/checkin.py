"""Check-in throughput and latency over real HTTP (gunicorn), on SQLite and PostgreSQL.

Figures (DESIGN.md): check-in throughput ≥ 0.6 × a trivial Flask endpoint on the same server
in the same run; the desk's scan → confirmed (lookup + check-in) server time < 50 ms median.

    .venv/bin/python bench/checkin.py [--persons 3000] [--concurrency 8]

Each database gets a fresh schema (PostgreSQL: a database of its own, `evac_bench_checkin`).
Numbers are ratios against the trivial endpoint measured in the same run, since the machine is
shared and noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("EVAC_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DB = "evac_bench_checkin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(url: str, persons: int) -> dict[str, Any]:
    """Schema, one open shelter, persons with cards, an admin token."""
    from flask_migrate import upgrade

    from evac import create_app
    from evac.accounts import service as accounts
    from evac.accounts.models import Role
    from evac.cards import tokens
    from evac.cards.models import Card
    from evac.common.db import now_utc
    from evac.extensions import db
    from evac.people.models import Person
    from evac.shelters.models import Shelter

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CARD_KEY": "bench-card-key", "SECRET_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True})
    with app.app_context():
        upgrade()
        now = now_utc()
        db.session.execute(sa.insert(Shelter), [{"code": f"B{i}", "name": f"ベンチ避難所{i}", "kind": "evacuation",
                                                 "hazards": [], "status": "open", "capacity": 100000, "source": "bench",
                                                 "created_at": now, "updated_at": now} for i in range(2)])
        db.session.execute(sa.insert(Person), [
            {"family_name": "計測", "given_name": f"{i}", "family_name_kana": "ケイソク", "given_name_kana": "テスト",
             "name_key": f"計測{i}", "kana_key": "ケイソクテスト", "sex": "other", "source": "demo", "needs": 0,
             "pets": 0, "consent_relatives": False, "consent_acquaintances": False, "consent_public": False,
             "created_at": now, "updated_at": now} for i in range(persons)])
        ids = db.session.scalars(sa.select(Person.id).order_by(Person.id)).all()
        db.session.execute(sa.insert(Card), [{"person_id": pid, "serial": 1000 + pid, "issued_at": now} for pid in ids])
        db.session.commit()
        shelter_id = db.session.scalar(sa.select(Shelter.id).order_by(Shelter.id))
        accounts.create_account("bench", role=Role.ADMIN, password="bench-password")
        token = accounts.issue_token("bench")
        payloads = [tokens.encode(b"bench-card-key", pid, 1000 + pid) for pid in ids]
        db.engine.dispose()
    return {"shelter_id": shelter_id, "token": token, "payloads": payloads}


class Server:
    """gunicorn serving bench.checkin_wsgi:app."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "EVAC_DATABASE_URL": url, "EVAC_CARD_KEY": "bench-card-key", "EVAC_SECRET_KEY": "bench",
               "EVAC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", "4",
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "bench.checkin_wsgi:app"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_load(port: int, requests: list[tuple[str, str, bytes | None]], headers: dict[str, str],
             concurrency: int) -> tuple[float, list[int]]:
    """Send the requests over `concurrency` keep-alive connections; (requests/s, status codes)."""
    lock = threading.Lock()
    queue = list(reversed(requests))
    statuses: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                method, path, body = queue.pop()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(requests) / (time.perf_counter() - started), statuses


def desk_latency(port: int, headers: dict[str, str], shelter_id: int, payloads: list[str]) -> tuple[list[float], list[float]]:
    """The desk's two calls per scan, one after the other: lookup, then check-in."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lookups, checkins = [], []
    for payload in payloads:
        for path, body, sink in (("/api/v1/lookups", {"shelter_id": shelter_id, "qr": payload}, lookups),
                                 ("/api/v1/checkins", {"shelter_id": shelter_id, "qr": payload,
                                                       "client_id": str(uuid.uuid4())}, checkins)):
            started = time.perf_counter()
            conn.request("POST", path, body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            response.read()
            sink.append((time.perf_counter() - started) * 1000)
            assert response.status in (200, 201), (path, response.status)
    conn.close()
    return lookups, checkins


def bench(name: str, url: str, persons: int, concurrency: int, workers: int) -> None:
    data = prepare(url, persons)
    server = Server(url, workers)
    headers = {"Authorization": f"Bearer {data['token']}", "Content-Type": "application/json"}
    try:
        latency_payloads = data["payloads"][:200]
        load_payloads = data["payloads"][200:]
        run_load(server.port, [("GET", "/bench/trivial", None)] * 200, headers, concurrency)  # warm up
        trivial_rps, _ = run_load(server.port, [("GET", "/bench/trivial", None)] * len(load_payloads), headers,
                                  concurrency)
        bodies = [("POST", "/api/v1/checkins", json.dumps({"shelter_id": data["shelter_id"], "qr": p,
                                                           "client_id": str(uuid.uuid4())}).encode())
                  for p in load_payloads]
        checkin_rps, statuses = run_load(server.port, bodies, headers, concurrency)
        trivial_after, _ = run_load(server.port, [("GET", "/bench/trivial", None)] * len(load_payloads), headers,
                                    concurrency)
        lookups, checkins = desk_latency(server.port, headers, data["shelter_id"], latency_payloads)
    finally:
        server.stop()
    baseline = (trivial_rps + trivial_after) / 2
    bad = sum(1 for s in statuses if s != 201)
    print(f"{name:10s} trivial {baseline:7.0f} req/s | check-in {checkin_rps:6.0f} req/s "
          f"({len(statuses)} distinct QR check-ins, {bad} not 201) | ratio {checkin_rps / baseline:.2f} (target ≥ 0.6)")
    print(f"{'':10s} desk scan→confirmed, sequential: lookup median {statistics.median(lookups):.1f} ms "
          f"p95 {sorted(lookups)[int(len(lookups) * 0.95)]:.1f} ms; check-in median {statistics.median(checkins):.1f} ms "
          f"p95 {sorted(checkins)[int(len(checkins) * 0.95)]:.1f} ms; "
          f"both {statistics.median(lookups) + statistics.median(checkins):.1f} ms median (target < 50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"bench/checkin.py: gunicorn {args.workers} workers × 4 threads, {args.concurrency} client connections, "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.persons, args.concurrency, args.workers)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{PG_DB}"'))
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        return
    try:
        bench("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}", args.persons, args.concurrency, args.workers)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
