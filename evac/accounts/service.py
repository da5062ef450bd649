"""Accounts: creating them, checking passwords and API tokens, and who a request is (`Principal`).

Password hashing (Argon2id, tens of milliseconds) never runs inside a writing unit: on SQLite it
would hold the write lock, and every desk with it, for as long as the hash takes.

Who a bearer token or a session cookie belongs to is cached per process as a `Principal` and
checked against the credentials epoch (`AuthState`) on every request: one single-row read instead
of loading the account, its token and its shelters each time, and a revocation still counts on
the very next request because every change to an account or a token raises the epoch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, or_, select, update

from evac.accounts import throttle
from evac.accounts.models import ApiToken, AuthState, Role, StaffAccount, StaffSession, staff_shelter
from evac.audit import service as audit
from evac.common.db import affected, current_unit, now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound, ValidationFailed
from evac.common.statements import run
from evac.extensions import db, per_app

TOKEN_PREFIX = "evac_"
# A card reader's token (evac.readers) is not an account's: it is never a principal, and every
# endpoint but the one that takes card reads refuses it (`evac.accounts.auth`).
READER_TOKEN_PREFIX = "evr_"
MIN_PASSWORD_LENGTH = 10
# zxcvbn's scale: 3 is "safely unguessable" for an online attack (about 10^8 guesses), which the
# login throttle keeps online.
MIN_PASSWORD_SCORE = 3
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
    session_key: str | None = None  # the login this request came with (cookies only)

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses sessions of disabled accounts."""
        return self.active

    def get_id(self) -> str:
        """What the session cookie keeps: the id, the version it was issued at, and the login's key."""
        return f"{self.id}:{self.auth_version}:{self.session_key or ''}"

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


_AUTH_STATE = select(AuthState.epoch, AuthState.failures).where(AuthState.id == 1)


def current_epoch() -> int:
    """The credentials epoch, as the current unit sees it; notes the wrong guesses stored so far too.

    One single-row read that also tells the guess throttle whether its counts can have grown
    (`throttle.FAILURES_SEEN`), so a genuine card's scan counts nothing.
    """
    row = run(_AUTH_STATE).first()
    epoch, failures = (int(row.epoch or 0), int(row.failures or 0)) if row is not None else (0, 0)
    current_unit().state[throttle.FAILURES_SEEN] = failures
    return epoch




# --- the password policy ------------------------------------------------------------------------


def check_password(password: str, *, username: str, display_name: str = "") -> None:
    """Refuse the short, the user's own name and what zxcvbn finds guessable (common words, keyboard
    walks, dates, the town's name); `ValidationFailed` says which."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            _("パスワードは%(n)d文字以上にしてください", n=MIN_PASSWORD_LENGTH), fields={"password": "too short"})
    if password.strip().casefold() in {username.strip().casefold(), display_name.strip().casefold()}:
        raise ValidationFailed(_("ユーザー名と同じパスワードは使えません"), fields={"password": "same as the user name"})
    # zxcvbn reads at most 100 characters; the rest of a long passphrase only adds strength.
    score = zxcvbn(password[:100], user_inputs=[username, display_name, "evac", "seika", "hinanjo"])["score"]
    if score < MIN_PASSWORD_SCORE:
        raise ValidationFailed(_("推測されやすいパスワードです。よく使われる語や並びを避け、長くしてください"),
                               fields={"password": "too easy to guess"})


# --- creating accounts and tokens ---------------------------------------------------------------


def create_account(username: str, *, role: Role, password: str, shelter_ids: Iterable[int] = (),
                   display_name: str = "") -> Principal:
    """Create an account; staff must be scoped to at least one shelter. Hashes, then one writing unit."""
    username = username.strip()
    if not username:
        raise ValidationFailed(_("ユーザー名を入力してください"), fields={"username": "required"})
    check_password(password, username=username, display_name=display_name)
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
def issue_token(username: str, label: str = "", *, expires_in: timedelta | None = None) -> str:
    """Create an API token for the account and return it; only its hash is stored.

    `expires_in`: the token stops working after that long (None: until revoked).
    """
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationFailed(_("有効期限は1日以上にしてください"), fields={"expires": "must be in the future"})
    account_id = _account_id(username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_utc()
    expires_at = None if expires_in is None else now + expires_in
    db.session.execute(insert(ApiToken.__table__).values(
        account_id=account_id, token_hash=hash_token(token), label=label, created_at=now, expires_at=expires_at))
    audit.record("token.issue", subject_type="account", subject_id=account_id, account_id=account_id,
                 detail={"expires_at": None if expires_at is None else expires_at.isoformat()})
    return token


def _account_id(username: str) -> int:
    account_id = db.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))
    if account_id is None:
        raise NotFound(_("ユーザー %(name)s が見つかりません", name=username), fields={"username": "unknown"})
    return int(account_id)


def _end_sessions(account_id: int) -> None:
    table = StaffSession.__table__
    db.session.execute(update(table).where(table.c.account_id == account_id, table.c.ended_at.is_(None))
                       .values(ended_at=now_utc()))


@writing
def set_active(username: str, active: bool) -> None:
    """Disable (or enable again) an account; a disabled account's sessions and tokens stop at once."""
    account_id = _account_id(username)
    table = StaffAccount.__table__
    db.session.execute(update(table).where(table.c.id == account_id).values(
        active=active, auth_version=table.c.auth_version + 1))
    _end_sessions(account_id)
    bump_epoch()
    audit.record("account.enable" if active else "account.disable", subject_type="account", subject_id=account_id)


