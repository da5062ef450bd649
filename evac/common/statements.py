"""Statements of the hot paths run on the driver's cursor, compiled once per process.

SQLAlchemy's execution of an already compiled and cached Core statement costs 100–200 µs of CPU
(an execution context, parameter dictionaries, result metadata and row objects) around a
statement that itself takes 15–50 µs; a check-in runs sixteen of them, so that was most of its
time. `run` keeps what matters of SQLAlchemy — the statement is written with Core, compiled by
the dialect, its values go through the column types' bind processors and come back through
their result processors, the engine's cursor events fire (the statement counts in tests and
benchmarks), and a driver error is turned into SQLAlchemy's exception on the same connection (so
"database is locked" still becomes `DatabaseUnavailable`) — and drops the rest.

An expanding ``IN`` is compiled once per number of values. A statement that needs more than
that (a Python-side column default, an INSERT … RETURNING of several rows) runs through the
session as before: `run` decides once per statement shape, and the answer is the same either way.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Connection, CursorResult

from evac.common.db import active_unit


class NoResultFound(LookupError):
    """`one()` or `scalar_one()` found no row."""


class MultipleResultsFound(LookupError):
    """`one()` or `scalar_one()` found more than one row."""


class Rows:
    """The rows a statement returned, with the part of SQLAlchemy's `Result` interface evac uses."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("no row")
        if len(self._rows) > 1:
            raise MultipleResultsFound("more than one row")
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise MultipleResultsFound("more than one row")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


@dataclass
class _Plan:
    """One statement shape, compiled for one dialect, ready for the cursor."""

    sql: str
    positions: tuple[str, ...] | None  # bind names in order (positional paramstyles), else None
    names: Mapping[str, str]  # bind name → name in the SQL (named paramstyles)
    processors: Mapping[str, Any]
    defaults: dict[str, Any]  # values the statement itself carries (literal binds)
    expansion: Mapping[str, Sequence[str]]  # an expanding bind → the names its values are bound to
    returns: bool
    result_types: tuple[Any, ...]
    row_type: Any = None
    result_processors: tuple[Any, ...] | None = None


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}
_KEEP: dict[int, Any] = {}  # the statements planned, so that their ids are never reused
_CONNECTION = "statements.connection"
_UNPLANNED: Any = object()
# Far more shapes than the hot paths have (each statement × its IN lengths): a bound, not a target.
_MAX_PLANS = 2000


def _plan(stmt: Any, connection: Connection, params: Mapping[str, Any]) -> _Plan | None:
    dialect = connection.dialect
    compiled: Any = stmt.compile(dialect=dialect, column_keys=sorted(params))
    if (compiled.literal_execute_params or compiled.insert_prefetch or compiled.update_prefetch
            or compiled.schema_translate_map):
        return None
    defaults = compiled.construct_params(_check=False, escape_names=False)
    for name in params:
        defaults.pop(name, None)
    sql = compiled.string
    positions = tuple(compiled.positiontup) if compiled.positional else None
    processors = dict(compiled._bind_processors)
    expansion: Mapping[str, Sequence[str]] = {}
    if compiled.post_compile_params:  # an expanding IN: the statement for this many values
        state = compiled._process_parameters_for_postcompile({**defaults, **params})
        sql, expansion = state.statement, state.parameter_expansion
        positions = tuple(state.positiontup) if state.positiontup is not None else None
        processors.update(state.processors)
    result_columns = compiled._result_columns
    return _Plan(
        sql=sql,
        positions=positions,
        names=dict(compiled.escaped_bind_names or {}),
        processors=processors,
        defaults=defaults,
        expansion=expansion,
        returns=bool(result_columns),
        result_types=tuple(entry.type for entry in result_columns),
        row_type=_row_type([entry.keyname for entry in result_columns]) if result_columns else None,
    )


