"""Import point for every model, so metadata and migrations see all tables."""

from evac.accounts.models import ApiToken, Role, StaffAccount, staff_shelter
from evac.audit.models import AuditEvent
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest, Stay, StayStatus
from evac.hq.models import HouseholdTally, OccupancyHour, ShelterTally, StayTally
from evac.outbox.models import OutboxEvent
from evac.people.models import Household, Need, Person, Sex
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus

__all__ = [
    "ApiToken", "AuditEvent", "Card", "ClientRequest", "Household", "HouseholdTally", "ICCard", "Need",
    "OccupancyHour", "OutboxEvent", "Person", "Role", "Sex", "Shelter", "ShelterKind", "ShelterStatus",
    "ShelterTally", "StaffAccount", "Stay", "StayStatus", "StayTally", "staff_shelter",
]
