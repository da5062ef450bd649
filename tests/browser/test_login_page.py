"""Login in a real browser: the tablet layout, the language switch, the desk's shelter list."""

from __future__ import annotations

from typing import Any

import pytest

from evac.accounts.models import Role
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_staff_logs_in_and_sees_their_shelters(page: Any, live_server: str, db) -> None:
    mine = factories.shelter(name="精華町立東光小学校体育館")
    factories.shelter(name="ほかの避難所")
    factories.account(Role.STAFF, shelters=[mine], username="desk1")

    page.goto(f"{live_server}/desk")
    assert page.url.startswith(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "職員ログイン"
    screenshot(page, "login-ja")

    page.get_by_label("ユーザー名").fill("desk1")
    page.get_by_label("パスワード").fill("wrong password")
    page.get_by_role("button", name="ログイン").click()
    assert page.get_by_role("alert").inner_text() == "ユーザー名またはパスワードが違います"
    screenshot(page, "login-refused")

    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{live_server}/desk")
    cards = page.locator("[data-shelter-id]")
    assert cards.count() == 1 and "精華町立東光小学校体育館" in cards.inner_text()
    screenshot(page, "desk-choose")

    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Choose the shelter you are working at"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "Staff login"


def test_tablet_portrait_layout_has_no_horizontal_scroll(page: Any, live_server: str) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"{live_server}/login")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768
    box = page.get_by_role("button", name="ログイン").bounding_box()
    assert box is not None and box["height"] >= 44  # a finger-sized target
    screenshot(page, "login-portrait")
