"""The public crowding page: which shelters are open and how crowded, and nothing about anyone.

The page shows a level, never a count, and a level cannot be told apart from "empty" until a
shelter holds at least `SMALL_COUNT` people: below that it always says 空きあり. So the page never
reveals that one person, or two, are at a given shelter (say, someone who fled a violent partner
to the shelter nearest their home) — a level other than 空きあり implies at least ten people.
Nor does it show when a shelter last changed, which at a quiet shelter would time an arrival.
A shelter HQ has marked full is 満員 whatever its count: that is HQ's decision, not a count.
"""

from __future__ import annotations

import enum
from typing import Any
from urllib.parse import quote

from sqlalchemy import case, func, or_, select

from evac.common.db import read_only
from evac.extensions import db
from evac.incidents import service as incidents
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import ShelterTally

SMALL_COUNT = 10
PAGE_SIZE = 200


class Crowding(enum.StrEnum):
    """Crowding levels, from occupancy against capacity."""

    AVAILABLE = "available"  # 空きあり: under half full (or fewer than SMALL_COUNT people)
    BUSY = "busy"  # やや混雑: half full or more
    CROWDED = "crowded"  # 混雑: 80 % or more
    FULL = "full"  # 満員: at or over capacity, or marked full by HQ
    UNKNOWN = "unknown"  # capacity not known: say so rather than guess


def crowding(status: ShelterStatus, occupancy: int, capacity: int | None) -> Crowding:
    """The level shown to the public for a shelter (see the module docstring for the small-count rule)."""
    if status is ShelterStatus.FULL:
        return Crowding.FULL
    if not capacity:
        return Crowding.UNKNOWN
    if occupancy < SMALL_COUNT:
        return Crowding.AVAILABLE
    ratio = occupancy / capacity
    if ratio >= 1:
        return Crowding.FULL
    if ratio >= 0.8:
        return Crowding.CROWDED
    if ratio >= 0.5:
        return Crowding.BUSY
    return Crowding.AVAILABLE


@read_only
def open_shelters(page: int = 1) -> tuple[list[dict[str, Any]], int]:
    """One page of open shelters as the public may see them (no counts), and the number of pages.

    Counted and paged in the database: on the busiest page of a disaster, a page costs the same
    whether ten shelters are open or every shelter in Japan.
    """
    incident = incidents.current()
    if incident is None or not incident.public:
        # Nothing is open outside an incident, and a drill stays off this page unless HQ shows it.
        return [], 1
    is_open = Shelter.status.in_([ShelterStatus.OPEN, ShelterStatus.FULL])
    total = db.session.scalar(select(func.count()).select_from(Shelter).where(is_open)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.session.execute(
        select(Shelter.name, Shelter.name_kana, Shelter.name_en, Shelter.address, Shelter.lat, Shelter.lon,
               Shelter.kind, Shelter.status, Shelter.capacity, Shelter.municipality_name,
               ShelterTally.occupancy)
        .outerjoin(ShelterTally, ShelterTally.shelter_id == Shelter.id)
        .where(is_open)
        # Someone fleeing with a phone reads from the top: shelters with room first, full ones last.
        .order_by(_level_rank(), Shelter.municipality_code, Shelter.name_kana, Shelter.id)
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    shelters = [
        {"name": r.name, "name_en": r.name_en, "furigana": furigana(r.name_kana), "address": r.address,
         "lat": r.lat, "lon": r.lon, "kind": r.kind.value, "municipality": r.municipality_name,
         "level": crowding(r.status, r.occupancy or 0, r.capacity).value,
         "maps_url": maps_url(r.lat, r.lon, r.address)}
        for r in rows
    ]
    return shelters, pages


def _level_rank() -> Any:
    """`crowding` as an SQL sort key, so that the order holds across pages: room first, unknown, full.

    A shelter of unknown capacity may have room, so it comes before the full ones. Integer
    arithmetic only (5 × occupancy ≥ 4 × capacity is 80 %), the same on SQLite and PostgreSQL.
    """
    occupancy = func.coalesce(ShelterTally.occupancy, 0)
    return case(
        (Shelter.status == ShelterStatus.FULL, 4),
        (or_(Shelter.capacity.is_(None), Shelter.capacity == 0), 3),
        (occupancy < SMALL_COUNT, 0),
        (occupancy >= Shelter.capacity, 4),
        (occupancy * 5 >= Shelter.capacity * 4, 2),
        (occupancy * 2 >= Shelter.capacity, 1),
        else_=0,
    )


MAPS_URL = "https://www.google.com/maps/search/?api=1&query="


def maps_url(lat: float | None, lon: float | None, address: str | None) -> str | None:
    """A link that opens the shelter in the phone's map app, for directions from where one stands.

    Google's Maps URL rather than a `geo:` URI: iOS Safari does not open `geo:` at all, while this
    URL opens Google Maps on Android, and in the browser (or the app, where installed) on an
    iPhone or a PC. Only the shelter's own place goes in it, never anything about anyone.
    """
    if lat is not None and lon is not None:
        return f"{MAPS_URL}{lat:.6f},{lon:.6f}"
    if address:
        return MAPS_URL + quote(address)
    return None


def furigana(name_kana: str | None) -> str | None:
    """The reading in hiragana, for ruby over a name in やさしい日本語 (readers learn hiragana first).

    Lists give 名称_カナ in katakana; ー and anything that is not katakana stay as they are.
    """
    if not name_kana:
        return None
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in name_kana)