def set_password(username: str, password: str) -> None:
    """Give the account a new password (the policy applies); every session of it ends."""
    account_id, display_name = _name_of(username)
    check_password(password, username=username, display_name=display_name)
    _store_password(account_id, hash_password(password))


@read_only
def _name_of(username: str) -> tuple[int, str]:
    account_id = _account_id(username)
    return account_id, str(db.session.scalar(select(StaffAccount.display_name).where(
        StaffAccount.id == account_id)) or "")


@writing
def _store_password(account_id: int, password_hash: str) -> None:
    table = StaffAccount.__table__
    db.session.execute(update(table).where(table.c.id == account_id).values(
        password_hash=password_hash, auth_version=table.c.auth_version + 1))
    _end_sessions(account_id)
    bump_epoch()
    audit.record("account.password", subject_type="account", subject_id=account_id)


@writing
def set_shelters(username: str, shelter_ids: Iterable[int]) -> None:
    """Replace the shelters a staff account works at (at least one); effective on the next request."""
    account_id = _account_id(username)
    ids = list(dict.fromkeys(shelter_ids))
    role = db.session.scalar(select(StaffAccount.role).where(StaffAccount.id == account_id))
    if role is Role.STAFF and not ids:
        raise ValidationFailed(_("職員アカウントには担当避難所が必要です"), fields={"shelter": "required for staff"})
    shelter = db.metadata.tables["shelter"]
    missing = sorted(set(ids) - set(db.session.scalars(select(shelter.c.id).where(shelter.c.id.in_(ids)))))
    if missing:
        raise NotFound(_("避難所が見つかりません: %(ids)s", ids=missing), fields={"shelter": missing})
    db.session.execute(delete(staff_shelter).where(staff_shelter.c.account_id == account_id))
    if ids:
        db.session.execute(insert(staff_shelter), [{"account_id": account_id, "shelter_id": s} for s in ids])
    bump_epoch()
    audit.record("account.shelters", subject_type="account", subject_id=account_id, detail={"shelters": ids})


@dataclass(frozen=True)
class AccountRow:
    """One account as `evac users list` shows it."""

    username: str
    display_name: str
    role: Role
    active: bool
    shelter_ids: tuple[int, ...]
    last_login_at: datetime | None
    tokens: int  # usable API tokens


