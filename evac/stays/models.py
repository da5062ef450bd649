"""Stays and the per-shelter counters kept in step with them, so HQ never aggregates stays per request.

The counters change in the same transaction as the stays they count (`evac.stays.counters`);
`evac hq rebuild-tallies` recomputes them from the stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.common.vocab import CheckinMethod, Need, StayStatus
from evac.extensions import db

# One counter column per 要配慮 category, named after the `Need` member: need_elderly, need_infant, …
NEED_COLUMNS: dict[str, Need] = {f"need_{flag.name.lower()}": flag for flag in Need}  # type: ignore[union-attr]


class Stay(db.Model):  # type: ignore[name-defined]
    """One person's stay at one shelter. Open while `checked_out_at` is null."""

    __tablename__ = "stay"
    __table_args__ = (
        # At most one open stay per person, enforced by the database on SQLite and PostgreSQL.
        Index(
            "uq_stay_open_person",
            "person_id",
            unique=True,
            sqlite_where=db.text("checked_out_at IS NULL"),
            postgresql_where=db.text("checked_out_at IS NULL"),
        ),
        Index("ix_stay_shelter_open", "shelter_id", "checked_out_at"),
        # A person's stays, newest last: safety inquiries and history ask for them by person.
        Index("ix_stay_person_checked_in", "person_id", "checked_in_at"),
        Index("ix_stay_household_id", "household_id"),
        Index("ix_stay_client_id", "client_id"),
        Index("ix_stay_incident_shelter", "incident_id", "shelter_id"),
        # A closed stay has a closing status and an open one does not, so the two never disagree.
        CheckConstraint(
            "(checked_out_at IS NULL) = (status IN ('present', 'outing', 'at_home', 'in_car'))",
            name="open_matches_status",
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    status: Mapped[StayStatus] = mapped_column(str_enum(StayStatus, "status"))
    method: Mapped[CheckinMethod] = mapped_column(str_enum(CheckinMethod, "method"))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("shelter.id"))
    client_id: Mapped[str | None] = mapped_column(String(36))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    # The needs and pets the open stay is counted with, so that closing it subtracts exactly those:
    # a person whose needs change during the stay (a register re-import, say) would otherwise be
    # subtracted with other values than were added, and the counters would drift for good.
    counted_needs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    counted_pets: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ShelterTally(db.Model):  # type: ignore[name-defined]
    """Live counts of one shelter's open stays.

    `occupancy` and `households` count those sleeping there (在所 and 外出); `at_home` (在宅避難) and
    `in_car` (車中泊) those registered there but staying elsewhere. Needs and pets count every open
    stay of the shelter, since supplies and care reach people at home and in cars through it too.
    """

    __tablename__ = "hq_shelter_tally"
    # HQ's summary re-reads only the counters changed since its last read (evac.hq.summary).
    __table_args__ = (Index("ix_hq_shelter_tally_updated_at", "updated_at"),)

    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id", ondelete="CASCADE"), primary_key=True)
    occupancy: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int] = mapped_column(Integer, default=0)
    at_home: Mapped[int] = mapped_column(Integer, default=0)
    in_car: Mapped[int] = mapped_column(Integer, default=0)
    pets: Mapped[int] = mapped_column(Integer, default=0)
    need_elderly: Mapped[int] = mapped_column(Integer, default=0)
    need_disability: Mapped[int] = mapped_column(Integer, default=0)
    need_infant: Mapped[int] = mapped_column(Integer, default=0)
    need_pregnant: Mapped[int] = mapped_column(Integer, default=0)
    need_language: Mapped[int] = mapped_column(Integer, default=0)
    need_allergy: Mapped[int] = mapped_column(Integer, default=0)
    need_medical: Mapped[int] = mapped_column(Integer, default=0)
    need_care: Mapped[int] = mapped_column(Integer, default=0)
    need_injury: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class HouseholdTally(db.Model):  # type: ignore[name-defined]
    """How many members of one household sleep at one shelter: keeps `households` exact.

    `household_key` is the household id, or minus the person id for a person without a household
    (who counts as a household of one). A row left at zero is harmless; rebuilding drops it.
    """

    __tablename__ = "hq_household_tally"

    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id", ondelete="CASCADE"), primary_key=True)
    household_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, default=0)


class OccupancyHour(db.Model):  # type: ignore[name-defined]
    """A shelter's occupancy over one clock hour (UTC) of an incident: before its first change and after its last.

    Hours without a change have no row and carry the previous value forward. Because `opening` is
    the value the hour started from, the national trend is a sum of (closing − opening) per hour,
    walked back from the current total, without reading any shelter's earlier rows.
    """

    __tablename__ = "hq_occupancy_hour"
    __table_args__ = (Index("ix_hq_occupancy_hour_hour", "hour"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelter.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    opening: Mapped[int] = mapped_column(Integer)
    closing: Mapped[int] = mapped_column(Integer)
