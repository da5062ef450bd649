"""`evac.common.statements.run` answers exactly what the session's own execute answers.

Every statement is run both ways over the same rows, on SQLite and PostgreSQL: the column types'
conversions (aware UTC timestamps, JSON, enums), RETURNING, an expanding IN of any length, an
UPDATE naming some columns, an executemany; driver errors come out as SQLAlchemy's exceptions and
roll nothing of the unit back on their own; the engine's cursor events still see every statement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from evac.common.db import WRITE, UTCDateTime, unit
from evac.common.statements import MultipleResultsFound, NoResultFound, run
from evac.extensions import db as _db


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


SCRATCH = sa.MetaData()
things = sa.Table(
    "zz_statement_things", SCRATCH,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("at", UTCDateTime()),
    sa.Column("doc", sa.JSON),
    sa.Column("colour", sa.Enum(Colour, native_enum=False, length=8)),
    sa.Column("n", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tag", sa.String(10), default="python"),  # a Python-side default: run() hands it to the session
)

AT = datetime(2026, 12, 3, 6, 30, 15, 123456, tzinfo=UTC)
ROWS = [{"name": f"n{i}", "at": AT + timedelta(minutes=i), "doc": {"i": i, "名前": "避難所"},
         "colour": Colour.RED if i % 2 else Colour.BLUE, "n": i, "tag": "t"} for i in range(6)]

BY_IDS = sa.select(things.c.id, things.c.name, things.c.at, things.c.doc, things.c.colour).where(
    things.c.id.in_(sa.bindparam("p_ids", expanding=True))).order_by(things.c.id)
BY_NAME = sa.select(things.c.id, things.c.at, things.c.doc, things.c.colour, things.c.n).where(
    things.c.name == sa.bindparam("p_name"))
INSERT = sa.insert(things).returning(things.c.id, things.c.at, things.c.n)
UPDATE = sa.update(things).where(things.c.name == sa.bindparam("p_name")).returning(things.c.n, things.c.doc)
BUMP = sa.update(things).where(things.c.name == sa.bindparam("p_name")).values(n=things.c.n + sa.bindparam("p_add"))
COUNT = sa.select(sa.func.count(), sa.func.max(things.c.at)).select_from(things)


@pytest.fixture
def scratch(app: Flask, db: Any) -> Iterator[None]:
    with app.app_context():
        SCRATCH.create_all(_db.engine)
    try:
        yield
    finally:
        with app.app_context():
            _db.session.remove()
            SCRATCH.drop_all(_db.engine)


def _both(stmt: Any, params: Any = None) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    fast = [tuple(r) for r in run(stmt, params)]
    slow = [tuple(r) for r in _db.session.execute(stmt, params)]
    return fast, slow


def test_reads_convert_every_type_as_the_session_does(app: Flask, scratch: None) -> None:
    with app.app_context(), unit(WRITE):
        _db.session.execute(sa.insert(things), ROWS)
        ids = list(_db.session.scalars(sa.select(things.c.id).order_by(things.c.id)))
        for n in (0, 1, 2, 5, 6):  # an expanding IN of every length, the empty one included
            fast, slow = _both(BY_IDS, {"p_ids": ids[:n]})
            assert fast == slow and len(fast) == n
        fast, slow = _both(BY_NAME, {"p_name": "n3"})
        assert fast == slow
        row = run(BY_NAME, {"p_name": "n3"}).one()
        assert row.at == AT + timedelta(minutes=3) and row.at.tzinfo is not None
        assert row.doc == {"i": 3, "名前": "避難所"} and row.colour is Colour.RED and row.n == 3
        fast, slow = _both(COUNT)
        assert fast == slow == [(6, AT + timedelta(minutes=5))]


def test_writes_store_what_the_session_would(app: Flask, scratch: None) -> None:
    with app.app_context(), unit(WRITE):
        row = run(INSERT, {"name": "a", "at": AT, "doc": ["x", 1], "colour": Colour.BLUE, "tag": "t"}).one()
        assert row.at == AT and row.n == 0  # the server default, returned
        many = [{"name": f"m{i}", "at": AT, "doc": None, "colour": None, "tag": "t", "n": i} for i in range(3)]
        assert run(sa.insert(things), many).all() == []  # an executemany
        # A Python-side default (`tag`): the session's execute fills it in, through run() too.
        run(sa.insert(things), {"name": "defaulted", "at": AT, "doc": None, "colour": None})
        # An UPDATE naming only some columns sets only those.
        changed = run(UPDATE, {"p_name": "a", "doc": {"k": "v"}}).one()
        assert tuple(changed) == (0, {"k": "v"})
        run(BUMP, {"p_name": "m2", "p_add": 5})
        stored = {r.name: r for r in _db.session.execute(sa.select(things))}
    assert stored["a"].doc == {"k": "v"} and stored["a"].colour is Colour.BLUE and stored["a"].at == AT
    assert stored["a"].tag == "t" and stored["defaulted"].tag == "python"
    assert [stored[f"m{i}"].n for i in range(3)] == [0, 1, 7]


def test_rows_answer_like_a_result(app: Flask, scratch: None) -> None:
    with app.app_context(), unit(WRITE):
        _db.session.execute(sa.insert(things), ROWS[:2])
        assert run(BY_NAME, {"p_name": "nobody"}).first() is None
        assert run(BY_NAME, {"p_name": "nobody"}).scalar() is None
        with pytest.raises(NoResultFound):
            run(BY_NAME, {"p_name": "nobody"}).one()
        ids = list(_db.session.scalars(sa.select(things.c.id)))
        with pytest.raises(MultipleResultsFound):
            run(BY_IDS, {"p_ids": ids}).one()
        assert run(BY_IDS, {"p_ids": ids}).scalars() == sorted(ids)
        assert run(BY_NAME, {"p_name": "n1"}).scalar_one() == ids[1]


def test_a_driver_error_is_sqlalchemys_and_the_unit_rolls_back(app: Flask, scratch: None) -> None:
    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError), unit(WRITE):
            run(sa.insert(things), {"name": "twice", "at": AT, "doc": None, "colour": None, "tag": "t"})
            run(sa.insert(things), {"name": "twice", "at": AT, "doc": None, "colour": None, "tag": "t"})
        with unit(WRITE):
            assert _db.session.scalar(sa.select(sa.func.count()).select_from(things)) == 0


def test_the_engines_cursor_events_see_every_statement(app: Flask, scratch: None) -> None:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        seen.append(sql)

    with app.app_context():
        sa.event.listen(_db.engine, "before_cursor_execute", note)
        try:
            with unit(WRITE):
                run(BY_NAME, {"p_name": "n1"})
                run(sa.insert(things), [dict(r) for r in ROWS[:3]])
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", note)
    assert any("zz_statement_things" in sql and sql.lstrip().upper().startswith("SELECT") for sql in seen)
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in seen)
