"""versions of the tables caches are built from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:10:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    table = op.create_table('data_versions',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    )
    # A random start per database: cache files left by another database never match.
    op.bulk_insert(table, [{"name": name, "version": secrets.randbits(40) * 1000} for name in ("walk_ways", "facilities")])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('data_versions')
