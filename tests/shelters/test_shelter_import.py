"""Importing shelter lists: the real GSI files, the ODS and GeoJSON formats, refusals, re-imports."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evac.common.importing import ImportRefused
from evac.extensions import db as _db
from evac.shelters.importers import (
    KNOWN_FORMATS,
    import_shelters_bytes,
    import_shelters_file,
    municipality_check_digit,
    municipality_code,
)
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus
from tests import factories

ENCODINGS = [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("cp932", "CP932 (Shift_JIS)")]
REAL_FILES = [
    ("evacuation_seika_263664.csv", "GSI 指定避難所 CSV", 18),
    ("emergency_seika_263664.csv", "GSI 指定緊急避難場所 CSV", 4),
    ("evacuation_kyoto_26.csv", "GSI 指定避難所 CSV", 1279),
    ("emergency_kyoto_26.csv", "GSI 指定緊急避難場所 CSV", 1436),
]
# 薭 (in 薭田野, Kameoka) is outside CP932; a town's CP932 export carries its variant 稗 instead.
CP932_SUBSTITUTES = {"薭": "稗"}

ODS_HEADER = (
    "全国地方公共団体コード", "ID", "名称", "名称_カナ", "名称_英字", "所在地_全国地方公共団体コード",
    "町字ID", "所在地_連結表記", "所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下",
    "建物名等(方書)", "緯度", "経度", "標高", "電話番号", "内線番号", "連絡先メールアドレス",
    "連絡先FormURL", "連絡先備考（その他、SNSなど）", "郵便番号", "市区町村コード", "地方公共団体名",
    "災害種別_洪水", "災害種別_崖崩れ、土石流及び地滑り", "災害種別_高潮", "災害種別_地震",
    "災害種別_津波", "災害種別_大規模な火事", "災害種別_内水氾濫", "災害種別_火山現象",
    "指定避難所との重複", "想定収容人数", "対象となる町会・自治会", "URL", "画像", "画像_ライセンス",
    "備考",
)


def shelter_count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Shelter)) or 0


def snapshot() -> dict[str, tuple[Any, ...]]:
    """Every stored shelter's imported fields and timestamps, by code."""
    _db.session.expire_all()
    return {
        s.code: (s.name, s.address, s.lat, s.lon, s.municipality_code, s.municipality_name, s.kind,
                 tuple(s.hazards), s.note, s.source, s.capacity, s.status, s.updated_at)
        for s in _db.session.scalars(sa.select(Shelter))
    }


def updated_at_by_code() -> dict[str, datetime]:
    _db.session.expire_all()
    return dict(_db.session.execute(sa.select(Shelter.code, Shelter.updated_at)).all())


def by_code(code: str) -> Shelter:
    _db.session.expire_all()
    return _db.session.scalars(sa.select(Shelter).where(Shelter.code == code)).one()


