"""Outbox event model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc
from evac.extensions import db


class OutboxEvent(db.Model):  # type: ignore[name-defined]
    """A change to send to the cloud victim-support system; `seq` is the delivery order."""

    __tablename__ = "outbox_event"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    type: Mapped[str] = mapped_column(String(30))  # checkin, checkout, outing, return, transfer, …
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    person_id: Mapped[int | None] = mapped_column(index=True)
    shelter_id: Mapped[int | None] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
