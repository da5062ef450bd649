"""Walk-in families on a tablet: 「家族を追加」 on the paper-card form, and a scanned household extended."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts.models import Role
from evac.cards import service as cards
from evac.extensions import db as _db
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import open_desk

pytestmark = pytest.mark.browser

LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}


@pytest.fixture(params=[LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def tablet(browser: Any, live_server: str, db: Any, request: Any) -> Iterator[dict[str, Any]]:
    """The desk of a shelter, logged in as its staff, on a tablet held either way."""
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300)
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    context = browser.new_context(viewport=request.param, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    open_desk(page, live_server, shelter.id)
    yield {"page": page, "shelter": shelter, "name": request.node.callspec.id}
    context.close()


def _fill_member(block: Any, given: str, kana: str, relationship: str, birth: str, sex: str,
                 need: str | None = None) -> None:
    block.locator("[data-field=given_name]").fill(given)
    block.locator("[data-field=given_name_kana]").press_sequentially(kana)
    block.locator("[data-field=relationship]").fill(relationship)
    block.locator("[data-field=birth_date]").fill(birth)
    block.locator("[data-field=sex]").select_option(sex)
    if need:
        block.locator(f"[data-field=needs][value={need}]").check()


def _persons() -> list[Person]:
    _db.session.rollback()
    return list(_db.session.scalars(select(Person).order_by(Person.id)))


def test_a_family_of_three_is_typed_in_and_checked_in_together(tablet: dict[str, Any]) -> None:
    page, shelter = tablet["page"], tablet["shelter"]
    page.get_by_role("tab", name="避難者カード入力").click()
    page.locator("#w-family").fill("岩田")
    page.locator("#w-given").fill("哲也")
    page.locator("#w-family-kana").fill("イワタ")
    page.locator("#w-given-kana").fill("テツヤ")
    page.locator("#w-birth").fill("1975-04-01")
    page.locator("#w-sex").select_option("male")
    page.locator("#w-relationship").fill("世帯主")
    page.locator("#w-address").fill("京都府相楽郡精華町光台7-43")
    assert page.locator("#walkin-joining").is_hidden(), "a new household unless one was scanned"
    for _ in range(3):
        page.get_by_role("button", name="家族を追加").click()
    blocks = page.locator("#family-list > li")
    assert blocks.count() == 3
    # The focus went to the new member's 名; each block's labels name its own fields.
    assert page.evaluate("document.activeElement.dataset.field") == "given_name"
    blocks.nth(1).get_by_role("button", name="削除").click()  # one too many
    assert blocks.count() == 2 and blocks.nth(1).locator(".family-number").inner_text() == "2"
    _fill_member(blocks.nth(0), "恵子", "ｹｲｺ", "妻", "昭和52年5月6日", "female", "allergy")
    _fill_member(blocks.nth(1), "翔", "ショウ", "子", "2024-02-03", "male", "infant")
    # Half-width kana typed into a member's field is folded as the holder's is.
    assert blocks.nth(0).locator("[data-field=given_name_kana]").input_value() == "ケイコ"
    assert blocks.nth(0).get_by_label("名（フリガナ）").count() == 1
    screenshot(page, f"desk-family-form-{tablet['name']}")
    page.get_by_role("button", name="登録してチェックイン").click()
    page.wait_for_selector(".alert-ok")
    assert "3 名を受付しました" in page.locator("#alert").inner_text()
    assert page.locator("#count-occupancy").inner_text() == "3"
    assert page.locator("#family-list > li").count() == 0, "the form is empty for the next family"
    # Each of them gets a QR card, so their next visit is one scan.
    assert page.locator("#walkin-card .button").all_inner_texts() == [
        "岩田 哲也 さんのQRカードを印刷", "岩田 恵子 さんのQRカードを印刷", "岩田 翔 さんのQRカードを印刷"]
    screenshot(page, f"desk-family-checked-in-{tablet['name']}")
    persons = _persons()
    assert [p.given_name for p in persons] == ["哲也", "恵子", "翔"] and len({p.household_id for p in persons}) == 1
    assert [p.relationship_to_head for p in persons] == ["世帯主", "妻", "子"]
    assert len(list(_db.session.scalars(select(Stay).where(Stay.shelter_id == shelter.id)))) == 3
    page.get_by_role("tab", name="名簿").click()
    page.wait_for_selector("#roster-body tr")
    assert page.locator("#roster-body tr").count() == 3
    screenshot(page, f"desk-family-roster-{tablet['name']}")


def test_a_scanned_household_is_extended_with_a_walk_in_member(tablet: dict[str, Any]) -> None:
    page, shelter = tablet["page"], tablet["shelter"]
    home = factories.household(number="H-0001", district="光台")
    head = factories.person(household_id=home.id, family_name="岩田", given_name="哲也", family_name_kana="イワタ",
                            given_name_kana="テツヤ", address="京都府相楽郡精華町光台7-43")
    payload = cards.issue_card(head.id)[1]
    assert page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type(payload)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    page.get_by_role("button", name="チェックイン").click()
    page.wait_for_selector(".alert-ok")
    # The same card again: the household, now with 「家族を追加」.
    page.keyboard.type(payload)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    screenshot(page, f"desk-household-add-member-{tablet['name']}")
    page.get_by_role("button", name="家族を追加").click()
    assert page.locator("#walkin-joining").inner_text().startswith("岩田 哲也 さんの世帯に追加")
    assert page.locator("#w-family").input_value() == "岩田"
    assert page.locator("#w-address").input_value() == "京都府相楽郡精華町光台7-43"
    page.locator("#w-given").fill("トメ")
    page.locator("#w-given-kana").fill("トメ")
    page.locator("#w-birth").fill("S15.1.1")
    page.locator("#w-sex").select_option("female")
    page.locator("#w-relationship").fill("母")
    page.get_by_role("button", name="家族を追加").click()
    block = page.locator("#family-list > li").nth(0)
    _fill_member(block, "翔", "ショウ", "孫", "2024-02-03", "male")
    # A keyboard-wedge scan typed while a member's field has the focus is a new scan, not text in the field.
    field = block.locator("[data-field=allergy]")
    field.focus()
    # A person's last key and a scanner's first are more than a burst's pause apart (wedge.js PAUSE_MS).
    page.wait_for_timeout(300)
    page.keyboard.type(payload, delay=10)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result:not([hidden])")
    assert field.input_value() == ""
    page.get_by_role("tab", name="避難者カード入力").click()
    assert page.locator("#walkin-joining").is_visible(), "still adding to the household"
    screenshot(page, f"desk-walkin-joining-{tablet['name']}")
    page.get_by_role("button", name="登録してチェックイン").click()
    page.wait_for_selector(".alert-ok")
    assert page.locator("#count-occupancy").inner_text() == "3"
    assert page.locator("#count-households").inner_text() == "1"
    persons = _persons()
    assert len(persons) == 3 and {p.household_id for p in persons} == {home.id}
    _db.session.rollback()
    assert len(list(_db.session.scalars(select(Stay).where(Stay.shelter_id == shelter.id)))) == 3
    screenshot(page, f"desk-household-extended-{tablet['name']}")
