"""Configuration read from `EVAC_*` environment variables, with safe defaults.

Secrets that must survive a restart (the session key, the card key) fall back to files in the
instance folder, written once by `evac db upgrade`, `evac demo` or `evac serve`
(see `evac.common.instance.ensure_instance_secrets`), never by `create_app` itself.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# PFIF record ids are "<domain>/<local id>", the domain naming the records' home repository.
# Person Finder checks it as a host name: labels of letters, digits and hyphens that start with a
# letter (RFC 952) — so a town code cannot be a label, as it was in "evac.seika.263664". The
# default is under example.jp, which JPRS reserves for examples, so it can never claim someone
# else's records; a town sets its own (Seika's would be e.g. evac.town.seika.kyoto.jp).
DEFAULT_PFIF_DOMAIN = "seika.evac.example.jp"
_DNS_LABEL = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


def is_pfif_domain(value: str) -> bool:
    """Whether `value` is a lower-case domain name PFIF validators accept as a record-id domain."""
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.fullmatch(label) for label in labels)


def _pfif_domain() -> str:
    raw = os.environ.get("EVAC_PFIF_DOMAIN") or DEFAULT_PFIF_DOMAIN
    value = raw.strip().rstrip(".").lower()
    if not is_pfif_domain(value):
        raise RuntimeError(
            f"EVAC_PFIF_DOMAIN must be a domain name whose labels start with a letter "
            f"(e.g. evac.town.seika.kyoto.jp), got {raw!r}")
    return value


T = TypeVar("T")


def _number(name: str, default: T, kind: Callable[[str], T]) -> T:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number ({kind.__name__}), got {raw!r}") from exc


def _int(name: str, default: int) -> int:
    return _number(name, default, int)


def _float(name: str, default: float) -> float:
    return _number(name, default, float)


def _secret(env_name: str, instance_path: Path, file_name: str) -> tuple[str, bool]:
    """Return (secret, persistent): from the environment, the instance file, or a random one."""
    value = os.environ.get(env_name)
    if value:
        return value, True
    path = instance_path / file_name
    if path.is_file():
        return path.read_text(encoding="ascii").strip(), True
    # A random key keeps an unconfigured process safe, but cards and sessions die with it.
    return secrets.token_urlsafe(32), False


def instance_path() -> Path:
    """Where the SQLite database and the key files live: `EVAC_INSTANCE_PATH`, else ./instance."""
    return Path(os.environ.get("EVAC_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def ensure_instance_secrets(path: Path) -> None:
    """Create the instance folder and, where the environment gives none, persistent key files.

    Called by the CLI, never by `create_app`. Several hosts sharing one database must be given
    `EVAC_SECRET_KEY` and `EVAC_CARD_KEY` instead, or their cards would not verify elsewhere.
    The folder holds the keys, the SQLite database and the audit journal: it is the owner's only
    (0700), and one left open to others by an older evac or a wide umask is closed.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o700)
    for env_name, file_name in (("EVAC_SECRET_KEY", "secret_key"), ("EVAC_CARD_KEY", "card_key")):
        target = path / file_name
        if os.environ.get(env_name) or target.exists():
            continue
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32))


