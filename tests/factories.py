"""Small factories: each test builds what it needs, committed, with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy import select

from evac.accounts import service as accounts
from evac.accounts.models import Role, StaffAccount
from evac.common.textnorm import kana_key, name_key
from evac.common.vocab import Sex
from evac.extensions import db
from evac.incidents.models import Incident, IncidentKind
from evac.people.models import Household, Person, PersonSource
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def incident(name: str = "テスト災害", kind: IncidentKind = IncidentKind.DISASTER) -> Incident:
    """The open incident: this one if none is open yet (one at a time)."""
    found = db.session.scalar(select(Incident).where(Incident.is_open.is_(True)))
    if found is not None:
        return found
    obj = Incident(name=name, kind=kind, is_open=True, public=kind is IncidentKind.DISASTER)
    db.session.add(obj)
    db.session.commit()
    return obj


def shelter(**overrides: Any) -> Shelter:
    """A shelter, open by default (under an open incident, made if there is none)."""
    n = next(_seq)
    values: dict[str, Any] = {
        "code": f"T{n:06d}", "name": f"テスト避難所{n}", "name_kana": "テストヒナンジョ",
        "address": "京都府精華町光台7-43", "lat": 34.74, "lon": 135.75, "municipality_code": "263664",
        "kind": ShelterKind.EVACUATION, "status": ShelterStatus.OPEN, "capacity": 100, "source": "test",
    }
    values.update(overrides)
    if values["status"] is not ShelterStatus.CLOSED:
        incident()
    obj = Shelter(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def household(**overrides: Any) -> Household:
    """A household with a unique number."""
    n = next(_seq)
    values: dict[str, Any] = {"number": f"H{n:08d}", "address": "京都府精華町祝園1-1", "district": "祝園"}
    values.update(overrides)
    obj = Household(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def person(**overrides: Any) -> Person:
    """A synthetic person; name and kana keys follow the names given."""
    values: dict[str, Any] = {
        "family_name": "山田", "given_name": "花子", "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
        "birth_date": date(1980, 1, 2), "sex": Sex.FEMALE, "address": "京都府精華町祝園1-1",
        "source": PersonSource.REGISTER,
    }
    values.update(overrides)
    values.setdefault("name_key", name_key(values["family_name"], values["given_name"]))
    values.setdefault("kana_key", kana_key(values["family_name_kana"], values["given_name_kana"]))
    obj = Person(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def account(role: Role = Role.ADMIN, shelters: list[Shelter] | None = None, **overrides: Any) -> StaffAccount:
    """An account with the test password."""
    n = next(_seq)
    return accounts.create_account(
        overrides.get("username", f"user{n}"), role=role, password=PASSWORD,
        shelter_ids=[s.id for s in shelters or []],
    )


def bearer(acct: StaffAccount) -> dict[str, str]:
    """Authorization header with a fresh API token for the account."""
    return {"Authorization": f"Bearer {accounts.issue_token(acct.username)}"}
