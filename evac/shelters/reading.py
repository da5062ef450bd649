"""Reading a shelter file into validated list rows, without touching the database.

The container (CSV text, XLSX, GeoJSON) and its encoding are found from the bytes, the layout
from the header row (`evac.shelters.layouts`), and every cell is read with the repairs of
`evac.shelters.repairs`. Each row becomes a `ListingRow`: the row's identity in its list, its
designations and hazards, and the shelter fields the list carries. Problems are collected for
the whole file, so a refusal names every bad line and column at once.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from evac.common import csvfile
from evac.common.importing import (
    N_,
    EntryKind,
    ImportRefused,
    ReportEntry,
    RowError,
    bilingual,
    grouped_lines,
)
from evac.common.schemas import text_problem
from evac.shelters import repairs
from evac.shelters.layouts import (
    HAZARD_FIELDS,
    HAZARD_NAMES,
    Dataset,
    Header,
    Source,
    describe,
    hazard_field,
    known_formats,
    recognise,
)
from evac.shelters.models import Shelter, ShelterKind, listing_digest, ordered_designations
from evac.shelters.twins import site_key

# Towns put a title or a date above the header; it is looked for in the first rows.
HEADER_SEARCH_ROWS = 10
# Free-text columns whose cells may have lines (a quoted CSV cell, an XLSX cell with Alt+Enter).
_NOTE_COLUMNS = frozenset({"note", "admitted", "other", "building"})
_GSI_MUNICIPALITY = re.compile(r"[A-Za-z](\d{5})")
_GSI_CODE = re.compile(r"[A-Z]\d{13}")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]")


def _max_length(column: str) -> int:
    return int(Shelter.__table__.c[column].type.length)


MAX_LENGTHS = {name: _max_length(name) for name in (
    "code", "name", "name_kana", "name_en", "address", "municipality_name", "note")}


@dataclass
class ListingRow:
    """One valid row: which list entry it is, what it designates, and the shelter fields it gives."""

    line: int
    local_id: str
    municipality_code: str  # of the list's municipality; "" when a GSI 共通ID names none
    code: str  # the shelter code a new shelter gets from this row
    designations: list[str]
    hazards: list[str]
    fields: dict[str, Any]
    site_key: str | None
    same_address: bool = False  # GSI's 住所同一 flag: only reported, never trusted
    digest: str = ""

    def __post_init__(self) -> None:
        self.digest = listing_digest(self.designations, self.hazards, self.fields, self.site_key)


@dataclass
class ParsedFile:
    """A validated file: its layout, its rows, and what the report says about it."""

    name: str
    format: str
    encoding: str
    source: Source
    dataset: Dataset
    geojson: bool
    rows: list[ListingRow] = field(default_factory=list)
    entries: list[ReportEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: int = 0
    # Every municipality the file speaks for, and the keys of rows refused under --skip-invalid,
    # so that a refused row is not reported as missing from the file.
    municipalities: set[str] = field(default_factory=set)
    refused_keys: set[tuple[str, str]] = field(default_factory=set)

    def where(self, lines: int | str) -> str:
        """'12 行目' for a table, 'feature 12' for GeoJSON, whose records have no lines."""
        return _("feature %(n)s", n=lines) if self.geojson else _("%(n)s 行目", n=lines)


def shelter_code(source: Source, municipality_code: str, local_id: str) -> str:
    """The code a new shelter gets: GSI's national 共通ID, or the town's ID within its town.

    A town's ID is unique only within the town, so it is prefixed with the municipality code,
    unless it already is one (263664-0001) or is itself a GSI 共通ID, which is national.
    """
    if source is Source.GSI or _GSI_CODE.fullmatch(local_id) or local_id.startswith(municipality_code):
        return local_id
    return f"{municipality_code}-{local_id}"


# --- the file as a whole ---------------------------------------------------------------------


@dataclass
class _Table:
    container: str  # CSV, XLSX or GeoJSON, as reported
    encoding: str
    records: Iterator[tuple[int, list[str]]]
    notices: list[str] = field(default_factory=list)
    first_row: list[str] = field(default_factory=list)


def read_shelter_file(data: bytes, name: str, *, skip_invalid: bool = False) -> ParsedFile:
    """Read and validate a whole shelter file; raise `ImportRefused` naming every problem.

    With `skip_invalid`, bad rows are left out and listed in the report instead, unless no
    row at all is good.
    """
    container = csvfile.sniff(data)
    if container == csvfile.Container.XLSX:
        return _read_xlsx(data, name, skip_invalid)
    if container in (csvfile.Container.XLS, csvfile.Container.ODS, csvfile.Container.ZIP):
        raise _not_a_table(name, container)
    decoded = _decode(data, name)
    if decoded.text.lstrip().startswith(("{", "[")):
        return _read_geojson(decoded, name, skip_invalid)
    table = _Table("CSV", decoded.encoding_label, csvfile.records(decoded.text))
    return _read_table(table, name, skip_invalid)


def _not_a_table(name: str, container: str) -> ImportRefused:
    messages = {
        csvfile.Container.XLS: N_("%(name)s: Excel 97-2003 形式 (.xls) は読めません。"
                                  "Excel で「Excel ブック (.xlsx)」か「CSV UTF-8」として保存し直してください。"),
        csvfile.Container.ODS: N_("%(name)s: OpenDocument 表計算 (.ods) は読めません。"
                                  "XLSX か CSV として保存し直してください。"),
        csvfile.Container.ZIP: N_("%(name)s: ZIP 圧縮されたファイルです。展開してから中の CSV / XLSX を"
                                  "取り込んでください。"),
    }
    return ImportRefused(bilingual(messages[container], name=name),
                         [RowError(1, _("ファイル形式"), container)])


def _decode(data: bytes, name: str) -> csvfile.DecodedText:
    try:
        return csvfile.decode(data)
    except (csvfile.EncodingNotRecognised, UnicodeDecodeError) as exc:
        offset, likely = _undecodable_offset(data)
        line = data.count(b"\n", 0, offset) + 1
        raise ImportRefused(
            bilingual(N_("%(name)s: 文字コードを判別できません (%(likely)s として読めないバイトがあります)。"
                         "UTF-8 (BOM 付き可) か CP932 (Shift_JIS) で保存してください。"),
                      name=name, likely=likely),
            [RowError(line, _("文字コード"), _("UTF-8 としても CP932 としても読めないバイトがあります"))],
        ) from exc


def _undecodable_offset(data: bytes) -> tuple[int, str]:
    """Where the first unreadable byte is, in the encoding the file most likely is in, and that encoding.

    If the bytes before the first invalid UTF-8 sequence hold multibyte UTF-8 text (or a BOM),
    the file is UTF-8 with a bad byte there; otherwise it is most likely CP932.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        data[bom:].decode("utf-8")
        return 0, "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_at = bom + exc.start
    if bom or not data[:utf8_at].isascii():
        return utf8_at, "UTF-8 (BOM)" if bom else "UTF-8"
    try:
        data.decode("cp932")
    except UnicodeDecodeError as exc:
        return exc.start, "CP932 (Shift_JIS)"
    return utf8_at, "UTF-8"


