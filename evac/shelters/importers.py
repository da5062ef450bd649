"""Importing shelter lists as GSI and towns publish them: one shelter per site, every row kept.

The file is read and validated first, without the database (`evac.shelters.reading`: CSV in
UTF-8, UTF-8 with BOM or CP932, XLSX, GeoJSON; the layouts of `evac.shelters.layouts`; the
repairs of `evac.shelters.repairs`). A file with a bad row is refused whole, unless the operator
asks to skip bad rows. Then `_store` writes everything in one transaction:

- every row is kept as a `ShelterListing`, keyed by its list and its (municipality, ID), so one
  town's ID 1 never overwrites another town's, and the GSI and ODS rows of one site never take
  turns at being "the" row;
- a row new to evac joins an existing shelter when it is the same site (the same 共通ID as a
  shelter's code, or the rules of `evac.shelters.twins`), and otherwise creates one;
- a shelter's designations and hazards are the union of its listings', its `kind` the primary
  designation, its `source` the lists it is in; its name, address, coordinates and the rest come
  from its first-ranked listing that has them (a 指定避難所 row before a 指定緊急避難場所 row, the
  town's own list before GSI's), and are written only when that listing changed or took over —
  so an HQ officer's capacity, an open status and a kana survive a re-import of an unchanged
  list, and importing the lists in either order gives the same shelters;
- rows of the list's municipalities that the file no longer has are reported (and marked
  `missing_since`), never deleted; an open one is flagged.

Bulk statements and chunked lookups throughout, so all of Japan (82,557 指定避難所 and 115,402
指定緊急避難場所 rows, twins merged) imports in well under a minute on SQLite and PostgreSQL, and
an unchanged re-import is recognised from a digest per row (bench/import_shelters.py).
"""

from __future__ import annotations

import enum
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ARRAY, JSON, BigInteger, any_, bindparam, select, text, update

from evac.common.db import current_unit, now_utc, writing
from evac.common.importing import EntryKind, ImportRefused, ImportReport, ReportEntry
from evac.extensions import db
from evac.shelters import repairs
from evac.shelters.layouts import LAYOUTS, Dataset, Source
from evac.shelters.models import (
    Hazard,
    Shelter,
    ShelterListing,
    ShelterStatus,
    ordered_designations,
    primary_kind,
)
from evac.shelters.reading import ListingRow, ParsedFile, read_shelter_file
from evac.shelters.twins import FAR_TWIN_DISTANCE_M, MAX_TWIN_DISTANCE_M, distance_m

_MODELS = {Shelter.__tablename__: Shelter, ShelterListing.__tablename__: ShelterListing}
log = logging.getLogger("evac.shelters.importers")

# Kept for callers of the earlier importer.
municipality_check_digit = repairs.check_digit
municipality_code = repairs.with_check_digit
KNOWN_FORMATS = tuple(layout.label for layout in LAYOUTS)
__all__ = ["KNOWN_FORMATS", "ImportRefused", "import_shelters_bytes", "import_shelters_file"]

# The shelter columns a listing can give, and what a new shelter has for the rest.
SHELTER_FIELDS = ("name", "name_kana", "name_en", "address", "lat", "lon", "municipality_code", "municipality_name",
                  "note", "capacity")
# Keeps each IN list well inside SQLite's and PostgreSQL's bound-parameter limits.
LOOKUP_CHUNK = 1000
_HAZARD_ORDER = {h.value: i for i, h in enumerate(Hazard)}
_STATUS_WORDS = {ShelterStatus.OPEN: "開設中 open", ShelterStatus.FULL: "満員 full",
                 ShelterStatus.CLOSED: "閉鎖中 closed"}


def import_shelters_file(path: Path | str, *, skip_invalid: bool = False) -> ImportReport:
    """Import a shelter file (any layout of `evac.shelters.layouts`); commit, or raise `ImportRefused`."""
    path = Path(path)
    return import_shelters_bytes(path.read_bytes(), path.name, skip_invalid=skip_invalid)


