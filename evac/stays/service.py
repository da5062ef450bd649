"""Opening, changing and closing stays with their counters; reading whereabouts and occupancy.

These functions join the caller's unit of work (they never begin or commit one) and use Core
statements: a check-in touches a handful of rows and needs no ORM objects for them. The database
keeps the invariant that matters most — at most one open stay per person — in a partial unique
index; the counters move in the same transaction (`evac.stays.counters`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from evac.common.db import WRITE, active_unit, current_unit, now_utc, prepared
from evac.common.statements import run
from evac.common.vocab import OPEN_STAY_STATUSES, CheckinMethod, StayStatus
from evac.extensions import db
from evac.stays import counters
from evac.stays.models import ShelterTally, Stay

_STAY = Stay.__table__
_COLUMNS = (_STAY.c.id, _STAY.c.person_id, _STAY.c.shelter_id, _STAY.c.household_id, _STAY.c.status,
            _STAY.c.method, _STAY.c.checked_in_at, _STAY.c.checked_out_at, _STAY.c.transferred_to_id,
            _STAY.c.counted_needs, _STAY.c.counted_pets)


@dataclass(frozen=True)
class StayRow:
    """A stay as the services pass it around (a plain value, not an ORM object)."""

    id: int
    person_id: int
    shelter_id: int
    household_id: int | None
    status: StayStatus
    method: CheckinMethod
    checked_in_at: datetime
    checked_out_at: datetime | None = None
    transferred_to_id: int | None = None
    # What the counters counted the stay with while open (its needs flags and pets).
    counted_needs: int = 0
    counted_pets: int = 0

    @property
    def open(self) -> bool:
        """Still open (the person belongs to the shelter)."""
        return self.checked_out_at is None

    def payload(self) -> dict[str, Any]:
        """The stay as the API and the sync wire format carry it."""
        return {
            "id": self.id, "person_id": self.person_id, "shelter_id": self.shelter_id,
            "household_id": self.household_id, "status": self.status.value, "method": self.method.value,
            "checked_in_at": self.checked_in_at.isoformat(),
            "checked_out_at": self.checked_out_at.isoformat() if self.checked_out_at else None,
            "transferred_to_id": self.transferred_to_id,
        }

    def replace(self, **changes: Any) -> StayRow:
        """A copy with some fields changed."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return StayRow(**values)


def _row(values: Any) -> StayRow:
    return StayRow(values.id, values.person_id, values.shelter_id, values.household_id, StayStatus(values.status),
                   CheckinMethod(values.method), values.checked_in_at, values.checked_out_at,
                   values.transferred_to_id, values.counted_needs, values.counted_pets)


@dataclass(frozen=True)
class Arrival:
    """Who a stay is opened for, with what the counters need to know about them."""

    person_id: int
    household_id: int | None
    needs: int = 0
    pets: int = 0


def open_stays_of(person_ids: Iterable[int]) -> dict[int, StayRow]:
    """The open stay of each of these persons who has one."""
    ids = list(person_ids)
    if not ids:
        return {}
    rows = run(prepared("stays.open_stays_of", lambda: select(*_COLUMNS).where(
        _STAY.c.person_id.in_(bindparam("p_ids", expanding=True)), _STAY.c.checked_out_at.is_(None))), {"p_ids": ids})
    return {r.person_id: _row(r) for r in rows}


def get_stay(stay_id: int) -> StayRow | None:
    """One stay by id, open or not."""
    row = db.session.execute(select(*_COLUMNS).where(_STAY.c.id == stay_id)).first()
    return None if row is None else _row(row)


def open_stays(arrivals: Sequence[Arrival], shelter_id: int, *, incident_id: int, status: StayStatus,
               method: CheckinMethod, client_id: str | None, staff_id: int | None,
               at: datetime | None = None) -> list[StayRow]:
    """Open a stay for each arrival (one insert) and count them. The unique index refuses a second open stay."""
    if not arrivals:
        return []
    at = at or now_utc()
    rows = [{"incident_id": incident_id, "person_id": a.person_id, "shelter_id": shelter_id, "household_id": a.household_id,
             "status": status.value, "method": method.value, "checked_in_at": at, "client_id": client_id,
             "staff_id": staff_id, "updated_at": at, "counted_needs": a.needs, "counted_pets": a.pets}
            for a in arrivals]
    # One INSERT … RETURNING per stay: a household's few rows cost less this way than one
    # statement whose returned ids SQLAlchemy must sort back into the rows' order.
    stmt = prepared("stays.open_stays", lambda: insert(_STAY).returning(_STAY.c.id))
    ids = [run(stmt, row).scalar_one() for row in rows]
    opened = []
    for arrival, stay_id in zip(arrivals, ids, strict=True):
        stay = StayRow(stay_id, arrival.person_id, shelter_id, arrival.household_id, status, method, at,
                       counted_needs=arrival.needs, counted_pets=arrival.pets)
        counters.opened(stay)
        opened.append(stay)
    return opened