def _unrecognised(name: str, found: Sequence[str], encoding: str) -> ImportRefused:
    shown = ",".join(c.strip() for c in found[:6]) + (",…" if len(found) > 6 else "")
    return ImportRefused(
        bilingual(N_("%(name)s (%(encoding)s): 形式を判別できません。取り込める形式: %(formats)s"),
                  name=name, encoding=encoding, formats=known_formats()),
        [RowError(1, _("見出し"), _("知らない見出しです: %(found)s", found=shown))],
    )


def _find_header(records: Iterator[tuple[int, list[str]]]) -> tuple[Header | None, list[str], list[int]]:
    """The first recognisable header within HEADER_SEARCH_ROWS rows, the first row, and the lines skipped."""
    first: list[str] | None = None
    skipped: list[int] = []
    for count, (line, cells) in enumerate(records, start=1):
        if first is None and any(c.strip() for c in cells):
            first = cells
        header = recognise(cells, line)
        if header is not None:
            return header, first or cells, skipped
        if any(c.strip() for c in cells):
            skipped.append(line)
        if count >= HEADER_SEARCH_ROWS:
            break
    return None, first or [], skipped


def _read_xlsx(data: bytes, name: str, skip_invalid: bool) -> ParsedFile:
    notices = []
    if not name.lower().endswith((".xlsx", ".xlsm")):
        notices.append(bilingual(N_("ファイル名は %(name)s ですが、中身は Excel ブック (XLSX) です。XLSX として読みました"),
                                 name=name))
    try:
        book = csvfile.open_xlsx(data)
    except Exception as exc:
        raise ImportRefused(bilingual(N_("%(name)s: Excel ブック (XLSX) として読めません (%(error)s)"),
                                      name=name, error=type(exc).__name__),
                            [RowError(1, _("ファイル形式"), "XLSX")]) from exc
    first_rows: list[str] = []
    with contextlib.closing(book):
        for position, sheet in enumerate(csvfile.xlsx_sheets(book)):
            header, first, skipped = _find_header(sheet.rows)
            first_rows = first_rows or first
            if header is None:
                continue
            if position:
                notices.append(bilingual(N_("見出しのあるシート「%(sheet)s」を読みました (それより前のシートは対象外)"),
                                         sheet=sheet.name))
            # The sheet's row generator goes on after the header row.
            table = _Table("XLSX", f"XLSX ({sheet.name})", sheet.rows, notices)
            return _validate(table, header, skipped, name, skip_invalid, geojson=False)
    raise _unrecognised(name, first_rows, "XLSX")