def import_shelters_bytes(data: bytes, name: str, *, skip_invalid: bool = False) -> ImportReport:
    """Import shelters from a file's bytes; `name` only labels the messages.

    Everything is validated first; then `_store` writes in one transaction, committed here once.
    A refused file (`ImportRefused`, listing every bad line) leaves the database as it was.
    """
    parsed = read_shelter_file(data, name, skip_invalid=skip_invalid)
    return _store_parsed(parsed)


@writing
def _store_parsed(parsed: Any) -> ImportReport:
    """Store a checked file in one writing unit (all or nothing)."""
    return _store(parsed)


# --- storing ---------------------------------------------------------------------------------


@dataclass
class _Listing:
    """A listing as the store step works on it: stored, updated or new."""

    id: int | None
    shelter_id: int | None
    source: str
    dataset: str
    designations: list[str]
    hazards: list[str]
    fields: dict[str, Any]
    order: int  # ranks listings of equal standing: the older first
    changed: set[str] = field(default_factory=set)  # fields this import changed (all, when new)

    def rank(self) -> tuple[int, int, int]:
        """Whose fields a shelter shows: a 指定避難所 row first, then the town's own list, then the oldest."""
        return (0 if self.dataset == Dataset.EVACUATION.value else 1,
                0 if self.source == Source.ODS.value else 1, self.order)


def _store(parsed: ParsedFile) -> ImportReport:
    """Write the validated rows: listings, new shelters, merged twins, updated shelters; report it all.

    The only function of an import that writes; its caller commits (one transaction).
    """
    report = ImportReport(parsed.format, parsed.encoding, refused=parsed.refused,
                          warnings=list(parsed.warnings), entries=list(parsed.entries))
    now = now_utc()
    source, dataset = parsed.source.value, parsed.dataset.value
    rows = parsed.rows
    stored = _stored_listings(source, dataset, rows)

    new_rows: list[ListingRow] = []
    differing: list[ListingRow] = []
    for row in rows:
        current = stored.get((row.municipality_code, row.local_id))
        if current is None:
            new_rows.append(row)
        elif current["digest"] == row.digest:
            report.unchanged += 1  # the row reads as last time: nothing of it need be looked at
        else:
            differing.append(row)
    # A row that reads differently may still change nothing: a column the file no longer has,
    # an empty capacity, keep what the listing had ("not published" is not "cleared").
    changed: list[tuple[ListingRow, dict[str, Any], _Listing]] = []
    digest_only: list[dict[str, Any]] = []
    details = _listing_details([stored[(r.municipality_code, r.local_id)]["id"] for r in differing])
    for row in differing:
        current = stored[(row.municipality_code, row.local_id)]
        current.update(details[current["id"]])
        merged_fields = {**current["fields"], **row.fields}
        listing = _Listing(current["id"], current["shelter_id"], source, dataset, row.designations,
                           row.hazards, merged_fields, current["id"])
        listing.changed = {k for k in merged_fields if merged_fields[k] != current["fields"].get(k)}
        if (listing.changed or row.designations != current["designations"]
                or row.hazards != current["hazards"] or row.site_key != current["site_key"]):
            changed.append((row, current, listing))
        else:
            report.unchanged += 1
            digest_only.append({"id": current["id"], "digest": row.digest})
    _bulk_update(ShelterListing.__table__, digest_only)

    # Shelters a new row may join, by code and by site, and the shelters of changed listings.
    by_code = _shelters_by_code({r.code for r in new_rows})
    by_gsi_id = _shelters_by_gsi_id([r.local_id for r in new_rows if parsed.source is Source.ODS])
    by_site = _listings_by_site([r.site_key for r in new_rows if r.site_key])
    touched = set(by_code.values()) | set(by_gsi_id.values())
    touched |= {sid for hits in by_site.values() for sid, *_ in hits}
    touched |= {current["shelter_id"] for _row, current, _l in changed}
    listings_of = _listings_of(touched)
    shelters = _shelters(touched)

    plan = _Plan(source, dataset, listings_of, shelters, report, parsed, taken_codes=set(by_code))
    site_counts = Counter(r.site_key for r in rows if r.site_key)
    for row in new_rows:
        plan.place(row, by_code, by_gsi_id, by_site, site_counts)

    _insert_new(plan, now)
    _write_changed(changed, listings_of, now)
    _update_shelters(plan, changed, listings_of, shelters, report, now)
    _mark_missing(parsed, stored, report, now)
    _report_unpaired_flags(parsed, plan, stored, report)
    return report


