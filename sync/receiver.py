"""A reference receiver: the far end of the `http` connector for tests, benchmarks and demos.

It verifies `X-Evac-Signature` (401 when it does not match), drops events it has seen (by
`event_id`), and stores what it receives in an SQLite file: every event once, plus a log of every
arrival including repeats, so a test can tell at-least-once repeats from loss or reordering. It
can be told to misbehave: fail a share of requests with 500 or 429, stall past the sender's read
timeout, or refuse batches holding given persons with 422.

Not for production: it keeps personal data in a plain file.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from sync.wire import FORMAT, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify

log = logging.getLogger("sync.receiver")
MAX_BODY = 64 * 1024 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL, person_id INTEGER, shelter_id INTEGER,
    batch_id TEXT NOT NULL, arrival INTEGER NOT NULL, received_at REAL NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS arrival (
    n INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, seq INTEGER NOT NULL, batch_id TEXT NOT NULL,
    duplicate INTEGER NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stay (
    id INTEGER PRIMARY KEY, person_id INTEGER, shelter_id INTEGER, status TEXT NOT NULL, open INTEGER NOT NULL,
    event_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batch (
    n INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL, events INTEGER NOT NULL, new INTEGER NOT NULL,
    received_at REAL NOT NULL, sent_at TEXT
);
"""


@dataclass
class Chaos:
    """How the receiver misbehaves. Rates are fractions of requests, drawn from a seeded generator."""

    fail_rate: float = 0.0
    fail_statuses: tuple[int, ...] = (500,)
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    reject_persons: frozenset[int] = field(default_factory=frozenset)
    retry_after: int = 1
    seed: int | None = None


def _apply(cur: sqlite3.Cursor, event: dict[str, Any]) -> None:
    """Keep the far end's view of each stay, as a real receiver would: the last state an event gave it.

    A `correction` that voids a stay removes it (the check-in never happened, so no 退所 either);
    one that restores a stay puts back the state it carries.
    """
    stay = event.get("stay")
    if not stay or stay.get("id") is None:
        return
    correction = stay.get("correction") or {}
    if event["type"] == "correction" and correction.get("action") == "void":
        cur.execute("DELETE FROM stay WHERE id = ?", (stay["id"],))
        return
    cur.execute("INSERT OR REPLACE INTO stay VALUES (?, ?, ?, ?, ?, ?)",
                (stay["id"], stay.get("person_id"), stay.get("shelter_id"), stay.get("status"),
                 int(stay.get("checked_out_at") is None), event["event_id"]))


class Store:
    """The receiver's SQLite file; one connection, serialised by a lock (the server is threaded)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def accept(self, batch_id: str, sent_at: str | None, events: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Store a batch's events, dropping ids already seen; returns (new, duplicates)."""
        now = time.time()
        new = dup = 0
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                arrival = cur.execute("SELECT COALESCE(MAX(arrival), 0) FROM event").fetchone()[0]
                arrivals = []
                for event in events:
                    person = event.get("person") or {}
                    shelter = event.get("shelter") or {}
                    arrival += 1
                    cur.execute(
                        "INSERT OR IGNORE INTO event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (event["event_id"], event["seq"], event["type"], person.get("id"), shelter.get("id"),
                         batch_id, arrival, now, json.dumps(event, ensure_ascii=False)),
                    )
                    duplicate = cur.rowcount == 0
                    if not duplicate:
                        _apply(cur, event)
                    new += not duplicate
                    dup += duplicate
                    arrivals.append((event["event_id"], event["seq"], batch_id, int(duplicate), now))
                cur.executemany(
                    "INSERT INTO arrival (event_id, seq, batch_id, duplicate, received_at) VALUES (?, ?, ?, ?, ?)",
                    arrivals)
                cur.execute("INSERT INTO batch (batch_id, events, new, received_at, sent_at) VALUES (?, ?, ?, ?, ?)",
                            (batch_id, len(arrivals), new, now, sent_at))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
        return new, dup

    def stats(self) -> dict[str, int]:
        """Counts for /stats."""
        with self.lock:
            events = self.conn.execute("SELECT COUNT(*) FROM event").fetchone()[0]
            arrivals, dups = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(duplicate), 0) FROM arrival").fetchone()
            batches = self.conn.execute("SELECT COUNT(*) FROM batch").fetchone()[0]
        return {"events": events, "arrivals": arrivals, "duplicates": dups, "batches": batches}

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()