def _read_table(table: _Table, name: str, skip_invalid: bool) -> ParsedFile:
    header, first, skipped = _find_header(table.records)
    if header is None:
        if not first:
            raise ImportRefused(bilingual(N_("%(name)s (%(encoding)s): ファイルが空です"),
                                          name=name, encoding=table.encoding),
                                [RowError(1, _("見出し"), _("見出しがありません"))])
        raise _unrecognised(name, first, table.encoding)
    return _validate(table, header, skipped, name, skip_invalid, geojson=False)


def _read_geojson(decoded: csvfile.DecodedText, name: str, skip_invalid: bool) -> ParsedFile:
    try:
        doc = json.loads(decoded.text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(bilingual(N_("%(name)s: JSON として読めません"), name=name),
                            [RowError(exc.lineno, "JSON", exc.msg)]) from exc
    if isinstance(doc, dict) and doc.get("type") == "unavailable":
        # What a shelter API hands out for a municipality that publishes no list: no rows at all.
        raise ImportRefused(
            bilingual(N_("%(name)s: 避難所データではなく「データなし」(unavailable) の通知です: "
                         "%(code)s %(town)s %(dataset)s — %(message)s"),
                      name=name, code=doc.get("code", ""), town=doc.get("name", ""),
                      dataset=doc.get("dataType", ""), message=doc.get("message", "")),
            [RowError(1, "type", "unavailable")])
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise ImportRefused(
            bilingual(N_("%(name)s: FeatureCollection ではない JSON です。取り込める形式: %(formats)s"),
                      name=name, formats=known_formats()),
            [RowError(1, _("見出し"), _("FeatureCollection ではない JSON"))])
    keys: dict[str, None] = {}
    for feature in features:
        if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
            keys.update(dict.fromkeys(feature["properties"]))
    columns = [*keys, *(c for c in ("緯度", "経度") if c not in keys)]
    position = {c: i for i, c in enumerate(columns)}
    problems: dict[int, str] = {}

    def records() -> Iterator[tuple[int, list[str]]]:
        yield 0, columns
        for number, feature in enumerate(features, start=1):
            cells = [""] * len(columns)
            if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
                problems[number] = _("Feature ではありません")
                yield number, cells
                continue
            for key, value in feature["properties"].items():
                cells[position[key]] = _as_text(value)
            geometry = feature.get("geometry")
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if (not isinstance(geometry, dict) or geometry.get("type") != "Point"
                    or not isinstance(coordinates, list) or len(coordinates) < 2):
                problems[number] = _("geometry が Point ではありません")
                yield number, cells
                continue
            # GeoJSON is [longitude, latitude]; the geometry wins over any 緯度/経度 property.
            cells[position["経度"]] = _as_text(coordinates[0])
            cells[position["緯度"]] = _as_text(coordinates[1])
            yield number, cells

    stream = records()
    header = recognise(next(stream)[1], 0)
    if header is None:
        raise _unrecognised(name, columns, decoded.encoding_label)
    table = _Table("GeoJSON", decoded.encoding_label, stream)
    return _validate(table, header, [], name, skip_invalid, geojson=True, problems=problems)


def _as_text(value: Any) -> str:
    """A JSON property as the CSV would have it: numbers as written, flags as 1 or empty."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- rows ------------------------------------------------------------------------------------


class _Row:
    """One record being read: typed values, with repairs and problems recorded per cell."""

    __slots__ = ("cells", "errors", "header", "line", "prefix", "repairs", "warnings")

    def __init__(self, line: int, cells: list[str], header: Header, prefix: str) -> None:
        self.line = line
        self.cells = cells
        self.header = header
        self.prefix = prefix  # "feature N: " for GeoJSON, whose "lines" are feature numbers
        self.errors: list[RowError] = []
        self.repairs: list[ReportEntry] = []
        self.warnings: list[ReportEntry] = []

    def has(self, canonical: str) -> bool:
        return canonical in self.header.columns

    def raw(self, canonical: str) -> str:
        index = self.header.columns.get(canonical)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def column(self, canonical: str) -> str:
        return self.header.name_of(canonical)

    def error(self, canonical: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.column(canonical), self.prefix + message))

    def repaired(self, canonical: str, before: str, after: str, why: str) -> None:
        self.repairs.append(ReportEntry(EntryKind.REPAIR, self.line, self.column(canonical), before, after,
                                        why))

    def warn(self, canonical: str, message: str) -> None:
        self.warnings.append(ReportEntry(EntryKind.WARNING, self.line, self.column(canonical),
                                         message=self.prefix + message))

    def text(self, canonical: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = self.raw(canonical).strip()
        if not value:
            if required:
                self.error(canonical, _("必須の項目が空です"))
            return None
        if "\x00" in value:  # PostgreSQL refuses NUL in text; better a row error than a crash
            self.error(canonical, _("NUL 文字が含まれています"))
            return None
        # The API's rule for text (evac.common.schemas): no control characters, lines in notes only.
        if text_problem(value, multiline=canonical in _NOTE_COLUMNS):
            self.error(canonical, _("制御文字 (改行・タブなど) や壊れた文字が含まれています"))
            return None
        if max_length is not None and len(value) > max_length:
            self.error(canonical, _("%(max)d 文字を超えています (%(length)d 文字)", max=max_length, length=len(value)))
            return None
        return value

    def identifier(self, canonical: str, max_length: int) -> str | None:
        """An ID as published; full-width letters and digits are repaired (the key must be stable)."""
        value = self.text(canonical, required=True, max_length=max_length)
        if value is None or value.isascii():
            return value
        fixed = repairs.halfwidth(value)
        self.repaired(canonical, value, fixed, _("全角英数字を半角に"))
        return fixed

    def flag(self, canonical: str) -> bool:
        raw = self.raw(canonical)
        if raw == "1" or raw == "":  # nearly every flag of a national list: no repair to look for
            return raw == "1"
        try:
            read = repairs.flag(raw)
        except repairs.BadValue as exc:
            self.error(canonical, str(exc))
            return False
        if read.repaired is not None and raw.strip() != "":
            self.repaired(canonical, raw, read.repaired, _("はい/いいえの表記を 1 / 空欄に"))
        return read.value

    def number(self, canonical: str) -> float | None:
        raw = self.raw(canonical)
        if not raw.strip():
            self.error(canonical, _("必須の項目が空です"))
            return None
        try:
            read = repairs.decimal(raw)
        except repairs.BadValue as exc:
            self.error(canonical, str(exc))
            return None
        if read.repaired is not None:
            self.repaired(canonical, raw, read.repaired, _("全角の数字を半角に"))
        return read.value

    def coordinates(self) -> tuple[float | None, float | None]:
        """緯度 and 経度: numbers, swapped back when entered the wrong way round, in range."""
        lat, lon = self.number("lat"), self.number("lon")
        if lat is None or lon is None:
            return lat, lon
        if repairs.transposed(lat, lon):
            why = _("緯度と経度が入れ替わっていたので戻しました")
            self.repaired("lat", self.raw("lat"), repr(lon), why)
            self.repaired("lon", self.raw("lon"), repr(lat), why)
            lat, lon = lon, lat
        ok = True
        if not -90.0 <= lat <= 90.0:
            self.error("lat", _("範囲外です (%(low)s〜%(high)s): %(value)s", low=-90.0, high=90.0, value=self.raw("lat")))
            ok = False
        if not -180.0 <= lon <= 180.0:
            self.error("lon", _("範囲外です (%(low)s〜%(high)s): %(value)s", low=-180.0, high=180.0,
                                value=self.raw("lon")))
            ok = False
        if not ok:
            return None, None
        if lat == lon:
            self.warn("lon", _("緯度と経度が同じ値です: %(value)s", value=self.raw("lon")))
        return lat, lon

    def municipality(self) -> str | None:
        raw = self.raw("municipality")
        if not raw.strip():
            self.error("municipality", _("必須の項目が空です"))
            return None
        try:
            read = repairs.municipality_code(raw)
        except repairs.BadValue as exc:
            self.error("municipality", str(exc))
            return None
        if read.repaired is not None:
            written = repairs.halfwidth(raw)
            if len(written) == 5 and read.value == "0" + written:
                why = _("表計算ソフトが落とした先頭の 0 を補いました (検査数字で確認)")
            elif len(written) == 5:
                why = _("検査数字を補いました")
            else:
                why = _("全角の数字を半角に")
            self.repaired("municipality", raw, read.repaired, why)
        return read.value

    def capacity(self) -> tuple[int | None, str | None]:
        raw = self.raw("capacity")
        try:
            read = repairs.capacity(raw)
        except repairs.BadValue as exc:
            self.error("capacity", str(exc))
            return None, None
        if read.repaired is not None:
            why = (_("数だけを取り、文は備考に残しました") if read.note
                   else _("不明として扱います") if read.value is None else _("数だけを取りました"))
            self.repaired("capacity", raw, read.repaired, why)
        return read.value, read.note

    def kana(self) -> str | None:
        value = self.text("name_kana", max_length=MAX_LENGTHS["name_kana"])
        if value is not None and _HALFWIDTH_KANA.search(value):
            fixed = unicodedata.normalize("NFKC", value)
            self.repaired("name_kana", value, fixed, _("半角カナを全角に"))
            return fixed
        return value


def _labelled(label: str, value: str | None) -> str | None:
    return f"{label}: {value}" if value else None


def _note(row: _Row, parts: list[str | None]) -> str | None:
    note = "\n".join(p for p in parts if p) or None
    if note is not None and len(note) > MAX_LENGTHS["note"]:
        row.error("note", _("%(max)d 文字を超えています (%(length)d 文字)", max=MAX_LENGTHS["note"], length=len(note)))
    return note


_HAZARD_COLUMNS = tuple((h.value, hazard_field(h)) for h in HAZARD_NAMES)


def _hazards(row: _Row) -> list[str]:
    columns = row.header.columns
    return [value for value, name in _HAZARD_COLUMNS if name in columns and row.flag(name)]


def _gsi_row(row: _Row, dataset: Dataset) -> ListingRow | None:
    """A row of a GSI list (CSV, XLSX or GeoJSON; national extract or per-municipality download).

    A 指定避難所 row whose 受入対象者 is filled in is a 指定福祉避難所 (GSI fills that column only
    for those); every 指定緊急避難場所 row is one, with the hazards flagged.
    """
    local_id = row.identifier("local_id", MAX_LENGTHS["code"])
    name = row.text("name", required=True, max_length=MAX_LENGTHS["name"])
    lat, lon = row.coordinates()
    address = row.text("address", max_length=MAX_LENGTHS["address"])
    notes = [row.text("note")]
    if dataset is Dataset.EMERGENCY:
        designations, hazards = [ShelterKind.EMERGENCY.value], _hazards(row)
    else:
        admitted = row.text("admitted")
        designations = [(ShelterKind.WELFARE if admitted else ShelterKind.EVACUATION).value]
        hazards = []
        notes += [_labelled(row.column("admitted"), admitted), _labelled(row.column("other"), row.text("other"))]
    note = _note(row, notes)
    same_address = row.flag("same_address") if row.has("same_address") else False
    municipality = ""
    if local_id is not None:
        match = _GSI_MUNICIPALITY.match(local_id)
        if match:
            municipality = repairs.with_check_digit(match.group(1))
        else:
            row.warn("local_id", _("共通ID から市町村コードを読み取れません: %(value)s", value=local_id))
    if row.errors or local_id is None or name is None:
        return None
    fields: dict[str, Any] = {"name": name, "address": address, "lat": lat, "lon": lon,
                              "municipality_code": municipality or None, "note": note}
    if row.has("municipality_name"):
        fields["municipality_name"] = row.text("municipality_name",
                                               max_length=MAX_LENGTHS["municipality_name"])
        if row.errors:
            return None
    return ListingRow(row.line, local_id, municipality, local_id, designations, hazards, fields,
                      site_key(municipality, name, address), same_address)


def _town_row(row: _Row, dataset: Dataset, source: Source) -> ListingRow | None:
    """A row of a town's own list: 自治体標準オープンデータセット or the older 推奨データセット.

    An emergency list row with 指定避難所との重複 is both designations; an evacuation list row
    with 指定緊急避難場所との重複 likewise; 福祉避難所 or a 受入対象者 make it a welfare shelter.
    An empty 想定収容人数 leaves a capacity already set in evac alone: "not published" is not
    "no room".
    """
    municipality = row.municipality()
    local_id = row.identifier("local_id", MAX_LENGTHS["code"])
    name = row.text("name", required=True, max_length=MAX_LENGTHS["name"])
    lat, lon = row.coordinates()
    address = row.text("address", max_length=MAX_LENGTHS["address"])
    if address is None:
        # Some towns fill only the split address columns.
        parts = ("address:prefecture", "address:city", "address:town", "address:block")
        address = "".join(row.raw(p).strip() for p in parts if row.has(p)) or None
        if address is not None and len(address) > MAX_LENGTHS["address"]:
            row.error("address:block", _("%(max)d 文字を超えています (%(length)d 文字)",
                                         max=MAX_LENGTHS["address"], length=len(address)))
    hazards = _hazards(row)
    admitted = row.text("admitted") if row.has("admitted") else None
    welfare = (row.flag("welfare") if row.has("welfare") else False) or bool(admitted)
    own = ShelterKind.EMERGENCY if dataset is Dataset.EMERGENCY else (
        ShelterKind.WELFARE if welfare else ShelterKind.EVACUATION)
    designations = [own.value]
    if dataset is Dataset.EMERGENCY and row.has("also_evacuation") and row.flag("also_evacuation"):
        designations.append((ShelterKind.WELFARE if welfare else ShelterKind.EVACUATION).value)
    if dataset is Dataset.EVACUATION and row.has("also_emergency") and row.flag("also_emergency"):
        designations.append(ShelterKind.EMERGENCY.value)
    capacity, capacity_note = row.capacity() if row.has("capacity") else (None, None)
    note = _note(row, [row.text("note"), _labelled(row.column("admitted"), admitted),
                       _labelled(row.column("building"), row.text("building") if row.has("building") else None),
                       _labelled(row.column("capacity"), capacity_note)])
    kana = row.kana() if row.has("name_kana") else None
    name_en = row.text("name_en", max_length=MAX_LENGTHS["name_en"]) if row.has("name_en") else None
    municipality_name = None
    if row.has("municipality_name"):
        municipality_name = row.text("municipality_name", max_length=MAX_LENGTHS["municipality_name"])
    elif row.has("prefecture_name") or row.has("city_name"):
        municipality_name = "".join(row.raw(c).strip() for c in ("prefecture_name", "city_name")) or None
    code = None
    if municipality is not None and local_id is not None:
        code = shelter_code(source, municipality, local_id)
        if len(code) > MAX_LENGTHS["code"]:
            row.error("local_id", _("市町村コードを付けた避難所コード %(code)s が %(max)d 文字を超えます",
                                    code=code, max=MAX_LENGTHS["code"]))
    if row.errors or municipality is None or local_id is None or name is None or code is None:
        return None
    fields: dict[str, Any] = {"name": name, "address": address, "lat": lat, "lon": lon,
                              "municipality_code": municipality, "note": note}
    if row.has("municipality_name") or row.has("prefecture_name") or row.has("city_name"):
        fields["municipality_name"] = municipality_name
    if kana is not None:
        fields["name_kana"] = kana
    if name_en is not None:
        fields["name_en"] = name_en
    if capacity is not None:
        fields["capacity"] = capacity
    return ListingRow(row.line, local_id, municipality, code, ordered_designations(designations), hazards,
                      fields, site_key(municipality, name, address))


def _validate(table: _Table, header: Header, skipped: list[int], name: str, skip_invalid: bool, *,
              geojson: bool, problems: dict[int, str] | None = None) -> ParsedFile:
    """Read every record after the header, collecting all problems; refuse the file if there are any."""
    layout = header.layout
    parsed = ParsedFile(name, describe(header, table.container), table.encoding, layout.source,
                        layout.dataset, geojson)
    for notice in table.notices:
        parsed.entries.append(ReportEntry(EntryKind.NOTICE, None, message=notice))
    if skipped:
        parsed.entries.append(ReportEntry(EntryKind.NOTICE, header.line, message=bilingual(
            N_("見出しは %(line)d 行目にありました。その前の行 (%(skipped)s) は読み飛ばしました"),
            line=header.line, skipped=", ".join(str(n) for n in skipped))))
    if header.missing_hazards:
        parsed.entries.append(ReportEntry(EntryKind.NOTICE, header.line, message=bilingual(
            N_("災害種別の列がありません (指定なしとして扱います): %(columns)s"),
            columns=", ".join(header.missing_hazards))))
    build: Callable[[_Row], ListingRow | None]
    if layout.source is Source.GSI:
        def build(row: _Row) -> ListingRow | None:
            return _gsi_row(row, layout.dataset)
    else:
        def build(row: _Row) -> ListingRow | None:
            return _town_row(row, layout.dataset, layout.source)
    errors: list[RowError] = []
    first_line: dict[tuple[str, str], int] = {}
    at_point: dict[tuple[float, float], int] = {}
    outside: list[int] = []
    no_municipality: list[int] = []
    seen_rows = 0
    for line, cells in table.records:
        prefix = _("feature %(number)d: ", number=line) if geojson else ""
        if problems and line in problems:
            errors.append(RowError(line, "feature", prefix + problems[line]))
            parsed.refused += 1
            continue
        if not any(c.strip() for c in cells):
            continue  # blank lines and the ",,,," rows spreadsheets leave behind
        seen_rows += 1
        if table.container == "CSV" and len(cells) != header.width:
            # A short row in a workbook is only trailing empty cells; in a CSV it is a broken line.
            errors.append(RowError(line, _("列数"), _("列の数が %(found)d です (見出しは %(expected)d 列)",
                                                      found=len(cells), expected=header.width)))
            parsed.refused += 1
            continue
        row = _Row(line, cells, header, prefix)
        listing = build(row)
        key = (listing.municipality_code, listing.local_id) if listing else None
        if listing is not None and key in first_line:
            row.error("local_id", _("%(where)s と同じコードです: %(code)s",
                                    where=parsed.where(first_line[key]), code=listing.local_id))
        if row.errors or listing is None:
            errors.extend(row.errors)
            parsed.refused += 1
            _remember_refused(parsed, row, layout.source)
            continue
        first_line[key] = line  # type: ignore[index]
        parsed.municipalities.add(listing.municipality_code)
        if not listing.municipality_code:
            no_municipality.append(line)
        parsed.entries.extend(row.repairs)
        parsed.entries.extend(row.warnings)
        lat, lon = listing.fields["lat"], listing.fields["lon"]
        if not repairs.in_japan(lat, lon):
            outside.append(line)
            parsed.entries.append(ReportEntry(EntryKind.WARNING, line, row.column("lat"),
                                              message=prefix + _("座標が日本の範囲外です: %(lat)s, %(lon)s",
                                                                 lat=lat, lon=lon)))
        point = (round(lat, 6), round(lon, 6))
        if point in at_point:
            parsed.entries.append(ReportEntry(EntryKind.WARNING, line, row.column("lat"), message=prefix + _(
                "%(where)s と同じ座標です: %(lat)s, %(lon)s", where=parsed.where(at_point[point]), lat=lat, lon=lon)))
        else:
            at_point[point] = line
        parsed.rows.append(listing)
    parsed.municipalities.discard("")
    _finish(parsed, errors, seen_rows, skip_invalid, outside, no_municipality)
    return parsed


def _remember_refused(parsed: ParsedFile, row: _Row, source: Source) -> None:
    """The key of a refused row, when it can be read, so that it is not reported missing."""
    local_id = repairs.halfwidth(row.raw("local_id"))
    if not local_id:
        return
    if source is Source.GSI:
        match = _GSI_MUNICIPALITY.match(local_id)
        municipality = repairs.with_check_digit(match.group(1)) if match else ""
    else:
        try:
            municipality = repairs.municipality_code(row.raw("municipality")).value
        except repairs.BadValue:
            return
    parsed.refused_keys.add((municipality, local_id))
    if municipality:
        parsed.municipalities.add(municipality)


def _finish(parsed: ParsedFile, errors: list[RowError], seen_rows: int, skip_invalid: bool,
            outside: list[int], no_municipality: list[int]) -> None:
    if seen_rows == 0 and not errors:
        raise ImportRefused(
            bilingual(N_("%(name)s (%(format)s, %(encoding)s): 見出しだけで、取り込む行がありません"),
                      name=parsed.name, format=parsed.format, encoding=parsed.encoding),
            [RowError(1, _("行"), _("データ行がありません"))])
    if errors and (not skip_invalid or not parsed.rows):
        raise ImportRefused(
            bilingual(N_("%(name)s (%(format)s, %(encoding)s として読みました): %(count)d 件の誤りがあるため"
                         "取り込みを中止しました。何も保存していません。"),
                      name=parsed.name, format=parsed.format, encoding=parsed.encoding, count=len(errors)),
            errors)
    for error in errors:
        parsed.entries.append(ReportEntry(EntryKind.REFUSED, error.line, error.field, message=error.message))
    if outside:
        parsed.warnings.append(_("%(count)d 件の座標が日本の範囲外です (%(where)s)", count=len(outside),
                                 where=grouped_lines(outside, parsed.where)))
    if no_municipality:
        parsed.warnings.append(_("%(count)d 件の共通ID から市町村コードを読み取れません (%(where)s)",
                                 count=len(no_municipality),
                                 where=grouped_lines(no_municipality, parsed.where)))


__all__ = ["HAZARD_FIELDS", "ListingRow", "ParsedFile", "read_shelter_file", "shelter_code"]
