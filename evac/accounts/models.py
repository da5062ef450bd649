"""Staff account and API token models."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db
from evac.shelters.models import Shelter


class Role(enum.StrEnum):
    """What an account may do: admin everything, hq every shelter, staff only its own shelters."""

    ADMIN = "admin"
    HQ = "hq"
    STAFF = "staff"


staff_shelter = Table(
    "staff_shelter",
    db.metadata,
    Column("account_id", ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True),
    Column("shelter_id", ForeignKey("shelter.id", ondelete="CASCADE"), primary_key=True),
)


class StaffAccount(UserMixin, db.Model):  # type: ignore[name-defined]
    """A person who works with evac: desk staff, HQ officer or administrator."""

    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shelters: Mapped[list[Shelter]] = relationship(secondary=staff_shelter, order_by="Shelter.id")

    @property
    def is_active(self) -> bool:  # Flask-Login reads this to refuse disabled accounts
        return self.active

    def can_access_shelter(self, shelter_id: int) -> bool:
        """Admin and HQ reach every shelter; staff only those they are assigned to."""
        if self.role in (Role.ADMIN, Role.HQ):
            return True
        return any(s.id == shelter_id for s in self.shelters)


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token for the API; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[StaffAccount] = relationship()
