"""The public page: open shelters with a crowding level, no personal data, no counts, cacheable."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.hq.public import SMALL_COUNT, Crowding, crowding, furigana
from evac.shelters.models import ShelterStatus
from tests import factories
from tests.hq.helpers import check_in, family


@pytest.mark.parametrize(("status", "occupancy", "capacity", "level"), [
    (ShelterStatus.OPEN, 0, 100, Crowding.AVAILABLE),
    (ShelterStatus.OPEN, 49, 100, Crowding.AVAILABLE),
    (ShelterStatus.OPEN, 50, 100, Crowding.BUSY),
    (ShelterStatus.OPEN, 80, 100, Crowding.CROWDED),
    (ShelterStatus.OPEN, 100, 100, Crowding.FULL),
    (ShelterStatus.OPEN, 130, 100, Crowding.FULL),
    (ShelterStatus.FULL, 3, 100, Crowding.FULL),  # HQ's decision, not a count
    (ShelterStatus.OPEN, 5, None, Crowding.UNKNOWN),
    (ShelterStatus.OPEN, 500, 0, Crowding.UNKNOWN),
    # Fewer than SMALL_COUNT people never show as anything but 空きあり, however small the shelter.
    (ShelterStatus.OPEN, 1, 2, Crowding.AVAILABLE),
    (ShelterStatus.OPEN, SMALL_COUNT - 1, SMALL_COUNT, Crowding.AVAILABLE),
    (ShelterStatus.OPEN, SMALL_COUNT, SMALL_COUNT, Crowding.FULL),
])
def test_crowding_levels(status: ShelterStatus, occupancy: int, capacity: int | None, level: Crowding) -> None:
    assert crowding(status, occupancy, capacity) is level


def _page(client: FlaskClient, query: str = "") -> tuple[str, object]:
    response = client.get("/" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True), response


def test_page_shows_levels_but_no_personal_data_and_no_counts(client: FlaskClient, db) -> None:
    busy = factories.shelter(name="精華町立東光小学校", capacity=20, address="京都府相楽郡精華町祝園西1-1")
    quiet = factories.shelter(name="精華町立精北小学校", capacity=300)
    factories.shelter(name="閉鎖中の公民館", status=ShelterStatus.CLOSED)
    headers = factories.bearer(factories.account(Role.HQ))
    residents = family(12, family_name="蜂須賀", family_name_kana="ハチスカ")
    check_in(client, headers, busy.id, residents)  # 12 / 20: やや混雑
    loner = family(1, family_name="御手洗", family_name_kana="ミタライ")
    check_in(client, headers, quiet.id, loner)

    html, response = _page(client)
    assert "精華町立東光小学校" in html and "祝園西1-1" in html and "閉鎖中の公民館" not in html
    assert "やや混雑" in html and "空きあり" in html
    for word in ("蜂須賀", "ハチスカ", "御手洗", "ミタライ", "家族0", "カゾク", "1980-01-02", "1980"):
        assert word not in html, word
    # No counts: neither 12 nor 1 (nor the capacity) appears as a number of people.
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", " ", text)  # the page's own "as of" time
    assert not re.search(r"\b12\b", text) and "20人" not in text

    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert "Set-Cookie" not in response.headers
    assert 'name="csrf-token"' not in html


def test_three_languages(client: FlaskClient, db) -> None:
    factories.shelter(name="精華町役場", capacity=100)
    easy, _ = _page(client, "?lang=easy")
    assert "あいて います" in easy and "やさしい にほんご" in easy
    english, _ = _page(client, "?lang=en")
    assert '<html lang="en">' in english
    japanese, _ = _page(client, "?lang=xx")
    assert '<html lang="ja">' in japanese and "空きあり" in japanese


def test_a_signed_in_browser_gets_a_private_copy(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq1")
    client.post("/login", data={"username": "hq1", "password": factories.PASSWORD, "csrf_token": _csrf(client)})
    _html, response = _page(client)
    assert response.headers["Cache-Control"].startswith("private")
    assert "Set-Cookie" not in response.headers


def _csrf(client: FlaskClient) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_public_list_is_paged_in_the_database(db, monkeypatch) -> None:
    from evac.hq import public

    monkeypatch.setattr(public, "PAGE_SIZE", 3)
    for i in range(7):
        factories.shelter(name=f"頁{i}", name_kana=f"ページ{i}")
    first, pages = public.open_shelters(1)
    last, _ = public.open_shelters(99)  # past the end: the last page
    assert pages == 3 and [s["name"] for s in first] == ["頁0", "頁1", "頁2"] and [s["name"] for s in last] == ["頁6"]


def test_name_en_in_the_api_and_on_the_english_page(client: FlaskClient, db) -> None:
    named = factories.shelter(name="精華町役場", name_en="Seika Town Hall")
    unnamed = factories.shelter(name="むくのきセンター")
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.get("/api/v1/shelters", headers=headers)
    assert response.status_code == 200
    by_id = {s["id"]: s for s in response.get_json()["items"]}
    assert (by_id[named.id]["name_en"], by_id[unnamed.id]["name_en"]) == ("Seika Town Hall", None)

    english, _ = _page(client, "?lang=en")
    headings = re.findall(r"<h2>(.*?)</h2>", english, re.S)
    assert any(h.startswith("Seika Town Hall ") and "精華町役場" in h for h in headings)
    assert "むくのきセンター" in headings  # the Japanese name where the list gives no English one
    japanese, _ = _page(client, "?lang=ja")
    assert "精華町役場" in re.findall(r"<h2>(.*?)</h2>", japanese, re.S)


def test_room_first_full_last_and_the_cookie_language(client: FlaskClient, db) -> None:
    full = factories.shelter(name="満員の小学校", name_kana="ア", status=ShelterStatus.FULL)
    unknown = factories.shelter(name="定員不明の公民館", name_kana="イ", capacity=None)
    room = factories.shelter(name="空きのある中学校", name_kana="ウ", capacity=300)
    html, _ = _page(client)
    order = [html.index(s.name) for s in (room, unknown, full)]
    assert order == sorted(order)
    assert "https://www.google.com/maps/search/?api=1&amp;query=34.740000,135.750000" in html

    client.set_cookie("evac_public_lang", "easy")
    easy, response = _page(client)
    assert "ひなんじょの こみぐあい" in easy and "<rt>う</rt>" in easy
    assert response.headers["Cache-Control"].startswith("private")  # a cookie's page is never shared
    client.set_cookie("evac_public_lang", "klingon")
    assert "避難所の混雑状況" in _page(client)[0]


def test_furigana_is_hiragana() -> None:
    assert furigana("セイカチョウリツホウソノウンドウコウエン") == "せいかちょうりつほうそのうんどうこうえん"
    assert furigana("ムクノキセンター") == "むくのきせんたー"
    assert furigana("") is None and furigana(None) is None
