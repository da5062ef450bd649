"""Accounts: creating them, checking passwords and API tokens, and who a request is (`Principal`).

Password hashing (Argon2id, tens of milliseconds) never runs inside a writing unit: on SQLite it
would hold the write lock, and every desk with it, for as long as the hash takes.

Who a bearer token or a session cookie belongs to is cached per process as a `Principal` and
checked against the credentials epoch (`AuthState`) on every request: one single-row read instead
of loading the account, its token and its shelters each time, and a revocation still counts on
the very next request because every change to an account or a token raises the epoch.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from evac.accounts.models import ApiToken, AuthState, Role, StaffAccount, staff_shelter
from evac.audit import service as audit
from evac.common.db import affected, now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound, ValidationFailed
from evac.extensions import db

TOKEN_PREFIX = "evac_"
# A card reader's token (evac.readers) is not an account's: it is never a principal, and every
# endpoint but the one that takes card reads refuses it (`evac.accounts.auth`).
READER_TOKEN_PREFIX = "evr_"
MIN_PASSWORD_LENGTH = 8
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    """Who a request is: an account as the services need it (a plain value, safe to cache).

    It also answers Flask-Login's questions (`is_authenticated`, `get_id`, …).
    """

    id: int
    username: str
    display_name: str
    role: Role
    shelter_ids: frozenset[int]
    auth_version: int = 0
    active: bool = True

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses sessions of disabled accounts."""
        return self.active

    def get_id(self) -> str:
        """What the session cookie keeps: the id and the version it was issued at."""
        return f"{self.id}:{self.auth_version}"

    @property
    def sees_all(self) -> bool:
        """Admin and HQ reach every shelter."""
        return self.role in (Role.ADMIN, Role.HQ)

    def scope(self) -> frozenset[int] | None:
        """The shelters this account is limited to, or None for every shelter."""
        return None if self.sees_all else self.shelter_ids

    def can_access_shelter(self, shelter_id: int) -> bool:
        """Admin and HQ reach every shelter; staff only those they are assigned to."""
        return self.sees_all or shelter_id in self.shelter_ids


