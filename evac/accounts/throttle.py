"""Counting wrong guesses — passwords, card codes — in the database, and refusing past a limit.

A guess counts against several keys at once (the address it came from, the account or user name
it tried), each with its own limit over one sliding window. The counts live in the database, so
every worker on every host sees the same ones: no shared cache to run.

Keys are hashed before they are stored: a user name typed at the login page may be anything,
even someone's name, and an address is personal data too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select, update

from evac.accounts.models import AuthFailure, AuthState
from evac.common.db import active_unit, affected, now_utc, read_only, writing
from evac.common.errors import DomainError
from evac.extensions import db, per_app


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


# The unit's state key under which the credentials check leaves the wrong guesses stored so far
# (`AuthState.failures`, read with the epoch in the request's first statement).
FAILURES_SEEN = "auth_failures"
_CLEAN_SIZE = 10_000


class _CleanKeys:
    """Keys last counted under their limit, each with the number of guesses stored at the time.

    Guesses only age out of the window while that number stands still, so such a key is still
    under its limit and needs no count: a genuine card's scan costs no query here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, int] = OrderedDict()

    def all_clean(self, stored: list[str], seen: int) -> bool:
        return all(self._keys.get(key) == seen for key in stored)

    def keep(self, stored: list[str], seen: int) -> None:
        with self._lock:
            for key in stored:
                self._keys[key] = seen
                self._keys.move_to_end(key)
            while len(self._keys) > _CLEAN_SIZE:
                self._keys.popitem(last=False)


def _clean_keys() -> _CleanKeys:
    return per_app("evac.throttle_clean", _CleanKeys)


def limited(keys: Iterable[Key]) -> Key | None:
    """The first key at or over its limit, or None.

    Counted in the database unless every key was last found under its limit and no wrong guess
    has been stored anywhere since (the unit knows that number when the request's credentials
    check read it; otherwise this always counts).
    """
    keys = list(keys)
    stored = [key.stored for key in keys]
    unit = active_unit()
    seen = unit.state.get(FAILURES_SEEN) if unit is not None else None
    clean = _clean_keys()
    if seen is not None and clean.all_clean(stored, seen):
        return None
    found = counts(keys)
    over = next((key for key in keys if found.get(key.stored, 0) >= key.limit), None)
    if over is None and seen is not None:
        clean.keep(stored, seen)
    return over


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
    # Raised with every guess stored: what tells every process its clean keys may be clean no more.
    state = AuthState.__table__
    if not affected(db.session.execute(update(state).where(state.c.id == 1).values(failures=state.c.failures + 1))):
        db.session.execute(insert(state).values(id=1, epoch=0, failures=1))


def count_failure(keys: Iterable[Key]) -> None:
    """Count one wrong guess against every key; kept even if the surrounding unit rolls back."""
    stored = [key.stored for key in keys]
    unit = active_unit()
    if unit is None:
        _store(stored)
    else:
        unit.finally_(lambda _committed: _store(stored))
