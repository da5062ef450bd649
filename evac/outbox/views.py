"""Sync API for HQ: connector health and retrying a parked batch. Thin over `evac.outbox.state`."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from evac.accounts.auth import api_blueprint, current_account, require_roles
from evac.accounts.models import Role
from evac.outbox import state

blp = api_blueprint("sync", __name__, "/api/v1/sync", "同期 / Sync to the victim-support system")


class SyncErrorOut(Schema):
    """The last failure of a connector: when, a short code, the HTTP status if there was one."""

    at = fields.DateTime()
    code = fields.String(allow_none=True)
    http_status = fields.Integer(allow_none=True)


class ParkedBatchOut(Schema):
    """A batch the far end refused (a 4xx other than 408/429); later events keep flowing."""

    id = fields.Integer(metadata={"description": "what to POST to …/batches/{id}/retry"})
    batch_id = fields.String(metadata={"description": "the Idempotency-Key it was sent with"})
    connector = fields.String()
    status = fields.String()
    events = fields.Integer()
    first_seq = fields.Integer()
    last_seq = fields.Integer()
    http_status = fields.Integer(allow_none=True)
    error_code = fields.String(allow_none=True)
    attempts = fields.Integer()
    retries = fields.Integer()
    parked_at = fields.DateTime(allow_none=True)
    retry_requested_at = fields.DateTime(allow_none=True)
    held_events = fields.Integer(metadata={"description": "later events of the same persons, held to keep their order"})


class LeaseOut(Schema):
    """Which sender process holds the connector's lease (SQLite only; PostgreSQL uses an advisory lock)."""

    holder = fields.String()
    expires_at = fields.DateTime(allow_none=True)


class ConnectorStatusOut(Schema):
    """One connector's health."""

    name = fields.String()
    configured = fields.Boolean()
    cursor = fields.Integer()
    backlog = fields.Integer(metadata={"description": "events waiting to be sent (parked and held ones apart)"})
    held_events = fields.Integer()
    parked_events = fields.Integer()
    delivered_events = fields.Integer()
    lag_seconds = fields.Float(metadata={"description": "how long the oldest undelivered event has waited"})
    last_attempt_at = fields.DateTime(allow_none=True)
    last_success_at = fields.DateTime(allow_none=True)
    last_error = fields.Nested(SyncErrorOut, allow_none=True)
    lease = fields.Nested(LeaseOut, allow_none=True)
    parked = fields.List(fields.Nested(ParkedBatchOut))


class SyncStatusOut(Schema):
    """GET /api/v1/sync/status."""

    connector = fields.String(metadata={"description": "EVAC_SYNC_CONNECTOR: http, csv or none"})
    connectors = fields.List(fields.Nested(ConnectorStatusOut))
    checked_at = fields.DateTime()


@blp.route("/status")
class SyncStatus(MethodView):
    @require_roles(Role.ADMIN, Role.HQ)
    @blp.response(200, SyncStatusOut)
    def get(self) -> dict[str, Any]:
        """Backlog, last success, last error and parked batches per connector (hq and admin)."""
        return state.sync_status(current_app.config["EVAC_SYNC_CONNECTOR"])


@blp.route("/batches/<int:batch>/retry")
class RetryBatch(MethodView):
    @require_roles(Role.ADMIN, Role.HQ)
    @blp.response(202, ParkedBatchOut)
    def post(self, batch: int) -> dict[str, Any]:
        """Send a parked batch again on the next pass, under a new batch id (audited; hq and admin)."""
        return state.request_retry(batch, account_id=current_account().id)
