"""`evac serve`: the production WSGI server (gunicorn), not Flask's development server."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve evac with gunicorn."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _metrics_directory(app)
    click.echo(f"evac: http://{host}:{port}/  (workers={workers}, threads={threads})")
    _Gunicorn(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        # The path without its query string: searches carry names and birth dates (?q=, ?birth_date=).
        "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s',
        "limit_request_line": _request_line_limit(app.config["EVAC_MAX_URL_LENGTH"]),
        "timeout": 60,
        "graceful_timeout": 20,
        "post_fork": lambda _server, _worker: _post_fork(app),
        "worker_exit": lambda _server, _worker: _worker_exit(app),
    }).run()


_STOPS: list[Callable[[], None]] = []

# gunicorn takes at most this for its request-line limit (0 means none at all).
_GUNICORN_LINE_MAX = 8190


def _request_line_limit(max_url: int) -> int:
    """gunicorn's request-line limit, as far above the app's URL limit as gunicorn allows, so a
    long URL reaches the app and is answered 414 in JSON rather than by gunicorn's HTML page
    (only a line over gunicorn's own maximum of 8190 bytes still gets that page)."""
    if max_url + len("OPTIONS  HTTP/1.1") > _GUNICORN_LINE_MAX:
        return 0  # the app's limit is above what gunicorn can check: the app checks alone
    return _GUNICORN_LINE_MAX


def _metrics_directory(app: Flask) -> None:
    """Counters of every worker add up in /metrics: prometheus-client's multiprocess mode, in a
    folder emptied at each start (it must be named before any worker counts anything)."""
    import shutil
    from pathlib import Path

    folder = Path(app.instance_path) / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _post_fork(app: Flask) -> None:
    """Each worker opens its own database connections (none may be shared across a fork), starts
    its audit flusher (which also stores what a crashed worker left in its journal) and whatever
    background work a plugin registers under `evac.workers` (the embedded sync sender)."""
    from importlib.metadata import entry_points

    from evac.audit.journal import journal_for
    from evac.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)
    journal_for(app).start()
    for plugin in entry_points(group="evac.workers"):
        try:
            stop = plugin.load()(app)
        except Exception as exc:  # noqa: BLE001 - a plugin that cannot start must not stop the server
            log.error("worker plugin did not start", extra={"plugin": plugin.name, "error": type(exc).__name__})
            continue
        if stop is not None:
            _STOPS.append(stop)


def _worker_exit(app: Flask) -> None:
    """A worker that stops cleanly lets its plugins finish, and stores its journal before it goes."""
    from evac.audit.journal import existing_journal

    while _STOPS:
        _STOPS.pop()()

    journal = existing_journal(app)
    if journal is not None:
        journal.close()


@click.command()
@click.option("--url", default="", help="Also GET this /healthz URL (the web role).")
@click.option("--max-sync-lag", type=float, default=None,
              help="Exit 1 if the configured connector's oldest undelivered event is older (seconds).")
def health(url: str, max_sync_lag: float | None) -> None:
    """Exit 0 if the database answers (and, with --url, the web server); say how far behind the
    sync is. For container healthchecks and the operator at the console."""
    import urllib.request

    from evac.outbox import state
    from evac.web.service import database_answers

    database_answers()
    if url:
        with urllib.request.urlopen(url, timeout=4) as response:
            if response.status != 200:
                raise click.ClickException(f"{url} answered {response.status}")
    configured = current_app.config["EVAC_SYNC_CONNECTOR"]
    lines = ["database ok"]
    lagging = []
    for connector in state.sync_status(configured)["connectors"]:
        lines.append(f"sync {connector['name']}: backlog {connector['backlog']}, parked {connector['parked_events']}, "
                     f"lag {connector['lag_seconds']:.0f} s")
        if max_sync_lag is not None and connector["configured"] and connector["lag_seconds"] > max_sync_lag:
            lagging.append(connector["name"])
    click.echo("; ".join(lines))
    if lagging:
        raise click.ClickException(f"sync behind by more than {max_sync_lag:g} s: {', '.join(lagging)}")