@dataclass
class _Plan:
    """Where each new row goes: onto an existing shelter (takeover, twin) or into a new one."""

    source: str
    dataset: str
    listings_of: dict[int, list[_Listing]]
    shelters: dict[int, dict[str, Any]]
    report: ImportReport
    parsed: ParsedFile
    taken_codes: set[str] = field(default_factory=set)  # codes of the file's rows shelters already have
    joining: list[tuple[ListingRow, int]] = field(default_factory=list)  # (row, shelter id)
    creating: list[ListingRow] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)  # shelters given a listing of this list now

    def has_list(self, shelter_id: int) -> bool:
        own_list = (self.source, self.dataset)
        return shelter_id in self.claimed or any(
            (lst.source, lst.dataset) == own_list for lst in self.listings_of.get(shelter_id, []))

    def place(self, row: ListingRow, by_code: dict[str, int], by_gsi_id: dict[str, int],
              by_site: dict[str, list[tuple[int, str, str]]], site_counts: Counter[str]) -> None:
        """Decide for one new row, in file order (the first row to claim a shelter keeps it).

        The same code first: GSI's 共通ID as a shelter's code (a shelter made by hand, or by an
        earlier version of evac, is taken over), or a town's row whose ID is a 共通ID evac holds.
        Then a twin by name and address (`evac.shelters.twins`). Otherwise a new shelter.
        """
        sid = by_code.get(row.code)
        if sid is None and self.source == Source.ODS.value:
            sid = by_gsi_id.get(row.local_id)
        if sid is not None and not self.has_list(sid):
            had_listings = bool(self.listings_of.get(sid))
            self._join(row, sid, takeover=not had_listings)
            if had_listings:
                self._entry(EntryKind.MERGED, row, sid, _("同じコードの避難所に、この一覧の指定を加えました"))
            return
        if row.site_key and row.site_key in by_site:
            if self._twin(row, by_site[row.site_key], site_counts[row.site_key]):
                return
        self.creating.append(row)

    def _twin(self, row: ListingRow, hits: list[tuple[int, str, str]], rows_with_key: int) -> bool:
        candidates = sorted({sid for sid, src, ds in hits if (src, ds) != (self.source, self.dataset)})
        if not candidates:
            return False
        if rows_with_key > 1:
            self._entry(EntryKind.NOT_MERGED, row, candidates[0], _(
                "このファイルに同じ名称・住所の行が %(count)d 行あるため、どれを統合するか決められません",
                count=rows_with_key))
            return False
        if len(candidates) > 1:
            codes = ", ".join(self.shelters[s]["code"] for s in candidates)
            self._entry(EntryKind.NOT_MERGED, row, candidates[0], _(
                "同じ名称・住所の避難所が複数あるため統合しません: %(codes)s", codes=codes))
            return False
        sid = candidates[0]
        if self.has_list(sid):
            self._entry(EntryKind.NOT_MERGED, row, sid,
                        _("相手の避難所にはこの一覧の行がすでにあるため統合しません"))
            return False
        shelter = self.shelters[sid]
        distance = None
        if shelter["lat"] is not None and shelter["lon"] is not None:
            distance = distance_m(row.fields["lat"], row.fields["lon"], shelter["lat"], shelter["lon"])
            if distance > MAX_TWIN_DISTANCE_M:
                self._entry(EntryKind.NOT_MERGED, row, sid, _(
                    "名称・住所は同じですが座標が %(metres)d m 離れているため統合しません",
                    metres=round(distance)))
                return False
        self._join(row, sid, takeover=False)
        message = _("同じ名称・住所の避難所と同じ場所として統合しました")
        if distance is not None:
            message += f" ({round(distance)} m)"
            if distance > FAR_TWIN_DISTANCE_M:
                message += " " + _("座標が離れています。確認してください")
        self._entry(EntryKind.MERGED, row, sid, message)
        return True

    def _join(self, row: ListingRow, sid: int, *, takeover: bool) -> None:
        self.joining.append((row, sid))
        self.claimed.add(sid)
        if takeover:
            self.report.updated += 1
        else:
            self.report.merged += 1

    def _entry(self, kind: EntryKind, row: ListingRow, sid: int, message: str) -> None:
        shelter = self.shelters[sid]
        self.report.entries.append(ReportEntry(
            kind, row.line, _id_column(self.parsed), row.local_id, shelter["code"],
            f"{_names(row.fields['name'], shelter['name'])}: {message}"))


