"""The layouts in which towns and GSI publish shelter lists, and how evac recognises them.

A layout is recognised from the header row alone (never from the file name), after folding
the spellings towns use for the same column (full-width letters such as ＮＯ, 名称カナ for
名称_カナ, （） for (), 、 or , inside hazard names). Recognised:

GSI (国土地理院, 指定緊急避難場所・指定避難所データ; the columns of ../shared/data/gsi/):
- 指定避難所: NO, 共通ID, 都道府県名及び市町村名, 施設・場所名, 住所, 指定緊急避難場所との住所同一,
  その他市町村長が必要と認める事項, 受入対象者, 緯度, 経度, 備考;
- 指定緊急避難場所: NO, 共通ID, 都道府県名及び市町村名, 施設・場所名, 住所, the eight hazards
  (洪水 … 火山現象), 指定避難所との住所同一, 緯度, 経度, 備考;
- each as the national extract or as the per-municipality download, which has no
  都道府県名及び市町村名 column; and as GeoJSON with the same property names.

自治体標準オープンデータセット (デジタル庁):
- 指定緊急避難場所一覧 (sheet 03 of the data item definitions): 全国地方公共団体コード, ID, 名称,
  名称_カナ, 名称_英字, 所在地_全国地方公共団体コード, 町字ID, 所在地_連結表記, 所在地_都道府県,
  所在地_市区町村, 所在地_町字, 所在地_番地以下, 建物名等(方書), 緯度, 経度, 標高, 電話番号, 内線番号,
  連絡先メールアドレス, 連絡先FormURL, 連絡先備考（その他、SNSなど）, 郵便番号, 市区町村コード,
  地方公共団体名, 災害種別_洪水 … 災害種別_火山現象, 指定避難所との重複, 想定収容人数,
  対象となる町会・自治会, URL, 画像, 画像_ライセンス, 備考. Towns drop columns they do not use
  (町字ID, 名称_英字, the split address), so only the columns evac reads are looked for.
- 指定避難所一覧: the data set defines no sheet of its own for 指定避難所; towns publish it in
  the template above with 指定緊急避難場所との重複 in place of 指定避難所との重複 and usually
  without the hazard columns, often with 福祉避難所 or 受入対象者. A header with the ODS
  identity columns is read as a 指定避難所一覧 when it has 指定緊急避難場所との重複, or has no
  hazard column at all.

推奨データセット (the data set's name before 2022): NO, 名称, 名称_カナ, 住所, 方書, 緯度, 経度, 標高,
電話番号, 内線番号, 市区町村コード, 都道府県名, 市区町村名, 災害種別_洪水 … 災害種別_火山現象,
指定避難所との重複, 想定収容人数, 対象となる町会・自治会, URL, 備考, with the variants ＮＯ,
名称カナ and no 方書; NO is the town's own number of the site, as ID is in the later template.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evac.shelters.models import Hazard


class Dataset(enum.StrEnum):
    """Which list a row comes from: designations are per list."""

    EVACUATION = "evacuation"  # 指定避難所 (and 指定福祉避難所)
    EMERGENCY = "emergency"  # 指定緊急避難場所


class Source(enum.StrEnum):
    """Who numbers the rows: GSI's national 共通ID, or the town's own ID (ODS and 推奨)."""

    GSI = "gsi"
    ODS = "ods"


# Hazard columns in the order of the Hazard enum (GSI's column order), with the spellings seen.
HAZARD_NAMES: dict[Hazard, tuple[str, ...]] = {
    Hazard.FLOOD: ("洪水",),
    Hazard.LANDSLIDE: ("崖崩れ、土石流及び地滑り", "崖崩れ、土石流及び地すべり", "崖崩、土石流及び地滑", "土砂災害"),
    Hazard.STORM_SURGE: ("高潮",),
    Hazard.EARTHQUAKE: ("地震",),
    Hazard.TSUNAMI: ("津波",),
    Hazard.FIRE: ("大規模な火事", "大規模火災", "大規模な火災"),
    Hazard.INLAND_FLOOD: ("内水氾濫",),
    Hazard.VOLCANO: ("火山現象",),
}
# The published names, as RowErrors and the report name a column that the file lacks.
GSI_HAZARD_COLUMNS: dict[Hazard, str] = {h: names[0] for h, names in HAZARD_NAMES.items()}
ODS_HAZARD_COLUMNS: dict[Hazard, str] = {h: "災害種別_" + c for h, c in GSI_HAZARD_COLUMNS.items()}


def hazard_field(hazard: Hazard) -> str:
    """The canonical field name of a hazard flag column."""
    return f"hazard:{hazard.value}"


# Canonical fields and the header spellings that mean them. A field is looked up by the first
# spelling the header has.
_COMMON: dict[str, tuple[str, ...]] = {
    "name_kana": ("名称_カナ", "名称カナ", "名称(カナ)", "名称_かな", "名称_フリガナ", "フリガナ", "ふりがな"),
    # 自治体標準オープンデータセット has 名称_英字; GSI's lists have no English name.
    "name_en": ("名称_英字", "名称_英語", "名称(英字)", "名称（英字）", "英語名称", "名称_ローマ字"),
    "lat": ("緯度",),
    "lon": ("経度",),
    "note": ("備考",),
    "capacity": ("想定収容人数", "想定収容人員", "収容人数", "収容可能人数"),
    "admitted": ("受入対象者",),
    "welfare": ("福祉避難所", "指定福祉避難所"),
    "also_evacuation": ("指定避難所との重複",),
    "also_emergency": ("指定緊急避難場所との重複",),
}
GSI_FIELDS: dict[str, tuple[str, ...]] = {
    "local_id": ("共通ID",),
    "name": ("施設・場所名",),
    "address": ("住所",),
    "municipality_name": ("都道府県名及び市町村名",),
    "same_address": ("指定緊急避難場所との住所同一", "指定避難所との住所同一"),
    "other": ("その他市町村長が必要と認める事項",),
    "lat": ("緯度",),
    "lon": ("経度",),
    "note": ("備考",),
    "admitted": ("受入対象者",),
    **{hazard_field(h): names for h, names in HAZARD_NAMES.items()},
}
ODS_FIELDS: dict[str, tuple[str, ...]] = {
    **_COMMON,
    "local_id": ("ID",),
    "municipality": ("全国地方公共団体コード", "市区町村コード", "団体コード"),
    "name": ("名称", "施設名", "施設名称"),
    "address": ("所在地_連結表記", "所在地", "住所"),
    "address:prefecture": ("所在地_都道府県",),
    "address:city": ("所在地_市区町村",),
    "address:town": ("所在地_町字",),
    "address:block": ("所在地_番地以下",),
    "building": ("建物名等(方書)", "方書"),
    "municipality_name": ("地方公共団体名",),
    **{hazard_field(h): tuple("災害種別_" + n for n in names) for h, names in HAZARD_NAMES.items()},
}
RECOMMENDED_FIELDS: dict[str, tuple[str, ...]] = {
    **ODS_FIELDS,
    "local_id": ("NO",),
    "municipality": ("市区町村コード", "全国地方公共団体コード", "団体コード"),
    "address": ("住所", "所在地", "所在地_連結表記"),
    "prefecture_name": ("都道府県名",),
    "city_name": ("市区町村名",),
}
HAZARD_FIELDS = tuple(hazard_field(h) for h in HAZARD_NAMES)


@dataclass(frozen=True)
class Layout:
    """One published layout: its reported name, whose codes its rows carry, and its columns."""

    key: str
    label: str
    source: Source
    dataset: Dataset
    fields: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]


@dataclass
class Header:
    """A recognised header row: the layout, and where each canonical field sits."""

    layout: Layout
    line: int
    columns: dict[str, int]  # canonical field -> index of its column
    names: dict[str, str]  # canonical field -> the column's name as the file spells it
    width: int
    missing_hazards: list[str] = field(default_factory=list)
    per_municipality: bool = False

    def name_of(self, canonical: str) -> str:
        """The column name to show the operator for a field (the published name if absent)."""
        if canonical in self.names:
            return self.names[canonical]
        spellings = self.layout.fields.get(canonical)
        return spellings[0] if spellings else canonical


def _layouts() -> tuple[Layout, ...]:
    gsi_required = ("local_id", "name", "lat", "lon")
    ods_required = ("municipality", "local_id", "name", "lat", "lon")
    return (
        Layout("gsi-emergency", "GSI 指定緊急避難場所", Source.GSI, Dataset.EMERGENCY, GSI_FIELDS,
               (*gsi_required, *HAZARD_FIELDS)),
        Layout("gsi-evacuation", "GSI 指定避難所", Source.GSI, Dataset.EVACUATION, GSI_FIELDS, gsi_required),
        Layout("ods-emergency", "自治体標準オープンデータセット 指定緊急避難場所一覧", Source.ODS, Dataset.EMERGENCY,
               ODS_FIELDS, ods_required),
        Layout("ods-evacuation", "自治体標準オープンデータセット 指定避難所一覧", Source.ODS, Dataset.EVACUATION,
               ODS_FIELDS, ods_required),
        Layout("recommended-emergency", "推奨データセット 指定緊急避難場所一覧", Source.ODS, Dataset.EMERGENCY,
               RECOMMENDED_FIELDS, ods_required),
        Layout("recommended-evacuation", "推奨データセット 指定避難所一覧", Source.ODS, Dataset.EVACUATION,
               RECOMMENDED_FIELDS, ods_required),
    )


LAYOUTS = _layouts()
PER_MUNICIPALITY = "市町村別ダウンロード"

_PUNCTUATION = str.maketrans({",": "、", "，": "、", "､": "、", "･": "・"})
_HEADER_SPACE = re.compile(r"[\s\u3000]+")


def fold(name: str) -> str:
    """A header cell folded for comparison: NFKC, no spaces, one comma, upper-case ASCII."""
    value = unicodedata.normalize("NFKC", name).replace("\ufeff", "")
    value = _HEADER_SPACE.sub("", value).translate(_PUNCTUATION)
    return value.upper() if value.isascii() else value


def _folded(spellings: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {canonical: tuple(fold(s) for s in names) for canonical, names in spellings.items()}


_FOLDED = {layout.key: _folded(layout.fields) for layout in LAYOUTS}


def _locate(layout: Layout, folded_header: Sequence[str],
            raw_header: Sequence[str]) -> tuple[dict[str, int], dict[str, str]]:
    index: dict[str, int] = {}
    for i, name in enumerate(folded_header):
        index.setdefault(name, i)
    columns, names = {}, {}
    for canonical, spellings in _FOLDED[layout.key].items():
        for spelling in spellings:
            if spelling in index:
                columns[canonical] = index[spelling]
                names[canonical] = raw_header[index[spelling]].strip()
                break
    return columns, names


def recognise(cells: Sequence[str], line: int) -> Header | None:
    """The layout whose header this row is, or None.

    Distinguishing rules: GSI rows carry 共通ID; the ODS template carries ID, the 推奨 one NO
    without ID; a list with hazard columns is a 指定緊急避難場所 list unless it says
    指定緊急避難場所との重複 (a 指定避難所 list that kept the hazard columns).
    """
    raw = [c if isinstance(c, str) else str(c) for c in cells]
    folded = [fold(c) for c in raw]
    present = set(folded)
    has_gsi_code, has_id, has_no = "共通ID" in present, "ID" in present, "NO" in present
    for layout in LAYOUTS:
        if layout.source is Source.GSI and not has_gsi_code:
            continue
        if layout.key.startswith("ods") and (has_gsi_code or not has_id):
            continue
        if layout.key.startswith("recommended") and (has_gsi_code or has_id or not has_no):
            continue
        columns, names = _locate(layout, folded, raw)
        if any(r not in columns for r in layout.required):
            continue
        hazards = [h for h in HAZARD_FIELDS if h in columns]
        if layout.source is not Source.GSI:
            evacuation_list = "also_emergency" in columns or not hazards
            if evacuation_list != (layout.dataset is Dataset.EVACUATION):
                continue
        elif layout.dataset is Dataset.EVACUATION and hazards:
            continue
        missing = [layout.fields[h][0] for h in HAZARD_FIELDS if h not in columns] if hazards else []
        # GSI's per-municipality download is the national layout without the municipality column.
        per_municipality = layout.source is Source.GSI and "municipality_name" not in columns
        return Header(layout, line, columns, names, len(raw), missing, per_municipality)
    return None


def describe(header: Header, container: str) -> str:
    """The format as reported: 'GSI 指定避難所 CSV', '… XLSX (市町村別ダウンロード)', …"""
    label = f"{header.layout.label} {container}"
    return f"{label} ({PER_MUNICIPALITY})" if header.per_municipality else label


def known_formats() -> str:
    """Every layout evac reads, for the message refusing a file it does not recognise."""
    return " / ".join(layout.label for layout in LAYOUTS) + " (CSV / XLSX / GeoJSON)"
