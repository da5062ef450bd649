"""The per-shelter counters equal a recomputation from the stays: after every kind of change,
under concurrent desks, after a drift is repaired, and right after the migration that adds them."""

from __future__ import annotations

import importlib.util
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, func, select, text, update

from evac.accounts.models import Role
from evac.common.db import WRITE, unit
from evac.common.vocab import Need, StayStatus
from evac.extensions import db as _db
from evac.hq import tallies
from evac.people.models import Household, Person
from evac.stays import service as stays
from evac.stays.models import HouseholdTally, OccupancyHour, ShelterTally, Stay
from tests import factories
from tests.hq.helpers import ELDERLY, INFANT, check_in, check_out, family

MIGRATIONS = Path(__file__).resolve().parents[2] / "evac" / "migrations" / "versions"


def _assert_exact() -> None:
    _db.session.rollback()
    assert tallies.stored() == tallies.recompute()
    _db.session.rollback()


def test_counts_follow_every_change(client: FlaskClient, db) -> None:
    a, b = factories.shelter(capacity=30), factories.shelter(capacity=30)
    headers = factories.bearer(factories.account(Role.HQ))
    home = family(3, needs=[ELDERLY, INFANT, 0], pets=1)
    check_in(client, headers, a.id, home)
    _assert_exact()
    check_out(client, headers, home[:1], reason="outing")
    check_out(client, headers, home[1:2], reason="in_car")
    _assert_exact()
    check_in(client, headers, a.id, home)  # back in: the outing and the car end
    check_out(client, headers, home[:2], reason="transfer", to_shelter_id=b.id)
    _assert_exact()
    counts = tallies.stored()
    assert counts[a.id]["occupancy"] == 1 and counts[a.id]["households"] == 1 and counts[a.id]["pets"] == 0
    assert counts[b.id]["occupancy"] == 2 and counts[b.id]["need_elderly"] == 1 and counts[b.id]["pets"] == 1
    check_out(client, headers, home[2:])
    check_out(client, headers, home[:2])
    _assert_exact()
    assert tallies.stored() == {}
    assert db.session.scalar(select(func.sum(HouseholdTally.members))) == 0


