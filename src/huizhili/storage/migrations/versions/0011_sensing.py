"""sensing: devices as deployed, observations and rollups, dead letters, alerts, rule states, vital signs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('dead_letters',
    sa.Column('id', _ID, nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=True),
    sa.Column('device_code', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_device_code'), ['device_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_received_at'), ['received_at'], unique=False)

    op.create_table('indicator_values',
    sa.Column('indicator', sa.String(length=60), nullable=False),
    sa.Column('area_code', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('sources', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('indicator', 'area_code', 'at'),
    sqlite_with_rowid=False
    )
    op.create_table('rule_states',
    sa.Column('rule', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('rule', 'subject')
    )
    op.create_table('alerts',
    sa.Column('id', _ID, nullable=False),
    sa.Column('rule', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('device_id', _ID, nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Integer(), nullable=True),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('respond_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_street_code'), ['street_code'], unique=False)
        batch_op.create_index('ux_alerts_active', ['rule', 'subject', 'active'], unique=True)

    op.create_table('observation_rollups',
    sa.Column('device_id', _ID, nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('resolution', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('minimum', sa.Float(), nullable=False),
    sa.Column('maximum', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('last', sa.Float(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'metric', 'resolution', 'bucket'),
    sqlite_with_rowid=False
    )
    op.create_table('observations',
    sa.Column('device_id', _ID, nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'metric', 'observed_at'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('owner', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('metrics', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('interval_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('capacity', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('silent_after', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_devices_silent_after'), ['silent_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_status'), ['status'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_status'))
        batch_op.drop_index(batch_op.f('ix_devices_silent_after'))
        batch_op.drop_column('silent_after')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('capacity')
        batch_op.drop_column('interval_s')
        batch_op.drop_column('metrics')
        batch_op.drop_column('owner')
        batch_op.drop_column('status')

    op.drop_table('observations')
    op.drop_table('observation_rollups')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ux_alerts_active')
        batch_op.drop_index(batch_op.f('ix_alerts_street_code'))
        batch_op.drop_index(batch_op.f('ix_alerts_state'))
        batch_op.drop_index(batch_op.f('ix_alerts_rule'))
        batch_op.drop_index(batch_op.f('ix_alerts_opened_at'))
        batch_op.drop_index(batch_op.f('ix_alerts_grid_code'))
        batch_op.drop_index(batch_op.f('ix_alerts_district_code'))
        batch_op.drop_index(batch_op.f('ix_alerts_device_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_department'))
        batch_op.drop_index(batch_op.f('ix_alerts_committee_code'))

    op.drop_table('alerts')
    op.drop_table('rule_states')
    op.drop_table('indicator_values')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_received_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_device_code'))

    op.drop_table('dead_letters')
