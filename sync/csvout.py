"""The `csv` connector: a full roster snapshot per shelter, in 安否情報収集様式 column order.

Files are written atomically (a temporary file in the same folder, fsync, rename, fsync of the
folder) into `EVAC_SYNC_DIR`, for a transfer into LGWAN; a reader never sees half a file.
Only shelters whose roster changed since the last snapshot (per the outbox) are rewritten.

CP932 cannot hold every character a name may contain (𠮷, emoji, some 異体字). Known Unicode ⇔
CP932 mapping differences are folded first (〜 → ～, − → －, …), then NFKC is tried, and what is
still left becomes 〓 (げた記号, the customary mark for a character that cannot be printed), counted
in the log by shelter and person id. UTF-8 output holds everything as is.

The files are opened in spreadsheets on the LGWAN side, so no cell may run as a formula
(`evac.common.csvfile.spreadsheet_safe`, after the CP932 folding, which can turn a character into
an ASCII sign): a cell starting with =, +, -, @, a tab or a carriage return is neutralised. A
telephone number or a lone dash (+81-774-95-1900, -) gets its leading sign in full width
(＋81-774-95-1900, －), which every spreadsheet shows as text and a reader as the same number,
with no apostrophe showing; anything else formula-like is prefixed with an apostrophe, as in
HQ's exports.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evac.common.csvfile import spreadsheet_safe
from evac.extensions import db
from evac.hq import anpi
from evac.incidents.models import Incident, IncidentKind
from evac.people.models import Household, Person
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import Stay
from sync.wire import EventLike

log = logging.getLogger("sync.csv")

# The form's columns and rows come from evac, so the CSV connector and HQ's export agree.
COLUMNS = anpi.COLUMNS
cp932_safe = anpi.cp932_safe
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def file_name(shelter: Shelter, town_code: str) -> str:
    """A stable, filesystem-safe name per shelter."""
    code = _SAFE_NAME.sub("_", shelter.code).strip("_") or str(shelter.id)
    return f"anpi_{town_code or 'town'}_{code}.csv"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o640)  # personal data: not world-readable
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    # The rename itself is durable only once the directory entry is.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Snapshot:
    """What one shelter's file held when written (ids only)."""

    shelter_id: int
    path: Path
    rows: int
    replaced: int


def render(shelter: Shelter, encoding: str) -> tuple[bytes, int, int]:
    """The shelter's current roster as CSV bytes; returns (bytes, rows, characters replaced)."""
    rows = db.session.execute(
        select(Stay, Person, Household)
        .join(Person, Person.id == Stay.person_id)
        .outerjoin(Household, Household.id == Person.household_id)
        .where(Stay.shelter_id == shelter.id, Stay.checked_out_at.is_(None),
               # A drill's roster never goes into the folder bound for LGWAN.
               Stay.incident_id.in_(select(Incident.id).where(Incident.kind == IncidentKind.DISASTER)))
        .order_by(Stay.household_id, Person.id)
    ).all()
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    replaced, replaced_for = 0, []
    for stay, person, household in rows:
        cells = anpi.row(stay, person, household, shelter)
        if encoding == "cp932":
            fixed = [cp932_safe(c) for c in cells]
            count = sum(n for _c, n in fixed)
            if count:
                replaced += count
                replaced_for.append(person.id)
            cells = [c for c, _n in fixed]
        writer.writerow([spreadsheet_safe(c) for c in cells])
    if replaced:
        log.info("characters replaced for cp932", extra={"shelter_id": shelter.id, "replaced": replaced,
                                                         "person_ids": replaced_for[:50]})
    return buffer.getvalue().encode(encoding), len(rows), replaced


def changed_shelters(events: Iterable[EventLike]) -> set[int]:
    """Shelters whose roster the events may have changed (a transfer changes two)."""
    shelters: set[int] = set()
    persons: set[int] = set()
    for event in events:
        if event.shelter_id is not None:
            shelters.add(event.shelter_id)
        payload: dict[str, Any] = event.payload or {}
        if payload.get("from_shelter_id"):
            shelters.add(int(payload["from_shelter_id"]))
        if event.type == "person.updated" and event.person_id is not None:
            persons.add(event.person_id)
    if persons:
        # A person's details changed: rewrite wherever they are registered now.
        shelters |= set(db.session.scalars(
            select(Stay.shelter_id).where(Stay.person_id.in_(persons), Stay.checked_out_at.is_(None))))
    return shelters


def write_snapshots(shelter_ids: Iterable[int], sync_dir: str, encoding: str, town_code: str) -> list[Snapshot]:
    """Rewrite the files of these shelters, each from one query (a consistent snapshot of its roster)."""
    written = []
    shelters = db.session.scalars(select(Shelter).where(Shelter.id.in_(list(shelter_ids))).order_by(Shelter.id))
    for shelter in shelters:
        data, rows, replaced = render(shelter, encoding)
        path = Path(sync_dir) / file_name(shelter, town_code)
        write_atomic(path, data)
        written.append(Snapshot(shelter.id, path, rows, replaced))
    return written


def open_shelter_ids() -> set[int]:
    """Every open or full shelter: the first snapshot covers them even before any event (none in a drill)."""
    drill = db.session.scalar(select(Incident.id).where(Incident.is_open.is_(True), Incident.kind == IncidentKind.DRILL))
    if drill is not None:
        return set()
    return set(db.session.scalars(select(Shelter.id).where(Shelter.status != ShelterStatus.CLOSED)))
