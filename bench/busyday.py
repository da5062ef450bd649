"""A busy shelter day on `evac serve`: N desks at 3 shelters plus HQ polling, on SQLite and PostgreSQL.

Each desk loops over the scan cycle of the day — lookup of a card, household check-in, roster
reload, person search — while HQ polls the occupancy summary and now and then changes a capacity.
Reported per database (and, on SQLite, per way of taking the write lock, `EVAC_SQLITE_WRITE_MODE`):
scan cycles per second, p50/p95 per request kind, the count of 5xx answers (must be 0), and
whether the audit log holds one entry per audited request.

    .venv/bin/python bench/busyday.py [--desks 6] [--seconds 20] [--modes immediate,deferred]

The machine is shared and noisy: compare the modes within one run, with the load average beside.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pgdb import postgres_bench_url  # noqa: E402
from bench.town import build_town, free_port  # noqa: E402

PG_SERVER = os.environ.get("EVAC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "evac_bench_busyday"
CARD_KEY = "bench-card-key"
HOUSEHOLD = 3
SHELTERS = 3


def prepare(url: str, instance: Path, desks: int, households_per_desk: int) -> dict[str, Any]:
    """Schema, three open shelters, staff accounts with tokens, HQ, and households with QR cards."""
    from flask_migrate import upgrade

    from evac import create_app
    from evac.accounts import service as accounts
    from evac.accounts.models import Role
    from evac.cards import tokens
    from evac.extensions import db
    from evac.hq import incidents

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CARD_KEY": CARD_KEY, "SECRET_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_AUDIT_JOURNAL_DIR": str(instance / "audit-journal")})
    with app.app_context():
        upgrade()
        town = build_town("BD", shelters=SHELTERS, households=desks * households_per_desk, per_household=HOUSEHOLD,
                          capacity=100000, serial_base=5000, cards_for_heads_only=True)
        shelter_ids, household_ids, members = town.shelter_ids, town.household_ids, town.members
        plan = []
        for d in range(desks):
            shelter_id = shelter_ids[d % SHELTERS]
            name = f"desk{d}"
            accounts.create_account(name, role=Role.STAFF, password="bench-password", shelter_ids=[shelter_id])
            mine = household_ids[d * households_per_desk:(d + 1) * households_per_desk]
            plan.append({"token": accounts.issue_token(name), "shelter_id": shelter_id,
                         "households": [{"qr": tokens.encode(CARD_KEY.encode(), members[h][0], 5000 + members[h][0]),
                                         "members": members[h]} for h in mine]})
        # Without an open incident every check-in is a 409 (no disaster or drill started).
        incidents.open_incident(None, "ベンチ災害", "disaster")
        accounts.create_account("hq", role=Role.HQ, password="bench-password")
        hq_token = accounts.issue_token("hq")
        db.engine.dispose()
    return {"desks": plan, "hq": hq_token, "shelters": shelter_ids}


class Serve:
    """`evac serve` (gunicorn) as its own process group."""

    def __init__(self, url: str, instance: Path, mode: str, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "EVAC_DATABASE_URL": url, "EVAC_CARD_KEY": CARD_KEY, "EVAC_SECRET_KEY": "bench",
               "EVAC_INSTANCE_PATH": str(instance), "EVAC_LOG_LEVEL": "ERROR", "EVAC_SQLITE_WRITE_MODE": mode,
               "PYTHONPATH": str(ROOT)}
        self.log = open(instance / f"serve-{mode}.log", "w")  # kept open while the server runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evac", "serve", "--port", str(self.port), "--workers", str(workers),
             "--threads", "4"], env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("evac serve did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


class Recorder:
    """Latencies and statuses per request kind, from every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.cycles = 0
        self.stays = 0

    def call(self, conn: http.client.HTTPConnection, kind: str, method: str, path: str,
             headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        conn.request(method, path, body=data, headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.times[kind].append(elapsed)
            self.statuses[kind][response.status] += 1
        return response.status, (json.loads(raw) if raw and response.getheader("Content-Type", "").startswith(
            "application/json") else None)


# A tablet's connection does not live all day: it idles past gunicorn's keep-alive (2 s) between
# families. A desk that kept one connection for the whole run stays on the worker that accepted
# it, and when all six landed on one of the two workers the run measured half the server
# (seen: 66 against 110–139 cycles/s, in turns, for the same code).
RECONNECT_EVERY = 20


def desk_loop(port: int, desk: dict[str, Any], stop: threading.Event, rec: Recorder) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {desk['token']}"}
    shelter = desk["shelter_id"]
    for n, household in enumerate(desk["households"]):
        if stop.is_set():
            break
        if n and n % RECONNECT_EVERY == 0:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rec.call(conn, "lookup", "POST", "/api/v1/lookups", headers, {"shelter_id": shelter, "qr": household["qr"]})
        status, answer = rec.call(conn, "checkin", "POST", "/api/v1/checkins", headers, {
            "shelter_id": shelter, "client_id": str(uuid.uuid4()), "qr": household["qr"],
            "members": household["members"]})
        rec.call(conn, "roster", "GET", f"/api/v1/shelters/{shelter}/roster?limit=50", headers)
        rec.call(conn, "search", "GET", "/api/v1/persons?q=%E3%82%B1%E3%82%A4%E3%82%BD%E3%82%AF&limit=20", headers)
        with rec.lock:
            rec.cycles += 1
            if status == 201 and answer:
                rec.stays += len(answer["stays"])
    conn.close()


def hq_loop(port: int, token: str, shelters: list[int], stop: threading.Event, rec: Recorder) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while not stop.is_set():
        rec.call(conn, "occupancy", "GET", "/api/v1/occupancy", headers)
        if n % 10 == 0:
            rec.call(conn, "patch", "PATCH", f"/api/v1/shelters/{shelters[n % len(shelters)]}", headers,
                     {"capacity": 100000 + n})
        n += 1
        stop.wait(0.25)
    conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def audit_check(url: str, instance: Path, rec: Recorder) -> str:
    """Store what the server journaled, then compare the audit log with the requests answered 2xx."""
    from evac import create_app
    from evac.audit import service as audit
    from evac.audit.models import AuditEvent
    from evac.common.db import READ, unit
    from evac.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CARD_KEY": CARD_KEY, "SECRET_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_AUDIT_JOURNAL_DIR": str(instance / "audit-journal")})
    with app.app_context():
        audit.flush()
        with unit(READ):
            def count(action: str, subject: str | None = None) -> int:
                stmt = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
                if subject:
                    stmt = stmt.where(AuditEvent.subject_type == subject)
                return int(db.session.scalar(stmt) or 0)

            pairs = {
                "lookup": (count("person.read", "household"), rec.statuses["lookup"].get(200, 0)),
                "roster": (count("person.read", "roster"), rec.statuses["roster"].get(200, 0)),
                "search": (count("person.search"), rec.statuses["search"].get(200, 0)),
                "checkin": (count("stay.checkin"), rec.stays),
            }
        db.engine.dispose()
    ok = all(a == b for a, b in pairs.values())
    return ("audit rows = requests: yes" if ok else "audit rows = requests: NO ") + " (" + ", ".join(
        f"{k} {a}/{b}" for k, (a, b) in pairs.items()) + ")"


def run(label: str, url: str, instance: Path, mode: str, args: argparse.Namespace) -> dict[str, float]:
    data = prepare(url, instance, args.desks, args.households)
    server = Serve(url, instance, mode, args.workers)
    rec = Recorder()
    stop = threading.Event()
    threads = [threading.Thread(target=desk_loop, args=(server.port, desk, stop, rec)) for desk in data["desks"]]
    threads.append(threading.Thread(target=hq_loop, args=(server.port, data["hq"], data["shelters"], stop, rec)))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    server.stop()
    fives = {kind: sum(n for s, n in codes.items() if s >= 500) for kind, codes in rec.statuses.items()}
    unavailable = sum(codes.get(503, 0) for codes in rec.statuses.values())
    print(f"{label:24s} {rec.cycles / elapsed:6.1f} scan cycles/s over {elapsed:.0f} s, {args.desks} desks | "
          f"5xx {sum(fives.values())} (503: {unavailable}) | load {load_before:.2f}→{os.getloadavg()[0]:.2f}")
    for kind in ("lookup", "checkin", "roster", "search", "occupancy", "patch"):
        times = rec.times.get(kind, [])
        if times:
            print(f"{'':24s}   {kind:9s} n={len(times):5d}  p50 {statistics.median(times):6.1f} ms  "
                  f"p95 {percentile(times, 0.95):6.1f} ms  p99 {percentile(times, 0.99):6.1f} ms  "
                  f"{dict(sorted(rec.statuses[kind].items()))}")
    print(f"{'':24s}   {audit_check(url, instance, rec)}")
    return {"cycles": rec.cycles / elapsed, "checkin_p95": percentile(rec.times["checkin"], 0.95),
            "checkin_p99": percentile(rec.times["checkin"], 0.99), "5xx": float(sum(fives.values()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--desks", type=int, default=6)
    parser.add_argument("--households", type=int, default=400, help="per desk (a desk stops when it runs out)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="immediate,immediate-nogate,deferred",
                        help="SQLite write modes to compare (EVAC_SQLITE_WRITE_MODE)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="runs of every configuration, interleaved")
    args = parser.parse_args()
    print(f"busy day: {args.desks} desks at {SHELTERS} shelters + HQ polling; evac serve with {args.workers} "
          f"workers × 4 threads; {os.cpu_count()} cores")
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for _repeat in range(args.repeats):
        for mode in args.modes.split(","):
            with tempfile.TemporaryDirectory(prefix="evac-busyday-") as tmp:
                instance = Path(tmp)
                label = f"SQLite ({mode})"
                results[label].append(run(label, f"sqlite:///{instance / 'evac.sqlite3'}", instance, mode, args))
        if not args.skip_postgres:
            url = postgres_bench_url(PG_SERVER, PG_DB)
            if url:
                with tempfile.TemporaryDirectory(prefix="evac-busyday-") as tmp:
                    results["PostgreSQL"].append(run("PostgreSQL", url, Path(tmp), "immediate", args))
    if args.repeats > 1:
        print(f"\nsummary over {args.repeats} interleaved runs (min / median):")
        for label, runs in results.items():
            cycles = [r["cycles"] for r in runs]
            p95 = [r["checkin_p95"] for r in runs]
            p99 = [r["checkin_p99"] for r in runs]
            print(f"  {label:24s} scan cycles/s {min(cycles):5.1f} / {statistics.median(cycles):5.1f}   "
                  f"check-in p95 {min(p95):6.1f} / {statistics.median(p95):6.1f} ms   "
                  f"p99 {min(p99):6.1f} / {statistics.median(p99):6.1f} ms   5xx {int(sum(r['5xx'] for r in runs))}")


if __name__ == "__main__":
    main()
