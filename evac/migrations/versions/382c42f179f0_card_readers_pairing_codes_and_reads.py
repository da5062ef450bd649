"""card readers: paired readers, pairing codes, reads waiting for their desk screen

Revision ID: 382c42f179f0
Revises: b7d2e9f1c4a8
Create Date: 2026-12-02 01:52:05

"""
import sqlalchemy as sa
from alembic import op

import evac.common.db


# revision identifiers, used by Alembic.
revision = '382c42f179f0'
down_revision = 'b7d2e9f1c4a8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_reader',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('shelter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('desk_id', sa.String(length=36), nullable=False),
    sa.Column('desk_label', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('paired_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('paired_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_read_at', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['paired_by_id'], ['staff_account.id'], name=op.f('fk_card_reader_paired_by_id_staff_account')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['staff_account.id'], name=op.f('fk_card_reader_revoked_by_id_staff_account')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelter.id'], name=op.f('fk_card_reader_shelter_id_shelter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_reader')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_card_reader_token_hash'))
    )
    with op.batch_alter_table('card_reader', schema=None) as batch_op:
        batch_op.create_index('ix_card_reader_active_desk', ['desk_id'], unique=False, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.create_index('ix_card_reader_shelter_id', ['shelter_id'], unique=False)

    op.create_table('reader_pairing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('shelter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('desk_id', sa.String(length=36), nullable=False),
    sa.Column('desk_label', sa.String(length=60), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('superseded_at', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reader_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_account.id'], name=op.f('fk_reader_pairing_created_by_id_staff_account')),
    sa.ForeignKeyConstraint(['reader_id'], ['card_reader.id'], name=op.f('fk_reader_pairing_reader_id_card_reader'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelter.id'], name=op.f('fk_reader_pairing_shelter_id_shelter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reader_pairing')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_reader_pairing_code_hash'))
    )
    with op.batch_alter_table('reader_pairing', schema=None) as batch_op:
        batch_op.create_index('ix_reader_pairing_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_reader_pairing_desk_id', ['desk_id'], unique=False)

    # A read keeps its personal data only while pending (the two CHECKs); the row itself stays a
    # few minutes without it, so that a reader resending the same read_id is recognised.
    op.create_table('reader_read',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('read_id', sa.String(length=36), nullable=False),
    sa.Column('reader_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shelter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('desk_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.Enum('mynumber', 'ic', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state', sa.Enum('pending', 'delivered', 'expired', 'dropped', name='state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('payload', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('received_at', evac.common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', evac.common.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state <> 'pending' OR payload IS NOT NULL", name=op.f('ck_reader_read_pending_has_payload')),
    sa.CheckConstraint("state = 'pending' OR payload IS NULL", name=op.f('ck_reader_read_payload_only_while_pending')),
    sa.ForeignKeyConstraint(['reader_id'], ['card_reader.id'], name=op.f('fk_reader_read_reader_id_card_reader'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelter.id'], name=op.f('fk_reader_read_shelter_id_shelter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reader_read')),
    sa.UniqueConstraint('read_id', name=op.f('uq_reader_read_read_id'))
    )
    with op.batch_alter_table('reader_read', schema=None) as batch_op:
        batch_op.create_index('ix_reader_read_pending_desk', ['desk_id', 'id'], unique=False, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.create_index('ix_reader_read_pending_received', ['received_at'], unique=False, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.create_index('ix_reader_read_reader_id', ['reader_id'], unique=False)
        batch_op.create_index('ix_reader_read_received_at', ['received_at'], unique=False)



def downgrade():
    with op.batch_alter_table('reader_read', schema=None) as batch_op:
        batch_op.drop_index('ix_reader_read_received_at')
        batch_op.drop_index('ix_reader_read_reader_id')
        batch_op.drop_index('ix_reader_read_pending_received', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('ix_reader_read_pending_desk', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    op.drop_table('reader_read')
    with op.batch_alter_table('reader_pairing', schema=None) as batch_op:
        batch_op.drop_index('ix_reader_pairing_desk_id')
        batch_op.drop_index('ix_reader_pairing_created_at')

    op.drop_table('reader_pairing')
    with op.batch_alter_table('card_reader', schema=None) as batch_op:
        batch_op.drop_index('ix_card_reader_shelter_id')
        batch_op.drop_index('ix_card_reader_active_desk', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.drop_table('card_reader')
