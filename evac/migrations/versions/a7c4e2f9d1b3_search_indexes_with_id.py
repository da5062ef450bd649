"""search indexes carry the id: a prefix search's page comes straight off the index

Revision ID: a7c4e2f9d1b3
Revises: f3a9c1e5b7d2
Create Date: 2026-12-02 16:20:00

"""
from alembic import op

revision = 'a7c4e2f9d1b3'
down_revision = 'f3a9c1e5b7d2'
branch_labels = None
depends_on = None


def upgrade():
    for key in ("kana_key", "name_key"):
        op.drop_index(f"ix_person_{key}", table_name="person")
        op.create_index(f"ix_person_{key}", "person", [key, "id"])


def downgrade():
    for key in ("kana_key", "name_key"):
        op.drop_index(f"ix_person_{key}", table_name="person")
        op.create_index(f"ix_person_{key}", "person", [key])
