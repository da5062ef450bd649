"""incidents: every stay, outbox event, batch, trend row, desk answer and audit entry belongs to one

Revision ID: b7d2e9f1c4a8
Revises: 5e1d7c2a9b40
Create Date: 2026-12-02 03:00:00

Existing data becomes one disaster incident, 「移行前の記録」, open if a shelter is open or
anyone is still checked in, else closed now.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e9f1c4a8'
down_revision = '5e1d7c2a9b40'
branch_labels = None
depends_on = None

NAME = "移行前の記録"
# evac's ids: BIGINT on PostgreSQL, SQLite's INTEGER rowid (as evac.common.db.BigId).
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
AUTOINCREMENT = ('outbox_event', 'person', 'household', 'stay')


def upgrade():
    op.create_table(
        'incident',
        sa.Column('id', ID, nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.Enum('disaster', 'drill', name='incident_kind', native_enum=False,
                                  create_constraint=True, length=8), nullable=False),
        sa.Column('is_open', sa.Boolean(), nullable=False),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('opened_by', ID, nullable=True),
        sa.Column('closed_by', ID, nullable=True),
        sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('is_open = (ended_at IS NULL)', name=op.f('ck_incident_open_matches_end')),
        sa.ForeignKeyConstraint(['opened_by'], ['staff_account.id'], name=op.f('fk_incident_opened_by_staff_account')),
        sa.ForeignKeyConstraint(['closed_by'], ['staff_account.id'], name=op.f('fk_incident_closed_by_staff_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incident')),
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('uq_incident_open', ['is_open'], unique=True,
                              sqlite_where=sa.text('is_open'), postgresql_where=sa.text('is_open'))
        batch_op.create_index('ix_incident_started_at', ['started_at'], unique=False)

    bind = op.get_bind()
    has_data = bind.execute(sa.text(
        "SELECT (SELECT count(*) FROM stay) + (SELECT count(*) FROM outbox_event) "
        "+ (SELECT count(*) FROM hq_occupancy_hour)")).scalar()
    still_open = bind.execute(sa.text(
        "SELECT (SELECT count(*) FROM shelter WHERE status IN ('open', 'full')) "
        "+ (SELECT count(*) FROM stay WHERE checked_out_at IS NULL)")).scalar()
    incident_id = None
    if has_data or still_open:
        started = bind.execute(sa.text(
            "SELECT min(t) FROM (SELECT min(checked_in_at) AS t FROM stay "
            "UNION ALL SELECT min(occurred_at) FROM outbox_event) AS firsts")).scalar()
        bind.execute(sa.text(
            "INSERT INTO incident (id, name, kind, is_open, public, started_at, ended_at) "
            "VALUES (1, :name, 'disaster', :open, :public, COALESCE(:started, CURRENT_TIMESTAMP), "
            "CASE WHEN :open THEN NULL ELSE CURRENT_TIMESTAMP END)"),
            {"name": NAME, "open": bool(still_open), "public": True, "started": started})
        incident_id = 1
        if bind.dialect.name == 'postgresql':
            bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('incident', 'id'), 1)"))

    def add(table, nullable, *, index=None):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('incident_id', ID, nullable=True))
        if incident_id is not None:
            bind.execute(sa.text(f"UPDATE {table} SET incident_id = :i"), {"i": incident_id})
        with op.batch_alter_table(table, schema=None) as batch_op:
            if not nullable:
                batch_op.alter_column('incident_id', existing_type=ID, nullable=False)
            batch_op.create_foreign_key(op.f(f'fk_{table}_incident_id_incident'), 'incident', ['incident_id'], ['id'],
                                        ondelete='CASCADE' if table == 'hq_occupancy_hour' else None)
            if index:
                batch_op.create_index(index[0], index[1], unique=False)

    add('stay', False, index=('ix_stay_incident_shelter', ['incident_id', 'shelter_id']))
    add('outbox_event', False)
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('drill', sa.Boolean(), nullable=False, server_default=sa.false()))
    add('sync_batch', True)
    add('audit_event', True)
    add('client_request', True)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', ID, nullable=True))
        batch_op.create_foreign_key(op.f('fk_person_incident_id_incident'), 'incident', ['incident_id'], ['id'])
    with op.batch_alter_table('ic_card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', ID, nullable=True))
        batch_op.create_foreign_key(op.f('fk_ic_card_incident_id_incident'), 'incident', ['incident_id'], ['id'])
    # The trend is kept per incident: the hour rows get the incident in their key.
    add('hq_occupancy_hour', False)
    with op.batch_alter_table('hq_occupancy_hour', schema=None) as batch_op:
        batch_op.drop_constraint('pk_hq_occupancy_hour', type_='primary')
        batch_op.create_primary_key('pk_hq_occupancy_hour', ['incident_id', 'shelter_id', 'hour'])
    # Closing a drill deletes rows, the newest among them. SQLite would then hand their ids out
    # again: a new outbox event would get a seq the sender's cursor has already passed (and never
    # be sent), and a new person the id an audit entry of the drill names. AUTOINCREMENT never
    # reuses an id (PostgreSQL's sequences never do).
    if bind.dialect.name == 'sqlite':
        for table in AUTOINCREMENT:
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
                pass


def downgrade():
    with op.batch_alter_table('hq_occupancy_hour', schema=None) as batch_op:
        batch_op.drop_constraint('pk_hq_occupancy_hour', type_='primary')
        batch_op.create_primary_key('pk_hq_occupancy_hour', ['shelter_id', 'hour'])
    for table in ('hq_occupancy_hour', 'ic_card', 'person', 'client_request', 'audit_event', 'sync_batch',
                  'outbox_event', 'stay'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'stay':
                batch_op.drop_index('ix_stay_incident_shelter')
            if table == 'outbox_event':
                batch_op.drop_column('drill')
            batch_op.drop_constraint(op.f(f'fk_{table}_incident_id_incident'), type_='foreignkey')
            batch_op.drop_column('incident_id')
    op.drop_table('incident')