def from_environment(instance_path: Path) -> dict[str, Any]:
    """Build the Flask config mapping from the environment."""
    default_db = f"sqlite:///{instance_path / 'evac.sqlite3'}"
    secret_key, secret_persistent = _secret("EVAC_SECRET_KEY", instance_path, "secret_key")
    card_key, card_persistent = _secret("EVAC_CARD_KEY", instance_path, "card_key")
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("EVAC_DATABASE_URL") or default_db
        ),
        # Statement parameters hold names and addresses: keep them out of error messages and logs.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        "SECRET_KEY": secret_key,
        "CARD_KEY": card_key,
        "EVAC_SECRETS_PERSISTENT": secret_persistent and card_persistent,
        "EVAC_TOWN_NAME": os.environ.get("EVAC_TOWN_NAME", "精華町"),
        "EVAC_TOWN_CODE": os.environ.get("EVAC_TOWN_CODE", "263664"),
        # PFIF person_record_id domain: <domain>/person.<id>; one per town that publishes records.
        "EVAC_PFIF_DOMAIN": _pfif_domain(),
        "EVAC_SYNC_CONNECTOR": os.environ.get("EVAC_SYNC_CONNECTOR", "none"),
        "EVAC_SYNC_URL": os.environ.get("EVAC_SYNC_URL", ""),
        "EVAC_SYNC_SECRET": os.environ.get("EVAC_SYNC_SECRET", ""),
        "EVAC_SYNC_INTERVAL": _float("EVAC_SYNC_INTERVAL", 30.0),
        "EVAC_SYNC_DIR": os.environ.get("EVAC_SYNC_DIR", str(instance_path / "sync")),
        # The drills' connector: none by default, so a 訓練 never reaches any receiver.
        "EVAC_SYNC_DRILL_CONNECTOR": os.environ.get("EVAC_SYNC_DRILL_CONNECTOR", "none"),
        "EVAC_SYNC_DRILL_URL": os.environ.get("EVAC_SYNC_DRILL_URL", ""),
        "EVAC_SYNC_DRILL_SECRET": os.environ.get("EVAC_SYNC_DRILL_SECRET", ""),
        # `evac serve` runs the sender in its workers when a connector is set (one sends: the lease).
        "EVAC_SYNC_EMBEDDED": os.environ.get("EVAC_SYNC_EMBEDDED", "1") != "0",
        "EVAC_LOG_LEVEL": os.environ.get("EVAC_LOG_LEVEL", "INFO"),
        # How long a request waits for the database (the SQLite write lock, a PostgreSQL row lock)
        # before it is answered 503 with Retry-After and the desk queues it.
        "EVAC_DB_BUSY_TIMEOUT": _float("EVAC_DB_BUSY_TIMEOUT", 5.0),
        "EVAC_SQLITE_WRITE_MODE": os.environ.get("EVAC_SQLITE_WRITE_MODE", "immediate"),
        # Raise on any database use outside a unit of work (the test suite turns this on).
        "EVAC_STRICT_UNITS": os.environ.get("EVAC_STRICT_UNITS", "0") == "1",
        "EVAC_AUDIT_JOURNAL_DIR": os.environ.get("EVAC_AUDIT_JOURNAL_DIR", str(instance_path / "audit-journal")),
        "EVAC_AUDIT_FLUSH_INTERVAL": _float("EVAC_AUDIT_FLUSH_INTERVAL", 1.0),
        # Days a closed disaster's records are kept whole before `evac purge` takes them, and days
        # the backup it takes first is kept (the window in which a purge can be undone).
        "EVAC_RETENTION_DAYS": _int("EVAC_RETENTION_DAYS", 40),
        # /metrics answers loopback only, unless this token is set (then only with it).
        "EVAC_METRICS_TOKEN": os.environ.get("EVAC_METRICS_TOKEN", ""),
        "EVAC_PURGE_BACKUP_DAYS": _int("EVAC_PURGE_BACKUP_DAYS", 3),
        "MAX_CONTENT_LENGTH": _int("EVAC_MAX_CONTENT_LENGTH", 1024 * 1024),
        # Longer URLs are answered 414 in JSON by the app; `evac serve` sets gunicorn's own
        # request-line limit above this, so its HTML 414 is never what a client sees.
        "EVAC_MAX_URL_LENGTH": _int("EVAC_MAX_URL_LENGTH", 4096),
        # Where residents reach the public crowding page (the posters' QR code); empty: the host the
        # request came to.
        "EVAC_PUBLIC_URL": os.environ.get("EVAC_PUBLIC_URL", ""),
        # No request body of evac nests deeper than a few levels; a parser recurses once per level.
        "EVAC_MAX_JSON_DEPTH": _int("EVAC_MAX_JSON_DEPTH", 32),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("EVAC_SECURE_COOKIES", "0") == "1",
        "RATELIMIT_STORAGE_URI": os.environ.get("EVAC_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "EVAC_LOGIN_RATE_LIMIT": os.environ.get("EVAC_LOGIN_RATE_LIMIT", "10 per minute"),
        # Wrong guesses, counted in the database (every worker, every host), over one sliding window:
        # passwords per user name and address and per address; card codes per account and address.
        "EVAC_THROTTLE_WINDOW_MINUTES": _int("EVAC_THROTTLE_WINDOW_MINUTES", 15),
        # How long the desk offers 「取り消す」 after a check-in, check-out, outing or transfer; staff
        # may still correct their shelters' operations from the roster for EVAC_UNDO_STAFF_HOURS,
        # HQ and admin at any time during the incident.
        "EVAC_UNDO_MINUTES": _int("EVAC_UNDO_MINUTES", 5),
        "EVAC_UNDO_STAFF_HOURS": _int("EVAC_UNDO_STAFF_HOURS", 24),
        "EVAC_LOGIN_MAX_FAILURES": _int("EVAC_LOGIN_MAX_FAILURES", 5),
        "EVAC_LOGIN_MAX_FAILURES_PER_ADDRESS": _int("EVAC_LOGIN_MAX_FAILURES_PER_ADDRESS", 30),
        "EVAC_CARD_MAX_FAILURES": _int("EVAC_CARD_MAX_FAILURES", 20),
        "EVAC_CARD_MAX_FAILURES_PER_ADDRESS": _int("EVAC_CARD_MAX_FAILURES_PER_ADDRESS", 40),
        # Wrong pairing codes per client address (a reader that pairs at once is never counted),
        # and pairing codes a desk screen may ask for.
        "EVAC_READER_PAIR_RATE_LIMIT": os.environ.get("EVAC_READER_PAIR_RATE_LIMIT", "10 per minute"),
        "EVAC_READER_CODE_RATE_LIMIT": os.environ.get("EVAC_READER_CODE_RATE_LIMIT", "10 per minute"),
        "BABEL_DEFAULT_LOCALE": "ja",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
        "API_TITLE": "evac API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "API_SPEC_OPTIONS": {"security": [{"bearerAuth": []}, {"sessionCookie": []}]},
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        # Interactive docs at /api/v1/docs from a vendored Swagger UI: no CDN at run time.
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        # Swagger UI would send the document's URL to validator.swagger.io for a badge.
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    }


def normalise_database_url(url: str) -> str:
    """Map plain PostgreSQL URLs onto the psycopg 3 driver, which is the one installed."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
