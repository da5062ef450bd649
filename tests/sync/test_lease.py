"""The sender lease: one holder at a time; expiry, dead holders and lost connections fence the old one out."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text, update

from evac.common.db import WRITE, now_utc, unit
from evac.extensions import db as _db
from evac.outbox.models import SyncLease
from sync.lease import LeaseLost, PostgresLease, SqliteLease, _pid_namespace, make_lease


def _verify(lease: Any) -> None:
    with unit(WRITE):
        lease.verify()


def test_one_holder_at_a_time_until_released(app: Flask, db: Any) -> None:
    first, second = make_lease("sync:test", 30), make_lease("sync:test", 30)
    other_name = make_lease("sync:other", 30)
    try:
        assert first.acquire() and first.acquire()  # re-entrant for its holder
        assert not second.acquire()
        assert other_name.acquire()  # leases are per connector
        _verify(first)
        with pytest.raises(LeaseLost):
            _verify(second)
        first.release()
        assert second.acquire()
        with pytest.raises(LeaseLost):
            _verify(first)
    finally:
        for lease in (first, second, other_name):
            lease.release()


def _is_sqlite(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def test_an_expired_sqlite_lease_is_taken_over_and_fences_the_old_holder(app: Flask, db: Any) -> None:
    if not _is_sqlite(app):
        pytest.skip("the lease row is SQLite's; PostgreSQL uses an advisory lock")
    old, new = SqliteLease("sync:test", 0.3), SqliteLease("sync:test", 30)
    assert old.acquire() and not new.acquire()
    time.sleep(0.4)
    assert new.acquire()
    with pytest.raises(LeaseLost):
        _verify(old)  # a stalled sender that wakes up cannot claim or mark anything
    with pytest.raises(LeaseLost):
        old.heartbeat()
    lease_row = db.session.get(SyncLease, "sync:test")
    assert lease_row.holder == new.holder and lease_row.epoch == 2
    new.release()


def test_a_dead_holder_on_this_host_is_replaced_without_waiting(app: Flask, db: Any) -> None:
    if not _is_sqlite(app):
        pytest.skip("the lease row is SQLite's; PostgreSQL frees the lock when the process dies")
    with subprocess.Popen(["true"]) as child:
        child.wait()
    dead_holder = f"{socket.gethostname()[:60]}:{_pid_namespace()}:{child.pid}:deadbeef"
    with unit(WRITE):
        _db.session.add(SyncLease(name="sync:test", holder=dead_holder, expires_at=now_utc() + timedelta(hours=1),
                                  acquired_at=now_utc(), epoch=1))
    lease = SqliteLease("sync:test", 30)
    assert lease.acquire()
    # A live holder elsewhere (another host) is respected until its lease expires.
    with unit(WRITE):
        _db.session.execute(update(SyncLease).values(holder=f"elsewhere:1:{os.getpid()}:x"))
    assert not SqliteLease("sync:test", 30).acquire()


@pytest.mark.postgres
def test_a_postgres_lease_dies_with_its_connection(app: Flask, db: Any) -> None:
    first, second = make_lease("sync:test", 30), make_lease("sync:test", 30)
    assert isinstance(first, PostgresLease)
    try:
        assert first.acquire() and not second.acquire()
        with db.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first.pid})
            admin.commit()
        time.sleep(0.2)
        with pytest.raises(LeaseLost):
            _verify(first)
        assert second.acquire()
        with pytest.raises(LeaseLost):
            first.heartbeat()
        assert not first.acquire()
    finally:
        first.release()
        second.release()
