"""shelter listings, designations, and one shelter per site

Adds `shelter.designations` (a shelter may be a 指定避難所 and a 指定緊急避難場所 at once) and
`shelter_listing` (every row of a published list, keyed by list and (municipality, ID)), fills
both from the shelters already imported, then merges the twins earlier imports created: GSI lists
a school as a 指定避難所 and again as a 指定緊急避難場所, and evac made two shelters of it.

A pair is merged only on the rules of `evac.shelters.twins` (one 指定避難所-kind and one
指定緊急避難場所 shelter, both imported, same municipality, same normalised name and address, at
most 1 km apart, no third candidate). The 指定避難所 one is kept; the other's stays, staff
assignments, audit rows, listings and counters move onto it so every count stays exact:
`hq_shelter_tally` is summed (households recounted from the merged household tallies),
`hq_household_tally` summed per household, and `hq_occupancy_hour` merged hour by hour with each
series carried forward, as the HQ trend reads it. If either was open (or full) the kept one is
open (or full) afterwards: an open shelter is never closed by a merge. Each merge is logged and
audited (`shelter.merged`). Outbox events already written keep the id they were written with.

Downgrading drops the listings and the designations; merged shelters stay merged.

Revision ID: 5e1d7c2a9b40
Revises: a3e1c0d7f2b4
Create Date: 2026-12-02 10:00:00.000000

"""
import logging
import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import evac.common.db
from evac.common.db import now_utc

# The same rules as the importer (a migration that merged on other rules than the importer would
# leave twins the next import could not explain).
from evac.shelters.twins import MAX_TWIN_DISTANCE_M, distance_m, site_key

# revision identifiers, used by Alembic.
revision = '5e1d7c2a9b40'
down_revision = 'a3e1c0d7f2b4'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_GSI_MUNICIPALITY = re.compile(r"[A-Za-z](\d{5})")
_NEED_COLUMNS = ("need_elderly", "need_disability", "need_infant", "need_pregnant", "need_language",
                 "need_allergy", "need_medical", "need_care", "need_injury")
_SUMMED = ("occupancy", "at_home", "in_car", "pets", *_NEED_COLUMNS)
_STATUS_RANK = {"closed": 0, "full": 1, "open": 2}  # the merged shelter is as open as the more open twin

UTC = evac.common.db.UTCDateTime(timezone=True)
shelter = sa.table(
    "shelter", sa.column("id", sa.Integer), sa.column("code", sa.String), sa.column("name", sa.String),
    sa.column("name_kana", sa.String), sa.column("address", sa.String), sa.column("lat", sa.Float),
    sa.column("lon", sa.Float), sa.column("municipality_code", sa.String), sa.column("municipality_name", sa.String),
    sa.column("kind", sa.String), sa.column("designations", sa.JSON), sa.column("hazards", sa.JSON),
    sa.column("capacity", sa.Integer), sa.column("status", sa.String), sa.column("note", sa.String),
    sa.column("source", sa.String), sa.column("opened_at", UTC), sa.column("closed_at", UTC),
    sa.column("updated_at", UTC),
)
listing = sa.table(
    "shelter_listing", sa.column("id", sa.Integer), sa.column("shelter_id", sa.Integer),
    sa.column("source", sa.String), sa.column("dataset", sa.String), sa.column("municipality_code", sa.String),
    sa.column("local_id", sa.String), sa.column("designations", sa.JSON), sa.column("hazards", sa.JSON),
    sa.column("fields", sa.JSON), sa.column("site_key", sa.String), sa.column("digest", sa.String),
    sa.column("missing_since", UTC),
    sa.column("created_at", UTC), sa.column("updated_at", UTC),
)
shelter_tally = sa.table("hq_shelter_tally", sa.column("shelter_id", sa.Integer), sa.column("households", sa.Integer),
                         sa.column("updated_at", UTC), *(sa.column(c, sa.Integer) for c in _SUMMED))
household_tally = sa.table("hq_household_tally", sa.column("shelter_id", sa.Integer),
                           sa.column("household_key", sa.BigInteger), sa.column("members", sa.Integer))
