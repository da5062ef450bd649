"""The layouts towns publish: GSI national and per-municipality, 自治体標準 ODS, 推奨, XLSX, GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evac.common.importing import EntryKind
from evac.shelters.importers import import_shelters_bytes, import_shelters_file
from evac.shelters.models import ShelterKind
from tests.shelters.helpers import (
    DATA,
    by_code,
    by_name,
    csv_text,
    edit,
    entries,
    import_rows,
    refused,
    shelters,
    table,
    xlsx_bytes,
)

ODS_EMERGENCY = DATA / "ods_emergency_seika.csv"
ODS_EVACUATION = DATA / "ods_evacuation_seika.csv"
RECOMMENDED = DATA / "recommended_emergency_utsunomiya.csv"
GSI_PER_MUNICIPALITY = DATA / "gsi_evacuation_26366.csv"


def notices(report: Any) -> str:
    return "\n".join(e.message for e in report.of_kind(EntryKind.NOTICE))


# --- GSI ---------------------------------------------------------------------------------------


def test_gsi_per_municipality_download_is_recognised(app: Any) -> None:
    report = import_shelters_file(GSI_PER_MUNICIPALITY)

    assert (report.format, report.encoding) == ("GSI 指定避難所 CSV (市町村別ダウンロード)", "UTF-8 (BOM)")
    assert report.added == 18
    school = by_code("E2636600001111")
    assert (school.name, school.municipality_code, school.municipality_name) == ("精華町立東光小学校", "263664", None)


def test_the_national_extract_after_the_per_municipality_file_only_adds_the_town_name(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(GSI_PER_MUNICIPALITY)

    national = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")
    again = import_shelters_file(GSI_PER_MUNICIPALITY)

    assert (national.added, national.updated) == (0, 18)
    # The per-municipality file has no town-name column: it leaves the name alone, never clears it.
    assert (again.updated, again.unchanged) == (0, 18)
    assert by_code("E2636600001111").municipality_name == "京都府精華町"


def test_gsi_emergency_per_municipality_download(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "emergency_seika_263664.csv", encoding="utf-8")
    column = rows[0].index("都道府県名及び市町村名")
    rows = [r[:column] + r[column + 1:] for r in rows]

    report = import_rows(rows, "10_26366.csv")

    assert report.format == "GSI 指定緊急避難場所 CSV (市町村別ダウンロード)"
    assert by_code("E2636600011201").hazards == ["flood", "landslide", "earthquake", "inland_flood"]


# --- 自治体標準オープンデータセット -------------------------------------------------------------------


def test_ods_emergency_list_as_published(app: Any) -> None:
    report = import_shelters_file(ODS_EMERGENCY)

    assert (report.format, report.encoding, report.added) == (
        "自治体標準オープンデータセット 指定緊急避難場所一覧 CSV", "UTF-8 (BOM)", 4)
    school = by_code("263664-1")
    assert school.designations == ["evacuation", "emergency"] and school.kind is ShelterKind.EVACUATION
    assert school.hazards == ["landslide", "earthquake", "inland_flood"]
    assert (school.capacity, school.name_kana) == (800, "セイカチョウリツセイホクショウガッコウ")
    assert "想定収容人数: 800(2㎡あたり1人）" in school.note and "体育館とグラウンド" in school.note
    park = by_code("263664-2")
    assert (park.kind, park.designations, park.capacity) == (ShelterKind.EMERGENCY, ["emergency"], 2500)
    assert park.name_kana == "セイカチョウリツホウソノウンドウコウエン"
    assert park.lat == 34.760743
    # 名称_英字 where the town filled it (the public page's English name); empty stays unknown.
    assert (school.name_en, park.name_en) == ("Seihoku Elementary School", None)
    kawanishi = by_code("263664-4")
    assert (kawanishi.lat, kawanishi.lon) == (34.766627, 135.79)


@pytest.mark.parametrize("header_variant", [
    {"名称_カナ": "名称カナ"},
    {"ID": "ＩＤ", "名称": "名称 "},
    {"建物名等(方書)": "建物名等（方書）", "連絡先備考（その他、SNSなど）": "連絡先備考(その他、SNSなど)"},
    {"災害種別_崖崩れ、土石流及び地滑り": "災害種別_崖崩れ,土石流及び地滑り"},
])
def test_ods_header_variants_are_recognised(app: Any, header_variant: dict[str, str]) -> None:
    rows = table(ODS_EMERGENCY)
    rows[0] = [header_variant.get(c, c) for c in rows[0]]

    report = import_rows(rows)

    assert report.format == "自治体標準オープンデータセット 指定緊急避難場所一覧 CSV"
    assert by_code("263664-1").hazards == ["landslide", "earthquake", "inland_flood"]
    assert by_code("263664-1").name_kana == "セイカチョウリツセイホクショウガッコウ"


def test_ods_columns_a_town_dropped_are_not_needed(app: Any) -> None:
    rows = table(ODS_EMERGENCY)
    keep = ["ID", "全国地方公共団体コード", "名称", "緯度", "経度", "災害種別_地震", "災害種別_津波", "想定収容人数"]
    rows = [[r[rows[0].index(c)] for c in keep] for r in rows]

    report = import_rows(rows)

    assert report.added == 4
    assert by_code("263664-1").address is None
    assert "災害種別_洪水" in notices(report)  # the hazards the file has no column for are named


def test_ods_evacuation_list_as_towns_publish_it(app: Any) -> None:
    report = import_shelters_file(ODS_EVACUATION)

    assert report.format == "自治体標準オープンデータセット 指定避難所一覧 CSV"
    assert by_code("263664-101").designations == ["evacuation", "emergency"]
    assert by_code("263664-102").designations == ["evacuation"]
    welfare = by_code("263664-103")
    assert (welfare.kind, welfare.designations, welfare.capacity) == (ShelterKind.WELFARE, ["welfare"], 80)
    assert "受入対象者: 要配慮者とその家族" in welfare.note


def test_an_evacuation_list_that_kept_the_hazard_columns(app: Any) -> None:
    emergency = table(ODS_EMERGENCY)
    rows = [[*r, flag] for r, flag in zip(emergency, ["指定緊急避難場所との重複", "1", "", "", ""], strict=True)]

    report = import_rows(rows)

    assert report.format == "自治体標準オープンデータセット 指定避難所一覧 CSV"
    assert by_code("263664-1").designations == ["evacuation", "emergency"]
    assert by_code("263664-2").designations == ["evacuation"]


# --- 推奨データセット -----------------------------------------------------------------------------


def test_recommended_dataset_with_its_variants_in_cp932(app: Any) -> None:
    report = import_shelters_file(RECOMMENDED)

    assert (report.format, report.encoding, report.added) == (
        "推奨データセット 指定緊急避難場所一覧 CSV", "CP932 (Shift_JIS)", 3)
    school = by_code("092011-1")
    assert (school.municipality_code, school.municipality_name) == ("092011", "栃木県宇都宮市")
    assert (school.designations, school.capacity) == (["evacuation", "emergency"], 1200)
    assert school.name_kana == "ウツノミヤシリツチュウオウショウガッコウ"
    assert entries(report, EntryKind.REPAIR)[0] == (2, "市区町村コード", "92011", "092011")


def test_recommended_dataset_as_specified_with_its_building_column(app: Any) -> None:
    rows = table(RECOMMENDED, encoding="cp932")
    rows[0] = ["NO" if c == "ＮＯ" else "名称_カナ" if c == "名称カナ" else c for c in rows[0]]
    at = rows[0].index("住所") + 1
    rows = [[*r[:at], "方書" if n == 0 else "体育館棟" if n == 1 else "", *r[at:]] for n, r in enumerate(rows)]

    report = import_rows(rows)

    assert report.format == "推奨データセット 指定緊急避難場所一覧 CSV"
    assert "方書: 体育館棟" in by_code("092011-1").note


def test_recommended_evacuation_list(app: Any) -> None:
    rows = table(RECOMMENDED, encoding="cp932")
    drop = {i for i, c in enumerate(rows[0]) if c.startswith("災害種別_") or c == "指定避難所との重複"}
    rows = [[c for i, c in enumerate(r) if i not in drop] for r in rows]

    report = import_rows(rows)

    assert report.format == "推奨データセット 指定避難所一覧 CSV"
    assert {s.kind for s in shelters()} == {ShelterKind.EVACUATION}


# --- XLSX ----------------------------------------------------------------------------------------


def _as_workbook_values(rows: list[list[str]]) -> list[list[Any]]:
    """The CSV rows as a spreadsheet holds them: codes, IDs, coordinates and counts as numbers."""
    numeric = {"全国地方公共団体コード", "ID", "緯度", "経度", "市区町村コード", "所在地_全国地方公共団体コード"}
    out: list[list[Any]] = [rows[0]]
    for row in rows[1:]:
        cells: list[Any] = []
        for column, value in zip(rows[0], row, strict=True):
            if column in numeric and value.replace(".", "", 1).isdigit():
                cells.append(float(value) if "." in value else int(value))
            else:
                cells.append(value or None)
        out.append(cells)
    return out


def test_xlsx_imports_the_same_shelters_as_the_csv(app: Any) -> None:
    from_xlsx = import_shelters_bytes(xlsx_bytes(_as_workbook_values(table(ODS_EMERGENCY))), "hinanbasho.xlsx")
    stored = {s.code: (s.name, s.lat, s.lon, s.capacity, s.hazards, s.designations, s.note) for s in shelters()}

    from_csv = import_shelters_file(ODS_EMERGENCY)

    assert (from_xlsx.format, from_xlsx.encoding, from_xlsx.added) == (
        "自治体標準オープンデータセット 指定緊急避難場所一覧 XLSX", "XLSX (避難所)", 4)
    assert (from_csv.added, from_csv.updated, from_csv.unchanged) == (0, 0, 4)
    assert {s.code: (s.name, s.lat, s.lon, s.capacity, s.hazards, s.designations, s.note) for s in shelters()} == stored


def test_xlsx_with_a_title_row_on_its_second_sheet(app: Any) -> None:
    rows = [["指定緊急避難場所一覧 (令和6年4月1日現在)"], [], *_as_workbook_values(table(ODS_EMERGENCY))]
    data = xlsx_bytes(rows, before=[("説明", [["このファイルについて"], ["精華町 危機管理室"]])])

    report = import_shelters_bytes(data, "hinanbasho.xlsx")

    assert report.added == 4
    assert "「避難所」" in notices(report) and "3 行目" in notices(report)
    assert by_code("263664-1").lat == 34.777903


def test_xlsx_under_a_csv_name_is_read_as_xlsx_and_says_so(app: Any) -> None:
    data = xlsx_bytes(_as_workbook_values(table(ODS_EMERGENCY)))

    report = import_shelters_bytes(data, "hinanbasho.csv")

    assert report.added == 4 and report.encoding.startswith("XLSX")
    assert "hinanbasho.csv" in notices(report) and "XLSX" in notices(report)


def test_xlsx_code_that_lost_its_zero_is_repaired(app: Any) -> None:
    rows = table(RECOMMENDED, encoding="cp932")
    rows = [rows[0], *([92011 if c == "92011" else c for c in r] for r in rows[1:])]

    report = import_shelters_bytes(xlsx_bytes(rows), "utsunomiya.xlsx")

    assert report.format == "推奨データセット 指定緊急避難場所一覧 XLSX"
    assert by_code("092011-2").municipality_code == "092011"


def test_an_xlsx_row_error_names_the_sheet_row(app: Any) -> None:
    rows = _as_workbook_values(edit(table(ODS_EMERGENCY), 3, "緯度", "343"))

    error = refused(xlsx_bytes([["一覧"], *rows]), "hinanbasho.xlsx")

    assert [(e.line, e.field) for e in error.errors] == [(4, "緯度")]
    assert "XLSX" in error.message


@pytest.mark.parametrize("data,word", [
    (bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512, ".xls"),
    (b"PK\x03\x04" + b"\0" * 64, "ZIP"),
])
def test_other_office_files_are_named(app: Any, data: bytes, word: str) -> None:
    error = refused(data, "hinanjo.xls")

    assert word in error.message


# --- messages ------------------------------------------------------------------------------------


def test_a_header_only_file_says_no_rows(app: Any, gsi_dir: Path) -> None:
    header = (gsi_dir / "evacuation_seika_263664.csv").read_text(encoding="utf-8").splitlines()[0]

    error = refused((header + "\r\n").encode(), "empty.csv")

    assert "取り込む行がありません" in error.message and "GSI 指定避難所 CSV" in error.message
    assert "no rows" in str(error)


def test_a_geojson_unavailable_stub_is_named_as_such(app: Any) -> None:
    stub = {"type": "unavailable", "code": "111015", "name": "埼玉県さいたま市西区", "dataType": "evacuation",
            "message": "この自治体の指定避難所データは公開されていません。"}

    error = refused(json.dumps(stub, ensure_ascii=False).encode(), "111015.json")

    assert "unavailable" in error.message and "埼玉県さいたま市西区" in error.message
    assert "公開されていません" in error.message


def test_geojson_flags_written_as_circles_are_repaired(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "emergency_seika_263664.csv", encoding="utf-8")
    header, features = rows[0], []
    for row in rows[1:]:
        properties = dict(zip(header, row, strict=True))
        lat, lon = float(properties.pop("緯度")), float(properties.pop("経度"))
        properties = {k: ("○" if v == "1" and k not in ("NO",) else v) for k, v in properties.items()}
        features.append({"type": "Feature", "properties": properties,
                         "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    doc = {"type": "FeatureCollection", "features": features}

    report = import_shelters_bytes(json.dumps(doc, ensure_ascii=False).encode(), "26366.geojson")

    assert report.format == "GSI 指定緊急避難場所 GeoJSON"
    assert by_code("E2636600011201").hazards == ["flood", "landslide", "earthquake", "inland_flood"]
    assert ("○", "1") in {(b, a) for _line, _col, b, a in entries(report, EntryKind.REPAIR)}


@pytest.mark.parametrize("encoding,label", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"),
                                            ("cp932", "CP932 (Shift_JIS)")])
def test_a_refusal_names_the_encoding_it_read(app: Any, gsi_dir: Path, encoding: str, label: str) -> None:
    rows = edit(table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8"), 5, "緯度", "343")

    error = refused(csv_text(rows).encode(encoding), "seika.csv")

    assert label in error.message and "GSI 指定避難所 CSV" in error.message
    assert [(e.line, e.field) for e in error.errors] == [(5, "緯度")]


def test_title_lines_above_the_header_are_skipped_and_lines_still_count(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    rows = [["精華町 指定避難所一覧"], ["令和6年4月1日現在"], *edit(rows, 4, "経度", "東経")]

    error = refused(csv_text(rows).encode(), "seika.csv")

    assert [(e.line, e.field) for e in error.errors] == [(6, "経度")]


def test_title_lines_are_reported(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")

    report = import_rows([["精華町 指定避難所一覧"], *rows])

    assert report.added == 18 and "2 行目" in notices(report)
    assert len(by_name("精華町立東光小学校")) == 1
