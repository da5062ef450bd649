"""auth_state.failures: a counter of wrong guesses, so an unchanged count need not be read again

Revision ID: c5d1f7a3e9b2
Revises: e4b8a2c6d0f1
Create Date: 2026-12-03 12:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d1f7a3e9b2'
down_revision = 'e4b8a2c6d0f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failures', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('auth_state', schema=None) as batch_op:
        batch_op.drop_column('failures')
