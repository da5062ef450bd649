"""Recording audit events: who did what to which record. Ids and codes only, never personal data.

Three kinds, three paths (see `evac.audit.journal` for why):
- `record`: a change. Part of the current writing unit: it commits with the change or not at all.
- `read`: a staff read of personal data. In a writing unit it joins the transaction; in a
  read-only unit it is journaled once the read has committed, before the answer is returned.
- `refused`: a refusal (a forged card, a scope refusal). Journaled when the unit ends, whatever
  happened to it: the refused request rolls back, its audit must not.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from flask_login import current_user

from evac.audit.journal import AuditJournal, journal_for
from evac.audit.models import AuditEvent
from evac.common.db import (
    WRITE,
    DatabaseUnavailable,
    UnitConflict,
    active_unit,
    current_unit,
    now_utc,
    writing,
)
from evac.extensions import db
from evac.incidents import service as incidents

_PENDING = "audit.pending"
_JOURNAL_LOCK = threading.Lock()


def actor_id() -> int | None:
    """The account id of the request being served, or None (anonymous, or no request)."""
    if not has_request_context():
        return None
    user = current_user._get_current_object()
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def _incident_id() -> int | None:
    # Inside a unit the open incident is read (once per unit); outside one there is nothing to ask.
    if active_unit() is None:
        return None
    found = incidents.current()
    return None if found is None else found.id


def _entry(action: str, *, subject_type: str | None, subject_id: object, shelter_id: int | None, outcome: str,
           account_id: int | None, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "entry_id": uuid.uuid4().hex,
        "occurred_at": now_utc(),
        "action": action,
        "outcome": outcome,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "shelter_id": shelter_id,
        "incident_id": _incident_id(),
        "account_id": account_id if account_id is not None else actor_id(),
        "remote_addr": request.remote_addr if has_request_context() else None,
        "detail": detail or {},
    }


def _in_transaction(entry: dict[str, Any]) -> None:
    unit_ = current_unit()
    if unit_.mode is not WRITE:
        raise UnitConflict("audit.record needs a writing unit")
    unit_.insert_at_commit(AuditEvent.__table__, entry)


def record(action: str, *, subject_type: str | None = None, subject_id: object = None, shelter_id: int | None = None,
           outcome: str = "ok", account_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
    """Audit a change, in the current writing unit's transaction (it commits with the change)."""
    _in_transaction(_entry(action, subject_type=subject_type, subject_id=subject_id, shelter_id=shelter_id,
                           outcome=outcome, account_id=account_id, detail=detail))


def read(action: str = "person.read", *, subject_type: str | None = None, subject_id: object = None,
         shelter_id: int | None = None, account_id: int | None = None, detail: dict[str, Any] | None = None,
         kept: bool = False) -> None:
    """Audit a staff read of personal data: in the transaction of a writing unit, else journaled on commit.

    `kept`: the data goes out even if the unit rolls back (candidates shown with a refusal), so the
    audit is journaled when the unit ends, whatever happens to it.
    """
    entry = _entry(action, subject_type=subject_type, subject_id=subject_id, shelter_id=shelter_id, outcome="ok",
                   account_id=account_id, detail=detail)
    unit_ = active_unit()
    if kept and unit_ is not None:
        unit_.finally_(lambda _committed: journal([entry]))
        return
    if unit_ is not None and unit_.mode is WRITE:
        _in_transaction(entry)
        return
    if unit_ is None:
        journal([entry])
        return
    pending: list[dict[str, Any]] | None = unit_.state.get(_PENDING)
    if pending is None:
        pending = unit_.state[_PENDING] = []
        unit_.after_commit(lambda: journal(pending))
    pending.append(entry)


def refused(action: str, *, subject_type: str | None = None, subject_id: object = None,
            shelter_id: int | None = None, account_id: int | None = None, outcome: str = "refused",
            detail: dict[str, Any] | None = None) -> None:
    """Audit a refusal; it is kept whether or not the unit it happened in commits."""
    entry = _entry(action, subject_type=subject_type, subject_id=subject_id, shelter_id=shelter_id,
                   outcome=outcome, account_id=account_id, detail=detail)
    unit_ = active_unit()
    if unit_ is None:
        journal([entry])
    else:
        unit_.finally_(lambda _committed: journal([entry]))


def _journal() -> AuditJournal:
    with _JOURNAL_LOCK:
        return journal_for(current_app._get_current_object())  # type: ignore[attr-defined]


def journal(entries: list[dict[str, Any]]) -> None:
    """Make entries durable now: in the journal, or (if it cannot be written) straight in the table.

    If neither works the caller gets `DatabaseUnavailable`: a read that cannot be audited is not
    answered.
    """
    if not entries:
        return
    try:
        _journal().append(entries)
    except OSError:
        try:
            insert_entries(entries)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            raise DatabaseUnavailable("audit_unavailable") from exc


def flush() -> int:
    """Store every journaled entry of this process and of dead processes now (tests, CLI commands)."""
    if not has_app_context():
        return 0
    return _journal().flush(adopt=True)


def _as_row(entry: dict[str, Any]) -> dict[str, Any]:
    row = dict(entry)
    when = row.get("occurred_at")
    if isinstance(when, str):
        row["occurred_at"] = datetime.fromisoformat(when)
    return row


@writing
def insert_entries(entries: list[dict[str, Any]]) -> None:
    """Store journaled entries, skipping any already stored (same `entry_id`)."""
    stmt = current_unit().insert(AuditEvent.__table__).on_conflict_do_nothing(index_elements=["entry_id"])
    db.session.execute(stmt, [_as_row(e) for e in entries])
