"""household alerts: an alert raised by a household's device is read as the household is

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_id', _ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_alerts_household_id'), ['household_id'], unique=False)
        batch_op.create_foreign_key('fk_alerts_household_id', 'households', ['household_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_alerts_household_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_alerts_household_id'))
        batch_op.drop_column('household_id')
