"""Migration 5e1d7c2a9b40 on a database imported by the earlier evac: twins merged, nothing lost.

A database of its own per test (SQLite file, or a private PostgreSQL database beside the test
one), migrated to the revision before, filled the way evac filled it then, and upgraded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from evac import create_app
from evac.common.db import UTCDateTime, allow_outside_units
from evac.extensions import db
from tests.conftest import PG_URL, _config, _normalise, _private_postgres_database

BEFORE = "c89005f6e973"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
HOUR = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NEEDS = ("need_elderly", "need_disability", "need_infant", "need_pregnant", "need_language", "need_allergy",
         "need_medical", "need_care", "need_injury")

T = UTCDateTime()
shelter = sa.table("shelter", *(sa.column(c) for c in (
    "id", "code", "name", "address", "lat", "lon", "municipality_code", "municipality_name", "kind",
    "capacity", "status", "note", "source", "name_kana")), sa.column("opened_at", T), sa.column("created_at", T),
    sa.column("updated_at", T), sa.column("hazards", sa.JSON))
household = sa.table("household", sa.column("id"), sa.column("number"), sa.column("created_at", T))
person = sa.table("person", *(sa.column(c) for c in (
    "id", "household_id", "family_name", "given_name", "family_name_kana", "given_name_kana", "name_key",
    "kana_key", "sex", "needs", "pets", "consent_relatives", "consent_acquaintances", "consent_public", "source")),
    sa.column("created_at", T), sa.column("updated_at", T))
stay = sa.table("stay", *(sa.column(c) for c in (
    "id", "person_id", "shelter_id", "household_id", "status", "method", "transferred_to_id")),
    sa.column("checked_in_at", T), sa.column("checked_out_at", T), sa.column("updated_at", T))
account = sa.table("staff_account", *(sa.column(c) for c in (
    "id", "username", "display_name", "password_hash", "role", "active")), sa.column("created_at", T))
staff_shelter = sa.table("staff_shelter", sa.column("account_id"), sa.column("shelter_id"))
shelter_tally = sa.table("hq_shelter_tally", *(sa.column(c) for c in (
    "shelter_id", "occupancy", "households", "at_home", "in_car", "pets", *NEEDS)), sa.column("updated_at", T))
household_tally = sa.table("hq_household_tally", sa.column("shelter_id"), sa.column("household_key"),
                           sa.column("members"))
stay_tally = sa.table("hq_stay_tally", sa.column("stay_id"), sa.column("needs"), sa.column("pets"))
occupancy_hour = sa.table("hq_occupancy_hour", sa.column("shelter_id"), sa.column("hour", T),
                          sa.column("opening"), sa.column("closing"))
audit = sa.table("audit_event", sa.column("occurred_at", T), sa.column("action"), sa.column("outcome"),
                 sa.column("shelter_id"), sa.column("detail", sa.JSON), sa.column("subject_id"))


@contextlib.contextmanager
def database(tmp_path: Path) -> Iterator[Flask]:
    """An app over a database of this test's own, at the revision before the merge."""
    with contextlib.ExitStack() as stack:
        url = (stack.enter_context(_private_postgres_database(_normalise(PG_URL))) if PG_URL
               else f"sqlite:///{tmp_path / 'before.sqlite3'}")
        app = create_app(_config(url, tmp_path))
        with app.app_context(), allow_outside_units():
            upgrade(revision=BEFORE)
            yield app
            db.session.remove()
            db.engine.dispose()


