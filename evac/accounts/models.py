"""Staff account and API token models, and the credentials epoch that makes cached logins safe."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


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


class StaffAccount(db.Model):  # type: ignore[name-defined]
    """A person who works with evac: desk staff, HQ officer or administrator.

    `auth_version` is part of every session cookie: raising it (password change, disabling the
    account) ends every session of the account at once.
    """

    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token for the API; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: until revoked
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(db.Model):  # type: ignore[name-defined]
    """One login: the cookie names it, logging out ends it here, so a copy of the cookie stops too."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # random, in the signed cookie
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthFailure(db.Model):  # type: ignore[name-defined]
    """One wrong guess (a password, a card code) under the keys it counts against.

    In the database, so every worker on every host counts the same guesses.
    """

    __tablename__ = "auth_failure"
    __table_args__ = (Index("ix_auth_failure_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # e.g. "login-address:10.0.0.5"; a hash, no names
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class AuthState(db.Model):  # type: ignore[name-defined]
    """One row: a counter raised by every change to any account or token, and one by every wrong guess.

    Processes cache who a token or session is; one read of this row per request tells them
    whether anything changed since, so a revocation takes effect on the very next request.
    `failures` counts the wrong guesses ever stored (`auth_failure`): while it stands still, a
    count of guesses found under its limit can only have gone down, so it need not be read again.
    """

    __tablename__ = "auth_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
