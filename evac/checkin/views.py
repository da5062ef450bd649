"""Desk API: check-ins, check-outs, lookups, rosters and person search. Thin over the services."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from evac.accounts.auth import api_blueprint, current_account
from evac.checkin import service
from evac.checkin.schemas import (
    CheckinIn,
    CheckoutIn,
    DeskAnswerOut,
    LookupIn,
    LookupOut,
    PersonSearchArgs,
    PersonSearchOut,
    RosterArgs,
    RosterOut,
    UndoIn,
    UndoOut,
)
from evac.people import service as people

blp = api_blueprint("desk-api", __name__, "/api/v1", "受付 / Desk")


def _json(body: dict[str, Any]) -> dict[str, Any]:
    # UUIDs from the schema become strings, so a replayed body hashes like the first one.
    return {k: (str(v) if k == "client_id" else v) for k, v in body.items()}


@blp.route("/checkins")
class Checkins(MethodView):
    @blp.arguments(CheckinIn)
    @blp.response(201, DeskAnswerOut)
    @blp.alt_response(200, schema=DeskAnswerOut, description="already checked in, or a replayed client_id")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Check in a person or the household members present (QR, My Number card, IC card or paper card)."""
        outcome = service.checkin(current_account(), _json(body))
        return outcome.body, outcome.status_code


@blp.route("/checkouts")
class Checkouts(MethodView):
    @blp.arguments(CheckoutIn)
    @blp.response(201, DeskAnswerOut)
    @blp.alt_response(200, schema=DeskAnswerOut, description="nothing changed, or a replayed client_id")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Check out (left), outing and return, transfer, or whereabouts at home / in a car."""
        outcome = service.checkout(current_account(), _json(body))
        return outcome.body, outcome.status_code


@blp.route("/undo")
class Undo(MethodView):
    @blp.arguments(UndoIn)
    @blp.response(201, UndoOut)
    @blp.alt_response(200, schema=UndoOut, description="a replayed client_id")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Take back a check-in, check-out, outing or transfer: voided or restored stays, a correction event."""
        outcome = service.undo(current_account(), _json({k: (str(v) if k == "operation_id" else v)
                                                         for k, v in body.items()}))
        return outcome.body, outcome.status_code


@blp.route("/lookups")
class Lookups(MethodView):
    @blp.arguments(LookupIn)
    @blp.response(200, LookupOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Who a scan names, with the household's whereabouts; changes nothing (audited read)."""
        return service.lookup(current_account(), body)


@blp.route("/shelters/<int:shelter_id>/roster")
class Roster(MethodView):
    @blp.arguments(RosterArgs, location="query")
    @blp.response(200, RosterOut)
    def get(self, args: dict[str, Any], shelter_id: int) -> dict[str, Any]:
        """Current stays at the shelter, filterable by whereabouts, needs and name (audited)."""
        return service.roster(current_account(), shelter_id, **args)


@blp.route("/persons")
class Persons(MethodView):
    @blp.arguments(PersonSearchArgs, location="query")
    @blp.response(200, PersonSearchOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Kana or kanji prefix search, optionally by birth date; scoped by role and audited."""
        birth = people.parse_date_field(args["birth_date"], "birth_date") if args["birth_date"] else None
        result = people.search(current_account(), args["q"], birth_date=birth, limit=args["limit"])
        return {"items": [f.summary() for f in result.found], "total": len(result.found), "more": result.more}
