"""The instance folder, the SQLite database (and its WAL files) and the key files are the
owner's only, whatever the umask: they hold names, addresses and the keys of every card."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from evac import settings
from evac.common.db import create_private_file

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _evac(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVAC_")}
    env.update({"EVAC_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); from evac.cli import main; "
                           "sys.argv = ['evac', *sys.argv[1:]]; main()", *args],
                          env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=120)


def test_a_fresh_instance_is_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    done = _evac(instance, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert _mode(instance) == 0o700
    for name in ("evac.sqlite3", "secret_key", "card_key"):
        assert _mode(instance / name) == 0o600, name
    for extra in instance.glob("evac.sqlite3-*"):  # -wal, -shm while a connection is open
        assert _mode(extra) & 0o077 == 0, extra.name


def test_an_open_instance_folder_is_closed(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    settings.ensure_instance_secrets(instance)
    assert _mode(instance) == 0o700
    assert _mode(instance / "secret_key") == 0o600 and _mode(instance / "card_key") == 0o600


def test_the_database_file_is_made_private_before_sqlite_opens_it(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "sub" / "evac.sqlite3"
        create_private_file(str(target))
    finally:
        os.umask(old)
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    import sqlite3

    with sqlite3.connect(target) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
        for extra in tmp_path.glob("sub/evac.sqlite3-*"):
            assert _mode(extra) & 0o077 == 0, extra.name
    connection.close()
