"""Bare extension objects, imported anywhere without import cycles; bound in `create_app`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect

from evac.common.db import Base, guard_engine
from evac.common.errors import ErrorOut


class EvacApi(Api):
    """flask-smorest's Api, minus its error handler: evac maps every error in `evac.web.errors`.

    The OpenAPI document declares evac's own error body, as served.
    """

    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self) -> None:
        return None


class EvacSession(FlaskSession):
    """The request's session; every statement it runs must belong to a unit of work.

    Where the engine is strict (the test suite), a statement outside any unit raises at once, so
    a lazy load after a unit has ended, or a view querying on its own, cannot slip through.
    """

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        bind = super().get_bind(*args, **kwargs)
        guard_engine(bind.engine)
        return bind


# Objects stay loaded after a commit: services hand what they read to the views, and reloading
# every row after each commit cost a quarter of a check-in's time.
db = SQLAlchemy(model_class=Base, session_options={"class_": EvacSession, "expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = EvacApi()
# Per client address; storage from EVAC_RATELIMIT_STORAGE_URL (memory:// by default, redis://… for
# several workers or hosts).
limiter = Limiter(key_func=get_remote_address)


T = TypeVar("T")


def per_app(key: str, make: Callable[[], T]) -> T:
    """The current app's own `key` object (made by `make` on first use), kept in `app.extensions`.

    Per app, not per process: a test run builds many apps over many databases, and ids repeat
    between them.
    """
    extensions = current_app.extensions
    found = extensions.get(key)
    if found is None:
        found = extensions.setdefault(key, make())
    return found