def _names(ours: str, theirs: str) -> str:
    return ours if ours == theirs else f"{ours} ↔ {theirs}"


def _id_column(parsed: ParsedFile) -> str:
    return "共通ID" if parsed.source is Source.GSI else ("NO" if "推奨" in parsed.format else "ID")


def _stored_listings(source: str, dataset: str,
                     rows: Sequence[ListingRow]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored listings of this list for the file's rows, by (municipality, ID)."""
    columns = (ShelterListing.id, ShelterListing.shelter_id, ShelterListing.municipality_code,
               ShelterListing.local_id, ShelterListing.digest, ShelterListing.missing_since)
    wanted = {(r.municipality_code, r.local_id) for r in rows}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for chunk in _chunks(sorted({r.local_id for r in rows})):
        query = select(*columns).where(_among(ShelterListing.local_id, chunk),
                                       ShelterListing.source == source, ShelterListing.dataset == dataset)
        for lid, sid, municipality, local_id, digest, since in db.session.execute(query):
            if (municipality, local_id) in wanted:
                found[(municipality, local_id)] = {"id": lid, "shelter_id": sid, "digest": digest,
                                                   "missing_since": since}
    return found


def _listing_details(ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What the listings say (their JSON), for the few rows whose digest differs."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids)):
        query = select(ShelterListing.id, ShelterListing.designations, ShelterListing.hazards,
                       ShelterListing.fields, ShelterListing.site_key).where(_among(ShelterListing.id, chunk))
        for lid, designations, hazards, fields, key in db.session.execute(query):
            found[lid] = {"designations": designations, "hazards": hazards, "fields": fields or {},
                          "site_key": key}
    return found


def _shelters_by_code(codes: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(codes)):
        found.update((code, sid) for code, sid in db.session.execute(
            select(Shelter.code, Shelter.id).where(_among(Shelter.code, chunk))))
    return found


def _shelters_by_gsi_id(local_ids: Iterable[str]) -> dict[str, int]:
    """Shelters holding a GSI row with one of these 共通IDs (a town's list may use them as its IDs)."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(local_ids))):
        query = select(ShelterListing.local_id, ShelterListing.shelter_id).where(
            _among(ShelterListing.local_id, chunk), ShelterListing.source == Source.GSI.value)
        found.update((local_id, sid) for local_id, sid in db.session.execute(query))
    return found


def _listings_by_site(keys: Iterable[str | None]) -> dict[str, list[tuple[int, str, str]]]:
    found: dict[str, list[tuple[int, str, str]]] = {}
    for chunk in _chunks(sorted({k for k in keys if k})):
        query = select(ShelterListing.site_key, ShelterListing.shelter_id, ShelterListing.source,
                       ShelterListing.dataset).where(_among(ShelterListing.site_key, chunk))
        for key, sid, src, ds in db.session.execute(query):
            if key is not None:
                found.setdefault(key, []).append((sid, src, ds))
    return found


def _listings_of(shelter_ids: Iterable[int]) -> dict[int, list[_Listing]]:
    found: dict[int, list[_Listing]] = {}
    for chunk in _chunks(sorted(shelter_ids)):
        query = select(ShelterListing.id, ShelterListing.shelter_id, ShelterListing.source,
                       ShelterListing.dataset, ShelterListing.designations, ShelterListing.hazards,
                       ShelterListing.fields).where(
            _among(ShelterListing.shelter_id, chunk))
        for r in db.session.execute(query):
            found.setdefault(r.shelter_id, []).append(
                _Listing(r.id, r.shelter_id, r.source, r.dataset, list(r.designations), list(r.hazards),
                         dict(r.fields or {}), r.id))
    return found


def _shelters(shelter_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    names = ("id", "code", "status", "kind", "source", "designations", "hazards", *SHELTER_FIELDS)
    columns = [getattr(Shelter, n) for n in names]
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(shelter_ids)):
        for r in db.session.execute(select(*columns).where(_among(Shelter.id, chunk))):
            found[r[0]] = dict(zip(names, r, strict=True))
    return found


def _among(column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`, one parameter instead of a thousand.

    Measured on an import of all Japan: a thousand-value IN list is planned anew each time and
    cost 15–75 ms a lookup in PostgreSQL, the array 5 ms; SQLite has no arrays and is quick with IN.
    """
    if _postgres():
        item = column.type if not isinstance(column.type, BigInteger) else BigInteger()
        return column == any_(bindparam(None, list(values), type_=ARRAY(item)))
    return column.in_(values)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start:start + LOOKUP_CHUNK]


def _unique_codes(rows: list[ListingRow], taken: Iterable[str]) -> list[str]:
    """Codes for the new shelters: the row's own, unless a shelter already has it (then -2, -3 …).

    `taken` holds the codes among the rows' own that shelters already have (looked up before).
    """
    result, used = [], set(taken)
    for row in rows:
        code, n = row.code, 1
        while code in used or (n > 1 and db.session.scalar(select(Shelter.id).where(Shelter.code == code))):
            n += 1
            code = f"{row.code[:36]}-{n}"
        used.add(code)
        result.append(code)
    return result


def _source_label(sources: Iterable[str]) -> str:
    return "+".join(sorted(set(sources)))


def _insert_new(plan: _Plan, now: Any) -> None:
    """New shelters, then every new listing, in bulk."""
    creating = plan.creating
    if creating:
        codes = _unique_codes(creating, plan.taken_codes)
        ids = _new_shelter_ids(len(creating))
        values = []
        for row, code, sid in zip(creating, codes, ids, strict=True):
            values.append({**({"id": sid} if sid is not None else {}), **dict.fromkeys(SHELTER_FIELDS),
                           **row.fields, "code": code, "kind": primary_kind(row.designations),
                           "designations": row.designations, "hazards": row.hazards, "source": plan.source,
                           "status": ShelterStatus.CLOSED, "created_at": now, "updated_at": now})
        _bulk_insert(Shelter.__table__, values)
        _refresh_statistics(Shelter, len(values))
        if ids[0] is None:  # SQLite: the ids are read back by code (unique), a thousand at a time
            by_code = _shelters_by_code(codes)
            ids = [by_code[code] for code in codes]
        plan.joining.extend(zip(creating, [int(i) for i in ids if i is not None], strict=True))
    if plan.joining:
        _bulk_insert(ShelterListing.__table__, [
            {"shelter_id": sid, "source": plan.source, "dataset": plan.dataset,
             "municipality_code": row.municipality_code, "local_id": row.local_id,
             "designations": row.designations, "hazards": row.hazards, "fields": row.fields,
             "site_key": row.site_key, "digest": row.digest, "missing_since": None, "created_at": now,
             "updated_at": now}
            for row, sid in plan.joining])
    plan.report.added += len(creating)
    _refresh_statistics(ShelterListing, len(plan.joining))


def _bulk_update(table: Any, rows: list[dict[str, Any]]) -> None:
    """Update many rows by id: ORM bulk UPDATE, or on PostgreSQL COPY into a scratch table and one UPDATE.

    SQLAlchemy groups the rows by key set, one executemany each; psycopg sends those as one
    UPDATE per row, 13 s for the 57,869 shelters a national 指定緊急避難場所 list merges into.
    Through a scratch table (dropped at commit) it is one statement per key set.
    """
    if not rows:
        return
    if not _postgres():
        db.session.execute(update(_MODELS[table.name]), rows)
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for n, (keys, group) in enumerate(groups.items()):
        scratch = f"_evac_update_{table.name}_{n}"
        columns = ", ".join(keys)
        db.session.execute(text(f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "
                                f"SELECT {columns} FROM {table.name} WITH NO DATA"))
        _copy(scratch, list(keys), {c.name for c in table.c if isinstance(c.type, JSON)}, group)
        assignments = ", ".join(f"{k} = {scratch}.{k}" for k in keys if k != "id")
        db.session.execute(text(f"UPDATE {table.name} SET {assignments} FROM {scratch} "
                                f"WHERE {table.name}.id = {scratch}.id"))
        db.session.execute(text(f"DROP TABLE {scratch}"))


def _copy(name: str, columns: list[str], as_json: set[str], rows: list[dict[str, Any]]) -> None:
    raw = db.session.connection().connection.driver_connection
    assert raw is not None  # a checked-out connection always has its driver connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c], ensure_ascii=False) if c in as_json
                            else row[c].value if isinstance(row[c], enum.Enum) else row[c] for c in columns])


