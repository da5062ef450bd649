"""Marshmallow schemas of the desk API. Unknown fields are refused (marshmallow's default)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from marshmallow.exceptions import SCHEMA
from webargs.fields import DelimitedList

from evac.common.schemas import Schema
from evac.common.vocab import NEED_KEYS, StayStatus

_SEX = ["male", "female", "other"]


class ConsentIn(Schema):
    """⑫ relatives and housemates, ⑬ acquaintances, ⑭ anyone else / publication."""

    relatives = fields.Boolean(load_default=False)
    acquaintances = fields.Boolean(load_default=False)
    public = fields.Boolean(load_default=False)


class PaperCardIn(Schema):
    """The 避難者カード (安否情報収集様式) items typed by staff."""

    family_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    given_name = fields.String(load_default="", validate=validate.Length(max=100))
    family_name_kana = fields.String(required=True, validate=validate.Length(min=1, max=100))
    given_name_kana = fields.String(load_default="", validate=validate.Length(max=100))
    birth_date = fields.String(required=True, validate=validate.Length(min=1, max=30),
                               metadata={"description": "ISO date or 和暦 (昭和55年1月2日, S55.1.2)"})
    sex = fields.String(required=True, validate=validate.OneOf(_SEX))
    postal_code = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\d{3}-?\d{4}$"))
    address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9+\-() ]{6,20}$"))
    nationality = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    language = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    needs = fields.List(fields.String(validate=validate.OneOf(list(NEED_KEYS))), load_default=list)
    allergy = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    condition_note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000),
                                   metadata={"multiline": True})
    pets = fields.Integer(load_default=0, validate=validate.Range(min=0, max=50))
    pet_note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                             metadata={"multiline": True})
    consent = fields.Nested(ConsentIn, load_default=dict)
    relationship = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20),
                                 metadata={"description": "続柄 (世帯主, 妻, 子, …)"})
    household_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "join this existing household (a scanned one) instead of forming a new one; "
                       "404 if it is not reachable by the caller's scope"})


# A family on one paper card: the holder and at most this many more (a 世帯 of 20 is already rare).
FAMILY_LIMIT = 19


class FamilyMemberIn(Schema):
    """A member of 「一緒に避難した家族」 on the paper card, registered into the holder's household.

    What a household shares (address, postal code, phone, nationality, language, consent) is the
    holder's; an empty family name or family-name kana is the holder's too.
    """

    family_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                                metadata={"description": "the holder's if empty"})
    given_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    family_name_kana = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                                     metadata={"description": "the holder's if empty"})
    given_name_kana = fields.String(required=True, validate=validate.Length(min=1, max=100))
    relationship = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20),
                                 metadata={"description": "続柄 to the holder's household (妻, 子, 父, …)"})
    birth_date = fields.String(required=True, validate=validate.Length(min=1, max=30),
                               metadata={"description": "ISO date or 和暦 (昭和55年1月2日, S55.1.2)"})
    sex = fields.String(required=True, validate=validate.OneOf(_SEX))
    needs = fields.List(fields.String(validate=validate.OneOf(list(NEED_KEYS))), load_default=list)
    allergy = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    condition_note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000),
                                   metadata={"multiline": True})


class MyNumberCardIn(Schema):
    """The four basic items (基本4情報) as a card reader hands them over: never the 個人番号."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    birth_date = fields.String(required=True, validate=validate.Length(min=1, max=30))
    sex = fields.String(required=True, validate=validate.Length(min=1, max=10))


_IDENTIFIERS = ("qr", "card", "ic_uid", "person")


