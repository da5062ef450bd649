"""The HQ occupancy summary (GET /api/v1/occupancy), built once per version and role per process.

Several HQ officers poll the same national summary every few seconds; at 82,557 shelters and
2,500 open ones its JSON is 1.3 MB. Each process keeps the last summary it built for each role,
tagged with the version it was built under (`occupancy_version`, read on every poll anyway), and
answers a poll of that version from it: the JSON text, its gzip (made once) and the delta of a
`since=` poll all come from the kept rows.

When the version has moved, only what changed is read again: the open shelters whose shelter row
or counter row was stamped since the kept summary was read (less `DELTA_OVERLAP`, by the indexes
on both `updated_at` columns), merged into the kept rows. The merged rows are then checked against
the version's own aggregate — count and sum of the ids, sums of every count and capacity, sums of
both tables' stamps in microseconds, the incident: a row the merge missed (a change stamped by a
clock far behind, a shelter closed without a new stamp) leaves a sum different, and the summary is
built again from all rows. So a kept summary is never served for a version other than its own,
and nothing depends on another process: each gunicorn worker checks the database on every poll.

Counts only, no personal data. The role is part of every key (HQ and admin see the same shelters
today; a role that sees fewer will not be handed another's rows).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json import encoder as json_encoder
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Integer, String, cast, extract, func, literal_column, select, type_coerce, union_all

from evac.common.db import now_utc, read_only
from evac.extensions import db, per_app
from evac.hq import compression
from evac.incidents import service as incidents
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import NEED_COLUMNS, ShelterTally

ACTIVE = (ShelterStatus.OPEN, ShelterStatus.FULL)
_ACTIVE_VALUES = frozenset(status.value for status in ACTIVE)
# Need keys as the API names them (elderly, infant, …), in the order of `Need`.
NEED_KEYS = tuple(column.removeprefix("need_") for column in NEED_COLUMNS)
NEAR_FULL = 0.8
COUNT_COLUMNS = ("occupancy", "households", "at_home", "in_car", "pets", *NEED_COLUMNS)
# How far before a delta poll's `since` (or a kept summary's read) changes are read again: a change
# is stamped by its application server's clock before its transaction commits, so one stamped a
# little before the last read may have become visible only after it.
DELTA_OVERLAP = timedelta(seconds=60)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


# ---------------------------------------------------------------------------------------------
# The version


def _stamp_micros_sql(column: Any, dialect: str) -> Any:
    """A stored timestamp as integer microseconds since 1970 (UTC), the same on both databases."""
    if dialect == "postgresql":
        return cast(extract("epoch", column) * 1_000_000, BigInteger)
    # evac's stored text, naive UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`: whole seconds from the text
    # without its fraction (SQLite keeps times in milliseconds, so .9996 s would round up to the
    # next second), the fraction padded so a missing or short one reads as the microseconds it means.
    text = type_coerce(column, String)
    return (cast(func.strftime("%s", func.substr(text, 1, 19)), Integer) * 1_000_000
            + cast(func.substr(text.concat("000000"), 21, 6), Integer))


def _stamp_micros(value: Any) -> int | None:
    """`_stamp_micros_sql` of a value as the driver returned it (text on SQLite, aware on PostgreSQL)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    # Text written by something other than evac may carry an offset: then the SQL's figure differs,
    # the check fails and the summary is built from all rows (slower, never wrong).
    return (value - (_EPOCH_NAIVE if value.tzinfo is None else _EPOCH)) // _MICROSECOND


def _version_query(dialect: str) -> Any:
    tally = ShelterTally
    return (
        select(
            func.count(), func.coalesce(func.sum(Shelter.id), 0),
            func.coalesce(func.sum(_stamp_micros_sql(Shelter.updated_at, dialect)), 0),
            func.coalesce(func.sum(_stamp_micros_sql(tally.updated_at, dialect)), 0),
            *(func.coalesce(func.sum(getattr(tally, c)), 0) for c in COUNT_COLUMNS),
            func.coalesce(func.sum(Shelter.capacity), 0),
        )
        .select_from(Shelter)
        .outerjoin(tally, tally.shelter_id == Shelter.id)
        # Matches the partial index ix_shelter_active exactly, so only open shelters are read.
        .where(Shelter.status.in_(ACTIVE))
    )


Aggregate = tuple[int | None, ...]


@dataclass(frozen=True)
class Version:
    """What the summary would be built from, in figures: `tag` for the ETag, `aggregate` to check rows by."""

    tag: str
    aggregate: Aggregate


