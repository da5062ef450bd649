"""The audit journal: no read's audit is lost when the server dies after answering, none is stored twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit import service as audit
from evac.audit.journal import AuditJournal, _read_lines, journal_for
from evac.audit.models import AuditEvent
from evac.extensions import db as _db
from tests import factories
from tests.serving import start_server


def _reads(db: Any) -> int:
    _db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(["person.read", "person.search"]))) or 0)


def test_killed_after_answering_the_reads_are_still_audited(app: Flask, db: Any, tmp_path: Path) -> None:
    shelter = factories.shelter()
    factories.person()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    # The flusher would wait an hour: whatever reaches the table below came from the journal files.
    server = start_server(app, tmp_path / "one", EVAC_AUDIT_FLUSH_INTERVAL="3600")
    answered = 0
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
            for i in range(20):
                path = f"/api/v1/shelters/{shelter.id}/roster" if i % 2 else "/api/v1/persons?q=ヤマダ"
                assert http.get(path).status_code == 200
                answered += 1
    finally:
        server.stop(signal.SIGKILL)  # master and workers at once: no atexit, no worker_exit
    journals = list(Path(app.config["EVAC_AUDIT_JOURNAL_DIR"]).glob("*.jsonl"))
    assert journals, "the answers were journaled before they were sent"
    assert _reads(db) == 0, "nothing was stored yet (the flusher never ran)"
    # A new server's workers adopt the dead processes' journals as they start.
    second = start_server(app, tmp_path / "two", EVAC_AUDIT_FLUSH_INTERVAL="0.2")
    try:
        deadline = time.monotonic() + 20
        while _reads(db) < answered and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        second.stop()
    assert _reads(db) == answered
    assert not any(p.exists() for p in journals), "adopted journals are deleted once stored"
    audit.flush()
    assert _reads(db) == answered, "stored once, never twice"


def test_a_replayed_journal_stores_each_entry_once(app: Flask, db: Any, tmp_path: Path) -> None:
    journal = AuditJournal(app, tmp_path / "j", interval=3600)
    entries = [{"entry_id": f"{n:032x}", "occurred_at": "2026-12-01T00:00:00+00:00", "action": "person.read",
                "outcome": "ok", "subject_type": "roster", "subject_id": "1", "shelter_id": None,
                "account_id": None, "remote_addr": None, "detail": {"person_ids": [n]}} for n in range(5)]
    journal.append(entries)
    journal.stop()
    assert journal.flush() == 5
    # A crash between the insert and the journal's truncation: the same entries are read again.
    journal._stored = 0
    assert journal.flush() == 5
    assert _reads(db) == 5


def test_a_torn_last_line_waits_and_a_garbled_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    good = json.dumps({"entry_id": "a" * 32, "action": "person.read"})
    path.write_text(f"{good}\nnot json\n{good[:10]}", encoding="utf-8")
    entries, end = _read_lines(path, 0)
    assert [e["entry_id"] for e in entries] == ["a" * 32]
    assert end == len(f"{good}\nnot json\n".encode())  # the half-written line is read next time


def test_a_live_process_journal_is_not_adopted(app: Flask, db: Any, tmp_path: Path) -> None:
    directory = Path(app.config["EVAC_AUDIT_JOURNAL_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    live = directory / "live.jsonl"
    live.write_text(json.dumps({"entry_id": "b" * 32, "occurred_at": "2026-12-01T00:00:00+00:00",
                                "action": "person.read", "outcome": "ok", "detail": {}}) + "\n", encoding="utf-8")
    with subprocess.Popen([sys.executable, "-c", (
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(live)!r}, os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            assert journal_for(app).flush() == 0 and live.exists()
        finally:
            holder.kill()
    assert journal_for(app).flush() == 1 and not live.exists()
    assert _reads(db) == 1