class CheckinIn(Schema):
    """POST /api/v1/checkins: a shelter, a client id and one of qr, card, ic_uid, person (or person_id)."""

    shelter_id = fields.Integer(required=True)
    client_id = fields.UUID(required=True)
    qr = fields.String(validate=validate.Length(min=1, max=200))
    card = fields.Nested(MyNumberCardIn)
    ic_uid = fields.String(validate=validate.Length(min=1, max=64))
    person = fields.Nested(PaperCardIn)
    family = fields.List(fields.Nested(FamilyMemberIn), validate=validate.Length(max=FAMILY_LIMIT), metadata={
        "description": "with `person`: the family who came with the card holder, registered into one household "
                       f"with them and checked in together (at most {FAMILY_LIMIT}); errors name the member, "
                       "`family[2].birth_date`"})
    person_id = fields.Integer(metadata={"description": "a person chosen by staff (or the one to link an IC card to)"})
    members = fields.List(fields.Integer(), validate=validate.Length(max=50))
    transfer = fields.Boolean(load_default=False)
    confirm_new = fields.Boolean(load_default=False,
                                 metadata={"description": "register the paper card even though similar persons exist"})
    whereabouts = fields.String(load_default="present",
                                validate=validate.OneOf(["present", "at_home", "in_car"]))
    include_household = fields.Boolean(load_default=False, metadata={
        "description": "answer with the household and everyone's whereabouts (the desk has it from the lookup)"})

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        given = [k for k in _IDENTIFIERS if data.get(k)]
        if len(given) > 1 or (not given and not data.get("person_id")):
            raise ValidationError("give exactly one of qr, card, ic_uid, person (or person_id)", "_schema")
        if data.get("person_id") and given and given != ["ic_uid"]:
            raise ValidationError("person_id goes alone, or with ic_uid to link the card", "person_id")
        if data.get("family") and not data.get("person"):
            raise ValidationError("a family comes with the card holder's `person`", "family")
        if data.get("family") and data.get("members"):
            raise ValidationError("members are for a registered household, not with a walk-in's family", "members")

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        """Name a family member's field as `family[2].birth_date`, so the desk can point at it."""
        messages = error.messages
        if not isinstance(messages, dict) or not isinstance(messages.get("family"), dict):
            return
        flat = {k: v for k, v in messages.items() if k != "family"}
        for index, inner in messages["family"].items():
            if isinstance(inner, dict) and index != SCHEMA:
                flat.update({f"family[{index}].{name}": problem for name, problem in inner.items()})
            else:
                flat[f"family[{index}]" if index != SCHEMA else "family"] = inner
        raise ValidationError(flat, data=data)


class CheckoutIn(Schema):
    """POST /api/v1/checkouts."""

    client_id = fields.UUID(required=True)
    person_id = fields.Integer()
    qr = fields.String(validate=validate.Length(min=1, max=200))
    members = fields.List(fields.Integer(), validate=validate.Length(max=50))
    reason = fields.String(required=True, validate=validate.OneOf(
        ["left", "outing", "return", "transfer", "at_home", "in_car"]))
    to_shelter_id = fields.Integer()

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if bool(data.get("person_id")) == bool(data.get("qr")):
            raise ValidationError("give exactly one of person_id or qr", "_schema")
        if data["reason"] == "transfer" and not data.get("to_shelter_id"):
            raise ValidationError("required for a transfer", "to_shelter_id")


class UndoIn(Schema):
    """POST /api/v1/undo: take back a desk operation, named by its client id or by a stay it opened."""

    client_id = fields.UUID(required=True, metadata={"description": "this undo's own id (a repeat is a replay)"})
    operation_id = fields.UUID(metadata={"description": "the client_id the check-in or check-out was sent with"})
    stay_id = fields.Integer(metadata={"description": "a stay the operation opened: that person's part only"})

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if bool(data.get("operation_id")) == bool(data.get("stay_id")):
            raise ValidationError("give exactly one of operation_id or stay_id", "_schema")


class LookupIn(Schema):
    """POST /api/v1/lookups: who a scan names, changing nothing."""

    shelter_id = fields.Integer(required=True)
    qr = fields.String(validate=validate.Length(min=1, max=200))
    card = fields.Nested(MyNumberCardIn)
    ic_uid = fields.String(validate=validate.Length(min=1, max=64))
    person_id = fields.Integer()

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if sum(bool(data.get(k)) for k in ("qr", "card", "ic_uid", "person_id")) != 1:
            raise ValidationError("give exactly one of qr, card, ic_uid, person_id", "_schema")


class StayOut(Schema):
    """A stay as the API answers it."""

    id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    shelter_id = fields.Integer(required=True)
    household_id = fields.Integer(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in StayStatus]))
    method = fields.String(required=True)
    checked_in_at = fields.String(required=True, metadata={"format": "date-time"})
    checked_out_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    transferred_to_id = fields.Integer(allow_none=True)


class ShelterCountsOut(Schema):
    """The shelter an answer is about, with its occupancy after the change."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    capacity = fields.Integer(allow_none=True)
    municipality_code = fields.String(allow_none=True)
    occupancy = fields.Integer(required=True)
    households = fields.Integer(required=True)


class PersonNameOut(Schema):
    """A person's id and name, in kanji and kana."""

    id = fields.Integer(required=True)
    family_name = fields.String(required=True)
    given_name = fields.String(allow_none=True)
    family_name_kana = fields.String(allow_none=True)
    given_name_kana = fields.String(allow_none=True)


class PersonSlimOut(PersonNameOut):
    """Who a check-in or check-out was about."""

    household_id = fields.Integer(allow_none=True)


class PersonIdentityOut(PersonNameOut):
    """What tells a person apart: name, birth date, sex, address."""

    birth_date = fields.String(allow_none=True, metadata={"format": "date"})
    sex = fields.String(required=True, validate=validate.OneOf(["male", "female", "other"]))
    address = fields.String(allow_none=True)