def text_with_cp932_substitutes(text: str) -> str:
    for original, variant in CP932_SUBSTITUTES.items():
        text = text.replace(original, variant)
    return text


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    if encoding == "cp932":
        text = text_with_cp932_substitutes(text)
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def edited(source: Path, record: int, column: str, value: str) -> str:
    """The file's text with one cell replaced: the `record`-th CSV record (the header is 1) and
    the column by name. Record and physical line numbers agree while no field spans lines."""
    rows = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"), newline="")))
    rows[record - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def refusal(path: Path) -> ImportRefused:
    with pytest.raises(ImportRefused) as info:
        import_shelters_file(path)
    return info.value


# --- the real GSI files ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding,label", ENCODINGS)
@pytest.mark.parametrize("file_name,fmt,rows", REAL_FILES)
def test_real_gsi_files_import_in_every_encoding(
    app: Any, gsi_dir: Path, tmp_path: Path, file_name: str, fmt: str, rows: int, encoding: str, label: str
) -> None:
    path = write(tmp_path, file_name, (gsi_dir / file_name).read_text(encoding="utf-8"), encoding)

    report = import_shelters_file(path)

    assert (report.format, report.encoding) == (fmt, label)
    assert (report.added, report.updated, report.unchanged) == (rows, 0, 0)
    assert shelter_count() == rows
    assert fmt in report.summary() and label in report.summary() and f"added {rows}" in report.summary()


def test_seika_evacuation_rows_are_read_field_by_field(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    s = by_code("E2636600015111")
    assert (s.name, s.address) == ("精華町立東光小学校体育館", "京都府精華町光台7-43")
    assert (s.lat, s.lon) == (34.745017, 135.75307)
    assert (s.municipality_code, s.municipality_name) == ("263664", "京都府精華町")
    assert (s.kind, s.hazards, s.source, s.note) == (ShelterKind.EVACUATION, [], "gsi", None)
    assert (s.status, s.capacity) == (ShelterStatus.CLOSED, None)


def test_emergency_rows_carry_their_hazards_in_enum_order(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    assert by_code("E2636600006201").hazards == ["landslide", "earthquake", "inland_flood"]
    assert by_code("E2636600011201").hazards == ["flood", "landslide", "earthquake", "inland_flood"]
    assert by_code("E2636600008201").kind is ShelterKind.EMERGENCY


def test_kyoto_files_keep_remarks_and_welfare_shelters(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")
    emergency = import_shelters_file(gsi_dir / "emergency_kyoto_26.csv")

    kinds = dict(_db.session.execute(
        sa.select(Shelter.kind, sa.func.count()).group_by(Shelter.kind)).all())
    # 受入対象者 is filled in for the 72 指定福祉避難所 of the prefecture's 指定避難所 list; 902 of the
    # 1,436 指定緊急避難場所 are the same sites as a 指定避難所 and became one shelter with it.
    assert (emergency.added, emergency.merged) == (534, 902)
    assert kinds == {ShelterKind.EVACUATION: 1207, ShelterKind.WELFARE: 72, ShelterKind.EMERGENCY: 534}
    noted = _db.session.scalars(sa.select(Shelter).where(Shelter.note.like("%山と反対側%"))).one()
    assert noted.note == "土砂災害時は山と反対側に移動"
    welfare = _db.session.scalars(sa.select(Shelter).where(Shelter.kind == ShelterKind.WELFARE)).first()
    assert welfare is not None and welfare.note is not None and welfare.note.startswith("受入対象者: ")
    assert by_code("E2610000001111").municipality_code == "261009"  # 京都市


def test_cp932_file_is_read_as_cp932_not_mojibake(app: Any, gsi_dir: Path, tmp_path: Path) -> None:
    text = (gsi_dir / "evacuation_kyoto_26.csv").read_text(encoding="utf-8")
    path = write(tmp_path, "e.csv", text, "cp932")

    import_shelters_file(path)

    assert by_code("E2620600002111").name == "稗田野小学校（体育館）"
    assert by_code("E2636600015111").name == "精華町立東光小学校体育館"


@pytest.mark.parametrize("five,six", [("26366", "263664"), ("13101", "131016"), ("01100", "011002"),
                                      ("27100", "271004")])
def test_municipality_code_check_digit(five: str, six: str) -> None:
    assert municipality_check_digit(five) == six[-1]
    assert municipality_code(five) == six


# --- re-imports ------------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(app: Any, gsi_dir: Path) -> None:
    first = import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")
    before = snapshot()

    second = import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")

    assert (first.added, first.updated, first.unchanged) == (1279, 0, 0)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 1279)
    assert shelter_count() == 1279
    assert snapshot() == before  # updated_at included: nothing was rewritten


def test_an_edited_row_is_the_only_update(app: Any, gsi_dir: Path, tmp_path: Path) -> None:
    source = gsi_dir / "evacuation_seika_263664.csv"
    import_shelters_file(source)
    before = updated_at_by_code()
    path = write(tmp_path, "edited.csv", edited(source, 6, "施設・場所名", "精華町立山田荘小学校 (改称)"))

    report = import_shelters_file(path)

    assert (report.added, report.updated, report.unchanged) == (0, 1, 17)
    assert by_code("E2636600003112").name == "精華町立山田荘小学校 (改称)"
    after = updated_at_by_code()
    assert [code for code in after if after[code] != before[code]] == ["E2636600003112"]


def test_a_moved_coordinate_is_an_update_too(app: Any, gsi_dir: Path, tmp_path: Path) -> None:
    source = gsi_dir / "emergency_seika_263664.csv"
    import_shelters_file(source)

    report = import_shelters_file(write(tmp_path, "moved.csv", edited(source, 3, "経度", "135.801587")))

    assert (report.updated, report.unchanged) == (1, 3)
    assert by_code("E2636600008201").lon == 135.801587


def test_capacity_and_open_status_survive_a_gsi_reimport(app: Any, gsi_dir: Path, tmp_path: Path) -> None:
    source = gsi_dir / "evacuation_seika_263664.csv"
    import_shelters_file(source)
    shelter = by_code("E2636600001111")
    shelter.capacity, shelter.status, shelter.name_kana = 420, ShelterStatus.OPEN, "トウコウショウガッコウ"
    _db.session.commit()

    unchanged = import_shelters_file(source)
    # Also when the row itself changes and is rewritten.
    moved = edited(source, 3, "住所", "京都府精華町光台7-43-2")
    changed = import_shelters_file(write(tmp_path, "e.csv", moved))

    assert unchanged.unchanged == 18 and changed.updated == 1
    s = by_code("E2636600001111")
    assert (s.capacity, s.status, s.name_kana, s.address) == (
        420, ShelterStatus.OPEN, "トウコウショウガッコウ", "京都府精華町光台7-43-2")


def test_an_existing_manual_shelter_with_the_same_code_is_taken_over(app: Any, gsi_dir: Path) -> None:
    factories.shelter(code="E2636600001111", name="旧名称", capacity=55, status=ShelterStatus.OPEN)

    report = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    assert (report.added, report.updated) == (17, 1)
    s = by_code("E2636600001111")
    assert (s.name, s.source, s.capacity, s.status) == ("精華町立東光小学校", "gsi", 55, ShelterStatus.OPEN)


# --- refusals ----------------------------------------------------------------------------------


@pytest.fixture
def seika(gsi_dir: Path) -> Path:
    return gsi_dir / "evacuation_seika_263664.csv"


def test_non_numeric_latitude_is_refused_with_its_line(app: Any, seika: Path, tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "bad.csv", edited(seika, 7, "緯度", "34.7x")))

    assert [(e.line, e.field) for e in error.errors] == [(7, "緯度")]
    assert "34.7x" in error.errors[0].message
    assert "7行目 緯度" in str(error)
    assert shelter_count() == 0


@pytest.mark.parametrize("column,value", [("緯度", "91"), ("経度", "-180.5"), ("緯度", "nan"), ("経度", "")])
def test_coordinates_out_of_range_or_missing_are_refused(
    app: Any, seika: Path, tmp_path: Path, column: str, value: str
) -> None:
    error = refusal(write(tmp_path, "bad.csv", edited(seika, 4, column, value)))

    assert [(e.line, e.field) for e in error.errors] == [(4, column)]


def test_missing_name_is_refused_and_existing_shelters_stay_as_they_were(
    app: Any, seika: Path, tmp_path: Path
) -> None:
    import_shelters_file(seika)
    before = snapshot()
    text = edited(seika, 4, "施設・場所名", "")
    # The same file also renames another shelter: that change must not be stored either.
    path = write(tmp_path, "bad.csv", text.replace("精華町立東光小学校体育館", "改名"))

    error = refusal(path)

    assert [(e.line, e.field) for e in error.errors] == [(4, "施設・場所名")]
    assert snapshot() == before


def test_missing_code_is_refused(app: Any, seika: Path, tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "bad.csv", edited(seika, 12, "共通ID", " ")))

    assert [(e.line, e.field) for e in error.errors] == [(12, "共通ID")]


def test_duplicated_code_is_refused_on_its_second_line(app: Any, seika: Path, tmp_path: Path) -> None:
    factories.shelter()
    error = refusal(write(tmp_path, "bad.csv", edited(seika, 10, "共通ID", "E2636600001111")))

    assert [(e.line, e.field) for e in error.errors] == [(10, "共通ID")]
    assert "3 行目" in error.errors[0].message  # where the code first appears
    assert shelter_count() == 1


def test_every_bad_row_is_listed_at_once(app: Any, seika: Path, tmp_path: Path) -> None:
    text = edited(seika, 2, "緯度", "北緯34度")
    path = write(tmp_path, "src.csv", text)
    text = edited(path, 19, "施設・場所名", "")
    text += "1,2,3\r\n"  # line 20: too few columns

    error = refusal(write(tmp_path, "bad.csv", text))

    assert [(e.line, e.field) for e in error.errors] == [(2, "緯度"), (19, "施設・場所名"), (20, "列数")]
    assert shelter_count() == 0


def test_line_numbers_count_physical_lines_across_quoted_newlines(
    app: Any, seika: Path, tmp_path: Path
) -> None:
    text = edited(seika, 3, "備考", "一行目\n二行目\n三行目")  # the record on line 3 now spans lines 3-5
    path = write(tmp_path, "src.csv", text)
    text = edited(path, 3, "経度", "y")  # reported where the record starts, not where it ends
    path = write(tmp_path, "src2.csv", text)
    text = edited(path, 4, "緯度", "x")  # record 4, which now starts on physical line 6

    error = refusal(write(tmp_path, "bad.csv", text))

    assert [(e.line, e.field) for e in error.errors] == [(3, "経度"), (6, "緯度")]


def test_unknown_header_is_refused_listing_the_known_formats(app: Any, tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "x.csv", "番号,氏名,住所\n1,山田,精華町\n"))

    assert [(e.line, e.field) for e in error.errors] == [(1, "見出し")]
    for fmt in KNOWN_FORMATS:
        assert fmt in str(error)


