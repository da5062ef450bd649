"""Importing shelter lists: GSI 指定避難所 / 指定緊急避難場所 (CSV or GeoJSON) and the
自治体標準オープンデータセット 指定緊急避難場所一覧 CSV.

The format is recognised from the file itself (the CSV header, or the GeoJSON structure), never
from the file name. Imports are all-or-nothing (see `evac.common.importing`): every row is checked
before anything is written, and shelters are upserted by code (GSI 共通ID, or the ODS ID) with
bulk statements, so that all of Japan (about 82,000 shelters) imports in seconds.

Only the fields a file carries are written. In particular a GSI file never touches a shelter's
status, capacity or kana, so an HQ officer's capacity and an open shelter survive a re-import.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select, text, update

from evac.common import csvfile
from evac.common.db import current_unit, now_utc, writing
from evac.common.importing import ImportRefused, ImportReport, RowError
from evac.extensions import db
from evac.shelters.models import Hazard, Shelter, ShelterKind, ShelterStatus

# Format names as reported to the operator: the proper names of the published data sets.
FORMAT_GSI_EVACUATION = "GSI 指定避難所 CSV"
FORMAT_GSI_EMERGENCY = "GSI 指定緊急避難場所 CSV"
FORMAT_GSI_EVACUATION_GEOJSON = "GSI 指定避難所 GeoJSON"
FORMAT_GSI_EMERGENCY_GEOJSON = "GSI 指定緊急避難場所 GeoJSON"
FORMAT_ODS_EMERGENCY = "自治体標準オープンデータセット 指定緊急避難場所一覧 CSV"
KNOWN_FORMATS = (
    FORMAT_GSI_EVACUATION, FORMAT_GSI_EMERGENCY, FORMAT_GSI_EVACUATION_GEOJSON,
    FORMAT_GSI_EMERGENCY_GEOJSON, FORMAT_ODS_EMERGENCY,
)

# GSI flag columns, in the order of the Hazard enum (which follows the GSI column order).
GSI_HAZARD_COLUMNS: dict[Hazard, str] = {
    Hazard.FLOOD: "洪水",
    Hazard.LANDSLIDE: "崖崩れ、土石流及び地滑り",
    Hazard.STORM_SURGE: "高潮",
    Hazard.EARTHQUAKE: "地震",
    Hazard.TSUNAMI: "津波",
    Hazard.FIRE: "大規模な火事",
    Hazard.INLAND_FLOOD: "内水氾濫",
    Hazard.VOLCANO: "火山現象",
}
ODS_HAZARD_COLUMNS: dict[Hazard, str] = {h: "災害種別_" + c for h, c in GSI_HAZARD_COLUMNS.items()}

GSI_EVACUATION_COLUMNS = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", "指定緊急避難場所との住所同一",
    "その他市町村長が必要と認める事項", "受入対象者", "緯度", "経度", "備考",
)
GSI_EMERGENCY_COLUMNS = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", *GSI_HAZARD_COLUMNS.values(),
    "指定避難所との住所同一", "緯度", "経度", "備考",
)
ODS_COLUMNS = (
    "全国地方公共団体コード", "ID", "名称", "名称_カナ", "名称_英字", "所在地_全国地方公共団体コード",
    "町字ID", "所在地_連結表記", "所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下",
    "建物名等(方書)", "緯度", "経度", "標高", "電話番号", "内線番号", "連絡先メールアドレス",
    "連絡先FormURL", "連絡先備考（その他、SNSなど）", "郵便番号", "市区町村コード", "地方公共団体名",
    *ODS_HAZARD_COLUMNS.values(), "指定避難所との重複", "想定収容人数", "対象となる町会・自治会", "URL",
    "画像", "画像_ライセンス", "備考",
)
ODS_ADDRESS_PARTS = ("所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)")
# Town offices edit the ODS template (older versions lack 町字ID, some drop the English name), so
# an ODS file is recognised by the columns evac reads, not by the whole list.
ODS_REQUIRED_COLUMNS = ("全国地方公共団体コード", "ID", "名称", "緯度", "経度", *ODS_HAZARD_COLUMNS.values())

# What each source owns on a shelter. Status, opened/closed times and (for GSI) capacity and kana
# are the town's, set in evac, and an import must not reset them.
GSI_FIELDS = ("name", "address", "lat", "lon", "municipality_code", "municipality_name", "kind",
              "hazards", "note", "source")
ODS_FIELDS = (*GSI_FIELDS, "name_kana", "capacity")

# Loose bounding box of Japan (Okinotorishima to Etorofu, Yonaguni to Minamitorishima): outside it a
# coordinate is probably swapped or mistyped, but it is still a valid coordinate, so only a warning.
JAPAN_LAT = (20.0, 46.0)
JAPAN_LON = (122.0, 154.0)

# Above any real site (the largest wide-area refuges hold some 100,000) and far below INTEGER's limit.
MAX_CAPACITY = 1_000_000
# Keeps each IN list well inside SQLite's and PostgreSQL's bound-parameter limits.
LOOKUP_CHUNK = 1000
MAX_WARNING_LINES = 10

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"\d+")
_GSI_MUNICIPALITY = re.compile(r"[A-Za-z](\d{5})")
_TRUE_FLAGS = frozenset({"1", "○", "◯", "有", "あり", "true", "TRUE", "True"})
_FALSE_FLAGS = frozenset({"", "0", "無", "なし", "-", "false", "FALSE", "False"})


def _max_length(column: str) -> int:
    return int(Shelter.__table__.c[column].type.length)


MAX_LENGTHS = {name: _max_length(name) for name in (
    "code", "name", "name_kana", "address", "municipality_name", "note")}


def municipality_check_digit(five_digits: str) -> str:
    """The check digit of a 全国地方公共団体コード (JIS X 0402) for its first five digits."""
    d = [int(c) for c in five_digits]
    return str((11 - (d[0] * 6 + d[1] * 5 + d[2] * 4 + d[3] * 3 + d[4] * 2) % 11) % 10)


def municipality_code(five_digits: str) -> str:
    """The six-digit 全国地方公共団体コード for a five-digit one (e.g. 26366 → 263664)."""
    return five_digits + municipality_check_digit(five_digits)


@dataclass
class _Parsed:
    """A validated file: what it is and one dict of shelter fields per row, in file order."""

    format: str
    encoding: str
    fields: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Warnings:
    """Collects per-line oddities and reports each kind once, with a few line numbers."""

    def __init__(self) -> None:
        self._lines: dict[str, list[int]] = {}

    def add(self, kind: str, line: int) -> None:
        self._lines.setdefault(kind, []).append(line)

    def messages(self, texts: Mapping[str, Callable[[int, str], str]]) -> list[str]:
        out = []
        for kind, lines in self._lines.items():
            shown = ", ".join(str(n) for n in lines[:MAX_WARNING_LINES])
            if len(lines) > MAX_WARNING_LINES:
                shown += ", …"
            out.append(texts[kind](len(lines), shown))
        return out


class _Row:
    """One record being validated: reads typed values and records a RowError for each problem."""

    __slots__ = ("errors", "line", "ok", "prefix", "values")

    def __init__(self, line: int, values: Mapping[str, str], prefix: str, errors: list[RowError]) -> None:
        self.line = line
        self.values = values
        self.prefix = prefix  # "feature N: " for GeoJSON, whose "lines" are feature numbers
        self.errors = errors
        self.ok = True

    def error(self, column: str, message: str) -> None:
        self.ok = False
        self.errors.append(RowError(self.line, column, self.prefix + message))

    def text(self, column: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = self.values.get(column, "").strip()
        if not value:
            if required:
                self.error(column, _("必須の項目が空です"))
            return None
        if "\x00" in value:  # PostgreSQL refuses NUL in text; better a row error than a crash
            self.error(column, _("NUL 文字が含まれています"))
            return None
        if max_length is not None and len(value) > max_length:
            self.error(column, _("%(max)d 文字を超えています (%(length)d 文字)",
                                 max=max_length, length=len(value)))
            return None
        return value

    def coordinate(self, column: str, low: float, high: float) -> float | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            self.error(column, _("必須の項目が空です"))
            return None
        value = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
        if not _DECIMAL.fullmatch(value):
            self.error(column, _("数値ではありません: %(value)s", value=raw))
            return None
        number = float(value)
        if not low <= number <= high:
            self.error(column, _("範囲外です (%(low)s〜%(high)s): %(value)s", low=low, high=high, value=raw))
            return None
        return number

    def flag(self, column: str) -> bool:
        raw = self.values.get(column, "").strip()
        value = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
        if value in _TRUE_FLAGS:
            return True
        if value not in _FALSE_FLAGS:
            self.error(column, _("1 か空欄にしてください: %(value)s", value=raw))
        return False

    def integer(self, column: str, high: int) -> int | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        value = unicodedata.normalize("NFKC", raw).replace(",", "")
        if not _INTEGER.fullmatch(value):
            self.error(column, _("0 以上の整数ではありません: %(value)s", value=raw))
            return None
        if int(value) > high:
            self.error(column, _("大きすぎます (上限 %(high)d): %(value)s", high=high, value=raw))
            return None
        return int(value)


def import_shelters_file(path: Path | str) -> ImportReport:
    """Import a shelter file (any format in `KNOWN_FORMATS`); commit, or raise `ImportRefused`."""
    path = Path(path)
    return import_shelters_bytes(path.read_bytes(), path.name)


def import_shelters_bytes(data: bytes, name: str) -> ImportReport:
    """Import shelters from a file's bytes; `name` only labels the messages.

    Owns its transaction: everything is validated first, then stored and committed in one go;
    a refused file (`ImportRefused`, listing every bad line) leaves the database as it was.
    """
    parsed = _parse(data, name)
    return _store_parsed(parsed)


@writing
def _store_parsed(parsed: _Parsed) -> ImportReport:
    """Store a checked file in one writing unit (all or nothing)."""
    return _store(parsed)


# --- reading ---------------------------------------------------------------------------------


def _parse(data: bytes, name: str) -> _Parsed:
    decoded = _decode(data, name)
    if decoded.text.lstrip().startswith(("{", "[")):
        return _parse_geojson(decoded, name)
    return _parse_csv(decoded, name)


def _decode(data: bytes, name: str) -> csvfile.DecodedText:
    try:
        return csvfile.decode(data)
    except (csvfile.EncodingNotRecognised, UnicodeDecodeError) as exc:
        line = data.count(b"\n", 0, _undecodable_offset(data)) + 1
        raise ImportRefused(
            _("%(name)s: 文字コードを判別できません。"
              "UTF-8 (BOM 付き可) か CP932 (Shift_JIS) で保存してください。", name=name),
            [RowError(line, _("文字コード"), _("UTF-8 としても CP932 としても読めないバイトがあります"))],
        ) from exc


def _undecodable_offset(data: bytes) -> int:
    """Where the first byte that cannot be read is, in the encoding the file is most likely in.

    If the bytes before the first invalid UTF-8 sequence hold multibyte UTF-8 text (or a BOM),
    the file is UTF-8 with a bad byte there; otherwise it is most likely CP932.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        data[bom:].decode("utf-8")
        return 0
    except UnicodeDecodeError as exc:
        utf8_at = bom + exc.start
    if bom or not data[:utf8_at].isascii():
        return utf8_at
    try:
        data.decode("cp932")
    except UnicodeDecodeError as exc:
        return exc.start
    return utf8_at


