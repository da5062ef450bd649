"""Household and person models."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.common.vocab import Need, Sex
from evac.extensions import db

SEARCH_KEY = String(200).with_variant(String(200, collation="C"), "postgresql")


class PersonSource(enum.StrEnum):
    """How evac first learnt of a person."""

    REGISTER = "register"  # resident-register import
    MYNUMBER = "mynumber"  # My Number card reader (基本4情報 only)
    PAPER = "paper"  # 避難者カード typed by staff
    IC = "ic"  # IC card at first visit
    DEMO = "demo"


class Household(db.Model):  # type: ignore[name-defined]
    """A 世帯 as on the resident register (or formed at the desk for walk-ins)."""

    __tablename__ = "household"
    __table_args__ = (Index("ix_household_district", "district"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # 世帯番号
    postal_code: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(300))
    district: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    members: Mapped[list[Person]] = relationship(back_populates="household", order_by="Person.id")


class Person(db.Model):  # type: ignore[name-defined]
    """A resident or evacuee. Holds personal data: every staff read goes through the audit log."""

    __tablename__ = "person"
    __table_args__ = (
        # Prefix searches by normalised kana or name, and duplicate detection by birth date. The id
        # in the search indexes is the tie-break of the search's order: the first page of a
        # million-row prefix is read straight off the index (PostgreSQL would otherwise sort every
        # row of an equal key, a whole 山田花子 group, before taking 50).
        Index("ix_person_kana_key", "kana_key", "id"),
        Index("ix_person_name_key", "name_key", "id"),
        Index("ix_person_birth_date_name_key", "birth_date", "name_key"),
        Index("ix_person_household_id", "household_id"),
        # SQLite: a purged walk-in's id is never given to someone else (audit entries name it).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name_kana: Mapped[str] = mapped_column(String(100), default="")
    given_name_kana: Mapped[str] = mapped_column(String(100), default="")
    # Normalised keys for matching and prefix search; byte order ("C") on PostgreSQL so that a
    # prefix is a contiguous index range whatever the server's locale.
    name_key: Mapped[str] = mapped_column(SEARCH_KEY)
    kana_key: Mapped[str] = mapped_column(SEARCH_KEY)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, "sex"), default=Sex.OTHER)
    relationship_to_head: Mapped[str | None] = mapped_column(String(20))  # 続柄
    postal_code: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(30))
    nationality: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str | None] = mapped_column(String(20))  # BCP 47 tag, e.g. "vi"
    needs: Mapped[int] = mapped_column(Integer, default=0)  # Need bitmask
    allergy: Mapped[str | None] = mapped_column(String(200))
    condition_note: Mapped[str | None] = mapped_column(Text)  # ⑨負傷又は疾病の状況
    pets: Mapped[int] = mapped_column(Integer, default=0)
    pet_note: Mapped[str | None] = mapped_column(String(200))
    # ⑫ relatives and housemates, ⑬ acquaintances, ⑭ anyone else / publication.
    consent_relatives: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_acquaintances: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_public: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[PersonSource] = mapped_column(str_enum(PersonSource, "source"))
    # The incident a walk-in was registered in (a drill's walk-ins go when the drill closes).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    household: Mapped[Household | None] = relationship(back_populates="members")

    @property
    def need_flags(self) -> Need:
        """The needs bitmask as a `Need` flag."""
        return Need(self.needs)

    def __repr__(self) -> str:
        # Ids only: reprs end up in logs and tracebacks.
        return f"<Person {self.id}>"
