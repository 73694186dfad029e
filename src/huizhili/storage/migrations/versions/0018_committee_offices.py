"""committee offices: a department may stand for a residential committee (居委会), as one stands for a street

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('committee_code', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint('uq_departments_committee_code', ['committee_code'])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_departments_committee_code', type_='unique')
        batch_op.drop_column('committee_code')
