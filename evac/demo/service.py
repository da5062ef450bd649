"""Building the demo town: Seika's real shelters, synthetic capacities, a synthetic population, accounts.

Everything is idempotent for a seed: a second run finds the schema at head, the shelters and
residents unchanged, the capacities already set and the accounts already there (their passwords
are left alone). The shelters are real (GSI open data); their capacities are NOT: GSI publishes
none, so the demo invents plausible ones. The residents are entirely synthetic.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import select, update

from evac.accounts import service as accounts
from evac.accounts.models import Role, StaffAccount, staff_shelter
from evac.audit import service as audit
from evac.common.db import read_only, writing
from evac.common.importing import ImportReport
from evac.demo.generator import DemoHousehold, household_number, iter_town, write_resident_csv
from evac.extensions import db
from evac.people.importers import import_residents_file
from evac.people.models import Household, Person, PersonSource
from evac.shelters.importers import import_shelters_file
from evac.shelters.models import Shelter, ShelterKind

TOWN_CODE = "263664"
GSI_FILES = ("evacuation_seika_263664.csv", "emergency_seika_263664.csv")
VENDORED_GSI_DIR = Path(__file__).parent / "data"
LOGIN_URL = "http://127.0.0.1:8000/login"
# Demo credentials, printed by `evac demo`: for a local demonstration only, never for real data.
DEMO_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("admin", Role.ADMIN, "admin-demo-2026"),
    ("hq", Role.HQ, "hq-demo-2026"),
    ("staff1", Role.STAFF, "staff1-demo-2026"),
)
STAFF_SHELTERS = 2  # staff1 works at the first two evacuation shelters
CHUNK = 500

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as printed at the end of `evac demo`."""

    username: str
    password: str
    role: Role
    shelters: tuple[str, ...]
    created: bool


@dataclass
class DemoResult:
    """What `build_demo_town` did."""

    upgraded: bool
    gsi_dir: Path
    shelter_reports: list[ImportReport]
    capacities_set: int
    households: int
    resident_report: ImportReport
    csv_path: Path
    accounts: list[DemoAccount]
    seconds: dict[str, float] = field(default_factory=dict)


def find_gsi_dir() -> Path:
    """Where Seika's GSI files are: `EVAC_GSI_DIR`, else ../shared/data/gsi, else the vendored copy."""
    repo = Path(__file__).resolve().parents[2]
    candidates = [Path(p) for p in [os.environ.get("EVAC_GSI_DIR")] if p]
    candidates += [repo.parent / "shared" / "data" / "gsi", VENDORED_GSI_DIR]
    for directory in candidates:
        if all((directory / name).is_file() for name in GSI_FILES):
            return directory
    return VENDORED_GSI_DIR


def ensure_schema() -> bool:
    """Run the migrations if the database is not at head; True if it had to."""
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return False
    upgrade()
    return True


def synthetic_capacity(shelter: Shelter, seed: int) -> int | None:
    """A plausible, invented capacity for a shelter, fixed by seed and shelter code.

    School gyms 200–600, school buildings 150–400, community and welfare centres 50–150;
    for 指定緊急避難場所 (open ground) school grounds 800–2,500 and parks 2,000–5,000 or unknown.
    """
    rng = random.Random(f"{seed}:{shelter.code}")
    name = shelter.name
    if shelter.kind is ShelterKind.EMERGENCY:
        if "公園" in name or "運動場" in name:
            return None if rng.random() < 0.5 else rng.randrange(2000, 5001, 100)
        if "学校" in name:
            return rng.randrange(800, 2501, 50)
        return rng.randrange(50, 151, 10)
    if "体育館" in name:
        return rng.randrange(200, 601, 10)
    if any(word in name for word in ("センター", "苑", "公民館", "会館", "集会所")):
        return rng.randrange(50, 151, 5)
    if "学校" in name:
        return rng.randrange(150, 401, 10)
    return rng.randrange(50, 151, 5)


def load_shelters(directory: Path) -> list[ImportReport]:
    """Import Seika's 指定避難所 and 指定緊急避難場所 through the GSI importer."""
    return [import_shelters_file(directory / name) for name in GSI_FILES]


