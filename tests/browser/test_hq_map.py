"""The HQ map with a few hundred shelters: after a filter, a page change and a search it shows the
markers of exactly the shelters the table's filters let through (the map keeps its markers and
hides, shows and restyles them instead of rebuilding; this checks it never gets that wrong)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evac.accounts.models import Role
from evac.shelters.models import ShelterStatus
from tests import factories
from tests.browser.pages import log_in

pytestmark = pytest.mark.browser

NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
SHELTERS = 300

# Keeps the page's Leaflet map reachable from the test: Leaflet sets window.L when it loads,
# and every map it makes afterwards runs the init hook.
CATCH_MAP = """
let leaflet;
Object.defineProperty(window, "L", {configurable: true, get: () => leaflet, set: (value) => {
  leaflet = value;
  if (value && value.Map) value.Map.addInitHook(function () { window.__hqMap = this; });
}});
"""

# The markers on the map now, by position: "lat,lon" → fill colour.
MARKERS = """
() => {
  const shown = {};
  window.__hqMap.eachLayer((layer) => {
    if (layer instanceof L.CircleMarker) {
      const at = layer.getLatLng();
      shown[at.lat.toFixed(4) + "," + at.lng.toFixed(4)] = layer.options.fillColor;
    }
  });
  return shown;
}
"""


def _at(lat: float, lon: float) -> str:
    return f"{lat:.4f},{lon:.4f}"


@pytest.fixture
def many(db: Any) -> dict[str, Any]:
    """300 open shelters on a grid around Seika, every tenth marked full; an HQ officer."""
    shelters = []
    for i in range(SHELTERS):
        lat, lon = 34.60 + (i // 20) * 0.01, 135.70 + (i % 20) * 0.01
        full = i % 10 == 0
        shelters.append(factories.shelter(
            name=f"地図{i:03d}避難所", code=f"M{i:03d}", lat=lat, lon=lon, capacity=100,
            status=ShelterStatus.FULL if full else ShelterStatus.OPEN))
    factories.account(Role.HQ, username="hq-map")
    return {"all": {_at(s.lat, s.lon): s for s in shelters},
            "full": {_at(s.lat, s.lon) for s in shelters if s.status is ShelterStatus.FULL}}


def _open_hq(page: Any, live_server: str) -> None:
    page.context.route(NOT_LOOPBACK, lambda route: route.abort())
    page.add_init_script(CATCH_MAP)
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, live_server, "hq-map", lands_on="/hq")
    page.goto(f"{live_server}/hq?refresh=300")
    page.wait_for_selector("#hq[data-ready='1']")


def _markers(page: Any, count: int) -> dict[str, str]:
    page.wait_for_function(f"document.getElementById('hq-map').dataset.markers === '{count}'")
    shown: dict[str, str] = page.evaluate(MARKERS)
    return shown


def _table_ids(page: Any) -> list[int]:
    return [int(i) for i in page.locator("#shelter-rows tr[data-shelter-id]").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.shelterId)")]


def test_map_shows_the_filtered_shelters_across_filters_and_pages(many: dict[str, Any], live_server: str,
                                                                  page: Any) -> None:
    _open_hq(page, live_server)
    everything = set(many["all"])
    shown = _markers(page, SHELTERS)
    assert set(shown) == everything
    assert {at for at, colour in shown.items() if colour == "#b3261e"} == many["full"]  # full: red

    page.get_by_label("状態", exact=True).select_option("full")
    assert set(_markers(page, len(many["full"]))) == many["full"]
    assert {many["all"][at].id for at in many["full"]} == set(_table_ids(page))

    page.get_by_label("状態", exact=True).select_option("")
    assert set(_markers(page, SHELTERS)) == everything
    first_page = _table_ids(page)
    page.get_by_role("button", name="次へ").click()
    page.wait_for_function("document.getElementById('page-info').textContent.startsWith('2 /')")
    second_page = _table_ids(page)
    assert len(second_page) == 50 and not set(second_page) & set(first_page)
    assert set(_markers(page, SHELTERS)) == everything, "a page change keeps every filtered shelter on the map"

    # A search from page 2: back to page 1 of the 100 shelters it finds (地図100…地図199), on the
    # map alone; then page 2 of those, the map unchanged.
    page.get_by_label("避難所名").fill("地図1")
    found = {at for at, s in many["all"].items() if s.name.startswith("地図1")}
    assert set(_markers(page, len(found))) == found
    page.wait_for_function("document.getElementById('page-info').textContent === '1 / 2'")
    page.get_by_role("button", name="次へ").click()
    page.wait_for_function("document.getElementById('page-info').textContent === '2 / 2'")
    assert {many["all"][at].id for at in found} >= set(_table_ids(page))
    assert set(_markers(page, len(found))) == found
    page.get_by_label("避難所名").fill("")
    assert set(_markers(page, SHELTERS)) == everything
