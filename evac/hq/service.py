"""What HQ sees: occupancy of every open shelter with totals, the 24-hour trend, sync state.

Everything here reads the counters of `evac.hq.tallies` (one row per shelter), never the stays,
so the national summary stays fast at 82,557 shelters and 470,000 open stays. No personal data
passes through this module: counts per shelter only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from evac.common.db import now_utc, read_only
from evac.common.textnorm import kana_key
from evac.extensions import db
from evac.hq import summary
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from evac.shelters.models import Shelter, ShelterStatus
from evac.shelters.service import get_shelter, reading_order
from evac.stays.models import OccupancyHour, ShelterTally

TREND_HOURS = 24
SYNC_CONNECTORS = ("http", "csv")

_SHELTER_COLUMNS = (Shelter.id, Shelter.code, Shelter.name, Shelter.name_kana, Shelter.status,
                    Shelter.capacity, Shelter.municipality_code, Shelter.municipality_name, Shelter.address, Shelter.lat,
                    Shelter.lon, Shelter.kind, Shelter.opened_at, Shelter.updated_at)


@read_only
def occupancy_version() -> str:
    """A short text that changes whenever GET /api/v1/occupancy would answer differently
    (`evac.hq.summary.read_version`)."""
    return summary.read_version().tag


@read_only
def occupancy_summary_json(since: datetime | None = None) -> str:
    """Totals and one entry per open or full shelter, as the JSON text of GET /api/v1/occupancy,
    built from all rows now (the endpoint serves the kept one of its version: `summary.summary_for`).

    With `since` (the `generated_at` of the caller's last answer) it is a delta: the totals in
    full, but only the shelters changed since then (less `DELTA_OVERLAP`) and the ids of those
    closed since (`closed_ids`); the caller keeps the rest from its last answer.
    """
    built = summary.build("", summary.read_version())
    if since is None:
        return built.body().decode()
    return built.delta_json(since, summary.closed_since(since))


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
