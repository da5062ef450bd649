"""Taking a desk operation back from the toast that names who and what, on a tablet.

Tablet viewport (1180×820), a keyboard-wedge scanner (~10 ms a key, then Enter), Playwright's
fake clock for the toast's EVAC_UNDO_MINUTES. What is checked in is read back from the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.extensions import db as _db
from evac.outbox.models import OutboxEvent
from evac.people.models import Person
from evac.shelters.models import Shelter
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import open_desk

pytestmark = pytest.mark.browser

SCANNER_KEY_MS = 10


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A tablet-sized page whose clock the test moves (installed before the desk's scripts run)."""
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ja-JP")
    page = context.new_page()
    page.clock.install()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _login(page: Any, live_server: str, shelter: Shelter) -> None:
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    open_desk(page, live_server, shelter.id)


@pytest.fixture
def desk(db: Any, live_server: str, page: Any) -> dict[str, Any]:
    shelter = factories.shelter(name="精華町立精北小学校", capacity=300)
    _login(page, live_server, shelter)
    return {"shelter": shelter}


def _iwata() -> list[Person]:
    home = factories.household(number="H-0303", district="光台")
    return [factories.person(household_id=home.id, family_name="岩田", given_name=g, family_name_kana="イワタ",
                             given_name_kana=k) for g, k in (("哲也", "テツヤ"), ("由美", "ユミ"))]


def _scanner(page: Any, text: str) -> None:
    page.keyboard.type(text, delay=SCANNER_KEY_MS)
    page.keyboard.press("Enter")


def _stays(shelter_id: int) -> list[int]:
    _db.session.rollback()
    return sorted(_db.session.scalars(select(Stay.person_id).where(Stay.shelter_id == shelter_id)))


def _check_in_iwata(page: Any) -> list[Person]:
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    page.wait_for_function("document.getElementById('result-title').textContent === '岩田 哲也 さんの世帯'")
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_function("document.getElementById('count-occupancy').textContent === '2'")
    return iwata


def test_a_check_in_is_taken_back_from_the_toast(desk: dict[str, Any], page: Any) -> None:
    shelter = desk["shelter"]
    iwata = _check_in_iwata(page)
    assert _stays(shelter.id) == sorted(p.id for p in iwata)
    toast = page.get_by_role("button", name="岩田 哲也 さん、岩田 由美 さんの受付を取り消す")
    toast.wait_for()
    screenshot(page, "desk-undo-toast")

    toast.click()
    page.wait_for_function("document.getElementById('count-occupancy').textContent === '0'")
    page.wait_for_selector("#undo", state="hidden")
    assert "取り消しました" in page.locator("#alert").inner_text()
    assert page.locator("#count-households").inner_text() == "0"
    assert _stays(shelter.id) == []  # voided, not a 退所
    corrections = _db.session.scalars(select(OutboxEvent.type).where(OutboxEvent.type == "correction")).all()
    assert len(corrections) == 2
    page.locator("#tab-roster").click()
    page.wait_for_selector("#roster-counts:not(:empty)")
    assert page.locator("#roster-body tr[data-person-id]").count() == 0
    screenshot(page, "desk-undo-done")
    # The scanner's next line still lands in the scan field.
    page.locator("#tab-scan").click()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")


def test_the_toast_is_gone_after_the_minutes_set(desk: dict[str, Any], page: Any) -> None:
    _check_in_iwata(page)
    toast = page.locator("#undo")
    page.wait_for_selector("#undo", state="visible")
    page.clock.fast_forward("04:50")
    assert toast.is_visible(), "still offered within EVAC_UNDO_MINUTES (5)"
    page.clock.fast_forward("00:20")
    page.wait_for_selector("#undo", state="hidden")
    assert len(_stays(desk["shelter"].id)) == 2
    screenshot(page, "desk-undo-expired")


def test_in_english_the_toast_comes_through_the_catalogue(desk: dict[str, Any], page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/desk/{desk['shelter'].id}")
    page.wait_for_selector("#desk[data-ready='1']")
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    page.wait_for_function("document.getElementById('result-title').textContent === 'Household of 岩田 哲也'")
    page.get_by_role("button", name="Check in").click()
    toast = page.get_by_role("button", name="Undo the check-in of 岩田 哲也, 岩田 由美")
    toast.click()
    page.wait_for_function("document.getElementById('count-occupancy').textContent === '0'")
    assert "Undone" in page.locator("#alert").inner_text()
    screenshot(page, "desk-undo-en")
