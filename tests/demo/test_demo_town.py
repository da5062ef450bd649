"""The demo town: deterministic synthetic residents, Seika's real shelters, demo accounts."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from evac.accounts import service as accounts
from evac.accounts.models import Role, StaffAccount, staff_shelter
from evac.common.vocab import Need
from evac.demo import service as demo
from evac.demo.generator import CSV_COLUMNS, REFERENCE_DATE, generate_town, resident_csv
from evac.extensions import db as _db
from evac.people.importers import COLUMNS
from evac.people.models import Household, Person, PersonSource
from evac.shelters.models import Shelter, ShelterKind

KATAKANA = re.compile(r"^[\u30a1-\u30fa\u30fc]+(?:[ ・][\u30a1-\u30fa\u30fc]+)*$")


def count(model: Any) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_same_seed_same_bytes_other_seed_other_town() -> None:
    first = resident_csv(generate_town(500, seed=1))
    assert first == resident_csv(generate_town(500, seed=1))
    assert first != resident_csv(generate_town(500, seed=2))
    assert first.startswith(codecs.BOM_UTF8)
    header = next(csv.reader(io.StringIO(first.decode("utf-8-sig"))))
    assert tuple(header[:10]) == COLUMNS and tuple(header) == CSV_COLUMNS
    assert len(read_csv(first)) == 500


@pytest.fixture(scope="module")
def town() -> list[Any]:
    return generate_town(5000, seed=7)


def test_population_proportions(town: list[Any]) -> None:
    people = [p for h in town for p in h.members]
    n = len(people)
    assert n == 5000
    ages = [p.age for p in people]
    assert 0.24 <= sum(a >= 65 for a in ages) / n <= 0.32
    assert 0.015 <= sum(a < 3 for a in ages) / n <= 0.04
    assert 2.1 <= n / len(town) <= 2.6
    assert 0.47 <= sum(p.sex == "女" for p in people) / n <= 0.55
    assert 0.008 <= sum(bool(p.nationality) for p in people) / n <= 0.025
    assert 0.15 <= sum(h.members[0].pets > 0 for h in town) / len(town) <= 0.25
    needs = Counter(label.split("(")[0] for p in people for label in p.needs)
    assert 0.03 <= needs["障害者"] / n <= 0.07
    assert 0.015 <= needs["アレルギー"] / n <= 0.045
    assert 0.015 <= needs["医療機器・慢性疾患"] / n <= 0.045
    assert needs["乳幼児"] == sum(a < 3 for a in ages)
    assert 0.7 <= sum(h.consent[0] for h in town) / len(town) <= 1.0
    # The planned towns are the big districts.
    by_district = Counter(h.district.name for h in town for _ in h.members)
    assert {name for name, _ in by_district.most_common(3)} == {"光台", "精華台", "桜が丘"}
    assert all(p.birth_date <= REFERENCE_DATE for p in people)


def test_names_are_kanji_with_their_katakana_reading(town: list[Any]) -> None:
    readings: dict[str, set[str]] = defaultdict(set)
    for household in town:
        family_names = {p.family_name for p in household.members}
        assert len(family_names) == 1  # one 氏 per household
        for p in household.members:
            assert KATAKANA.match(p.family_kana), p.family_kana
            assert KATAKANA.match(p.given_kana), p.given_kana
            readings[p.family_name].add(p.family_kana)
            if p.nationality:
                assert (p.family_name, p.given_name) == (p.family_kana, p.given_kana)
    # A kanji family name always has the same reading, so a kana search finds it.
    assert all(len(kana) == 1 for kana in readings.values())


def test_addresses_follow_the_district_style(town: list[Any]) -> None:
    for household in town[:300]:
        address, district = household.address, household.district
        assert address.startswith("京都府相楽郡精華町")
        if district.chome:
            assert re.fullmatch(rf"京都府相楽郡精華町{district.name}\d+丁目\d+-\d+", address)
        else:
            assert address.startswith(f"京都府相楽郡精華町大字{district.name}")
        assert re.fullmatch(r"619-02\d\d", district.postal_code)


def test_demo_builds_the_town(app: Any, tmp_path: Path) -> None:
    lines: list[str] = []
    result = demo.build_demo_town(residents=500, seed=3, csv_path=tmp_path / "r.csv", progress=lines.append)
    assert not result.upgraded and len(lines) >= 6
    assert (tmp_path / "r.csv").read_bytes() == resident_csv(generate_town(500, seed=3))

    shelters = list(_db.session.scalars(sa.select(Shelter).order_by(Shelter.id)))
    kinds = Counter(s.kind for s in shelters)
    # Two of GSI's four emergency sites are schools that are also 指定避難所: one shelter each.
    assert kinds == {ShelterKind.EVACUATION: 18, ShelterKind.EMERGENCY: 2}
    assert all(s.municipality_code == "263664" for s in shelters)
    for shelter in shelters:
        if shelter.kind is ShelterKind.EVACUATION:
            low, high = (200, 600) if "体育館" in shelter.name else (50, 400)
            assert shelter.capacity is not None and low <= shelter.capacity <= high, shelter.name
        elif "学校" in shelter.name:
            assert shelter.capacity is not None and shelter.capacity >= 800

    assert count(Person) == 500 and count(Household) == result.households
    assert set(_db.session.scalars(sa.select(Person.source).distinct())) == {PersonSource.DEMO}
    mask = sa.func.sum(sa.case((Person.needs.op("&")(int(Need.ELDERLY)) != 0, 1), else_=0))
    assert (_db.session.scalar(sa.select(mask)) or 0) > 0
    districts = set(_db.session.scalars(sa.select(Household.district).distinct()))
    assert {"光台", "精華台", "桜が丘"} <= districts and None not in districts

    for username, role, password in demo.DEMO_ACCOUNTS:
        account = accounts.authenticate(username, password)
        assert account is not None and account.role is role
    staff = _db.session.scalar(sa.select(StaffAccount).where(StaffAccount.username == "staff1"))
    assert staff is not None and staff.role is Role.STAFF
    assigned = _db.session.scalars(sa.select(staff_shelter.c.shelter_id).where(staff_shelter.c.account_id == staff.id)
                                   .order_by(staff_shelter.c.shelter_id)).all()
    assert assigned == [s.id for s in shelters if s.kind is ShelterKind.EVACUATION][:2]


def test_demo_twice_is_idempotent(app: Any, tmp_path: Path) -> None:
    demo.build_demo_town(residents=400, seed=5, csv_path=tmp_path / "r.csv")
    capacities = dict(_db.session.execute(sa.select(Shelter.code, Shelter.capacity)).all())
    ids = set(_db.session.scalars(sa.select(Person.id)))
    second = demo.build_demo_town(residents=400, seed=5, csv_path=tmp_path / "r.csv")
    report = second.resident_report
    assert (report.added, report.updated, report.unchanged) == (0, 0, 400)
    assert all(r.added == 0 and r.updated == 0 for r in second.shelter_reports)
    assert second.capacities_set == 0
    assert not any(a.created for a in second.accounts)
    assert set(_db.session.scalars(sa.select(Person.id))) == ids
    assert dict(_db.session.execute(sa.select(Shelter.code, Shelter.capacity)).all()) == capacities
    assert count(Shelter) == 20 and count(StaffAccount) == 3


def test_capacities_are_synthetic_but_deterministic(app: Any) -> None:
    shelter = Shelter(code="E2636600015111", name="精華町立東光小学校体育館", kind=ShelterKind.EVACUATION)
    assert demo.synthetic_capacity(shelter, 1) == demo.synthetic_capacity(shelter, 1)
    assert 200 <= (demo.synthetic_capacity(shelter, 1) or 0) <= 600
    centre = Shelter(code="X", name="精華町地域福祉センターかしのき苑", kind=ShelterKind.EVACUATION)
    assert 50 <= (demo.synthetic_capacity(centre, 9) or 0) <= 150


def test_gsi_files_are_found_and_vendored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in demo.GSI_FILES:
        vendored = demo.VENDORED_GSI_DIR / name
        assert vendored.is_file()
        (tmp_path / name).write_bytes(vendored.read_bytes())
    monkeypatch.setenv("EVAC_GSI_DIR", str(tmp_path))
    assert demo.find_gsi_dir() == tmp_path
    monkeypatch.setenv("EVAC_GSI_DIR", str(tmp_path / "missing"))
    assert demo.find_gsi_dir() != tmp_path / "missing"


def test_vendored_copies_match_the_shared_data(gsi_dir: Path) -> None:
    for name in demo.GSI_FILES:
        assert (demo.VENDORED_GSI_DIR / name).read_bytes() == (gsi_dir / name).read_bytes()


def test_demo_command(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    result = runner.invoke(args=["demo", "--residents", "300", "--seed", "4", "--csv", str(path)])
    assert result.exit_code == 0, result.output + result.stderr
    assert path.is_file()
    for text in ("http://127.0.0.1:8000/login", "admin-demo-2026", "hq-demo-2026", "staff1-demo-2026",
                 "精華町立東光小学校体育館", "added 300"):
        assert text in result.output
    again = runner.invoke(args=["demo", "--residents", "300", "--seed", "4", "--csv", str(path)])
    assert again.exit_code == 0 and "unchanged 300" in again.output and "既存 kept" in again.output


@pytest.mark.slow
def test_full_size_demo_town(app: Any, tmp_path: Path) -> None:
    result = demo.build_demo_town(residents=36198, seed=1, csv_path=tmp_path / "r.csv")
    assert result.resident_report.added == 36198
    assert count(Person) == 36198


def test_demo_starts_the_disaster_once(app: Any, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from evac.extensions import db
    from evac.outbox.models import OutboxEvent
    from evac.shelters.models import Shelter, ShelterStatus
    from evac.stays.models import Stay

    demo.build_demo_town(residents=600, seed=9, csv_path=tmp_path / "r.csv", evacuees=40)
    open_shelters = db.session.scalar(select(func.count()).select_from(Shelter).where(
        Shelter.status == ShelterStatus.OPEN))
    stays = db.session.scalar(select(func.count()).select_from(Stay))
    assert open_shelters == demo.OPEN_SHELTERS and 40 <= stays < 50
    # The check-ins went through the real service: one outbox event per stay.
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "checkin")) == stays
    demo.build_demo_town(residents=600, seed=9, csv_path=tmp_path / "r.csv", evacuees=40)
    assert db.session.scalar(select(func.count()).select_from(Stay)) == stays
