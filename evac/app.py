"""The application factory."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, g, make_response, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from evac import settings
from evac.common.db import configure_engine
from evac.extensions import api, babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Every HTML answer runs under this policy. Scripts only from evac's own files (page scripts are
# ES modules, configuration sits in JSON blocks, no inline handlers), so a name that slips into
# markup cannot run. Styles need no 'unsafe-inline': Leaflet and the page scripts set styles
# through the DOM (element.style), which the policy allows, and no template has a style
# attribute (tests/browser/test_csp.py fails on any violation). Images: the map's OpenStreetMap
# tiles and the data: icons of Leaflet's and Swagger UI's stylesheets. The desk camera's decoder
# is WebAssembly in a worker (static/desk/camera-worker.js): 'wasm-unsafe-eval' lets a page or
# worker compile WebAssembly and nothing else (no eval, no new Function), and workers only from
# evac's own files.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https://tile.openstreetmap.org",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))
HSTS = "max-age=31536000"


class EvacApp(Flask):
    """Flask, with one addition: a view refused because its login changed on the way runs again.

    A login is taken from the process's cache and checked in the request's first unit of work
    (`evac.accounts.auth.check_cached_credentials`). If the account's role or shelters changed,
    that unit is refused before it did anything, and the view runs once more as the account is now.
    """

    def dispatch_request(self) -> ResponseReturnValue:
        from evac.accounts.auth import CredentialsChanged, take_fresh_principal

        try:
            return super().dispatch_request()
        except CredentialsChanged:
            if not take_fresh_principal():
                raise
            return super().dispatch_request()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the evac Flask app. Reads configuration only: no threads, network or file writes."""
    instance = Path((test_config or {}).get("EVAC_INSTANCE_PATH") or settings.instance_path())
    app = EvacApp(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(settings.from_environment(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the bare extension objects of `evac.extensions` to this app."""
    # Import every model so the metadata (and Alembic's autogenerate) sees all tables.
    import evac.models
    from evac.web.views import select_locale

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        lock_ms = int(float(app.config["EVAC_DB_BUSY_TIMEOUT"]) * 1000)
        options["connect_args"] = {
            **options.get("connect_args", {}),
            # No server-side prepared statements: after five runs psycopg would prepare a query and
            # PostgreSQL may then pick a generic plan that scans a long IN list row by row.
            "prepare_threshold": None,
            # A row lock held too long (a rebuild, a stuck session) answers 503, not a hung desk.
            "options": f"-c lock_timeout={lock_ms}",
        }
        # A connection the server dropped (a restart) is replaced instead of failing one request.
        options.setdefault("pool_pre_ping", True)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine, busy_timeout=float(app.config["EVAC_DB_BUSY_TIMEOUT"]),
                             write_mode=app.config["EVAC_SQLITE_WRITE_MODE"],
                             strict=bool(app.config["EVAC_STRICT_UNITS"]))
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "an API token (`evac users token NAME`)"})
    api.spec.components.security_scheme("readerToken", {
        "type": "http", "scheme": "bearer",
        "description": "a card reader's token (`evr_…`, from `evac-reader pair`): POST /api/v1/readers/reads only"})
    api.spec.components.security_scheme("sessionCookie", {
        "type": "apiKey", "in": "cookie", "name": "session",
        "description": "the pages' login session; writes must also send the X-CSRFToken header"})

    import evac.accounts.auth  # noqa: F401  (registers the user loaders)


def register_blueprints(app: Flask) -> None:
    """Pages and API resources."""
    from evac.accounts.views import bp as accounts_bp
    from evac.checkin.views import blp as desk_api_blp
    from evac.desk.views import bp as desk_bp
    from evac.hq.views import blp as hq_api_blp
    from evac.hq.views import bp as hq_bp
    from evac.outbox.views import blp as sync_blp
    from evac.readers.views import blp as readers_blp
    from evac.shelters.views import blp as shelters_blp
    from evac.web.metrics import bp as metrics_bp
    from evac.web.metrics import install as install_metrics
    from evac.web.views import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(metrics_bp)
    install_metrics()
    app.register_blueprint(accounts_bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(hq_bp)
    for blp in (shelters_blp, desk_api_blp, readers_blp, sync_blp, hq_api_blp):
        csrf.exempt(blp)  # checked in require_api_login for cookie-authenticated writes only
        api.register_blueprint(blp)


def register_errorhandlers(app: Flask) -> None:
    """Every error in the API's JSON format (or an HTML page for browsers)."""
    from evac.web import errors

    errors.register(app)


def register_request_hooks(app: Flask) -> None:
    """A request id for each request, echoed in the response and carried by the logs."""

    from evac.accounts.auth import refuse_reader_tokens, settle_cached_credentials
    from evac.common.errors import DomainError
    from evac.common.textnorm import looks_like_individual_number
    from evac.web.errors import handle_domain_error
    from evac.web.guard import refuse_individual_numbers_in_request, refuse_unreadable_requests

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # Echoed and logged: only a short ASCII id that cannot be a 個人番号, else one of ours.
        usable = 0 < len(incoming) <= 64 and incoming.isascii() and not looks_like_individual_number(incoming)
        g.request_id = incoming if usable else uuid.uuid4().hex


    # First of all (before CSRF, rate limits and every blueprint's hooks): nothing the app cannot
    # read safely (URL too long, body too large or too deep, NUL or lone surrogates).
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unreadable_requests)
    # Then a reader token is refused the same way wherever it is used.
    app.before_request_funcs[None].insert(1, refuse_reader_tokens)
    # Next, before anything reads or logs what was sent: no 個人番号 in any part of the request.
    app.before_request_funcs[None].insert(2, refuse_individual_numbers_in_request)

    @app.after_request
    def _headers(response: Any) -> ResponseReturnValue:
        try:
            # A cached login whose epoch check no unit of this request took: taken now, before
            # anything is sent (a request that reads data always ran a unit; this is the rest).
            settle_cached_credentials()
        except DomainError as refused:
            # The answer the view made is not sent: let go of what it holds (a static file's handle).
            response.close()
            response = make_response(*handle_domain_error(refused))
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # A worker runs under the policy of its own script's answer, not the page's: scripts get it too.
        if response.mimetype in ("text/html", "text/javascript", "application/javascript"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if app.config["SESSION_COOKIE_SECURE"]:
            # Secure cookies mean the site is served over HTTPS: tell browsers never to try plain HTTP.
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def register_logging(app: Flask) -> None:
    """Structured JSON logs with ids, never names, addresses or birth dates."""
    from evac.common.logging import configure

    configure(app.config["EVAC_LOG_LEVEL"])
    if not app.config["EVAC_SECRETS_PERSISTENT"]:
        logging.getLogger("evac").warning(
            "no EVAC_SECRET_KEY/EVAC_CARD_KEY and no instance key files: using random keys for this "
            "process; run `evac db upgrade` to create them"
        )


def register_commands(app: Flask) -> None:
    """`flask --app evac …` gets the same commands as the `evac` entry point."""
    from evac.cli import register

    register(app)
