"""The desk in a real browser never names where a family member outside its scope is staying."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts import service as accounts
from evac.accounts.models import Role
from evac.cards import service as cards
from evac.checkin import service as checkin
from evac.extensions import db as _db
from evac.shelters.models import Shelter
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_desk import _family, desk  # noqa: F401  (the logged-in desk fixture)

pytestmark = pytest.mark.browser


def test_a_member_at_another_shelter_is_counted_not_named(desk, page: Any) -> None:  # noqa: F811
    family = _family()
    other = _db.session.scalar(select(Shelter).where(Shelter.name == "精華町立精北小学校"))
    hq = accounts.principal_by_id(factories.account(Role.HQ).id)
    checkin.checkin(hq, {"shelter_id": other.id, "person_id": family[2].id,
                         "client_id": str(uuid.uuid4())})
    payload = cards.issue_card(family[0].id)[1]
    page.keyboard.type(payload, delay=5)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    assert page.locator("#members input[type=checkbox]").count() == 2
    note = page.locator("#members .elsewhere-note")
    assert "ほかに 1 名の世帯員が別の避難所に受付済み" in note.inner_text()
    shown = page.locator("#scan-result").inner_text()
    assert "精北" not in shown and "一郎" not in shown
    screenshot(page, "desk-member-elsewhere")