def close_stay(stay: StayRow, status: StayStatus, *, transferred_to: int | None = None,
               at: datetime | None = None) -> StayRow:
    """Close an open stay (退所, 移動) and uncount it."""
    if status in OPEN_STAY_STATUSES:
        raise ValueError(f"{status} does not close a stay")
    at = at or now_utc()
    db.session.execute(update(_STAY).where(_STAY.c.id == stay.id).values(
        status=status.value, checked_out_at=at, transferred_to_id=transferred_to, updated_at=at))
    counters.moved(stay, status)
    return stay.replace(status=status, checked_out_at=at, transferred_to_id=transferred_to)


def change_status(stay: StayRow, status: StayStatus, *, at: datetime | None = None) -> StayRow:
    """Move an open stay between open statuses (外出, 戻り, 在宅, 車中泊)."""
    if status not in OPEN_STAY_STATUSES:
        raise ValueError(f"{status} is not an open status")
    if status is stay.status:
        return stay
    db.session.execute(update(_STAY).where(_STAY.c.id == stay.id).values(status=status.value,
                                                                         updated_at=at or now_utc()))
    counters.moved(stay, status)
    return stay.replace(status=status)


def reopen_stay(stay: StayRow, status: StayStatus, *, needs: int, pets: int, at: datetime | None = None) -> StayRow:
    """Put a closed stay back as it was before it closed (an undone 退所 or 移動) and count it again.

    Counted with the person's needs and pets as they are now, as a rebuild of the counters would.
    The unique index refuses it if the person has another open stay by now.
    """
    if status not in OPEN_STAY_STATUSES:
        raise ValueError(f"{status} is not an open status")
    db.session.execute(update(_STAY).where(_STAY.c.id == stay.id).values(
        status=status.value, checked_out_at=None, transferred_to_id=None, updated_at=at or now_utc(),
        counted_needs=needs, counted_pets=pets))
    reopened = stay.replace(status=status, checked_out_at=None, transferred_to_id=None,
                            counted_needs=needs, counted_pets=pets)
    counters.opened(reopened)
    return reopened


def void_stay(stay: StayRow) -> None:
    """Remove a stay opened by mistake (an undone check-in) and uncount it, as if it had never been.

    Deleted rather than closed: a closed stay reads as 退所 in rosters, exports and safety-inquiry
    answers, which a check-in that never happened must not. The audit and the outbox keep its id.
    """
    if stay.open:
        counters.moved(stay, StayStatus.LEFT)
    db.session.execute(delete(_STAY).where(_STAY.c.id == stay.id))


def stay_versions(stay_ids: Iterable[int]) -> dict[int, tuple[StayRow, datetime, str | None]]:
    """Each stay with when it last changed and the client id that opened it (for undoing a desk operation)."""
    ids = list(stay_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(*_COLUMNS, _STAY.c.updated_at, _STAY.c.client_id).where(_STAY.c.id.in_(ids)))
    return {r.id: (_row(r), r.updated_at, r.client_id) for r in rows}


@dataclass(frozen=True)
class Occupancy:
    """Live counts for one shelter."""

    occupancy: int = 0
    households: int = 0
    last_change: datetime | None = None


def occupancy_for(shelter_ids: Iterable[int]) -> dict[int, Occupancy]:
    """Occupancy and household counts of the given shelters, from the counters.

    Changes the current unit has made but not yet applied are applied first, so they count.
    Shelters nobody has stayed at yet have no counter row and are left out (zero).
    """
    ids = list(dict.fromkeys(shelter_ids))
    if not ids:
        return {}
    found: dict[int, Occupancy] = {}
    unit_ = active_unit()
    if unit_ is not None and unit_.mode is WRITE:
        counters.apply()
        # What this unit's own updates returned: its lock on those rows keeps them exact.
        found = {sid: Occupancy(c.occupancy, c.households, c.updated_at)
                 for sid, c in counters.settled().items() if sid in ids}
    rest = [sid for sid in ids if sid not in found]
    if rest:
        rows = db.session.execute(
            select(ShelterTally.shelter_id, ShelterTally.occupancy, ShelterTally.households, ShelterTally.updated_at)
            .where(ShelterTally.shelter_id.in_(rest)))
        found.update({sid: Occupancy(n, households, last) for sid, n, households, last in rows})
    return found


def occupancy_at_commit(shelter_ids: Iterable[int], fill: Callable[[dict[int, Occupancy]], object]) -> None:
    """Call `fill` with the shelters' occupancy as this writing unit leaves it, just before it commits.

    It runs after the counters' own update (the last thing a unit does), so an answer that names
    the occupancy costs no query and does not hold a shelter's counter row while it is built.
    """
    ids = list(shelter_ids)
    current_unit().before_commit(lambda: fill(occupancy_for(ids)), last=True)


def present_count(shelter_id: int) -> int:
    """How many open stays the shelter has (any open status): nobody may drop out of the counts."""
    return int(db.session.scalar(select(func.count()).select_from(_STAY).where(
        _STAY.c.shelter_id == shelter_id, _STAY.c.checked_out_at.is_(None))) or 0)


def status_counts(shelter_id: int) -> dict[str, int]:
    """Open stays of one shelter per status."""
    return {StayStatus(s).value: int(n) for s, n in db.session.execute(
        select(_STAY.c.status, func.count()).where(_STAY.c.shelter_id == shelter_id,
                                                   _STAY.c.checked_out_at.is_(None))
        .group_by(_STAY.c.status))}
