"""What the database itself enforces, whatever the Python above it does."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from evac.cards.models import Card
from evac.common.db import now_utc
from evac.common.vocab import CheckinMethod, StayStatus
from evac.shelters.models import Shelter, ShelterKind
from evac.stays.models import Stay
from tests import factories


def _stay(person_id: int, shelter_id: int, status: StayStatus = StayStatus.PRESENT, **extra) -> dict:
    return {"person_id": person_id, "shelter_id": shelter_id, "status": status, "method": CheckinMethod.QR,
            "incident_id": factories.incident().id, "checked_in_at": now_utc(), "updated_at": now_utc(), **extra}


def test_one_open_stay_per_person_is_enforced_by_the_database(db) -> None:
    a, b = factories.shelter(), factories.shelter()
    person = factories.person()
    db.session.execute(insert(Stay), [_stay(person.id, a.id)])
    db.session.commit()
    # Bypass every Python check: a raw INSERT of a second open stay must fail.
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Stay), [_stay(person.id, b.id)])
        db.session.commit()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Stay), [_stay(person.id, b.id, StayStatus.IN_CAR)])
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(text("SELECT count(*) FROM stay")) == 1


def test_closed_stays_do_not_count_against_the_open_one(db) -> None:
    shelter = factories.shelter()
    person = factories.person()
    closed = [_stay(person.id, shelter.id, StayStatus.LEFT, checked_out_at=now_utc()) for _ in range(3)]
    db.session.execute(insert(Stay), [*closed, _stay(person.id, shelter.id)])
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM stay WHERE checked_out_at IS NULL")) == 1


def test_a_stay_cannot_be_open_with_a_closing_status(db) -> None:
    shelter = factories.shelter()
    person = factories.person()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Stay), [_stay(person.id, shelter.id, StayStatus.LEFT)])
        db.session.commit()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Stay), [_stay(person.id, shelter.id, checked_out_at=now_utc())])
        db.session.commit()


def test_shelter_codes_are_unique(db) -> None:
    factories.shelter(code="E2636600001111")
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Shelter), [{"code": "E2636600001111", "name": "x", "kind": ShelterKind.EVACUATION,
                                             "hazards": [], "status": "closed", "source": "test",
                                             "created_at": now_utc(), "updated_at": now_utc()}])
        db.session.commit()


def test_card_serials_are_unique_and_one_card_is_active(db) -> None:
    p1, p2 = factories.person(), factories.person(given_name="一郎")
    db.session.execute(insert(Card), [{"person_id": p1.id, "serial": 1001, "issued_at": now_utc()}])
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Card), [{"person_id": p2.id, "serial": 1001, "issued_at": now_utc()}])
        db.session.commit()
    db.session.rollback()
    with pytest.raises(IntegrityError):  # a second active card for the same person
        db.session.execute(insert(Card), [{"person_id": p1.id, "serial": 1002, "issued_at": now_utc()}])
        db.session.commit()
    db.session.rollback()
    db.session.execute(text("UPDATE card SET revoked_at = :t"), {"t": now_utc().replace(tzinfo=None)})
    db.session.execute(insert(Card), [{"person_id": p1.id, "serial": 1002, "issued_at": now_utc()}])
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM card")) == 2


def test_foreign_keys_are_enforced(db) -> None:
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Stay), [_stay(424242, 434343)])
        db.session.commit()


def test_migrations_match_the_models(app, db) -> None:
    """`evac db upgrade` builds exactly what the models declare: no pending autogenerate diff."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_the_evac_command_has_db_upgrade(runner) -> None:
    """`evac db upgrade` (Flask-Migrate's group) survives the CLI's own group: the README's first step."""
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
