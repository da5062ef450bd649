"""The public page on a phone (390×844): the list before the map, shelters with room first, a
maps link and the address per shelter, English names, furigana, and the language remembered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.shelters.models import ShelterStatus
from tests import factories
from tests.browser.conftest import screenshot
from tests.hq.helpers import check_in, family

pytestmark = pytest.mark.browser


@pytest.fixture
def shelters(client: FlaskClient, db: Any) -> dict[str, Any]:
    """Four open shelters, one of each kind of place in the order: room, crowded, unknown, full."""
    full = factories.shelter(name="精華町立川西小学校", name_kana="セイカチョウリツカワニシショウガッコウ",
                             status=ShelterStatus.FULL, capacity=200, lat=34.77, lon=135.78)
    unknown = factories.shelter(name="むくのきセンター", name_kana="ムクノキセンター", capacity=None,
                                address=None, lat=34.75, lon=135.76)
    crowded = factories.shelter(name="精華町立東光小学校", name_kana="セイカチョウリツトウコウショウガッコウ",
                                capacity=20, address="京都府相楽郡精華町祝園西1-1", lat=34.76, lon=135.79)
    room = factories.shelter(name="精華町役場", name_kana="セイカチョウヤクバ", name_en="Seika Town Hall",
                             capacity=300, address="京都府相楽郡精華町南稲八妻北尻70", lat=34.758, lon=135.786)
    headers = factories.bearer(factories.account(Role.HQ))
    check_in(client, headers, crowded.id, family(17))  # 17 / 20: 混雑
    check_in(client, headers, room.id, family(2))
    return {"full": full, "unknown": unknown, "crowded": crowded, "room": room}


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """A phone-sized page (iPhone 14-like viewport, touch), Japanese locale."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _names(page: Any) -> list[str]:
    return page.locator(".public-shelter h2").all_inner_texts()


def test_on_a_phone_the_list_comes_first_with_room_first(shelters: dict[str, Any], live_server: str,
                                                       phone: Any) -> None:
    phone.goto(f"{live_server}/")
    assert phone.locator("h1").inner_text() == "避難所の混雑状況"
    assert _names(phone) == ["精華町役場", "精華町立東光小学校", "むくのきセンター", "精華町立川西小学校"]
    assert phone.locator(".public-shelter .level").all_inner_texts() == [
        "空きあり", "混雑", "混雑状況不明（定員未登録）", "満員"]
    # Before the map in the document and on the screen.
    list_box = phone.locator(".public-list").bounding_box()
    map_box = phone.locator("#public-map").bounding_box()
    assert list_box["y"] + list_box["height"] <= map_box["y"]
    assert phone.evaluate("""() => {
        const list = document.querySelector('.public-list'), map = document.getElementById('public-map');
        return Boolean(list.compareDocumentPosition(map) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    first = phone.locator(".public-shelter").first
    assert first.locator(".address").inner_text() == "京都府相楽郡精華町南稲八妻北尻70"
    link = first.locator("a.maps-link")
    assert link.get_attribute("href") == "https://www.google.com/maps/search/?api=1&query=34.758000,135.786000"
    assert link.inner_text().startswith("地図アプリで開く")
    # A shelter without an address shows no empty line, but still its maps link (by its place).
    no_address = phone.locator(".public-shelter", has_text="むくのきセンター")
    assert no_address.locator(".address").count() == 0
    assert no_address.locator("a.maps-link").get_attribute("href").endswith("query=34.750000,135.760000")
    # Nothing is wider than the phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "public-phone-ja")


def test_english_names_furigana_and_the_language_remembered(shelters: dict[str, Any], live_server: str,
                                                           phone: Any) -> None:
    phone.goto(f"{live_server}/")
    phone.get_by_role("link", name="English").click()
    phone.wait_for_url("**/?lang=en")
    assert phone.locator("h1").inner_text() == "Shelters: how crowded they are"
    # The romanised name where the town's list gives one, the Japanese name beside it; else Japanese.
    assert phone.locator(".public-shelter h2").first.inner_text().startswith("Seika Town Hall")
    assert "精華町立東光小学校" in _names(phone)
    screenshot(phone, "public-phone-en")

    # The bare address again (a bookmark, the poster's QR code): English at the first render.
    phone.goto(f"{live_server}/")
    assert phone.locator("h1").inner_text() == "Shelters: how crowded they are"
    assert phone.locator("html").get_attribute("lang") == "en"

    phone.get_by_role("link", name="やさしい にほんご").click()
    phone.wait_for_url("**/?lang=easy")
    ruby = phone.locator(".public-shelter h2 ruby").first
    assert ruby.locator("rt").inner_text() == "せいかちょうやくば"
    phone.reload()
    phone.goto(f"{live_server}/")
    assert phone.locator("h1").inner_text() == "ひなんじょの こみぐあい"
    screenshot(phone, "public-phone-easy")

    phone.get_by_role("link", name="日本語").click()
    phone.wait_for_url("**/?lang=ja")
    phone.goto(f"{live_server}/")
    assert phone.locator("h1").inner_text() == "避難所の混雑状況"
    assert phone.locator(".public-shelter h2 ruby").count() == 0


def test_on_a_tablet_the_map_is_above_the_list(shelters: dict[str, Any], live_server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/")
        map_box = page.locator("#public-map").bounding_box()
        list_box = page.locator(".public-list").bounding_box()
        assert map_box["y"] + map_box["height"] <= list_box["y"]
        assert _names(page)[0] == "精華町役場"
        screenshot(page, "public-tablet")
    finally:
        context.close()
