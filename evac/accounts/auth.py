"""Who is calling: session cookie for pages, bearer token for the API; role and shelter checks.

Every endpoint says which credentials it takes (`Credentials`, set on its view with
`takes_credentials`): an account's session or API token (the default), a card reader's token
(checked by that view itself), or none at all (the credential is in the body, as a pairing
code). A card reader's token is refused by every endpoint that does not take it, before anything
else runs: it can deliver card reads and do nothing else.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Request, current_app, g, has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from evac.accounts import service
from evac.accounts.models import Role
from evac.accounts.service import READER_TOKEN_PREFIX, Principal
from evac.common.db import READ, UnitOfWork, on_unit_begin, run_unit
from evac.common.errors import Forbidden, Unauthenticated
from evac.extensions import csrf, login_manager

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V")


class Credentials(enum.StrEnum):
    """What an endpoint authenticates its callers with."""

    ACCOUNT = "account"  # a staff account: session cookie (pages) or API token
    READER = "reader"  # a paired card reader's token, checked by the view
    NONE = "none"  # nothing: the request body holds its own credential (a pairing code)


class ReaderTokenRefused(Forbidden):
    """A card reader's token used anywhere but to deliver card reads."""

    code = "reader_token_refused"


class ReaderTokenRequired(Unauthenticated):
    """An endpoint for card readers called without a reader's token."""

    code = "reader_token_required"


def takes_credentials(kind: Credentials) -> Callable[[V], V]:
    """Mark a view (a function or a MethodView class) as taking `kind` instead of an account."""

    def mark(view: V) -> V:
        view.evac_credentials = kind  # type: ignore[attr-defined]
        return view

    return mark


def endpoint_credentials() -> Credentials:
    """The credentials the endpoint of this request takes (an account's, unless its view says else)."""
    view = current_app.view_functions.get(request.endpoint or "")
    marked = getattr(getattr(view, "view_class", None), "evac_credentials", None) or getattr(
        view, "evac_credentials", None)
    return Credentials(marked) if marked else Credentials.ACCOUNT


def bearer_token() -> str:
    """The bearer token of this request's Authorization header, or ""."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def refuse_reader_tokens() -> None:
    """`before_request` hook of the whole app: a reader token is good for one endpoint only (403 elsewhere)."""
    if bearer_token().startswith(READER_TOKEN_PREFIX) and endpoint_credentials() is not Credentials.READER:
        raise ReaderTokenRefused(_("カードリーダーのトークンでは、読み取りの送信しかできません"))


class CredentialsChanged(Unauthenticated):
    """The account's role or shelters changed while this request was on its way: try again."""

    code = "credentials_changed"


@dataclass(frozen=True)
class _Unchecked:
    """A principal taken from this process's cache whose epoch check is still owed."""

    principal: Principal
    epoch: int
    again: Callable[[], Principal | None]  # the full check, for when the epoch moved on


def _from_cache(cached: tuple[Principal, int] | None, again: Callable[[], Principal | None]) -> Principal | None:
    if cached is None:
        return again()
    principal, epoch = cached
    g.evac_unchecked = _Unchecked(principal, epoch, again)
    return principal


@login_manager.user_loader
def _load_user(session_id: str) -> Principal | None:
    return _from_cache(service.cached_principal_for_session(session_id),
                       lambda: service.principal_for_session(session_id))


@login_manager.request_loader
def _load_user_from_bearer(req: Request) -> Principal | None:
    header = req.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    principal = _from_cache(service.cached_principal_for_token(token), lambda: service.principal_for_token(token))
    if principal is not None:
        g.evac_auth = "bearer"
    return principal


