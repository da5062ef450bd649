"""Writing outbox events. Callers add them inside their own transaction; nothing commits here."""

from __future__ import annotations

from typing import Any

from evac.extensions import db
from evac.outbox.models import OutboxEvent

EVENT_TYPES = frozenset(
    {"checkin", "checkout", "outing", "return", "transfer", "person.updated", "shelter.updated"}
)


def record(
    event_type: str, *, payload: dict[str, Any], person_id: int | None = None, shelter_id: int | None = None
) -> OutboxEvent:
    """Add an outbox event to the current session, to commit with the change it describes."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbox event type {event_type!r}")
    event = OutboxEvent(type=event_type, payload=payload, person_id=person_id, shelter_id=shelter_id)
    db.session.add(event)
    return event
