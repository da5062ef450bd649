"""The desk page with a paired card reader, in Chromium: pairing, reads shown as scans, the flows after a read.

The reader here is the test client speaking the reader's HTTP contract (the emulated hardware runs
in tests/readers/test_end_to_end.py); the keyboard-wedge and BroadcastChannel paths are checked too.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts.models import Role
from evac.cards.models import ICCard
from evac.extensions import db as _db
from evac.people.models import Person
from evac.readers.models import CardReader, ReaderRead, ReadState
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import open_desk

pytestmark = pytest.mark.browser

CARD = {"name": "精華　花子", "address": "京都府相楽郡精華町光台７丁目４３番地", "birth_date": "19800102", "sex": "2"}


@pytest.fixture
def desk(db: Any, live_server: str, page: Any) -> dict[str, Any]:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300)
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    open_desk(page, live_server, shelter.id)
    return {"shelter": shelter}


def _pair(page: Any, client: Any, name: str = "東光小 受付1") -> dict[str, Any]:
    """Show a code on the desk page and pair a reader with it, as `evac-reader pair` does."""
    page.get_by_role("button", name="カードリーダーを接続").click()
    page.wait_for_selector("#reader-code:not([hidden])")
    code = page.locator("#reader-code-text").inner_text()
    assert "evac-reader pair " + code + " --server http://127.0.0.1:" in page.locator("#reader-command").inner_text()
    response = client.post("/api/v1/readers/pair", json={"code": code, "name": name})
    assert response.status_code == 201, response.get_json()
    page.wait_for_selector("#reader[data-readers='1']", timeout=5000)
    return dict(response.get_json())


def _read(client: Any, token: str, **read: Any) -> str:
    read_id = str(uuid.uuid4())
    response = client.post("/api/v1/readers/reads", json={"read_id": read_id, **read},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.get_json()
    return read_id


def _wait_checked_in(page: Any) -> None:
    page.wait_for_function("document.querySelector('.alert-ok') && "
                           "document.getElementById('alert').textContent.includes('受付しました')")


def _family() -> list[Person]:
    home = factories.household(number="H-0001", district="光台")
    return [factories.person(household_id=home.id, family_name="精華", given_name=g, family_name_kana="セイカ",
                             given_name_kana=k, address="京都府相楽郡精華町光台7丁目43番地", birth_date=b)
            for g, k, b in (("花子", "ハナコ", date(1980, 1, 2)),
                            ("太郎", "タロウ", date(1978, 5, 6)))]


def test_pairing_from_the_desk_then_a_read_shows_the_household(desk: dict[str, Any], page: Any, client: Any) -> None:
    family = _family()
    assert page.locator("#reader-state").inner_text() == "カードリーダー: 未接続"
    page.get_by_role("button", name="カードリーダーを接続").click()
    page.wait_for_selector("#reader-code:not([hidden])")
    screenshot(page, "desk-reader-code")
    code = page.locator("#reader-code-text").inner_text()
    paired = client.post("/api/v1/readers/pair", json={"code": code.lower().replace("-", ""), "name": "東光小 受付1"})
    assert paired.status_code == 201
    page.wait_for_selector("#reader[data-readers='1']", timeout=5000)
    assert page.locator("#reader-code").is_hidden(), "a used code is not shown any more"
    assert page.locator("#reader-state").inner_text() == "カードリーダー接続中（1 台）"
    assert "東光小 受付1" in page.locator("#reader-list").inner_text()
    assert "カードリーダー「東光小 受付1」を接続しました" in page.locator("#alert").inner_text()

    started = time.monotonic()
    read_id = _read(client, paired.get_json()["token"], type="mynumber", card=CARD)
    page.wait_for_selector("#scan-result:not([hidden])", timeout=5000)
    assert time.monotonic() - started < 2.5, "a read reaches the desk within about a second"
    assert page.locator("#result-name").inner_text() == "精華 花子"
    assert page.locator("#members li").count() == 2
    page.wait_for_function("!document.getElementById('reader-list').textContent.includes('読み取りなし')")
    assert "最終読み取り" in page.locator("#reader-list").inner_text()
    screenshot(page, "desk-reader-household")
    page.get_by_role("button", name="チェックイン").click()
    _wait_checked_in(page)
    _db.session.rollback()
    stays = _db.session.scalars(select(Stay)).all()
    assert sorted(s.person_id for s in stays) == sorted(p.id for p in family)
    assert {s.method.value for s in stays} == {"mynumber"}
    # Delivered and acknowledged: the read's data is gone from the server.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _db.session.rollback()
        read = _db.session.scalars(select(ReaderRead).where(ReaderRead.read_id == read_id)).one()
        if read.state is ReadState.DELIVERED:
            break
        time.sleep(0.2)
    assert read.state is ReadState.DELIVERED and read.payload is None


def test_an_unmatched_card_opens_the_walk_in_form_prefilled(desk: dict[str, Any], page: Any, client: Any) -> None:
    token = _pair(page, client)["token"]
    _read(client, token, type="mynumber", card={"name": "新規　太郎", "address": "京都府相楽郡精華町精華台９丁目２番",
                                                "birth_date": "19900506", "sex": "9"})
    page.wait_for_selector("#panel-walkin:not([hidden])", timeout=5000)
    assert page.locator("#w-family").input_value() == "新規"
    assert page.locator("#w-given").input_value() == "太郎"
    assert page.locator("#w-birth").input_value() == "1990-05-06"
    assert page.locator("#w-sex").input_value() == "other"
    assert page.locator("#w-address").input_value() == "京都府相楽郡精華町精華台9丁目2番"
    assert page.evaluate("document.activeElement.id") == "w-family-kana"
    assert "登録がありません" in page.locator("#alert").inner_text()
    screenshot(page, "desk-reader-walkin-prefilled")
    page.get_by_label("氏（フリガナ）").fill("しんき")
    page.get_by_label("名（フリガナ）").fill("たろう")
    page.get_by_role("button", name="登録してチェックイン").click()
    _wait_checked_in(page)
    _db.session.rollback()
    person = _db.session.scalars(select(Person)).one()
    assert (person.family_name, person.given_name, person.family_name_kana) == ("新規", "太郎", "シンキ")
    assert person.sex.value == "other" and person.birth_date.isoformat() == "1990-05-06"


def test_several_matches_offer_the_candidates(desk: dict[str, Any], page: Any, client: Any) -> None:
    twins = [factories.person(family_name="精華", given_name="花子", address="京都府相楽郡精華町光台7丁目43番地",
                              birth_date=date(1980, 1, 2)) for _ in range(2)]
    token = _pair(page, client)["token"]
    _read(client, token, type="mynumber", card=CARD)
    page.wait_for_selector("#candidates:not([hidden])", timeout=5000)
    assert page.get_by_role("button", name="この人で受付").count() == 2
    page.get_by_role("button", name="この人で受付").nth(1).click()
    _wait_checked_in(page)
    _db.session.rollback()
    assert _db.session.scalars(select(Stay.person_id)).all() == [twins[1].id]


def test_an_ic_card_first_tap_links_to_a_person_found_by_search(desk: dict[str, Any], page: Any, client: Any) -> None:
    person = factories.person(family_name="祝園", given_name="一郎", family_name_kana="ホウソノ", given_name_kana="イチロウ")
    token = _pair(page, client)["token"]
    _read(client, token, type="ic", uid="012E4C7A11223344")
    page.wait_for_selector("#link-ic:not([hidden])", timeout=5000)
    assert not page.locator("#panel-roster").is_hidden()
    page.get_by_placeholder("名前・フリガナで検索").fill("ほうその")
    page.get_by_role("button", name="検索").click()
    page.wait_for_selector("#roster-body tr[data-person-id]")
    screenshot(page, "desk-reader-ic-link")
    page.get_by_role("button", name="このICカードで受付").click()
    _wait_checked_in(page)
    _db.session.rollback()
    assert _db.session.scalars(select(ICCard.person_id)).all() == [person.id]
    assert page.locator("#link-ic").is_hidden()
    # The second tap is one scan.
    page.get_by_role("tab", name="カード読み取り").click()
    _read(client, token, type="ic", uid="012E4C7A11223344")
    page.wait_for_selector("#scan-result:not([hidden])", timeout=5000)
    assert page.locator("#result-name").inner_text() == "祝園 一郎"


def test_staff_revoke_the_desk_reader_and_the_desk_stops_asking(desk: dict[str, Any], page: Any, client: Any) -> None:
    paired = _pair(page, client)
    screenshot(page, "desk-reader-paired")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/api/v1/readers/desk-reads") else None)
    page.wait_for_timeout(2500)
    assert 2 <= len(polls) <= 4, f"about one poll a second while paired ({len(polls)})"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="接続を解除").click()
    page.wait_for_selector("#reader[data-readers='0']")
    assert "接続を解除しました" in page.locator("#alert").inner_text()
    _db.session.rollback()
    assert _db.session.get(CardReader, paired["reader_id"]).revoked_at is not None
    refused = client.post("/api/v1/readers/reads", headers={"Authorization": f"Bearer {paired['token']}"},
                          json={"read_id": str(uuid.uuid4()), "type": "ic", "uid": "0102"})
    assert refused.status_code == 401
    polls.clear()
    page.wait_for_timeout(2500)
    assert polls == [], "no reader, no polling"


def test_a_desk_without_a_reader_never_polls_and_the_pairing_survives_a_reload(desk: dict[str, Any], page: Any,
                                                                                client: Any) -> None:
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/api/v1/readers/desk-reads") else None)
    page.reload()
    page.wait_for_selector("#desk[data-ready='1']")
    page.wait_for_timeout(2500)
    assert len(polls) == 1, "one look at load, then nothing"
    desk_id = page.locator("#desk").get_attribute("data-desk-id")
    _pair(page, client)
    page.reload()
    page.wait_for_selector("#reader[data-readers='1']", timeout=5000)
    assert page.locator("#desk").get_attribute("data-desk-id") == desk_id


def test_keyboard_wedge_and_broadcast_channel_lines_still_work(desk: dict[str, Any], page: Any, live_server: str) -> None:
    _family()
    page.locator("#scan").focus()
    page.keyboard.insert_text(json.dumps({"type": "mynumber", "card": CARD}, ensure_ascii=False))
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    assert page.locator("#result-name").inner_text() == "精華 花子"
    page.reload()
    page.wait_for_selector("#desk[data-ready='1']")
    bridge = page.context.new_page()
    bridge.goto(f"{live_server}/desk/bridge")
    bridge.get_by_role("button", name="受付画面へ送る").first.click()
    page.wait_for_selector("#scan-result:not([hidden])")
    assert page.locator("#result-name").inner_text() == "精華 花子"
    bridge.close()