def _unrecognised(name: str, found: str) -> ImportRefused:
    return ImportRefused(
        _("%(name)s: 形式を判別できません。取り込める形式: %(formats)s", name=name,
          formats=" / ".join(KNOWN_FORMATS)),
        [RowError(1, _("見出し"), _("知らない見出しです: %(found)s", found=found))],
    )


def _parse_csv(decoded: csvfile.DecodedText, name: str) -> _Parsed:
    records = csvfile.rows(decoded.text)
    first = next(records, None)
    if first is None:
        raise ImportRefused(_("%(name)s: ファイルが空です", name=name),
                            [RowError(1, _("見出し"), _("見出しがありません"))])
    header = [c.strip() for c in first[1]]
    columns = set(header)
    fields: tuple[str, ...]
    if columns.issuperset(GSI_EMERGENCY_COLUMNS):
        fmt, build, fields = FORMAT_GSI_EMERGENCY, _gsi_builder(emergency=True), GSI_FIELDS
    elif columns.issuperset(GSI_EVACUATION_COLUMNS):
        fmt, build, fields = FORMAT_GSI_EVACUATION, _gsi_builder(emergency=False), GSI_FIELDS
    elif columns.issuperset(ODS_REQUIRED_COLUMNS):
        fmt, build, fields = FORMAT_ODS_EMERGENCY, _ods_builder(), ODS_FIELDS
    else:
        shown = ",".join(header[:6]) + (",…" if len(header) > 6 else "")
        raise _unrecognised(name, shown)

    def row_values() -> Iterator[tuple[int, dict[str, str], str]]:
        previous_end = first[0]
        for end_line, cells in records:
            # csv reports the line a record ends on; an operator looks for where it starts.
            line, previous_end = previous_end + 1, end_line
            if not any(c.strip() for c in cells):
                continue  # blank lines and the ",,,," rows spreadsheets leave behind
            if len(cells) != len(header):
                yield line, {}, _("列の数が %(found)d です (見出しは %(expected)d 列)",
                                  found=len(cells), expected=len(header))
                continue
            yield line, dict(zip(header, cells, strict=True)), ""

    return _validate(name, fmt, decoded.encoding_label, fields, build, row_values(), geojson=False)


