"""Repairs of unambiguous cells, each listed; refusals of what is wrong, naming line and column."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner

from evac.common.importing import EntryKind
from evac.shelters import repairs
from evac.shelters.importers import import_shelters_file
from tests.shelters.helpers import DATA, by_code, count, csv_text, edit, entries, import_rows, refused, table

ODS_EMERGENCY = DATA / "ods_emergency_seika.csv"


# --- the cell readers ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,value,repaired", [
    ("1", True, None), ("", False, None), ("〇", True, "1"), ("○", True, "1"), ("◯", True, "1"),
    ("有", True, "1"), ("あり", True, "1"), ("１", True, "1"), ("×", False, ""), ("無", False, ""),
    ("0", False, ""), (" 1 ", True, None), ("TRUE", True, "1"),
])
def test_flags(raw: str, value: bool, repaired: str | None, app: Any) -> None:
    read = repairs.flag(raw)

    assert (read.value, read.repaired) == (value, repaired)


@pytest.mark.parametrize("raw", ["はい", "2", "△", "済"])
def test_flags_that_are_not_yes_or_no_are_refused(raw: str, app: Any) -> None:
    with pytest.raises(repairs.BadValue):
        repairs.flag(raw)


@pytest.mark.parametrize("five,six", [("26366", "263664"), ("13101", "131016"), ("01100", "011002"),
                                      ("27100", "271004"), ("09201", "092011")])
def test_check_digit(five: str, six: str) -> None:
    assert repairs.check_digit(five) == six[-1]
    assert repairs.with_check_digit(five) == six


@pytest.mark.parametrize("raw,code,repaired", [
    ("263664", "263664", None),
    ("２６３６６４", "263664", "263664"),
    ("92011", "092011", "092011"),  # 宇都宮市: a spreadsheet dropped the zero; the check digit verifies
    ("26366", "263664", "263664"),  # written without its check digit; no prefecture 02 code 026366 exists
    ("263664.0", "263664", "263664"),
])
def test_municipality_codes(raw: str, code: str, repaired: str | None, app: Any) -> None:
    read = repairs.municipality_code(raw)

    assert (read.value, read.repaired) == (code, repaired)


@pytest.mark.parametrize("raw,why", [
    ("263665", "検査数字"),  # the check digit does not verify: refused, not corrected
    ("10006", "010006"),  # 北海道 010006 lost its zero, or 100064 without check digit: ambiguous
    ("99999", "全国地方公共団体コードではありません"),
    ("精華町", "6 桁"),
    ("2636640", "6 桁"),
    ("483637", "検査数字"),  # no prefecture 48
])
def test_municipality_codes_that_are_refused(raw: str, why: str, app: Any) -> None:
    with pytest.raises(repairs.BadValue) as info:
        repairs.municipality_code(raw)

    assert why in str(info.value)


@pytest.mark.parametrize("raw,value,note", [
    ("800", 800, None), ("1,250", 1250, None), ("１，２５０", 1250, None), ("500人", 500, None),
    ("800(2㎡あたり1人）", 800, "800(2㎡あたり1人）"), ("約300人", 300, "約300人"), ("概ね100", 100, "概ね100"),
    ("1200（体育館のみ）", 1200, "1200（体育館のみ）"), ("", None, None), ("不明", None, None), ("-", None, None),
])
def test_capacities(raw: str, value: int | None, note: str | None, app: Any) -> None:
    read = repairs.capacity(raw)

    assert (read.value, read.note) == (value, note)


@pytest.mark.parametrize("raw", ["100〜200", "-5", "12.5", "3000000000", "体育館 300、校舎 200", "多数"])
def test_capacities_that_are_refused(raw: str, app: Any) -> None:
    with pytest.raises(repairs.BadValue):
        repairs.capacity(raw)


def test_swapped_coordinates_are_recognised_only_when_unambiguous() -> None:
    assert repairs.transposed(135.79, 34.76)
    assert not repairs.transposed(34.76, 135.79)
    assert not repairs.transposed(343.0, 135.79)
    assert not repairs.transposed(-34.76, -135.79)


# --- through an import ------------------------------------------------------------------------------


def test_every_repair_is_listed_with_line_column_before_and_after(app: Any) -> None:
    report = import_shelters_file(ODS_EMERGENCY)

    listed = entries(report, EntryKind.REPAIR)
    assert (2, "災害種別_地震", "〇", "1") in listed
    assert (2, "災害種別_洪水", "×", "") in listed
    assert (2, "想定収容人数", "800(2㎡あたり1人）", "800") in listed
    assert (3, "緯度", "３４．７６０７４３", "34.760743") in listed
    assert (3, "想定収容人数", "２，５００", "2500") in listed
    assert (4, "災害種別_洪水", "有", "1") in listed and (4, "災害種別_高潮", "無", "") in listed
    assert (5, "緯度", "135.79", "34.766627") in listed and (5, "経度", "34.766627", "135.79") in listed
    # A cell already as evac reads it is no repair: the empty hazards of line 3 are not listed.
    assert not any(line == 3 and column == "災害種別_洪水" for line, column, _b, _a in listed)
    grouped = "\n".join(report.sections())
    assert "災害種別_地震: '〇' → '1'" in grouped


def test_two_thousand_circle_flags_import_as_one_grouped_repair(app: Any) -> None:
    rows = table(ODS_EMERGENCY)
    template = rows[1]
    body = []
    for n in range(2000):
        row = list(template)
        row[rows[0].index("ID")] = str(1000 + n)
        row[rows[0].index("名称")] = f"一時避難場所{n}"
        row[rows[0].index("緯度")] = f"{34.70 + n / 100000:.6f}"
        body.append(row)

    report = import_rows([rows[0], *body])

    assert report.added == 2000
    line = next(s for s in report.sections() if "災害種別_地震: '〇' → '1'" in s)
    assert "(2000 件 / rows: 2, 3, 4" in line


def test_a_latitude_of_343_is_refused_naming_line_and_column(app: Any) -> None:
    error = refused(csv_text(edit(table(ODS_EMERGENCY), 3, "緯度", "343")).encode(), "ods.csv")

    assert [(e.line, e.field) for e in error.errors] == [(3, "緯度")]
    assert "343" in error.errors[0].message
    assert count_shelters() == 0


@pytest.mark.parametrize("column,value", [
    ("全国地方公共団体コード", "263665"), ("全国地方公共団体コード", "10006"), ("想定収容人数", "100〜200"),
    ("災害種別_地震", "△"), ("経度", "東経135度"), ("ID", ""),
])
def test_what_is_wrong_is_refused_whole(app: Any, column: str, value: str) -> None:
    error = refused(csv_text(edit(table(ODS_EMERGENCY), 4, column, value)).encode(), "ods.csv")

    assert [(e.line, e.field) for e in error.errors] == [(4, column)]
    assert count_shelters() == 0


def test_duplicated_coordinates_and_latitude_equal_longitude_are_flagged(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    rows = edit(edit(rows, 3, "緯度", rows[1][rows[0].index("緯度")]), 3, "経度", rows[1][rows[0].index("経度")])
    rows = edit(edit(rows, 5, "緯度", "34.7"), 5, "経度", "34.7")

    report = import_rows(rows)

    assert report.added == 18
    warnings = {(e.line, e.message) for e in report.of_kind(EntryKind.WARNING)}
    assert any(line == 3 and "2 行目" in message for line, message in warnings)
    assert any(line == 5 and "同じ値" in message for line, message in warnings)
    assert any("5 行目" in w for w in report.warnings)  # and it lies outside Japan


def test_skip_invalid_imports_the_good_rows_and_lists_the_others(app: Any) -> None:
    rows = edit(edit(table(ODS_EMERGENCY), 3, "緯度", "343"), 5, "全国地方公共団体コード", "263665")

    report = import_rows(rows, skip_invalid=True)

    assert (report.added, report.refused) == (2, 2)
    assert [(line, column) for line, column, _b, _a in entries(report, EntryKind.REFUSED)] == [
        (3, "緯度"), (5, "全国地方公共団体コード")]
    assert "取り込まず refused 2" in report.summary()
    assert {s for s in ("263664-1", "263664-3") if by_code(s)}


def test_skip_invalid_with_no_good_row_refuses(app: Any) -> None:
    rows = edit(table(ODS_EMERGENCY)[:2], 2, "緯度", "343")

    error = refused(csv_text(rows).encode(), skip_invalid=True)

    assert [(e.line, e.field) for e in error.errors] == [(2, "緯度")]


# --- the command line ----------------------------------------------------------------------------


def test_cli_report_file_lists_every_entry(app: Any, runner: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"

    result = runner.invoke(args=["import-shelters", str(ODS_EMERGENCY), "--report", str(out)])

    assert result.exit_code == 0, result.output
    assert "[" in result.stdout and "'〇' → '1'" in result.stdout
    data = out.read_bytes()
    assert data.startswith("\ufeff".encode())  # UTF-8 with BOM: Excel opens it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["種別 kind", "行 line", "列 column", "修正前 before", "修正後 after", "内容 message"]
    assert ["repair", "2", "災害種別_地震", "〇", "1"] == rows[rows.index(next(
        r for r in rows if r[:3] == ["repair", "2", "災害種別_地震"]))][:5]
    assert sum(1 for r in rows if r[0] == "repair") == 24


def test_cli_skip_invalid_exits_0_and_lists_the_refused_rows(app: Any, runner: FlaskCliRunner,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "ods.csv"
    path.write_text(csv_text(edit(table(ODS_EMERGENCY), 3, "緯度", "343")), encoding="utf-8")

    strict = runner.invoke(args=["import-shelters", str(path)])
    lenient = runner.invoke(args=["import-shelters", str(path), "--skip-invalid"])

    assert strict.exit_code == 1 and "3行目 緯度" in strict.stderr
    assert lenient.exit_code == 0, lenient.output
    assert "取り込まず refused 1" in lenient.stdout and "3行目 緯度" in lenient.stdout


def count_shelters() -> int:
    from evac.shelters.models import Shelter

    return count(Shelter)


def test_cli_report_of_a_refused_file_holds_every_error(app: Any, runner: FlaskCliRunner, tmp_path: Path) -> None:
    rows = table(ODS_EMERGENCY)
    body = [list(rows[1]) for _ in range(60)]
    for n, row in enumerate(body):
        row[rows[0].index("ID")], row[rows[0].index("緯度")] = str(n), "343"
    path, out = tmp_path / "ods.csv", tmp_path / "errors.csv"
    path.write_text(csv_text([rows[0], *body]), encoding="utf-8")

    result = runner.invoke(args=["import-shelters", str(path), "--report", str(out)])

    assert result.exit_code == 1 and "ほか 10 件" in result.stderr
    errors = [r for r in csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))) if r[0] == "error"]
    assert len(errors) == 60 and errors[0][1:3] == ["2", "緯度"]
