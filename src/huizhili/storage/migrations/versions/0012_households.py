"""households: lone elderly residents who joined the watch by consent, and the devices watching over them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('households',
    sa.Column('id', _ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('contacts', sa.JSON(), nullable=True),
    sa.Column('responder_department', sa.String(length=100), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consent_recorded_by', sa.String(length=64), nullable=False),
    sa.Column('consent_note', sa.Text(), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_recorded_by', sa.String(length=64), nullable=True),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['responder_department'], ['departments.code'], name='fk_households_responder_department', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_street_code'), ['street_code'], unique=False)

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_id', _ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_devices_household_id'), ['household_id'], unique=False)
        batch_op.create_foreign_key('fk_devices_household_id', 'households', ['household_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_constraint('fk_devices_household_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_devices_household_id'))
        batch_op.drop_column('household_id')

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_street_code'))
        batch_op.drop_index(batch_op.f('ix_households_grid_code'))
        batch_op.drop_index(batch_op.f('ix_households_district_code'))
        batch_op.drop_index(batch_op.f('ix_households_committee_code'))

    op.drop_table('households')
