"""case photos and proposals: photos of a case's steps (files named by their hash), and a sensor case's closure proposal

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('case_photos',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('action_id', _ID, nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('taken_lon', sa.Float(), nullable=True),
    sa.Column('taken_lat', sa.Float(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['case_actions.id'], name='fk_case_photos_action_id', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_case_photos_case_id', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_photos_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_photos_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closure_proposed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('closure_proposed_at')

    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_photos_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_photos_action_id'))

    op.drop_table('case_photos')
