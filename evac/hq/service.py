"""What HQ sees: occupancy of every open shelter with totals, the 24-hour trend, sync state.

Everything here reads the counters of `evac.hq.tallies` (one row per shelter), never the stays,
so the national summary stays fast at 82,557 shelters and 470,000 open stays. No personal data
passes through this module: counts per shelter only.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from json import encoder as json_encoder
from typing import Any

from sqlalchemy import func, or_, select

from evac.common.db import now_utc, read_only
from evac.common.textnorm import kana_key
from evac.extensions import db
from evac.incidents import service as incidents
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from evac.shelters.models import Shelter, ShelterStatus
from evac.shelters.service import get_shelter, reading_order
from evac.stays.models import NEED_COLUMNS, OccupancyHour, ShelterTally

ACTIVE = (ShelterStatus.OPEN, ShelterStatus.FULL)
# Need keys as the API names them (elderly, infant, …), in the order of `Need`.
NEED_KEYS = tuple(column.removeprefix("need_") for column in NEED_COLUMNS)
NEAR_FULL = 0.8
TREND_HOURS = 24
SYNC_CONNECTORS = ("http", "csv")

_SHELTER_COLUMNS = (Shelter.id, Shelter.code, Shelter.name, Shelter.name_kana, Shelter.status,
                    Shelter.capacity, Shelter.municipality_code, Shelter.municipality_name, Shelter.address, Shelter.lat,
                    Shelter.lon, Shelter.kind, Shelter.opened_at, Shelter.updated_at)


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


def _summary_query() -> Any:
    return (
        select(
            Shelter.id, Shelter.code, Shelter.name, Shelter.name_kana, Shelter.status, Shelter.capacity,
            Shelter.municipality_code, Shelter.municipality_name, Shelter.lat, Shelter.lon, Shelter.updated_at,
            ShelterTally.occupancy, ShelterTally.households, ShelterTally.at_home, ShelterTally.in_car,
            ShelterTally.pets, *(getattr(ShelterTally, c) for c in NEED_COLUMNS), ShelterTally.updated_at,
        )
        .select_from(Shelter)
        .outerjoin(ShelterTally, ShelterTally.shelter_id == Shelter.id)
        # Matches the partial index ix_shelter_active exactly, so only open shelters are read.
        .where(Shelter.status.in_(ACTIVE))
        .order_by(Shelter.id)
    )


_compiled: dict[str, str] = {}


def _summary_rows() -> list[tuple[Any, ...]]:
    """The summary query's rows as the driver returns them (no SQLAlchemy row processing)."""
    connection = db.session.connection()
    dialect = connection.dialect
    sql = _compiled.get(dialect.name)
    if sql is None:  # constant SQL (its only values are the two statuses): compiled once per dialect
        sql = _compiled[dialect.name] = str(
            _summary_query().compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    assert driver is not None  # a checked-out connection always has its driver connection
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _version_query() -> Any:
    tally = ShelterTally
    return (
        select(
            func.count(), func.coalesce(func.sum(Shelter.id), 0), func.max(Shelter.updated_at),
            func.max(tally.updated_at),
            *(func.coalesce(func.sum(getattr(tally, c)), 0) for c in ("occupancy", "households", "at_home", "in_car",
                                                                      "pets", *NEED_COLUMNS)),
            func.coalesce(func.sum(Shelter.capacity), 0),
        )
        .select_from(Shelter)
        .outerjoin(tally, tally.shelter_id == Shelter.id)
        .where(Shelter.status.in_(ACTIVE))
    )


@read_only
def occupancy_version() -> str:
    """A short text that changes whenever GET /api/v1/occupancy would answer differently.

    Read from what is already stored — no write on the check-in path: over the same rows as the
    summary (the open shelters and their counters), their number and ids, the latest change of
    each table and the sums of every count and capacity. A check-in, check-out or status change
    moves a counter's `updated_at` and a sum; opening or closing a shelter changes the set; a
    name, status or capacity change moves the shelter's `updated_at`; switching the incident
    replaces the counters. One aggregate over the partial index of open shelters: no JSON built.

    Timestamps come from the application servers' clocks, so two commits may land out of order;
    the sums still move with every count change, and anything that escaped (a rename committed
    with an older stamp than one already seen) shows with the next change.
    """
    row = db.session.execute(_version_query()).one()
    text = "|".join("" if v is None else str(v) for v in row)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


_string = json_encoder.encode_basestring  # the C encoder json.dumps itself uses (non-ASCII kept)
_NEEDS_JSON = "{" + ",".join(f'"{key}":%d' for key in NEED_KEYS) + "}"
_ZERO_NEEDS = (0,) * len(NEED_KEYS)


def _text(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _number(value: float | None) -> str:
    return "null" if value is None or not math.isfinite(value) else repr(value)


# How far before a delta poll's `since` changes are sent again: a change is stamped by its
# application server's clock before its transaction commits, so one stamped a little before the
# last answer may have become visible only after it. Sending a minute again costs a few rows.
DELTA_OVERLAP = timedelta(seconds=60)


def _driver_time(value: datetime, dialect: str) -> Any:
    """`value` as the driver hands stored timestamps back, so raw rows compare with it."""
    if dialect == "sqlite":  # evac's stored text: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _closed_since(cutoff: datetime) -> list[int]:
    return list(db.session.scalars(select(Shelter.id).where(
        Shelter.status == ShelterStatus.CLOSED, Shelter.updated_at >= cutoff).order_by(Shelter.id)))


@read_only
def occupancy_summary_json(since: datetime | None = None) -> str:
    """Totals and one entry per open or full shelter, as the JSON text of GET /api/v1/occupancy.

    With `since` (the `generated_at` of the caller's last answer) it is a delta: the totals in
    full, but only the shelters changed since then (less `DELTA_OVERLAP`) and the ids of those
    closed since (`closed_ids`); the caller keeps the rest from its last answer. A delta over
    another incident than the caller's last answer is theirs to notice (`incident_id`).

    One query over the partial index of open shelters, joined to the counters by primary key,
    read through the driver and written out as JSON row by row: with 2,500 open shelters this is
    a fraction of the time that building dicts for a generic encoder took. Counts only, no
    personal data: nothing to audit.
    """
    rows = _summary_rows()
    cutoff = None if since is None else _driver_time(since - DELTA_OVERLAP, db.session.connection().dialect.name)
    need_totals = [0] * len(NEED_KEYS)
    occupancy_total = households_total = at_home_total = in_car_total = pets_total = 0
    capacity_total = capacity_unknown = near_full = full = 0
    parts: list[str] = []
    append = parts.append
    shown = 0
    for (sid, code, name, kana, status, capacity, mcode, mname, lat, lon, shelter_updated,
         occupancy, households, at_home, in_car, pets, *rest) in rows:
        tally_updated = rest[-1]
        if occupancy is None:  # no counter row yet: nobody has stayed there
            occupancy = households = at_home = in_car = pets = 0
            needs = _ZERO_NEEDS
        else:
            needs = tuple(rest[:-1])
            for i, n in enumerate(needs):
                need_totals[i] += n
        ratio = occupancy / capacity if capacity else None
        last_change = tally_updated if tally_updated and tally_updated > shelter_updated else shelter_updated
        shown += 1
        if cutoff is None or last_change >= cutoff:
            append(
                f'{{"id":{sid},"code":{_text(code)},"name":{_text(name)},"name_kana":{_text(kana)},'
                f'"status":{_text(status)},'
                f'"municipality_code":{_text(mcode)},"municipality_name":{_text(mname)},'
                f'"lat":{_number(lat)},"lon":{_number(lon)},"capacity":{_number(capacity)},'
                f'"occupancy":{occupancy},"households":{households},"at_home":{at_home},"in_car":{in_car},'
                f'"pets":{pets},"needs":{_NEEDS_JSON % needs},'
                f'"fill":{"null" if ratio is None else repr(round(ratio, 4))},'
                f'"last_stay_change":{_text(_raw_iso(tally_updated))},"updated_at":{_text(_raw_iso(last_change))}}}'
            )
        occupancy_total += occupancy
        households_total += households
        at_home_total += at_home
        in_car_total += in_car
        pets_total += pets
        if capacity is None:
            capacity_unknown += 1
        else:
            capacity_total += capacity
        if status == ShelterStatus.FULL.value or (ratio is not None and ratio >= 1):
            full += 1
        elif ratio is not None and ratio >= NEAR_FULL:
            near_full += 1
    totals = {
        "open_shelters": shown, "occupancy": occupancy_total, "households": households_total,
        "capacity": capacity_total, "capacity_unknown": capacity_unknown, "at_home": at_home_total,
        "in_car": in_car_total, "pets": pets_total, "near_full": near_full, "full": full,
        "needs": dict(zip(NEED_KEYS, need_totals, strict=True)),
    }
    incident = incidents.current()
    head: dict[str, Any] = {"generated_at": now_utc().isoformat(), "incident_id": incident.id if incident else None,
                            "totals": totals}
    if since is not None:
        head.update(delta=True, since=since.isoformat(), closed_ids=_closed_since(since - DELTA_OVERLAP))
    head_json = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return head_json[:-1] + ',"shelters":[' + ",".join(parts) + "]}"


def _hours(now: datetime, hours: int) -> list[datetime]:
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


@read_only
def trend(shelter_id: int | None = None, *, hours: int = TREND_HOURS, incident_id: int | None = None) -> dict[str, Any]:
    """Occupancy at the end of each of the last `hours` clock hours of an incident (the open one: up to now).

    Walked back from the current counters with each hour's change (closing − opening), so an hour
    without a change carries the value forward. The total covers every shelter's counters. An
    incident that has ended is walked back from its end, when nobody was left (a disaster closes
    only once everyone has gone; a drill's trend is gone with the drill).
    """
    from evac.hq.incidents import chosen

    if shelter_id is not None:
        get_shelter(shelter_id)  # 404 for a shelter that does not exist
    incident = chosen(incident_id)
    now = now_utc() if incident is None or incident.open else incident.ended_at
    buckets = _hours(now, hours)
    in_incident = OccupancyHour.incident_id == (incident.id if incident else -1)
    live = incident is not None and incident.open
    if shelter_id is None:
        current = (db.session.scalar(select(func.coalesce(func.sum(ShelterTally.occupancy), 0))) or 0) if live else 0
        changes = db.session.execute(
            select(OccupancyHour.hour, func.sum(OccupancyHour.closing - OccupancyHour.opening))
            .where(in_incident, OccupancyHour.hour >= buckets[0], OccupancyHour.hour <= buckets[-1])
            .group_by(OccupancyHour.hour))
    else:
        current = (db.session.scalar(
            select(ShelterTally.occupancy).where(ShelterTally.shelter_id == shelter_id)) or 0) if live else 0
        changes = db.session.execute(
            select(OccupancyHour.hour, OccupancyHour.closing - OccupancyHour.opening)
            .where(in_incident, OccupancyHour.shelter_id == shelter_id, OccupancyHour.hour >= buckets[0],
                   OccupancyHour.hour <= buckets[-1]))
    change_by_hour = {hour: int(change or 0) for hour, change in changes}
    points: list[dict[str, Any]] = []
    value = int(current)
    for hour in reversed(buckets):
        points.append({"hour": hour.isoformat(), "occupancy": value})
        value -= change_by_hour.get(hour, 0)
    points.reverse()
    return {"shelter_id": shelter_id, "incident_id": incident.id if incident else None, "now": now.isoformat(),
            "start": value, "points": points}


@read_only
def shelter_sync_states(shelter_ids: Sequence[int], connector: str) -> dict[int, dict[str, Any]]:
    """Per shelter: are its changes delivered to the victim-support system (`ok`), waiting
    (`pending`, with a count), held behind a refused batch (`parked`), or is sync off (`off`)?

    Reads the sync engineer's state tables (cursor and undelivered batches) for the given shelters
    only: the HQ page asks for the rows it shows.
    """
    ids = list(dict.fromkeys(shelter_ids))
    if connector not in SYNC_CONNECTORS:
        return {sid: {"state": "off", "pending": 0} for sid in ids}
    state = db.session.get(SyncConnector, connector)
    cursor = state.cursor if state is not None else 0
    pending: dict[int, int] = defaultdict(int)
    parked: dict[int, int] = defaultdict(int)
    for sid, n in db.session.execute(
        select(OutboxEvent.shelter_id, func.count()).where(OutboxEvent.seq > cursor, OutboxEvent.shelter_id.in_(ids),
                                                           OutboxEvent.drill.is_(False))
        .group_by(OutboxEvent.shelter_id)
    ):
        if sid is not None:
            pending[sid] += n
    status_of_seq: dict[int, BatchStatus] = {}
    for status, seqs in db.session.execute(
        select(SyncBatch.status, SyncBatch.seqs).where(
            SyncBatch.connector == connector,
            SyncBatch.status.in_([BatchStatus.QUEUED, BatchStatus.HELD, BatchStatus.PARKED]))
    ):
        for seq in seqs or []:
            status_of_seq[int(seq)] = status
    seqs = sorted(status_of_seq)
    for start in range(0, len(seqs), 1000):
        chunk = seqs[start:start + 1000]
        for seq, sid in db.session.execute(
            select(OutboxEvent.seq, OutboxEvent.shelter_id).where(OutboxEvent.seq.in_(chunk),
                                                                 OutboxEvent.shelter_id.in_(ids))
        ):
            if sid is not None:
                (parked if status_of_seq[seq] is BatchStatus.PARKED else pending)[sid] += 1
    result = {}
    for sid in ids:
        if parked.get(sid):
            result[sid] = {"state": "parked", "pending": pending.get(sid, 0) + parked[sid]}
        elif pending.get(sid):
            result[sid] = {"state": "pending", "pending": pending[sid]}
        else:
            result[sid] = {"state": "ok", "pending": 0}
    return result


# How many matches a search sorts in 五十音 order before it keeps the first `limit`.
SEARCH_SORT_WINDOW = 500


@read_only
def find_shelters(query: str, *, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Shelters by name, kana or code (to open a closed one from the HQ page), by municipality and
    then in 五十音 order of the reading; each with its kind and code, so that two shelters of the
    same name (a school's gym and its hall) can be told apart."""
    text = query.strip()
    stmt = select(*_SHELTER_COLUMNS)
    if text:
        stmt = stmt.where(or_(Shelter.name.contains(text, autoescape=True),
                              Shelter.name_kana.contains(kana_key(text), autoescape=True),
                              Shelter.code == text, Shelter.municipality_name.contains(text, autoescape=True)))
    if status:
        stmt = stmt.where(Shelter.status == ShelterStatus(status))
    # The database orders by code point; a window of its first rows is put in 五十音 order here.
    rows = list(db.session.execute(stmt.order_by(Shelter.municipality_code, Shelter.name_kana, Shelter.id)
                                   .limit(max(limit, SEARCH_SORT_WINDOW))))
    rows.sort(key=lambda r: (r.municipality_code or "", reading_order(r.name_kana, r.name), r.id))
    return [{"id": r.id, "code": r.code, "name": r.name, "name_kana": r.name_kana, "kind": r.kind.value,
             "status": r.status.value, "capacity": r.capacity, "municipality_name": r.municipality_name,
             "address": r.address} for r in rows[:limit]]
