"""Shelter queries and changes shared by the API, the pages and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from evac.audit import service as audit
from evac.common.db import now_utc, read_only, writing
from evac.common.errors import NotFound, ValidationFailed
from evac.extensions import db
from evac.incidents import service as incidents
from evac.outbox import service as outbox
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays import service as stays
from evac.stays.service import Occupancy

__all__ = ["Occupancy", "ShelterPage", "get_shelter", "list_shelters", "shelter_payload", "update_shelter"]


@dataclass(frozen=True)
class ShelterPage:
    """One page of shelters with their occupancy."""

    items: Sequence[tuple[Shelter, Occupancy]]
    total: int
    next_cursor: int | None


@read_only
def list_shelters(scope: frozenset[int] | None, *, limit: int = 100, cursor: int | None = None,
                  status: str | None = None) -> ShelterPage:
    """Shelters within `scope` (None: every shelter), by id, keyset-paginated so deep pages stay fast."""
    query = select(Shelter)
    if scope is not None:
        query = query.where(Shelter.id.in_(sorted(scope)))
    if status:
        query = query.where(Shelter.status == ShelterStatus(status))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        query = query.where(Shelter.id > cursor)
    shelters = list(db.session.scalars(query.order_by(Shelter.id).limit(limit + 1)))
    more = len(shelters) > limit
    shelters = shelters[:limit]
    counts = stays.occupancy_for(s.id for s in shelters)
    items = [(s, counts.get(s.id, Occupancy())) for s in shelters]
    return ShelterPage(items, total, shelters[-1].id if more else None)


def get_shelter(shelter_id: int) -> Shelter:
    """The shelter with this id, or `NotFound` (joins the caller's unit)."""
    shelter = db.session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(_("避難所が見つかりません"), shelter_id=shelter_id)
    return shelter


@read_only
def shelter_with_occupancy(shelter_id: int) -> tuple[Shelter, Occupancy]:
    """One shelter and its live counts."""
    shelter = get_shelter(shelter_id)
    return shelter, stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())


def shelter_payload(shelter: Shelter) -> dict[str, object]:
    """The shelter as the sync wire format carries it (no personal data in a shelter)."""
    return {
        "id": shelter.id,
        "code": shelter.code,
        "name": shelter.name,
        "status": shelter.status.value,
        "capacity": shelter.capacity,
        "municipality_code": shelter.municipality_code,
    }


@writing
def update_shelter(shelter_id: int, *, status: str | None = None, capacity: int | None = None,
                   capacity_given: bool = False) -> tuple[Shelter, Occupancy]:
    """Open, close, mark full or set the capacity; audited, with a `shelter.updated` outbox event."""
    shelter = get_shelter(shelter_id)
    changes: dict[str, object] = {}
    if capacity_given and capacity != shelter.capacity:
        if capacity is not None and capacity < 0:
            raise ValidationFailed(_("収容人数は0以上にしてください"), fields={"capacity": "must be >= 0"})
        changes["capacity"] = [shelter.capacity, capacity]
        shelter.capacity = capacity
    if status is not None and ShelterStatus(status) is not shelter.status:
        new = ShelterStatus(status)
        if shelter.status is ShelterStatus.CLOSED:
            incidents.required(lock=True)  # shelters open under an incident (a disaster or a drill)
        changes["status"] = [shelter.status.value, new.value]
        if shelter.status is ShelterStatus.CLOSED:
            shelter.opened_at, shelter.closed_at = now_utc(), None
        if new is ShelterStatus.CLOSED:
            shelter.closed_at = now_utc()
        shelter.status = new
    if changes:
        shelter.updated_at = now_utc()
        db.session.flush()
        audit.record("shelter.update", subject_type="shelter", subject_id=shelter.id,
                     shelter_id=shelter.id, detail=changes)
        outbox.record("shelter.updated", payload={"shelter": shelter_payload(shelter)}, shelter_id=shelter.id)
    return shelter, stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())
