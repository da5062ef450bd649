"""The shelter desk in a real browser: scan, household check-in, walk-ins, roster, offline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.extensions import db as _db
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(db, live_server: str, page: Any) -> dict[str, Any]:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300)
    factories.shelter(name="精華町立精北小学校")
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    log_in(page, live_server, "desk1")
    page.locator(f"[data-shelter-id='{shelter.id}']").click()
    page.wait_for_url(f"{live_server}/desk/{shelter.id}")
    page.wait_for_selector("#desk[data-ready='1']")
    return {"shelter": shelter, "url": f"{live_server}/desk/{shelter.id}"}


def _stays(shelter_id: int) -> int:
    _db.session.rollback()
    return _db.session.scalar(select(func.count()).select_from(Stay).where(
        Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None)))


def _family() -> list[Person]:
    home = factories.household(number="H-0001", district="光台")
    return [factories.person(household_id=home.id, family_name="精華", given_name=g, family_name_kana="セイカ",
                             given_name_kana=k)
            for g, k in (("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"))]


def test_wedge_scan_then_one_tap_checks_in_the_household(desk, page: Any) -> None:
    family = _family()
    payload = cards.issue_card(family[0].id)[1]
    screenshot(page, "desk-idle")
    # A keyboard-wedge scanner types into whatever has focus: the scan field, when idle.
    assert page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type(payload)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    boxes = page.locator("#members input[type=checkbox]")
    assert boxes.count() == 3 and all(boxes.nth(i).is_checked() for i in range(3))
    page.locator("#members input[type=checkbox]").nth(2).uncheck()  # the son is not here
    screenshot(page, "desk-household")
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_selector(".alert-ok")
    assert "2 名を受付しました" in page.locator("#alert").inner_text()
    assert page.locator("#count-occupancy").inner_text() == "2"
    assert _stays(desk["shelter"].id) == 2
    screenshot(page, "desk-checked-in")


def test_revoked_card_is_shown_loudly(desk, page: Any) -> None:
    person = factories.person()
    old = cards.issue_card(person.id)[1]
    cards.issue_card(person.id)
    page.fill("#scan", old)
    page.keyboard.press("Enter")
    page.wait_for_selector(".alert-error")
    assert "再発行" in page.locator("#alert").inner_text()
    screenshot(page, "desk-revoked-card")
    assert _stays(desk["shelter"].id) == 0


def test_walk_in_registration_with_duplicate_offer(desk, page: Any) -> None:
    known = factories.person(family_name="佐藤", given_name="健", family_name_kana="サトウ", given_name_kana="ケン")
    page.get_by_role("tab", name="避難者カード入力").click()
    page.get_by_label("氏（漢字）").fill("佐藤")
    page.get_by_label("名（漢字）").fill("健")
    page.get_by_label("氏（フリガナ）").fill("さとう")
    page.get_by_label("名（フリガナ）").fill("けん")
    page.get_by_label("生年月日", exact=False).fill("S55.1.2")
    page.get_by_label("性別").select_option("male")
    page.get_by_label("住所").fill("京都府相楽郡精華町祝園西1-2")
    page.get_by_label("アレルギー", exact=True).check()
    page.get_by_label("アレルギーの内容").fill("卵")
    screenshot(page, "desk-walkin-form")
    page.get_by_role("button", name="登録してチェックイン").click()
    page.wait_for_selector("#candidates:not([hidden])")
    screenshot(page, "desk-walkin-duplicate")
    page.get_by_role("button", name="この人で受付").click()
    page.wait_for_selector(".alert-ok")
    _db.session.rollback()
    stay = _db.session.scalars(select(Stay)).one()
    assert stay.person_id == known.id


def test_roster_search_and_check_out(desk, page: Any, client: Any) -> None:
    family = _family()
    headers = factories.bearer(factories.account(Role.HQ))
    client.post("/api/v1/checkins", json={"shelter_id": desk["shelter"].id, "person_id": family[0].id,
                                          "members": [p.id for p in family],
                                          "client_id": str(uuid.uuid4())}, headers=headers)
    page.get_by_role("tab", name="名簿").click()
    page.wait_for_selector("#roster-body tr[data-person-id]")
    assert page.locator("#roster-body tr").count() == 3
    page.get_by_placeholder("名前・フリガナで検索").fill("はなこ")
    page.get_by_role("button", name="検索").click()
    page.wait_for_function("document.querySelectorAll('#roster-body tr').length === 1")
    screenshot(page, "desk-roster")
    page.locator("#roster-body tr").first.get_by_role("button", name="操作", exact=False).click()
    page.locator("#roster-sheet").get_by_role("button", name="退所", exact=True).click()
    page.locator("#roster-sheet").get_by_role("button", name="退所する").click()
    page.wait_for_selector(".alert-ok")
    assert _stays(desk["shelter"].id) == 2


def test_offline_scans_are_queued_and_sent_exactly_once(desk, page: Any, server: Any) -> None:
    persons = [factories.person(given_name=f"{i}号", given_name_kana="テスト") for i in range(20)]
    payloads = [cards.issue_card(p.id)[1] for p in persons]
    page.wait_for_selector("#desk[data-offline-ready='1']")
    server.stop()
    for payload in payloads:
        page.fill("#scan", payload)
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('pending').dataset.count === '{payloads.index(payload) + 1}'")
    assert page.locator("#net").get_attribute("class").find("is-offline") >= 0
    screenshot(page, "desk-offline-queue")
    page.reload()  # still offline: the service worker serves the desk, IndexedDB keeps the queue
    page.wait_for_selector("#desk[data-ready='1']")
    assert page.locator("#pending").get_attribute("data-count") == "20"
    assert _stays(desk["shelter"].id) == 0
    server.start()
    page.wait_for_function("document.getElementById('pending').dataset.count === '0'", timeout=20_000)
    assert _stays(desk["shelter"].id) == 20
    page.reload()
    page.wait_for_selector("#desk[data-ready='1']")
    page.wait_for_timeout(6000)  # one more flush interval: nothing is sent twice
    assert _stays(desk["shelter"].id) == 20
    screenshot(page, "desk-offline-sent")


def _answer_busy(times: int, seen: list[dict[str, Any]]) -> Any:
    """A route handler: the first `times` requests get the 503 a busy database gives (with
    Retry-After), the rest reach the server. Every request body is kept in `seen`."""
    import json

    def handle(route: Any) -> None:
        seen.append(json.loads(route.request.post_data or "{}"))
        if len(seen) <= times:
            route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                          body=json.dumps({"error": {"code": "database_unavailable",
                                                     "message": "データベースが混み合っています", "fields": {}}}))
        else:
            route.fallback()

    return handle


def test_checkin_answered_503_is_queued_and_delivered_once(desk, page: Any) -> None:
    family = _family()
    payload = cards.issue_card(family[0].id)[1]
    posts: list[dict[str, Any]] = []
    # The check-in and the first replay meet a busy database; the next replay goes through.
    page.route("**/api/v1/checkins", _answer_busy(2, posts))
    page.fill("#scan", payload)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    page.locator("#members input[type=checkbox]").nth(2).uncheck()
    page.get_by_role("button", name="チェックイン").click()
    # Treated exactly like offline: queued with its client_id, the desk says so.
    page.wait_for_function("document.getElementById('pending').dataset.count === '1'")
    assert "保留" in page.locator("#alert").inner_text()
    assert "is-offline" in (page.locator("#net").get_attribute("class") or "")
    assert page.locator("#scan-result").is_hidden()
    screenshot(page, "desk-503-queued")
    assert _stays(desk["shelter"].id) == 0
    page.wait_for_function("document.getElementById('pending').dataset.count === '0'", timeout=20_000)
    assert "保留していた受付 1 件を送信しました" in page.locator("#alert").inner_text()
    assert "is-offline" not in (page.locator("#net").get_attribute("class") or "")
    assert _stays(desk["shelter"].id) == 2
    # The counts follow the delivered answer (drawn just after the banner).
    page.wait_for_function("() => document.getElementById('count-occupancy').textContent.trim() === '2'")
    # One check-in, sent three times with the same client_id: a replay never doubles a stay.
    assert len(posts) == 3 and len({p["client_id"] for p in posts}) == 1
    assert posts[0]["members"] == [family[0].id, family[1].id]
    screenshot(page, "desk-503-delivered")


def test_scan_whose_lookup_is_answered_503_is_queued(desk, page: Any) -> None:
    person = factories.person()
    payload = cards.issue_card(person.id)[1]
    lookups: list[dict[str, Any]] = []
    page.route("**/api/v1/lookups", _answer_busy(1, lookups))
    page.fill("#scan", payload)
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('pending').dataset.count === '1'")
    page.unroute("**/api/v1/lookups")
    page.wait_for_function("document.getElementById('pending').dataset.count === '0'", timeout=20_000)
    assert _stays(desk["shelter"].id) == 1


def test_walk_in_form_speaks_the_page_language_and_takes_half_width_kana(desk, page: Any) -> None:
    page.get_by_role("tab", name="避難者カード入力").click()
    assert page.locator("#panel-walkin .required").count() == 5, "必須 beside each required field"
    page.get_by_role("button", name="登録してチェックイン").click()
    # The first missing field says so in the page's words, not the browser's.
    assert page.locator("#w-family").evaluate("(el) => el.validationMessage") == "この項目を入力してください"
    page.get_by_label("氏（漢字）").fill("岩田")
    page.get_by_label("名（漢字）").fill("哲也")
    page.get_by_label("氏（フリガナ）").press_sequentially("ｲﾜﾀ")
    page.get_by_label("名（フリガナ）").press_sequentially("ﾃﾂﾔ")
    assert page.get_by_label("氏（フリガナ）").input_value() == "イワタ"
    page.get_by_label("氏（フリガナ）").fill("iwata")
    assert page.locator("#w-family-kana").evaluate("(el) => el.validationMessage") == "カタカナかひらがなで入力してください"
    page.get_by_label("氏（フリガナ）").fill("イワタ")
    page.get_by_label("生年月日", exact=False).fill("1975-04-01")
    page.get_by_label("性別").select_option("male")
    page.get_by_label("住所").fill("京都府相楽郡精華町精華台1-1")
    page.get_by_role("button", name="登録してチェックイン").click()
    link = page.locator("#walkin-card-link")
    link.wait_for()
    assert link.inner_text() == "岩田 哲也 さんのQRカードを印刷"
    screenshot(page, "desk-walkin-card-link")
    _db.session.rollback()
    person = _db.session.scalars(select(Person).where(Person.family_name == "岩田")).one()
    assert person.given_name_kana == "テツヤ"
    # Editing the form for the next person takes the link away: it would name the wrong one.
    page.get_by_label("氏（漢字）").fill("次")
    assert page.locator("#walkin-card").is_hidden()


def test_the_scan_field_warns_when_a_japanese_ime_is_composing(desk, page: Any) -> None:
    scan = page.locator("#scan")
    assert scan.get_attribute("inputmode") == "url", "a valid inputmode that brings up a Latin keyboard"
    assert page.locator("#scan-ime").is_hidden()
    scan.dispatch_event("compositionstart")
    assert page.locator("#scan-ime").is_visible()
    screenshot(page, "desk-scan-ime")


def test_a_resident_without_a_card_is_found_by_name_and_checked_in(desk, page: Any) -> None:
    home = factories.household()
    holder = factories.person(household_id=home.id, family_name="岩田", given_name="哲也",
                              family_name_kana="イワタ", given_name_kana="テツヤ")
    factories.person(household_id=home.id, family_name="岩田", given_name="由美",
                     family_name_kana="イワタ", given_name_kana="ユミ")
    page.locator("#resident-search summary").click()
    page.locator("#resident-q").fill("いわた てつや")
    page.locator("#resident-form").get_by_role("button", name="検索").click()
    page.wait_for_selector("#resident-results li")
    assert page.locator("#resident-results li").count() == 1
    screenshot(page, "desk-resident-search")
    page.get_by_role("button", name="この人の世帯を表示").click()
    page.wait_for_selector("#scan-result:not([hidden])")
    assert page.locator("#result-title").inner_text().startswith("岩田 哲也")
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_selector(".alert-ok")
    _db.session.rollback()
    assert {s.person_id for s in _db.session.scalars(select(Stay))} >= {holder.id}
    # Nobody by that name: the desk says what to do instead.
    page.locator("#resident-q").fill("そんなひと")
    page.locator("#resident-form").get_by_role("button", name="検索").click()
    page.wait_for_function("() => document.getElementById('resident-note').textContent.includes('見つかりません')")
