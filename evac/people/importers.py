"""Importing the resident-register extract (住民基本台帳の抽出 CSV).

The contract is ten columns, found by their header names:
世帯番号, 氏名, 氏名_カナ, 生年月日, 性別, 続柄, 郵便番号, 住所, 電話番号, 要配慮区分.
Optional columns, taken when present and left alone in the database when absent:
国籍, 言語 (BCP 47, e.g. ``vi``), ペット (count), ペット_備考 (e.g. 犬1・猫1), and
同意_親族, 同意_知人, 同意_公表 (⑫⑬⑭ of the 安否情報 form; 1/0, はい/いいえ, 有/無).
Any other column is ignored with a warning (but still checked for 個人番号).
A column named 個人番号 or マイナンバー refuses the file.

Households are upserted by 世帯番号 with the address and postal code of the 世帯主 row (or the
first row) and the district (大字 or 町) cut from that address by `district_of`.

All or nothing: one bad row refuses the whole file, naming each bad line and column, and
nothing is stored. The file is read once, row by row, and stored ROWS_PER_FLUSH rows at a time
inside one transaction that a refusal rolls back; so a city's extract imports in the memory of
a few thousand rows, and on SQLite the write lock is held while the file is read.

A re-import is idempotent: a person is the same person when household number, normalised name
and birth date match; changed fields are updated, identical rows are counted unchanged.
Persons missing from a later file are kept (an extract may be partial); removing residents is a
separate, deliberate step.

The 12-digit 個人番号 (My Number) must never enter evac: a row with a 12-digit number in any cell
is refused, and the message does not repeat the digits. Logs carry counts only.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from evac.audit import service as audit
from evac.common import csvfile
from evac.common.db import now_utc, writing
from evac.common.importing import ImportRefused, ImportReport, RowError
from evac.common.schemas import text_problem
from evac.common.textnorm import (
    is_kana,
    kana_key,
    looks_like_individual_number,
    name_key,
    split_name,
    to_katakana,
)
from evac.common.vocab import Need, Sex
from evac.common.wareki import parse_birth_date, today_in_japan
from evac.extensions import db
from evac.people.models import Household, Person, PersonSource

log = logging.getLogger(__name__)

FORMAT = "住民基本台帳 抽出 CSV"
COLUMNS: tuple[str, ...] = (
    "世帯番号", "氏名", "氏名_カナ", "生年月日", "性別", "続柄", "郵便番号", "住所", "電話番号", "要配慮区分",
)
# Optional column → Person attribute.
OPTIONAL_COLUMNS: dict[str, str] = {
    "国籍": "nationality", "言語": "language", "ペット": "pets", "ペット_備考": "pet_note",
    "同意_親族": "consent_relatives", "同意_知人": "consent_acquaintances", "同意_公表": "consent_public",
}
# A column under one of these names can only hold 個人番号: the file is refused outright.
FORBIDDEN_COLUMNS: tuple[str, ...] = ("個人番号", "マイナンバー", "マイナンバー(個人番号)")

# 大字 and 町 of Seika town (精華町, 263664), longest first so 祝園西 wins over 祝園. Used to cut
# the district off an address that has no 大字/小字 markers, such as 精華町祝園狛ヶ坪5番地.
KNOWN_DISTRICTS: dict[str, tuple[str, ...]] = {
    "精華町": ("北稲八間", "南稲八妻", "祝園西", "精華台", "桜が丘", "祝園", "下狛", "菅井", "植田",
             "乾谷", "僧坊", "山田", "菱田", "柘榴", "東畑", "光台"),
}

NEED_LABELS: dict[str, Need] = {
    "高齢者": Need.ELDERLY,
    "障害者": Need.DISABILITY, "障がい者": Need.DISABILITY,
    "乳幼児": Need.INFANT,
    "妊産婦": Need.PREGNANT,
    "外国人・言語支援": Need.LANGUAGE, "外国人": Need.LANGUAGE, "言語支援": Need.LANGUAGE,
    "アレルギー": Need.ALLERGY,
    "医療機器・慢性疾患": Need.MEDICAL, "医療機器": Need.MEDICAL, "慢性疾患": Need.MEDICAL,
    "要介護": Need.CARE,
    "病気・けが": Need.INJURY, "病気・怪我": Need.INJURY, "病気": Need.INJURY, "けが": Need.INJURY,
}
_CANONICAL_NEEDS = ("高齢者", "障害者", "乳幼児", "妊産婦", "外国人・言語支援", "アレルギー(内容)",
                    "医療機器・慢性疾患", "要介護", "病気・けが")
SEX_LABELS: dict[str, Sex] = {
    "男": Sex.MALE, "男性": Sex.MALE, "male": Sex.MALE, "m": Sex.MALE,
    "女": Sex.FEMALE, "女性": Sex.FEMALE, "female": Sex.FEMALE, "f": Sex.FEMALE,
    "回答しない": Sex.OTHER, "other": Sex.OTHER, "その他": Sex.OTHER,
}
_TRUE = {"1", "true", "yes", "y", "はい", "有", "あり", "○", "〇", "同意"}
_FALSE = {"", "0", "false", "no", "n", "いいえ", "無", "なし", "×", "不同意"}

_POSTAL = re.compile(r"^〒?\s*([0-9]{3})-?([0-9]{4})$")
_PHONE = re.compile(r"^[0-9+\-() ]{1,30}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_ALLERGY = re.compile(r"^アレルギー\s*(?:\((?P<text>[^()]*)\))?$")
_DISTRICT_CUT = re.compile(r"^(.+?)(?:小字|字|[0-9]|[一二三四五六七八九十]+丁目|番地|$)")
_KE = str.maketrans({"ヶ": "が", "ケ": "が", "ヵ": "が"})
CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
# Rows stored at a time: big enough that the per-chunk lookups cost little per row, small enough
# that a chunk's rows and statements stay a few megabytes, whatever the size of the file.
ROWS_PER_FLUSH = 2000
LIMITS = {"世帯番号": 40, "氏名": 100, "氏名_カナ": 100, "続柄": 20, "住所": 300, "国籍": 50, "言語": 20,
          "ペット_備考": 200}


@dataclass
class ResidentImportReport(ImportReport):
    """An import report that also counts households."""

    households_added: int = 0
    households_updated: int = 0

    def summary(self) -> str:
        """One line for the operator: persons, then households."""
        return (f"{super().summary()}; 世帯 households: 追加 added {self.households_added}, "
                f"更新 updated {self.households_updated}")


@dataclass
class _Resident:
    """One valid row, ready to store."""

    line: int
    household_number: str
    values: dict[str, Any]  # Person columns
    key: tuple[str, date]  # (name_key, birth_date) within the household

    @property
    def is_head(self) -> bool:
        return self.values.get("relationship_to_head") == "世帯主"


@dataclass
class _Scan:
    """What reading a file found besides its residents: errors, warnings, optional columns.

    Each valid row leaves only a 64-bit hash of its identity and its line number here (12 bytes
    in two arrays), so that a person given twice is found at the end however far apart the rows
    are, without keeping the rows.
    """

    errors: list[RowError] = field(default_factory=list)
    optional: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    identities: array[int] = field(default_factory=lambda: array("Q"))
    lines: array[int] = field(default_factory=lambda: array("L"))

    def note(self, resident: _Resident) -> None:
        """Remember that this identity was given on this line."""
        number, key, born = resident.household_number, *resident.key
        digest = hashlib.blake2b(f"{number}\x1f{key}\x1f{born.isoformat()}".encode(), digest_size=8).digest()
        self.identities.append(int.from_bytes(digest, "big"))
        self.lines.append(resident.line)

    def duplicates(self) -> list[RowError]:
        """An error for each later row of a person (household, name, birth date) given twice.

        Sorted a sixteenth of the hashes at a time, to keep the sort's lists small. Two different
        persons sharing a 64-bit hash is a chance of about 1 in 10^7 in a file of a million rows.
        """
        repeated: set[int] = set()
        for bucket in range(16):
            ordered = sorted(h for h in self.identities if h >> 60 == bucket)
            repeated.update(a for a, b in pairwise(ordered) if a == b)
        if not repeated:
            return []
        first: dict[int, int] = {}
        errors = []
        for identity, line in zip(self.identities, self.lines, strict=True):
            if identity not in repeated:
                continue
            if identity in first:
                errors.append(RowError(line, "氏名", _("%(first)d行目と同じ人 (世帯番号・氏名・生年月日) です",
                                                      first=first[identity])))
            else:
                first[identity] = line
        return errors


def district_of(address: str | None, town: str = "精華町") -> str | None:
    """The 大字 or 町 of an address, after the town name: 京都府相楽郡精華町光台7丁目43 → 光台.

    ``大字`` is dropped, a known district name of the town wins (祝園西 over 祝園), otherwise the
    text up to 小字, a number or 丁目 is taken. None if the town name is not in the address.
    """
    if not address:
        return None
    text = unicodedata.normalize("NFKC", address).replace(" ", "")
    at = text.find(town)
    if at < 0:
        return None
    rest = text[at + len(town):]
    if rest.startswith("大字"):
        rest = rest[2:]
    if not rest:
        return None
    folded = rest.translate(_KE)
    for name in KNOWN_DISTRICTS.get(town, ()):
        if folded.startswith(name.translate(_KE)):
            return name
    match = _DISTRICT_CUT.match(rest)
    return match.group(1) if match and match.group(1) else None


def split_needs(text: str) -> list[str]:
    """Split 要配慮区分 on ; ； 、 — but not inside the brackets of アレルギー(卵、小麦)."""
    labels: list[str] = []
    current: list[str] = []
    depth = 0
    for char in unicodedata.normalize("NFKC", text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if depth == 0 and char in ";、":
            labels.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    labels.append("".join(current).strip())
    return [label for label in labels if label]


def parse_needs(text: str) -> tuple[int, str | None]:
    """要配慮区分 as (Need bitmask, allergy text); `ValueError` naming an unknown label."""
    needs, allergies = Need(0), []
    for label in split_needs(text):
        allergy = _ALLERGY.match(label)
        if allergy:
            needs |= Need.ALLERGY
            if allergy["text"] and allergy["text"].strip():
                allergies.append(allergy["text"].strip())
            continue
        flag = NEED_LABELS.get(label)
        if flag is None:
            # Echo the label so the operator can fix it, unless it could carry a number.
            shown = label if len(label) <= 20 and not any(c.isdigit() for c in label) else "…"
            raise ValueError(_("要配慮区分 %(label)s は使えません (使える区分: %(known)s)",
                               label=shown, known="、".join(_CANONICAL_NEEDS)))
        needs |= flag
    return int(needs), "、".join(allergies) or None


def _town() -> str:
    return current_app.config.get("EVAC_TOWN_NAME", "精華町") if has_app_context() else "精華町"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _bool(text: str) -> bool:
    value = _nfkc(text).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(_("1/0、はい/いいえ、有/無 のいずれかにしてください"))


def _check_header(header: list[str]) -> tuple[dict[str, int], list[RowError], list[str]]:
    """Column positions by name, errors for a header that is not a resident extract, warnings."""
    names = [_nfkc(name).replace("＿", "_") for name in header]
    errors, warnings, positions = [], [], {}
    for index, name in enumerate(names):
        if name in FORBIDDEN_COLUMNS:
            errors.append(RowError(1, name, _("個人番号の列は取り込めません。列ごと削除してください")))
        elif name in positions:
            errors.append(RowError(1, name, _("同じ名前の列が2つあります")))
        elif name in COLUMNS or name in OPTIONAL_COLUMNS:
            positions[name] = index
        else:
            warnings.append(_("列 %(name)s は取り込みません", name=name or f"#{index + 1}"))
    for name in COLUMNS:
        if name not in positions:
            errors.append(RowError(1, name, _("必須の列がありません")))
    return positions, errors, warnings


def _read(rows: Iterator[tuple[int, list[str]]], today: date, scan: _Scan) -> Iterator[_Resident]:
    """Check every row as it is read; yield the valid residents, note every error in `scan`.

    `scan.optional` is set from the header before the first resident is yielded.
    """
    header_line = next(rows, None)
    if header_line is None:
        scan.errors.append(RowError(1, "見出し", _("ファイルが空です")))
        return
    positions, header_errors, scan.warnings = _check_header(header_line[1])
    if header_errors:
        scan.errors.extend(header_errors)
        return
    scan.optional = tuple(name for name in OPTIONAL_COLUMNS if name in positions)
    width = len(header_line[1])
    header_names = [_nfkc(name).replace("＿", "_") for name in header_line[1]]
    missing_kana = 0
    previous_end = header_line[0]
    for end, row in rows:
        # csv reports the line a record ends on; an operator looks for where it starts.
        line, previous_end = previous_end + 1, end
        if not any(cell.strip() for cell in row):
            continue  # blank lines, typically at the end
        errors: list[RowError] = []
        refused_cells = set()
        for index, cell in enumerate(row):
            column = header_names[index] if index < len(header_names) and header_names[index] \
                else f"{index + 1}列目"
            if looks_like_individual_number(cell):
                refused_cells.add(index)
                errors.append(RowError(line, column, _(
                    "12桁の数字があります。個人番号の可能性があるため取り込めません")))
            elif text_problem(cell):  # the API's rule for text: every column here is a short field
                refused_cells.add(index)
                errors.append(RowError(line, column, _("制御文字 (改行・タブなど) や壊れた文字が含まれています")))
        if len(row) != width:
            errors.append(RowError(line, "列数", _("列の数が見出しと違います (見出し %(w)d 列、この行 %(n)d 列)",
                                                 w=width, n=len(row))))
            scan.errors.extend(errors)
            continue
        cells = {name: ("" if index in refused_cells else row[index]) for name, index in positions.items()}
        resident, row_errors, had_kana = _parse_row(line, cells, scan.optional, today)
        errors.extend(e for e in row_errors if positions.get(e.field) not in refused_cells)
        if not had_kana:
            missing_kana += 1
        scan.errors.extend(errors)
        if resident is not None and not errors:
            scan.note(resident)
            yield resident
    if missing_kana:
        scan.warnings.append(_("氏名_カナが空の行が %(n)d 行あります (カナ検索で見つかりません)", n=missing_kana))



def _parse_row(line: int, cells: dict[str, str], optional: Sequence[str],
               today: date) -> tuple[_Resident | None, list[RowError], bool]:
    """One data row: the resident, or the errors found in it; and whether it had kana."""
    errors: list[RowError] = []

    def err(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    for column, limit in LIMITS.items():
        if column in cells and len(cells[column].strip()) > limit:
            err(column, _("%(n)d文字以内にしてください", n=limit))
    household_number = _nfkc(cells["世帯番号"])
    if not household_number:
        err("世帯番号", _("世帯番号を入力してください"))
    full_name = cells["氏名"].strip()
    family, given = split_name(full_name) if full_name else ("", "")
    if not family:
        err("氏名", _("氏名を入力してください"))
    kana_text = _nfkc(cells["氏名_カナ"])
    family_kana = given_kana = ""
    if kana_text:
        if not is_kana(kana_text):
            err("氏名_カナ", _("カナ (カタカナまたはひらがな) で入力してください"))
        else:
            family_kana, given_kana = split_name(to_katakana(kana_text))
    birth_date: date | None = None
    try:
        birth_date = parse_birth_date(cells["生年月日"], today=today)
    except ValueError as exc:
        err("生年月日", str(exc))
    sex = SEX_LABELS.get(_nfkc(cells["性別"]).lower())
    if sex is None:
        err("性別", _("性別は 男・女・回答しない のいずれかにしてください"))
    postal_code: str | None = None
    postal_text = _nfkc(cells["郵便番号"])
    if postal_text:
        postal = _POSTAL.match(postal_text)
        if postal:
            postal_code = f"{postal[1]}-{postal[2]}"
        else:
            err("郵便番号", _("郵便番号は7桁 (例 619-0238) にしてください"))
    address = _nfkc(cells["住所"])
    if not address:
        err("住所", _("住所を入力してください"))
    phone = _nfkc(cells["電話番号"]) or None
    if phone and not _PHONE.match(phone):
        err("電話番号", _("電話番号は数字とハイフンで入力してください"))
    needs, allergy = 0, None
    try:
        needs, allergy = parse_needs(cells["要配慮区分"])
    except ValueError as exc:
        err("要配慮区分", str(exc))
    if allergy and len(allergy) > 200:
        err("要配慮区分", _("アレルギーの内容は200文字以内にしてください"))
    values: dict[str, Any] = {}
    if "国籍" in optional:
        values["nationality"] = _nfkc(cells["国籍"]) or None
    if "言語" in optional:
        language = _nfkc(cells["言語"])
        if language and not _LANGUAGE.match(language):
            err("言語", _("言語は ja, vi, zh-Hans のような言語コードにしてください"))
        values["language"] = language.lower() if language else None
    if "ペット" in optional:
        pets = _nfkc(cells["ペット"]) or "0"
        if pets.isdigit() and int(pets) < 1000:
            values["pets"] = int(pets)
        else:
            err("ペット", _("ペットは頭数 (0以上の整数) にしてください"))
    if "ペット_備考" in optional:
        values["pet_note"] = _nfkc(cells["ペット_備考"]) or None
    for column, attribute in (("同意_親族", "consent_relatives"), ("同意_知人", "consent_acquaintances"),
                              ("同意_公表", "consent_public")):
        if column in optional:
            try:
                values[attribute] = _bool(cells[column])
            except ValueError as exc:
                err(column, str(exc))
    if errors or birth_date is None or sex is None:
        return None, errors, bool(kana_text)
    key = name_key(family, given)
    values.update(
        family_name=family, given_name=given, family_name_kana=family_kana, given_name_kana=given_kana,
        name_key=key, kana_key=kana_key(family_kana, given_kana), birth_date=birth_date, sex=sex,
        relationship_to_head=_nfkc(cells["続柄"]) or None, postal_code=postal_code, address=address,
        phone=phone, needs=needs, allergy=allergy,
    )
    return _Resident(line, household_number, values, (key, birth_date)), errors, bool(kana_text)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Bits:
    """A set of household ids as one bit each: which households this import has written, and how.

    Ids are small dense integers, so a million-resident town costs tens of kilobytes, not the
    tens of megabytes a set of numbers would.
    """

    def __init__(self) -> None:
        self.data = bytearray()

    def __contains__(self, n: int) -> bool:
        return n >> 3 < len(self.data) and bool(self.data[n >> 3] & (1 << (n & 7)))

    def add(self, n: int) -> None:
        """Put `n` in the set."""
        if n >> 3 >= len(self.data):
            self.data.extend(bytes((n >> 3) - len(self.data) + 1 + len(self.data) // 2))
        self.data[n >> 3] |= 1 << (n & 7)

    def __len__(self) -> int:
        return int.from_bytes(self.data, "little").bit_count()


def _households(residents: Iterable[_Resident], town: str) -> dict[str, dict[str, Any]]:
    """Household columns by number: address and postal code of the head (or the first row)."""
    households: dict[str, dict[str, Any]] = {}
    for resident in residents:
        current = households.get(resident.household_number)
        if current is None or (resident.is_head and not current["_head"]):
            households[resident.household_number] = {
                "number": resident.household_number,
                "postal_code": resident.values["postal_code"],
                "address": resident.values["address"],
                "district": district_of(resident.values["address"], town),
                "_head": resident.is_head,
            }
    return households


class _Store:
    """Upserts a checked file chunk by chunk in the caller's transaction.

    What must be known across chunks is kept as bits by household id: which households this
    import has met (`touched`), on their 世帯主 row (`headed`), added or changed. So a
    household whose rows are scattered over the file still takes its head's address, and a
    household written earlier in the file is not counted again. Everything else is looked up
    per chunk: households by number, their persons by household id.

    (On PostgreSQL the app turns server-side prepared statements off, see `evac.app`: a generic
    plan made the chunked IN-list lookups here forty times slower.)
    """

    def __init__(self, optional: Sequence[str], report: ResidentImportReport) -> None:
        self.report = report
        self.now = now_utc()
        self.town = _town()
        self.touched, self.headed, self.added, self.changed = _Bits(), _Bits(), _Bits(), _Bits()
        # Households already stored, met so far only on rows of members other than the 世帯主:
        # (stored postal code, address, district, the first such row's). Few, unless a file
        # scatters its households.
        self.pending: dict[int, tuple[str | None, str | None, str | None, dict[str, Any]]] = {}
        self.compared = ["family_name", "given_name", "family_name_kana", "given_name_kana", "kana_key", "sex",
                         "relationship_to_head", "postal_code", "address", "phone", "needs", "allergy"]
        self.compared += [OPTIONAL_COLUMNS[column] for column in optional]
        self.columns = [getattr(Person, name) for name in self.compared]

    def close(self) -> None:
        """Households whose file had no 世帯主 row take their first row's; then the counts."""
        updates = []
        for hid, (postal_code, address, district, new) in self.pending.items():
            if (postal_code, address, district) != (new["postal_code"], new["address"], new["district"]):
                updates.append({"id": hid, "postal_code": new["postal_code"],
                                "address": new["address"], "district": new["district"]})
                self.changed.add(hid)
        for chunk in _chunks(updates):
            db.session.execute(update(Household), chunk)
        self.pending.clear()
        self.report.households_added, self.report.households_updated = len(self.added), len(self.changed)

    def chunk(self, residents: Sequence[_Resident]) -> None:
        """Upsert the households, then the persons, of these residents."""
        household_ids, fresh = self._households(residents)
        self._persons(residents, household_ids, fresh)

    def _households(self, residents: Sequence[_Resident]) -> tuple[dict[str, int], set[int]]:
        """Ids by number of the chunk's households, and the ids of those inserted now."""
        wanted = _households(residents, self.town)
        household_ids: dict[str, int] = {}
        updates = []
        for chunk in _chunks(list(wanted)):
            for hid, number, postal_code, address, district in db.session.execute(
                select(Household.id, Household.number, Household.postal_code, Household.address,
                       Household.district).where(Household.number.in_(chunk))
            ):
                household_ids[number] = hid
                new = wanted[number]
                if hid in self.touched and (hid in self.headed or not new["_head"]):
                    continue  # seen earlier in this file, on a row that takes precedence
                self.touched.add(hid)
                if not new["_head"] and hid not in self.added:
                    # The 世帯主 row may come later in the file: until then (or the end) this
                    # household keeps what it has, so an unchanged one is not written twice.
                    self.pending[hid] = (postal_code, address, district, new)
                    continue
                self.pending.pop(hid, None)
                if (postal_code, address, district) != (new["postal_code"], new["address"], new["district"]):
                    updates.append({"id": hid, "postal_code": new["postal_code"],
                                    "address": new["address"], "district": new["district"]})
                    if hid not in self.added:
                        self.changed.add(hid)
                if new["_head"]:
                    self.headed.add(hid)
        new_households = [
            {key: value for key, value in household.items() if key != "_head"} | {"created_at": self.now}
            for number, household in wanted.items() if number not in household_ids
        ]
        fresh: set[int] = set()
        if new_households:
            # A plain executemany, then the new ids by number: INSERT … RETURNING over many rows goes
            # through multi-row VALUES statements, measured 5–10 times slower on PostgreSQL.
            db.session.execute(insert(Household.__table__), new_households)
            for chunk in _chunks([h["number"] for h in new_households]):
                for hid, number in db.session.execute(
                        select(Household.id, Household.number).where(Household.number.in_(chunk))):
                    household_ids[number] = hid
                    fresh.add(hid)
                    for bits in (self.touched, self.added):
                        bits.add(hid)
                    if wanted[number]["_head"]:
                        self.headed.add(hid)
        if updates:
            db.session.execute(update(Household), updates)
        return household_ids, fresh

    def _persons(self, residents: Sequence[_Resident], household_ids: dict[str, int], fresh: set[int]) -> None:
        compared = self.compared
        existing: dict[tuple[int, str, date | None], tuple[int, tuple[Any, ...]]] = {}
        # A household added by this import holds only persons of this file: a row matching one of
        # them is a person given twice, which refuses the file anyway.
        known_ids = sorted({hid for hid in household_ids.values() if hid not in self.added})
        for chunk in _chunks(known_ids):
            query = select(Person.id, Person.household_id, Person.name_key, Person.birth_date,
                           *self.columns).where(Person.household_id.in_(chunk)).order_by(Person.id)
            for row in db.session.execute(query):
                existing.setdefault((row[1], row[2], row[3]), (row[0], tuple(row[4:])))
        inserts, updates = [], []
        for resident in residents:
            hid = household_ids[resident.household_number]
            found = existing.get((hid, *resident.key))
            if found is None:
                inserts.append(resident.values | {"household_id": hid, "source": PersonSource.REGISTER,
                                                  "created_at": self.now, "updated_at": self.now})
            elif found[1] != tuple(resident.values[name] for name in compared):
                updates.append({name: resident.values[name] for name in compared}
                               | {"id": found[0], "updated_at": self.now})
            else:
                self.report.unchanged += 1
        if inserts:
            # A Core insert on the table: one executemany for all rows. (The ORM's bulk insert would
            # omit None values and split the batch wherever the set of keys changes, and costs more
            # per row in bookkeeping that plain rows with every column given do not need.)
            db.session.execute(insert(Person.__table__), inserts)
        if updates:
            db.session.execute(update(Person), updates)
        self.report.added += len(inserts)
        self.report.updated += len(updates)