@read_only
def list_accounts() -> list[AccountRow]:
    """Every account, by user name, with its shelters and how many tokens it can still use."""
    now = now_utc()
    tokens: dict[int, int] = {row[0]: row[1] for row in db.session.execute(
        select(ApiToken.account_id, func.count()).where(
            ApiToken.revoked_at.is_(None), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .group_by(ApiToken.account_id))}
    shelters: dict[int, list[int]] = {}
    for account_id, shelter_id in db.session.execute(
            select(staff_shelter.c.account_id, staff_shelter.c.shelter_id).order_by(staff_shelter.c.shelter_id)):
        shelters.setdefault(account_id, []).append(shelter_id)
    rows = db.session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars()
    return [AccountRow(a.username, a.display_name, Role(a.role), bool(a.active), tuple(shelters.get(a.id, ())),
                       a.last_login_at, int(tokens.get(a.id, 0))) for a in rows]


@dataclass(frozen=True)
class TokenRow:
    """One API token as `evac users tokens` shows it (never the token itself: only its hash is kept)."""

    id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


@read_only
def list_tokens(username: str) -> list[TokenRow]:
    """An account's API tokens, oldest first, revoked and expired ones included."""
    account_id = _account_id(username)
    rows = db.session.execute(select(ApiToken).where(ApiToken.account_id == account_id)
                              .order_by(ApiToken.id)).scalars()
    return [TokenRow(t.id, t.label, t.created_at, t.last_used_at, t.expires_at, t.revoked_at) for t in rows]


@writing
def revoke_tokens(username: str, token_id: int | None = None) -> int:
    """Revoke an account's API tokens (or one of them); effective on the next request. Returns how many."""
    account_id = _account_id(username)
    table = ApiToken.__table__
    stmt = update(table).where(table.c.account_id == account_id, table.c.revoked_at.is_(None))
    if token_id is not None:
        stmt = stmt.where(table.c.id == token_id)
    revoked = affected(db.session.execute(stmt.values(revoked_at=now_utc())))
    if token_id is not None and not revoked:
        raise NotFound(_("有効なトークン %(id)s が見つかりません", id=token_id), fields={"token": "unknown or revoked"})
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


def login_keys(username: str, address: str | None) -> list[throttle.Key]:
    """What a wrong password counts against: this name from this address, and the address itself.

    Not the name alone: a stranger guessing would then lock the real user out of every desk. The
    right user at another desk (another address) still logs in while one address is limited.
    """
    config = current_app.config
    where = address or "-"
    return [throttle.Key("login-name", f"{username.strip().casefold()}|{where}",
                         int(config["EVAC_LOGIN_MAX_FAILURES"])),
            throttle.Key("login-address", where, int(config["EVAC_LOGIN_MAX_FAILURES_PER_ADDRESS"]))]


def authenticate(username: str, password: str, *, address: str | None = None) -> Principal | None:
    """The active account for these credentials, or None; audits the attempt either way.

    Refuses with `TooManyAttempts` (429) once this name from this address, or this address, has
    guessed wrong too often within the window. Reads the hash, verifies it outside any unit, then
    records the login (and a new session) in a short writing unit.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    keys = login_keys(username, address)
    throttle.refuse_if_limited(keys, _("ログインの失敗が続いたため、しばらくログインできません。時間をおいてお試しください"))
    found = _credentials(username.strip())
    try:
        _hasher().verify(found.password_hash if found else _dummy_hash(), password)
        ok = found is not None and found.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        throttle.count_failure(keys)
        audit.refused("login", account_id=found.account_id if found else None)
        return None
    assert found is not None
    rehash = hash_password(password) if _hasher().check_needs_rehash(found.password_hash) else None
    return _record_login(found.account_id, rehash)


@writing
def _record_login(account_id: int, new_hash: str | None) -> Principal:
    now = now_utc()
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    db.session.execute(update(StaffAccount.__table__).where(StaffAccount.__table__.c.id == account_id).values(values))
    key = secrets.token_urlsafe(32)
    db.session.execute(insert(StaffSession.__table__).values(key=key, account_id=account_id, started_at=now))
    audit.record("login", account_id=account_id)
    principal = _load_principal(account_id)
    assert principal is not None
    return dataclasses.replace(principal, session_key=key)


@writing
def end_session(principal: Principal) -> None:
    """Log out: the session's key stops working everywhere, a saved copy of the cookie included."""
    if principal.session_key is None:
        return
    table = StaffSession.__table__
    db.session.execute(update(table).where(table.c.key == principal.session_key, table.c.ended_at.is_(None))
                       .values(ended_at=now_utc()))
    bump_epoch()
    audit.record("logout", account_id=principal.id)


# --- who is calling -----------------------------------------------------------------------------


class PrincipalCache:
    """Principals by token hash and by account id, valid for one credentials epoch."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.epoch = -1
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, tuple[Principal, datetime | None]] = OrderedDict()
        self._accounts: OrderedDict[int, Principal] = OrderedDict()
        self._sessions: OrderedDict[str, int] = OrderedDict()  # live session key → account id

    def at(self, epoch: int) -> None:
        """Forget everything if the epoch moved on."""
        if epoch != self.epoch:
            with self._lock:
                if epoch != self.epoch:
                    self._tokens.clear()
                    self._accounts.clear()
                    self._sessions.clear()
                    self.epoch = epoch

    def token(self, token_hash: str) -> tuple[Principal, datetime | None] | None:
        """A cached principal for a token hash, with the token's expiry."""
        return self._tokens.get(token_hash)

    def session(self, key: str) -> int | None:
        """The account of a live session key, if known to be live in this epoch."""
        return self._sessions.get(key)

    def account(self, account_id: int) -> Principal | None:
        """A cached principal for an account id."""
        return self._accounts.get(account_id)

    def keep(self, principal: Principal, token_hash: str | None = None, *, expires_at: datetime | None = None,
             session_key: str | None = None) -> None:
        """Remember a principal (and the token or live session it came with), dropping the oldest beyond `size`."""
        with self._lock:
            self._accounts[principal.id] = principal
            if token_hash is not None:
                self._tokens[token_hash] = (principal, expires_at)
            if session_key is not None:
                self._sessions[session_key] = principal.id
            stores: tuple[OrderedDict[Any, Any], ...] = (self._tokens, self._accounts, self._sessions)
            for store in stores:
                while len(store) > self.size:
                    store.popitem(last=False)


def _cache() -> PrincipalCache:
    return per_app("evac.principals", PrincipalCache)


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
    cache.at(current_epoch())
    token_hash = hash_token(token)
    hit = cache.token(token_hash)
    if hit is None:
        row = db.session.execute(select(ApiToken.account_id, ApiToken.expires_at).where(
            ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))).first()
        if row is None:
            return None
        principal = _load_principal(row.account_id)
        if principal is None:
            return None
        cache.keep(principal, token_hash, expires_at=row.expires_at)
        hit = (principal, row.expires_at)
    principal, expires_at = hit
    if expires_at is not None and expires_at <= now_utc():
        return None  # expired: no epoch change needed, the clock says so
    return principal if principal.active else None