def seed(conn: Any) -> None:
    """Seika's 精北小学校 twice, as the earlier importer stored GSI's two lists, with people in both."""
    common = {"address": "京都府精華町大字下狛小字河原田44", "municipality_code": "263664",
              "municipality_name": "京都府精華町", "capacity": None, "note": None, "name_kana": None,
              "created_at": NOW, "updated_at": NOW}
    conn.execute(shelter.insert(), [
        {**common, "id": 1, "code": "E2636600006111", "name": "精華町立精北小学校", "lat": 34.777903,
         "lon": 135.79286, "kind": "evacuation", "hazards": [], "status": "closed", "source": "gsi",
         "opened_at": None},
        {**common, "id": 2, "code": "E2636600006201", "name": "精華町立精北小学校", "lat": 34.777903,
         "lon": 135.79286, "kind": "emergency", "hazards": ["landslide", "earthquake"], "status": "open",
         "source": "gsi", "opened_at": NOW - timedelta(hours=2), "capacity": 900},
        {**common, "id": 3, "code": "E2636600006112", "name": "精華町立精北小学校体育館", "lat": 34.778532,
         "lon": 135.793105, "kind": "evacuation", "hazards": [], "status": "closed", "source": "gsi",
         "opened_at": None},
        # Same name and address but 3 km off: not merged.
        {**common, "id": 4, "code": "E2636600008111", "name": "ほうその運動公園", "address": "京都府精華町祝園古川23-1",
         "lat": 34.760743, "lon": 135.801586, "kind": "evacuation", "hazards": [], "status": "closed",
         "source": "gsi", "opened_at": None},
        {**common, "id": 5, "code": "E2636600008201", "name": "ほうその運動公園", "address": "京都府精華町祝園古川23-1",
         "lat": 34.787, "lon": 135.801586, "kind": "emergency", "hazards": ["earthquake"], "status": "closed",
         "source": "gsi", "opened_at": None},
    ])
    conn.execute(household.insert(), [{"id": 1, "number": "H1", "created_at": NOW}])
    people = {"sex": "female", "pets": 0, "consent_relatives": True, "consent_acquaintances": False,
              "consent_public": False, "source": "register", "created_at": NOW, "updated_at": NOW,
              "family_name": "精華", "family_name_kana": "セイカ", "name_key": "x", "kana_key": "x"}
    conn.execute(person.insert(), [
        {**people, "id": 1, "household_id": 1, "given_name": "一", "given_name_kana": "イチ", "needs": 1},
        {**people, "id": 2, "household_id": 1, "given_name": "二", "given_name_kana": "ニ", "needs": 4},
        {**people, "id": 3, "household_id": None, "given_name": "三", "given_name_kana": "サン", "needs": 1},
        {**people, "id": 4, "household_id": None, "given_name": "四", "given_name_kana": "シ", "needs": 0},
    ])
    stays = {"method": "qr", "updated_at": NOW, "transferred_to_id": None, "checked_out_at": None}
    conn.execute(stay.insert(), [
        {**stays, "id": 1, "person_id": 1, "shelter_id": 2, "household_id": 1, "status": "present",
         "checked_in_at": HOUR},
        {**stays, "id": 2, "person_id": 2, "shelter_id": 2, "household_id": 1, "status": "outing",
         "checked_in_at": HOUR + timedelta(hours=2)},
        {**stays, "id": 3, "person_id": 3, "shelter_id": 1, "household_id": None, "status": "present",
         "checked_in_at": HOUR + timedelta(hours=1)},
        # Person 4 was moved from shelter 3 to the emergency twin, then left it.
        {**stays, "id": 4, "person_id": 4, "shelter_id": 3, "household_id": None, "status": "transferred",
         "checked_in_at": HOUR, "checked_out_at": HOUR, "transferred_to_id": 2},
    ])
    conn.execute(account.insert(), [
        {"id": 1, "username": "staff1", "display_name": "s1", "password_hash": "x", "role": "staff",
         "active": True, "created_at": NOW},
        {"id": 2, "username": "staff2", "display_name": "s2", "password_hash": "x", "role": "staff",
         "active": True, "created_at": NOW}])
    conn.execute(staff_shelter.insert(), [{"account_id": 1, "shelter_id": 2}, {"account_id": 2, "shelter_id": 1},
                                          {"account_id": 2, "shelter_id": 2}])
    zero = dict.fromkeys(NEEDS, 0)
    conn.execute(shelter_tally.insert(), [
        {**zero, "shelter_id": 2, "occupancy": 2, "households": 1, "at_home": 0, "in_car": 0, "pets": 0,
         "need_elderly": 1, "need_infant": 1, "updated_at": NOW},
        {**zero, "shelter_id": 1, "occupancy": 1, "households": 1, "at_home": 0, "in_car": 0, "pets": 0,
         "need_elderly": 1, "updated_at": NOW - timedelta(hours=1)}])
    conn.execute(household_tally.insert(), [{"shelter_id": 2, "household_key": 1, "members": 2},
                                            {"shelter_id": 1, "household_key": -3, "members": 1}])
    conn.execute(stay_tally.insert(), [{"stay_id": 1, "needs": 1, "pets": 0}, {"stay_id": 2, "needs": 4, "pets": 0},
                                       {"stay_id": 3, "needs": 1, "pets": 0}])
    # The emergency twin filled at 09:00 (0→1) and 11:00 (1→2), the school at 10:00 (0→1).
    conn.execute(occupancy_hour.insert(), [
        {"shelter_id": 2, "hour": HOUR, "opening": 0, "closing": 1},
        {"shelter_id": 2, "hour": HOUR + timedelta(hours=2), "opening": 1, "closing": 2},
        {"shelter_id": 1, "hour": HOUR + timedelta(hours=1), "opening": 0, "closing": 1}])
    conn.execute(audit.insert(), [{"occurred_at": NOW, "action": "shelter.update", "outcome": "ok",
                                   "shelter_id": 2, "detail": {}, "subject_id": "2"}])
    if conn.dialect.name == "postgresql":  # explicit ids do not move PostgreSQL's sequences
        for table in ("shelter", "household", "person", "stay", "staff_account"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT MAX(id) FROM {table}))"))


