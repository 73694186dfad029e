"""events for live watchers; when an account was closed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('permission', sa.String(length=40), nullable=False),
    sa.Column('resource', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_street_code'), ['street_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_grid_code'), ['grid_code'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE users SET closed_at = CURRENT_TIMESTAMP WHERE NOT active"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_grid_code'))
        batch_op.drop_index(batch_op.f('ix_events_committee_code'))
        batch_op.drop_index(batch_op.f('ix_events_street_code'))
        batch_op.drop_index(batch_op.f('ix_events_district_code'))
        batch_op.drop_index(batch_op.f('ix_events_at'))
    op.drop_table('events')
