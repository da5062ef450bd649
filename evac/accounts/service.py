"""Accounts: creating them, checking passwords and API tokens. Each function owns its transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from flask_babel import gettext as _
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from evac.accounts.models import ApiToken, Role, StaffAccount
from evac.audit import service as audit
from evac.common.db import now_utc
from evac.common.errors import Conflict, NotFound, ValidationFailed
from evac.extensions import db
from evac.shelters.models import Shelter

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login with an unknown name like that of a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")
TOKEN_PREFIX = "evac_"
MIN_PASSWORD_LENGTH = 8


def hash_token(token: str) -> str:
    """SHA-256 of an API token: tokens are random and long, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_account(
    username: str,
    *,
    role: Role,
    password: str,
    shelter_ids: Iterable[int] = (),
    display_name: str = "",
) -> StaffAccount:
    """Create a staff account; staff must be scoped to at least one shelter."""
    username = username.strip()
    if not username:
        raise ValidationFailed(_("ユーザー名を入力してください"), fields={"username": "required"})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            _("パスワードは%(n)d文字以上にしてください", n=MIN_PASSWORD_LENGTH), fields={"password": "too short"}
        )
    shelter_ids = list(dict.fromkeys(shelter_ids))
    if role is Role.STAFF and not shelter_ids:
        raise ValidationFailed(_("職員アカウントには担当避難所が必要です"), fields={"shelter": "required for staff"})
    if db.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise Conflict(_("ユーザー名 %(name)s は使われています", name=username), fields={"username": "taken"})
    shelters = list(db.session.scalars(select(Shelter).where(Shelter.id.in_(shelter_ids))))
    missing = set(shelter_ids) - {s.id for s in shelters}
    if missing:
        raise NotFound(_("避難所が見つかりません: %(ids)s", ids=sorted(missing)), fields={"shelter": sorted(missing)})
    account = StaffAccount(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=_hasher.hash(password),
        shelters=shelters,
    )
    db.session.add(account)
    db.session.flush()
    audit.record("account.create", subject_type="account", subject_id=account.id,
                 detail={"role": role.value, "shelters": shelter_ids})
    db.session.commit()
    return account


def authenticate(username: str, password: str) -> StaffAccount | None:
    """Return the active account for these credentials, or None; audits the attempt either way."""
    account = db.session.scalar(select(StaffAccount).where(StaffAccount.username == username.strip()))
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        ok = account is not None and account.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.record("login", outcome="refused", account_id=account.id if account else None)
        db.session.commit()
        return None
    assert account is not None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.last_login_at = now_utc()
    audit.record("login", account_id=account.id)
    db.session.commit()
    return account


def issue_token(username: str, label: str = "") -> str:
    """Create an API token for the account and return it; only its hash is stored."""
    account = db.session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    if account is None:
        raise NotFound(_("ユーザー %(name)s が見つかりません", name=username), fields={"username": "unknown"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(account_id=account.id, token_hash=hash_token(token), label=label))
    audit.record("token.issue", subject_type="account", subject_id=account.id, account_id=account.id)
    db.session.commit()
    return token


def account_for_token(token: str) -> StaffAccount | None:
    """The active account a bearer token belongs to, or None if it is unknown or revoked."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.account.active:
        return None
    return row.account


def get_account(account_id: int) -> StaffAccount | None:
    """Load an account by id (for the session loader)."""
    return db.session.get(StaffAccount, account_id)