def test_empty_file_is_refused(app: Any, tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "empty.csv", ""))

    assert [e.line for e in error.errors] == [1]


@pytest.mark.parametrize("encoding,expected_line", [("utf-8", 6), ("utf-8-sig", 6), ("cp932", 6)])
def test_undecodable_bytes_are_refused_with_their_line(
    app: Any, seika: Path, tmp_path: Path, encoding: str, expected_line: int
) -> None:
    import_shelters_file(seika)
    lines = seika.read_text(encoding="utf-8").splitlines(keepends=True)
    data = b"".join(line.encode(encoding if i == 0 else encoding.replace("-sig", ""))
                    for i, line in enumerate(lines))
    # 0x81 0x7F is neither UTF-8 (a stray continuation byte) nor CP932 (0x7F is no trail byte).
    offset = data.index("精華町立山田荘小学校".encode(encoding.replace("-sig", "")))
    path = tmp_path / "bad.csv"
    path.write_bytes(data[:offset] + b"\x81\x7f" + data[offset:])
    assert data[:offset].count(b"\n") + 1 == expected_line

    error = refusal(path)

    assert [(e.line, e.field) for e in error.errors] == [(expected_line, "文字コード")]
    assert shelter_count() == 18


def test_coordinates_outside_japan_import_with_a_warning(app: Any, seika: Path, tmp_path: Path) -> None:
    report = import_shelters_file(write(tmp_path, "w.csv", edited(seika, 8, "経度", "-135.754583")))

    assert report.added == 18
    assert len(report.warnings) == 1 and "8 行目" in report.warnings[0]


