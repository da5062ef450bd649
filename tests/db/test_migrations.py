"""The migrations of this release run over a database full of yesterday's data, on SQLite and PostgreSQL.

Yesterday's schema (revision c89005f6e973) is filled with a town's worth of references — persons
in households, stays, counters, cards, outbox events, audit rows — then upgraded to head: nothing
is lost, every reference still holds, the data becomes one incident, and ids are never reused.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from evac import create_app
from evac.extensions import db as _db

BEFORE = "c89005f6e973"
NOW = "2026-11-30 01:02:03"


@contextlib.contextmanager
def _empty_database(tmp_path: Path) -> Iterator[str]:
    pg = os.environ.get("EVAC_TEST_DATABASE_URL", "")
    if not pg:
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    from tests.conftest import _normalise, _private_postgres_database

    with _private_postgres_database(_normalise(pg)) as url:
        yield url


def _fill_yesterdays_town(conn: Any) -> None:
    run = lambda sql, **kw: conn.execute(sa.text(sql), kw)  # noqa: E731 - a short local alias
    run("INSERT INTO shelter (id, code, name, kind, hazards, status, source, capacity, created_at, updated_at) "
        "VALUES (1, 'S1', '東光小学校', 'evacuation', '[]', 'open', 'gsi', 300, :t, :t), "
        "(2, 'S2', '精華中学校', 'evacuation', '[]', 'closed', 'gsi', 200, :t, :t)", t=NOW)
    run("INSERT INTO household (id, number, district, created_at) VALUES (1, 'H1', '祝園', :t), (2, 'H2', '光台', :t)",
        t=NOW)
    for pid, hid in ((1, 1), (2, 1), (3, 2)):
        run("INSERT INTO person (id, household_id, family_name, given_name, family_name_kana, given_name_kana, "
            "name_key, kana_key, sex, needs, pets, consent_relatives, consent_acquaintances, consent_public, source, "
            "created_at, updated_at) VALUES (:p, :h, '山田', :g, 'ヤマダ', 'タロウ', :n, 'ヤマダタロウ', 'male', 1, 0, "
            "false, false, false, 'register', :t, :t)", p=pid, h=hid, g=f"{pid}", n=f"山田{pid}", t=NOW)
    run("INSERT INTO staff_account (id, username, display_name, password_hash, role, active, created_at) "
        "VALUES (1, 'hq', 'hq', 'x', 'hq', true, :t)", t=NOW)
    run("INSERT INTO card (id, person_id, serial, issued_at) VALUES (1, 1, 777, :t)", t=NOW)
    run("INSERT INTO stay (id, person_id, shelter_id, household_id, status, method, checked_in_at, checked_out_at, "
        "staff_id, updated_at) VALUES (1, 1, 1, 1, 'present', 'qr', :t, NULL, 1, :t), "
        "(2, 3, 1, 2, 'left', 'manual', :t, :t, 1, :t)", t=NOW)
    run("INSERT INTO hq_stay_tally (stay_id, needs, pets) VALUES (1, 1, 0)")
    run("INSERT INTO hq_shelter_tally (shelter_id, occupancy, households, at_home, in_car, pets, need_elderly, "
        "need_disability, need_infant, need_pregnant, need_language, need_allergy, need_medical, need_care, "
        "need_injury, updated_at) VALUES (1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, :t)", t=NOW)
    run("INSERT INTO hq_household_tally (shelter_id, household_key, members) VALUES (1, 1, 1)")
    run("INSERT INTO hq_occupancy_hour (shelter_id, hour, opening, closing) VALUES (1, :t, 0, 1)", t=NOW)
    for seq in (1, 2, 3):
        run("INSERT INTO outbox_event (seq, event_id, type, occurred_at, person_id, shelter_id, payload) "
            "VALUES (:s, :e, 'checkin', :t, 1, 1, '{}')", s=seq, e=f"00000000-0000-0000-0000-00000000000{seq}", t=NOW)
    run("INSERT INTO audit_event (id, occurred_at, account_id, action, outcome, detail) "
        "VALUES (1, :t, 1, 'person.read', 'ok', '{}')", t=NOW)
    if conn.dialect.name == "postgresql":
        for table, column in (("person", "id"), ("household", "id"), ("stay", "id"), ("outbox_event", "seq")):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                 f"(SELECT max({column}) FROM {table}))"))


def test_todays_migrations_keep_yesterdays_data(tmp_path: Path) -> None:
    with _empty_database(tmp_path) as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "CARD_KEY": "y",
                          "EVAC_SECRETS_PERSISTENT": True, "EVAC_AUDIT_JOURNAL_DIR": str(tmp_path / "j")})
        with app.app_context():
            upgrade(revision=BEFORE)
            with _db.engine.begin() as conn:
                _fill_yesterdays_town(conn)
            upgrade()  # to head, over the data
            with _db.engine.begin() as conn:
                one = lambda sql: conn.execute(sa.text(sql)).scalar()  # noqa: E731
                assert one("SELECT count(*) FROM person") == 3 and one("SELECT count(*) FROM stay") == 2
                assert one("SELECT count(*) FROM outbox_event") == 3 and one("SELECT count(*) FROM card") == 1
                # The open stay carries what its needs snapshot said; the snapshot table is gone.
                assert conn.execute(sa.text("SELECT counted_needs, counted_pets FROM stay ORDER BY id")).all() == [
                    (1, 0), (0, 0)]
                assert "hq_stay_tally" not in sa.inspect(conn).get_table_names()
                incident = conn.execute(sa.text("SELECT id, name, kind, is_open FROM incident")).one()
                assert incident.name == "移行前の記録" and incident.kind == "disaster" and incident.is_open
                for table in ("stay", "outbox_event", "hq_occupancy_hour", "audit_event"):
                    assert one(f"SELECT count(*) FROM {table} WHERE incident_id = {incident.id}") == one(
                        f"SELECT count(*) FROM {table}"), table
                if conn.dialect.name == "sqlite":
                    assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                # Ids are never handed out again, even after the newest rows are deleted.
                conn.execute(sa.text("DELETE FROM outbox_event WHERE seq = 3"))
                conn.execute(sa.text(
                    "INSERT INTO outbox_event (event_id, type, occurred_at, incident_id, drill, payload) "
                    "VALUES ('00000000-0000-0000-0000-000000000009', 'checkin', :t, :i, false, '{}')"),
                    {"t": NOW, "i": incident.id})
                assert one("SELECT max(seq) FROM outbox_event") == 4
            _db.engine.dispose()