def read_version() -> Version:
    """The version of the open shelters and their counters (joins the caller's unit).

    No write on the check-in path: one aggregate over the partial index of open shelters. A
    check-in, check-out or status change moves a counter's stamp and a sum; opening or closing a
    shelter changes the set; a name, status or capacity change moves the shelter's stamp; switching
    the incident changes its id and replaces the counters. Stamps are summed, not just their
    latest taken: a change committed with an older stamp than one already seen (two servers'
    clocks) still moves the sum.
    """
    dialect = db.session.connection().dialect.name
    # Through the driver with the statuses written into the SQL, as the rows are read: SQLite uses
    # the partial index of open shelters only for literal statuses (bound ones read all 82,557).
    (row,) = _driver_rows("version", lambda: _version_query(dialect))
    incident = incidents.current()
    aggregate: Aggregate = (incident.id if incident else None, *(int(v) for v in row))
    text = "|".join("" if v is None else str(v) for v in aggregate)
    return Version(hashlib.blake2b(text.encode(), digest_size=12).hexdigest(), aggregate)


# ---------------------------------------------------------------------------------------------
# Rows, read through the driver


def _row_columns() -> tuple[Any, ...]:
    return (
        Shelter.id, Shelter.code, Shelter.name, Shelter.name_kana, Shelter.status, Shelter.capacity,
        Shelter.municipality_code, Shelter.municipality_name, Shelter.lat, Shelter.lon, Shelter.updated_at,
        *(getattr(ShelterTally, c) for c in COUNT_COLUMNS), ShelterTally.updated_at,
    )


def _all_rows_query() -> Any:
    return (
        select(*_row_columns())
        .select_from(Shelter)
        .outerjoin(ShelterTally, ShelterTally.shelter_id == Shelter.id)
        .where(Shelter.status.in_(ACTIVE))
        .order_by(Shelter.id)
    )


def _changed_rows_query() -> Any:
    """Shelters whose row or counter row was stamped at or after `:cutoff`, whatever their status
    (a closed one leaves the summary); each half by its table's `updated_at` index."""
    cutoff: Any = literal_column(":cutoff")
    by_shelter = (select(*_row_columns()).select_from(Shelter)
                  .outerjoin(ShelterTally, ShelterTally.shelter_id == Shelter.id)
                  .where(Shelter.updated_at >= cutoff))
    # As `id IN (…)`, not a join: without statistics on the counters (a fresh rebuild) SQLite
    # chose to scan all 82,557 shelters and look each one's counter up; this way it must begin
    # with the counters' stamp index and fetch the few shelters by id.
    by_tally = (select(*_row_columns()).select_from(Shelter)
                .outerjoin(ShelterTally, ShelterTally.shelter_id == Shelter.id)
                .where(Shelter.id.in_(select(ShelterTally.shelter_id).where(ShelterTally.updated_at >= cutoff))))
    return union_all(by_shelter, by_tally)


_compiled: dict[tuple[str, str], str] = {}


