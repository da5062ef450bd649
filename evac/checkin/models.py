"""Stay model."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class StayStatus(enum.StrEnum):
    """Whereabouts of a person attached to a shelter."""

    PRESENT = "present"  # 在所
    OUTING = "outing"  # 外出
    LEFT = "left"  # 退所
    TRANSFERRED = "transferred"  # 移動
    AT_HOME = "at_home"  # 在宅避難
    IN_CAR = "in_car"  # 車中泊


OPEN_STAY_STATUSES = frozenset(
    {StayStatus.PRESENT, StayStatus.OUTING, StayStatus.AT_HOME, StayStatus.IN_CAR}
)


class CheckinMethod(enum.StrEnum):
    """How the person was identified at the desk."""

    QR = "qr"
    MYNUMBER = "mynumber"
    IC = "ic"
    PAPER = "paper"
    MANUAL = "manual"  # chosen from the roster or household list by staff


class Stay(db.Model):  # type: ignore[name-defined]
    """One person's stay at one shelter. Open while `checked_out_at` is null."""

    __tablename__ = "stay"
    __table_args__ = (
        # At most one open stay per person, enforced by the database on SQLite and PostgreSQL.
        Index(
            "uq_stay_open_person",
            "person_id",
            unique=True,
            sqlite_where=db.text("checked_out_at IS NULL"),
            postgresql_where=db.text("checked_out_at IS NULL"),
        ),
        Index("ix_stay_shelter_open", "shelter_id", "checked_out_at"),
        # A person's stays, newest last: safety inquiries and history ask for them by person.
        Index("ix_stay_person_checked_in", "person_id", "checked_in_at"),
        # A closed stay has a closing status and an open one does not, so the two never disagree.
        CheckConstraint(
            "(checked_out_at IS NULL) = (status IN ('present', 'outing', 'at_home', 'in_car'))",
            name="open_matches_status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    status: Mapped[StayStatus] = mapped_column(str_enum(StayStatus, "status"))
    method: Mapped[CheckinMethod] = mapped_column(str_enum(CheckinMethod, "method"))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("shelter.id"))
    client_id: Mapped[str | None] = mapped_column(String(36), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)


class ClientRequest(db.Model):  # type: ignore[name-defined]
    """A desk request remembered by its client id: a replay returns the first answer, never a second stay.

    The unique key on `client_id` is what makes concurrent replays safe: the second insert waits
    for the first transaction and then fails, and the replay reads the stored answer.
    """

    __tablename__ = "client_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # checkin / checkout
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
