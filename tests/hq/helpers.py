"""Building evacuees and moving them through the desk API, for the HQ tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from evac.common.vocab import Need
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout


def family(n: int = 3, *, needs: list[int] | None = None, pets: int = 0, **person: Any) -> list[int]:
    """A household of `n` persons; returns their ids (the first is the head)."""
    home = factories.household()
    ids = []
    for i in range(n):
        mask = (needs or [0] * n)[i] if needs else 0
        ids.append(factories.person(household_id=home.id, given_name=f"家族{i}", given_name_kana="カゾク",
                                    needs=mask, pets=pets if i == 0 else 0, **person).id)
    return ids


def check_in(client: FlaskClient, headers: dict[str, str], shelter_id: int, ids: list[int], **extra: Any) -> Any:
    response = post_checkin(client, headers, shelter_id=shelter_id, person_id=ids[0], members=ids, **extra)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def check_out(client: FlaskClient, headers: dict[str, str], ids: list[int], reason: str = "left", **extra: Any) -> Any:
    response = post_checkout(client, headers, person_id=ids[0], members=ids, reason=reason, **extra)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


ELDERLY, INFANT, ALLERGY = int(Need.ELDERLY), int(Need.INFANT), int(Need.ALLERGY)
