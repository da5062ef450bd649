"""Marshmallow schemas of the card-reader API. Unknown fields are refused (marshmallow's default)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from evac.checkin.schemas import MyNumberCardIn
from evac.common.schemas import Schema

_KINDS = ["mynumber", "ic"]
# What readers send for a UID: hex, perhaps with separators (the server keys it like a tap at the desk).
_UID = validate.Regexp(r"^[0-9A-Fa-f][0-9A-Fa-f:\- ]{0,62}[0-9A-Fa-f]$")


class PairingIn(Schema):
    """POST /api/v1/readers/pairings: a code for this desk screen."""

    shelter_id = fields.Integer(required=True)
    desk_id = fields.UUID(required=True, metadata={"description": "the desk screen's own random id (localStorage)"})
    desk_label = fields.String(load_default="", validate=validate.Length(max=60),
                               metadata={"description": "how HQ lists this desk screen (受付1, …)"})


class PairingOut(Schema):
    """A pairing code to show: single use, valid for `expires_in` seconds."""

    code = fields.String(required=True, metadata={"description": "8 characters, shown grouped: K7Q4-PX2M"})
    expires_at = fields.String(required=True, metadata={"format": "date-time"})
    expires_in = fields.Integer(required=True)
    shelter_id = fields.Integer(required=True)
    desk_id = fields.String(required=True)


class PairIn(Schema):
    """POST /api/v1/readers/pair, from `evac-reader pair CODE`."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=40),
                         metadata={"description": "as shown on the desk screen; any case, dash optional"})
    name = fields.String(load_default="", validate=validate.Length(max=100),
                         metadata={"description": "how the desk and HQ list this reader"})


class PairOut(Schema):
    """The reader's id and token (shown once; only its hash is kept)."""

    reader_id = fields.Integer(required=True)
    token = fields.String(required=True, metadata={"description": "evr_…: can only POST /api/v1/readers/reads"})
    shelter_id = fields.Integer(required=True)
    shelter_name = fields.String(required=True)


class ReadIn(Schema):
    """POST /api/v1/readers/reads: one card read, exactly as the reader took it."""

    read_id = fields.UUID(required=True, metadata={"description": "the reader's id of this read; resent unchanged"})
    type = fields.String(required=True, validate=validate.OneOf(_KINDS))
    card = fields.Nested(MyNumberCardIn, metadata={"description": "type mynumber: the four basic items"})
    uid = fields.String(validate=_UID, metadata={"description": "type ic: the card's UID or FeliCa IDm, hex"})

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["type"] == "mynumber" and ("card" not in data or "uid" in data):
            raise ValidationError("a mynumber read has card and no uid", "card")
        if data["type"] == "ic" and ("uid" not in data or "card" in data):
            raise ValidationError("an ic read has uid and no card", "uid")


class ReadAcceptedOut(Schema):
    """A read taken (or a resent one recognised). Nothing about the card."""

    status = fields.String(required=True, validate=validate.OneOf(["accepted", "duplicate"]))
    read_id = fields.String(required=True)


class DeskPollIn(Schema):
    """POST /api/v1/readers/desk-reads: the desk screen asks for its reads."""

    shelter_id = fields.Integer(required=True)
    desk_id = fields.UUID(required=True)
    ack = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50),
                      metadata={"description": "read ids this desk screen has received: their data is deleted"})


class MyNumberCardOut(Schema):
    """The four basic items as the card holds them."""

    name = fields.String(required=True)
    address = fields.String(required=True)
    birth_date = fields.String(required=True)
    sex = fields.String(required=True)


class DeskReadOut(Schema):
    """A read for the desk: the same line a keyboard-wedge or BroadcastChannel reader gives, with its id."""

    read_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(_KINDS))
    card = fields.Nested(MyNumberCardOut)
    uid = fields.String()
    received_at = fields.String(required=True, metadata={"format": "date-time"})


class DeskReaderOut(Schema):
    """A reader paired with this desk screen."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    desk_label = fields.String(required=True)
    paired_at = fields.String(required=True, metadata={"format": "date-time"})
    last_read_at = fields.String(allow_none=True, required=True, metadata={"format": "date-time"})


class DeskPollOut(Schema):
    """The desk screen's readers and waiting reads; `poll_ms` is when to ask again (0: no reader, stop)."""

    readers = fields.List(fields.Nested(DeskReaderOut), required=True)
    reads = fields.List(fields.Nested(DeskReadOut), required=True)
    poll_ms = fields.Integer(required=True)


class ReaderOut(DeskReaderOut):
    """A paired reader as HQ lists it: as the desk sees it, with its shelter and revocation."""

    shelter_id = fields.Integer(required=True)
    shelter_name = fields.String(required=True)
    revoked_at = fields.String(allow_none=True, required=True, metadata={"format": "date-time"})
    active = fields.Boolean(required=True)


class ReaderListArgs(Schema):
    """GET /api/v1/readers query."""

    shelter_id = fields.Integer(load_default=None)
    include_revoked = fields.Boolean(load_default=False)


class ReaderListOut(Schema):
    """GET /api/v1/readers."""

    items = fields.List(fields.Nested(ReaderOut), required=True)
    total = fields.Integer(required=True)


class RevokeIn(Schema):
    """POST /api/v1/readers/{id}/revoke; staff name the desk screen they are at."""

    desk_id = fields.UUID(load_default=None, allow_none=True)
