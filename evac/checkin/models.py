"""The desk's idempotency record: a client id remembered with its first answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc
from evac.extensions import db


class ClientRequest(db.Model):  # type: ignore[name-defined]
    """A desk request remembered by its client id: a replay returns the first answer, never a second stay.

    The unique key on `client_id` is what makes concurrent replays safe: the second insert waits
    for the first transaction and then does nothing, and the replay reads the stored answer.
    """

    __tablename__ = "client_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # checkin / checkout
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
