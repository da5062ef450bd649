"""Domain exceptions and their one mapping to the JSON error format of the API.

Every API error answers `{"error": {"code": ..., "message": ..., "fields": {...}}}` with a 4xx
(or, for a bug, a 500 that says nothing of the data involved).
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields


class DomainError(Exception):
    """A refusal the client can act on. Subclasses set the HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class ValidationFailed(DomainError):
    """The request body or a file did not pass validation."""

    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    """The named record does not exist (or is outside the caller's reach)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with what is stored."""

    status = 409
    code = "conflict"


class Unauthenticated(DomainError):
    """No valid session or bearer token."""

    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    """Authenticated, but the role or shelter scope does not allow this."""

    status = 403
    code = "forbidden"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of an API error."""
    body: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return {"error": body}


class ErrorDetailOut(Schema):
    """What went wrong: a stable code, a message for people, and the fields concerned.

    Some refusals say more (`candidates` to choose from, …): further keys are allowed.
    """

    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True, metadata={"description": "stable, for programs (card_revoked, …)"})
    message = fields.String(required=True, metadata={"description": "for people, in the page's language"})
    field_errors = fields.Dict(data_key="fields", required=True,
                               metadata={"description": "field name → what is wrong with it"})


class ErrorOut(Schema):
    """Every error answer of the API: ``{"error": {"code", "message", "fields", …}}``."""

    error = fields.Nested(ErrorDetailOut, required=True)
