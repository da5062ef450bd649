"""`evac serve` (gunicorn, several workers) over the test's own database, for tests over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `evac serve` process group."""

    proc: subprocess.Popen[str]
    url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> str:
        """Stop the server (SIGTERM: gracefully; SIGKILL: the whole group at once) and return its log."""
        if self.proc.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def serve_env(app: Flask, instance: Path, **extra: str) -> dict[str, str]:
    """The environment for `evac serve` over the same database and keys as the test `app`."""
    config = app.config
    env = {
        **os.environ,
        "EVAC_INSTANCE_PATH": str(instance),
        "EVAC_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "EVAC_SECRET_KEY": config["SECRET_KEY"],
        "EVAC_CARD_KEY": config["CARD_KEY"],
        "EVAC_AUDIT_JOURNAL_DIR": config["EVAC_AUDIT_JOURNAL_DIR"],
        "EVAC_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def free_port_in(first: int, last: int) -> int:
    """A TCP port in [first, last] nothing listens on right now (for tests given a range of their own)."""
    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}–{last}")


def start_server(app: Flask, instance: Path, *, workers: int = 2, threads: int = 4, port: int | None = None,
                 **extra: str) -> Server:
    """Start `evac serve` in its own process group and wait until /healthz answers."""
    instance.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = instance / f"serve-{port}.log"
    env = serve_env(app, instance, **extra)
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evac", "serve", "--port", str(port), "--workers", str(workers),
         "--threads", str(threads)],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True, cwd=str(ROOT))
    log.close()
    server = Server(proc, f"http://127.0.0.1:{port}", log_path, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("evac serve exited:\n" + log_path.read_text(encoding="utf-8"))
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise RuntimeError("evac serve did not answer /healthz:\n" + log_path.read_text(encoding="utf-8"))


def csrf_from(page: str) -> str:
    """The CSRF token of a page (form field or meta tag)."""
    import re

    match = (re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
             or re.search(r'name="csrf_token" value="([^"]+)"', page)
             or re.search(r'<meta name="csrf-token" content="([^"]+)"', page))
    if not match:
        raise AssertionError("no CSRF token on the page")
    return match.group(1)


def login(http: Any, username: str, password: str) -> Any:
    """Log an httpx client in through the real login form; returns the POST's response."""
    token = csrf_from(http.get("/login").text)
    return http.post("/login", data={"username": username, "password": password, "csrf_token": token})
