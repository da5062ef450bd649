"""The desk is safe at a busy entrance: a scanner's line is always a new scan, never a confirmation.

On a tablet-sized page (1180×820, and 820×1180 upright) with a keyboard-wedge scanner as it
types: ~10 ms a key, then Enter. What is checked in is read back from the database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.extensions import db as _db
from evac.people.models import Person
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import open_desk

pytestmark = pytest.mark.browser

SHELTER_NAME = "精華町立東光小学校体育館"
SCANNER_KEY_MS = 10
UNKNOWN_CODE = "ZZZZ-ZZZZ-ZZZZ"  # shaped like a fallback code, on no card


@pytest.fixture(params=[(1180, 820)], ids=["landscape"])
def page(request: Any, browser: Any, live_server: str) -> Iterator[Any]:
    """A tablet-sized page (overrides the conftest's 1024×768)."""
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _login(page: Any, live_server: str, shelter: Shelter) -> str:
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    return open_desk(page, live_server, shelter.id)


@pytest.fixture
def desk(db: Any, live_server: str, page: Any) -> dict[str, Any]:
    shelter = factories.shelter(name=SHELTER_NAME, capacity=300)
    return {"shelter": shelter, "url": _login(page, live_server, shelter)}


def _stays(shelter_id: int) -> list[int]:
    """The persons with an open stay at the shelter, read from the database."""
    _db.session.rollback()
    return sorted(_db.session.scalars(select(Stay.person_id).where(
        Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None))))


def _iwata() -> list[Person]:
    home = factories.household(number="H-0101", district="光台")
    return [factories.person(household_id=home.id, family_name="岩田", given_name=g, family_name_kana="イワタ",
                             given_name_kana=k) for g, k in (("哲也", "テツヤ"), ("由美", "ユミ"))]


def _sato() -> Person:
    home = factories.household(number="H-0202", district="祝園")
    return factories.person(household_id=home.id, family_name="佐藤", given_name="健", family_name_kana="サトウ",
                            given_name_kana="ケン")


def _scanner(page: Any, text: str) -> None:
    """What a keyboard-wedge scanner does: type the line at ~10 ms a key into whatever has focus, then Enter."""
    page.keyboard.type(text, delay=SCANNER_KEY_MS)
    page.keyboard.press("Enter")


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def _shows_household_of(page: Any, name: str) -> None:
    page.wait_for_function(
        "(name) => !document.getElementById('scan-result').hidden && "
        "document.getElementById('result-title').textContent === name", arg=f"{name} さんの世帯")