@functools.cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this keeps a login with an unknown name as slow as a wrong password.
    return _hasher().hash("not a password")


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` (slow on purpose: call outside any writing unit)."""
    return _hasher().hash(password)


def hash_token(token: str) -> str:
    """SHA-256 of an API token: tokens are random and long, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bump_epoch() -> None:
    """Raise the credentials epoch in the current writing unit: every cached principal is stale."""
    table = AuthState.__table__
    changed = affected(db.session.execute(update(table).where(table.c.id == 1).values(epoch=table.c.epoch + 1)))
    if not changed:
        db.session.execute(insert(table).values(id=1, epoch=1))


def _epoch() -> int:
    return int(db.session.scalar(select(AuthState.epoch).where(AuthState.id == 1)) or 0)


# --- creating accounts and tokens ---------------------------------------------------------------


def create_account(username: str, *, role: Role, password: str, shelter_ids: Iterable[int] = (),
                   display_name: str = "") -> Principal:
    """Create an account; staff must be scoped to at least one shelter. Hashes, then one writing unit."""
    username = username.strip()
    if not username:
        raise ValidationFailed(_("ユーザー名を入力してください"), fields={"username": "required"})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            _("パスワードは%(n)d文字以上にしてください", n=MIN_PASSWORD_LENGTH), fields={"password": "too short"}
        )
    ids = list(dict.fromkeys(shelter_ids))
    if role is Role.STAFF and not ids:
        raise ValidationFailed(_("職員アカウントには担当避難所が必要です"), fields={"shelter": "required for staff"})
    return _insert_account(username, role, hash_password(password), ids, display_name or username)


@writing
def _insert_account(username: str, role: Role, password_hash: str, shelter_ids: list[int],
                    display_name: str) -> Principal:
    if db.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise Conflict(_("ユーザー名 %(name)s は使われています", name=username), fields={"username": "taken"})
    # The shelter table by name: accounts sit below the shelters package, which needs them.
    shelter = db.metadata.tables["shelter"]
    known = set(db.session.scalars(select(shelter.c.id).where(shelter.c.id.in_(shelter_ids))))
    missing = sorted(set(shelter_ids) - known)
    if missing:
        raise NotFound(_("避難所が見つかりません: %(ids)s", ids=missing), fields={"shelter": missing})
    account_id = db.session.execute(insert(StaffAccount.__table__).values(
        username=username, display_name=display_name, role=role.value, password_hash=password_hash, active=True,
        auth_version=0, created_at=now_utc()).returning(StaffAccount.__table__.c.id)).scalar_one()
    if shelter_ids:
        db.session.execute(insert(staff_shelter), [{"account_id": account_id, "shelter_id": s} for s in shelter_ids])
    bump_epoch()
    audit.record("account.create", subject_type="account", subject_id=account_id, account_id=account_id,
                 detail={"role": role.value, "shelters": shelter_ids})
    return Principal(account_id, username, display_name, role, frozenset(shelter_ids))


@writing
def issue_token(username: str, label: str = "") -> str:
    """Create an API token for the account and return it; only its hash is stored."""
    account_id = _account_id(username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.execute(insert(ApiToken.__table__).values(
        account_id=account_id, token_hash=hash_token(token), label=label, created_at=now_utc()))
    audit.record("token.issue", subject_type="account", subject_id=account_id, account_id=account_id)
    return token


def _account_id(username: str) -> int:
    account_id = db.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))
    if account_id is None:
        raise NotFound(_("ユーザー %(name)s が見つかりません", name=username), fields={"username": "unknown"})
    return int(account_id)


@writing
def set_active(username: str, active: bool) -> None:
    """Disable (or enable again) an account; a disabled account's sessions and tokens stop at once."""
    account_id = _account_id(username)
    table = StaffAccount.__table__
    db.session.execute(update(table).where(table.c.id == account_id).values(
        active=active, auth_version=table.c.auth_version + 1))
    bump_epoch()
    audit.record("account.enable" if active else "account.disable", subject_type="account", subject_id=account_id)


@writing
def revoke_tokens(username: str, token_id: int | None = None) -> int:
    """Revoke an account's API tokens (or one of them); effective on the next request. Returns how many."""
    account_id = _account_id(username)
    table = ApiToken.__table__
    stmt = update(table).where(table.c.account_id == account_id, table.c.revoked_at.is_(None))
    if token_id is not None:
        stmt = stmt.where(table.c.id == token_id)
    revoked = affected(db.session.execute(stmt.values(revoked_at=now_utc())))
    bump_epoch()
    audit.record("token.revoke", subject_type="account", subject_id=account_id,
                 detail={"token_id": token_id, "revoked": revoked})
    return int(revoked)


# --- logging in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    account_id: int
    password_hash: str
    active: bool


@read_only
def _credentials(username: str) -> _Credentials | None:
    row = db.session.execute(select(StaffAccount.id, StaffAccount.password_hash, StaffAccount.active)
                             .where(StaffAccount.username == username)).first()
    return None if row is None else _Credentials(row.id, row.password_hash, bool(row.active))


def authenticate(username: str, password: str) -> Principal | None:
    """The active account for these credentials, or None; audits the attempt either way.

    Reads the hash, verifies it outside any unit, then records the login in a short writing unit.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    found = _credentials(username.strip())
    try:
        _hasher().verify(found.password_hash if found else _dummy_hash(), password)
        ok = found is not None and found.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.refused("login", account_id=found.account_id if found else None)
        return None
    assert found is not None
    rehash = hash_password(password) if _hasher().check_needs_rehash(found.password_hash) else None
    return _record_login(found.account_id, rehash)


@writing
def _record_login(account_id: int, new_hash: str | None) -> Principal:
    values: dict[str, Any] = {"last_login_at": now_utc()}
    if new_hash:
        values["password_hash"] = new_hash
    db.session.execute(update(StaffAccount.__table__).where(StaffAccount.__table__.c.id == account_id).values(values))
    audit.record("login", account_id=account_id)
    principal = _load_principal(account_id)
    assert principal is not None
    return principal


# --- who is calling -----------------------------------------------------------------------------


class PrincipalCache:
    """Principals by token hash and by account id, valid for one credentials epoch."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.epoch = -1
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, Principal] = OrderedDict()
        self._accounts: OrderedDict[int, Principal] = OrderedDict()

    def at(self, epoch: int) -> None:
        """Forget everything if the epoch moved on."""
        if epoch != self.epoch:
            with self._lock:
                if epoch != self.epoch:
                    self._tokens.clear()
                    self._accounts.clear()
                    self.epoch = epoch

    def token(self, token_hash: str) -> Principal | None:
        """A cached principal for a token hash."""
        return self._tokens.get(token_hash)

    def account(self, account_id: int) -> Principal | None:
        """A cached principal for an account id."""
        return self._accounts.get(account_id)

    def keep(self, principal: Principal, token_hash: str | None = None) -> None:
        """Remember a principal (and the token it came with), dropping the oldest beyond `size`."""
        with self._lock:
            self._accounts[principal.id] = principal
            if token_hash is not None:
                self._tokens[token_hash] = principal
            for store in (self._tokens, self._accounts):
                while len(store) > self.size:
                    store.popitem(last=False)


def _cache() -> PrincipalCache:
    # Per app: a test run builds many apps over many databases, and ids repeat between them.
    extensions = current_app.extensions
    cache = extensions.get("evac.principals")
    if cache is None:
        cache = extensions.setdefault("evac.principals", PrincipalCache())
    return cache


def _load_principal(account_id: int) -> Principal | None:
    row = db.session.execute(select(
        StaffAccount.id, StaffAccount.username, StaffAccount.display_name, StaffAccount.role, StaffAccount.active,
        StaffAccount.auth_version).where(StaffAccount.id == account_id)).first()
    if row is None:
        return None
    shelters = frozenset(db.session.scalars(
        select(staff_shelter.c.shelter_id).where(staff_shelter.c.account_id == account_id)))
    return Principal(row.id, row.username, row.display_name, Role(row.role), shelters, int(row.auth_version or 0),
                     bool(row.active))


@read_only
def principal_by_id(account_id: int) -> Principal | None:
    """An account as a principal (for the command line and the demo, which act as an account)."""
    return _load_principal(account_id)


@read_only
def principal_for_token(token: str) -> Principal | None:
    """The active account a bearer token belongs to, or None if it is unknown, revoked or disabled."""
    if token.startswith(READER_TOKEN_PREFIX):
        return None  # a card reader's token never stands for an account
    cache = _cache()
    cache.at(_epoch())
    token_hash = hash_token(token)
    hit = cache.token(token_hash)
    if hit is not None:
        return hit if hit.active else None
    account_id = db.session.scalar(select(ApiToken.account_id).where(
        ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None)))
    if account_id is None:
        return None
    principal = _load_principal(account_id)
    if principal is None:
        return None
    cache.keep(principal, token_hash)
    return principal if principal.active else None


@read_only
def principal_for_session(session_id: str) -> Principal | None:
    """The account a session cookie names (``id:version``), or None if it changed or is disabled since."""
    try:
        raw_id, _sep, raw_version = session_id.partition(":")
        account_id, version = int(raw_id), int(raw_version)
    except ValueError:
        return None  # a cookie from before versions were kept: log in again
    cache = _cache()
    cache.at(_epoch())
    principal = cache.account(account_id) or _load_principal(account_id)
    if principal is None:
        return None
    cache.keep(principal)
    if not principal.active or principal.auth_version != version:
        return None
    return principal
