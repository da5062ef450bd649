"""Shelter model."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class ShelterKind(enum.StrEnum):
    """Designation of a shelter under the Disaster Countermeasures Basic Act."""

    EVACUATION = "evacuation"  # 指定避難所
    EMERGENCY = "emergency"  # 指定緊急避難場所
    WELFARE = "welfare"  # 福祉避難所


# A shelter may hold several designations (a school is often both a 指定避難所 and a
# 指定緊急避難場所); `kind` is the one that matters most to the desk and HQ: where people stay.
DESIGNATION_ORDER = (ShelterKind.EVACUATION, ShelterKind.WELFARE, ShelterKind.EMERGENCY)


def primary_kind(designations: list[str] | tuple[str, ...]) -> ShelterKind:
    """The `kind` of a shelter with these designations: welfare, else evacuation, else emergency.

    A 指定福祉避難所 is a 指定避難所 whose designation names who it takes in, so it wins over
    the plain one; a site people only run to (指定緊急避難場所) comes last.
    """
    given = set(designations)
    for kind in (ShelterKind.WELFARE, ShelterKind.EVACUATION, ShelterKind.EMERGENCY):
        if kind.value in given:
            return kind
    return ShelterKind.EVACUATION


def ordered_designations(designations: Any) -> list[str]:
    """Designations without repeats, in `DESIGNATION_ORDER`."""
    given = {str(d) for d in designations}
    return [k.value for k in DESIGNATION_ORDER if k.value in given]


def listing_digest(designations: list[str], hazards: list[str], fields: dict[str, Any],
                   site_key: str | None) -> str:
    """The digest of a list row as imported (order-independent in `fields`).

    repr, not JSON: the values are str, float, int, None and lists of str, whose repr is exact
    and stable, and it costs a fifth of json.dumps on an import of all Japan.
    """
    raw = repr((designations, hazards, sorted(fields.items()), site_key))
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _designations_from_kind(context: Any) -> list[str]:
    # A shelter created without designations (by hand, by the demo, by a test) has its kind's.
    kind = context.get_current_parameters().get("kind")
    return [str(kind.value if isinstance(kind, ShelterKind) else kind)] if kind else []


class ShelterStatus(enum.StrEnum):
    """Operating state: closed → open → full → closed."""

    CLOSED = "closed"
    OPEN = "open"
    FULL = "full"


class Hazard(enum.StrEnum):
    """Hazards a 指定緊急避難場所 is designated for (GSI column order)."""

    FLOOD = "flood"  # 洪水
    LANDSLIDE = "landslide"  # 崖崩れ、土石流及び地滑り
    STORM_SURGE = "storm_surge"  # 高潮
    EARTHQUAKE = "earthquake"  # 地震
    TSUNAMI = "tsunami"  # 津波
    FIRE = "fire"  # 大規模な火事
    INLAND_FLOOD = "inland_flood"  # 内水氾濫
    VOLCANO = "volcano"  # 火山現象


ACTIVE_SHELTERS = "status IN ('open', 'full')"


class Shelter(db.Model):  # type: ignore[name-defined]
    """A designated shelter or evacuation site."""

    __tablename__ = "shelter"
    __table_args__ = (
        Index("ix_shelter_status_municipality", "status", "municipality_code"),
        # HQ reads the open shelters among all of Japan's (a few thousand of 82,557). A partial
        # index makes that a short range; a plain index on status would not help SQLite, whose
        # statistics cannot see that nearly every shelter is closed, so it would scan the table.
        Index("ix_shelter_active", "id", sqlite_where=text(ACTIVE_SHELTERS), postgresql_where=text(ACTIVE_SHELTERS)),
        # HQ's summary re-reads only the shelters changed since its last read (and a delta poll
        # the ones closed since): a short range of this index instead of all 82,557 rows.
        Index("ix_shelter_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The GSI 共通ID, or "<municipality code>-<ID>" of a town's own list, of the list row that created
    # the shelter; kept when a twin joins. Every row describing the site is a ShelterListing.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    # The romanised or English name where the town's list gives one (名称_英字); the public page's
    # English wording shows it, and the Japanese name where there is none.
    name_en: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    municipality_name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[ShelterKind] = mapped_column(
        str_enum(ShelterKind, "kind")
    )
    # Every designation the site holds, in DESIGNATION_ORDER; `kind` is primary_kind() of them.
    designations: Mapped[list[str]] = mapped_column(JSON, default=_designations_from_kind,
                                                    server_default=text("'[]'"))
    hazards: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)  # unknown for GSI data
    status: Mapped[ShelterStatus] = mapped_column(
        str_enum(ShelterStatus, "status"), default=ShelterStatus.CLOSED
    )
    note: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<Shelter {self.id} {self.code}>"


class ShelterListing(db.Model):  # type: ignore[name-defined]
    """One row of a published shelter list, as last imported: what that list says about a site.

    Keyed by the list (source, dataset) and the row's identifier within its municipality: GSI's
    共通ID is national, a town's ID only unique within the town, so both are keyed by
    (municipality code, ID). A site listed in several lists (指定避難所 and 指定緊急避難場所, GSI
    and the town's own) has one Shelter and one listing per list; the shelter's designations and
    hazards are the union of its listings', its other fields those of its first-ranked listing
    (see `evac.shelters.importers`).
    """

    __tablename__ = "shelter_listing"
    __table_args__ = (
        # local_id first: an import looks rows up by their IDs, a thousand at a time.
        UniqueConstraint("local_id", "municipality_code", "dataset", "source", name="uq_shelter_listing_key"),
        # A re-import looks for the rows of its list and municipalities that the file lacks. Not
        # (source, dataset, …): SQLite would take that for the ID lookups too and scan the list.
        Index("ix_shelter_listing_scope", "municipality_code", "source", "dataset"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # gsi | ods (the town's own: ODS and 推奨)
    dataset: Mapped[str] = mapped_column(String(20))  # evacuation | emergency
    # The municipality whose list it is ("" when a GSI 共通ID does not name one).
    municipality_code: Mapped[str] = mapped_column(String(6), default="")
    local_id: Mapped[str] = mapped_column(String(40))  # 共通ID, ID or NO as published (repaired)
    designations: Mapped[list[str]] = mapped_column(JSON, default=list)
    hazards: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The shelter fields this row gave (name, address, lat, lon, …): only those its list carries.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # evac.shelters.twins.site_key of the row: equal keys are candidate twins.
    site_key: Mapped[str | None] = mapped_column(String(32), index=True)
    # A digest of the row as last imported (listing_digest): an unchanged row is recognised
    # without reading its JSON back, which is most of the time a re-import of all Japan takes.
    digest: Mapped[str] = mapped_column(String(32), default="")
    # Set when an import of this list for this municipality no longer had the row; never deleted.
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<ShelterListing {self.source}/{self.dataset} {self.municipality_code}:{self.local_id}>"
