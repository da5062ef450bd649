"""Marshmallow schemas of the HQ API (unknown fields refused, marshmallow's default)."""

from __future__ import annotations

from marshmallow import fields, validate

from evac.checkin.schemas import PersonIdentityOut, ShelterCountsOut
from evac.common.schemas import Schema
from evac.hq.inquiries import Requester
from evac.hq.summary import NEED_KEYS
from evac.shelters.models import ShelterStatus

# People with each 要配慮 need (every open stay of the shelter, at home and in cars included).
NeedCountsOut = Schema.from_dict({key: fields.Integer() for key in NEED_KEYS}, name="NeedCountsOut")


class TotalsOut(Schema):
    """Totals over the open and full shelters."""

    open_shelters = fields.Integer()
    occupancy = fields.Integer(metadata={"description": "people sleeping at the shelters (在所 and 外出)"})
    households = fields.Integer()
    capacity = fields.Integer(metadata={"description": "sum of the known capacities"})
    capacity_unknown = fields.Integer(metadata={"description": "shelters whose capacity is not known"})
    at_home = fields.Integer(metadata={"description": "registered at a shelter, staying at home (在宅避難)"})
    in_car = fields.Integer(metadata={"description": "registered at a shelter, sleeping in a car (車中泊)"})
    pets = fields.Integer()
    near_full = fields.Integer(metadata={"description": "shelters at 80 % of capacity or more, not yet full"})
    full = fields.Integer(metadata={"description": "shelters at capacity or marked full"})
    needs = fields.Nested(NeedCountsOut)


class ShelterOccupancyOut(Schema):
    """One open or full shelter with its counts."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_kana = fields.String(allow_none=True, metadata={"description": "the reading (sort by it for 五十音 order)"})
    status = fields.String()
    municipality_code = fields.String(allow_none=True)
    municipality_name = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    occupancy = fields.Integer()
    households = fields.Integer()
    at_home = fields.Integer()
    in_car = fields.Integer()
    pets = fields.Integer()
    needs = fields.Nested(NeedCountsOut)
    fill = fields.Float(allow_none=True, metadata={"description": "occupancy / capacity, null if unknown"})
    last_stay_change = fields.String(allow_none=True, metadata={"description": "last check-in, check-out or move"})
    updated_at = fields.String(metadata={"description": "last change of the counts or of the shelter"})


class OccupancyArgs(Schema):
    """Query of GET /api/v1/occupancy: `since` asks for a delta."""

    since = fields.AwareDateTime(load_default=None, metadata={
        "description": "the generated_at of your last answer: only the shelters changed since then (and a minute "
                       "before), with the ids of those closed since; totals in full. ISO 8601 with a UTC offset."})


class OccupancyOut(Schema):
    """GET /api/v1/occupancy."""

    generated_at = fields.String(metadata={"description": "when this answer was made (the server's clock): the "
                                                          "`since` of the next delta poll"})
    incident_id = fields.Integer(allow_none=True, metadata={
        "description": "the open incident; when it differs from your last answer's, ask again without `since`"})
    totals = fields.Nested(TotalsOut)
    shelters = fields.List(fields.Nested(ShelterOccupancyOut), metadata={
        "description": "every open or full shelter; in a delta, those changed since `since`"})
    delta = fields.Boolean(metadata={"description": "true when the answer is a delta (`since` given)"})
    since = fields.String(metadata={"description": "the `since` this delta answers"})
    closed_ids = fields.List(fields.Integer(), metadata={"description": "in a delta: shelters closed since `since`"})


class TrendArgs(Schema):
    """Query of GET /api/v1/occupancy/trend: one shelter, or all when omitted; the open incident by default."""

    shelter_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    incident_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class TrendPointOut(Schema):
    """One hour of the trend."""

    hour = fields.String(metadata={"description": "start of the clock hour (UTC)"})
    occupancy = fields.Integer(metadata={"description": "at the end of the hour (the last point: now)"})


class TrendOut(Schema):
    """Occupancy over the last 24 hours."""

    shelter_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    now = fields.String()
    start = fields.Integer(metadata={"description": "occupancy when the first hour began"})
    points = fields.List(fields.Nested(TrendPointOut))


class ShelterSyncOut(Schema):
    """Whether one shelter's changes have reached the victim-support system."""

    state = fields.String(required=True, validate=validate.OneOf(["off", "ok", "pending", "parked"]))
    pending = fields.Integer(required=True)


class SyncStatesOut(Schema):
    """GET /api/v1/occupancy/sync."""

    connector = fields.String(required=True)
    shelters = fields.Dict(keys=fields.String(), values=fields.Nested(ShelterSyncOut), required=True)


