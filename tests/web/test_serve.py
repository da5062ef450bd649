"""`evac serve` runs a production WSGI server (gunicorn) that answers over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flask import Flask


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_evac_serve_answers_healthz(app: Flask, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "EVAC_INSTANCE_PATH": str(tmp_path / "instance"),
           "EVAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evac", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?q=yamada", timeout=2) as response:
                    body = json.loads(response.read())
                    server = response.headers["Server"]
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "ok", "database": "ok"}
        assert "gunicorn" in server.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    # The access log names the path, never the query string (searches carry names).
    assert "GET /healthz HTTP" in output and "yamada" not in output


def test_the_documented_commands_exist(tmp_path: Path) -> None:
    """`evac db upgrade` builds a database, and every command the README names answers --help."""
    env = {**os.environ, "EVAC_INSTANCE_PATH": str(tmp_path / "instance"),
           "EVAC_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    done = subprocess.run([sys.executable, "-m", "evac", "db", "upgrade"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "fresh.sqlite3").stat().st_size > 0
    for command in (["demo"], ["serve"], ["users", "create"], ["users", "token"], ["cards", "token"],
                    ["cards", "print"], ["import-shelters"], ["import-residents"], ["incident", "open"],
                    ["incident", "close"], ["incident", "list"], ["purge"], ["backup"], ["restore"],
                    ["audit", "flush"], ["sync", "run"], ["sync", "once"], ["sync", "receiver"], ["health"],
                    ["hq", "rebuild-tallies"], ["print", "roster"]):
        shown = subprocess.run([sys.executable, "-m", "evac", *command, "--help"], env=env, capture_output=True,
                               text=True, timeout=60, check=False)
        assert shown.returncode == 0, (command, shown.stderr[-500:])
