"""Fixtures shared by the whole suite.

The suite runs on SQLite by default and on PostgreSQL when `EVAC_TEST_DATABASE_URL` names one.
The schema is always built by the Alembic migrations, never by `create_all`, so the migrations
are what is tested. CI sets `EVAC_REQUIRE_POSTGRES=1` and `EVAC_REQUIRE_BROWSER=1`, which turn
"skipped: not available" into a failure.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner

from evac import create_app
from evac.audit import service as audit_service
from evac.audit.journal import existing_journal
from evac.common.db import allow_outside_units
from evac.extensions import db as _db
from tests.contract import Contract

PG_URL = os.environ.get("EVAC_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("EVAC_REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("EVAC_REQUIRE_BROWSER") == "1"
# WebKit (tests/browser/test_webkit_smoke.py): WebKitWebDriver, and xvfb-run without a display.
REQUIRE_WEBKIT = os.environ.get("EVAC_REQUIRE_WEBKIT") == "1"
# Playwright's own browser download cannot work on this network: the tests use the system
# Chromium (`/usr/bin/chromium`, or `EVAC_CHROMIUM`), and skip with the reason without it.
CHROMIUM = os.environ.get("EVAC_CHROMIUM", "/usr/bin/chromium")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HERE = Path(__file__).resolve().parent


def _gsi_dir() -> Path:
    """The real GSI lists: EVAC_GSI_DIR, else ../shared/data/gsi, else the copies in tests/data."""
    if os.environ.get("EVAC_GSI_DIR"):
        return Path(os.environ["EVAC_GSI_DIR"])
    shared = SHARED / "data" / "gsi"
    return shared if shared.is_dir() else HERE / "data" / "gsi"


GSI_DIR = _gsi_dir()


def _postgres_problem() -> str | None:
    """Why the PostgreSQL pass cannot run, or None if it can."""
    if not PG_URL:
        return None
    try:
        engine = sa.create_engine(_normalise(PG_URL))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__})"
    return None


def _normalise(url: str) -> str:
    from evac.settings import normalise_database_url

    return normalise_database_url(url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip (or, in CI, fail) the tests whose real parts are missing, saying why."""
    pg_problem = _postgres_problem()
    if pg_problem:
        if REQUIRE_PG:
            raise pytest.UsageError(pg_problem + " and EVAC_REQUIRE_POSTGRES=1")
        for item in items:
            item.add_marker(pytest.mark.skip(reason=pg_problem + "; the PostgreSQL pass is skipped"))
        return
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(pytest.mark.skip(
                reason="PostgreSQL-only test: runs in the PostgreSQL pass (EVAC_TEST_DATABASE_URL)"))
        if "browser" in item.keywords and PG_URL:
            item.add_marker(pytest.mark.skip(reason="browser tests run in the SQLite pass"))


@pytest.fixture(scope="session")
def _schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the schema once per session with the migrations."""
    from flask_migrate import upgrade

    if PG_URL:
        with _private_postgres_database(_normalise(PG_URL)) as url:
            app = create_app(_config(url, tmp_path_factory.mktemp("instance")))
            with app.app_context():
                upgrade()
                _db.engine.dispose()
            yield {"url": url}
        return
    template = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    app = create_app(_config(f"sqlite:///{template}", tmp_path_factory.mktemp("instance")))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    yield {"template": template}


@contextlib.contextmanager
def _private_postgres_database(url: str) -> Iterator[str]:
    """A database of this test run's own, created beside the one named, dropped afterwards.

    Runs on one server (two developers, CI, a benchmark) then never see each other's rows.
    """
    base = sa.engine.make_url(url)
    name = f"evac_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _config(url: str, instance: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "CARD_KEY": "test-card-key",
        "EVAC_SECRETS_PERSISTENT": True,
        "EVAC_INSTANCE_PATH": str(instance),
        "EVAC_SYNC_DIR": str(instance / "sync"),
        "WTF_CSRF_ENABLED": True,
        # Every test logs in from 127.0.0.1; the limit itself has a test of its own.
        "RATELIMIT_ENABLED": False,
        # Any database use outside a unit of work fails the test that does it.
        "EVAC_STRICT_UNITS": True,
        "EVAC_AUDIT_JOURNAL_DIR": str(instance / "audit-journal"),
        "EVAC_AUDIT_FLUSH_INTERVAL": 0.2,
    }


@pytest.fixture
def app(_schema: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """A fresh app over an empty, fully migrated database, with an app context pushed."""
    if "template" in _schema:
        target = tmp_path / "evac.sqlite3"
        shutil.copyfile(_schema["template"], target)
        url = f"sqlite:///{target}"
    else:
        url = _schema["url"]
    app = create_app(_config(url, tmp_path))
    with app.app_context(), allow_outside_units():
        if "url" in _schema:
            _truncate_all()
        yield app
        journal = existing_journal(app)
        if journal is not None:
            journal.close()
        _db.session.remove()
        _db.engine.dispose()


def _truncate_all() -> None:
    tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
    with _db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(app: Flask) -> Any:
    """The Flask-SQLAlchemy extension, bound to the test app."""
    return _db


def _contract(app: Flask) -> Contract:
    contract = app.extensions.get("tests.contract")
    if contract is None:
        spec = contextvars.Context().run(FlaskClient(app).get, "/api/v1/openapi.json").get_json()
        contract = app.extensions["tests.contract"] = Contract(spec)
    return contract  # type: ignore[no-any-return]


class IsolatedClient(FlaskClient):
    """A test client whose requests each get their own app context, as in production.

    Flask reuses an already-pushed app context for a request, which would share `g` (and with it
    the logged-in user and the database session) between the test body and every request.
    Every JSON answer of the API is checked against the OpenAPI document (`tests.contract`).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = contextvars.Context().run(super().open, *args, **kwargs)
        request = response.request
        if request.path.startswith("/api/v1/") and response.mimetype == "application/json":
            _contract(self.application).check(request.method, request.path, response.status_code,
                                              response.get_json())
        # End the test's own read transaction so that what it reads next includes the request's
        # writes (an SQLite snapshot or a PostgreSQL repeatable read would otherwise hide them),
        # and store the request's journaled audit entries, so a test can count them at once.
        if has_app_context():
            _db.session.rollback()
            audit_service.flush()
        return response


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app; the test's own `db.session` is separate from the requests'."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def gsi_dir() -> Path:
    """The real GSI shelter lists in ../shared/data/gsi."""
    if not GSI_DIR.is_dir():
        pytest.skip(f"GSI data not found at {GSI_DIR}")
    return GSI_DIR


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


class _CspBypassingBrowser:
    """The browser, whose contexts ignore the pages' Content-Security-Policy unless asked not to.

    The app sends a policy without 'unsafe-eval', and Playwright runs a string predicate of
    `page.wait_for_function("…")` through eval: under the policy it would fail. The tests that
    check the policy itself (tests/browser/test_csp.py) pass ``bypass_csp=False``."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self._browser.new_context(**options)

    def new_page(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self._browser.new_page(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    problem = _unavailable()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(problem + " and EVAC_REQUIRE_BROWSER=1")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # The machine has no network beyond loopback: keep Chromium from calling home.
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield _CspBypassingBrowser(browser)
        browser.close()
