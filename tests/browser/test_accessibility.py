"""axe-core over every page, as each user reaches it: no violations (WCAG 2.1 A and AA rules).

axe-core 4 (MPL-2.0) is vendored under tests/browser/vendor/axe-core (npm `axe-core`), injected
into each page after it has drawn itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evac.accounts.models import Role
from evac.cards import service as cards
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}


def _violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("(options) => axe.run(document, options).then((r) => r.violations)", RULES)
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in found]


def _login(page: Any, live_server: str, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state("networkidle")


@pytest.fixture
def town(db) -> dict[str, Any]:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300, lat=34.74, lon=135.78)
    factories.shelter(name="精華町立精北小学校", capacity=200, lat=34.76, lon=135.79)
    person = factories.person(family_name="精華", given_name="花子", family_name_kana="セイカ")
    cards.issue_card(person.id)
    factories.account(Role.HQ, username="a11y-hq")
    factories.account(Role.STAFF, shelters=[shelter], username="a11y-desk")
    return {"shelter": shelter}


@pytest.mark.parametrize("path, who", [
    ("/", None), ("/?lang=easy", None), ("/login", None),
    ("/hq", "a11y-hq"), ("/hq/inquiry", "a11y-hq"),
    ("/desk", "a11y-desk"), ("/desk/{shelter}", "a11y-desk"),
])
def test_no_accessibility_violations(browser: Any, live_server: str, town: dict[str, Any], path: str,
                                     who: str | None) -> None:
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ja-JP")
    context.route("**/tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    try:
        if who:
            _login(page, live_server, who)
        page.goto(live_server + path.format(shelter=town["shelter"].id))
        page.wait_for_load_state("networkidle")
        found = _violations(page)
        screenshot(page, "a11y" + path.replace("/", "-").replace("?", "-").replace("{shelter}", "desk"))
        assert found == [], json.dumps(found, ensure_ascii=False, indent=1)
    finally:
        context.close()