def _postgres() -> bool:
    return current_unit().postgres


def _new_shelter_ids(count: int) -> list[int | None]:
    """On PostgreSQL, `count` ids taken from the shelter sequence in one query; else None each.

    Knowing the ids before inserting lets the new listings be written without reading the
    shelters back; SQLite has no sequence, and reads them back by code.
    """
    if not _postgres():
        return [None] * count
    query = text("SELECT nextval(pg_get_serial_sequence('shelter', 'id')) FROM generate_series(1, :n)")
    return list(db.session.scalars(query, {"n": count}))


def _bulk_insert(table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL, executemany on SQLite.

    The values go through each column type's own bind processor (JSON, the UTC timestamps, the
    enums), but not through SQLAlchemy's per-row execution machinery, which was half the time of
    a national list: on PostgreSQL psycopg also sends executemany as one INSERT per row, and COPY
    took a quarter of the time; on SQLite the driver's executemany took half.
    """
    if not rows:
        return
    columns = list(rows[0])
    if _postgres():
        _copy(table.name, columns, {c.name for c in table.c if isinstance(c.type, JSON)}, rows)
        return
    dialect = db.engine.dialect
    processors = [(c, table.c[c].type.bind_processor(dialect)) for c in columns]
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    db.session.connection().exec_driver_sql(statement, [
        tuple(process(row[c]) if process else row[c] for c, process in processors) for row in rows])


def _write_changed(changed: list[tuple[ListingRow, dict[str, Any], _Listing]],
                   listings_of: dict[int, list[_Listing]], now: Any) -> None:
    """Store the changed listings, and put their new state into the shelters' listing sets."""
    if not changed:
        return
    _bulk_update(ShelterListing.__table__, [
        {"id": listing.id, "designations": row.designations, "hazards": row.hazards, "fields": listing.fields,
         "site_key": row.site_key, "digest": row.digest, "updated_at": now}
        for row, _current, listing in changed])
    for _row, current, listing in changed:
        siblings = listings_of.setdefault(current["shelter_id"], [])
        siblings[:] = [s for s in siblings if s.id != listing.id]
        siblings.append(listing)


