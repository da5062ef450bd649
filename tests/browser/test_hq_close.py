"""Closing a shelter from the HQ page on a tablet, both ways up: refused while people are there,
everyone moved to a shelter the officer chooses, then closed; 満員にする from the alert; the 操作
column and the town's name stay on screen."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evac.accounts.models import Role
from evac.shelters.models import ShelterKind, ShelterStatus
from tests import factories
from tests.browser.conftest import screenshot
from tests.hq.helpers import ELDERLY, check_in, check_out, family

pytestmark = pytest.mark.browser

NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
VIEWPORTS = pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])


@pytest.fixture
def town(db: Any, client: Any) -> dict[str, Any]:
    """東光小 holds 6 people (past its capacity of 5, still 「開設」), 精北小 has room, 川西小 is closed."""
    source = factories.shelter(name="精華町立東光小学校", name_kana="セイカチョウリツトウコウショウガッコウ",
                               capacity=5, municipality_name="精華町")
    target = factories.shelter(name="精華町立精北小学校", name_kana="セイカチョウリツセイホクショウガッコウ",
                               capacity=300, municipality_name="精華町")
    other = factories.shelter(name="けいはんなプラザ", name_kana="ケイハンナプラザ", capacity=None,
                              municipality_name="精華町")
    headers = factories.bearer(factories.account(Role.HQ, username="hq-api"))
    first = family(4, family_name="蜂須賀", family_name_kana="ハチスカ", needs=[ELDERLY, 0, 0, 0], pets=1)
    second = family(2, family_name="御手洗", family_name_kana="ミタライ")
    third = family(3, family_name="勅使河原", family_name_kana="テシガワラ")
    check_in(client, headers, source.id, first)
    check_in(client, headers, source.id, second)
    check_in(client, headers, target.id, third)
    check_out(client, headers, second[:1], reason="outing")
    factories.account(Role.HQ, username="hq1")
    return {"source": source, "target": target, "other": other, "headers": headers}


def _login(page: Any, live_server: str, viewport: dict[str, int]) -> None:
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/login")
    page.get_by_label("ユーザー名").fill("hq1")
    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r".*/hq$"))
    page.wait_for_selector("#hq[data-ready='1']")


def _number(page: Any, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", ""))


def _row_occupancy(page: Any, shelter_id: int) -> int:
    return int(page.locator(f"#shelter-rows tr[data-shelter-id='{shelter_id}'] .fill").get_attribute("data-occupancy"))


def _inside_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5


@VIEWPORTS
def test_close_is_refused_then_everyone_moves_and_it_closes(town: dict[str, Any], live_server: str, page: Any,
                                                            viewport: dict[str, int]) -> None:
    _login(page, live_server, viewport)
    source, target = town["source"], town["target"]
    occupancy, open_shelters = _number(page, "#t-occupancy"), _number(page, "#t-open_shelters")
    assert (occupancy, open_shelters) == (9, 3)

    row = page.locator(f"#shelter-rows tr[data-shelter-id='{source.id}']")
    select_button = row.get_by_role("button", name="選択")
    assert _inside_viewport(page, select_button)  # the 操作 column is on screen, upright too
    select_button.click()
    page.wait_for_selector("#detail:not([hidden])")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#detail-actions").get_by_role("button", name="閉鎖").click()

    # Refused, saying how many are there; nothing has changed.
    page.wait_for_selector("#detail-move:not([hidden])")
    refusal = page.locator("#detail-move-text").inner_text()
    assert "6 人" in refusal and "精華町立東光小学校" in refusal
    page.wait_for_timeout(300)
    assert _number(page, "#t-occupancy") == occupancy and _number(page, "#t-open_shelters") == open_shelters
    assert _row_occupancy(page, source.id) == 6
    move = page.locator("#detail-move-button")
    assert move.is_disabled()  # no shelter is chosen for the officer
    screenshot(page, f"hq-close-refused-{viewport['width']}x{viewport['height']}")

    page.get_by_label("移動先の避難所").select_option(str(target.id))
    assert move.inner_text() == "全員を精華町立精北小学校へ移動"
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    move.click()
    page.wait_for_function(
        f"document.querySelector(\"tr[data-shelter-id='{source.id}'] .fill\").dataset.occupancy === '0'")
    assert "6 人全員を 精華町立精北小学校 へ移動します" in messages[0]
    assert _row_occupancy(page, target.id) == 3 + 6
    assert _number(page, "#t-occupancy") == occupancy  # nobody dropped out of the counts
    assert "6 人を" in page.locator("#alert-new").inner_text()
    assert page.locator("#detail-move").is_hidden()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#detail-actions").get_by_role("button", name="閉鎖").click()
    page.wait_for_function(f"!document.querySelector(\"tr[data-shelter-id='{source.id}']\")")
    assert _number(page, "#t-open_shelters") == open_shelters - 1
    assert _number(page, "#t-occupancy") == occupancy
    screenshot(page, f"hq-close-done-{viewport['width']}x{viewport['height']}")


@VIEWPORTS
def test_mark_full_from_the_alert(town: dict[str, Any], live_server: str, page: Any,
                                  viewport: dict[str, int]) -> None:
    _login(page, live_server, viewport)
    source = town["source"]
    alert = page.locator(f"#alert-list li[data-shelter-id='{source.id}']")
    assert "満員" in alert.inner_text()
    assert page.locator(f"tr[data-shelter-id='{source.id}'] .badge").inner_text() == "開設"
    mark = alert.get_by_role("button", name="満員にする")
    page.once("dialog", lambda dialog: dialog.accept())
    mark.click()
    page.wait_for_selector(f"tr[data-shelter-id='{source.id}'] .badge-full")
    assert alert.get_by_role("button", name="満員にする").count() == 0  # marked: the action is done
    # Other shelters are untouched; the one with room raises no alert.
    assert page.locator(f"tr[data-shelter-id='{town['target'].id}'] .badge").inner_text() == "開設"
    screenshot(page, f"hq-alert-full-{viewport['width']}x{viewport['height']}")


@VIEWPORTS
def test_header_keeps_the_town_and_the_operations_column_stays_visible(
        town: dict[str, Any], live_server: str, page: Any, viewport: dict[str, int]) -> None:
    _login(page, live_server, viewport)
    assert page.locator("header .brand").inner_text().startswith("evac 精華町")
    assert "精華町" in page.title()
    header = page.locator("#shelters thead th").last
    assert header.inner_text() == "操作"
    assert _inside_viewport(page, header)
    for shelter_id in (town["source"].id, town["target"].id, town["other"].id):
        assert _inside_viewport(page, page.locator(f"tr[data-shelter-id='{shelter_id}'] td").last)


def test_open_search_tells_same_named_shelters_apart(town: dict[str, Any], live_server: str, page: Any) -> None:
    closed = ShelterStatus.CLOSED
    factories.shelter(name="精華町立川西小学校", name_kana="セイカチョウリツカワニシショウガッコウ", status=closed,
                      code="KAWANISHI-A", kind=ShelterKind.EVACUATION)
    factories.shelter(name="精華町立川西小学校", name_kana="セイカチョウリツカワニシショウガッコウ", status=closed,
                      code="KAWANISHI-B", kind=ShelterKind.EMERGENCY)
    _login(page, live_server, PORTRAIT)
    page.get_by_placeholder("閉鎖中の避難所を名前で検索").fill("川西")
    page.locator("#open-form").get_by_role("button", name="検索").click()
    page.wait_for_selector("#open-results li button")
    items = page.locator("#open-results li")
    assert items.count() == 2
    texts = [items.nth(i).inner_text() for i in range(2)]
    assert any("指定避難所" in t and "KAWANISHI-A" in t for t in texts)
    assert any("指定緊急避難場所" in t and "KAWANISHI-B" in t for t in texts)
    screenshot(page, "hq-open-search-twins")