def test_a_long_name_is_refused_rather_than_cut(app: Any, seika: Path, tmp_path: Path) -> None:
    error = refusal(write(tmp_path, "long.csv", edited(seika, 2, "施設・場所名", "長" * 201)))

    assert [(e.line, e.field) for e in error.errors] == [(2, "施設・場所名")]


# --- 自治体標準オープンデータセット --------------------------------------------------------------


def ods_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ODS_HEADER, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def ods_row(**values: str) -> dict[str, str]:
    row = {"全国地方公共団体コード": "263664", "地方公共団体名": "精華町", "緯度": "34.745017",
           "経度": "135.75307", "災害種別_地震": "1"}
    row.update(values)
    return row


KANA = "セイカチョウリツトウコウショウガッコウ"


@pytest.mark.parametrize("encoding,label", ENCODINGS)
def test_ods_file_sets_capacity_kana_and_kind(app: Any, tmp_path: Path, encoding: str, label: str) -> None:
    text = ods_text([
        ods_row(ID="263664-0001", 名称="精華町立東光小学校", 名称_カナ=KANA,
                所在地_連結表記="京都府相楽郡精華町光台7丁目43", 災害種別_洪水="1", 指定避難所との重複="1",
                想定収容人数="1,250"),
        ods_row(ID="263664-0002", 名称="ほうその運動公園", 想定収容人数="", 所在地_都道府県="京都府",
                所在地_市区町村="相楽郡精華町", 所在地_番地以下="祝園古川23-1",
                緯度="34.760743", 経度="135.801586"),
    ])

    report = import_shelters_file(write(tmp_path, "ods.csv", text, encoding))

    assert (report.format, report.encoding, report.added) == (
        "自治体標準オープンデータセット 指定緊急避難場所一覧 CSV", label, 2)
    # IDs that already carry the municipality code are kept as the shelter code.
    school, park = by_code("263664-0001"), by_code("263664-0002")
    assert (school.capacity, school.kind) == (1250, ShelterKind.EVACUATION)
    assert school.hazards == ["flood", "earthquake"]
    assert (school.name_kana, school.address) == (KANA, "京都府相楽郡精華町光台7丁目43")
    assert (school.municipality_code, school.municipality_name, school.source) == ("263664", "精華町", "ods")
    assert (park.capacity, park.kind) == (None, ShelterKind.EMERGENCY)
    assert park.address == "京都府相楽郡精華町祝園古川23-1"


