"""`evac backup FILE`: a consistent online copy of the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from evac.extensions import db


def backup_sqlite(target: Path) -> int:
    """Copy the live SQLite database with SQLite's online backup API; returns the pages copied.

    The backup API copies a consistent snapshot while the server keeps reading and writing (WAL
    included), which a plain file copy of a database in use does not.
    """
    source_path = make_url(str(db.engine.url)).database
    if not source_path:
        raise ValueError("in-memory SQLite cannot be backed up")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(source_path)
    dest = sqlite3.connect(partial)
    try:
        with dest:
            source.backup(dest, pages=1024)
        pages = dest.execute("PRAGMA page_count").fetchone()[0]
        ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()
        source.close()
    if ok != "ok":
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"integrity check of the copy failed: {ok}")
    partial.replace(target)  # only a complete, checked copy takes the name
    return int(pages)


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(target: Path) -> None:
    """Write a consistent copy of the SQLite database to TARGET while evac keeps running.

    Restore: stop evac, copy TARGET over instance/evac.sqlite3 (remove the -wal and -shm files
    beside it), start evac. On PostgreSQL use pg_dump -Fc and pg_restore instead.
    """
    if db.engine.dialect.name != "sqlite":
        raise click.ClickException("PostgreSQL: pg_dump -Fc -f evac.dump \"$EVAC_DATABASE_URL\" でバックアップし、"
             "pg_restore --clean -d <URL> evac.dump で復元してください")
    pages = backup_sqlite(target)
    click.echo(f"backup: {target} ({pages} pages, integrity ok)")
