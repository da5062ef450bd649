"""Front page, health check and language switch."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale

from evac.common.db import DatabaseUnavailable, now_utc
from evac.common.urls import local_path
from evac.common.vocab import TOKYO
from evac.hq import public
from evac.incidents import service as incidents
from evac.incidents.service import CurrentIncident
from evac.web.service import database_answers

bp = Blueprint("web", __name__)

LANGUAGES = ("ja", "en")
PUBLIC_LANGUAGES = ("ja", "en", "easy")  # easy: やさしい日本語, a wording of the public page only
PUBLIC_MAX_AGE = 30
PUBLIC_LANG_COOKIE = "evac_public_lang"  # written by static/hq/public.js


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness and database check for load balancers and the container healthcheck."""
    try:
        database_answers()
    except DatabaseUnavailable:
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/")
def index() -> ResponseReturnValue:
    """Public page: open shelters, their address, a map and a crowding level. No personal data.

    Japanese, English or やさしい日本語 by `?lang=ja|en|easy` (in the URL, not the session, so that a
    shared cache can keep one copy of each). Without it, the choice the page remembered in the
    `PUBLIC_LANG_COOKIE` cookie (set by public.js): a phone that opens the bare address again gets
    its language at the first render. Cacheable for a short while by anyone.
    """
    lang = request.args.get("lang") or request.cookies.get(PUBLIC_LANG_COOKIE, "ja")
    if lang not in PUBLIC_LANGUAGES:
        lang = "ja"
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    shelters, pages = public.open_shelters(page)
    with force_locale("en" if lang == "en" else "ja"):
        html = render_template("index.html", shelters=shelters, lang=lang, page=min(max(page, 1), pages),
                               pages=pages,
                               generated_at=now_utc().astimezone(TOKYO).strftime("%Y-%m-%d %H:%M"))
    response = make_response(html)
    # A browser with a staff session gets a private copy: the page is the same, but a shared cache
    # must never store a response to a request that carried a session.
    if request.cookies:
        response.headers["Cache-Control"] = "private, max-age=30"
    else:
        response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response.vary.add("Cookie")
    # A validator, so that a browser or cache whose copy is older than max-age asks "still this?"
    # and gets a 304 without the page while nothing on it has changed (a hash of the page itself).
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """What browsers ask for by themselves (pages name the SVG icon; this spares a 404 on every page)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/lang/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Switch the interface language for this browser session."""
    if code in LANGUAGES:
        session["lang"] = code
    # Only same-site paths, so the switch cannot be used as an open redirect.
    return redirect(local_path(request.args.get("next")) or url_for("web.index"))


@bp.app_context_processor
def _incident_context() -> dict[str, Any]:
    return {"current_incident": _current_incident}


def _current_incident() -> CurrentIncident | None:
    """The open incident, for the 「訓練」 banner of every page (none when the database is away)."""
    try:
        return incidents.current_now()
    except DatabaseUnavailable:
        return None


def select_locale() -> str:
    """Japanese unless this browser session chose otherwise (and always Japanese on the CLI)."""
    if not has_request_context():
        return "ja"
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "ja"
