"""Importing the resident-register extract: encodings, idempotence, refusals, districts, the CLI."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from evac.common.importing import ImportRefused
from evac.common.vocab import Need, Sex
from evac.extensions import db as _db
from evac.people.importers import (
    COLUMNS,
    district_of,
    import_residents_bytes,
    import_residents_file,
    parse_needs,
    split_needs,
)
from evac.people.models import Household, Person, PersonSource

TODAY = date(2026, 6, 1)
ENCODINGS = [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("cp932", "CP932 (Shift_JIS)")]

# Synthetic residents of one household and a single; every value is invented.
ROWS: list[list[str]] = [
    ["0000000101", "山田 太郎", "ヤマダ タロウ", "昭和30年1月2日", "男", "世帯主", "619-0238",
     "京都府相楽郡精華町精華台1丁目2-3", "0774-95-1234", "高齢者;医療機器・慢性疾患"],
    ["0000000101", "山田　花子", "やまだ　はなこ", "S32.3.4", "女", "妻", "6190238",
     "京都府相楽郡精華町精華台1丁目2-3", "", "アレルギー(卵、小麦)；要介護"],
    ["0000000101", "山田 陽菜", "ﾔﾏﾀﾞ ﾋﾅ", "2025-02-03", "女", "孫", "619-0238",
     "京都府相楽郡精華町精華台1丁目2-3", "", "乳幼児"],
    ["0000000202", "グエン ティ・ラン", "グエン ティ・ラン", "1998/7/8", "female", "世帯主", "〒619-0241",
     "京都府相楽郡精華町大字祝園小字長塚12", "090-1234-5678", "外国人"],
]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", header: list[str] | None = None) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header or list(COLUMNS))
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def count(model: Any) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def persons() -> dict[str, Person]:
    _db.session.expire_all()
    return {p.name_key: p for p in _db.session.scalars(sa.select(Person))}


@pytest.mark.parametrize(("encoding", "label"), ENCODINGS)
def test_import_in_each_encoding(app: Any, tmp_path: Path, encoding: str, label: str) -> None:
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes(ROWS, encoding))
    report = import_residents_file(path, today=TODAY)
    assert report.encoding == label
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert (report.households_added, report.households_updated) == (2, 0)
    assert label in report.summary() and "added 4" in report.summary()

    stored = persons()
    taro = stored["山田太郎"]
    assert (taro.family_name, taro.given_name) == ("山田", "太郎")
    assert (taro.family_name_kana, taro.given_name_kana, taro.kana_key) == ("ヤマダ", "タロウ", "ヤマダタロウ")
    assert taro.birth_date == date(1955, 1, 2)
    assert taro.sex is Sex.MALE and taro.relationship_to_head == "世帯主"
    assert taro.postal_code == "619-0238" and taro.phone == "0774-95-1234"
    assert taro.need_flags == Need.ELDERLY | Need.MEDICAL
    assert taro.source is PersonSource.REGISTER

    hanako = stored["山田花子"]  # 全角 space in the name, hiragana reading
    assert (hanako.given_name, hanako.family_name_kana, hanako.given_name_kana) == ("花子", "ヤマダ", "ハナコ")
    assert hanako.need_flags == Need.ALLERGY | Need.CARE and hanako.allergy == "卵、小麦"
    assert hanako.phone is None and hanako.postal_code == "619-0238"
    assert stored["山田陽菜"].given_name_kana == "ヒナ"  # half-width kana widened
    lan = stored["グエンティラン"]
    assert lan.sex is Sex.FEMALE and lan.need_flags == Need.LANGUAGE and lan.given_name == "ティ・ラン"

    households = {h.number: h for h in _db.session.scalars(sa.select(Household))}
    assert households["0000000101"].district == "精華台"
    assert households["0000000101"].address == "京都府相楽郡精華町精華台1丁目2-3"
    assert households["0000000202"].district == "祝園"
    assert households["0000000202"].postal_code == "619-0241"
    assert {p.household_id for p in stored.values() if p.family_name == "山田"} == {households["0000000101"].id}


def test_reimport_is_idempotent_and_updates_changed_rows(app: Any) -> None:
    import_residents_bytes(csv_bytes(ROWS), today=TODAY)
    before = {k: p.updated_at for k, p in persons().items()}

    again = import_residents_bytes(csv_bytes(ROWS, "cp932"), today=TODAY)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert (again.households_added, again.households_updated) == (0, 0)
    assert {k: p.updated_at for k, p in persons().items()} == before

    changed = [row[:] for row in ROWS]
    changed[0][8] = "0774-98-0000"
    report = import_residents_bytes(csv_bytes(changed), today=TODAY)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    assert persons()["山田太郎"].phone == "0774-98-0000"
    assert count(Person) == 4 and count(Household) == 2


def test_a_new_address_updates_the_household(app: Any) -> None:
    import_residents_bytes(csv_bytes(ROWS), today=TODAY)
    moved = [row[:] for row in ROWS]
    moved[3][7] = "京都府相楽郡精華町光台3丁目4-5"
    report = import_residents_bytes(csv_bytes(moved), today=TODAY)
    assert (report.updated, report.households_updated) == (1, 1)
    household = _db.session.scalar(sa.select(Household).where(Household.number == "0000000202"))
    assert household is not None and household.district == "光台"


def test_optional_columns_are_kept_when_a_later_file_lacks_them(app: Any) -> None:
    header = [*COLUMNS, "国籍", "言語", "ペット", "ペット_備考", "同意_親族", "同意_知人", "同意_公表", "備考"]
    rows = [[*row, "", "", "", "", "1", "0", "いいえ", "x"] for row in ROWS]
    rows[3][10:14] = ["ベトナム", "vi", "", ""]
    rows[0][12:14] = ["2", "犬1・猫1"]
    report = import_residents_bytes(csv_bytes(rows, header=header), today=TODAY)
    assert report.added == 4 and any("備考" in w for w in report.warnings)
    stored = persons()
    assert (stored["グエンティラン"].nationality, stored["グエンティラン"].language) == ("ベトナム", "vi")
    assert (stored["山田太郎"].pets, stored["山田太郎"].pet_note) == (2, "犬1・猫1")
    assert stored["山田太郎"].consent_relatives and not stored["山田太郎"].consent_acquaintances
    assert not stored["山田太郎"].consent_public

    plain = import_residents_bytes(csv_bytes(ROWS), today=TODAY)
    assert plain.unchanged == 4
    assert persons()["グエンティラン"].language == "vi"


def test_many_households_cross_the_lookup_chunks(app: Any) -> None:
    rows = [[f"{n:010d}", f"佐藤 {chr(0x4E00 + n)}", "サトウ イチ", "1970-01-01", "男", "世帯主", "",
             f"京都府相楽郡精華町光台1丁目{n}", "", ""] for n in range(1, 1201)]
    assert import_residents_bytes(csv_bytes(rows), today=TODAY).added == 1200
    assert import_residents_bytes(csv_bytes(rows), today=TODAY).unchanged == 1200
    assert count(Person) == 1200 and count(Household) == 1200


def _with(line_index: int, column: str, value: str) -> list[list[str]]:
    rows = [row[:] for row in ROWS]
    rows[line_index][COLUMNS.index(column)] = value
    return rows


@pytest.mark.parametrize(("column", "value"), [
    ("生年月日", "昭和64年1月8日"),
    ("生年月日", "2030-01-01"),
    ("生年月日", "平成11年2月29日"),
    ("生年月日", ""),
    ("性別", "X"),
    ("性別", ""),
    ("氏名", ""),
    ("氏名", "   "),
    ("氏名_カナ", "Yamada Hanako"),
    ("氏名_カナ", "山田 花子"),
    ("世帯番号", ""),
    ("住所", ""),
    ("郵便番号", "61902"),
    ("電話番号", "call me"),
    ("要配慮区分", "高齢"),
    ("要配慮区分", "高齢者;VIP"),
])
def test_each_kind_of_bad_row_is_refused_and_nothing_stored(app: Any, column: str, value: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(_with(2, column, value)), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(4, column)]
    assert all(e.message for e in caught.value.errors)
    assert "4行目" in str(caught.value) and "何も登録していません" in str(caught.value)
    assert caught.value.status == 422
    assert count(Person) == 0 and count(Household) == 0


def test_wrong_column_count_is_refused(app: Any) -> None:
    rows = [row[:] for row in ROWS]
    rows[1] = rows[1][:-1]
    rows[3] = [*rows[3], "extra"]
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "列数"), (5, "列数")]
    assert count(Person) == 0


def test_every_bad_row_is_listed(app: Any) -> None:
    rows = _with(0, "性別", "?")
    rows[3][COLUMNS.index("生年月日")] = "S99.1.1"
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "性別"), (5, "生年月日")]


def test_bad_row_in_a_later_file_leaves_earlier_data_untouched(app: Any) -> None:
    import_residents_bytes(csv_bytes(ROWS), today=TODAY)
    changed = _with(0, "電話番号", "0774-00-0000")
    changed[1][COLUMNS.index("性別")] = "unknown"
    with pytest.raises(ImportRefused):
        import_residents_bytes(csv_bytes(changed), today=TODAY)
    assert persons()["山田太郎"].phone == "0774-95-1234"


@pytest.mark.parametrize(("column", "value"), [
    ("電話番号", "123456789012"),
    ("電話番号", "1234-5678-9012"),
    ("住所", "京都府相楽郡精華町光台1丁目 1234 5678 9012"),
    ("要配慮区分", "高齢者;123456789012"),
    ("氏名", "山田 １２３４５６７８９０１２"),
    # What people and IMEs actually type (the review's finds):
    ("電話番号", "1234ー5678ー9012"),
    ("住所", "精華町 1234.5678.9012"),
    ("住所", "精華町 123-456-789-012"),
    ("電話番号", "1 2 3 4 5 6 7 8 9 0 1 2"),
    ("氏名", "山田 一二三四五六七八九〇一二"),
    ("電話番号", "(1234)5678_9012"),
])
def test_a_12_digit_number_is_refused_without_echoing_it(app: Any, column: str, value: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(_with(1, column, value)), today=TODAY)
    errors = caught.value.errors
    assert [(e.line, e.field) for e in errors] == [(3, column)]
    assert "個人番号" in errors[0].message
    shown = str(caught.value) + repr(caught.value.fields) + caught.value.message
    for digits in ("1234", "5678", "9012", "１２３４", "一二三四", "9 0 1 2"):
        assert digits not in shown
    assert count(Person) == 0


def test_an_extra_column_with_a_12_digit_number_is_refused(app: Any) -> None:
    header = [*COLUMNS, "メモ"]
    rows = [[*row, ""] for row in ROWS]
    rows[2][-1] = "123412341234"
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows, header=header), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(4, "メモ")]


def test_phone_and_household_numbers_are_not_mistaken_for_my_number(app: Any) -> None:
    rows = _with(0, "電話番号", "090-1234-5678")
    rows[3][COLUMNS.index("電話番号")] = "07749512345"  # 11 digits
    assert import_residents_bytes(csv_bytes(rows), today=TODAY).added == 4


@pytest.mark.parametrize("header", [
    [c for c in COLUMNS if c != "性別"],
    [*COLUMNS, "個人番号"],
    [*COLUMNS[:-1], "氏名"],
])
def test_a_file_that_is_not_a_resident_extract_is_refused(app: Any, header: list[str]) -> None:
    rows = [(row + [""])[: len(header)] for row in ROWS]
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows, header=header), today=TODAY)
    assert caught.value.errors and all(e.line == 1 for e in caught.value.errors)
    assert count(Person) == 0


def test_empty_and_undecodable_files_are_refused(app: Any) -> None:
    with pytest.raises(ImportRefused):
        import_residents_bytes(b"", today=TODAY)
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(b"\x82\xa0\xff\xfe\x00\x81", today=TODAY)
    assert "文字コード" in str(caught.value)


def test_the_same_person_twice_is_refused(app: Any) -> None:
    rows = [*ROWS, ROWS[0][:]]
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(6, "氏名")]
    assert "2行目" in caught.value.errors[0].message


def test_missing_kana_is_a_warning(app: Any) -> None:
    report = import_residents_bytes(csv_bytes(_with(0, "氏名_カナ", "")), today=TODAY)
    assert report.added == 4 and any("カナ" in w for w in report.warnings)


@pytest.mark.parametrize(("address", "district"), [
    ("京都府相楽郡精華町光台7丁目43", "光台"),
    ("京都府精華町光台7-43", "光台"),
    ("京都府精華町精華台1-2-1", "精華台"),
    ("京都府精華町桜が丘2-22-1", "桜が丘"),
    ("京都府相楽郡精華町桜ヶ丘2丁目3", "桜が丘"),
    ("京都府相楽郡精華町祝園西1丁目2-3", "祝園西"),
    ("京都府精華町大字下狛小字河原田44", "下狛"),
    ("京都府精華町大字北稲八間小字畑ヶ田15-1", "北稲八間"),
    ("京都府相楽郡精華町大字祝園小字長塚12", "祝園"),
    ("京都府相楽郡精華町祝園狛ヶ坪5番地", "祝園"),
    ("京都府相楽郡精華町大字菅井１２３", "菅井"),
    ("京都府相楽郡精華町南稲八妻北尻70", "南稲八妻"),
    ("京都府木津川市木津南垣外110-9", None),
    ("", None),
    (None, None),
])
def test_district_of(address: str | None, district: str | None) -> None:
    assert district_of(address) == district


def test_district_of_another_town() -> None:
    assert district_of("京都府相楽郡笠置町大字笠置小字西通90-1", town="笠置町") == "笠置"
    assert district_of("京都府木津川市木津町内田山34", town="木津川市") == "木津町内田山"


def test_needs_labels() -> None:
    assert split_needs("高齢者；障害者、アレルギー(卵、そば);要介護") == ["高齢者", "障害者", "アレルギー(卵、そば)", "要介護"]
    assert parse_needs("") == (0, None)
    assert parse_needs("外国人・言語支援;アレルギー（えび）;アレルギー(乳)") == (Need.LANGUAGE | Need.ALLERGY, "えび、乳")
    assert parse_needs("アレルギー") == (Need.ALLERGY, None)
    assert parse_needs("妊産婦;病気・けが;障がい者")[0] == Need.PREGNANT | Need.INJURY | Need.DISABILITY
    with pytest.raises(ValueError, match="要配慮区分 高齢 は使えません"):
        parse_needs("高齢")


def test_cli_imports_and_reports(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes(ROWS, "cp932"))
    result = runner.invoke(args=["import-residents", str(path)])
    assert result.exit_code == 0, result.output
    assert "CP932 (Shift_JIS)" in result.output and "added 4" in result.output
    result = runner.invoke(args=["import-residents", str(path)])
    assert "unchanged 4" in result.output


def test_cli_refusal_goes_to_stderr_with_exit_1(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes(_with(1, "性別", "?")))
    result = runner.invoke(args=["import-residents", str(path)])
    assert result.exit_code == 1
    assert "3行目 性別" in result.stderr
    assert count(Person) == 0
