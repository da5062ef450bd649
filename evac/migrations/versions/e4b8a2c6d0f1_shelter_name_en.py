"""shelter name_en: the romanised or English name of a town's list (名称_英字)

Revision ID: e4b8a2c6d0f1
Revises: a7c4e2f9d1b3
Create Date: 2026-12-02 20:55:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4b8a2c6d0f1'
down_revision = 'a7c4e2f9d1b3'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable and without a default: GSI's lists have no English name, and the public page falls
    # back to the Japanese one.
    with op.batch_alter_table('shelter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('shelter', schema=None) as batch_op:
        batch_op.drop_column('name_en')