def _parse_geojson(decoded: csvfile.DecodedText, name: str) -> _Parsed:
    try:
        doc = json.loads(decoded.text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(_("%(name)s: JSON として読めません", name=name),
                            [RowError(exc.lineno, "JSON", exc.msg)]) from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise _unrecognised(name, _("FeatureCollection ではない JSON"))
    keys: set[str] = set()
    for feature in features:
        if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
            keys.update(feature["properties"])
    if features and not keys.issuperset({"共通ID", "施設・場所名"}):
        raise _unrecognised(name, ",".join(sorted(keys)[:6]))
    if keys.intersection(GSI_HAZARD_COLUMNS.values()):
        fmt, build = FORMAT_GSI_EMERGENCY_GEOJSON, _gsi_builder(emergency=True)
    else:
        fmt, build = FORMAT_GSI_EVACUATION_GEOJSON, _gsi_builder(emergency=False)

    def row_values() -> Iterator[tuple[int, dict[str, str], str]]:
        for number, feature in enumerate(features, start=1):
            if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
                yield number, {}, _("Feature ではありません")
                continue
            values = {k: _as_text(v) for k, v in feature["properties"].items()}
            geometry = feature.get("geometry")
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if (not isinstance(geometry, dict) or geometry.get("type") != "Point"
                    or not isinstance(coordinates, list) or len(coordinates) < 2):
                yield number, {}, _("geometry が Point ではありません")
                continue
            # GeoJSON is [longitude, latitude]; the geometry wins over any 緯度/経度 property.
            values["経度"], values["緯度"] = _as_text(coordinates[0]), _as_text(coordinates[1])
            yield number, values, ""

    return _validate(name, fmt, decoded.encoding_label, GSI_FIELDS, build, row_values(), geojson=True)


def _as_text(value: Any) -> str:
    """A JSON property as the CSV would have it: numbers as written, flags as 1 or empty."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_Builder = Callable[[_Row, _Warnings], dict[str, Any] | None]


def _validate(name: str, fmt: str, encoding: str, fields: tuple[str, ...], build: _Builder,
              records: Iterator[tuple[int, dict[str, str], str]], *, geojson: bool) -> _Parsed:
    """Check every record, collecting all problems; refuse the file if there is any."""
    parsed = _Parsed(fmt, encoding, fields)
    errors: list[RowError] = []
    warnings = _Warnings()
    first_line: dict[str, int] = {}
    code_column = "ID" if fmt == FORMAT_ODS_EMERGENCY else "共通ID"
    for line, values, problem in records:
        prefix = _("feature %(number)d: ", number=line) if geojson else ""
        if problem:
            errors.append(RowError(line, "feature" if geojson else _("列数"), prefix + problem))
            continue
        row = _Row(line, values, prefix, errors)
        shelter = build(row, warnings)
        code = shelter["code"] if shelter else None
        if code is not None:
            if code in first_line:
                row.error(code_column, _("%(where)s と同じコードです: %(code)s",
                                         where=_where(first_line[code], geojson), code=code))
            else:
                first_line[code] = line
        if shelter is not None and row.ok:
            if not (JAPAN_LAT[0] <= shelter["lat"] <= JAPAN_LAT[1]
                    and JAPAN_LON[0] <= shelter["lon"] <= JAPAN_LON[1]):
                warnings.add("outside_japan", line)
            parsed.rows.append(shelter)
    if errors:
        raise ImportRefused(
            _("%(name)s (%(format)s): %(count)d 件の誤りがあるため取り込みを中止しました。"
              "何も保存していません。",
              name=name, format=fmt, count=len(errors)),
            errors,
        )
    parsed.warnings = warnings.messages({
        "outside_japan": lambda n, lines: _(
            "%(count)d 件の座標が日本の範囲外です (%(where)s)", count=n, where=_where(lines, geojson)),
        "no_municipality": lambda n, lines: _(
            "%(count)d 件の共通ID から市町村コードを読み取れません (%(where)s)",
            count=n, where=_where(lines, geojson)),
        "check_digit": lambda n, lines: _(
            "%(count)d 件の全国地方公共団体コードの検査数字が合いません (%(where)s)",
            count=n, where=_where(lines, geojson)),
    })
    return parsed


def _where(lines: int | str, geojson: bool) -> str:
    """'12 行目' for a CSV, 'feature 12' for GeoJSON, whose records have no lines of their own."""
    return _("feature %(n)s", n=lines) if geojson else _("%(n)s 行目", n=lines)


def _coordinates(row: _Row) -> tuple[float | None, float | None]:
    return row.coordinate("緯度", -90.0, 90.0), row.coordinate("経度", -180.0, 180.0)


def _gsi_builder(*, emergency: bool) -> _Builder:
    """Rows of a GSI file (CSV or GeoJSON).

    A 指定避難所 row whose 受入対象者 is filled in is a 指定福祉避難所 (GSI fills that column
    only for those), so it becomes a WELFARE shelter; the other 指定避難所 rows are EVACUATION,
    and every 指定緊急避難場所 row is EMERGENCY with the hazards flagged 1.
    """

    def build(row: _Row, warnings: _Warnings) -> dict[str, Any] | None:
        code = row.text("共通ID", required=True, max_length=MAX_LENGTHS["code"])
        name = row.text("施設・場所名", required=True, max_length=MAX_LENGTHS["name"])
        lat, lon = _coordinates(row)
        address = row.text("住所", max_length=MAX_LENGTHS["address"])
        municipality_name = row.text("都道府県名及び市町村名", max_length=MAX_LENGTHS["municipality_name"])
        notes = [row.text("備考")]
        if emergency:
            kind = ShelterKind.EMERGENCY
            hazards = [h.value for h, column in GSI_HAZARD_COLUMNS.items() if row.flag(column)]
        else:
            hazards = []
            admitted = row.text("受入対象者")
            kind = ShelterKind.WELFARE if admitted else ShelterKind.EVACUATION
            other = "その他市町村長が必要と認める事項"
            notes += [_labelled("受入対象者", admitted), _labelled(other, row.text(other))]
        note = "\n".join(n for n in notes if n) or None
        if note is not None and len(note) > MAX_LENGTHS["note"]:
            row.error("備考", _("%(max)d 文字を超えています (%(length)d 文字)",
                               max=MAX_LENGTHS["note"], length=len(note)))
        mun_code = None
        if code is not None:
            match = _GSI_MUNICIPALITY.match(code)
            if match:
                mun_code = municipality_code(match.group(1))
            else:
                warnings.add("no_municipality", row.line)
        if code is None:
            return None
        return {"code": code, "name": name, "address": address, "lat": lat, "lon": lon,
                "municipality_code": mun_code, "municipality_name": municipality_name, "kind": kind,
                "hazards": hazards, "note": note, "source": "gsi"}

    return build


def _labelled(label: str, value: str | None) -> str | None:
    return f"{label}: {value}" if value else None


def _ods_builder() -> _Builder:
    """Rows of a 自治体標準オープンデータセット 指定緊急避難場所一覧.

    Every row is a 指定緊急避難場所 (EMERGENCY) unless 指定避難所との重複 is set: then the
    place is also a 指定避難所, where evacuees stay and are checked in, which is what evac's
    desk and HQ care about, so it becomes EVACUATION (its hazards are kept either way).
    想定収容人数 sets the capacity; an empty one leaves a capacity already set in evac alone,
    since "not published" is not "no room".
    """

    def build(row: _Row, warnings: _Warnings) -> dict[str, Any] | None:
        code = row.text("ID", required=True, max_length=MAX_LENGTHS["code"])
        name = row.text("名称", required=True, max_length=MAX_LENGTHS["name"])
        lat, lon = _coordinates(row)
        address = row.text("所在地_連結表記", max_length=MAX_LENGTHS["address"])
        if address is None:
            # Some towns fill only the split address columns.
            address = "".join(row.values.get(c, "").strip() for c in ODS_ADDRESS_PARTS) or None
            if address is not None and len(address) > MAX_LENGTHS["address"]:
                row.error("所在地_番地以下", _("%(max)d 文字を超えています (%(length)d 文字)",
                                           max=MAX_LENGTHS["address"], length=len(address)))
        hazards = [h.value for h, column in ODS_HAZARD_COLUMNS.items() if row.flag(column)]
        kind = ShelterKind.EVACUATION if row.flag("指定避難所との重複") else ShelterKind.EMERGENCY
        values: dict[str, Any] = {
            "code": code, "name": name, "address": address, "lat": lat, "lon": lon,
            "municipality_code": _ods_municipality_code(row, warnings),
            "municipality_name": row.text("地方公共団体名", max_length=MAX_LENGTHS["municipality_name"]),
            "kind": kind, "hazards": hazards,
            "note": row.text("備考", max_length=MAX_LENGTHS["note"]), "source": "ods",
            "name_kana": row.text("名称_カナ", max_length=MAX_LENGTHS["name_kana"]),
        }
        capacity = row.integer("想定収容人数", MAX_CAPACITY)
        if capacity is not None:
            values["capacity"] = capacity
        return values if code is not None else None

    return build


def _ods_municipality_code(row: _Row, warnings: _Warnings) -> str | None:
    raw = row.text("全国地方公共団体コード", required=True)
    if raw is None:
        return None
    value = unicodedata.normalize("NFKC", raw)
    if re.fullmatch(r"\d{5}", value):
        return municipality_code(value)
    if not re.fullmatch(r"\d{6}", value):
        row.error("全国地方公共団体コード", _("6 桁の数字ではありません: %(value)s", value=raw))
        return None
    if municipality_check_digit(value[:5]) != value[5]:
        warnings.add("check_digit", row.line)
    return value


# --- storing ---------------------------------------------------------------------------------


def _store(parsed: _Parsed) -> ImportReport:
    """Upsert the validated rows by code with bulk statements; compare to decide what changed."""
    report = ImportReport(parsed.format, parsed.encoding, warnings=list(parsed.warnings))
    existing = _existing(parsed.rows, parsed.fields)
    now = now_utc()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for values in parsed.rows:
        current = existing.get(values["code"])
        if current is None:
            inserts.append({"name_kana": None, "capacity": None, **values, "status": ShelterStatus.CLOSED,
                            "created_at": now, "updated_at": now})
            continue
        given = [f for f in parsed.fields if f in values]
        if any(values[f] != current[f] for f in given):
            # Every given field, not just the changed ones: one key set means one executemany.
            updates.append({"id": current["id"], **{f: values[f] for f in given}, "updated_at": now})
        else:
            report.unchanged += 1
    if inserts:
        # Core executemany on the table: the same rows as the ORM bulk insert, without its
        # per-row bookkeeping (measured 20-40 % faster for 82,557 rows on both databases).
        db.session.execute(insert(Shelter.__table__), inserts)
        _refresh_statistics(len(inserts))
    if updates:
        # ORM bulk UPDATE by primary key; SQLAlchemy groups the rows by key set (ODS rows with and
        # without a capacity), one executemany each.
        db.session.execute(update(Shelter), updates)
    report.added, report.updated = len(inserts), len(updates)
    return report


def _refresh_statistics(inserted: int) -> None:
    """After a bulk load on PostgreSQL, ANALYZE the table within the same transaction.

    psycopg prepares a statement after a few executions, and PostgreSQL may then keep a generic
    plan made while the table was empty: a sequential scan per 1,000-code lookup, which turned an
    idempotent re-import of 82,557 shelters from seconds into minutes. ANALYZE gives the planner
    real numbers and invalidates cached plans in every session.
    """
    if inserted >= LOOKUP_CHUNK and current_unit().postgres:
        db.session.execute(text(f"ANALYZE {Shelter.__tablename__}"))


def _existing(rows: Sequence[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The stored values of the file's shelters, by code, in a few chunked queries."""
    codes = [r["code"] for r in rows]
    names = ("id", "code", *fields)
    columns = [getattr(Shelter, n) for n in names]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[start:start + LOOKUP_CHUNK]
        for row in db.session.execute(select(*columns).where(Shelter.code.in_(chunk))):
            found[row[1]] = dict(zip(names, row, strict=True))
    return found