@writing
def assign_capacities(seed: int) -> int:
    """Give Seika's shelters without a capacity a synthetic one; return how many were set.

    A capacity already set (by HQ, or by an earlier run) is kept.
    """
    shelters = db.session.scalars(
        select(Shelter).where(Shelter.municipality_code == TOWN_CODE, Shelter.capacity.is_(None))
        .order_by(Shelter.id)
    ).all()
    changed = 0
    for shelter in shelters:
        capacity = synthetic_capacity(shelter, seed)
        if capacity is not None:
            shelter.capacity = capacity
            changed += 1
    if changed:
        audit.record("demo.capacities", subject_type="shelter", detail={"seed": seed, "set": changed})
    return changed


@writing
def mark_demo_persons(numbers: Iterable[str]) -> None:
    """Mark the imported demo residents as synthetic (source `demo`), in chunked bulk updates."""
    iterator = iter(numbers)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        households = select(Household.id).where(Household.number.in_(chunk))
        db.session.execute(
            update(Person).where(Person.household_id.in_(households), Person.source == PersonSource.REGISTER)
            .values(source=PersonSource.DEMO)
            .execution_options(synchronize_session=False)
        )


def _counted(households: Iterable[DemoHousehold], counter: list[int]) -> Iterator[DemoHousehold]:
    """`households`, counting them in `counter[0]` as they pass."""
    for household in households:
        counter[0] += 1
        yield household


@read_only
def _accounts_state() -> tuple[list[int], dict[str, tuple[Role, tuple[str, ...]]]]:
    """Ids of the evacuation shelters staff1 gets, and the demo accounts that exist (role, shelter names)."""
    evacuation = list(db.session.scalars(
        select(Shelter.id).where(Shelter.municipality_code == TOWN_CODE, Shelter.kind == ShelterKind.EVACUATION)
        .order_by(Shelter.id).limit(STAFF_SHELTERS)))
    found: dict[str, tuple[Role, tuple[str, ...]]] = {}
    for username, _role, _password in DEMO_ACCOUNTS:
        account = db.session.execute(select(StaffAccount.id, StaffAccount.role)
                                     .where(StaffAccount.username == username)).first()
        if account is not None:
            names = tuple(db.session.scalars(
                select(Shelter.name).join(staff_shelter, staff_shelter.c.shelter_id == Shelter.id)
                .where(staff_shelter.c.account_id == account.id).order_by(Shelter.id)))
            found[username] = (Role(account.role), names)
    return evacuation, found


