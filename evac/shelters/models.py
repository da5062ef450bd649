"""Shelter model."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class ShelterKind(enum.StrEnum):
    """Designation of a shelter under the Disaster Countermeasures Basic Act."""

    EVACUATION = "evacuation"  # 指定避難所
    EMERGENCY = "emergency"  # 指定緊急避難場所
    WELFARE = "welfare"  # 福祉避難所


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
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # GSI 共通ID or the ODS ID
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    municipality_name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[ShelterKind] = mapped_column(
        str_enum(ShelterKind, "kind")
    )
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
