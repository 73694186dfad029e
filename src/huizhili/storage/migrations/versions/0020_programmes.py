"""programmes: renewal programmes, their area-coded projects, append-only progress reports, and district and street targets

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huizhili.storage.geometry

revision: str = '0020'
# 0018 and 0019 are being written on other branches; this is re-chained after them when they merge.
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('programmes',
    sa.Column('id', _ID, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('owner_department', sa.String(length=100), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_department'], ['departments.code'], name='fk_programmes_owner_department', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programmes_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_programmes_owner_department'), ['owner_department'], unique=False)

    op.create_table('projects',
    sa.Column('id', _ID, nullable=False),
    sa.Column('programme_id', _ID, nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('owner_department', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('planned_start', sa.Date(), nullable=True),
    sa.Column('planned_end', sa.Date(), nullable=True),
    sa.Column('actual_start', sa.Date(), nullable=True),
    sa.Column('actual_end', sa.Date(), nullable=True),
    sa.Column('quantities', sa.JSON(), nullable=False),
    sa.Column('done', sa.JSON(), nullable=False),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['owner_department'], ['departments.code'], name='fk_projects_owner_department', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'source_ref', name='uq_projects_programme_id_source_ref')
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_owner_department'), ['owner_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_source_ref'), ['source_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_street_code'), ['street_code'], unique=False)

    op.create_table('project_progress',
    sa.Column('id', _ID, nullable=False),
    sa.Column('project_id', _ID, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('evidence', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_progress_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_progress_project_id'), ['project_id'], unique=False)

    op.create_table('targets',
    sa.Column('id', _ID, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('area_code', sa.String(length=32), nullable=False),
    sa.Column('measure', sa.String(length=8), nullable=False),
    sa.Column('programme_id', _ID, nullable=True),
    sa.Column('quantity', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=True),
    sa.Column('source_kind', sa.String(length=40), nullable=True),
    sa.Column('threshold_m', sa.Float(), nullable=True),
    sa.Column('goal', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('baseline_date', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name='fk_targets_area_code', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_targets_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_targets_programme_id'), ['programme_id'], unique=False)

    _append_only('project_progress')


def _append_only(table: str) -> None:
    """Triggers refusing any update or delete of ``table``: a progress record nobody can rewrite."""
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
        op.execute("DROP TRIGGER project_progress_append_only ON project_progress")
        op.execute("DROP FUNCTION project_progress_append_only()")
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_targets_programme_id'))
        batch_op.drop_index(batch_op.f('ix_targets_area_code'))
    op.drop_table('targets')
    with op.batch_alter_table('project_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_progress_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_progress_at'))
    op.drop_table('project_progress')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        for column in ('street_code', 'status', 'source_ref', 'programme_id', 'owner_department', 'grid_code', 'district_code',
                       'committee_code'):
            batch_op.drop_index(batch_op.f(f'ix_projects_{column}'))
    op.drop_table('projects')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programmes_owner_department'))
        batch_op.drop_index(batch_op.f('ix_programmes_kind'))
    op.drop_table('programmes')
