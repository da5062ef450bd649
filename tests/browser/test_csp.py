"""Every page works under the Content-Security-Policy the app sends, without 'unsafe-inline' for
scripts: page scripts are ES modules from /static, configuration sits in JSON blocks, no inline
handlers; and a shelter name from an imported file shows as text, never as markup that runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bench.camera_frames import Shot
from evac.accounts.models import Role
from evac.app import CONTENT_SECURITY_POLICY
from evac.cards import service as cards
from evac.shelters.importers import import_shelters_bytes
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.fake_camera import camera_browser, write_card_video
from tests.browser.pages import log_in

pytestmark = pytest.mark.browser

NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
REQUIRED = ("script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "object-src 'none'", "base-uri 'none'",
            "frame-ancestors 'none'", "form-action 'self'")


def _directives(policy: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}


def _enforced_context(browser: Any) -> Any:
    """A context that enforces the policy the app sends (and reaches nothing beyond loopback).

    No service worker: the pages are checked as the server sends them."""
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ja-JP",
                                  service_workers="block", bypass_csp=False)
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    return context


def _policy_problems(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_pages_run_under_a_csp_without_unsafe_inline(browser: Any, live_server: str, db) -> None:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300, lat=34.74, lon=135.78)
    person = factories.person(family_name="精華", given_name="花子", family_name_kana="セイカ")
    payload = cards.issue_card(person.id)[1]
    factories.account(Role.ADMIN, username="csp-admin")
    context = _enforced_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = _policy_problems(page)
    try:
        response = page.goto(f"{live_server}/login")
        assert response is not None
        directives = _directives(response.headers["content-security-policy"])
        for required in REQUIRED:
            assert directives[required.split(" ")[0]] == required
        assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
        page.get_by_label("ユーザー名").fill("csp-admin")
        page.get_by_label("パスワード").fill(factories.PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url(re.compile(r".*/hq$"))
        page.wait_for_selector("#hq[data-ready='1']")
        # Enter in the filter box stays on the page (it was an inline onsubmit).
        page.get_by_label("避難所名").press("Enter")
        assert page.url.endswith("/hq")

        page.goto(f"{live_server}/hq/inquiry")
        page.get_by_label("氏名またはフリガナ（前方一致）").fill("せいか")
        page.get_by_role("button", name="検索").click()
        page.wait_for_selector("#inquiry-results article")

        page.goto(f"{live_server}/desk/{shelter.id}")
        page.wait_for_selector("#desk[data-ready='1']")
        page.fill("#scan", payload)
        page.keyboard.press("Enter")
        page.wait_for_selector("#scan-result:not([hidden])")
        assert "精華 花子" in page.locator("#result-name").inner_text()
        screenshot(page, "desk-csp")

        page.goto(f"{live_server}/desk/bridge")
        page.locator("#bridge-ic").get_by_role("button").click()
        page.wait_for_function("() => document.getElementById('bridge-sent').textContent.includes('012E4C7A11223344')")

        page.goto(f"{live_server}/")
        page.wait_for_selector(".leaflet-container")  # the map module ran
        inline = page.evaluate("""() => [...document.querySelectorAll('script:not([src])')]
            .filter((s) => s.type !== 'application/json').length""")
        assert inline == 0
    finally:
        context.close()
    assert problems == []


def _camera_decoder(launched: Any, live_server: str, shelter_id: int, *, worker_policy: str | None) -> list[str]:
    """Log in, scan with the camera under the enforced policy; the decoder the worker loaded and
    the policy problems seen. `worker_policy` replaces the policy of the worker script's answer."""
    context = _enforced_context(launched)
    context.grant_permissions(["camera"])
    if worker_policy is not None:
        def swap(route: Any) -> None:
            answer = route.fetch()
            route.fulfill(response=answer, headers={**answer.headers, "content-security-policy": worker_policy})
        context.route("**/static/desk/camera-worker.js", swap)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = _policy_problems(page)
    try:
        log_in(page, live_server, "csp-camera")
        page.goto(f"{live_server}/desk/{shelter_id}")
        page.wait_for_selector("#desk[data-ready='1']")
        page.get_by_role("button", name="カメラ").click()
        page.wait_for_selector("#scan-result:not([hidden])")
        assert "精華 花子" in page.locator("#result-name").inner_text()
        decoder = page.locator("#camera-view").get_attribute("data-decoder")
    finally:
        context.close()
    return [decoder or "", *problems]