def _flushes(residents: Iterator[_Resident], scan: _Scan) -> Iterator[list[_Resident]]:
    """The residents in chunks of about ROWS_PER_FLUSH, a household's run of rows kept together.

    Nothing more is handed out once the file has shown an error: it will be refused, and the
    rest is only read for its errors.
    """
    chunk: list[_Resident] = []
    for resident in residents:
        if scan.errors:
            chunk = []
            continue
        if len(chunk) >= ROWS_PER_FLUSH and (resident.household_number != chunk[-1].household_number
                                             or len(chunk) >= 2 * ROWS_PER_FLUSH):
            yield chunk
            chunk = []
        chunk.append(resident)
    if chunk and not scan.errors:
        yield chunk


def _refusal(errors: list[RowError]) -> ImportRefused:
    lines = len({e.line for e in errors})
    return ImportRefused(_("住民データを取り込めません: %(n)d 行に問題があります。何も登録していません。", n=lines),
                         errors)


def _encoding_refusal() -> ImportRefused:
    return ImportRefused(_("文字コードを判別できません (UTF-8 でも CP932 (Shift_JIS) でもありません)"),
                         [RowError(0, "文字コード", _("UTF-8 または CP932 で保存してください"))])


@writing
def _import_stream(handle: BinaryIO, start: int | None, today: date) -> ResidentImportReport:
    """Read, check and store a file in one writing unit (all or nothing), audited.

    Rows are checked and stored chunk by chunk as they are read; an error anywhere refuses the
    file (`ImportRefused`) and the unit is rolled back, so nothing is stored. Run again whole on
    contention: `start` is where the file begins in a seekable `handle` (None: not seekable).
    """
    if start is not None:
        handle.seek(start)
    try:
        text, encoding = csvfile.open_text(handle)
    except csvfile.EncodingNotRecognised:
        raise _encoding_refusal() from None
    scan = _Scan()
    report = ResidentImportReport(format=FORMAT, encoding=csvfile.ENCODING_LABELS[encoding])
    rows = csvfile.rows(text)
    residents = _read(rows, today, scan)
    store: _Store | None = None
    try:
        for chunk in _flushes(residents, scan):
            store = store or _Store(scan.optional, report)
            store.chunk(chunk)
    except UnicodeDecodeError:
        # Bytes further on that are not in the encoding of the first ones. The text is decoded
        # blocks ahead of the csv reader, so no line can be named: the file as a whole (0).
        log.info("resident import refused", extra={"error_rows": 1, "encoding": encoding})
        raise _encoding_refusal() from None
    errors = sorted([*scan.errors, *scan.duplicates()], key=lambda e: e.line)
    if errors:
        log.info("resident import refused", extra={"error_rows": len({e.line for e in errors}),
                                                    "encoding": encoding})
        raise _refusal(errors)
    report.warnings = scan.warnings
    if store is not None:
        store.close()
    audit.record("person.import", subject_type="person", detail={
        "format": "resident_register", "added": report.added, "updated": report.updated,
        "unchanged": report.unchanged, "households_added": report.households_added,
        "households_updated": report.households_updated,
    })
    log.info("resident import done", extra={
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "households_added": report.households_added, "encoding": encoding})
    return report


def import_residents_stream(handle: BinaryIO, *, today: date | None = None) -> ResidentImportReport:
    """Import a resident extract from a binary stream (UTF-8, UTF-8 with BOM or CP932).

    The stream is read once, row by row, and never held whole: a city's file imports in the
    memory of a few thousand rows. Owns its transaction: commits on success; on refusal
    (`ImportRefused`) nothing is stored. A seekable stream can be read again if the unit must
    be retried on contention.
    """
    start = handle.tell() if handle.seekable() else None
    return _import_stream(handle, start, today or today_in_japan())


def import_residents_bytes(data: bytes, *, today: date | None = None) -> ResidentImportReport:
    """Import a resident extract given as bytes; see `import_residents_stream`."""
    return import_residents_stream(io.BytesIO(data), today=today)


def import_residents_file(path: Path | str, *, today: date | None = None) -> ResidentImportReport:
    """Import a resident extract CSV file, read as it is imported; see `import_residents_stream`."""
    with Path(path).open("rb") as handle:
        return import_residents_stream(handle, today=today)
