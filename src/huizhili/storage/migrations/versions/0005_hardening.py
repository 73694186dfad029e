"""token families, sign-in addresses, departments of facilities and events, device sources

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_credentials_family'), ['family'], unique=False)
    # Tokens issued before families existed could not be revoked with their pair: sign in again.
    op.execute(sa.text(
        "UPDATE credentials SET revoked_at = CURRENT_TIMESTAMP WHERE kind IN ('access', 'refresh') AND revoked_at IS NULL"
    ))
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_access_log_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_username'), ['username'], unique=False)
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_department', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_facilities_owner_department'), ['owner_department'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_department'), ['department'], unique=False)
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_ref', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_devices_source_ref'), ['source_ref'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_source_ref'))
        batch_op.drop_column('source_ref')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_department'))
        batch_op.drop_column('department')
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facilities_owner_department'))
        batch_op.drop_column('owner_department')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_username'))
        batch_op.drop_index(batch_op.f('ix_access_log_address'))
        batch_op.drop_column('address')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credentials_family'))
        batch_op.drop_column('family')
