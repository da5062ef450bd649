"""Recording audit events. They join the caller's transaction, so a change and its audit commit together."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from evac.audit.models import AuditEvent
from evac.extensions import db


def _actor_id() -> int | None:
    if not has_request_context():
        return None
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def record(
    action: str,
    *,
    subject_type: str | None = None,
    subject_id: object = None,
    shelter_id: int | None = None,
    outcome: str = "ok",
    account_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current session. `detail` must hold ids and codes, never personal data."""
    event = AuditEvent(
        action=action,
        outcome=outcome,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        shelter_id=shelter_id,
        account_id=account_id if account_id is not None else _actor_id(),
        remote_addr=request.remote_addr if has_request_context() else None,
        detail=detail or {},
    )
    db.session.add(event)
    return event


def record_now(action: str, **kwargs: Any) -> None:
    """Record an audit event in its own transaction, for refusals whose main transaction rolls back."""
    db.session.rollback()
    record(action, **kwargs)
    db.session.commit()
