"""Shelter API: thin views over `evac.shelters.service`."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from evac.accounts.auth import api_blueprint, current_account, ensure_shelter_access, require_roles
from evac.accounts.models import Role
from evac.common.errors import ErrorOut
from evac.shelters import service
from evac.shelters.models import Shelter
from evac.shelters.schemas import ShelterListArgs, ShelterOut, ShelterPageOut, ShelterPatch

blp = api_blueprint("shelters", __name__, "/api/v1/shelters", "避難所 / Shelters")


_SHELTER_FIELDS = ("id", "code", "name", "name_kana", "name_en", "address", "lat", "lon", "municipality_code", "kind",
                   "hazards", "status", "capacity", "opened_at", "updated_at")


def _out(shelter: Shelter, occ: service.Occupancy) -> dict[str, Any]:
    row = {name: getattr(shelter, name) for name in _SHELTER_FIELDS}
    row.update(occupancy=occ.occupancy, households=occ.households, last_change=occ.last_change)
    return row


@blp.route("")
class ShelterList(MethodView):
    @blp.arguments(ShelterListArgs, location="query")
    @blp.response(200, ShelterPageOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Shelters the caller may see, with live occupancy; keyset pagination by `cursor`."""
        page = service.list_shelters(current_account().scope(), **args)
        return {"items": [_out(s, o) for s, o in page.items], "total": page.total, "next": page.next_cursor}


@blp.route("/<int:shelter_id>")
class ShelterItem(MethodView):
    @blp.response(200, ShelterOut)
    def get(self, shelter_id: int) -> dict[str, Any]:
        """One shelter with its live occupancy."""
        ensure_shelter_access(current_account(), shelter_id)
        return _out(*service.shelter_with_occupancy(shelter_id))

    @require_roles(Role.ADMIN, Role.HQ)
    @blp.arguments(ShelterPatch)
    @blp.response(200, ShelterOut)
    @blp.alt_response(409, schema=ErrorOut,
                      description="shelter_not_empty: people are still registered there (`present`, `counts`); "
                                  "move them (POST /api/v1/shelters/{id}/move-all) or record them as left first")
    def patch(self, body: dict[str, Any], shelter_id: int) -> dict[str, Any]:
        """Open, close, mark full or set the capacity (hq and admin). Closing needs the shelter empty."""
        return _out(*service.update_shelter(shelter_id, status=body.get("status"), capacity=body.get("capacity"),
                                            capacity_given="capacity" in body))
