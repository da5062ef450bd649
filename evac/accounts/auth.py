"""Who is calling: session cookie for pages, bearer token for the API; role and shelter checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request, g, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from evac.accounts import service
from evac.accounts.models import Role
from evac.accounts.service import Principal
from evac.common.errors import Forbidden, Unauthenticated
from evac.extensions import csrf, login_manager

F = TypeVar("F", bound=Callable[..., Any])


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
    current_account()
    if request.method not in ("GET", "HEAD", "OPTIONS") and g.get("evac_auth") != "bearer":
        csrf.protect()


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 whose every request must be authenticated first."""
    blp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(require_api_login)
    return blp
