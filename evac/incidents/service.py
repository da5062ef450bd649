"""Which incident is open: read once per unit of work, inside it.

Opening and closing incidents (with what closing a drill removes) is HQ's work, in
`evac.hq.incidents`; this module only answers "what is going on now", for the packages below HQ
that stamp their rows with it (stays, outbox events, audit entries, the occupancy trend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from evac.common.db import active_unit, prepared, read_only
from evac.common.errors import Conflict
from evac.common.statements import run
from evac.incidents.models import Incident, IncidentKind

_STATE_KEY = "incidents.current"
_LOCKED_KEY = "incidents.locked"
_NONE = object()


class NoIncident(Conflict):
    """Nothing can open or check in while no incident (disaster or drill) is open."""

    code = "no_incident"


@dataclass(frozen=True)
class CurrentIncident:
    """The open incident, as the services need it."""

    id: int
    name: str
    kind: IncidentKind
    public: bool
    started_at: datetime

    @property
    def drill(self) -> bool:
        """True for a 訓練."""
        return self.kind is IncidentKind.DRILL


def _current_statement(locking: bool) -> Any:
    stmt = select(Incident.id, Incident.name, Incident.kind, Incident.public, Incident.started_at).where(
        Incident.is_open.is_(True))
    return stmt.with_for_update(read=True) if locking else stmt


def current(*, lock: bool = False) -> CurrentIncident | None:
    """The open incident, or None; read once per unit (joins the caller's unit).

    With `lock` (PostgreSQL), the row is share-locked until the unit ends, so the incident cannot
    close under a check-in that is being written.
    """
    unit_ = active_unit()
    if unit_ is not None:
        cached = unit_.state.get(_STATE_KEY, _NONE)
        if cached is not _NONE and (not lock or unit_.state.get(_LOCKED_KEY) or not unit_.postgres):
            return cached
    locking = bool(lock and unit_ is not None and unit_.postgres)
    row = run(prepared(("incident.current", locking), lambda: _current_statement(locking))).first()
    found = None if row is None else CurrentIncident(row.id, row.name, IncidentKind(row.kind), bool(row.public),
                                                     row.started_at)
    if unit_ is not None:
        unit_.state[_STATE_KEY] = found
        unit_.state[_LOCKED_KEY] = unit_.state.get(_LOCKED_KEY) or lock
    return found


def required(*, lock: bool = False) -> CurrentIncident:
    """The open incident; `NoIncident` (409) when there is none."""
    found = current(lock=lock)
    if found is None:
        raise NoIncident(_("災害または訓練が開始されていません。本部が開始してから受付してください"))
    return found


@read_only
def current_now() -> CurrentIncident | None:
    """`current` as a unit of its own (pages ask it to show 「訓練」)."""
    return current()
