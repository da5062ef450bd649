"""`evac purge`: old desk answers dropped, walk-ins anonymised, residents and open stays untouched."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc
from evac.people.models import Person, PersonSource
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout


def test_purge_anonymises_walk_ins_whose_stays_ended(client: FlaskClient, db, runner) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    resident = factories.person(given_name="住民")
    gone = factories.person(given_name="帰宅", source=PersonSource.PAPER, phone="0774-00-0000")
    staying = factories.person(given_name="在所", source=PersonSource.PAPER)
    old_card = cards.issue_card(gone.id)[1]
    for person in (resident, gone, staying):
        post_checkin(client, headers, shelter_id=shelter.id, person_id=person.id)
    for person in (resident, gone):
        post_checkout(client, headers, person_id=person.id, reason="left")
    # Pretend all that happened forty days ago.
    past = now_utc() - timedelta(days=40)
    db.session.execute(update(Stay).where(Stay.checked_out_at.is_not(None)).values(checked_out_at=past))
    db.session.execute(update(ClientRequest).values(created_at=past))
    db.session.commit()

    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0 and "anonymised 1" in dry.output and "removed 5" in dry.output
    assert db.session.get(Person, gone.id).given_name == "帰宅"

    result = runner.invoke(args=["purge", "--yes"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    anonymised = db.session.get(Person, gone.id)
    assert anonymised.family_name == "匿名" and anonymised.phone is None and anonymised.birth_date is None
    assert db.session.get(Person, resident.id).given_name == "住民"  # the register's own record
    assert db.session.get(Person, staying.id).given_name == "在所"  # still at the shelter
    assert db.session.scalar(select(func.count()).select_from(ClientRequest)) == 0
    assert db.session.scalar(select(func.count()).select_from(Stay)) == 3  # history kept, ids only
    refused = post_checkin(client, headers, shelter_id=shelter.id, qr=old_card)
    assert refused.status_code == 410  # their card no longer checks anyone in


def test_purge_asks_before_it_deletes(runner, db) -> None:
    result = runner.invoke(args=["purge"], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
