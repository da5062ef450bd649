"""Every page works under a Content-Security-Policy without 'unsafe-inline' for scripts: page
scripts are ES modules from /static, configuration sits in JSON blocks, no inline handlers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evac.accounts.models import Role
from evac.cards import service as cards
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

CSP = "script-src 'self'; object-src 'none'; base-uri 'none'"
NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


def _with_csp(route: Any) -> None:
    if route.request.resource_type != "document":
        route.fallback()
        return
    response = route.fetch(max_redirects=0)  # the browser follows redirects itself (login → /hq)
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})


def test_pages_run_under_a_csp_without_unsafe_inline(browser: Any, live_server: str, db) -> None:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300, lat=34.74, lon=135.78)
    person = factories.person(family_name="精華", given_name="花子", family_name_kana="セイカ")
    payload = cards.issue_card(person.id)[1]
    factories.account(Role.ADMIN, username="csp-admin")
    # No service worker here: the policy is added on the way to the page, which a worker would bypass.
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ja-JP", service_workers="block")
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    context.route("**/*", _with_csp)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        response = page.goto(f"{live_server}/login")
        assert response is not None and response.headers["content-security-policy"] == CSP
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
        page.wait_for_function("document.getElementById('bridge-sent').textContent.includes('012E4C7A11223344')")

        page.goto(f"{live_server}/")
        page.wait_for_selector(".leaflet-container")  # the map module ran
        inline = page.evaluate("""() => [...document.querySelectorAll('script:not([src])')]
            .filter((s) => s.type !== 'application/json').length""")
        assert inline == 0
    finally:
        context.close()
    assert problems == []
