"""Check-in throughput and latency over real HTTP (gunicorn), on SQLite and PostgreSQL.

Targets (issue 14): QR check-ins ≥ 0.3 × a trivial Flask endpoint on the same server in the same
run (not done below 0.15), about 60 % of the raw-write ceiling (a view that only inserts a row,
adds one to a counter and commits, through evac's own unit of work); p99 ≤ 100 ms under 8
connections. DESIGN.md: the desk's scan → confirmed (lookup + check-in) < 50 ms median.

    .venv/bin/python bench/checkin.py [--requests 600] [--concurrency 8] [--repeats 3]

Per database, each repeat runs, over `--concurrency` keep-alive connections, one after the other:
the trivial endpoint, the ceiling view, QR lookups, single-person QR check-ins into one shelter,
the same spread over three shelters (contention apart from CPU), and household check-ins of 4
(one scan, four members). Every answer carries the statements it ran and its CPU time (the bench
server's meter, `bench/checkin_wsgi.py`). Ratios are taken within one repeat; min and median over
the repeats are printed with the load average, since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.town import build_town, free_port  # noqa: E402

PG_SERVER = os.environ.get("EVAC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "evac_bench_checkin"
CARD_KEY = "bench-card-key"
SHELTERS = 3
HOUSEHOLD = 4


# The ceiling view's two tables (bench/checkin_wsgi.py): a row per write and a counter per shelter.
CEILING = sa.MetaData()
ceiling_row = sa.Table("bench_ceiling_row", CEILING, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("person_id", sa.Integer, nullable=False), sa.Column("shelter_id", sa.Integer))
ceiling_counter = sa.Table("bench_ceiling_counter", CEILING, sa.Column("shelter_id", sa.Integer, primary_key=True),
                           sa.Column("n", sa.Integer, nullable=False))


def prepare(url: str, households: int) -> dict[str, Any]:
    """Schema, an open incident, three open shelters, households of 4 with QR cards, a staff token."""
    from flask_migrate import upgrade

    from evac import create_app
    from evac.accounts import service as accounts
    from evac.accounts.models import Role
    from evac.cards import tokens
    from evac.extensions import db
    from evac.hq import incidents

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CARD_KEY": CARD_KEY, "SECRET_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True})
    with app.app_context():
        upgrade()
        CEILING.create_all(db.engine)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(ceiling_counter), [{"shelter_id": i, "n": 0} for i in range(1, SHELTERS + 1)])
        town = build_town("B", shelters=SHELTERS, households=households, per_household=HOUSEHOLD,
                          capacity=1_000_000, serial_base=1000)
        shelter_ids, household_ids, members = town.shelter_ids, town.household_ids, town.members
        incidents.open_incident(None, "ベンチ災害", "disaster")
        accounts.create_account("desk", role=Role.STAFF, password="bench-password", shelter_ids=shelter_ids)
        token = accounts.issue_token("desk")
        db.engine.dispose()
    key = CARD_KEY.encode()
    return {"shelters": shelter_ids, "token": token,
            "households": [[(pid, tokens.encode(key, pid, 1000 + pid)) for pid in members[h]] for h in household_ids]}


class Server:
    """gunicorn serving bench.checkin_wsgi:app as `evac serve` does (gthread, 4 threads a worker)."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "EVAC_DATABASE_URL": url, "EVAC_CARD_KEY": CARD_KEY, "EVAC_SECRET_KEY": "bench",
               "EVAC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", "4",
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "bench.checkin_wsgi:app"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/bench/trivial")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


Request = tuple[str, str, bytes | None]


