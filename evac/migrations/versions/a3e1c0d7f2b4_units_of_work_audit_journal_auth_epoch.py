"""units of work: audit entry ids (journal replays), credentials epoch, session versions

Revision ID: a3e1c0d7f2b4
Revises: c89005f6e973
Create Date: 2026-12-02 02:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3e1c0d7f2b4'
down_revision = 'c89005f6e973'
branch_labels = None
depends_on = None


def upgrade():
    # Journaled audit entries carry their own id: replaying a journal stores each entry once.
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_id', sa.String(length=32), nullable=True))
        batch_op.create_index('uq_audit_event_entry_id', ['entry_id'], unique=True)
    # Part of every session cookie: raising it ends the account's sessions.
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_version', sa.Integer(), nullable=False, server_default='0'))
    auth_state = op.create_table(
        'auth_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_state')),
    )
    op.bulk_insert(auth_state, [{'id': 1, 'epoch': 0}])


def downgrade():
    op.drop_table('auth_state')
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.drop_column('auth_version')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('uq_audit_event_entry_id')
        batch_op.drop_column('entry_id')
