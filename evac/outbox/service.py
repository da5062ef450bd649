"""Writing outbox events: part of the writing unit that makes the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from evac.common.db import WRITE, UnitConflict, current_unit, now_utc
from evac.incidents import service as incidents
from evac.incidents.service import CurrentIncident
from evac.outbox.models import OutboxEvent

EVENT_TYPES = frozenset(
    {"checkin", "checkout", "outing", "return", "transfer", "correction", "person.updated", "shelter.updated"}
)


def record(
    event_type: str, *, payload: dict[str, Any], person_id: int | None = None, shelter_id: int | None = None,
    incident: CurrentIncident | None = None,
) -> str | None:
    """Add an outbox event to the current writing unit; returns its event id.

    The event belongs to `incident` (default: the one open now) and says so on the wire. A change
    made while no incident is open (a capacity set ahead of the season) has nothing to be reported
    under: no event is queued and None is returned.

    The unit's events are inserted together as it commits, in the order they were recorded: on
    PostgreSQL their sequence numbers are then drawn a moment before the commit, which keeps the
    window in which the sender may see a gap in `seq` as short as it can be.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbox event type {event_type!r}")
    unit_ = current_unit()
    if unit_.mode is not WRITE:
        raise UnitConflict("outbox events need a writing unit")
    incident = incident or incidents.current()
    if incident is None:
        return None
    event_id = str(uuid.uuid4())
    unit_.insert_at_commit(OutboxEvent.__table__, {
        "event_id": event_id, "type": event_type, "occurred_at": now_utc(), "person_id": person_id,
        "shelter_id": shelter_id, "incident_id": incident.id, "drill": incident.drill,
        "payload": {**payload, "incident": {"id": incident.id, "name": incident.name,
                                            "kind": incident.kind.value}}})
    return event_id
