"""Shelter queries and changes shared by the API, the pages and the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from evac.accounts.models import Role, StaffAccount, staff_shelter
from evac.audit import service as audit
from evac.checkin.models import StayStatus
from evac.common.db import now_utc
from evac.common.errors import NotFound, ValidationFailed
from evac.extensions import db
from evac.hq import tallies
from evac.hq.models import ShelterTally
from evac.outbox import service as outbox
from evac.shelters.models import Shelter, ShelterStatus

# People who sleep at the shelter; those registered there but at home or in a car are counted apart.
OCCUPYING = (StayStatus.PRESENT, StayStatus.OUTING)


@dataclass(frozen=True)
class Occupancy:
    """Live counts for one shelter."""

    occupancy: int = 0
    households: int = 0
    last_change: datetime | None = None


@dataclass(frozen=True)
class ShelterPage:
    """One page of shelters with their occupancy."""

    items: Sequence[tuple[Shelter, Occupancy]]
    total: int
    next_cursor: int | None


def occupancy_for(shelter_ids: Iterable[int]) -> dict[int, Occupancy]:
    """Occupancy and household counts of the given shelters, from the HQ counters.

    The counters move with every stay change in its own transaction (`evac.hq.tallies`), so this
    reads one row per shelter instead of counting open stays; changes the caller's transaction
    has made but not yet applied to the counters are applied first, so they are included.
    """
    ids = list(shelter_ids)
    if not ids:
        return {}
    tallies.apply_pending()
    rows = db.session.execute(
        select(ShelterTally.shelter_id, ShelterTally.occupancy, ShelterTally.households, ShelterTally.updated_at)
        .where(ShelterTally.shelter_id.in_(ids))
    )
    return {sid: Occupancy(n, households, last) for sid, n, households, last in rows}


def _visible(account: StaffAccount):  # type: ignore[no-untyped-def]
    query = select(Shelter)
    if account.role is Role.STAFF:
        query = query.join(staff_shelter, staff_shelter.c.shelter_id == Shelter.id).where(
            staff_shelter.c.account_id == account.id
        )
    return query


def list_shelters(
    account: StaffAccount, *, limit: int = 100, cursor: int | None = None, status: str | None = None
) -> ShelterPage:
    """Shelters the account may see, by id, keyset-paginated so deep pages stay fast."""
    query = _visible(account)
    if status:
        query = query.where(Shelter.status == ShelterStatus(status))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        query = query.where(Shelter.id > cursor)
    shelters = list(db.session.scalars(query.order_by(Shelter.id).limit(limit + 1)))
    more = len(shelters) > limit
    shelters = shelters[:limit]
    counts = occupancy_for(s.id for s in shelters)
    items = [(s, counts.get(s.id, Occupancy())) for s in shelters]
    return ShelterPage(items, total, shelters[-1].id if more else None)


def get_shelter(shelter_id: int) -> Shelter:
    """The shelter with this id, or `NotFound`."""
    shelter = db.session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(_("避難所が見つかりません"), shelter_id=shelter_id)
    return shelter


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


def update_shelter(shelter_id: int, *, status: str | None = None, capacity: int | None = None,
                   capacity_given: bool = False) -> Shelter:
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
        changes["status"] = [shelter.status.value, new.value]
        if shelter.status is ShelterStatus.CLOSED:
            shelter.opened_at, shelter.closed_at = now_utc(), None
        if new is ShelterStatus.CLOSED:
            shelter.closed_at = now_utc()
        shelter.status = new
    if changes:
        audit.record("shelter.update", subject_type="shelter", subject_id=shelter.id,
                     shelter_id=shelter.id, detail=changes)
        outbox.record("shelter.updated", payload={"shelter": shelter_payload(shelter)}, shelter_id=shelter.id)
    db.session.commit()
    return shelter
