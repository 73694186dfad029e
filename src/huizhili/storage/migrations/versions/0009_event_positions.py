"""events carry their writer's transaction id: positions (txid, id) replace the global publish lock

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITER_TXID = sa.text('(pg_current_xact_id()::text::bigint)')
"""The inserting transaction's id (xid8, 64-bit with its epoch: never wraps), as a bigint."""


def upgrade() -> None:
    """Apply this revision."""
    # Events written before have txid 0: they come before every later one, in the id order the
    # old lock made their commit order.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('txid', sa.BigInteger(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('events', 'txid', server_default=WRITER_TXID)
    op.create_index('ix_events_position', 'events', ['txid', 'id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_events_position', table_name='events')
    # A plain DROP COLUMN on both (SQLite 3.35+): a batch copy of the table would lose AUTOINCREMENT, and with it unreused ids.
    op.execute(sa.text('ALTER TABLE events DROP COLUMN txid'))
