"""cases: the unified case flow — cases, their append-only actions, signals, the owner registry, disputes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huizhili.storage.geometry

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('asset_owners',
    sa.Column('id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('owner_department', sa.String(length=100), nullable=False),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['owner_department'], ['departments.code'], name='fk_asset_owners_owner_department', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref')
    )
    with op.batch_alter_table('asset_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_owners_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_owners_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_owners_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_owners_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_owners_owner_department'), ['owner_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_owners_street_code'), ['street_code'], unique=False)

    op.create_table('cases',
    sa.Column('id', _ID, nullable=False),
    sa.Column('number', sa.String(length=24), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('previous_state', sa.String(length=24), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('category_source', sa.String(length=16), nullable=True),
    sa.Column('category_confidence', sa.Float(), nullable=True),
    sa.Column('suggestions', sa.JSON(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('asset_ref', sa.String(length=100), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('routed_by', sa.String(length=16), nullable=True),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=40), nullable=True),
    sa.Column('reporter_user_id', _ID, nullable=True),
    sa.Column('alert_id', _ID, nullable=True),
    sa.Column('household_id', _ID, nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_estimated', sa.Boolean(), nullable=False),
    sa.Column('stage_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checkpoints', sa.JSON(), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation', sa.Text(), nullable=True),
    sa.Column('postponement', sa.JSON(), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('rework_count', sa.Integer(), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('merged_into_id', _ID, nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name='fk_cases_alert_id', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], name='fk_cases_department', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name='fk_cases_household_id', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['cases.id'], name='fk_cases_merged_into_id', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_external_ref'), ['external_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_lat'), ['lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_lon'), ['lon'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reporter_user_id'), ['reporter_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_street_code'), ['street_code'], unique=False)

    op.create_table('case_actions',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_actions_case_id'), ['case_id'], unique=False)

    op.create_table('case_signals',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=40), nullable=True),
    sa.Column('reporter_user_id', _ID, nullable=True),
    sa.Column('alert_id', _ID, nullable=True),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('linked_by', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name='fk_case_signals_alert_id', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id')
    )
    with op.batch_alter_table('case_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_signals_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_signals_reporter_user_id'), ['reporter_user_id'], unique=False)

    op.create_table('ownership_disputes',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('disputed_by', sa.String(length=100), nullable=False),
    sa.Column('fallback', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settle_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('settled_owner', sa.String(length=100), nullable=True),
    sa.Column('settled_by', sa.String(length=64), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ownership_disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownership_disputes_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_disputes_settle_by'), ['settle_by'], unique=False)

    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('street_code', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint('uq_departments_street_code', ['street_code'])
    _append_only('case_actions')


def _append_only(table: str) -> None:
    """Triggers refusing any update or delete of ``table``: an audit trail nobody can rewrite."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        return
    for change in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {table}_no_{change.lower()} BEFORE {change} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")



def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_actions_append_only ON case_actions")
        op.execute("DROP FUNCTION case_actions_append_only()")
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_departments_street_code', type_='unique')
        batch_op.drop_column('street_code')

    with op.batch_alter_table('ownership_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ownership_disputes_settle_by'))
        batch_op.drop_index(batch_op.f('ix_ownership_disputes_case_id'))

    op.drop_table('ownership_disputes')
    with op.batch_alter_table('case_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_signals_reporter_user_id'))
        batch_op.drop_index(batch_op.f('ix_case_signals_case_id'))

    op.drop_table('case_signals')
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_actions_case_id'))

    op.drop_table('case_actions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_street_code'))
        batch_op.drop_index(batch_op.f('ix_cases_state'))
        batch_op.drop_index(batch_op.f('ix_cases_reporter_user_id'))
        batch_op.drop_index(batch_op.f('ix_cases_received_at'))
        batch_op.drop_index(batch_op.f('ix_cases_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_cases_lon'))
        batch_op.drop_index(batch_op.f('ix_cases_lat'))
        batch_op.drop_index(batch_op.f('ix_cases_household_id'))
        batch_op.drop_index(batch_op.f('ix_cases_grid_code'))
        batch_op.drop_index(batch_op.f('ix_cases_external_ref'))
        batch_op.drop_index(batch_op.f('ix_cases_district_code'))
        batch_op.drop_index(batch_op.f('ix_cases_department'))
        batch_op.drop_index(batch_op.f('ix_cases_committee_code'))
        batch_op.drop_index(batch_op.f('ix_cases_closed_at'))
        batch_op.drop_index(batch_op.f('ix_cases_channel'))
        batch_op.drop_index(batch_op.f('ix_cases_category'))
        batch_op.drop_index(batch_op.f('ix_cases_alert_id'))

    op.drop_table('cases')
    with op.batch_alter_table('asset_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_owners_street_code'))
        batch_op.drop_index(batch_op.f('ix_asset_owners_owner_department'))
        batch_op.drop_index(batch_op.f('ix_asset_owners_kind'))
        batch_op.drop_index(batch_op.f('ix_asset_owners_grid_code'))
        batch_op.drop_index(batch_op.f('ix_asset_owners_district_code'))
        batch_op.drop_index(batch_op.f('ix_asset_owners_committee_code'))

    op.drop_table('asset_owners')