@dataclass
class Result:
    """One scenario's run: throughput, latencies, and the server's meter per request."""

    rps: float
    latencies: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def pct(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run_load(port: int, requests: list[Request], headers: dict[str, str], concurrency: int) -> Result:
    """Send the requests over `concurrency` keep-alive connections, as fast as the server answers."""
    lock = threading.Lock()
    queue = list(reversed(requests))
    result = Result(0.0)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                method, path, body = queue.pop()
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                result.latencies.append(elapsed)
                result.statuses[response.status] += 1
                result.statements.append(int(response.getheader("X-Bench-Statements", "0")))
                result.cpu_ms.append(int(response.getheader("X-Bench-CPU-us", "0")) / 1000)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.rps = len(requests) / (time.perf_counter() - started)
    return result


def _post(path: str, body: dict[str, Any]) -> Request:
    return ("POST", path, json.dumps(body).encode())


def scenarios(data: dict[str, Any], requests: int, repeat: int) -> dict[str, list[Request]]:
    """The requests of one repeat; every check-in is of people nobody checked in before."""
    shelters, households = data["shelters"], data["households"]
    per = requests // HOUSEHOLD  # households a scenario uses
    start = repeat * 3 * per
    singles = [h[0] for h in households[start:start + per]] + [h[1] for h in households[start:start + per]] + \
        [h[2] for h in households[start:start + per]] + [h[3] for h in households[start:start + per]]
    spread = [m for h in households[start + per:start + 2 * per] for m in h]
    families = households[start + 2 * per:start + 3 * per]
    one = shelters[0]
    return {
        "trivial": [("GET", "/bench/trivial", None)] * requests,
        "ceiling": [("POST", f"/bench/ceiling/{1 + n % SHELTERS}/{n}", b"{}") for n in range(requests)],
        "lookup": [_post("/api/v1/lookups", {"shelter_id": one, "qr": qr}) for _pid, qr in singles[:requests]],
        "checkin": [_post("/api/v1/checkins", {"shelter_id": one, "qr": qr, "client_id": str(uuid.uuid4())})
                    for _pid, qr in singles[:requests]],
        "checkin 3 shelters": [_post("/api/v1/checkins", {"shelter_id": shelters[n % SHELTERS], "qr": qr,
                                                          "client_id": str(uuid.uuid4())})
                               for n, (_pid, qr) in enumerate(spread[:requests])],
        "household of 4": [_post("/api/v1/checkins", {"shelter_id": one, "qr": family[0][1],
                                                      "members": [pid for pid, _qr in family],
                                                      "client_id": str(uuid.uuid4())}) for family in families],
    }


EXPECTED = {"trivial": 200, "ceiling": 201, "lookup": 200, "checkin": 201, "checkin 3 shelters": 201,
            "household of 4": 201}


def desk_latency(port: int, headers: dict[str, str], shelter_id: int, cards: list[tuple[int, str]]) -> list[float]:
    """The desk's two calls per scan, one after the other, one desk: lookup + check-in (ms each pair)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pairs = []
    for _pid, qr in cards:
        started = time.perf_counter()
        for path, body in (("/api/v1/lookups", {"shelter_id": shelter_id, "qr": qr}),
                           ("/api/v1/checkins", {"shelter_id": shelter_id, "qr": qr, "client_id": str(uuid.uuid4())})):
            conn.request("POST", path, body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status in (200, 201), (path, response.status)
        pairs.append((time.perf_counter() - started) * 1000)
    conn.close()
    return pairs


def bench(name: str, url: str, requests: int, concurrency: int, workers: int, repeats: int) -> None:
    per = requests // HOUSEHOLD
    data = prepare(url, households=per * 3 * repeats + 60)
    server = Server(url, workers)
    headers = {"Authorization": f"Bearer {data['token']}", "Content-Type": "application/json"}
    runs: list[dict[str, Result]] = []
    load = [os.getloadavg()[0]]
    try:
        run_load(server.port, [("GET", "/bench/trivial", None)] * 300, headers, concurrency)  # warm up
        for repeat in range(repeats):
            runs.append({kind: run_load(server.port, reqs, headers, concurrency)
                         for kind, reqs in scenarios(data, requests, repeat).items()})
            load.append(os.getloadavg()[0])
        pairs = desk_latency(server.port, headers, data["shelters"][0], [h[0] for h in data["households"][-50:]])
    finally:
        server.stop()
    print(f"{name}  (load average {' → '.join(f'{x:.2f}' for x in load)}; {repeats} repeats, min / median)")
    print(f"  {'':20s} {'req/s':>13s} {'÷ trivial':>11s} {'÷ ceiling':>11s} {'p50':>7s} {'p95':>7s} {'p99':>7s}"
          f" {'stmts':>6s} {'CPU ms':>7s}  statuses")
    for kind in EXPECTED:
        rps = [run[kind].rps for run in runs]
        to_trivial = [run[kind].rps / run["trivial"].rps for run in runs]
        to_ceiling = [run[kind].rps / run["ceiling"].rps for run in runs]
        last = runs[-1][kind]
        statuses = defaultdict(int)
        for run in runs:
            for status, n in run[kind].statuses.items():
                statuses[status] += n
        people = HOUSEHOLD if kind == "household of 4" else 1
        print(f"  {kind:20s} {min(rps):6.0f}/{statistics.median(rps):<6.0f} "
              f"{min(to_trivial):5.2f}/{statistics.median(to_trivial):<5.2f} "
              f"{min(to_ceiling):5.2f}/{statistics.median(to_ceiling):<5.2f} "
              f"{statistics.median(r[kind].pct(0.5) for r in runs):7.1f} "
              f"{statistics.median(r[kind].pct(0.95) for r in runs):7.1f} "
              f"{statistics.median(r[kind].pct(0.99) for r in runs):7.1f} "
              f"{statistics.median(last.statements):6.0f} {statistics.median(last.cpu_ms):7.2f}  "
              f"{dict(statuses)}" + (f"  ({people} persons a request)" if people > 1 else ""))
        bad = sum(n for status, n in statuses.items() if status != EXPECTED[kind])
        if bad:
            print(f"  !! {kind}: {bad} answers were not {EXPECTED[kind]}")
    print(f"  desk scan → confirmed (lookup + check-in, one desk, sequential): median "
          f"{statistics.median(pairs):.1f} ms, p95 {sorted(pairs)[int(len(pairs) * 0.95)]:.1f} ms (target < 50 median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="requests per scenario and repeat")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(f"bench/checkin.py: gunicorn {args.workers} workers × 4 threads, {args.concurrency} client connections, "
          f"{os.cpu_count()} cores, {args.requests} requests a scenario")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            bench("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.requests, args.concurrency, args.workers,
                  args.repeats)
    if args.only == "sqlite":
        return
    from bench.pgdb import postgres_bench_url

    url = postgres_bench_url(PG_SERVER, PG_DB)
    if url is not None:
        bench("PostgreSQL", url, args.requests, args.concurrency, args.workers, args.repeats)


if __name__ == "__main__":
    main()
