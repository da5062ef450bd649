"""Marshmallow schemas of the shelter API (unknown fields are refused by marshmallow's default)."""

from __future__ import annotations

from marshmallow import fields, validate

from evac.common.schemas import Schema
from evac.shelters.models import ShelterKind, ShelterStatus


class ShelterListArgs(Schema):
    """Query string of GET /api/v1/shelters."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ShelterStatus]))


class ShelterOut(Schema):
    """A shelter with its live occupancy."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_kana = fields.String(allow_none=True)
    name_en = fields.String(allow_none=True, metadata={
        "description": "romanised or English name, where the town's list gives one (名称_英字)"})
    address = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    municipality_code = fields.String(allow_none=True)
    kind = fields.Enum(ShelterKind, by_value=True)
    hazards = fields.List(fields.String())
    status = fields.Enum(ShelterStatus, by_value=True)
    capacity = fields.Integer(allow_none=True)
    occupancy = fields.Integer()
    households = fields.Integer()
    opened_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    last_change = fields.DateTime(allow_none=True)


class ShelterPageOut(Schema):
    """A page of shelters: `next` is the cursor of the following page, or null."""

    items = fields.List(fields.Nested(ShelterOut))
    total = fields.Integer()
    next = fields.Integer(allow_none=True)


class ShelterPatch(Schema):
    """PATCH /api/v1/shelters/{id}: open, close, mark full, set capacity."""

    status = fields.String(validate=validate.OneOf([s.value for s in ShelterStatus]))
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000))
