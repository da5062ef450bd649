"""The HQ dashboard, safety inquiries and the public page in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from evac.accounts.models import Role
from evac.extensions import db as _db
from evac.people.models import Person
from evac.shelters.models import ShelterStatus
from tests import factories
from tests.browser.conftest import screenshot
from tests.hq.helpers import ALLERGY, ELDERLY, INFANT, check_in, check_out, family

pytestmark = pytest.mark.browser

# Only the live server on loopback: map tiles (OpenStreetMap) are refused, as on a machine offline.
NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


@pytest.fixture
def town(db, client: Any) -> dict[str, Any]:
    """Three open shelters around Seika, a closed one, and evacuees moved through the desk API."""
    shelters = [
        factories.shelter(name="精華町立東光小学校", capacity=20, lat=34.7436, lon=135.7823,
                          municipality_name="精華町", address="京都府相楽郡精華町祝園西1-1"),
        factories.shelter(name="精華町立精北小学校", capacity=300, lat=34.7606, lon=135.7857,
                          municipality_name="精華町", address="京都府相楽郡精華町北稲八間"),
        factories.shelter(name="けいはんなプラザ", capacity=None, lat=34.7306, lon=135.7701,
                          municipality_name="精華町", address="京都府相楽郡精華町光台1-7"),
    ]
    factories.shelter(name="精華町立川西小学校", status=ShelterStatus.CLOSED, capacity=200)
    headers = factories.bearer(factories.account(Role.HQ, username="hq-api"))
    families = [family(4, family_name="蜂須賀", family_name_kana="ハチスカ", needs=[ELDERLY, INFANT, 0, ALLERGY],
                       pets=1, consent_public=True),
                family(3, family_name="御手洗", family_name_kana="ミタライ"),
                family(5, family_name="勅使河原", family_name_kana="テシガワラ", needs=[ELDERLY] * 5),
                family(6, family_name="東海林", family_name_kana="ショウジ"),
                family(1, family_name="小鳥遊", family_name_kana="タカナシ", needs=[ELDERLY])]
    check_in(client, headers, shelters[0].id, families[0])
    check_in(client, headers, shelters[0].id, families[2])
    check_in(client, headers, shelters[0].id, families[3])
    check_in(client, headers, shelters[1].id, families[1])
    check_in(client, headers, shelters[2].id, families[4])
    check_out(client, headers, families[1][:1])  # one leaves
    check_out(client, headers, families[3][:2], reason="transfer", to_shelter_id=shelters[1].id)
    check_out(client, headers, families[0][3:], reason="in_car")
    factories.account(Role.HQ, username="hq1")
    return {"shelters": shelters, "headers": headers, "families": families}


def _login(page: Any, live_server: str, username: str) -> None:
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/login")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r".*/hq$"))  # HQ officers land on the dashboard


def _row_numbers(page: Any, shelter_id: int) -> tuple[int, int]:
    row = page.locator(f"#shelter-rows tr[data-shelter-id='{shelter_id}']")
    occupancy = int(row.locator(".fill").get_attribute("data-occupancy"))
    households = int(row.locator("td[data-col='households']").inner_text().replace(",", ""))
    return occupancy, households


def _number(page: Any, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", ""))


def test_dashboard_numbers_equal_the_api(town: dict[str, Any], client: Any, live_server: str, page: Any) -> None:
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq")
    page.wait_for_selector("#hq[data-ready='1']")
    api = client.get("/api/v1/occupancy", headers=town["headers"]).get_json()
    totals = api["totals"]
    for key in ("open_shelters", "occupancy", "households", "at_home", "in_car", "pets", "near_full", "full"):
        assert _number(page, f"#t-{key}") == totals[key], key
    assert _number(page, "#t-capacity") == totals["capacity"]
    assert _number(page, "#tn-elderly") == totals["needs"]["elderly"] == 7
    for shelter in api["shelters"]:
        assert _row_numbers(page, shelter["id"]) == (shelter["occupancy"], shelter["households"])
    # The most crowded shelter comes first (12 of 20 sleep there after the transfer and the car).
    first = page.locator("#shelter-rows tr").first
    assert first.get_attribute("data-shelter-id") == str(town["shelters"][0].id)
    assert page.locator("#trend svg").count() == 1
    assert page.locator("#map-note").is_visible()  # tiles refused: the page says so, the table stands
    screenshot(page, "hq-dashboard")

    page.get_by_label("配慮", exact=True).select_option("infant")
    page.wait_for_function("document.querySelectorAll('#shelter-rows tr[data-shelter-id]').length === 1")
    page.get_by_label("配慮", exact=True).select_option("")
    page.get_by_role("button", name="世帯", exact=True).click()
    assert page.locator("th[aria-sort='descending'] button").inner_text() == "世帯"


def test_live_refresh_shows_a_new_checkin_without_reload(town: dict[str, Any], client: Any, live_server: str,
                                                         page: Any) -> None:
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq?refresh=2")
    page.wait_for_selector("#hq[data-ready='1']")
    page.evaluate("window.__sameDocument = true")
    target = town["shelters"][1]
    before = _row_numbers(page, target.id)
    newcomers = family(3, family_name="新着", family_name_kana="シンチャク")
    check_in(client, town["headers"], target.id, newcomers)
    page.wait_for_function(
        f"document.querySelector(\"tr[data-shelter-id='{target.id}'] .fill\").dataset.occupancy === '{before[0] + 3}'",
        timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    assert _row_numbers(page, target.id) == (before[0] + 3, before[1] + 1)
    # Pushing a shelter past 80 % raises an alert without a reload.
    crowd = family(4, family_name="追加", family_name_kana="ツイカ")  # 16 of 20: 80 %
    check_in(client, town["headers"], town["shelters"][0].id, crowd)
    page.wait_for_selector("#alert-new:not([hidden])", timeout=15_000)
    assert "精華町立東光小学校" in page.locator("#alert-new").inner_text()
    screenshot(page, "hq-live-refresh")


def test_close_mark_full_and_set_capacity_from_the_page(town: dict[str, Any], live_server: str, page: Any) -> None:
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq")
    page.wait_for_selector("#hq[data-ready='1']")
    shelter = town["shelters"][1]
    page.locator(f"tr[data-shelter-id='{shelter.id}']").get_by_role("button").click()
    page.wait_for_selector("#detail:not([hidden])")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#detail-actions").get_by_role("button", name="満員にする").click()
    page.wait_for_function(f"document.querySelector(\"tr[data-shelter-id='{shelter.id}'] .badge-full\") !== null")
    page.once("dialog", lambda dialog: dialog.accept("250"))
    page.locator("#detail-actions").get_by_role("button", name="定員設定").click()
    page.wait_for_function(
        f"document.querySelector(\"tr[data-shelter-id='{shelter.id}'] .fill-text\").textContent.includes('250')")
    screenshot(page, "hq-detail")
    # Open the closed shelter from the search box.
    page.get_by_placeholder("閉鎖中の避難所を名前で検索").fill("川西")
    page.locator("#open-form").get_by_role("button", name="検索").click()
    page.wait_for_selector("#open-results li button")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#open-results li button").click()
    page.wait_for_function("[...document.querySelectorAll('#shelter-rows strong')].some(e => e.textContent.includes('川西'))")
    assert _number(page, "#t-open_shelters") == 4


def test_safety_inquiry_page(town: dict[str, Any], live_server: str, page: Any) -> None:
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq/inquiry")
    page.get_by_label("⑭ その他の人").check()
    page.get_by_label("氏名またはフリガナ（前方一致）").fill("はちすか")
    page.get_by_role("button", name="検索").click()
    page.wait_for_selector("#inquiry-results article")
    assert page.locator("#inquiry-results article.may").count() == 4  # they agreed to ⑭
    page.get_by_label("氏名またはフリガナ（前方一致）").fill("ミタライ")
    page.get_by_role("button", name="検索").click()
    page.wait_for_selector("#inquiry-results article.may-not")
    assert "回答できません" in page.locator("#inquiry-results").inner_text()
    screenshot(page, "hq-inquiry")


def test_public_page_has_no_personal_data(town: dict[str, Any], live_server: str, page: Any) -> None:
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.set_viewport_size({"width": 420, "height": 900})  # a phone
    response = page.goto(f"{live_server}/")
    assert response.headers["cache-control"].startswith("public")
    page.wait_for_selector(".public-shelter")
    html = page.content()
    _db.session.rollback()
    persons = _db.session.scalars(select(Person)).all()
    assert len(persons) == 19
    for person in persons:
        for value in (person.family_name, person.given_name, person.family_name_kana, person.given_name_kana,
                      person.birth_date.isoformat(), person.birth_date.strftime("%Y/%m/%d")):
            assert value not in html, value
    assert "けいはんなプラザ" in html and "混雑状況不明" in html and "やや混雑" in html
    assert "川西" not in html
    screenshot(page, "public")
    page.get_by_role("link", name="やさしい にほんご").click()
    page.wait_for_selector("text=ひなんじょの こみぐあい")
    screenshot(page, "public-easy")
    page.get_by_role("link", name="English").click()
    page.wait_for_selector("html[lang='en']")
    screenshot(page, "public-en")


def test_public_page_refreshes_in_place_without_reloading(town: dict[str, Any], client: Any, live_server: str,
                                                           page: Any) -> None:
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.clock.install()
    page.goto(f"{live_server}/")
    page.wait_for_selector(".public-shelter")
    assert page.locator("meta[http-equiv='refresh']").count() == 0, "no reload: it takes the reader's place"
    page.evaluate("() => { window.__notReloaded = true; }")
    seihoku = page.locator(".public-shelter", has_text="精華町立精北小学校")
    assert seihoku.locator(".level").inner_text() == "空きあり"
    # 精北 (capacity 300) fills past half: 160 more people arrive.
    for _ in range(4):
        check_in(client, town["headers"], town["shelters"][1].id, family(40, family_name="到着", family_name_kana="トウチャク"))
    page.clock.run_for(121_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.public-shelter')].some((li) => li.textContent.includes('精北')"
        " && li.querySelector('.level').textContent.trim() === 'やや混雑')")
    assert page.evaluate("() => window.__notReloaded") is True
    screenshot(page, "public-refreshed")