def check_cached_credentials(_unit: UnitOfWork) -> None:
    """Begin hook of every unit: the epoch check a cached principal still owes, in this unit's transaction.

    A principal comes from the cache without a query; the first unit of the request then reads
    the epoch as its first statement (one statement instead of a transaction of its own). When
    the epoch moved on, the account is looked up again in the same transaction: unchanged, the
    request goes on; revoked, expired, disabled or logged out, it is refused (401) before it has
    read or written anything; with another role or other shelters, `CredentialsChanged` refuses
    the unit, and a view runs again as the account now is (`evac.app.EvacApp`).
    """
    if not has_request_context():
        return
    owed: _Unchecked | None = g.get("evac_unchecked")
    if owed is None:
        return
    g.evac_unchecked = None
    if service.current_epoch() == owed.epoch:
        return
    fresh = owed.again()
    if fresh is None:  # revoked, expired, disabled, logged out: as if it had never been valid
        g._login_user = login_manager.anonymous_user()  # and the error page names nobody
        raise Unauthenticated(_("ログインまたはAPIトークンが必要です"))
    if fresh != owed.principal:  # another role or other shelters: decisions were taken on the old ones
        g.evac_fresh_principal = fresh
        raise CredentialsChanged(_("ログイン情報が変更されました。もう一度お試しください"))


def take_fresh_principal() -> bool:
    """After `CredentialsChanged`: make the account as it is now this request's; False if there is none.

    The view can then run again from the start: the check refused its first unit before that
    unit did anything, so nothing of the first run reached the database.
    """
    fresh = g.pop("evac_fresh_principal", None)
    if fresh is None:
        return False
    g._login_user = fresh  # flask-login's slot for the request's user
    return True


def settle_cached_credentials() -> None:
    """For a request that ran no unit: the owed epoch check, in a unit of its own.

    Raises `Unauthenticated` if the login is no longer valid. An account whose role or shelters
    changed is let through: without a unit, the request read nothing those decide about.
    """
    if has_request_context() and g.get("evac_unchecked") is not None:
        try:
            run_unit(READ, lambda: None)
        except CredentialsChanged:
            g.pop("evac_fresh_principal", None)


on_unit_begin(check_cached_credentials)


def current_account() -> Principal:
    """The authenticated account, or `Unauthenticated` (401)."""
    if not current_user.is_authenticated:
        raise Unauthenticated(_("ログインまたはAPIトークンが必要です"))
    return current_user._get_current_object()


def require_roles(*roles: Role) -> Callable[[F], F]:
    """Refuse callers without one of `roles`: 401 when anonymous, 403 for another role."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account.role not in roles:
                raise Forbidden(_("この操作を行う権限がありません"), required_roles=[r.value for r in roles])
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def ensure_shelter_access(account: Principal, shelter_id: int) -> None:
    """Raise `Forbidden` unless the account may work with this shelter."""
    if not account.can_access_shelter(shelter_id):
        raise Forbidden(_("この避難所の担当ではありません"), shelter_id=shelter_id)


def require_api_login() -> None:
    """`before_request` hook of the API: authenticate before parsing anything (401 before 422).

    Writes from a session cookie (the desk's own pages calling the API) must carry the CSRF
    token. Only a request that authenticated with a valid bearer token skips it: a stray or
    invalid ``Authorization`` header beside a session cookie does not.
    """
    if request.endpoint and request.endpoint.startswith("api-docs."):
        return
    kind = endpoint_credentials()
    if kind is Credentials.READER and not bearer_token().startswith(READER_TOKEN_PREFIX):
        raise ReaderTokenRequired(_("カードリーダーのトークンが必要です"))
    if kind is not Credentials.ACCOUNT:
        return  # the view checks its own credentials, and no cookie is used: nothing to forge
    current_account()
    if request.method not in ("GET", "HEAD", "OPTIONS") and g.get("evac_auth") != "bearer":
        csrf.protect()


class ApiBlueprint(Blueprint):
    """flask-smorest's blueprint, with each argument schema made once, not once per request.

    Given a schema class, webargs builds an instance for every request it parses (marshmallow
    deep-copies every declared field to do it: a fifth of a check-in's own CPU time). Loading
    keeps no state in the schema, so one instance serves every request and thread.
    """

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 whose every request must be authenticated first."""
    blp = ApiBlueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(require_api_login)
    return blp