class PersonSummaryOut(PersonIdentityOut):
    """A person as staff see them at the desk."""

    household_id = fields.Integer(allow_none=True)
    household_number = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    needs = fields.List(fields.String(), required=True)
    allergy = fields.String(allow_none=True)
    pets = fields.Integer(required=True)
    language = fields.String(allow_none=True)


class MemberWhereaboutsOut(Schema):
    """Where a household member is staying (`status` "elsewhere", the rest null: at a shelter not the caller's)."""

    stay_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True)
    shelter_id = fields.Integer(required=True, allow_none=True)
    shelter_name = fields.String(required=True, allow_none=True)
    checked_in_at = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "when the stay began (null for a member staying elsewhere)"})


class MemberOut(PersonSummaryOut):
    """A household member and their whereabouts (null: not checked in anywhere)."""

    whereabouts = fields.Nested(MemberWhereaboutsOut, allow_none=True, required=True)


class HouseholdOut(Schema):
    """A household with every member's whereabouts."""

    id = fields.Integer(allow_none=True)
    number = fields.String(allow_none=True)
    members = fields.List(fields.Nested(MemberOut), required=True)
    elsewhere = fields.Integer(metadata={"description": "members staying at shelters outside the caller's scope: "
                                                        "counted, never listed"})


class DeskAnswerOut(Schema):
    """The answer to a check-in or check-out: the stays, the shelter's new occupancy, who it was."""

    stays = fields.List(fields.Nested(StayOut), required=True)
    shelter = fields.Nested(ShelterCountsOut, required=True)
    to_shelter = fields.Nested(ShelterCountsOut)
    person = fields.Nested(PersonSlimOut, required=True)
    household = fields.Nested(HouseholdOut)
    warnings = fields.List(fields.String(), required=True)


class UndoOut(Schema):
    """The answer to an undo: the stays put back, those voided, the shelter's occupancy now."""

    operation_id = fields.String(required=True)
    stays = fields.List(fields.Nested(StayOut), required=True, metadata={"description": "stays reopened or restored"})
    voided_stay_ids = fields.List(fields.Integer(), required=True,
                                  metadata={"description": "stays the operation opened, now removed"})
    shelter = fields.Nested(ShelterCountsOut, required=True)
    to_shelter = fields.Nested(ShelterCountsOut)
    person = fields.Nested(PersonSlimOut, required=True)
    warnings = fields.List(fields.String(), required=True)


class LookupOut(Schema):
    """Who a scan names: the person and household, or the candidates to choose from."""

    person = fields.Nested(PersonSummaryOut, allow_none=True, required=True)
    household = fields.Nested(HouseholdOut, allow_none=True, required=True)
    candidates = fields.List(fields.Nested(PersonSummaryOut), required=True)
    hidden_matches = fields.Integer(metadata={"description": "further matches staying at shelters outside the "
                                                             "caller's scope: not shown, ask HQ"})


class RosterItemOut(Schema):
    """One open stay of the roster and who it is."""

    stay = fields.Nested(StayOut, required=True)
    person = fields.Nested(PersonSummaryOut, required=True)


class RosterOut(Schema):
    """GET /api/v1/shelters/{id}/roster."""

    shelter = fields.Nested(ShelterCountsOut, required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    needs = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "open stays of the shelter per need key, whatever the filters"})
    items = fields.List(fields.Nested(RosterItemOut), required=True)
    total = fields.Integer(required=True)
    next = fields.Integer(allow_none=True, required=True)


class SearchWhereaboutsOut(Schema):
    """Where a person found by a search is staying."""

    shelter_id = fields.Integer(required=True)
    status = fields.String(required=True)


class FoundPersonOut(PersonSummaryOut):
    """A person found by a search."""

    whereabouts = fields.Nested(SearchWhereaboutsOut, allow_none=True, required=True)


class PersonSearchOut(Schema):
    """GET /api/v1/persons."""

    items = fields.List(fields.Nested(FoundPersonOut), required=True)
    total = fields.Integer(required=True, metadata={"description": "how many items (never a count of the register)"})
    more = fields.Boolean(required=True, metadata={"description": "more persons match than `limit`: narrow the search"})


class RosterArgs(Schema):
    """GET /api/v1/shelters/{id}/roster query."""

    status = fields.String(load_default=None, validate=validate.OneOf(
        [s.value for s in StayStatus if s not in (StayStatus.LEFT, StayStatus.TRANSFERRED)]))
    needs = DelimitedList(fields.String(validate=validate.OneOf(list(NEED_KEYS))), load_default=list)
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    cursor = fields.Integer(load_default=None, allow_none=True)


class PersonSearchArgs(Schema):
    """GET /api/v1/persons query."""

    q = fields.String(load_default="", validate=validate.Length(max=100))
    birth_date = fields.String(load_default=None, validate=validate.Length(max=30))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
