"""QR card and IC card models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc
from evac.extensions import db


class Card(db.Model):  # type: ignore[name-defined]
    """A printed QR resident card. Issuing a new card revokes the previous one."""

    __tablename__ = "card"
    __table_args__ = (
        # The database, not Python, guarantees one valid card per person.
        Index(
            "uq_card_active_person",
            "person_id",
            unique=True,
            sqlite_where=db.text("revoked_at IS NULL"),
            postgresql_where=db.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ICCard(db.Model):  # type: ignore[name-defined]
    """A transit IC card (Suica, ICOCA, …) linked to a person; only a keyed hash of its UID is kept."""

    __tablename__ = "ic_card"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    uid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    # The incident it was linked in (a drill's links go when the drill closes).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
