"""The incident model: one disaster (災害) or drill (訓練) at a time."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class IncidentKind(enum.StrEnum):
    """What an incident is: a real disaster, or a drill whose data is purged when it closes."""

    DISASTER = "disaster"  # 災害
    DRILL = "drill"  # 訓練


class Incident(db.Model):  # type: ignore[name-defined]
    """A disaster or a drill. Shelters open, and people check in, only while one is open.

    `is_open` is true exactly while `ended_at` is null, and a partial unique index lets at most one
    row be open: the database, not Python, keeps "one incident at a time".
    """

    __tablename__ = "incident"
    __table_args__ = (
        Index("uq_incident_open", "is_open", unique=True, sqlite_where=text("is_open"), postgresql_where=text("is_open")),
        Index("ix_incident_started_at", "started_at"),
        CheckConstraint("is_open = (ended_at IS NULL)", name="open_matches_end"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[IncidentKind] = mapped_column(str_enum(IncidentKind, "incident_kind"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # A drill is kept off the public crowding page unless HQ shows it (a town may rehearse that too).
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def drill(self) -> bool:
        """True for a 訓練."""
        return self.kind is IncidentKind.DRILL
