"""One shelter per site: GSI's 指定避難所 and 指定緊急避難場所 of one school, the town's lists, 共通IDs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evac.common.importing import EntryKind
from evac.common.vocab import CheckinMethod, StayStatus
from evac.extensions import db
from evac.shelters.importers import import_shelters_file
from evac.shelters.models import Shelter, ShelterKind, ShelterListing, ShelterStatus
from evac.shelters.twins import normalise_address, normalise_name, site_key
from evac.stays.models import Stay
from tests import factories
from tests.shelters.helpers import (
    DATA,
    by_code,
    by_name,
    count,
    edit,
    entries,
    import_rows,
    listings_of,
    shelters,
    table,
)

ODS_EMERGENCY = DATA / "ods_emergency_seika.csv"
ODS_EVACUATION = DATA / "ods_evacuation_seika.csv"


@pytest.mark.parametrize("a,b", [
    ("京都府精華町大字北稲八間小字畑ケ田15-1", "京都府精華町大字北稲八間小字畑ヶ田15-1"),
    ("京都府相楽郡精華町光台七丁目43番地1", "京都府精華町光台7-43-1"),
    ("京都府精華町光台７－４３", "精華町光台7丁目43"),
    ("京都府精華町下狛河原田44", "京都府相楽郡精華町大字下狛小字河原田44"),
    ("京都府京都市右京区宇多野上ノ谷8", "京都市右京区宇多野上ノ谷8番"),
])
def test_addresses_accepted_as_the_same(a: str, b: str) -> None:
    assert normalise_address(a) == normalise_address(b)


@pytest.mark.parametrize("a,b", [
    ("京都府精華町光台7-43", "京都府精華町光台7-43-1"),
    ("京都府精華町光台7-43", "京都府精華町光台9-43"),
    ("京都府京都市右京区宇多野上ノ谷8", "京都府京都市左京区宇多野上ノ谷8"),
])
def test_addresses_that_stay_different(a: str, b: str) -> None:
    assert normalise_address(a) != normalise_address(b)


def test_names_fold_spaces_and_width_but_not_words() -> None:
    assert (normalise_name("京都市男女共同参画センター　ウィングス京都")
            == normalise_name("京都市男女共同参画センターウィングス京都"))
    assert normalise_name("ＡＢＣ小学校") == normalise_name("ABC小学校")
    assert normalise_name("精華町立精北小学校") != normalise_name("精華町立精北小学校体育館")
    assert normalise_name("精北小学校") != normalise_name("精華町立精北小学校")
    assert site_key("263664", "精北小学校", "") is None and site_key("", "精北小学校", "下狛44") is None


# --- GSI's two lists ----------------------------------------------------------------------------


def test_seika_school_in_both_gsi_lists_is_one_shelter_with_both_designations(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    report = import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    assert (report.added, report.merged) == (2, 2)
    assert count(Shelter) == 20 and count(ShelterListing) == 22
    seihoku = by_code("E2636600006111")
    assert (seihoku.kind, seihoku.designations) == (ShelterKind.EVACUATION, ["evacuation", "emergency"])
    assert seihoku.hazards == ["landslide", "earthquake", "inland_flood"]  # the emergency row's
    assert [(s, d, local) for s, d, _m, local in listings_of(seihoku)] == [
        ("gsi", "evacuation", "E2636600006111"), ("gsi", "emergency", "E2636600006201")]
    # 川西小学校: 畑ケ田 in one list, 畑ヶ田 in the other; GSI flags the gym, not the school.
    kawanishi = by_code("E2636600013111")
    assert kawanishi.designations == ["evacuation", "emergency"]
    assert by_code("E2636600012111").designations == ["evacuation"]  # the gym stays itself
    assert entries(report, EntryKind.MERGED) == [(2, "共通ID", "E2636600006201", "E2636600006111"),
                                                 (5, "共通ID", "E2636600012201", "E2636600013111")]
    assert "68 m" in report.of_kind(EntryKind.MERGED)[1].message


def test_either_order_gives_the_same_sites(app: Any, gsi_dir: Path) -> None:
    def sites() -> set[tuple[Any, ...]]:
        return {(s.name, s.address, s.lat, s.lon, s.kind, tuple(s.designations), tuple(s.hazards), s.source)
                for s in shelters()}

    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")
    forward = sites()
    for shelter in shelters():
        db.session.delete(shelter)
    db.session.commit()

    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")
    backward = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    assert backward.merged == 2
    # The 指定避難所 row ranks first, so the school shows its coordinates whichever came first.
    assert sites() == forward


def test_reimporting_both_lists_changes_nothing(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")
    import_shelters_file(gsi_dir / "emergency_kyoto_26.csv")
    db.session.expire_all()
    before = {s.id: (s.updated_at, s.kind, s.source, tuple(s.designations)) for s in shelters()}

    again = [import_shelters_file(gsi_dir / f) for f in ("emergency_kyoto_26.csv", "evacuation_kyoto_26.csv")]

    assert [(r.added, r.merged, r.updated) for r in again] == [(0, 0, 0), (0, 0, 0)]
    assert {s.id: (s.updated_at, s.kind, s.source, tuple(s.designations)) for s in shelters()} == before
    assert count(Shelter) == 1279 + 534


def test_two_rows_of_one_list_at_one_site_are_not_guessed_between(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")

    report = import_shelters_file(gsi_dir / "emergency_kyoto_26.csv")

    # 佛教大学 is listed twice as a 指定避難所 (general, and welfare); its 指定緊急避難場所 is left alone.
    not_merged = {e.before: e.message for e in report.of_kind(EntryKind.NOT_MERGED)}
    assert "E2610000475201" in not_merged and "複数" in not_merged["E2610000475201"]
    assert len(by_name("佛教大学")) == 3


def test_far_apart_twins_are_not_merged(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    rows = edit(table(gsi_dir / "emergency_seika_263664.csv", encoding="utf-8"), 2, "緯度", "34.80")

    report = import_rows(rows, "emergency.csv")

    assert report.merged == 1
    (line, _col, code, _other), = entries(report, EntryKind.NOT_MERGED)
    assert (line, code) == (2, "E2636600006201")
    assert "m 離れている" in report.of_kind(EntryKind.NOT_MERGED)[0].message
    assert len(by_name("精華町立精北小学校")) == 2


def test_a_flag_without_a_twin_is_reported_once_both_lists_are_in(app: Any, gsi_dir: Path) -> None:
    first = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    again = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    assert not first.of_kind(EntryKind.NOT_MERGED)  # the other list was not in evac yet
    assert [(line, code) for line, _c, code, _a in entries(again, EntryKind.NOT_MERGED)] == [
        (12, "E2636600006112"), (19, "E2636600012111")]  # the two gyms GSI flagged


# --- the town's own lists, and GSI with them -----------------------------------------------------


def test_the_towns_lists_join_the_gsi_sites(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    emergency = import_shelters_file(ODS_EMERGENCY)
    evacuation = import_shelters_file(ODS_EVACUATION)

    assert (emergency.added, emergency.merged, evacuation.added, evacuation.merged) == (0, 4, 0, 3)
    assert count(Shelter) == 20
    seihoku = by_code("E2636600006111")
    assert seihoku.source == "gsi+ods"
    assert len(listings_of(seihoku)) == 4
    # Fields come from the 指定避難所 rows, the town's first; capacity and kana only the town has.
    assert (seihoku.capacity, seihoku.name_kana) == (350, "セイカチョウリツセイホクショウガッコウ")
    welfare = by_code("E2636600010111")
    assert (welfare.kind, welfare.designations) == (ShelterKind.WELFARE, ["evacuation", "welfare"])


def test_a_town_using_gsi_ids_keeps_kind_and_source_steady(app: Any, gsi_dir: Path) -> None:
    gsi = gsi_dir / "emergency_seika_263664.csv"
    rows = table(ODS_EMERGENCY)
    ids = {"1": "E2636600006201", "2": "E2636600008201", "3": "E2636600011201", "4": "E2636600012201"}
    rows = [rows[0], *([ids.get(c, c) if i == rows[0].index("ID") else c for i, c in enumerate(r)]
                       for r in rows[1:])]
    rows = edit(rows, 3, "名称", "ほうその運動公園 (町の一覧)")  # a different name: joined by 共通ID alone

    reports = []
    for _ in range(2):
        reports.append(import_shelters_file(gsi))
        reports.append(import_rows(rows, "ods.csv"))
        park = by_code("E2636600008201")
        assert (park.kind, park.source, park.designations) == (ShelterKind.EMERGENCY, "gsi+ods", ["emergency"])

    assert [(r.added, r.merged, r.updated) for r in reports] == [(4, 0, 0), (0, 4, 0), (0, 0, 0), (0, 0, 0)]
    assert count(Shelter) == 4
    # The town's own list ranks first for the fields both give.
    assert by_code("E2636600008201").name == "ほうその運動公園 (町の一覧)"


def test_town_ids_are_unique_per_town_only(app: Any) -> None:
    seika = table(ODS_EMERGENCY)
    kizugawa = [seika[0], *(list(r) for r in seika[1:])]
    for row in kizugawa[1:]:
        row[seika[0].index("全国地方公共団体コード")] = "262145"  # 木津川市, the same IDs 1–4
        row[seika[0].index("名称")] = "木津川市" + row[seika[0].index("名称")]

    import_rows(seika, "seika.csv")
    report = import_rows(kizugawa, "kizugawa.csv")
    again = import_rows(seika, "seika.csv")

    assert report.added == 4 and again.unchanged == 4
    assert by_code("263664-1").name == "精華町立精北小学校"
    assert by_code("262145-1").name == "木津川市精華町立精北小学校"


def test_an_open_shelter_stays_open_when_its_twin_joins(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    school = by_code("E2636600006111")
    school.status, school.capacity = ShelterStatus.OPEN, 320
    person = factories.person()
    db.session.add(Stay(person_id=person.id, shelter_id=school.id, status=StayStatus.PRESENT,
                        method=CheckinMethod.MANUAL, incident_id=factories.incident().id))
    db.session.commit()

    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    school = by_code("E2636600006111")
    assert (school.status, school.capacity) == (ShelterStatus.OPEN, 320)
    assert school.designations == ["evacuation", "emergency"]
    assert db.session.scalars(sa.select(Stay.shelter_id)).all() == [school.id]


def test_listings_of_a_shelter_are_unique_per_list(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    duplicates = db.session.execute(
        sa.select(ShelterListing.shelter_id, ShelterListing.source, ShelterListing.dataset, sa.func.count())
        .group_by(ShelterListing.shelter_id, ShelterListing.source, ShelterListing.dataset)
        .having(sa.func.count() > 1)).all()
    assert duplicates == []


def test_merges_are_listed_in_the_report_csv(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    report = import_shelters_file(gsi_dir / "emergency_seika_263664.csv")
    out = io.StringIO()

    report.write_csv(out)

    assert "merged,2,共通ID,E2636600006201,E2636600006111," in out.getvalue()
