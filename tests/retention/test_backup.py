"""`evac backup` and `evac restore`: an online copy, put back, and the desk works on it — both databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.extensions import db as _db
from evac.retention import backup as backups
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin


def _stays(db: Any) -> int:
    _db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(Stay)) or 0)


def test_backup_while_running_then_restore_and_check_in(app: Flask, client: FlaskClient, db: Any,
                                                         runner: FlaskCliRunner, tmp_path: Path) -> None:
    shelter_id = factories.shelter().id
    headers = factories.bearer(factories.account(Role.HQ))
    people = [factories.person(given_name=f"{i}").id for i in range(5)]
    for person in people[:3]:
        assert post_checkin(client, headers, shelter_id=shelter_id, person_id=person).status_code == 201
    target = tmp_path / "backup" / "evac.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert oct(target.stat().st_mode & 0o777) == "0o600" and not list(target.parent.glob("*.partial"))
    # A change after the backup is not in it.
    assert post_checkin(client, headers, shelter_id=shelter_id, person_id=people[3]).status_code == 201
    assert _stays(db) == 4

    refused = runner.invoke(args=["restore", str(target)], input="n\n")
    assert refused.exit_code == 1 and _stays(db) == 4
    _db.session.remove()
    restored = runner.invoke(args=["restore", str(target), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert _stays(db) == 3
    # The desk carries on from the backup: a new check-in, with its counters.
    answer = post_checkin(client, headers, shelter_id=shelter_id, person_id=people[4])
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["shelter"]["occupancy"] == 4 and _stays(db) == 4
    check = runner.invoke(args=["hq", "rebuild-tallies", "--check"])
    assert check.exit_code == 0, check.output


def test_a_file_that_is_no_evac_database_is_refused(app: Flask, db: Any, runner: FlaskCliRunner,
                                                    tmp_path: Path) -> None:
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite restore checks the file itself; pg_restore refuses its own way")
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    result = runner.invoke(args=["restore", str(other), "--yes"])
    assert result.exit_code == 1 and "not a sound evac database" in result.output


def test_backup_copy_passes_the_integrity_check(app: Flask, tmp_path: Path) -> None:
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's copy is checked with PRAGMA integrity_check")
    factories.shelter(name="複製テスト")
    taken = backups.backup(tmp_path / "copy.sqlite3")
    copy = sqlite3.connect(taken.path)
    try:
        assert taken.kind == "sqlite" and copy.execute("SELECT name FROM shelter").fetchall() == [("複製テスト",)]
    finally:
        copy.close()
