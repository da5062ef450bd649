"""Bare extension objects, imported anywhere without import cycles; bound in `create_app`."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from evac.common.db import Base



class EvacApi(Api):
    """flask-smorest's Api, minus its error handler: evac maps every error in `evac.web.errors`."""

    def _register_error_handlers(self) -> None:
        return None


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = EvacApi()
# Per client address; storage from EVAC_RATELIMIT_STORAGE_URL (memory:// by default, redis://… for
# several workers or hosts).
limiter = Limiter(key_func=get_remote_address)