def test_a_person_whose_needs_change_during_the_stay_leaves_no_trace(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    (pid,) = family(1, needs=[ELDERLY])
    check_in(client, headers, shelter.id, [pid])
    db.session.execute(update(Person).where(Person.id == pid).values(needs=int(Need.INFANT), pets=3))
    db.session.commit()
    # The counters still hold what was added; a rebuild would take the person as they are now.
    assert tallies.stored()[shelter.id]["need_elderly"] == 1
    check_out(client, headers, [pid])
    assert tallies.stored() == {}  # subtracted exactly what was added: no negative infants


def test_a_stay_closed_and_reopened_with_other_needs_in_one_unit_is_counted_with_the_new_ones(
        client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    (pid,) = family(1, needs=[ELDERLY])
    check_in(client, headers, shelter.id, [pid])
    with unit(WRITE):
        stay = stays.open_stays_of([pid])[pid]
        assert (stay.counted_needs, stay.counted_pets) == (ELDERLY, 0)
        closed = stays.close_stay(stay, StayStatus.LEFT)
        stays.reopen_stay(closed, StayStatus.PRESENT, needs=INFANT, pets=2)
    counts = tallies.stored()[shelter.id]
    assert (counts["occupancy"], counts["households"], counts["need_elderly"], counts["need_infant"],
            counts["pets"]) == (1, 1, 0, 1, 2)
    assert db.session.execute(select(Stay.counted_needs, Stay.counted_pets)).one() == (INFANT, 2)
    db.session.rollback()
    check_out(client, headers, [pid])
    assert tallies.stored() == {}  # subtracted what the reopened stay was counted with


def test_rebuild_repairs_drift_and_records_it_in_the_trend(client: FlaskClient, runner: FlaskCliRunner, db) -> None:
    shelter = factories.shelter(capacity=10)
    headers = factories.bearer(factories.account(Role.HQ))
    check_in(client, headers, shelter.id, family(3))
    db.session.execute(update(ShelterTally).values(occupancy=99, households=7, need_care=5))
    db.session.execute(update(Stay).values(counted_needs=0, counted_pets=0))
    db.session.commit()

    check = runner.invoke(args=["hq", "rebuild-tallies", "--check"])
    assert check.exit_code == 1 and str(shelter.id) in check.output
    result = runner.invoke(args=["hq", "rebuild-tallies"])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    _assert_exact()
    counted = db.session.execute(select(Stay.counted_needs, Stay.counted_pets, Person.needs, Person.pets)
                                 .join(Person, Person.id == Stay.person_id)).all()
    assert len(counted) == 3 and all((r[0], r[1]) == (r[2] or 0, r[3] or 0) for r in counted)
    hours = db.session.scalars(select(OccupancyHour).where(OccupancyHour.shelter_id == shelter.id)).all()
    assert hours[-1].closing == 3
    assert runner.invoke(args=["hq", "rebuild-tallies", "--check"]).exit_code == 0


def test_the_migration_fills_the_counters_from_open_stays(client: FlaskClient, db) -> None:
    a, b = factories.shelter(), factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    check_in(client, headers, a.id, family(3, needs=[ELDERLY, 0, INFANT], pets=2))
    check_in(client, headers, b.id, family(2))
    check_out(client, headers, family_ids := [db.session.scalars(select(Stay.person_id).where(
        Stay.shelter_id == b.id)).first()], reason="at_home")
    assert family_ids
    expected = tallies.stored()
    for model in (ShelterTally, HouseholdTally):
        db.session.execute(delete(model))
    # The needs snapshots that migration wrote went into a table of their own, dropped since (f1b6c8d2a4e7).
    db.session.execute(text("CREATE TABLE hq_stay_tally (stay_id BIGINT PRIMARY KEY, needs INTEGER, pets INTEGER)"))
    db.session.commit()

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    (path,) = MIGRATIONS.glob("8895debc1af3_*.py")
    spec = importlib.util.spec_from_file_location("hq_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with _db.engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        module._fill_from_open_stays()
        connection.execute(text("DROP TABLE hq_stay_tally"))
    _assert_exact()
    assert tallies.stored() == expected


PERSONS = 160
THREADS = 12
OPERATIONS = 500


def test_concurrent_desks_keep_the_counters_exact(app, client: FlaskClient, db) -> None:
    rng = random.Random(11)
    shelters = [factories.shelter(capacity=500).id for _ in range(4)]
    headers = factories.bearer(factories.account(Role.HQ))
    households = []
    for start in range(0, PERSONS, 4):
        home = Household(number=f"C{start:05d}")
        db.session.add(home)
        db.session.flush()
        size = rng.choice((1, 2, 3, 4))
        households.append([])
        for i in range(size):
            person = Person(household_id=home.id, family_name="並行", given_name=f"{start}-{i}",
                            family_name_kana="ヘイコウ", given_name_kana="テスト", name_key=f"並行{start}-{i}",
                            kana_key="ヘイコウテスト", source="demo", needs=rng.choice((0, 0, 1, 4, 32, 5, 256)),
                            pets=rng.choice((0, 0, 0, 1, 2)))
            db.session.add(person)
            db.session.flush()
            households[-1].append(person.id)
    db.session.commit()

    def operation(seed: int) -> int:
        r = random.Random(seed)
        members = households[r.randrange(len(households))]
        chosen = sorted(r.sample(members, r.randint(1, len(members))))
        target = r.choice(shelters)
        kind = r.random()
        if kind < 0.45:
            body = {"client_id": str(uuid.uuid4()), "shelter_id": target, "person_id": chosen[0],
                    "members": chosen, "transfer": r.random() < 0.6}
            if r.random() < 0.15:
                body["whereabouts"] = r.choice(("at_home", "in_car"))
            return client.post("/api/v1/checkins", json=body, headers=headers).status_code
        reason = r.choice(("left", "outing", "return", "at_home", "in_car", "transfer", "transfer"))
        body = {"client_id": str(uuid.uuid4()), "person_id": chosen[0], "members": chosen, "reason": reason}
        if reason == "transfer":
            body["to_shelter_id"] = target
        return client.post("/api/v1/checkouts", json=body, headers=headers).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        codes = Counter(pool.map(operation, range(OPERATIONS)))
    assert set(codes) <= {200, 201, 409, 422}, codes
    assert codes[201] > OPERATIONS // 4, codes
    _assert_exact()
    assert sum(c["occupancy"] for c in tallies.stored().values()) > 0
    report = tallies.rebuild(dry_run=True)
    assert report.corrected == []
