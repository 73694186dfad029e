"""cases by receipt: one index holding what evaluation and Open311's lists read of a period's cases, in place of received_at's own

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_by_receipt', ['received_at', 'id', 'state', 'closed_at', 'due_at', 'channel',
                                                      'rework_count', 'satisfaction', 'category', 'department', 'street_code',
                                                      'committee_code', 'grid_code', 'household_id', 'merged_into_id'],
                              unique=False)
        batch_op.drop_index(batch_op.f('ix_cases_received_at'))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_received_at'), ['received_at'], unique=False)
        batch_op.drop_index('ix_cases_by_receipt')