def ensure_accounts() -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; existing ones are kept as they are."""
    evacuation, existing = _accounts_state()
    for username, role, password in DEMO_ACCOUNTS:
        if username not in existing:
            accounts.create_account(username, role=role, password=password,
                                    shelter_ids=evacuation if role is Role.STAFF else [],
                                    display_name=f"デモ {username}")
    _evacuation, now = _accounts_state()
    return [DemoAccount(username, password, now[username][0],
                        now[username][1] if now[username][0] is Role.STAFF else (), username not in existing)
            for username, _role, password in DEMO_ACCOUNTS]


OPEN_SHELTERS = 6  # the demo starts as a disaster is under way: some shelters are open
DEMO_INCIDENT = "令和8年台風（デモ）"


def start_the_disaster(seed: int, evacuees: int) -> tuple[int, int]:
    """Open a few shelters and check in some households, the first time only.

    Goes through the real services (audited, outbox events), so the demo's HQ view, public page
    and sync backlog look as they would on the day. Returns (shelters opened, persons checked in).
    """
    from evac.checkin import service as checkin
    from evac.shelters import service as shelters

    plan = _disaster_plan(seed, evacuees)
    if plan is None:
        return 0, 0
    chosen, admin, households = plan
    from evac.hq import incidents

    if not any(i["open"] for i in incidents.list_incidents(limit=1)):
        incidents.open_incident(None, DEMO_INCIDENT, "disaster")
    for shelter_id in chosen:
        shelters.update_shelter(shelter_id, status="open")
    if admin is None or not chosen or evacuees <= 0:
        return len(chosen), 0
    rng = random.Random(seed)
    checked_in = 0
    for members in households:
        if checked_in >= evacuees:
            break
        present = [m for m in members if rng.random() < 0.85] or members[:1]
        outcome = checkin.checkin(admin, {"shelter_id": rng.choice(chosen), "person_id": present[0],
                                          "members": present, "client_id": str(uuid.UUID(int=rng.getrandbits(128)))})
        checked_in += len(outcome.body["stays"])
    return len(chosen), checked_in


@read_only
def _disaster_plan(seed: int, evacuees: int) -> tuple[list[int], accounts.Principal | None, list[list[int]]] | None:
    """The shelters to open, the admin who checks people in and the households to check in (None: done before)."""
    from evac.shelters.models import ShelterStatus
    from evac.stays.models import Stay

    if db.session.scalar(select(Stay.id).limit(1)) is not None or db.session.scalar(
            select(Shelter.id).where(Shelter.status != ShelterStatus.CLOSED).limit(1)) is not None:
        return None
    chosen = list(db.session.scalars(
        select(Shelter.id).where(Shelter.municipality_code == TOWN_CODE, Shelter.kind == ShelterKind.EVACUATION)
        .order_by(Shelter.id).limit(OPEN_SHELTERS)))
    admin_id = db.session.scalar(select(StaffAccount.id).where(StaffAccount.role == Role.ADMIN)
                                 .order_by(StaffAccount.id))
    admin = accounts.principal_by_id(admin_id) if admin_id is not None else None
    rng = random.Random(seed)
    household_ids = list(db.session.scalars(select(Household.id).order_by(Household.id)))
    picked = rng.sample(household_ids, min(len(household_ids), evacuees)) if evacuees > 0 else []
    members: dict[int, list[int]] = {h: [] for h in picked}
    for start in range(0, len(picked), CHUNK):
        for pid, hid in db.session.execute(select(Person.id, Person.household_id).where(
                Person.household_id.in_(picked[start:start + CHUNK])).order_by(Person.id)):
            if hid is not None:
                members[hid].append(pid)
    return chosen, admin, [members[h] for h in picked if members[h]]


def build_demo_town(*, residents: int, seed: int, csv_path: Path, evacuees: int = 300,
                    progress: Progress = lambda _line: None) -> DemoResult:
    """Build (or refresh) the demo town; each step commits on its own and reports through `progress`."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, began: float) -> float:
        now = time.perf_counter()
        seconds[name] = now - began
        return now

    upgraded = ensure_schema()
    progress("データベース database: " + ("移行しました migrated to head" if upgraded else "最新 at head"))
    t = step("schema", started)

    directory = find_gsi_dir()
    reports = load_shelters(directory)
    for report in reports:
        progress(f"避難所 shelters ({directory}): {report.summary()}")
    capacities = assign_capacities(seed)
    progress(f"収容人数 capacities (synthetic, seed {seed}): {capacities} 件設定 set")
    t = step("shelters", t)

    # Drawn and written a household at a time, then read back row by row by the importer: the
    # town is never in memory whole, whatever its size.
    counter = [0]
    size = write_resident_csv(csv_path, _counted(iter_town(residents, seed), counter))
    households = counter[0]
    progress(f"住民データ生成 generated: {residents:,} 人 persons, {households:,} 世帯 households "
             f"→ {csv_path} ({size / 1e6:.1f} MB)")
    t = step("generate", t)

    resident_report = import_residents_file(csv_path)
    mark_demo_persons(household_number(seed, index) for index in range(households))
    progress(f"住民データ取込 imported: {resident_report.summary()}")
    t = step("residents", t)

    demo_accounts = ensure_accounts()
    progress("アカウント accounts: " + ", ".join(
        f"{a.username} ({'作成 created' if a.created else '既存 kept'})" for a in demo_accounts))
    t = step("accounts", t)

    opened, checked_in = start_the_disaster(seed, evacuees)
    if opened:
        progress(f"開設 opened: {opened} 避難所 shelters, 受付 checked in: {checked_in} 人 persons")
    step("disaster", t)
    seconds["total"] = time.perf_counter() - started
    return DemoResult(upgraded, directory, reports, capacities, households, resident_report, csv_path,
                      demo_accounts, seconds)