def test_ods_capacity_updates_and_an_empty_one_keeps_the_town_figure(app: Any, tmp_path: Path) -> None:
    import_shelters_file(write(tmp_path, "a.csv", ods_text([
        ods_row(ID="A1", 名称="一", 想定収容人数="100"), ods_row(ID="A2", 名称="二", 想定収容人数="200")])))

    report = import_shelters_file(write(tmp_path, "b.csv", ods_text([
        ods_row(ID="A1", 名称="一", 想定収容人数="150"), ods_row(ID="A2", 名称="二", 想定収容人数="")])))

    assert (report.updated, report.unchanged) == (1, 1)
    # A town's own ID is unique within the town only: the shelter code carries the municipality.
    assert (by_code("263664-A1").capacity, by_code("263664-A2").capacity) == (150, 200)


@pytest.mark.parametrize("value", ["100〜200", "-5", "12.5", "3000000000", "300（体育館）、200（校舎）"])
def test_ods_non_integer_capacity_is_refused(app: Any, tmp_path: Path, value: str) -> None:
    text = ods_text([ods_row(ID="A1", 名称="一"), ods_row(ID="A2", 名称="二", 想定収容人数=value)])

    error = refusal(write(tmp_path, "ods.csv", text))

    assert [(e.line, e.field) for e in error.errors] == [(3, "想定収容人数")]
    assert shelter_count() == 0


def test_ods_bad_municipality_code_and_flag_are_refused(app: Any, tmp_path: Path) -> None:
    text = ods_text([ods_row(ID="A1", 名称="一", 全国地方公共団体コード="精華町"),
                     ods_row(ID="A2", 名称="二", 災害種別_津波="はい")])

    error = refusal(write(tmp_path, "ods.csv", text))

    assert [(e.line, e.field) for e in error.errors] == [(2, "全国地方公共団体コード"), (3, "災害種別_津波")]


# --- GeoJSON -----------------------------------------------------------------------------------


def geojson_from_csv(path: Path) -> bytes:
    """A GSI GeoJSON of the CSV's rows: Japanese property names, [lon, lat] Point geometry."""
    features = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            lat, lon = float(row.pop("緯度")), float(row.pop("経度"))
            properties: dict[str, Any] = {k: (int(v) if v == "1" else v) for k, v in row.items()}
            properties["NO"] = int(row["NO"])
            features.append({"type": "Feature", "properties": properties,
                             "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


@pytest.mark.parametrize("file_name,fmt,rows", [
    ("emergency_kyoto_26.csv", "GSI 指定緊急避難場所 GeoJSON", 1436),
    ("evacuation_seika_263664.csv", "GSI 指定避難所 GeoJSON", 18),
])
def test_geojson_imports_the_same_shelters_as_the_csv(
    app: Any, gsi_dir: Path, file_name: str, fmt: str, rows: int
) -> None:
    from_geojson = import_shelters_bytes(geojson_from_csv(gsi_dir / file_name), "x.geojson")
    stored = snapshot()

    from_csv = import_shelters_file(gsi_dir / file_name)

    assert (from_geojson.format, from_geojson.encoding, from_geojson.added) == (fmt, "UTF-8", rows)
    assert (from_csv.added, from_csv.updated, from_csv.unchanged) == (0, 0, rows)
    assert snapshot() == stored


def test_geojson_errors_name_the_feature(app: Any, gsi_dir: Path) -> None:
    doc = json.loads(geojson_from_csv(gsi_dir / "emergency_seika_263664.csv"))
    doc["features"][2]["geometry"]["coordinates"] = ["東経", 34.76]
    doc["features"][3]["properties"]["施設・場所名"] = ""

    with pytest.raises(ImportRefused) as info:
        import_shelters_bytes(json.dumps(doc).encode(), "bad.geojson")

    assert [(e.line, e.field) for e in info.value.errors] == [(3, "経度"), (4, "施設・場所名")]
    assert info.value.errors[0].message.startswith("feature 3")
    assert shelter_count() == 0


def test_json_that_is_not_a_feature_collection_is_refused(app: Any) -> None:
    with pytest.raises(ImportRefused) as info:
        import_shelters_bytes(b'{"type": "Feature"}', "x.json")

    assert all(fmt in str(info.value) for fmt in KNOWN_FORMATS)


@pytest.mark.postgres
def test_a_bulk_load_leaves_postgres_with_fresh_statistics(app: Any, gsi_dir: Path) -> None:
    # Without them a cached generic plan seq-scans every code lookup of the next import.
    import_shelters_file(gsi_dir / "emergency_kyoto_26.csv")

    reltuples = _db.session.scalar(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'shelter'"))
    assert reltuples == 1436