class FoundShelterOut(Schema):
    """A shelter found by HQ's search."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    capacity = fields.Integer(allow_none=True)
    municipality_name = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    name_kana = fields.String(allow_none=True, metadata={"description": "the reading; results are in its 五十音 order"})
    kind = fields.String(required=True, metadata={"description": "evacuation (指定避難所), emergency (指定緊急避難場所), "
                                                                 "welfare (福祉避難所)"})


class ShelterSearchOut(Schema):
    """GET /api/v1/hq/shelters."""

    items = fields.List(fields.Nested(FoundShelterOut), required=True)


class InquiryWhereaboutsOut(Schema):
    """Where the person is (or last was), for the officer."""

    shelter_id = fields.Integer(required=True)
    shelter_name = fields.String(required=True)
    shelter_address = fields.String(allow_none=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    open = fields.Boolean(required=True)
    since = fields.String(required=True)


class InquiryItemOut(Schema):
    """One person found, with their consent and the answer allowed for this requester."""

    person = fields.Nested(PersonIdentityOut, required=True, metadata={
        "description": "for the officer; what may be told is in `answer`"})
    whereabouts = fields.Nested(InquiryWhereaboutsOut, allow_none=True, required=True)
    consent = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    may_answer = fields.Boolean(required=True)
    answer = fields.String(required=True)


class InquiryOut(Schema):
    """POST /api/v1/inquiries."""

    requester = fields.String(required=True)
    incident_id = fields.Integer(allow_none=True, required=True, metadata={"description": "whose stays were searched"})
    items = fields.List(fields.Nested(InquiryItemOut), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class SyncArgs(Schema):
    """Query of GET /api/v1/occupancy/sync: the shelters shown on the page."""

    shelter_id = fields.List(fields.Integer(validate=validate.Range(min=1)), required=True,
                             validate=validate.Length(min=1, max=500))


class ShelterSearchArgs(Schema):
    """Query of GET /api/v1/hq/shelters."""

    q = fields.String(load_default="", validate=validate.Length(max=100))
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ShelterStatus]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class MoveAllIn(Schema):
    """POST /api/v1/shelters/{id}/move-all: where everyone registered at the shelter goes."""

    to_shelter_id = fields.Integer(required=True, validate=validate.Range(min=1))


class MoveAllOut(Schema):
    """The outcome of moving everyone: how many, by whereabouts, and both shelters' counts."""

    moved = fields.Integer(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "people moved per stay status (present, outing, at_home, in_car)"})
    shelter = fields.Nested(ShelterCountsOut, required=True)
    to_shelter = fields.Nested(ShelterCountsOut, required=True)


class InquiryIn(Schema):
    """POST /api/v1/inquiries: names in a body, not in a URL that access logs would keep."""

    q = fields.String(load_default="", validate=validate.Length(max=100))
    birth_date = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=30))
    requester = fields.String(required=True, validate=validate.OneOf([r.value for r in Requester]))
    incident_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                                 metadata={"description": "an earlier incident; the open (else the latest) one by default"})


class ExportArgs(Schema):
    """Query of the export downloads: one shelter, or every shelter when omitted; the open incident's
    open stays by default, or every stay of an earlier incident (its 被災者台帳)."""

    shelter_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    incident_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    encoding = fields.String(load_default="utf-8", validate=validate.OneOf(["utf-8", "cp932"]))


class IncidentOut(Schema):
    """A disaster or a drill."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["disaster", "drill"]))
    open = fields.Boolean(required=True)
    public = fields.Boolean(required=True, metadata={"description": "shown on the public crowding page"})
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True, required=True)
    purged_at = fields.DateTime(allow_none=True, required=True)


class IncidentListOut(Schema):
    """GET /api/v1/incidents."""

    items = fields.List(fields.Nested(IncidentOut), required=True)


class IncidentIn(Schema):
    """POST /api/v1/incidents: open one (only while none is open)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "e.g. 令和8年台風10号, 令和8年度 総合防災訓練"})
    kind = fields.String(required=True, validate=validate.OneOf(["disaster", "drill"]))


class IncidentPatch(Schema):
    """PATCH /api/v1/incidents/{id}."""

    public = fields.Boolean(required=True)


class IncidentCloseIn(Schema):
    """POST /api/v1/incidents/current/close."""

    dry_run = fields.Boolean(load_default=False, metadata={"description": "count what closing would do"})


class CloseReportOut(Schema):
    """What closing the incident did (or would do). For a disaster, `shelters_closed` and `stays`
    count what still blocks the close."""

    incident_id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    dry_run = fields.Boolean(required=True)
    shelters_closed = fields.Integer(required=True)
    stays = fields.Integer(required=True)
    walk_ins = fields.Integer(required=True)
    households = fields.Integer(required=True)
    cards = fields.Integer(required=True)
    ic_links = fields.Integer(required=True)
    client_requests = fields.Integer(required=True)
    outbox_events = fields.Integer(required=True)
    sync_batches = fields.Integer(required=True)
    trend_hours = fields.Integer(required=True)
