"""Counting wrong guesses — passwords, card codes — in the database, and refusing past a limit.

A guess counts against several keys at once (the address it came from, the account or user name
it tried), each with its own limit over one sliding window. The counts live in the database, so
every worker on every host sees the same ones: no shared cache to run.

Keys are hashed before they are stored: a user name typed at the login page may be anything,
even someone's name, and an address is personal data too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select

from evac.accounts.models import AuthFailure
from evac.common.db import active_unit, now_utc, read_only, writing
from evac.common.errors import DomainError
from evac.extensions import db


class TooManyAttempts(DomainError):
    """Too many wrong guesses from here: wait, then try again (429 with Retry-After)."""

    status = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class Key:
    """One thing guesses count against: a kind ("login-address") and its value, with a limit."""

    kind: str
    value: str
    limit: int

    @property
    def stored(self) -> str:
        """What the table keeps: the kind and a hash of the value."""
        digest = hashlib.sha256(f"{self.kind}|{self.value}".encode()).hexdigest()[:40]
        return f"{self.kind}:{digest}"


def window() -> timedelta:
    """How far back wrong guesses count (EVAC_THROTTLE_WINDOW_MINUTES)."""
    return timedelta(minutes=int(current_app.config["EVAC_THROTTLE_WINDOW_MINUTES"]))


@read_only
def counts(keys: Iterable[Key]) -> Mapping[str, int]:
    """Wrong guesses within the window, by stored key (one indexed query)."""
    stored = [key.stored for key in keys]
    table = AuthFailure.__table__
    rows = db.session.execute(
        select(table.c.key, func.count()).where(table.c.key.in_(stored), table.c.at > now_utc() - window())
        .group_by(table.c.key))
    return {row[0]: int(row[1]) for row in rows}


def limited(keys: Iterable[Key]) -> Key | None:
    """The first key at or over its limit, or None."""
    keys = list(keys)
    found = counts(keys)
    return next((key for key in keys if found.get(key.stored, 0) >= key.limit), None)


def refuse_if_limited(keys: Iterable[Key], message: str) -> None:
    """Raise `TooManyAttempts` (with Retry-After) when any key is at its limit."""
    key = limited(keys)
    if key is not None:
        raise TooManyAttempts(message, retry_after=int(window().total_seconds()), limited=key.kind)


@writing
def _store(stored: list[str]) -> None:
    table = AuthFailure.__table__
    now = now_utc()
    # Rows older than the window count for nothing: dropped as new ones arrive, so the table stays
    # as small as the guessing of the last minutes (wrong guesses are rare; a scan of it is cheap).
    db.session.execute(delete(table).where(table.c.at <= now - window()))
    db.session.execute(insert(table), [{"key": key, "at": now} for key in stored])


def count_failure(keys: Iterable[Key]) -> None:
    """Count one wrong guess against every key; kept even if the surrounding unit rolls back."""
    stored = [key.stored for key in keys]
    unit = active_unit()
    if unit is None:
        _store(stored)
    else:
        unit.finally_(lambda _committed: _store(stored))
