"""One active sender per connector, however many `evac sync run` processes there are.

PostgreSQL: a session advisory lock held on a dedicated connection for as long as the process
sends; the server drops it when that connection dies, so a killed sender frees it at once.
SQLite: a lease row taken with a conditional UPDATE, renewed inside every claim and mark
transaction and expiring after `ttl` seconds; a holder on this host whose process is gone is
replaced without waiting for the expiry.

Either way `verify()` runs inside the caller's write transaction, so a sender that lost its lease
(expired, or its lock connection dropped) cannot claim or mark anything: that is the fence.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from evac.common.db import WRITE, DatabaseUnavailable, affected, now_utc, unit
from evac.extensions import db
from evac.outbox.models import SyncLease

log = logging.getLogger("sync.lease")


class LeaseLost(Exception):
    """This process no longer holds the sender lease; stop sending and try again next pass."""


class Lease(Protocol):
    """What the consumer needs of a lease."""

    name: str

    def acquire(self) -> bool:
        """Take (or keep) the lease; False when another process holds it."""

    def verify(self) -> None:
        """Inside the caller's write transaction: raise `LeaseLost` unless still held (and renew it)."""

    def heartbeat(self) -> None:
        """Renew in a transaction of its own (during long waits); raise `LeaseLost` if gone."""

    def release(self) -> None:
        """Give the lease up so another process may take it at once."""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def holder_id() -> str:
    """Who holds a lease: host, pid namespace and pid (to spot a dead local holder), and a nonce."""
    return f"{socket.gethostname()[:60]}:{_pid_namespace()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_local_holder(holder: str | None) -> bool:
    """True when the holder was a process on this host (same pid namespace) that no longer exists."""
    if not holder:
        return False
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname()[:60] or parts[1] != _pid_namespace() or parts[1] == "0":
        return False
    try:
        pid = int(parts[2])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SqliteLease:
    """A lease row: `holder` and `expires_at`, taken and renewed by conditional UPDATEs."""

    def __init__(self, name: str, ttl: float) -> None:
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.holder = holder_id()

    def acquire(self) -> bool:
        """Take the row if free, expired, ours, or left by a dead process on this host."""
        with unit(WRITE):
            return self._acquire()

    def _acquire(self) -> bool:
        db.session.execute(sqlite_insert(SyncLease).values(name=self.name, epoch=0).on_conflict_do_nothing())
        current = db.session.get(SyncLease, self.name)
        assert current is not None
        now = now_utc()
        stale = current.holder if _dead_local_holder(current.holder) else None
        result = db.session.execute(
            update(SyncLease)
            .where(SyncLease.name == self.name,
                   or_(SyncLease.holder.is_(None), SyncLease.holder == self.holder,
                       SyncLease.expires_at < now, SyncLease.holder == stale))
            .values(holder=self.holder, expires_at=now + self.ttl,
                    acquired_at=now if current.holder != self.holder else current.acquired_at,
                    epoch=SyncLease.epoch + (0 if current.holder == self.holder else 1))
            .execution_options(synchronize_session=False)
        )
        taken = affected(result) == 1
        if taken and current.holder != self.holder:
            log.info("lease taken", extra={"lease": self.name, "previous_holder": current.holder})
        return taken

    def verify(self) -> None:
        """Renew in the caller's transaction; fails if the lease expired or changed hands."""
        now = now_utc()
        result = db.session.execute(
            update(SyncLease)
            .where(SyncLease.name == self.name, SyncLease.holder == self.holder, SyncLease.expires_at > now)
            .values(expires_at=now + self.ttl)
            .execution_options(synchronize_session=False)
        )
        if affected(result) != 1:
            raise LeaseLost(self.name)

    def heartbeat(self) -> None:
        """Renew in a short unit of its own."""
        with unit(WRITE):
            self.verify()

    def release(self) -> None:
        """Clear the row if it is still ours."""
        try:
            with unit(WRITE):
                db.session.execute(
                    update(SyncLease).where(SyncLease.name == self.name, SyncLease.holder == self.holder)
                    .values(holder=None, expires_at=None).execution_options(synchronize_session=False)
                )
        except (DBAPIError, DatabaseUnavailable):
            log.warning("lease release failed", extra={"lease": self.name})


class PostgresLease:
    """`pg_try_advisory_lock` on a connection kept out of the pool for as long as we send."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine
        # A stable 64-bit key per lease name; advisory locks are per database, so test and bench
        # databases on one server never contend.
        self.key = int.from_bytes(hashlib.sha256(f"evac:{name}".encode()).digest()[:8], "big", signed=True)
        self.conn: Connection | None = None
        self.pid: int | None = None

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()  # closing the DBAPI connection frees the lock server-side
                self.conn.close()
            except DBAPIError:
                pass
        self.conn, self.pid = None, None

    def _holds(self, conn: Connection, pid: int | None = None) -> bool:
        """Whether backend `pid` (default: `conn`'s own) holds our lock."""
        who = "pg_backend_pid()" if pid is None else ":pid"
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                     f"AND classid::bigint = :hi AND objid::bigint = :lo AND pid = {who}")
        params = {"hi": (self.key >> 32) & 0xFFFFFFFF, "lo": self.key & 0xFFFFFFFF}
        if pid is not None:
            params["pid"] = pid
        return bool(conn.execute(query, params).scalar())

    def acquire(self) -> bool:
        """Keep the lock if our connection still holds it, else try to take it without waiting."""
        if self.conn is not None:
            try:
                # Checked, not re-taken: session advisory locks stack, and one unlock would not free two.
                if self._holds(self.conn):
                    return True
            except DBAPIError:
                log.warning("lease connection lost", extra={"lease": self.name})
            self._drop()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            if not got:
                conn.close()
                return False
            self.pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        except DBAPIError:
            conn.invalidate()
            conn.close()
            raise
        self.conn = conn
        log.info("lease taken", extra={"lease": self.name, "backend_pid": self.pid})
        return True

    def verify(self) -> None:
        """Check in the caller's transaction that our lock session still holds the lock."""
        if self.pid is None or not self._holds(db.session.connection(), self.pid):
            raise LeaseLost(self.name)

    def heartbeat(self) -> None:
        """The lock needs no renewal; just make sure its connection is alive."""
        if self.conn is None:
            raise LeaseLost(self.name)
        try:
            self.conn.execute(text("SELECT 1"))
        except DBAPIError:
            self._drop()
            raise LeaseLost(self.name) from None

    def release(self) -> None:
        """Unlock and close the dedicated connection."""
        if self.conn is None:
            return
        try:
            # The connection goes back to the pool: it must hold no lock of ours when it does.
            self.conn.execute(text("SELECT pg_advisory_unlock_all()"))
            self.conn.close()
        except DBAPIError:
            self._drop()
        self.conn, self.pid = None, None


def make_lease(name: str, ttl: float) -> Lease:
    """The lease that fits the database the app is bound to."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        return PostgresLease(name, engine)
    return SqliteLease(name, ttl)
