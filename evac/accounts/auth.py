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
from typing import Any, TypeVar

from flask import Request, current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from evac.accounts import service
from evac.accounts.models import Role
from evac.accounts.service import READER_TOKEN_PREFIX, Principal
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


@login_manager.user_loader
def _load_user(session_id: str) -> Principal | None:
    return service.principal_for_session(session_id)


@login_manager.request_loader
def _load_user_from_bearer(req: Request) -> Principal | None:
    header = req.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    principal = service.principal_for_token(token.strip())
    if principal is not None:
        g.evac_auth = "bearer"
    return principal


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


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 whose every request must be authenticated first."""
    blp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(require_api_login)
    return blp
