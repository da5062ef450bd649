"""`evac backup`: an online copy that restores to the same data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.extensions import db as _db
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin


def test_backup_while_running_then_restore(app: Flask, client, db, runner, tmp_path: Path) -> None:
    if db.engine.dialect.name != "sqlite":
        result = runner.invoke(args=["backup", str(tmp_path / "x.sqlite3")])
        assert result.exit_code == 1 and "pg_dump" in result.output
        return
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    people = [factories.person(given_name=f"{i}") for i in range(5)]
    for person in people[:3]:
        post_checkin(client, headers, shelter_id=shelter.id, person_id=person.id)
    target = tmp_path / "backup" / "evac.sqlite3"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    # Changes after the backup are not in it.
    post_checkin(client, headers, shelter_id=shelter.id, person_id=people[3].id)

    live = Path(db.engine.url.database)
    _db.session.remove()
    db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(live) + suffix).unlink(missing_ok=True)
    shutil.copyfile(target, live)
    assert db.session.scalar(select(func.count()).select_from(Stay)) == 3
    assert not list(target.parent.glob("*.partial"))


def test_backup_copy_passes_the_integrity_check(app: Flask, tmp_path: Path) -> None:
    import sqlite3

    from evac.web.backup import backup_sqlite

    if _db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    factories.shelter(name="複製テスト")
    pages = backup_sqlite(tmp_path / "copy.sqlite3")
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    try:
        assert pages > 0 and copy.execute("SELECT name FROM shelter").fetchall() == [("複製テスト",)]
    finally:
        copy.close()
