"""Card-reader API: pairing codes and the desk's poll (staff), pairing and reads (the reader). Thin."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from evac.accounts.auth import (
    Credentials,
    api_blueprint,
    bearer_token,
    current_account,
    require_roles,
    takes_credentials,
)
from evac.accounts.models import Role
from evac.common.errors import ErrorOut
from evac.extensions import limiter
from evac.readers import service
from evac.readers.schemas import (
    DeskPollIn,
    DeskPollOut,
    PairIn,
    PairingIn,
    PairingOut,
    PairOut,
    ReadAcceptedOut,
    ReaderListArgs,
    ReaderListOut,
    ReaderOut,
    ReadIn,
    RevokeIn,
)

blp = api_blueprint("readers-api", __name__, "/api/v1", "カードリーダー / Card readers")


def _wrong_code(response: Any) -> bool:
    # Only wrong codes count against an address: a reader that pairs at once is never throttled.
    return response.status_code in (404, 410)


@blp.route("/readers/pairings")
class Pairings(MethodView):
    @limiter.limit(lambda: current_app.config["EVAC_READER_CODE_RATE_LIMIT"])
    @blp.arguments(PairingIn)
    @blp.response(201, PairingOut)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """A pairing code for this desk screen (single use, 10 minutes); an earlier unused one stops working."""
        code = service.create_pairing(current_account(), body["shelter_id"], str(body["desk_id"]), body["desk_label"])
        return code.payload(), 201


@blp.route("/readers/pair")
@takes_credentials(Credentials.NONE)
class Pair(MethodView):
    @limiter.limit(lambda: current_app.config["EVAC_READER_PAIR_RATE_LIMIT"], deduct_when=_wrong_code)
    @blp.arguments(PairIn)
    @blp.response(201, PairOut)
    @blp.alt_response(404, schema=ErrorOut, description="pairing_code_unknown")
    @blp.alt_response(410, schema=ErrorOut, description="pairing_code_expired or pairing_code_used")
    @blp.alt_response(429, schema=ErrorOut, description="too many wrong codes from this address")
    @blp.doc(security=[])
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Exchange a desk screen's pairing code for a reader token (no login: the code is the credential)."""
        paired = service.pair(body["code"], body["name"])
        return {"reader_id": paired.reader_id, "token": paired.token, "shelter_id": paired.shelter_id,
                "shelter_name": paired.shelter_name}, 201


@blp.route("/readers/reads")
@takes_credentials(Credentials.READER)
class Reads(MethodView):
    @blp.arguments(ReadIn)
    @blp.response(202, ReadAcceptedOut)
    @blp.alt_response(200, schema=ReadAcceptedOut, description="this read_id was received already")
    @blp.alt_response(401, schema=ErrorOut, description="reader_revoked or reader_token_required: pair again")
    @blp.doc(security=[{"readerToken": []}])
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """One card read from a paired reader, for the desk screen it is paired with. Answers nothing about the card."""
        outcome = service.accept_read(bearer_token(), {**body, "read_id": str(body["read_id"])})
        return outcome.payload(), outcome.status_code


@blp.route("/readers/desk-reads")
class DeskReads(MethodView):
    @blp.arguments(DeskPollIn)
    @blp.response(200, DeskPollOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """The desk screen's paired readers and the reads waiting for it (audited); `ack` the reads it has."""
        return service.poll_desk(current_account(), body["shelter_id"], str(body["desk_id"]),
                                 [str(a) for a in body["ack"]])


@blp.route("/readers")
class Readers(MethodView):
    @require_roles(Role.ADMIN, Role.HQ)
    @blp.arguments(ReaderListArgs, location="query")
    @blp.response(200, ReaderListOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Paired readers of every shelter: shelter, desk, name, paired at, last read (HQ and admin)."""
        items = service.list_readers(None, shelter_id=args["shelter_id"], include_revoked=args["include_revoked"])
        return {"items": items, "total": len(items)}


@blp.route("/readers/<int:reader_id>/revoke")
class Revoke(MethodView):
    @blp.arguments(RevokeIn)
    @blp.response(200, ReaderOut)
    def post(self, body: dict[str, Any], reader_id: int) -> dict[str, Any]:
        """Revoke a reader at once (HQ and admin: any; staff: the one of their own desk screen, by `desk_id`)."""
        desk_id = str(body["desk_id"]) if body.get("desk_id") else None
        return service.revoke_reader(reader_id, by=current_account(), desk_id=desk_id)