def cached_principal_for_token(token: str) -> tuple[Principal, int] | None:
    """The principal this process has cached for a token, with the epoch it was cached in; no query.

    Not yet checked against the epoch: the caller owes that check (`current_epoch`) before the
    request reads or writes anything else; the API folds it into the request's first unit.
    None when nothing usable is cached (then ask `principal_for_token`).
    """
    if token.startswith(READER_TOKEN_PREFIX):
        return None
    cache = _cache()
    epoch = cache.epoch
    hit = cache.token(hash_token(token)) if epoch >= 0 else None
    if hit is None:
        return None
    principal, expires_at = hit
    if not principal.active or (expires_at is not None and expires_at <= now_utc()):
        return None
    return principal, epoch


def cached_principal_for_session(session_id: str) -> tuple[Principal, int] | None:
    """As `cached_principal_for_token`, for a session cookie's ``id:version:key``."""
    parts = session_id.split(":")
    if len(parts) != 3 or not parts[2] or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    account_id, version, key = int(parts[0]), int(parts[1]), parts[2]
    cache = _cache()
    epoch = cache.epoch
    if epoch < 0 or cache.session(key) != account_id:
        return None
    principal = cache.account(account_id)
    if principal is None or not principal.active or principal.auth_version != version:
        return None
    return dataclasses.replace(principal, session_key=key), epoch


@read_only
def principal_for_session(session_id: str) -> Principal | None:
    """The account a session cookie names (``id:version:key``), or None if the login ended (logout),
    the account changed since (password, disabled) or the cookie is of an older format."""
    parts = session_id.split(":")
    if len(parts) != 3 or not parts[2]:
        return None  # a cookie from before logins were kept: log in again
    try:
        account_id, version = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    key = parts[2]
    cache = _cache()
    cache.at(current_epoch())
    if cache.session(key) != account_id:
        live = db.session.scalar(select(StaffSession.account_id).where(
            StaffSession.key == key, StaffSession.ended_at.is_(None)))
        if live != account_id:
            return None
    principal = cache.account(account_id) or _load_principal(account_id)
    if principal is None:
        return None
    cache.keep(principal, session_key=key)
    if not principal.active or principal.auth_version != version:
        return None
    return dataclasses.replace(principal, session_key=key)