def test_the_camera_decodes_with_webassembly_in_a_worker_under_the_policy(browser: Any, live_server: str, db,
                                                                          tmp_path: Path) -> None:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300)
    person = factories.person(family_name="精華", given_name="花子", family_name_kana="セイカ")
    payload = cards.issue_card(person.id)[1]
    factories.account(Role.STAFF, shelters=[shelter], username="csp-camera")
    video = write_card_video(tmp_path / "card.y4m", payload, Shot(160, 0), frames=2)
    with camera_browser(browser, video) as launched:
        # The worker script is answered with the app's policy: WebAssembly compiles, no violation.
        assert _camera_decoder(launched, live_server, shelter.id, worker_policy=None) == ["zxing-wasm"]
        # A worker policy without 'wasm-unsafe-eval' (what the app sent before) refuses the
        # WebAssembly module: the worker falls back to jsQR and the card is still read.
        strict = CONTENT_SECURITY_POLICY.replace(" 'wasm-unsafe-eval'", "")
        assert _camera_decoder(launched, live_server, shelter.id, worker_policy=strict)[0] == "jsQR"


HOSTILE_NAME = "<img src=x onerror=window.__xss=1>"


def test_an_imported_shelter_name_shows_as_text_on_the_maps(browser: Any, live_server: str, db, client: Any) -> None:
    header = ("NO,共通ID,都道府県名及び市町村名,施設・場所名,住所,指定緊急避難場所との住所同一,"
              "その他市町村長が必要と認める事項,受入対象者,緯度,経度,備考")
    row = f"1,E2636600099111,京都府精華町,{HOSTILE_NAME},京都府精華町光台7-43,,,,34.745017,135.75307,"
    import_shelters_bytes(f"{header}\n{row}\n".encode(), "evacuation_seika.csv")
    factories.incident()
    admin = factories.account(Role.ADMIN, username="xss-admin")
    shelter_id = client.get("/api/v1/shelters", headers=factories.bearer(admin)).get_json()["items"][0]["id"]
    opened = client.patch(f"/api/v1/shelters/{shelter_id}", json={"status": "open"}, headers=factories.bearer(admin))
    assert opened.status_code == 200, opened.get_json()

    context = _enforced_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = _policy_problems(page)
    try:
        for path, holder in (("/", "#public-map"), ("/hq", "#hq-map")):
            if path == "/hq":
                page.goto(f"{live_server}/login")
                page.get_by_label("ユーザー名").fill("xss-admin")
                page.get_by_label("パスワード").fill(factories.PASSWORD)
                page.get_by_role("button", name="ログイン").click()
                page.wait_for_url(re.compile(r".*/hq$"))
                page.wait_for_selector("#hq[data-ready='1']")
            else:
                page.goto(f"{live_server}{path}")
            # One shelter: the map is centred on its marker (an SVG path on /, drawn on a canvas on /hq).
            page.wait_for_selector(f"{holder}.leaflet-container")
            tooltip = page.locator(".leaflet-tooltip")
            for _attempt in range(40):  # until the map has been fitted and the marker drawn
                page.locator(holder).scroll_into_view_if_needed()
                box = page.locator(holder).bounding_box()
                page.mouse.move(box["x"] + 5, box["y"] + 5)
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
                if tooltip.count() and tooltip.first.is_visible():
                    break
                page.wait_for_timeout(250)
            tooltip.wait_for()
            assert HOSTILE_NAME in tooltip.inner_text()
            assert tooltip.locator("img").count() == 0
            screenshot(page, f"xss-tooltip{path.replace('/', '-')}")
            assert page.evaluate("() => window.__xss") is None
        assert page.locator("img[src='x']").count() == 0
    finally:
        context.close()
    assert problems == []


def test_the_api_docs_run_under_the_policy(browser: Any, live_server: str, db) -> None:
    context = _enforced_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = _policy_problems(page)
    try:
        response = page.goto(f"{live_server}/api/v1/docs")
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector(".swagger-ui .info .title")
        assert "evac API" in page.locator(".swagger-ui .info .title").inner_text()
        page.wait_for_selector(".opblock-tag")  # the operations, from the served OpenAPI document
        screenshot(page, "api-docs-csp")
    finally:
        context.close()
    assert problems == []