def _update_shelters(plan: _Plan, changed: list[tuple[ListingRow, dict[str, Any], _Listing]],
                     listings_of: dict[int, list[_Listing]], shelters: dict[int, dict[str, Any]],
                     report: ImportReport, now: Any) -> None:
    """Recompute the existing shelters a new or changed listing belongs to; write what differs."""
    changed_ids = {listing.id for _row, _current, listing in changed}
    before = {sid: [lst for lst in lists if lst.id not in changed_ids] for sid, lists in listings_of.items()}
    for _row, current, _listing in changed:
        before.setdefault(current["shelter_id"], []).append(_Listing(
            current["id"], current["shelter_id"], plan.source, plan.dataset, current["designations"],
            current["hazards"], current["fields"], current["id"]))
    order = 1 << 62
    for row, sid in plan.joining:
        if sid in shelters:  # an existing shelter gains a listing (new shelters were inserted whole)
            listing = _Listing(None, sid, plan.source, plan.dataset, row.designations, row.hazards,
                               row.fields, order, set(row.fields))
            order += 1
            listings_of.setdefault(sid, []).append(listing)
    affected = {sid for _r, sid in plan.joining if sid in shelters}
    affected |= {current["shelter_id"] for _row, current, _l in changed}
    updates = []
    for sid in sorted(affected):
        shelter, after = shelters[sid], listings_of.get(sid, [])
        values = _shelter_values(shelter, before.get(sid, []), after)
        if values:
            updates.append({"id": sid, **values, "updated_at": now})
    report.updated += len(changed)
    _bulk_update(Shelter.__table__, updates)


