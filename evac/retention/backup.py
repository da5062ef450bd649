"""Consistent copies of the database while evac runs, and putting one back.

SQLite: the online backup API copies one consistent snapshot while desks keep writing (a plain
file copy of a database in use can be torn), and the copy's integrity is checked before it takes
its name. PostgreSQL: `pg_dump` in its custom format, and `pg_restore --clean` to put it back.
A restore replaces everything: stop `evac serve` (and `evac sync run`) first.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from evac.common.db import now_utc
from evac.extensions import db


class BackupFailed(RuntimeError):
    """The copy could not be made, or is not sound; nothing took its name."""


@dataclass(frozen=True)
class Backup:
    """What a backup wrote."""

    path: Path
    size: int
    kind: str  # "sqlite" or "pg_dump"


def _pg_url(url: URL) -> str:
    """A libpq URL for the PostgreSQL tools (SQLAlchemy's names its driver, libpq does not)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def backup(target: Path) -> Backup:
    """Write a consistent copy of the live database to `target` (atomically: a `.partial` until checked)."""
    url = make_url(str(db.engine.url))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # backups hold everyone's personal data
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    if url.get_backend_name() == "postgresql":
        done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(partial), _pg_url(url)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupFailed(f"pg_dump failed: {done.stderr.strip()[:300]}")
        kind = "pg_dump"
    else:
        source = sqlite3.connect(_sqlite_path(url))
        dest = sqlite3.connect(partial)
        try:
            with dest:
                source.backup(dest, pages=1024)
            ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
            source.close()
        if ok != "ok":
            partial.unlink(missing_ok=True)
            raise BackupFailed(f"integrity check of the copy failed: {ok}")
        kind = "sqlite"
    os.chmod(partial, 0o600)  # it holds everyone's personal data
    partial.replace(target)
    return Backup(target, target.stat().st_size, kind)


def restore(source: Path) -> None:
    """Replace the database with a backup made by `backup` (stop the server first)."""
    if not source.is_file():
        raise BackupFailed(f"no such backup: {source}")
    url = make_url(str(db.engine.url))
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold the old database open
    if url.get_backend_name() == "postgresql":
        done = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               "--dbname", _pg_url(url), str(source)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupFailed(f"pg_restore failed: {done.stderr.strip()[:300]}")
        return
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        ok = check.execute("PRAGMA integrity_check").fetchone()[0]
        known = check.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
    finally:
        check.close()
    if ok != "ok" or known is None:
        raise BackupFailed(f"{source} is not a sound evac database")
    live = _sqlite_path(url)
    staged = live.with_name(live.name + ".restoring")
    shutil.copyfile(source, staged)
    os.chmod(staged, 0o600)
    for suffix in ("-wal", "-shm"):
        Path(str(live) + suffix).unlink(missing_ok=True)
    staged.replace(live)


def prune(directory: Path, *, older_than: timedelta) -> list[Path]:
    """Delete backups in `directory` older than `older_than` (the end of the restore window)."""
    if not directory.is_dir():
        return []
    cutoff = (now_utc() - older_than).timestamp()
    gone = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink()
            gone.append(path)
    return gone
