"""Import point for every model, so metadata and migrations see all tables."""

from evac.accounts.models import ApiToken, AuthState, Role, StaffAccount, staff_shelter
from evac.audit.models import AuditEvent
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest
from evac.common.vocab import Need, Sex, StayStatus
from evac.incidents.models import Incident, IncidentKind
from evac.outbox.models import OutboxEvent
from evac.people.models import Household, Person
from evac.readers.models import CardReader, ReaderPairing, ReaderRead
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus
from evac.stays.models import HouseholdTally, OccupancyHour, ShelterTally, Stay

__all__ = [
    "ApiToken", "AuditEvent", "AuthState", "Card", "CardReader", "ClientRequest", "Household", "HouseholdTally",
    "ICCard", "Incident", "IncidentKind", "Need", "OccupancyHour", "OutboxEvent", "Person", "ReaderPairing",
    "ReaderRead", "Role", "Sex", "Shelter", "ShelterKind", "ShelterStatus", "ShelterTally", "StaffAccount", "Stay",
    "StayStatus", "staff_shelter",
]