def _sql(name: str, dialect: Any, build: Any) -> str:
    key = (name, dialect.name)
    sql = _compiled.get(key)
    if sql is None:  # constant SQL (its only values are the two statuses): compiled once per dialect
        sql = str(build().compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.paramstyle == "qmark":
            sql = sql.replace(":cutoff", "?")
        else:  # psycopg's pyformat
            sql = sql.replace(":cutoff", "%(cutoff)s")
        _compiled[key] = sql
    return sql


def _driver_rows(name: str, build: Any, cutoff: Any = None) -> list[tuple[Any, ...]]:
    """A query's rows as the driver returns them (no SQLAlchemy row processing: a third of the time)."""
    connection = db.session.connection()
    dialect = connection.dialect
    sql = _sql(name, dialect, build)
    driver = connection.connection.driver_connection
    assert driver is not None  # a checked-out connection always has its driver connection
    cursor = driver.cursor()
    try:
        if cutoff is None:
            cursor.execute(sql)
        else:
            count = sql.count("?") if dialect.paramstyle == "qmark" else 0
            cursor.execute(sql, (cutoff,) * count if count else {"cutoff": cutoff})
        return list(cursor.fetchall())
    finally:
        cursor.close()


def driver_time(value: datetime, dialect: str) -> Any:
    """`value` as the driver hands stored timestamps back, so raw rows compare with it."""
    if dialect == "sqlite":  # evac's stored text: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# ---------------------------------------------------------------------------------------------
# One shelter's entry


def _raw_iso(value: Any) -> str | None:
    """A timestamp read straight from the driver, as ISO 8601 in UTC.

    SQLite hands back evac's stored text (naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``), PostgreSQL an
    aware datetime. Parsing thousands of them into datetimes only to format them again cost a
    third of the summary's time.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace(" ", "T") + "+00:00"
    return value.astimezone(UTC).isoformat()


_string = json_encoder.encode_basestring  # the C encoder json.dumps itself uses (non-ASCII kept)
_NEEDS_JSON = "{" + ",".join(f'"{key}":%d' for key in NEED_KEYS) + "}"
_ZERO_COUNTS = (0,) * len(COUNT_COLUMNS)


def _text(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _number(value: float | None) -> str:
    return "null" if value is None or not math.isfinite(value) else repr(value)


class Entry(NamedTuple):
    """One open shelter of the summary: its JSON, when it last changed, and what the totals and
    the version check add up."""

    json: str
    last_change: Any  # as the driver returned it: compares with `driver_time`
    counts: tuple[int, ...]  # COUNT_COLUMNS
    capacity: int | None
    full: bool
    near_full: bool
    shelter_stamp: int | None
    tally_stamp: int | None


def _entry(row: tuple[Any, ...]) -> Entry:
    (sid, code, name, kana, status, capacity, mcode, mname, lat, lon, shelter_updated, *rest) = row
    tally_updated = rest[-1]
    counts = _ZERO_COUNTS if rest[0] is None else tuple(rest[:-1])  # no counter row: nobody stayed
    occupancy, households, at_home, in_car, pets = counts[:5]
    ratio = occupancy / capacity if capacity else None
    last_change = tally_updated if tally_updated and tally_updated > shelter_updated else shelter_updated
    text = (
        f'{{"id":{sid},"code":{_text(code)},"name":{_text(name)},"name_kana":{_text(kana)},'
        f'"status":{_text(status)},'
        f'"municipality_code":{_text(mcode)},"municipality_name":{_text(mname)},'
        f'"lat":{_number(lat)},"lon":{_number(lon)},"capacity":{_number(capacity)},'
        f'"occupancy":{occupancy},"households":{households},"at_home":{at_home},"in_car":{in_car},'
        f'"pets":{pets},"needs":{_NEEDS_JSON % counts[5:]},'
        f'"fill":{"null" if ratio is None else repr(round(ratio, 4))},'
        f'"last_stay_change":{_text(_raw_iso(tally_updated))},"updated_at":{_text(_raw_iso(last_change))}}}'
    )
    full = status == ShelterStatus.FULL.value or (ratio is not None and ratio >= 1)
    return Entry(text, last_change, counts, capacity, full, not full and ratio is not None and ratio >= NEAR_FULL,
                 _stamp_micros(shelter_updated), _stamp_micros(tally_updated))


# ---------------------------------------------------------------------------------------------
# The summary


@dataclass(eq=False)
class Summary:
    """The summary of one version for one role: every open shelter's entry (by id) and the totals."""

    role: str
    version: Version
    dialect: str
    incident_id: int | None
    generated_at: datetime
    read_at: datetime  # taken before the rows were read: the next refresh reads changes from here
    entries: dict[int, Entry]
    totals: dict[str, Any]
    aggregate: Aggregate
    _body: bytes | None = field(default=None, repr=False)
    _gzipped: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _head(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat(), "incident_id": self.incident_id,
                "totals": self.totals}

    def _json(self, head: dict[str, Any], entries: Iterable[Entry]) -> str:
        head_json = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
        return head_json[:-1] + ',"shelters":[' + ",".join(e.json for e in entries) + "]}"

    def body(self) -> bytes:
        """The whole answer as UTF-8 JSON, made once."""
        if self._body is None:
            with self._lock:
                if self._body is None:
                    self._body = self._json(self._head(), self.entries.values()).encode()
        return self._body

    def gzipped(self) -> bytes:
        """`body()` gzipped, made once (a megabyte of JSON costs tens of milliseconds to compress)."""
        if self._gzipped is None:
            body = self.body()
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(body, compresslevel=compression.LEVEL, mtime=0)
        return self._gzipped

    def delta_json(self, since: datetime, closed_ids: list[int]) -> str:
        """The totals in full, the shelters changed since `since` (less `DELTA_OVERLAP`) and the
        ids of those closed since (`closed_ids`, read by the caller)."""
        cutoff = driver_time(since - DELTA_OVERLAP, self.dialect)
        head = {**self._head(), "delta": True, "since": since.isoformat(), "closed_ids": closed_ids}
        return self._json(head, (e for e in self.entries.values() if e.last_change >= cutoff))


def _add_up(entries: dict[int, Entry], incident_id: int | None) -> tuple[dict[str, Any], Aggregate]:
    """The totals shown, and the entries' figures in the order of `read_version`'s aggregate."""
    values = entries.values()
    # Column by column in C (zip, sum) rather than a Python loop per count: 2,500 shelters × 14
    # counts are added up on every refresh.
    sums = [sum(column) for column in zip(*(e.counts for e in values), strict=True)] or [0] * len(COUNT_COLUMNS)
    capacities = [e.capacity for e in values if e.capacity is not None]
    capacity_total, capacity_unknown = sum(capacities), len(entries) - len(capacities)
    full = sum(e.full for e in values)
    near_full = sum(e.near_full for e in values)
    id_sum = sum(entries)
    shelter_stamps = sum(e.shelter_stamp or 0 for e in values)
    tally_stamps = sum(e.tally_stamp or 0 for e in values)
    occupancy, households, at_home, in_car, pets = sums[:5]
    totals = {
        "open_shelters": len(entries), "occupancy": occupancy, "households": households,
        "capacity": capacity_total, "capacity_unknown": capacity_unknown, "at_home": at_home,
        "in_car": in_car, "pets": pets, "near_full": near_full, "full": full,
        "needs": dict(zip(NEED_KEYS, sums[5:], strict=True)),
    }
    aggregate = (incident_id, len(entries), id_sum, shelter_stamps, tally_stamps, *sums, capacity_total)
    return totals, aggregate


def _summary(role: str, version: Version, dialect: str, incident_id: int | None, read_at: datetime,
             entries: dict[int, Entry]) -> Summary:
    totals, aggregate = _add_up(entries, incident_id)
    return Summary(role, version, dialect, incident_id, now_utc(), read_at, entries, totals, aggregate)


def build(role: str, version: Version) -> Summary:
    """The summary from every open shelter's row (joins the caller's unit)."""
    dialect = db.session.connection().dialect.name
    read_at = now_utc()
    entries = {row[0]: _entry(row) for row in _driver_rows("all", _all_rows_query)}
    incident = incidents.current()
    return _summary(role, version, dialect, incident.id if incident else None, read_at, entries)


def refreshed(kept: Summary, version: Version) -> Summary | None:
    """`kept` with the shelters changed since it was read merged in, if the result adds up to
    `version`; None when it does not (then the summary must be built from all rows)."""
    if kept.incident_id != version.aggregate[0]:
        return None  # another incident: its counters replaced the old ones
    dialect = db.session.connection().dialect.name
    read_at = now_utc()
    cutoff = driver_time(kept.read_at - DELTA_OVERLAP, dialect)
    changed = _driver_rows("changed", _changed_rows_query, cutoff)
    entries = dict(kept.entries)
    for row in changed:
        if row[4] in _ACTIVE_VALUES:
            entries[row[0]] = _entry(row)
        else:
            entries.pop(row[0], None)
    if any(row[0] not in kept.entries for row in changed):
        entries = dict(sorted(entries.items()))  # the answer lists shelters by id
    summary = _summary(kept.role, version, dialect, kept.incident_id, read_at, entries)
    if summary.aggregate != version.aggregate:
        return None
    return summary


class SummaryCache:
    """The last summary built per role, in this process, for this app (a test run builds many
    apps over many databases)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Summary] = {}

    def kept(self, role: str) -> Summary | None:
        with self._lock:
            return self._kept.get(role)

    def keep(self, summary: Summary) -> None:
        with self._lock:
            self._kept[summary.role] = summary

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def cache() -> SummaryCache:
    """The current app's summary cache."""
    return per_app("evac.hq.summary", SummaryCache)


@read_only
def current_version() -> Version:
    """`read_version` as a unit of its own (an ETag check reads nothing else)."""
    return read_version()


@read_only
def summary_for(role: str, version: Version) -> Summary:
    """The summary of `version` for `role`: the kept one if it is that version, else the kept one
    refreshed with what changed, else one built from all rows; kept for the next poll.

    A summary is built after its version was read, so it may be newer than its version (a change
    committed in between), never older: the next poll then sees another version and refreshes.
    """
    store = cache()
    kept = store.kept(role)
    if kept is not None and kept.version.tag == version.tag:
        return kept
    summary = refreshed(kept, version) if kept is not None else None
    if summary is None:
        summary = build(role, version)
    store.keep(summary)
    return summary


@read_only
def closed_since(since: datetime) -> list[int]:
    """Ids of the shelters closed since `since` (less `DELTA_OVERLAP`), for a delta poll."""
    cutoff = since - DELTA_OVERLAP
    # By the stamp's index alone, the status looked at here: with the status in the WHERE, SQLite
    # walked the status index through every closed shelter (80,000 of 82,557) on each delta poll.
    rows = db.session.execute(select(Shelter.id, Shelter.status).where(Shelter.updated_at >= cutoff))
    return sorted(sid for sid, status in rows if status is ShelterStatus.CLOSED)
