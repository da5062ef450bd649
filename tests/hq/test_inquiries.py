"""Safety inquiries: found by kana, kanji or birth date; answered per consent; audited with ids only."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from tests import factories
from tests.hq.helpers import check_in, check_out, family


def _ask(client: FlaskClient, headers: dict, **body) -> dict:
    response = client.post("/api/v1/inquiries", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_answers_follow_the_consent_of_each_person(client: FlaskClient, db) -> None:
    shelter = factories.shelter(name="精華町立東光小学校")
    headers = factories.bearer(factories.account(Role.HQ))
    (open_, ) = family(1, family_name="精華", family_name_kana="セイカ", consent_relatives=True)
    (closed,) = family(1, family_name="精華", family_name_kana="セイカ", consent_public=True,
                       consent_relatives=True, consent_acquaintances=True)
    check_in(client, headers, shelter.id, [open_])

    relative = _ask(client, headers, q="せいか", requester="relative")
    by_id = {i["person"]["id"]: i for i in relative["items"]}
    assert by_id[open_]["may_answer"] and "精華町立東光小学校 に避難しています" in by_id[open_]["answer"]
    assert by_id[open_]["whereabouts"]["status"] == "present"
    assert by_id[closed]["may_answer"] and by_id[closed]["whereabouts"] is None

    stranger = _ask(client, headers, q="精華", requester="other")
    by_id = {i["person"]["id"]: i for i in stranger["items"]}
    assert not by_id[open_]["may_answer"] and "同意がない" in by_id[open_]["answer"]
    assert by_id[closed]["may_answer"]

    check_out(client, headers, [open_])
    after = _ask(client, headers, q="セイカ", birth_date="昭和55年1月2日", requester="relative")
    item = next(i for i in after["items"] if i["person"]["id"] == open_)
    assert "退所" in item["answer"] and not item["whereabouts"]["open"]

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inquiry.search")).all()
    assert len(events) == 3
    assert events[1].detail["requester"] == "other" and sorted(events[1].detail["results"]) == sorted([open_, closed])
    assert "精華" not in json.dumps(events[1].detail, ensure_ascii=False)  # ids only, never the name searched


def test_inquiry_needs_a_key_and_a_role(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    hq = factories.bearer(factories.account(Role.HQ))
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    assert client.post("/api/v1/inquiries", json={"q": "", "requester": "relative"}, headers=hq).status_code == 422
    assert client.post("/api/v1/inquiries", json={"q": "ア", "requester": "boss"}, headers=hq).status_code == 422
    assert client.post("/api/v1/inquiries", json={"q": "ア", "requester": "other"}, headers=staff).status_code == 403
    by_date = _ask(client, hq, birth_date="1980-01-02", requester="other")
    assert by_date["total"] == 0