def _owners(listings: list[_Listing]) -> dict[str, _Listing]:
    """For each shelter field, the first-ranked listing that gives it."""
    owners: dict[str, _Listing] = {}
    for listing in sorted(listings, key=_Listing.rank):
        for name in listing.fields:
            owners.setdefault(name, listing)
    return owners


def _shelter_values(shelter: dict[str, Any], before: list[_Listing], after: list[_Listing]) -> dict[str, Any]:
    """The columns of one shelter that its listings now say otherwise."""
    values: dict[str, Any] = {}
    designations = ordered_designations(d for lst in after for d in lst.designations)
    hazards = sorted({h for lst in after for h in lst.hazards}, key=_HAZARD_ORDER.__getitem__)
    derived = {"designations": designations, "hazards": hazards, "kind": primary_kind(designations),
               "source": _source_label(lst.source for lst in after)}
    for name, value in derived.items():
        if value != shelter[name]:
            values[name] = value
    owners_before, owners_after = _owners(before), _owners(after)
    for name in SHELTER_FIELDS:
        owner = owners_after.get(name)
        if owner is None:
            continue
        previous = owners_before.get(name)
        took_over = previous is None or (previous.id, previous.order) != (owner.id, owner.order)
        if (took_over or name in owner.changed) and owner.fields[name] != shelter[name]:
            values[name] = owner.fields[name]
    return values


def _refresh_statistics(model: Any, inserted: int) -> None:
    """After a bulk load on PostgreSQL, ANALYZE the table within the same transaction.

    psycopg prepares a statement after a few executions, and PostgreSQL may then keep a generic
    plan made while the table was empty: a sequential scan per 1,000-code lookup, which turned an
    idempotent re-import of 82,557 shelters from seconds into minutes. ANALYZE gives the planner
    real numbers and invalidates cached plans in every session.
    """
    if inserted >= LOOKUP_CHUNK and current_unit().postgres:
        db.session.execute(text(f"ANALYZE {model.__tablename__}"))


