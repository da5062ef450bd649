"""The declarative base, column types, and the one transaction convention: the unit of work.

Every service function is one unit of work, declared at its top with `@read_only` or `@writing`
(or, for a loop that commits page by page, a `with unit(WRITE):` block per page). A unit owns its
transaction from the first statement to the commit; units called from inside another unit join
it, so nothing ever commits in the middle of someone else's work.

- A writing unit on SQLite takes the write lock before its first read (``BEGIN IMMEDIATE``), behind
  a writer gate that queues the writers of this host in order (see `SqliteWriterGate`). A read in a
  deferred transaction that later writes cannot upgrade its lock once another connection has
  committed; that was the "database is locked" of the busy day.
- On PostgreSQL a writing unit is an ordinary READ COMMITTED transaction; a serialization failure
  or deadlock retries the whole unit, a few times, with jittered backoff.
- A read-only unit reads one snapshot and ends with a commit, which keeps what it loaded usable
  (sessions do not expire objects on commit). On PostgreSQL it is a ``READ ONLY`` transaction, so a
  write slipped into a read is refused by the server, not discovered later.
- When the database cannot be had — the lock held past the busy timeout, the server down — the
  unit raises `DatabaseUnavailable`, which the web layer answers with 503 and ``Retry-After``.

Hooks let higher packages take part without this module knowing them: `before_commit` (the stay
counters apply their net change there, last, after the outbox and audit rows, so a shelter's
counter row is held for the shortest time), `after_commit` and `finally_` (refusal audits, which must survive the rollback).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import errno
import fcntl
import functools
import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import BigInteger, DateTime, Enum, Integer, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Stable constraint names let Alembic alter tables on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only gives AUTOINCREMENT-style rowids to a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base class of every evac model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def now_utc() -> datetime:
    """The current time, timezone-aware, in UTC: the only kind of time evac stores."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware.

    SQLite has no timezone type and would hand back naive datetimes; this keeps both databases
    answering the same thing.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; evac stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def affected(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (the `rowcount` of the cursor result it returned)."""
    return int(getattr(result, "rowcount", 0) or 0)


def str_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable string enum column: its values in a VARCHAR with a CHECK constraint."""
    return Enum(
        enum_class,
        native_enum=False,
        length=max(len(m.value) for m in enum_class),
        values_callable=lambda members: [m.value for m in members],
        create_constraint=True,
        name=name,
        validate_strings=True,
    )


# ---------------------------------------------------------------------------------------------
# Errors


class DatabaseUnavailable(Exception):
    """The database cannot be had right now (busy past the timeout, or unreachable): try again soon.

    Answered as 503 with ``Retry-After``; the desk queues the scan as it does when offline.
    """

    def __init__(self, reason: str, *, retry_after: int = 2) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class UnitRequired(RuntimeError):
    """The database was used outside any unit of work (a bug; raised where `strict` is on)."""


class UnitConflict(RuntimeError):
    """A unit where it cannot be (a bug): a writing one inside a read-only one, a desk operation inside another."""


# SQLSTATEs after which a PostgreSQL transaction is worth running again from the start.
_PG_RETRY = {"40001": "serialization_failure", "40P01": "deadlock_detected", "55P03": "lock_not_available"}
# SQLSTATE classes that mean the server is not there (connection exceptions, shutting down, …).
_PG_UNAVAILABLE_CLASSES = ("08", "57", "53")


def _sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _sqlite_busy(error: BaseException) -> bool:
    orig = getattr(error, "orig", error)
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    text = str(orig).lower()
    return "locked" in text or "busy" in text


def is_retryable(error: BaseException) -> bool:
    """Would running the whole unit again likely succeed (lock contention, serialization)?"""
    if isinstance(error, DBAPIError):
        if _sqlite_busy(error):
            return True
        return _sqlstate(error) in _PG_RETRY
    return False


def is_unavailable(error: BaseException) -> bool:
    """Does this error mean the database cannot be reached or used just now (not a bug)?"""
    if isinstance(error, DatabaseUnavailable | PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated or is_retryable(error):
            return True
        state = _sqlstate(error)
        if state is not None:
            return state[:2] in _PG_UNAVAILABLE_CLASSES
        if isinstance(error, OperationalError):
            orig = getattr(error, "orig", None)
            if isinstance(orig, sqlite3.OperationalError):
                text = str(orig).lower()
                # Disk I/O, a full disk or a missing file are operational states, not bugs.
                return any(word in text for word in ("locked", "busy", "disk", "unable to open", "i/o"))
            return True  # a driver-level operational failure without SQLSTATE: connection trouble
    return False


# ---------------------------------------------------------------------------------------------
# The SQLite writer gate


class SqliteWriterGate:
    """Queues the writers of one SQLite database on this host, so a free lock is taken at once.

    SQLite's own busy handler sleeps between tries (up to 100 ms a sleep), so a writer often
    misses the moment the lock is freed and a busy minute grows a tail of seconds. The gate is a
    lock per process (threads wake the moment it is released) and an ``flock`` on a file beside
    the database across processes (polled in sub-millisecond steps). Once through the gate,
    ``BEGIN IMMEDIATE`` finds the lock free unless a program other than evac holds it, and
    for those the busy timeout still applies. SQLite lives on one host, so a file lock is enough.
    """

    def __init__(self, database_path: str) -> None:
        self.path = database_path + "-writer.lock"
        self._pid = -1
        self._local = threading.Lock()
        self._fd = -1
        self._setup = threading.Lock()

    def _ensure_process(self) -> None:
        # A gate opened before a fork (gunicorn's master) must not be shared with the workers:
        # flock belongs to the open file, which a fork shares.
        if self._pid == os.getpid():
            return
        with self._setup:
            if self._pid == os.getpid():
                return
            self._local = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()

    def acquire(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until this thread may write; `DatabaseUnavailable` if not."""
        self._ensure_process()
        deadline = time.monotonic() + timeout
        if not self._local.acquire(timeout=max(0.0, timeout)):
            raise DatabaseUnavailable("sqlite_writer_busy")
        delay = 0.0002
        try:
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                if time.monotonic() >= deadline:
                    raise DatabaseUnavailable("sqlite_writer_busy")
                time.sleep(delay)
                delay = min(delay * 1.5, 0.002)
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        """Let the next writer in."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._local.release()


# ---------------------------------------------------------------------------------------------
# Engine set-up (per app engine, never process-wide)


class WriteMode(enum.StrEnum):
    """How a writing unit gets the SQLite write lock (`EVAC_SQLITE_WRITE_MODE`)."""

    IMMEDIATE = "immediate"  # the gate, then BEGIN IMMEDIATE (default)
    IMMEDIATE_NO_GATE = "immediate-nogate"  # BEGIN IMMEDIATE, waiting on SQLite's busy handler
    DEFERRED = "deferred"  # BEGIN; the first write takes the lock, a busy error retries the unit


@dataclass
class EngineSettings:
    """What the unit of work needs to know about one engine."""

    dialect: str
    busy_timeout: float
    write_mode: WriteMode = WriteMode.IMMEDIATE
    gate: SqliteWriterGate | None = None
    strict: bool = False
    attempts: int = 4


# Per engine (one per app): a test run builds many apps, each with its own engine and settings.
_SETTINGS: weakref.WeakKeyDictionary[Engine, EngineSettings] = weakref.WeakKeyDictionary()


def create_private_file(path: str) -> None:
    """Create an empty SQLite database file readable by its owner only, if there is none yet.

    SQLite would create it with the umask's mode (usually 0644: names and addresses readable by
    every account on the host); its -wal and -shm files then take the database file's mode.
    """
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another worker made it first


def configure_engine(engine: Engine, *, busy_timeout: float, write_mode: str = "immediate",
                     strict: bool = False) -> EngineSettings:
    """Tune a new engine and attach the unit-of-work settings to it. Called once per app engine.

    SQLite: WAL for concurrent readers, enforced foreign keys, a busy timeout, and transactions
    begun explicitly by evac (pysqlite's own implicit BEGIN is switched off) so that a read sees
    one snapshot and a write unit can ask for ``BEGIN IMMEDIATE``. Nothing connects here.
    """
    dialect = engine.dialect.name
    mode = WriteMode(write_mode)
    gate = None
    if dialect == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and mode is WriteMode.IMMEDIATE:
            gate = SqliteWriterGate(os.path.abspath(database))
        if database and database != ":memory:" and not database.startswith("file:"):
            path = os.path.abspath(database)

            @event.listens_for(engine, "do_connect")
            def _private(*_args: Any) -> None:
                create_private_file(path)

        @event.listens_for(engine, "connect")
        def _tune(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            current = _current.get()
            immediate = (current is not None and current.mode is WRITE and mode is not WriteMode.DEFERRED)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    settings = EngineSettings(dialect, busy_timeout, mode, gate, strict)
    _SETTINGS[engine] = settings
    return settings


def engine_settings(engine: Engine) -> EngineSettings:
    """The unit-of-work settings of an engine (defaults for one `configure_engine` never saw)."""
    found = _SETTINGS.get(engine)
    if found is None:
        found = _SETTINGS[engine] = EngineSettings(engine.dialect.name, 5.0)
    return found


# ---------------------------------------------------------------------------------------------
# Units of work


class Mode(enum.StrEnum):
    """What a unit of work may do."""

    READ = "read"
    WRITE = "write"


READ = Mode.READ
WRITE = Mode.WRITE


@dataclass
class UnitOfWork:
    """One transaction's worth of work, with hooks for the packages that take part in it."""

    mode: Mode
    session: Any
    dialect: str
    attempt: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    _before_commit: list[Callable[[], object]] = field(default_factory=list)
    _last_before_commit: list[Callable[[], object]] = field(default_factory=list)
    _after_commit: list[Callable[[], object]] = field(default_factory=list)
    _finally: list[Callable[[bool], None]] = field(default_factory=list)

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL."""
        return self.dialect == "postgresql"

    def insert(self, table: Any) -> Any:
        """An INSERT of this dialect, the one with ``on_conflict_do_nothing`` / ``_do_update``."""
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def insert_at_commit(self, table: Any, row: dict[str, Any]) -> None:
        """Insert `row` into `table` as the unit commits, with the unit's other rows for it (one executemany).

        The outbox and the audit log write this way: one statement per table per unit, and on
        PostgreSQL the outbox's sequence numbers are drawn a moment before the commit.
        """
        key = f"insert_at_commit:{table.name}"
        rows: list[dict[str, Any]] | None = self.state.get(key)
        if rows is None:
            from evac.common.statements import run

            rows = self.state[key] = []
            stmt = prepared(("insert_at_commit", table.name), table.insert)
            self.before_commit(lambda: run(stmt, rows))
        rows.append(row)

    def before_commit(self, hook: Callable[[], object], *, last: bool = False) -> None:
        """Run `hook` inside the transaction, just before it commits (not on rollback).

        `last` hooks run after all the others, in their order: the stay counters, whose rows
        every desk of a shelter updates, are held from their update to the commit only.
        """
        (self._last_before_commit if last else self._before_commit).append(hook)

    def after_commit(self, hook: Callable[[], object]) -> None:
        """Run `hook` once the transaction has committed (not on rollback, not on retry)."""
        self._after_commit.append(hook)

    def finally_(self, hook: Callable[[bool], None]) -> None:
        """Run `hook(committed)` when the unit ends, whatever happened: for what must outlive a rollback."""
        self._finally.append(hook)


_current: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("evac_unit", default=None)
# Run as the first work of every unit (not of one that joins another): see `on_unit_begin`.
_begin_hooks: list[Callable[[UnitOfWork], None]] = []
# Set for code that may use the session outside units on purpose (the test suite's own checks).
_outside_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("evac_outside_units", default=False)


def current_unit() -> UnitOfWork:
    """The unit of work this code runs in; `UnitRequired` if there is none."""
    unit_ = _current.get()
    if unit_ is None:
        raise UnitRequired("no unit of work is active")
    return unit_


_PREPARED: dict[Any, Any] = {}


def prepared(key: Any, build: Callable[[], R]) -> R:
    """A statement built once per process under `key` and reused with bind parameters.

    Building a statement and its cache key costs SQLAlchemy several times what running the
    compiled statement does (about 60 µs against 15): the check-in path builds none per request.
    `key` names the statement and whatever its shape depends on (a dialect, a set of columns).
    """
    stmt = _PREPARED.get(key)
    if stmt is None:
        stmt = _PREPARED.setdefault(key, build())
    return stmt


def on_unit_begin(hook: Callable[[UnitOfWork], None]) -> None:
    """Run `hook(unit)` at the start of every unit, inside its transaction, before its work.

    For checks that a request owes anyway and that would otherwise take a transaction of their
    own: a credentials check folded into the request's first unit costs one statement, not three.
    A hook that raises refuses the unit (it rolls back). Registered once, by the package above.
    """
    if hook not in _begin_hooks:
        _begin_hooks.append(hook)


def active_unit() -> UnitOfWork | None:
    """The unit of work this code runs in, or None."""
    return _current.get()


def guard_engine(engine: Engine) -> None:
    """For a session's statement: `UnitRequired` if no unit is active and the engine is strict."""
    if _current.get() is None and not _outside_allowed.get() and engine_settings(engine).strict:
        raise UnitRequired("the database was used outside a unit of work")


@contextlib.contextmanager
def allow_outside_units() -> Iterator[None]:
    """Let this context use the session directly (tests inspecting the database)."""
    token = _outside_allowed.set(True)
    try:
        yield
    finally:
        _outside_allowed.reset(token)


P = ParamSpec("P")
R = TypeVar("R")


def _backoff(attempt: int) -> float:
    # Full jitter: 5, 10, 20 ms caps; spreads retries of desks that collided.
    return random.uniform(0, 0.005 * 2 ** (attempt - 1))


@contextlib.contextmanager
def _transaction(mode: Mode, attempt: int = 1) -> Iterator[UnitOfWork]:
    """One attempt at a unit: gate, begin, body, before-commit hooks, commit; hooks at the end."""
    from evac.extensions import db

    settings = engine_settings(db.engine)
    session = db.session
    if session().in_transaction():
        # Left open by code outside any unit (a lazy load after a unit ended, say): not ours to keep.
        if not _outside_allowed.get():
            log.warning("transaction open outside a unit of work; rolled back")
        session.rollback()
    unit_ = UnitOfWork(mode, session, settings.dialect, attempt)
    gate = settings.gate if mode is WRITE else None
    committed = False
    token = _current.set(unit_)
    try:
        if gate is not None:
            gate.acquire(settings.busy_timeout)
        try:
            if mode is READ and settings.dialect == "postgresql":
                session.connection(execution_options={"postgresql_readonly": True})
            for begin in _begin_hooks:
                begin(unit_)
            yield unit_
            for hook in unit_._before_commit:
                hook()
            for hook in unit_._last_before_commit:
                hook()
            session.commit()
            committed = True
        finally:
            if not committed:
                session.rollback()
            if gate is not None:
                gate.release()
    finally:
        _current.reset(token)
        for final in unit_._finally:
            final(committed)
    for hook in unit_._after_commit:
        hook()


def _unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    if isinstance(exc, PoolTimeout):
        return DatabaseUnavailable("pool_timeout")
    if isinstance(exc, DBAPIError) and is_unavailable(exc):
        return DatabaseUnavailable(_reason(exc))
    return None


def run_unit(mode: Mode, work: Callable[[], R]) -> R:
    """Run `work` as one unit of work (joining the enclosing one, if any) and return its result.

    Lock contention (SQLite busy, PostgreSQL serialization failure or deadlock) runs the whole
    unit again, up to `EngineSettings.attempts` times with jittered backoff; `work` must therefore
    have no effects outside the database but through the unit's hooks.
    """
    outer = _current.get()
    if outer is not None:
        if mode is WRITE and outer.mode is READ:
            raise UnitConflict("a writing unit cannot run inside a read-only one")
        return work()
    from evac.extensions import db

    settings = engine_settings(db.engine)
    # Behind the gate a busy SQLite has already waited its full timeout: running again would only
    # multiply the wait. Deferred writers meet "busy" at once on a stale snapshot, and retry.
    retry_busy = settings.dialect != "sqlite" or settings.write_mode is WriteMode.DEFERRED
    attempt = 1
    while True:
        try:
            with _transaction(mode, attempt):
                result = work()
            return result
        except (DBAPIError, PoolTimeout) as exc:
            retryable = is_retryable(exc) and (retry_busy or not _sqlite_busy(exc))
            if attempt < settings.attempts and retryable:
                time.sleep(_backoff(attempt))
                attempt += 1
                continue
            mapped = _unavailable(exc)
            if mapped is not None:
                raise mapped from exc
            raise


def _reason(error: BaseException | None) -> str:
    if error is None:
        return "unknown"
    state = _sqlstate(error)
    if state in _PG_RETRY:
        return _PG_RETRY[state]
    if _sqlite_busy(error):
        return "sqlite_busy"
    return type(getattr(error, "orig", error)).__name__


def read_only(fn: Callable[P, R]) -> Callable[P, R]:
    """Declare a service function a read-only unit of work (one snapshot, no writes)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_unit(READ, lambda: fn(*args, **kwargs))

    return wrapper


def writing(fn: Callable[P, R]) -> Callable[P, R]:
    """Declare a service function a writing unit of work (write lock first on SQLite; retried whole)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_unit(WRITE, lambda: fn(*args, **kwargs))

    return wrapper


@contextlib.contextmanager
def unit(mode: Mode) -> Iterator[UnitOfWork]:
    """A unit of work as a block, for loops that commit page by page (printing, sync passes).

    Unlike the decorators it is not retried as a whole on contention (a block cannot be run
    twice); it still takes the write lock first and answers an unavailable database with
    `DatabaseUnavailable`.
    """
    outer = _current.get()
    if outer is not None:
        if mode is WRITE and outer.mode is READ:
            raise UnitConflict("a writing unit cannot run inside a read-only one")
        yield outer
        return
    try:
        with _transaction(mode) as unit_:
            yield unit_
    except (DBAPIError, PoolTimeout) as exc:
        mapped = _unavailable(exc)
        if mapped is not None:
            raise mapped from exc
        raise
