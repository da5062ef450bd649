"""a stay carries the needs and pets it is counted with: no snapshot row written per check-in

Revision ID: f1b6c8d2a4e7
Revises: d8e2f4a6b1c3
Create Date: 2026-12-04 19:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f1b6c8d2a4e7'
down_revision = 'd8e2f4a6b1c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stay', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_needs', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('counted_pets', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE stay SET counted_needs = (SELECT t.needs FROM hq_stay_tally t WHERE t.stay_id = stay.id), "
               "counted_pets = (SELECT t.pets FROM hq_stay_tally t WHERE t.stay_id = stay.id) "
               "WHERE id IN (SELECT stay_id FROM hq_stay_tally)")
    op.drop_table('hq_stay_tally')


def downgrade():
    op.create_table('hq_stay_tally',
    sa.Column('stay_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('needs', sa.Integer(), nullable=False),
    sa.Column('pets', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['stay_id'], ['stay.id'], name=op.f('fk_hq_stay_tally_stay_id_stay'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stay_id', name=op.f('pk_hq_stay_tally'))
    )
    op.execute("INSERT INTO hq_stay_tally (stay_id, needs, pets) "
               "SELECT id, counted_needs, counted_pets FROM stay WHERE checked_out_at IS NULL")
    with op.batch_alter_table('stay', schema=None) as batch_op:
        batch_op.drop_column('counted_pets')
        batch_op.drop_column('counted_needs')
