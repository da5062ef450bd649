"""The HQ page polling with ETags in a real browser: 304s while nothing changed, a full answer
(and the new numbers on screen) after a check-in, the map's markers following the filters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_hq import _login, _row_numbers, town  # noqa: F401  (town: a fixture)
from tests.hq.helpers import check_in, family

pytestmark = pytest.mark.browser


def _occupancy_polls(page: Any) -> list[dict[str, Any]]:
    """Every GET /api/v1/occupancy the page makes, with what it sent and the status it got."""
    polls: list[dict[str, Any]] = []

    def answered(response: Any) -> None:
        if response.url.split("?")[0].endswith("/api/v1/occupancy"):
            polls.append({"status": response.status, "if_none_match": response.request.headers.get("if-none-match"),
                          "etag": response.headers.get("etag"), "encoding": response.headers.get("content-encoding")})

    page.on("response", answered)
    return polls


def test_unchanged_polls_are_304_and_a_checkin_still_shows(town: dict[str, Any], client: Any,  # noqa: F811
                                                          live_server: str, page: Any) -> None:
    polls = _occupancy_polls(page)
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq?refresh=2")
    page.wait_for_selector("#hq[data-ready='1']")
    page.evaluate("window.__sameDocument = true")
    # Nothing changes: the next polls send the ETag and get 304 without a body.
    page.wait_for_function("Number(document.getElementById('hq').dataset.notModified || 0) >= 2", timeout=15_000)
    first = next(p for p in polls if p["status"] == 200)
    assert first["etag"] and first["encoding"] == "gzip"  # Chromium sends Accept-Encoding: gzip
    unchanged = [p for p in polls if p["status"] == 304]
    assert len(unchanged) >= 2 and all(p["if_none_match"] == first["etag"] for p in unchanged)
    assert "更新" in page.locator("#refresh-state").inner_text()

    target = town["shelters"][1]
    before = _row_numbers(page, target.id)
    check_in(client, town["headers"], target.id, family(3, family_name="新着", family_name_kana="シンチャク"))
    page.wait_for_function(
        f"document.querySelector(\"tr[data-shelter-id='{target.id}'] .fill\").dataset.occupancy === '{before[0] + 3}'",
        timeout=15_000)
    assert _row_numbers(page, target.id) == (before[0] + 3, before[1] + 1)
    assert page.evaluate("window.__sameDocument") is True
    changed = [p for p in polls if p["status"] == 200 and p["if_none_match"]]
    assert changed and changed[0]["etag"] != first["etag"], "the check-in's poll was a full, new answer"
    # …and with nothing new after it, 304s again, now against the new tag.
    seen = len(polls)
    page.wait_for_function(f"Number(document.getElementById('hq').dataset.notModified) >= "
                           f"{page.evaluate('Number(document.getElementById(`hq`).dataset.notModified)') + 1}",
                           timeout=15_000)
    assert any(p["status"] == 304 and p["if_none_match"] == changed[0]["etag"] for p in polls[seen:])
    screenshot(page, "hq-poll-after-checkin")


def test_the_map_follows_the_filter_without_rebuilding(town: dict[str, Any], live_server: str,  # noqa: F811
                                                      page: Any) -> None:
    _login(page, live_server, "hq1")
    page.goto(f"{live_server}/hq?refresh=300")
    page.wait_for_selector("#hq[data-ready='1']")
    if page.evaluate("typeof window.L") == "undefined":
        pytest.skip("Leaflet is not vendored in this checkout")
    assert page.locator("#hq-map").get_attribute("data-markers") == "3"
    page.evaluate("""() => {
        window.__added = 0;
        const proto = window.L.CircleMarker.prototype;
        const original = proto.onAdd;
        proto.onAdd = function (...args) { window.__added += 1; return original.apply(this, args); };
        window.__created = 0;
        const init = proto.initialize;
        proto.initialize = function (...args) { window.__created += 1; return init.apply(this, args); };
    }""")
    page.locator("#f-q").press_sequentially("けいはんな", delay=10)
    page.wait_for_function("document.getElementById('hq-map').dataset.markers === '1'")
    page.locator("#f-q").fill("")
    page.locator("#f-q").dispatch_event("input")
    page.wait_for_function("document.getElementById('hq-map').dataset.markers === '3'")
    page.locator("#shelters th button[data-sort='households']").click()
    # The hidden markers came back (added to the map again), none was built anew.
    assert page.evaluate("window.__created") == 0
    assert page.evaluate("window.__added") == 2
    screenshot(page, "hq-map-after-filter")
