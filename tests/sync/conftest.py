"""Helpers for the sync tests: a receiver subprocess, sender subprocesses, events, and the invariants.

Everything talks over real HTTP on loopback; the senders under fault are real `evac sync …`
processes on the test's own database (SQLite file or the run's private PostgreSQL database).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.extensions import db as _db
from evac.outbox.models import OutboxEvent
from evac.people.models import Person
from sync.http import Attempt, Verdict
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout

SECRET = "test-sync-secret"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll until `predicate()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class ReceiverProcess:
    """`evac sync receiver` in a subprocess, and readers of what it stored."""

    port: int
    store: Path
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """Where senders post."""
        return f"http://127.0.0.1:{self.port}/roster"

    def start(self, *flags: str, wait: bool = True) -> ReceiverProcess:
        """Start it (with chaos flags); unless `wait` is false, wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evac", "sync", "receiver", "--port", str(self.port), "--store", str(self.store),
             "--secret", SECRET, "--quiet", *flags],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self) -> None:
        """Until the receiver accepts connections."""

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"receiver exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 20, "the receiver to listen")

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self.proc = None

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the store (WAL: safe while the receiver writes)."""
        if not self.store.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.store, timeout=10)) as conn:
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                return []  # tables not created yet

    def event_count(self) -> int:
        """Distinct events stored."""
        rows = self.query("SELECT COUNT(*) FROM event")
        return int(rows[0][0]) if rows else 0


@pytest.fixture
def subprocess_env(app: Flask, tmp_path: Path) -> dict[str, str]:
    """Environment for `evac` subprocesses on the test's database, tuned for quick faults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVAC_")}
    env.update({
        "EVAC_INSTANCE_PATH": str(tmp_path / "instance"),
        "EVAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "EVAC_SECRET_KEY": "test-secret", "EVAC_CARD_KEY": "test-card-key",
        "EVAC_SYNC_SECRET": SECRET,
        "EVAC_SYNC_INTERVAL": "1",
        "EVAC_SYNC_BATCH_SIZE": "20",
        "EVAC_SYNC_CONNECT_TIMEOUT": "0.5",
        "EVAC_SYNC_READ_TIMEOUT": "0.5",
        "EVAC_SYNC_BACKOFF_BASE": "0.05",
        "EVAC_SYNC_BACKOFF_MAX": "0.4",
        "EVAC_SYNC_RETRY_AFTER_MAX": "0.3",
        "EVAC_SYNC_LEASE_TTL": "3",
        "EVAC_SYNC_GAP_GRACE": "0.3",
        "EVAC_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def receiver(subprocess_env: dict[str, str], tmp_path: Path) -> Iterator[ReceiverProcess]:
    """A receiver on a free port, not yet started; stopped at the end."""
    proc = ReceiverProcess(free_port(), tmp_path / "received.sqlite3", subprocess_env)
    yield proc
    proc.stop()


class Senders:
    """`evac sync run|once` subprocesses, cleaned up at the end."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, url: str, *args: str, extra_env: dict[str, str] | None = None,
              command: str = "run") -> subprocess.Popen[str]:
        """Start a sender for the http connector posting to `url`."""
        env = {**self.env, "EVAC_SYNC_CONNECTOR": "http", "EVAC_SYNC_URL": url, **(extra_env or {})}
        log = open(self.tmp_path / f"sender{len(self.procs)}.log", "w", encoding="utf-8")
        with log:
            proc = subprocess.Popen([sys.executable, "-m", "evac", "sync", command, *args],
                                    env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def wait_started(self, index: int, timeout: float = 30) -> None:
        """Until sender `index` runs its scheduler (its SIGTERM handler is in place by then)."""
        wait_for(lambda: "sync scheduler started" in self.log(index), timeout, f"sender {index} to start")

    def log(self, index: int) -> str:
        """What sender `index` wrote."""
        return (self.tmp_path / f"sender{index}.log").read_text(encoding="utf-8")

    def terminate(self, proc: subprocess.Popen[str], timeout: float = 20) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Kill whatever is still running."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def senders(subprocess_env: dict[str, str], tmp_path: Path) -> Iterator[Senders]:
    """Start sender subprocesses; all are reaped at the end."""
    group = Senders(subprocess_env, tmp_path)
    yield group
    group.cleanup()


@pytest.fixture
def desk(db: Any) -> dict[str, Any]:
    """Three open shelters and an HQ token that may check anyone in anywhere."""
    shelters = [factories.shelter(capacity=1000) for _ in range(3)]
    return {"shelters": shelters, "headers": factories.bearer(factories.account(Role.HQ))}


def add_persons(n: int, household_size: int = 1) -> list[int]:
    """`n` persons (bulk insert, no events), optionally in households."""
    rows = []
    for i in range(n):
        rows.append({"family_name": "試験", "given_name": f"{i}", "family_name_kana": "シケン",
                     "given_name_kana": "テスト", "name_key": f"試験{i}", "kana_key": "シケンテスト", "sex": "other",
                     "source": "demo", "needs": 0, "pets": 0, "consent_relatives": True,
                     "consent_acquaintances": False, "consent_public": False})
    _db.session.execute(Person.__table__.insert(), rows)
    _db.session.commit()
    return list(_db.session.scalars(select(Person.id).order_by(Person.id)))[-n:]


def activity(client: FlaskClient, desk: dict[str, Any], person_ids: list[int], rounds: int = 1,
             seed: int = 1) -> int:
    """Real desk traffic over the API: check-in, outing, return, transfer, check-out. Returns events made."""
    rng = random.Random(seed)
    shelters, headers = desk["shelters"], desk["headers"]
    made = 0
    for _ in range(rounds):
        for pid in person_ids:
            here, there = rng.sample(shelters, 2)
            steps: list[tuple[str, dict[str, Any]]] = [
                ("in", {"shelter_id": here.id, "person_id": pid, "transfer": True}),
                ("out", {"person_id": pid, "reason": "outing"}),
                ("out", {"person_id": pid, "reason": "return"}),
                ("out", {"person_id": pid, "reason": "transfer", "to_shelter_id": there.id}),
                ("out", {"person_id": pid, "reason": "left"}),
            ]
            for kind, body in steps[: rng.randint(1, len(steps))]:
                response = (post_checkin if kind == "in" else post_checkout)(client, headers, **body)
                assert response.status_code in (200, 201), response.get_json()
                made += response.status_code == 201
    _db.session.rollback()
    return made


def outbox_events() -> list[tuple[str, int, int | None]]:
    """(event_id, seq, person_id) of every outbox event, in seq order."""
    _db.session.rollback()
    rows = _db.session.execute(
        select(OutboxEvent.event_id, OutboxEvent.seq, OutboxEvent.person_id).order_by(OutboxEvent.seq)).all()
    _db.session.rollback()
    return [(r[0], int(r[1]), r[2]) for r in rows]


def assert_delivered_once_in_order(receiver: ReceiverProcess, expected: list[tuple[str, int, int | None]],
                                   *, allow_repeats: bool = True) -> dict[str, int]:
    """Every event arrived, none is foreign, repeats are only whole re-sent batches, each person's order kept."""
    stored = {row[0]: (row[1], row[2], row[3]) for row in receiver.query(
        "SELECT event_id, seq, person_id, arrival FROM event")}
    want = {event_id: (seq, person) for event_id, seq, person in expected}
    missing = sorted(want[e][0] for e in set(want) - set(stored))
    assert not missing, f"{len(missing)} events never arrived, first seqs {missing[:10]}"
    extra = set(stored) - set(want)
    assert not extra, f"{len(extra)} events arrived that the outbox does not hold"
    for event_id, (seq, _person, _arrival) in stored.items():
        assert want[event_id][0] == seq, "an event arrived with another seq"

    # Per-person order: the first arrival of each person's events follows their seq order.
    by_person: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for seq, person, arrival in stored.values():
        if person is not None:
            by_person[person].append((arrival, seq))
    for person, seen in by_person.items():
        seqs = [seq for _arrival, seq in sorted(seen)]
        assert seqs == sorted(seqs), f"person {person}: events arrived out of order {seqs}"

    # Within a batch, events are in seq order.
    batches: dict[str, list[int]] = defaultdict(list)
    for _n, batch_id, seq in receiver.query("SELECT n, batch_id, seq FROM arrival ORDER BY n"):
        batches[batch_id].append(seq)
    receipts: dict[str, int] = defaultdict(int)
    for (batch_id,) in receiver.query("SELECT batch_id FROM batch"):
        receipts[batch_id] += 1
    for batch_id, seqs in batches.items():
        per_receipt = len(seqs) // max(1, receipts[batch_id])
        first = seqs[:per_receipt]
        assert first == sorted(first), f"batch {batch_id} not in seq order"

    # Repeats: only events of a batch that reached the receiver more than once (same batch id).
    repeats = receiver.query("SELECT batch_id, COUNT(*) FROM arrival WHERE duplicate = 1 GROUP BY batch_id")
    for batch_id, _count in repeats:
        assert receipts[batch_id] >= 2, f"batch {batch_id} repeated events it was the first to carry"
    total_repeats = sum(int(c) for _b, c in repeats)
    if not allow_repeats:
        assert total_repeats == 0, f"{total_repeats} repeated events"
    return {"events": len(stored), "repeats": total_repeats, "batches": len(receipts),
            "receipts": sum(receipts.values())}


class FakeSender:
    """An in-process far end for consumer tests: records batches, refuses persons, fails on demand."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[dict[str, Any]]]] = []
        self.reject_persons: set[int] = set()
        self.fail_next = 0

    def send(self, batch_id: str, events: list[bytes]) -> Attempt:
        """One attempt."""
        decoded = [json.loads(e) for e in events]
        if self.fail_next:
            self.fail_next -= 1
            return Attempt(Verdict.RETRY, 503, "http_503")
        if any((e.get("person") or {}).get("id") in self.reject_persons for e in decoded):
            return Attempt(Verdict.PARK, 422, "http_422")
        self.received.append((batch_id, decoded))
        return Attempt(Verdict.DELIVERED, 200)

    def close(self) -> None:
        """Nothing to free."""

    def seqs(self) -> list[int]:
        """Every delivered seq, in arrival order."""
        return [e["seq"] for _b, events in self.received for e in events]
