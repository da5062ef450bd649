"""The desk's roster on a tablet: every page of it, readable rows, the 操作 menu and the needs strip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.common.vocab import Need, Sex, StayStatus
from evac.extensions import db as _db
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import open_desk

pytestmark = pytest.mark.browser

LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
# Long and short names, so a narrow column would show itself as one character per line.
NAMES = [("長谷川", "慎之介", "ハセガワ", "シンノスケ"), ("林", "一", "ハヤシ", "ハジメ"),
         ("佐々木", "美智子", "ササキ", "ミチコ"), ("精華", "太郎", "セイカ", "タロウ"), ("岩田", "由美", "イワタ", "ユミ")]
ELDERLY, INFANTS = 39, 3


@pytest.fixture
def tablet(browser: Any, live_server: str, request: Any) -> Iterator[Any]:
    """A page on a tablet of the size the test asks for (landscape unless parametrised)."""
    viewport = getattr(request, "param", LANDSCAPE)
    context = browser.new_context(viewport=viewport, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _check_in(client: Any, headers: dict[str, str], shelter_id: int, members: list[int]) -> None:
    answer = client.post("/api/v1/checkins", json={"shelter_id": shelter_id, "person_id": members[0],
                                                   "members": members, "client_id": str(uuid.uuid4())},
                         headers=headers)
    assert answer.status_code == 201, answer.get_json()


def _town(client: Any, households: int, size: int) -> dict[str, Any]:
    """A shelter with households × size people present; the first ELDERLY elderly, INFANTS infants."""
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=400)
    target = factories.shelter(name="精華町立精北小学校")
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    headers = factories.bearer(factories.account(Role.HQ))
    n = 0
    for h in range(households):
        home = factories.household(number=f"H-{h + 1:04d}")
        members = []
        for _ in range(size):
            family, given, family_kana, given_kana = NAMES[n % len(NAMES)]
            needs = (Need.ELDERLY if n < ELDERLY else 0) | (Need.INFANT if ELDERLY <= n < ELDERLY + INFANTS else 0)
            person = factories.person(household_id=home.id, family_name=family, given_name=given,
                                      family_name_kana=family_kana, given_name_kana=given_kana, needs=int(needs),
                                      sex=Sex.MALE if n % 2 else Sex.FEMALE,
                                      birth_date=date(1940 if needs & Need.ELDERLY else 1985, 1 + n % 12, 1))
            members.append(person.id)
            n += 1
        _check_in(client, headers, shelter.id, members)
    return {"shelter": shelter, "target": target, "total": n}


def _open_roster(page: Any, live_server: str, shelter_id: int) -> None:
    open_desk(page, live_server, shelter_id)
    page.get_by_role("tab", name="名簿").click()
    page.wait_for_selector("#roster-body tr[data-person-id]")


def _rows(page: Any) -> int:
    return int(page.locator("#roster-body tr[data-person-id]").count())


def _wait_rows(page: Any, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#roster-body tr[data-person-id]').length === {n}")


def _status_of(person_id: int) -> StayStatus | None:
    _db.session.rollback()
    return _db.session.scalar(select(Stay.status).where(Stay.person_id == person_id, Stay.checked_out_at.is_(None)))


@pytest.mark.parametrize("tablet", [LANDSCAPE, PORTRAIT], indirect=True, ids=["landscape", "portrait"])
def test_every_page_of_the_roster_in_rows_that_read(tablet: Any, live_server: str, client: Any, db) -> None:
    page = tablet
    town = _town(client, households=43, size=5)
    assert town["total"] == 215
    _open_roster(page, live_server, town["shelter"].id)
    # The first page, and the header says there is more.
    assert _rows(page) == 200
    assert page.locator("#roster-total").inner_text() == "200 / 215 人"
    assert page.locator("#roster-more").is_visible()
    orientation = "landscape" if page.viewport_size["width"] > page.viewport_size["height"] else "portrait"
    screenshot(page, f"desk-roster-{orientation}-first-page")
    # Scrolling to the end of the table brings the rest (no tap needed).
    page.mouse.wheel(0, 200_000)
    _wait_rows(page, 215)
    assert page.locator("#roster-total").inner_text() == "215 人"
    assert page.locator("#roster-more").is_hidden()
    ids = page.eval_on_selector_all("#roster-body tr[data-person-id]", "rows => rows.map(r => r.dataset.personId)")
    assert len(set(ids)) == 215
    # Rows a finger can hit and an eye can read: about 48 px, names on one line, not one character a line.
    boxes = page.eval_on_selector_all("#roster-body tr[data-person-id]", """rows => rows.map(r => {
        const name = r.querySelector('.roster-name');
        const style = getComputedStyle(name);
        return {row: r.getBoundingClientRect().height, name: name.getBoundingClientRect().height,
                width: name.getBoundingClientRect().width, font: parseFloat(style.fontSize),
                text: name.textContent, cells: r.cells.length};
    })""")
    assert all(b["cells"] == 8 for b in boxes)
    assert max(b["row"] for b in boxes) <= 60, max(b["row"] for b in boxes)
    assert min(b["row"] for b in boxes) >= 44
    for b in boxes:
        assert b["name"] < 2 * b["font"], b  # one line
        assert b["width"] >= min(len(b["text"]), 5) * b["font"] * 0.9, b  # the name's characters side by side
    # The printed roster's columns: age, sex, household, checked-in time.
    first = page.locator("#roster-body tr[data-person-id]").first.locator("td").all_inner_texts()
    assert first[1].isdigit() and int(first[1]) >= 80
    assert first[2] in ("男", "女") and first[3] == "H-0001" and first[4] == "在所"
    assert len(first[5]) == 5 and first[5][2] == ":"  # 14:05, checked in today
    page.locator("#roster-body tr[data-person-id]").last.scroll_into_view_if_needed()
    screenshot(page, f"desk-roster-{orientation}-all")


def test_the_needs_strip_counts_and_filters(tablet: Any, live_server: str, client: Any, db) -> None:
    page = tablet
    town = _town(client, households=10, size=5)
    _open_roster(page, live_server, town["shelter"].id)
    strip = page.locator("#roster-needs-strip")
    assert strip.get_by_role("button").all_inner_texts() == [f"高齢者 {ELDERLY}", f"乳幼児 {INFANTS}"]
    strip.get_by_role("button", name=f"高齢者 {ELDERLY}").click()
    _wait_rows(page, ELDERLY)
    assert page.locator("#roster-total").inner_text() == f"{ELDERLY} 人"
    assert strip.get_by_role("button", name=f"高齢者 {ELDERLY}").get_attribute("aria-pressed") == "true"
    assert all("高齢者" in text for text in page.locator("#roster-body td.needs").all_inner_texts())
    screenshot(page, "desk-roster-needs-filter")
    strip.get_by_role("button", name=f"乳幼児 {INFANTS}").click()
    _wait_rows(page, INFANTS)
    # The same chip again, or すべて, shows everyone.
    strip.get_by_role("button", name=f"乳幼児 {INFANTS}").click()
    _wait_rows(page, 50)
    assert page.locator("#roster-total").inner_text() == "50 人"


def test_the_operations_menu_moves_people_out_and_on(tablet: Any, live_server: str, client: Any, db) -> None:
    page = tablet
    town = _town(client, households=2, size=3)
    _open_roster(page, live_server, town["shelter"].id)
    rows = page.locator("#roster-body tr[data-person-id]")
    first, second, third = (int(rows.nth(i).get_attribute("data-person-id")) for i in range(3))
    sheet = page.locator("#roster-sheet")

    # 外出: the row's whereabouts change at once, no question asked.
    row = page.locator(f"#roster-body tr[data-person-id='{first}']")
    row.get_by_role("button", name="操作", exact=False).click()
    assert sheet.is_visible()
    assert sheet.get_by_role("button").all_inner_texts() == ["外出", "在宅避難へ", "車中泊へ", "移動", "退所",
                                                        "受付を取り消す（誤登録）", "やめる"]
    screenshot(page, "desk-roster-menu")
    sheet.get_by_role("button", name="外出", exact=True).click()
    page.wait_for_function(f"document.querySelector(\"tr[data-person-id='{first}']\").dataset.status === 'outing'")
    assert page.locator(f"tr[data-person-id='{first}'] td.whereabouts").inner_text() == "外出中"
    assert _status_of(first) is StayStatus.OUTING
    # Back again: an outing offers 戻り, not 外出.
    row.get_by_role("button", name="操作", exact=False).click()
    assert sheet.get_by_role("button").first.inner_text() == "戻り"
    sheet.get_by_role("button", name="戻り").click()
    page.wait_for_function(f"document.querySelector(\"tr[data-person-id='{first}']\").dataset.status === 'present'")

    # 退所 asks first; やめる changes nothing.
    row = page.locator(f"#roster-body tr[data-person-id='{second}']")
    row.get_by_role("button", name="操作", exact=False).click()
    sheet.get_by_role("button", name="退所", exact=True).click()
    assert "退所として記録します" in page.locator("#roster-sheet-text").inner_text()
    # A stray Enter lands on やめる, never on 退所する.
    assert page.evaluate("document.activeElement.id") == "roster-sheet-cancel"
    screenshot(page, "desk-roster-confirm-leave")
    sheet.get_by_role("button", name="やめる").click()
    assert sheet.is_hidden() and _status_of(second) is StayStatus.PRESENT and _rows(page) == 6
    row.get_by_role("button", name="操作", exact=False).click()
    sheet.get_by_role("button", name="退所", exact=True).click()
    sheet.get_by_role("button", name="退所する").click()
    _wait_rows(page, 5)
    assert _status_of(second) is None
    assert page.locator("#roster-total").inner_text() == "5 人"

    # 移動: the target from the list of open shelters, then a confirmation naming it.
    row = page.locator(f"#roster-body tr[data-person-id='{third}']")
    row.get_by_role("button", name="操作", exact=False).click()
    sheet.get_by_role("button", name="移動", exact=True).click()
    sheet.get_by_role("button", name="精華町立精北小学校").click()
    text = page.locator("#roster-sheet-text").inner_text()
    assert "「精華町立精北小学校」へ移動します" in text
    screenshot(page, "desk-roster-confirm-transfer")
    sheet.get_by_role("button", name="移動する").click()
    _wait_rows(page, 4)
    _db.session.rollback()
    moved = _db.session.scalars(select(Stay).where(Stay.person_id == third, Stay.checked_out_at.is_(None))).one()
    assert moved.shelter_id == town["target"].id and moved.status is StayStatus.PRESENT
    assert page.locator("#count-occupancy").inner_text() == "4"


def test_a_reload_after_an_action_keeps_every_row_shown(tablet: Any, live_server: str, client: Any, db) -> None:
    page = tablet
    town = _town(client, households=43, size=5)
    _open_roster(page, live_server, town["shelter"].id)
    page.get_by_role("button", name="もっと見る").click()
    _wait_rows(page, 215)
    last = page.locator("#roster-body tr[data-person-id]").last
    person_id = int(last.get_attribute("data-person-id"))
    last.get_by_role("button", name="操作", exact=False).click()
    page.locator("#roster-sheet").get_by_role("button", name="外出", exact=True).click()
    page.wait_for_function(
        f"document.querySelector(\"tr[data-person-id='{person_id}']\")?.dataset.status === 'outing'")
    assert _rows(page) == 215
    assert page.locator("#roster-total").inner_text() == "215 人"


def test_the_roster_in_english(tablet: Any, live_server: str, client: Any, db) -> None:
    page = tablet
    town = _town(client, households=2, size=3)
    _open_roster(page, live_server, town["shelter"].id)
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/desk/{town['shelter'].id}")
    page.wait_for_selector("#desk[data-ready='1']")
    page.locator("#tab-roster").click()
    page.wait_for_selector("#roster-body tr[data-person-id]")
    assert page.locator("#roster-total").inner_text() == "6 people"
    headers = page.locator("#panel-roster table.roster th").all_inner_texts()
    assert "Age" in headers and "Checked in" in headers
    page.locator("#roster-body tr[data-person-id]").first.get_by_role("button", name="Actions", exact=False).click()
    labels = page.locator("#roster-sheet").get_by_role("button").all_inner_texts()
    assert "Staying at home" in labels and "Sleeping in a car" in labels
    page.locator("#roster-sheet").get_by_role("button", name="Transfer", exact=True).click()
    page.locator("#roster-sheet").get_by_role("button", name="精華町立精北小学校").click()
    assert page.locator("#roster-sheet-text").inner_text().startswith("Transfer ")
    screenshot(page, "desk-roster-english-confirm")


def test_a_scan_while_the_menu_is_open_is_a_scan_and_changes_no_row(tablet: Any, live_server: str, client: Any,
                                                                    db) -> None:
    page = tablet
    town = _town(client, households=1, size=2)
    walk_in = factories.person(family_name="祝園", given_name="一郎", family_name_kana="ホウソノ", given_name_kana="イチロウ")
    payload = cards.issue_card(walk_in.id)[1]
    _open_roster(page, live_server, town["shelter"].id)
    rows = page.locator("#roster-body tr[data-person-id]")
    first, second = (int(rows.nth(i).get_attribute("data-person-id")) for i in range(2))
    # 車中泊 from the menu: the row says so, the stay too.
    page.locator(f"tr[data-person-id='{first}']").get_by_role("button", name="操作", exact=False).click()
    page.locator("#roster-sheet").get_by_role("button", name="車中泊へ").click()
    page.wait_for_function(f"document.querySelector(\"tr[data-person-id='{first}']\").dataset.status === 'in_car'")
    assert _status_of(first) is StayStatus.IN_CAR
    # The menu open on 退所's question, focus in it: a keyboard-wedge scanner types a card and Enter.
    page.locator(f"tr[data-person-id='{second}']").get_by_role("button", name="操作", exact=False).click()
    page.locator("#roster-sheet").get_by_role("button", name="退所", exact=True).click()
    page.keyboard.type(payload, delay=10)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    assert page.locator("#result-name").inner_text() == "祝園 一郎"
    assert _status_of(second) is StayStatus.PRESENT
    assert page.locator("#roster-sheet").is_hidden()
    # Back on the roster, the menu is gone and the row unchanged.
    page.get_by_role("tab", name="名簿").click()
    page.wait_for_selector("#roster-body tr[data-person-id]")
    assert page.locator("#roster-sheet").is_hidden()
    assert page.locator(f"tr[data-person-id='{second}']").get_attribute("data-status") == "present"


def test_a_check_in_made_by_mistake_is_taken_back_from_the_roster_as_a_correction(tablet: Any, live_server: str,
                                                                                   client: Any, db) -> None:
    from evac.outbox.models import OutboxEvent

    page = tablet
    town = _town(client, households=1, size=2)
    _open_roster(page, live_server, town["shelter"].id)
    wrong = int(page.locator("#roster-body tr[data-person-id]").first.get_attribute("data-person-id"))
    row = page.locator(f"#roster-body tr[data-person-id='{wrong}']")
    row.get_by_role("button", name="操作", exact=False).click()
    sheet = page.locator("#roster-sheet")
    sheet.get_by_role("button", name="受付を取り消す（誤登録）").click()
    assert "退所ではなく" in page.locator("#roster-sheet-text").inner_text()
    assert page.evaluate("document.activeElement.id") == "roster-sheet-cancel", "a stray Enter takes nothing back"
    screenshot(page, "desk-roster-confirm-correct")
    sheet.get_by_role("button", name="受付を取り消す", exact=True).click()
    _wait_rows(page, 1)
    _db.session.rollback()
    assert _db.session.scalars(select(Stay).where(Stay.person_id == wrong)).all() == [], "voided, not checked out"
    corrections = _db.session.scalars(select(OutboxEvent).where(OutboxEvent.type == "correction",
                                                                OutboxEvent.person_id == wrong)).all()
    assert len(corrections) == 1
    page.wait_for_function("() => document.getElementById('count-occupancy').textContent.trim() === '1'")