def test_after_a_scan_the_focus_is_back_in_the_scan_field(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    assert _focused(page) == "scan", "the next card's line must land in the scan field, not on チェックイン"
    assert page.get_by_role("button", name="チェックイン").is_visible()
    assert "秒で自動的に閉じます" in page.locator("#result-expiry").inner_text()
    screenshot(page, "desk-safety-household-focus")
    # Ticking a box is a tap in the household; the focus goes back to the scan field after it.
    page.locator("#members input[type=checkbox]").nth(1).uncheck()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")


FOCUS = {"scan field": "scan", "a ticked box": "box", "チェックイン": "button"}


@pytest.mark.parametrize("focus", list(FOCUS))
def test_the_next_card_is_a_new_scan_never_a_confirmation(desk: dict[str, Any], page: Any, focus: str) -> None:
    iwata = _iwata()
    sato = _sato()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    if focus == "a ticked box":
        page.locator("#members input[type=checkbox]").first.focus()
    elif focus == "チェックイン":
        page.locator("#checkin-button").focus()  # as after a stray tap, or an older desk
    _scanner(page, cards.issue_card(sato.id)[1])
    _shows_household_of(page, "佐藤 健")
    screenshot(page, f"desk-safety-next-card-{FOCUS[focus]}")
    names = page.locator("#members .name").all_inner_texts()
    assert names == ["佐藤 健（サトウ ケン）"], names
    page.wait_for_timeout(500)  # give a wrongly sent check-in time to arrive
    assert _stays(desk["shelter"].id) == [], "the second card's Enter confirmed the first household"
    # The deliberate tap still checks in the household on screen: the second one.
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_selector(".alert-ok")
    assert _stays(desk["shelter"].id) == [sato.id]


def test_in_english_the_household_is_named_through_the_catalogue(desk: dict[str, Any], page: Any,
                                                                  live_server: str) -> None:
    iwata = _iwata()
    page.goto(f"{live_server}/lang/en")
    page.goto(desk["url"])
    page.wait_for_selector("#desk[data-ready='1']")
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    page.wait_for_function("document.getElementById('result-title').textContent === 'Household of 岩田 哲也'")
    assert "Closes by itself in 90 s" in page.locator("#result-expiry").inner_text()
    assert page.get_by_role("button", name="Close").is_visible()
    screenshot(page, "desk-safety-household-en")


def test_enter_on_checkin_is_not_a_confirmation(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    page.locator("#checkin-button").focus()
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    page.wait_for_timeout(500)
    assert _stays(desk["shelter"].id) == []
    assert page.locator("#scan-result").is_visible()


def test_a_bad_scan_clears_the_household_and_shows_its_error(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    _scanner(page, UNKNOWN_CODE)
    page.wait_for_selector("#alert.alert-error")
    screenshot(page, "desk-safety-bad-scan")
    assert page.locator("#scan-result").is_hidden()
    assert not page.get_by_role("button", name="チェックイン").is_visible()
    assert page.locator("#members li").count() == 0, "no family left under the error"
    assert _focused(page) == "scan"
    # The error stays until the next scan, which clears it.
    page.wait_for_timeout(5500)
    assert page.locator("#alert.alert-error").is_visible()
    _scanner(page, cards.issue_card(iwata[1].id)[1])
    _shows_household_of(page, "岩田 由美")
    assert page.locator("#alert").is_hidden()


def test_an_all_present_household_says_so_instead_of_checkin(desk: dict[str, Any], page: Any, client: Any) -> None:
    iwata = _iwata()
    headers = factories.bearer(factories.account(Role.HQ))
    answer = client.post("/api/v1/checkins", json={
        "shelter_id": desk["shelter"].id, "person_id": iwata[0].id, "members": [p.id for p in iwata],
        "client_id": str(uuid.uuid4())}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    done = page.locator("#all-here")
    done.wait_for()
    screenshot(page, "desk-safety-all-present")
    text = done.inner_text()
    assert text.startswith("全員受付済み") and SHELTER_NAME in text and "受付）" in text
    assert any(ch.isdigit() for ch in text), "the time of the check-in is shown"
    assert not page.get_by_role("button", name="チェックイン").is_visible()
    assert "受付）" in page.locator("#members .where").first.inner_text()  # each member's time
    page.get_by_role("button", name="閉じる").click()
    page.locator("#scan-result").wait_for(state="hidden")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")


def test_a_scan_typed_into_the_walk_in_form_runs_as_a_scan(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    page.get_by_role("tab", name="避難者カード入力").click()
    # A person types slowly into one field ...
    page.get_by_label("住所").click()
    page.keyboard.type("kodai 7", delay=150)
    # ... then focuses 氏（漢字）, and a card goes through the scanner.
    page.get_by_label("氏（漢字）").click()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    screenshot(page, "desk-safety-wedge-from-walkin")
    assert page.locator("#panel-scan").is_visible() and page.locator("#panel-walkin").is_hidden()
    assert page.locator("#w-family").input_value() == "", "the scan's characters left 氏名"
    assert page.locator("#w-address").input_value() == "kodai 7", "a person's typing stays where it was typed"
    assert _stays(desk["shelter"].id) == []


def test_a_reader_line_typed_into_a_form_field_runs_as_a_scan(desk: dict[str, Any], page: Any) -> None:
    from tests.browser.test_desk_readers import CARD, _family

    _family()
    page.get_by_role("tab", name="避難者カード入力").click()
    page.get_by_label("電話番号").click()
    # A program on the tablet types the card reader's line (kanji and all) like a wedge scanner.
    _scanner(page, json.dumps({"type": "mynumber", "card": CARD}, ensure_ascii=False))
    _shows_household_of(page, "精華 花子")
    assert page.locator("#w-phone").input_value() == ""
    assert _stays(desk["shelter"].id) == []


def test_a_scan_on_the_roster_tab_runs_as_a_scan(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    page.get_by_role("tab", name="名簿").click()
    page.get_by_placeholder("名前・フリガナで検索").click()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    assert page.locator("#roster-q").input_value() == ""
    # Typed slowly, the same line is a search the person types, and stays a search.
    page.get_by_role("tab", name="名簿").click()
    page.get_by_placeholder("名前・フリガナで検索").click()
    page.keyboard.type("iwata", delay=120)
    page.keyboard.press("Enter")
    assert page.locator("#panel-roster").is_visible()
    assert page.locator("#roster-q").input_value() == "iwata"


def test_success_names_the_people_and_fades(desk: dict[str, Any], page: Any) -> None:
    iwata = _iwata()
    _scanner(page, cards.issue_card(iwata[0].id)[1])
    _shows_household_of(page, "岩田 哲也")
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_selector("#alert.alert-ok")
    text = page.locator("#alert").inner_text()
    screenshot(page, "desk-safety-success")
    assert "岩田 哲也 さん" in text and "岩田 由美 さん" in text and "2 名を受付しました" in text
    assert _stays(desk["shelter"].id) == sorted(p.id for p in iwata)
    page.locator("#alert").wait_for(state="hidden", timeout=15_000)
    assert page.locator("#scan-result").is_hidden()


def test_a_banner_does_not_follow_into_another_tab(desk: dict[str, Any], page: Any) -> None:
    _scanner(page, UNKNOWN_CODE)
    page.wait_for_selector("#alert.alert-error")
    page.get_by_role("tab", name="名簿").click()
    assert page.locator("#alert").is_hidden()
    page.get_by_role("tab", name="カード読み取り").click()
    assert page.locator("#alert").is_hidden()


def test_an_unconfirmed_household_closes_itself(db: Any, live_server: str, page: Any) -> None:
    shelter = factories.shelter(name=SHELTER_NAME, capacity=300)
    iwata = _iwata()
    payload = cards.issue_card(iwata[0].id)[1]
    page.clock.install()
    _login(page, live_server, shelter)
    _scanner(page, payload)
    _shows_household_of(page, "岩田 哲也")
    assert "あと 90 秒で自動的に閉じます" in page.locator("#result-expiry").inner_text()
    page.clock.fast_forward(30_000)
    page.wait_for_function("document.getElementById('result-expiry').textContent.includes('あと 60 秒')")
    screenshot(page, "desk-safety-countdown")
    page.clock.fast_forward(61_000)
    page.locator("#scan-result").wait_for(state="hidden")
    assert not page.get_by_role("button", name="チェックイン").is_visible()
    assert _stays(shelter.id) == []


@pytest.mark.parametrize("page", [(820, 1180)], ids=["portrait"], indirect=True)
def test_a_closed_shelter_desk_says_so_and_refuses_scans(db: Any, live_server: str, page: Any) -> None:
    shelter = factories.shelter(name=SHELTER_NAME, capacity=300, status=ShelterStatus.CLOSED)
    person = factories.person()
    _login(page, live_server, shelter)
    banner = page.locator("#closed")
    assert banner.is_visible() and "この避難所は閉鎖されています" in banner.inner_text()
    screenshot(page, "desk-safety-closed")
    _scanner(page, cards.issue_card(person.id)[1])
    page.wait_for_selector("#alert.alert-error")
    assert "この避難所は閉鎖されています" in page.locator("#alert").inner_text()
    assert page.locator("#scan-result").is_hidden()
    screenshot(page, "desk-safety-closed-refused")
    _db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Stay)) == 0
