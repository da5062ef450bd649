"""Audit event model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc
from evac.extensions import db


class AuditEvent(db.Model):  # type: ignore[name-defined]
    """Who did what to which record, when and from where. Ids only, never names or addresses."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)  # e.g. "person.read", "card.refused"
    outcome: Mapped[str] = mapped_column(String(20), default="ok")  # ok / refused / denied
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelter.id"))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
