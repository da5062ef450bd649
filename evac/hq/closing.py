"""Emptying a shelter so that it can close: HQ moves everyone registered there to another shelter.

A shelter with open stays cannot close (`evac.shelters.service.ShelterNotEmpty`): closed shelters
are left out of HQ's totals, its table and the public page, so its people would drop out of every
count while the database still holds them as staying. `move_all` is HQ's one deliberate step that
empties it: every open stay becomes a transfer to the chosen shelter, exactly as the desk's
transfer makes one (the old stay closed as 移動, a new one opened at the target, a `transfer`
outbox event and a `stay.transfer` audit row per person), in one unit, so the counters of both
shelters move together and the total never changes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from evac.accounts.service import Principal
from evac.audit import service as audit
from evac.common.db import current_unit, now_utc, writing
from evac.common.errors import Conflict, ValidationFailed
from evac.common.vocab import CheckinMethod, StayStatus
from evac.extensions import db
from evac.incidents import service as incidents
from evac.outbox import service as outbox
from evac.people import service as people
from evac.shelters import service as shelters
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays import service as stays
from evac.stays.models import Stay
from evac.stays.service import Arrival, Occupancy, StayRow


class TargetShelterClosed(Conflict):
    """People are moved only to a shelter that is open (or full: HQ may decide to fill it)."""

    code = "shelter_closed"


def _shelter_answer(shelter: Shelter, occ: Occupancy) -> dict[str, Any]:
    return {**shelters.shelter_payload(shelter), "occupancy": occ.occupancy, "households": occ.households}


def _open_person_ids(shelter_id: int) -> list[int]:
    return list(db.session.scalars(select(Stay.person_id).where(
        Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None)).order_by(Stay.person_id)))


@writing
def move_all(account: Principal, shelter_id: int, to_shelter_id: int) -> dict[str, Any]:
    """Move every open stay of `shelter_id` (在所, 外出, 在宅, 車中泊) to `to_shelter_id`, as transfers.

    Each person keeps their whereabouts (someone out stays out, now registered at the target), so
    occupancy, households and needs move whole from one shelter to the other. Nobody left to move
    is not an error: a repeated request (a double click) answers `moved: 0` and changes nothing.
    """
    incident = incidents.required(lock=True)
    # Both rows locked in id order (a close of either waits for the move, and two moves cannot deadlock).
    first, second = sorted((shelter_id, to_shelter_id))
    locked = {first: shelters.get_shelter(first, lock=True), second: shelters.get_shelter(second, lock=True)}
    source, target = locked[shelter_id], locked[to_shelter_id]
    if target.id == source.id:
        raise ValidationFailed(_("移動先が現在の避難所と同じです"), fields={"to_shelter_id": "same shelter"})
    if target.status is ShelterStatus.CLOSED:
        raise TargetShelterClosed(_("移動先の %(name)s は開設されていません", name=target.name),
                                  fields={"to_shelter_id": "closed"}, shelter_id=target.id)
    person_ids = _open_person_ids(source.id)
    # Person rows locked in id order, as every desk locks them: a desk checking one of them out
    # meanwhile waits, then finds the stay already moved.
    persons = people.persons_by_id(person_ids, lock=current_unit().postgres)
    open_now = stays.open_stays_of(person_ids)
    leaving = [open_now[pid] for pid in person_ids if pid in open_now and open_now[pid].shelter_id == source.id]
    now = now_utc()
    by_status: dict[StayStatus, list[StayRow]] = defaultdict(list)
    for stay in leaving:
        stays.close_stay(stay, StayStatus.TRANSFERRED, transferred_to=target.id, at=now)
        by_status[stay.status].append(stay)
    counts: dict[str, int] = {}
    for status, old_stays in by_status.items():
        arrivals = [Arrival(s.person_id, s.household_id, persons[s.person_id].needs or 0,
                            persons[s.person_id].pets or 0) for s in old_stays]
        opened = stays.open_stays(arrivals, target.id, incident_id=incident.id, status=status,
                                  method=CheckinMethod.MANUAL, client_id=None, staff_id=account.id, at=now)
        for old, new in zip(old_stays, opened, strict=True):
            person = persons[new.person_id]
            outbox.record("transfer", person_id=person.id, shelter_id=target.id, payload={
                "shelter": shelters.shelter_payload(target), "person": people.sync_payload(person),
                "stay": new.payload(), "from_shelter_id": old.shelter_id,
            })
            audit.record("stay.transfer", subject_type="person", subject_id=person.id, shelter_id=target.id,
                         detail={"stay_id": new.id, "from_stay_id": old.id, "from_shelter_id": source.id})
        counts[status.value] = len(old_stays)
    if leaving:
        audit.record("shelter.move_all", subject_type="shelter", subject_id=source.id, shelter_id=source.id,
                     detail={"to_shelter_id": target.id, "moved": len(leaving), "counts": counts})
    occ = stays.occupancy_for([source.id, target.id])
    return {
        "moved": len(leaving),
        "counts": counts,
        "shelter": _shelter_answer(source, occ.get(source.id, Occupancy())),
        "to_shelter": _shelter_answer(target, occ.get(target.id, Occupancy())),
    }