occupancy_hour = sa.table("hq_occupancy_hour", sa.column("shelter_id", sa.Integer), sa.column("hour", UTC),
                          sa.column("opening", sa.Integer), sa.column("closing", sa.Integer))
audit_event = sa.table(
    "audit_event", sa.column("occurred_at", UTC), sa.column("account_id", sa.Integer), sa.column("action", sa.String),
    sa.column("outcome", sa.String), sa.column("subject_type", sa.String), sa.column("subject_id", sa.String),
    sa.column("shelter_id", sa.Integer), sa.column("remote_addr", sa.String), sa.column("detail", sa.JSON),
)
_HAZARDS = ("flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood", "volcano")
_DESIGNATIONS = ("evacuation", "welfare", "emergency")


def upgrade():
    op.add_column('shelter', sa.Column('designations', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    op.create_table('shelter_listing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shelter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('dataset', sa.String(length=20), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('local_id', sa.String(length=40), nullable=False),
    sa.Column('designations', sa.JSON(), nullable=False),
    sa.Column('hazards', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('site_key', sa.String(length=32), nullable=True),
    sa.Column('digest', sa.String(length=32), nullable=False),
    sa.Column('missing_since', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelter.id'], name=op.f('fk_shelter_listing_shelter_id_shelter'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shelter_listing')),
    sa.UniqueConstraint('local_id', 'municipality_code', 'dataset', 'source', name='uq_shelter_listing_key')
    )
    with op.batch_alter_table('shelter_listing', schema=None) as batch_op:
        batch_op.create_index('ix_shelter_listing_scope', ['municipality_code', 'source', 'dataset'], unique=False)
        batch_op.create_index(batch_op.f('ix_shelter_listing_shelter_id'), ['shelter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shelter_listing_site_key'), ['site_key'], unique=False)

    bind = op.get_bind()
    _fill_designations(bind)
    _fill_listings(bind)
    _merge_twins(bind)


def downgrade():
    with op.batch_alter_table('shelter_listing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shelter_listing_site_key'))
        batch_op.drop_index(batch_op.f('ix_shelter_listing_shelter_id'))
        batch_op.drop_index('ix_shelter_listing_scope')
    op.drop_table('shelter_listing')
    # Plain ALTER TABLE (SQLite 3.35+ has DROP COLUMN): a batch rebuild of `shelter` would drop
    # the table its foreign keys point at, and ON DELETE CASCADE would take counters with it.
    op.execute("ALTER TABLE shelter DROP COLUMN designations")


def _fill_designations(bind):
    for kind in _DESIGNATIONS:
        bind.execute(shelter.update().where(shelter.c.kind == kind).values(designations=[kind]))
    # An ODS row flagged 指定避難所との重複 was imported as kind evacuation: it is both.
    bind.execute(shelter.update().where(shelter.c.source == "ods", shelter.c.kind == "evacuation")
                 .values(designations=["evacuation", "emergency"]))


def _municipality_of(code, fallback):
    match = _GSI_MUNICIPALITY.match(code or "")
    if not match:
        return fallback or ""
    d = [int(c) for c in match.group(1)]
    return match.group(1) + str((11 - (d[0] * 6 + d[1] * 5 + d[2] * 4 + d[3] * 3 + d[4] * 2) % 11) % 10)


def _fill_listings(bind):
    """One listing per imported shelter: what its list said, as far as the shelter remembers it."""
    now = now_utc()
    rows = []
    for s in bind.execute(sa.select(shelter).where(shelter.c.source.in_(("gsi", "ods")))).mappings():
        fields = {"name": s["name"], "address": s["address"], "lat": s["lat"], "lon": s["lon"],
                  "municipality_code": s["municipality_code"], "municipality_name": s["municipality_name"],
                  "note": s["note"]}
        if s["source"] == "gsi":
            municipality = _municipality_of(s["code"], s["municipality_code"])
        else:
            municipality = s["municipality_code"] or ""
            if s["name_kana"] is not None:
                fields["name_kana"] = s["name_kana"]
            if s["capacity"] is not None:
                fields["capacity"] = s["capacity"]
        designations, hazards = list(s["designations"]), list(s["hazards"] or [])
        key = site_key(municipality, s["name"], s["address"])
        rows.append({
            "shelter_id": s["id"], "source": s["source"],
            "dataset": "emergency" if s["source"] == "ods" or s["kind"] == "emergency" else "evacuation",
            "municipality_code": municipality, "local_id": s["code"], "designations": designations,
            "hazards": hazards, "fields": fields, "site_key": key,
            # Not the digest of any file row: the first import of the list compares field by field.
            "digest": "", "missing_since": None, "created_at": now, "updated_at": now})
    for start in range(0, len(rows), 5000):
        bind.execute(listing.insert(), rows[start:start + 5000])


def _merge_twins(bind):
    candidates = defaultdict(lambda: ([], []))
    query = sa.select(shelter).where(shelter.c.source.in_(("gsi", "ods")))
    for s in bind.execute(query).mappings():
        key = site_key(s["municipality_code"], s["name"], s["address"])
        if key is None:
            continue
        stay_side, emergency = candidates[key]
        (emergency if s["kind"] == "emergency" else stay_side).append(dict(s))
    merged = 0
    for _key, (stay_side, emergency) in sorted(candidates.items()):
        if not stay_side or not emergency:
            continue
        if len(stay_side) != 1 or len(emergency) != 1:
            log.warning("shelter twins not merged, ambiguous: %s", [s["id"] for s in stay_side + emergency])
            continue
        keep, absorb = stay_side[0], emergency[0]
        if None not in (keep["lat"], keep["lon"], absorb["lat"], absorb["lon"]) and distance_m(
                keep["lat"], keep["lon"], absorb["lat"], absorb["lon"]) > MAX_TWIN_DISTANCE_M:
            log.warning("shelter twins not merged, more than %d m apart: %s, %s", MAX_TWIN_DISTANCE_M,
                        keep["id"], absorb["id"])
            continue
        _merge(bind, keep, absorb)
        merged += 1
    if merged:
        log.info("merged %d pairs of shelter twins", merged)


def _merge(bind, keep, absorb):
    """Move everything of `absorb` onto `keep`, then delete `absorb`."""
    k, a = keep["id"], absorb["id"]
    params = {"k": k, "a": a}
    bind.execute(sa.text("UPDATE stay SET shelter_id = :k WHERE shelter_id = :a"), params)
    bind.execute(sa.text("UPDATE stay SET transferred_to_id = :k WHERE transferred_to_id = :a"), params)
    bind.execute(sa.text(
        "INSERT INTO staff_shelter (account_id, shelter_id) SELECT account_id, :k FROM staff_shelter "
        "WHERE shelter_id = :a AND account_id NOT IN (SELECT account_id FROM staff_shelter WHERE shelter_id = :k)"),
        params)
    bind.execute(sa.text("DELETE FROM staff_shelter WHERE shelter_id = :a"), params)
    bind.execute(sa.text("UPDATE audit_event SET shelter_id = :k WHERE shelter_id = :a"), params)
    bind.execute(listing.update().where(listing.c.shelter_id == a).values(shelter_id=k))
    _merge_household_tallies(bind, k, a)
    _merge_shelter_tally(bind, k, a)
    _merge_occupancy_hours(bind, k, a)

    active = max((keep, absorb), key=lambda s: _STATUS_RANK.get(s["status"], 0))
    opened = [s["opened_at"] for s in (keep, absorb) if s["status"] != "closed" and s["opened_at"] is not None]
    values = {
        "designations": [d for d in _DESIGNATIONS if d in set(keep["designations"]) | set(absorb["designations"])],
        "hazards": [h for h in _HAZARDS if h in set(keep["hazards"] or []) | set(absorb["hazards"] or [])],
        "capacity": keep["capacity"] if keep["capacity"] is not None else absorb["capacity"],
        "source": "+".join(sorted({keep["source"], absorb["source"]})),
        "status": active["status"], "updated_at": now_utc(),
    }
    if active["status"] != "closed":
        values["opened_at"], values["closed_at"] = min(opened) if opened else active["opened_at"], None
    if absorb["status"] != "closed" and keep["status"] == "closed":
        log.warning("shelter %s was open and is merged into %s, which is now %s", a, k, active["status"])
    bind.execute(shelter.update().where(shelter.c.id == k).values(**values))
    bind.execute(audit_event.insert().values(
        occurred_at=now_utc(), account_id=None, action="shelter.merged", outcome="ok", subject_type="shelter",
        subject_id=str(k), shelter_id=k, remote_addr=None,
        detail={"kept": k, "merged": a, "kept_code": keep["code"], "merged_code": absorb["code"],
                "statuses": [keep["status"], absorb["status"]], "by": "migration 5e1d7c2a9b40"}))
    bind.execute(shelter.delete().where(shelter.c.id == a))
    log.info("merged shelter %s (%s) into %s (%s)", a, absorb["code"], k, keep["code"])


def _merge_household_tallies(bind, k, a):
    def members(sid):
        query = sa.select(household_tally.c.household_key, household_tally.c.members).where(
            household_tally.c.shelter_id == sid)
        return {key: n for key, n in bind.execute(query)}

    theirs, ours = members(a), members(k)
    for key, members in theirs.items():
        if key in ours:
            bind.execute(household_tally.update().where(household_tally.c.shelter_id == k,
                                                        household_tally.c.household_key == key)
                         .values(members=ours[key] + members))
        else:
            bind.execute(household_tally.insert().values(shelter_id=k, household_key=key, members=members))
    bind.execute(household_tally.delete().where(household_tally.c.shelter_id == a))


def _merge_shelter_tally(bind, k, a):
    def read(sid):
        return bind.execute(sa.select(shelter_tally).where(shelter_tally.c.shelter_id == sid)).mappings().first()

    ours, theirs = read(k), read(a)
    if theirs is None:
        return
    households = bind.execute(sa.select(sa.func.count()).select_from(household_tally).where(
        household_tally.c.shelter_id == k, household_tally.c.members > 0)).scalar_one()
    if ours is None:
        values = {c: theirs[c] for c in _SUMMED}
        bind.execute(shelter_tally.insert().values(shelter_id=k, households=households,
                                                   updated_at=theirs["updated_at"], **values))
    else:
        values = {c: ours[c] + theirs[c] for c in _SUMMED}
        bind.execute(shelter_tally.update().where(shelter_tally.c.shelter_id == k).values(
            households=households, updated_at=max(ours["updated_at"], theirs["updated_at"]), **values))
    bind.execute(shelter_tally.delete().where(shelter_tally.c.shelter_id == a))


def _merge_occupancy_hours(bind, k, a):
    """The sum of two hourly series, each carried forward over the hours it has no row for.

    A series stands at its first row's `opening` before that row, and at its last `closing`
    after each row; so the merged (closing − opening) per hour is the sum of the two, and the
    trend walked back from the current total is exactly the sum of the two shelters' trends.
    """
    def series(sid):
        query = (sa.select(occupancy_hour.c.hour, occupancy_hour.c.opening, occupancy_hour.c.closing)
                 .where(occupancy_hour.c.shelter_id == sid).order_by(occupancy_hour.c.hour))
        return [tuple(r) for r in bind.execute(query)]

    ours, theirs = series(k), series(a)
    if not theirs:
        return
    merged = []
    rows = {k: {h: (o, c) for h, o, c in ours}, a: {h: (o, c) for h, o, c in theirs}}
    carry = {k: ours[0][1] if ours else 0, a: theirs[0][1]}
    for hour in sorted(set(rows[k]) | set(rows[a])):
        opening = closing = 0
        for sid in (k, a):
            o, c = rows[sid].get(hour, (carry[sid], carry[sid]))
            carry[sid] = c
            opening += o
            closing += c
        merged.append({"shelter_id": k, "hour": hour, "opening": opening, "closing": closing})
    bind.execute(occupancy_hour.delete().where(occupancy_hour.c.shelter_id.in_((k, a))))
    bind.execute(occupancy_hour.insert(), merged)