class Receiver:
    """The WSGI app: POST a batch anywhere; GET /healthz and /stats."""

    def __init__(self, store: Store, secret: str, chaos: Chaos | None = None,
                 on_batch: Callable[[str, list[dict[str, Any]], int, int], None] | None = None) -> None:
        self.store = store
        self.secret = secret
        self.on_batch = on_batch
        self.chaos = chaos or Chaos()
        self._rng = random.Random(self.chaos.seed)
        self._rng_lock = threading.Lock()

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)

    def _draw(self) -> tuple[float, float]:
        with self._rng_lock:
            return self._rng.random(), self._rng.random()

    def handle(self, request: Request) -> Response:
        """One request."""
        if request.method == "GET":
            if request.path == "/stats":
                return self._json(200, self.store.stats())
            return self._json(200, {"status": "ok"})
        if request.method != "POST":
            return self._json(405, {"error": "method not allowed"})
        if (request.content_length or 0) > MAX_BODY:
            return self._json(413, {"error": "too large"})
        body = request.get_data(cache=False)
        if not verify(body, self.secret, request.headers.get(SIGNATURE_HEADER)):
            return self._json(401, {"error": "bad signature"})
        fail, stall = self._draw()
        chaos = self.chaos
        if fail < chaos.fail_rate:
            status = chaos.fail_statuses[int(fail / chaos.fail_rate * len(chaos.fail_statuses))
                                         % len(chaos.fail_statuses)]
            headers = {"Retry-After": str(chaos.retry_after)} if status == 429 else None
            return self._json(status, {"error": "chaos"}, headers)
        try:
            batch = json.loads(body)
        except ValueError:
            return self._json(400, {"error": "not JSON"})
        if not isinstance(batch, dict) or batch.get("format") != FORMAT or not isinstance(batch.get("events"), list):
            return self._json(422, {"error": f"expected format {FORMAT}"})
        batch_id = str(batch.get("batch_id") or "")
        if request.headers.get(IDEMPOTENCY_HEADER) != batch_id:
            return self._json(422, {"error": "Idempotency-Key does not match batch_id"})
        if chaos.reject_persons and any((e.get("person") or {}).get("id") in chaos.reject_persons
                                        for e in batch["events"]):
            return self._json(422, {"error": "refused"})
        new, dup = self.store.accept(batch_id, batch.get("sent_at"), batch["events"])
        if self.on_batch is not None:
            self.on_batch(batch_id, batch["events"], new, dup)
        if stall < chaos.stall_rate:
            # Stored, but the answer comes too late: the sender times out and sends again.
            time.sleep(chaos.stall_seconds)
        return self._json(200, {"batch_id": batch_id, "accepted": new, "duplicates": dup})

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except HTTPException as exc:
            response = self._json(exc.code or 400, {"error": exc.name})
        return response(environ, start_response)


def serve(host: str, port: int, receiver: Receiver, stop: threading.Event, quiet: bool = False,
          tls: tuple[str, str] | None = None) -> None:
    """Serve until `stop` is set (threaded werkzeug server: stalls do not block other requests).

    `tls` is (certificate file, key file) to serve HTTPS, as the real far end would.
    """
    from werkzeug.serving import make_server

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, receiver, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="receiver",
                              daemon=True)
    thread.start()
    log.info("receiver listening", extra={"host": host, "port": server.port})
    try:
        while not stop.wait(0.1):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