def _mark_missing(parsed: ParsedFile, stored: dict[tuple[str, str], dict[str, Any]], report: ImportReport,
                  now: Any) -> None:
    """Report the listings of this list and these municipalities that the file no longer has.

    They are never deleted (a list may be published incomplete, and a missing shelter may be
    open): marked `missing_since`, reported, and an open or full one is also a warning.
    """
    present = {(r.municipality_code, r.local_id) for r in parsed.rows} | parsed.refused_keys
    missing: list[tuple[int, int, str, Any]] = []
    for chunk in _chunks(sorted(parsed.municipalities)):
        query = select(ShelterListing.id, ShelterListing.shelter_id, ShelterListing.municipality_code,
                       ShelterListing.local_id, ShelterListing.missing_since).where(
            ShelterListing.source == parsed.source.value, ShelterListing.dataset == parsed.dataset.value,
            _among(ShelterListing.municipality_code, chunk))
        for lid, sid, municipality, local_id, since in db.session.execute(query):
            if (municipality, local_id) not in present:
                missing.append((lid, sid, local_id, since))
    back = [s["id"] for s in stored.values() if s["missing_since"] is not None]
    _bulk_update(ShelterListing.__table__, [{"id": lid, "missing_since": None} for lid in back])
    newly = [lid for lid, _sid, _local, since in missing if since is None]
    _bulk_update(ShelterListing.__table__, [{"id": lid, "missing_since": now} for lid in newly])
    if not missing:
        return
    shelters = _shelters({sid for _lid, sid, _local, _since in missing})
    open_ones = []
    for _lid, sid, local_id, since in sorted(missing, key=lambda m: m[2]):
        shelter = shelters[sid]
        status = ShelterStatus(shelter["status"])
        message = _(
            "%(name)s (避難所コード %(code)s, %(status)s): このファイルにありません。削除はしていません",
            code=shelter["code"], name=shelter["name"], status=_STATUS_WORDS[status])
        if since is not None:
            message += " " + _("(前回の取り込みから)")
        if status is not ShelterStatus.CLOSED:
            message = "⚠ " + message + " " + _("開設中の避難所です。本部で確認してください")
            open_ones.append(shelter["code"])
            log.warning("open shelter missing from an imported list", extra={
                "shelter_id": sid, "source": parsed.source.value, "dataset": parsed.dataset.value})
        report.entries.append(ReportEntry(EntryKind.MISSING, None, _id_column(parsed), local_id, "", message))
    if open_ones:
        report.warnings.append(_("開設中の避難所 %(count)d 件がこのファイルにありません: %(codes)s",
                                 count=len(open_ones), codes=", ".join(open_ones[:10])))


def _report_unpaired_flags(parsed: ParsedFile, plan: _Plan, stored: dict[tuple[str, str], dict[str, Any]],
                           report: ImportReport) -> None:
    """GSI rows flagged 住所同一 that have no twin, once the other GSI list of their town is in evac.

    evac does not merge on the flag alone (it is often on the wrong row); the town can check these.
    """
    flagged = [r for r in parsed.rows if r.same_address]
    if parsed.source is not Source.GSI or not flagged:
        return
    other = (Dataset.EMERGENCY if parsed.dataset is Dataset.EVACUATION else Dataset.EVACUATION).value
    shelter_of = {id(row): sid for row, sid in plan.joining}
    for row in flagged:
        key = (row.municipality_code, row.local_id)
        if key in stored:
            shelter_of[id(row)] = stored[key]["shelter_id"]
    with_other: set[int] = set()
    towns_with_other: set[str] = set()
    for chunk in _chunks(sorted(set(shelter_of.values()))):
        with_other.update(db.session.scalars(select(ShelterListing.shelter_id).where(
            _among(ShelterListing.shelter_id, chunk), ShelterListing.dataset == other)))
    for chunk in _chunks(sorted({r.municipality_code for r in flagged if r.municipality_code})):
        towns_with_other.update(db.session.scalars(select(ShelterListing.municipality_code).distinct().where(
            _among(ShelterListing.municipality_code, chunk), ShelterListing.source == Source.GSI.value,
            ShelterListing.dataset == other)))
    explained = {e.line for e in report.entries if e.kind is EntryKind.NOT_MERGED}
    for row in flagged:
        if (row.municipality_code in towns_with_other and shelter_of.get(id(row)) not in with_other
                and row.line not in explained):
            report.entries.append(ReportEntry(
                EntryKind.NOT_MERGED, row.line, _id_column(parsed), row.local_id, "",
                _("%(name)s: 住所同一の印がありますが、"
                  "同じ名称・住所の相手が見つからないため別の避難所のままです", name=row.fields["name"])))
