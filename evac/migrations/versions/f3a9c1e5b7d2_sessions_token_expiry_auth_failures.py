"""sessions that logout ends, token expiry, counted wrong guesses

Revision ID: f3a9c1e5b7d2
Revises: 382c42f179f0
Create Date: 2026-12-02 15:40:00

"""
import sqlalchemy as sa
from alembic import op

from evac.common.db import BigId, UTCDateTime

revision = 'f3a9c1e5b7d2'
down_revision = '382c42f179f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', UTCDateTime(), nullable=True))
    op.create_table(
        'staff_session',
        sa.Column('id', BigId, primary_key=True),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('account_id', BigId, sa.ForeignKey('staff_account.id', ondelete='CASCADE'), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.UniqueConstraint('key', name='uq_staff_session_key'),
    )
    op.create_index('ix_staff_session_account_id', 'staff_session', ['account_id'])
    op.create_table(
        'auth_failure',
        sa.Column('id', BigId, primary_key=True),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_auth_failure_key_at', 'auth_failure', ['key', 'at'])


def downgrade():
    op.drop_index('ix_auth_failure_key_at', table_name='auth_failure')
    op.drop_table('auth_failure')
    op.drop_index('ix_staff_session_account_id', table_name='staff_session')
    op.drop_table('staff_session')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
