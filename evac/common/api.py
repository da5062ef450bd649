"""Building API blueprints that all authenticate the same way."""

from __future__ import annotations

from flask_smorest import Blueprint


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 whose every request must be authenticated first."""
    from evac.accounts.auth import require_api_login

    blp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(require_api_login)
    return blp