def _row_type(keys: Sequence[str]) -> Any:
    """A named tuple for the rows: attribute access as on SQLAlchemy's rows, tuple unpacking too."""
    usable = all(k.isidentifier() and not keyword.iskeyword(k) and not k.startswith("_") for k in keys)
    return namedtuple("Row", keys if usable and len(set(keys)) == len(keys) else [f"c{i}" for i in range(len(keys))])


def _bound(plan: _Plan, params: Mapping[str, Any]) -> Any:
    values = {**plan.defaults, **params} if plan.defaults or plan.expansion else params
    for name, expanded in plan.expansion.items():
        values.update(zip(expanded, values.pop(name), strict=True))  # type: ignore[attr-defined]
    processors = plan.processors
    if plan.positions is not None:
        return tuple(processors[k](values[k]) if k in processors else values[k] for k in plan.positions)
    names = plan.names
    return {names.get(k, k): (processors[k](v) if k in processors else v) for k, v in values.items()}


def run(stmt: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Rows:
    """Execute `stmt` (built once, e.g. by `evac.common.db.prepared`) in the current unit's transaction.

    `params` is one mapping, or a list of mappings for an executemany without RETURNING.
    """
    from evac.extensions import db

    session = db.session
    rows: list[Mapping[str, Any]] | None = None
    first: Mapping[str, Any] = {}
    if isinstance(params, list) and len(params) != 1:
        rows = params
        first = params[0] if params else {}
    elif params:
        first = params[0] if isinstance(params, list) else params  # type: ignore[assignment]
    many = rows is not None  # one row is one execute (an INSERT … RETURNING of one row included)
    session.flush()  # as the session's own execute would (autoflush): pending objects are seen
    # The unit's connection, asked of the session once per unit (its bind lookup costs more than
    # the statements' own execution); a unit is one transaction on one connection to its end.
    unit_ = active_unit()
    connection = unit_.state.get(_CONNECTION) if unit_ is not None else None
    if connection is None:
        connection = session.connection()
        if unit_ is not None:
            unit_.state[_CONNECTION] = connection
    lengths = tuple(len(v) for v in first.values() if isinstance(v, list | tuple))
    key = (id(stmt), connection.dialect.name, frozenset(first), lengths)
    plan = _PLANS.get(key, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = None if many and lengths else _plan(stmt, connection, first)
        if len(_PLANS) < _MAX_PLANS:  # statements built per call would grow this without end: not kept
            _PLANS[key] = plan
            _KEEP[id(stmt)] = stmt
    if plan is None or (rows is not None and plan.returns):
        result = cast(CursorResult[Any], session.execute(stmt, rows if rows is not None else first))
        return Rows(list(result) if result.returns_rows else [])
    bound = [_bound(plan, p) for p in rows] if rows is not None else _bound(plan, first)
    cursor = connection.connection.cursor()
    dispatch = connection.dispatch if connection._has_events or connection.engine._has_events else None
    try:
        if dispatch is not None:
            dispatch.before_cursor_execute(connection, cursor, plan.sql, bound, None, many)
        if many:
            cursor.executemany(plan.sql, bound)
        else:
            cursor.execute(plan.sql, bound)
        if dispatch is not None:
            dispatch.after_cursor_execute(connection, cursor, plan.sql, bound, None, many)
        raw = cursor.fetchall() if plan.returns else []
    except connection.dialect.loaded_dbapi.Error as error:
        # SQLAlchemy's own handling: the same exception classes, a lost connection invalidated.
        connection._handle_dbapi_exception(error, plan.sql, bound, cursor, None)
    finally:
        cursor.close()
    if not plan.returns:
        return Rows([])
    if plan.result_processors is None:
        dialect = connection.dialect
        plan.result_processors = tuple(
            type_._cached_result_processor(dialect, None) for type_ in plan.result_types)
    processors = plan.result_processors
    make = plan.row_type._make
    if any(processors):
        return Rows([make([p(v) if p else v for p, v in zip(processors, row, strict=True)]) for row in raw])
    return Rows([make(row) for row in raw])
