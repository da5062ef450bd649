"""Audit event model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc
from evac.extensions import db


class AuditEvent(db.Model):  # type: ignore[name-defined]
    """Who did what to which record, when and from where. Ids only, never names or addresses.

    `entry_id` is given by the writer: an entry that reaches the table twice (a journal replayed
    after a crash between its insert and its truncation) is stored once.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_account_id", "account_id"),
        Index("ix_audit_event_action", "action"),
        Index("uq_audit_event_entry_id", "entry_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    action: Mapped[str] = mapped_column(String(60))  # e.g. "person.read", "card.refused"
    outcome: Mapped[str] = mapped_column(String(20), default="ok")  # ok / refused / denied
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelter.id"))
    # The incident open when it happened (none: before any, or between incidents).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
