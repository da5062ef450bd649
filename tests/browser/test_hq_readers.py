"""HQ lists the card readers of every shelter and revokes one from the dashboard."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from evac.accounts.models import Role
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.pages import log_in
from tests.readers.conftest import Desk, post_read

pytestmark = pytest.mark.browser

NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


def test_hq_lists_readers_and_revokes_one(db: Any, client: Any, live_server: str, page: Any) -> None:
    staff = factories.bearer(factories.account(Role.HQ, username="hq-api"))
    east = Desk(factories.shelter(name="精華町立東光小学校", capacity=200), staff, str(uuid.uuid4()), client)
    north = Desk(factories.shelter(name="精華町立精北小学校", capacity=300), staff, str(uuid.uuid4()), client)
    first = client.post("/api/v1/readers/pair", json={"code": east.code(desk_label="受付-1A2B"),
                                                      "name": "東光小 受付1"}).get_json()
    post_read(client, first["token"])
    second = north.pair("精北小 受付1")
    factories.account(Role.HQ, username="hq1")
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, "hq1", lands_on="/hq")
    page.wait_for_selector("#readers[data-count='2']")
    row = page.locator(f"#reader-rows tr[data-reader-id='{first['reader_id']}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[:3] == ["精華町立東光小学校", "受付-1A2B", "東光小 受付1"]
    assert cells[4] == "たった今"
    other = page.locator(f"#reader-rows tr[data-reader-id='{second['reader_id']}']").locator("td").all_inner_texts()
    assert other[4] == "読み取りなし"
    page.locator("#readers").scroll_into_view_if_needed()
    screenshot(page, "hq-readers")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="接続を解除").click()
    page.wait_for_selector("#readers[data-count='1']")
    assert post_read(client, first["token"]).status_code == 401
    assert post_read(client, second["token"]).status_code == 202
