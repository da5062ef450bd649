"""Front page, health check and language switch."""

from __future__ import annotations

from flask import Blueprint, has_request_context, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text

from evac.extensions import db
from evac.shelters.models import Shelter, ShelterStatus

bp = Blueprint("web", __name__)

LANGUAGES = ("ja", "en")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness and database check for load balancers and the container healthcheck."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        db.session.rollback()
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/")
def index() -> ResponseReturnValue:
    """Public page: the shelters that are open now. No personal data."""
    shelters = db.session.scalars(
        select(Shelter)
        .where(Shelter.status.in_([ShelterStatus.OPEN, ShelterStatus.FULL]))
        .order_by(Shelter.municipality_code, Shelter.name_kana, Shelter.id)
    ).all()
    return render_template("index.html", shelters=shelters)


@bp.get("/lang/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Switch the interface language for this browser session."""
    if code in LANGUAGES:
        session["lang"] = code
    target = request.args.get("next", "")
    # Only same-site paths, so the switch cannot be used as an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("web.index")
    return redirect(target)


def select_locale() -> str:
    """Japanese unless this browser session chose otherwise (and always Japanese on the CLI)."""
    if not has_request_context():
        return "ja"
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "ja"