def as_list(value: Any) -> list[str]:
    """A JSON column read with plain SQL: text on SQLite, already a list on PostgreSQL."""
    return value if isinstance(value, list) else json.loads(value)


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sa.text(sql))]


@pytest.fixture
def merged(tmp_path: Path) -> Iterator[Any]:
    with database(tmp_path):
        with db.engine.begin() as conn:
            seed(conn)
        upgrade()
        with db.engine.connect() as conn:
            yield conn


def test_the_twins_are_one_shelter_with_both_designations(merged: Any) -> None:
    assert rows(merged, "SELECT id, code FROM shelter ORDER BY id") == [
        (1, "E2636600006111"), (3, "E2636600006112"), (4, "E2636600008111"), (5, "E2636600008201")]
    kept = merged.execute(sa.text("SELECT * FROM shelter WHERE id = 1")).mappings().one()
    assert as_list(kept["designations"]) == ["evacuation", "emergency"]
    assert as_list(kept["hazards"]) == ["landslide", "earthquake"]
    # The emergency twin was open: the merged shelter is open, since then, with its capacity.
    assert (kept["status"], kept["capacity"]) == ("open", 900)
    assert kept["opened_at"] is not None
    assert rows(merged, "SELECT source, dataset, local_id FROM shelter_listing WHERE shelter_id = 1 ORDER BY id") == [
        ("gsi", "evacuation", "E2636600006111"), ("gsi", "emergency", "E2636600006201")]


def test_no_stay_is_lost_and_staff_keep_their_shelters(merged: Any) -> None:
    assert rows(merged, "SELECT id, shelter_id, transferred_to_id FROM stay ORDER BY id") == [
        (1, 1, None), (2, 1, None), (3, 1, None), (4, 3, 1)]
    assert rows(merged, "SELECT account_id, shelter_id FROM staff_shelter ORDER BY account_id, shelter_id") == [
        (1, 1), (2, 1)]
    assert rows(merged, "SELECT action, shelter_id FROM audit_event ORDER BY id") == [
        ("shelter.update", 1), ("shelter.merged", 1)]


def test_the_counters_stay_exact(merged: Any) -> None:
    (tally,) = merged.execute(sa.text("SELECT * FROM hq_shelter_tally")).mappings().all()
    assert (tally["shelter_id"], tally["occupancy"], tally["households"]) == (1, 3, 2)
    assert (tally["need_elderly"], tally["need_infant"]) == (2, 1)
    # The same counts as the stays give.
    assert rows(merged, "SELECT COUNT(*) FROM stay WHERE shelter_id = 1 AND checked_out_at IS NULL "
                        "AND status IN ('present', 'outing')") == [(3,)]
    assert rows(merged, "SELECT household_key, members FROM hq_household_tally ORDER BY household_key") == [
        (-3, 1), (1, 2)]
    hours = rows(merged, "SELECT opening, closing FROM hq_occupancy_hour WHERE shelter_id = 1 ORDER BY hour")
    assert hours == [(0, 1), (1, 2), (2, 3)]
    assert rows(merged, "SELECT COUNT(*) FROM hq_occupancy_hour WHERE shelter_id <> 1") == [(0,)]


def test_twins_too_far_apart_are_left_alone(merged: Any) -> None:
    assert rows(merged, "SELECT shelter_id, dataset FROM shelter_listing WHERE shelter_id IN (4, 5) ORDER BY id") == [
        (4, "evacuation"), (5, "emergency")]


def test_an_import_after_the_migration_finds_its_rows(tmp_path: Path, gsi_dir: Path) -> None:
    from evac.shelters.importers import import_shelters_file

    with database(tmp_path):
        with db.engine.begin() as conn:
            seed(conn)
        upgrade()
        evacuation = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
        emergency = import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

        assert (evacuation.added, evacuation.merged) == (16, 0)  # 精北 and its gym and the park were there
        assert emergency.added + emergency.merged + emergency.updated + emergency.unchanged == 4
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM shelter WHERE code LIKE 'E2636600006%'")) == 2
