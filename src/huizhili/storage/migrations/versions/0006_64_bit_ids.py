"""64-bit ids and references on PostgreSQL; fixed-width closing times on SQLite

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    'areas': ('id',),
    'buildings': ('id',),
    'parcels': ('id',),
    'facilities': ('id',),
    'devices': ('id',),
    'walk_ways': ('id',),
    'import_runs': ('id',),
    'users': ('id',),
    'credentials': ('id', 'user_id'),
    'access_log': ('id', 'user_id'),
    'events': ('id',),
    'lifecircle_runs': ('id',),
    'lifecircle_coverage': ('id', 'run_id'),
}
"""Every id and every reference to one, by table."""


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite's INTEGER is 64-bit already. 0004 set closed_at with CURRENT_TIMESTAMP, which has no
        # fraction: pad it, so the column's text sorts as its time like every other stored time.
        op.execute(sa.text("UPDATE users SET closed_at = closed_at || '.000000' WHERE length(closed_at) = 19"))
        return
    _retype('bigint')


def downgrade() -> None:
    """Revert this revision (fails on PostgreSQL once an id is past 2**31 - 1)."""
    if op.get_bind().dialect.name != 'sqlite':
        _retype('integer')


def _retype(kind: str) -> None:
    """Give every id, reference and id sequence the type ``kind``: one table rewrite per table."""
    bind = op.get_bind()
    for table, columns in COLUMNS.items():
        changes = ', '.join(f'ALTER COLUMN {column} TYPE {kind}' for column in columns)
        op.execute(sa.text(f'ALTER TABLE {table} {changes}'))
        # A serial column's sequence keeps its own type, and with it a maximum of 2**31 - 1.
        sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {'table': table})
        op.execute(sa.text(f'ALTER SEQUENCE {sequence} AS {kind}'))
