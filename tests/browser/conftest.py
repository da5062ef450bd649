"""A live server, pages and screenshots for the browser tests.

The `browser` fixture itself (Debian's headless Chromium through Playwright) is in the root
conftest: one Playwright per test run, shared with the card-reader end-to-end tests, since a
second sync Playwright cannot start inside the first one's event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _closing(app: Flask) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """`app`, with every answer read to its end and closed before werkzeug's server sends it.

    Werkzeug's development server drains the socket before it closes the answer; when the browser
    has already reset the connection (a page closed while its favicon loads), that read raises and
    the answer is never closed: a static file's handle is left to the garbage collector, whose
    ResourceWarning then fails whichever test runs at that moment. gunicorn, which serves evac,
    closes every answer; here the answer is closed before anything can go wrong.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return wsgi


class LiveServer:
    """The test app over real HTTP on a loopback port; it can be stopped and started again on
    the same port, which is what "the server cannot be reached" looks like to a tablet."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, _closing(self.app), threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None


@pytest.fixture
def server(app: Flask) -> Iterator[LiveServer]:
    """The live server, controllable."""
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def live_server(server: LiveServer) -> str:
    """The live server's base URL."""
    return server.url


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (tablet-sized) and page."""
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
