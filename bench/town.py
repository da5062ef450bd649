"""The benches' town: open shelters, households of synthetic people and their QR cards, bulk-inserted.

Shared by bench/checkin.py and bench/busyday.py, which differ only in sizes and names. Run inside
the app's context, after the schema exists.
"""

from __future__ import annotations

import socket
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa


def free_port() -> int:
    """A TCP port nothing listens on now, for a server the bench starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Town:
    """What `build_town` made: shelter and household ids, each household's person ids (in id order)."""

    shelter_ids: list[int]
    household_ids: list[int]
    members: dict[int, list[int]]


def build_town(prefix: str, *, shelters: int, households: int, per_household: int, capacity: int,
               serial_base: int, cards_for_heads_only: bool = False) -> Town:
    """Shelters `{prefix}0…`, households of `per_household` people, a card (serial `serial_base + id`) each.

    Needs vary by member (`m % 3`), so counters and tallies have something to count.
    """
    from evac.cards.models import Card
    from evac.common.db import WRITE, now_utc, unit
    from evac.extensions import db
    from evac.people.models import Household, Person
    from evac.shelters.models import Shelter

    now = now_utc()
    with unit(WRITE):
        db.session.execute(sa.insert(Shelter), [
            {"code": f"{prefix}{i}", "name": f"ベンチ避難所{i}", "kind": "evacuation", "hazards": [], "status": "open",
             "capacity": capacity, "source": "bench", "created_at": now, "updated_at": now}
            for i in range(shelters)])
        db.session.execute(sa.insert(Household), [
            {"number": f"{prefix}-{h:07d}", "district": "ベンチ", "created_at": now} for h in range(households)])
    with unit(WRITE):
        shelter_ids = list(db.session.scalars(sa.select(Shelter.id).order_by(Shelter.id)))
        household_ids = list(db.session.scalars(sa.select(Household.id).order_by(Household.id)))
        db.session.execute(sa.insert(Person), [
            {"household_id": hid, "family_name": "計測", "given_name": f"{hid}-{m}", "family_name_kana": "ケイソク",
             "given_name_kana": "テスト", "name_key": f"計測{hid}-{m}", "kana_key": "ケイソクテスト", "sex": "other",
             "source": "demo", "needs": m % 3, "pets": 0, "consent_relatives": False,
             "consent_acquaintances": False, "consent_public": False, "created_at": now, "updated_at": now}
            for hid in household_ids for m in range(per_household)])
    with unit(WRITE):
        members: dict[int, list[int]] = defaultdict(list)
        for pid, hid in db.session.execute(sa.select(Person.id, Person.household_id).order_by(Person.id)):
            members[hid].append(pid)
        holders = [members[h][0] for h in household_ids] if cards_for_heads_only else \
            [pid for h in household_ids for pid in members[h]]
        db.session.execute(sa.insert(Card), [{"person_id": pid, "serial": serial_base + pid, "issued_at": now}
                                             for pid in holders])
    return Town(shelter_ids, household_ids, dict(members))
