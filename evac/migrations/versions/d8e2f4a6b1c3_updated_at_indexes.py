"""index shelter and counter stamps: HQ's summary re-reads only what changed since its last read

Revision ID: d8e2f4a6b1c3
Revises: c5d1f7a3e9b2
Create Date: 2026-12-03 15:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd8e2f4a6b1c3'
down_revision = 'c5d1f7a3e9b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_shelter_updated_at', 'shelter', ['updated_at'], unique=False)
    op.create_index('ix_hq_shelter_tally_updated_at', 'hq_shelter_tally', ['updated_at'], unique=False)


def downgrade():
    op.drop_index('ix_hq_shelter_tally_updated_at', table_name='hq_shelter_tally')
    op.drop_index('ix_shelter_updated_at', table_name='shelter')
