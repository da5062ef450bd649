"""Card readers, their pairing codes, and card reads waiting for their desk screen.

A reader (`evac-reader` on the PC beside a desk) is paired with one desk screen of one shelter: a
browser that keeps a random desk id in its localStorage. Its token can only deliver reads to that
desk screen. A read holds personal data (a My Number card's four basic items, or an IC card's UID)
only while it waits for the desk: the database refuses a row that keeps its payload once it was
delivered, expired or dropped, and the row itself (ids and times, for recognising a resent
`read_id`) goes a few minutes later.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class ReadKind(enum.StrEnum):
    """What was read: a My Number card's 基本4情報 or an IC card's UID."""

    MYNUMBER = "mynumber"
    IC = "ic"


class ReadState(enum.StrEnum):
    """Where a read is on its way to the desk."""

    PENDING = "pending"  # waiting for the desk screen to fetch and acknowledge it
    DELIVERED = "delivered"  # the desk acknowledged it
    EXPIRED = "expired"  # nobody fetched it in time
    DROPPED = "dropped"  # its reader was revoked before the desk had it


class CardReader(db.Model):  # type: ignore[name-defined]
    """A paired reader. Only the SHA-256 of its token is stored; revoking it is immediate."""

    __tablename__ = "card_reader"
    __table_args__ = (
        # The desk screen's poll asks for its active readers on every call.
        Index("ix_card_reader_active_desk", "desk_id",
              sqlite_where=db.text("revoked_at IS NULL"), postgresql_where=db.text("revoked_at IS NULL")),
        Index("ix_card_reader_shelter_id", "shelter_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id"))
    desk_id: Mapped[str] = mapped_column(String(36))
    desk_label: Mapped[str] = mapped_column(String(60), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    paired_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    paired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))


class ReaderPairing(db.Model):  # type: ignore[name-defined]
    """A pairing code shown on a desk screen: single use, short-lived; only its keyed hash is stored."""

    __tablename__ = "reader_pairing"
    __table_args__ = (
        Index("ix_reader_pairing_desk_id", "desk_id"),
        Index("ix_reader_pairing_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id"))
    desk_id: Mapped[str] = mapped_column(String(36))
    desk_label: Mapped[str] = mapped_column(String(60), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A code replaced by a newer one for the same desk screen before it was used.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reader_id: Mapped[int | None] = mapped_column(ForeignKey("card_reader.id", ondelete="SET NULL"))


class ReaderRead(db.Model):  # type: ignore[name-defined]
    """One card read on its way from a reader to its desk screen (personal data while pending only)."""

    __tablename__ = "reader_read"
    __table_args__ = (
        # What a desk screen's poll asks for; also what the expiry sweep looks at.
        Index("ix_reader_read_pending_desk", "desk_id", "id",
              sqlite_where=db.text("state = 'pending'"), postgresql_where=db.text("state = 'pending'")),
        Index("ix_reader_read_pending_received", "received_at",
              sqlite_where=db.text("state = 'pending'"), postgresql_where=db.text("state = 'pending'")),
        Index("ix_reader_read_received_at", "received_at"),
        Index("ix_reader_read_reader_id", "reader_id"),
        # Personal data only while the read waits for its desk.
        CheckConstraint("state = 'pending' OR payload IS NULL", name="payload_only_while_pending"),
        CheckConstraint("state <> 'pending' OR payload IS NOT NULL", name="pending_has_payload"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    read_id: Mapped[str] = mapped_column(String(36), unique=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("card_reader.id", ondelete="CASCADE"))
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id"))
    desk_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[ReadKind] = mapped_column(str_enum(ReadKind, "kind"))
    state: Mapped[ReadState] = mapped_column(str_enum(ReadState, "state"), default=ReadState.PENDING)
    # SQL NULL (not JSON null) once the read has left the pending state: the CHECKs above see it.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
