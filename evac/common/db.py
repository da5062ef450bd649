"""Declarative base, column types and engine tuning shared by all models."""

from __future__ import annotations

import contextvars
import enum
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, Integer, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

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


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, enforced foreign keys, and waiting instead of failing on locks."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn: Any) -> None:
    """Open SQLite transactions explicitly so reads inside a transaction see one snapshot.

    Inside `begin_write` the transaction takes the write lock up front, which avoids the
    lock-upgrade failures that deferred transactions meet under concurrent writers.
    """
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


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


_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_immediate", default=False)


def begin_write(session: Any) -> None:
    """Start the session's next transaction as a write transaction.

    On SQLite this is ``BEGIN IMMEDIATE``: the write lock is taken up front, so concurrent writers
    queue on the busy timeout instead of failing when a read lock cannot be upgraded. On PostgreSQL
    it is an ordinary transaction (row locks and constraints do the rest). Whatever read
    transaction the session had open (loading the user, say) is ended first.
    """
    if session().in_transaction():
        session.commit()
    token = _immediate.set(True)
    try:
        session.connection()
    finally:
        _immediate.reset(token)
