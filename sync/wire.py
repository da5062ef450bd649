"""The `evac.roster.v1` wire format: event encoding, batch bodies and their HMAC signature.

Shared by the HTTP connector (which signs) and the reference receiver (which verifies), so the two
can never disagree about the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from evac.common.db import now_utc

FORMAT = "evac.roster.v1"
SIGNATURE_HEADER = "X-Evac-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_WIRE_KEYS = ("shelter", "person", "stay", "incident")


class EventLike(Protocol):
    """An outbox event: the ORM object or a row of its columns (the consumer reads rows, for speed)."""

    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    incident_id: int
    drill: bool
    person_id: int | None
    shelter_id: int | None
    payload: dict[str, Any]


def _iso(value: datetime) -> str:
    return value.isoformat()


def event_dict(event: EventLike) -> dict[str, Any]:
    """One event as it goes on the wire: exactly the eight keys of the contract.

    Anything else the outbox payload carries (say a transfer's `from_shelter_id`) travels inside
    `stay`, so the top level stays as documented.
    """
    payload = event.payload or {}
    stay = payload.get("stay")
    extras = {k: v for k, v in payload.items() if k not in _WIRE_KEYS}
    if stay is not None and extras:
        stay = {**stay, **extras}
    return {
        "event_id": event.event_id,
        "seq": event.seq,
        "type": event.type,
        "occurred_at": _iso(event.occurred_at),
        "shelter": payload.get("shelter"),
        "person": payload.get("person"),
        "stay": stay,
        "incident": payload.get("incident"),
    }


def encode_event(event: EventLike) -> bytes:
    """The event's JSON bytes (UTF-8, compact); also what the byte cap of a batch counts."""
    return json.dumps(event_dict(event), ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def build_body(batch_id: str, events: Sequence[bytes], source: dict[str, Any], sent_at: datetime | None = None) -> bytes:
    """A batch body from pre-encoded events; `sent_at` changes per attempt, `batch_id` never does."""
    head = json.dumps(
        {"format": FORMAT, "source": source, "batch_id": batch_id, "sent_at": _iso(sent_at or now_utc())},
        ensure_ascii=False, separators=(",", ":"),
    ).encode("utf-8")
    # Splice the events in rather than re-encoding: the byte cap was measured on these very bytes.
    return head[:-1] + b',"events":[' + b",".join(events) + b"]}"


def sign(body: bytes, secret: str) -> str:
    """The X-Evac-Signature value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when the header is a valid signature of `body`; compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())
