"""life circle runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 03:18:42.544143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('lifecircle_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('area_code', sa.String(length=32), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('distance_method', sa.String(length=16), nullable=False),
    sa.Column('origins', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('output_dir', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('lifecircle_coverage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('threshold_m', sa.Float(), nullable=False),
    sa.Column('population', sa.Float(), nullable=False),
    sa.Column('covered_population', sa.Float(), nullable=False),
    sa.Column('coverage', sa.Float(), nullable=True),
    sa.Column('target', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['lifecircle_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecircle_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lifecircle_coverage_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_lifecircle_coverage_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('lifecircle_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lifecircle_coverage_run_id'))
        batch_op.drop_index(batch_op.f('ix_lifecircle_coverage_area_code'))

    op.drop_table('lifecircle_coverage')
    op.drop_table('lifecircle_runs')
