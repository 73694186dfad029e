"""departments as records that users, facilities and devices point to; committees of users

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEPARTMENT_COLUMNS = (('users', 'department'), ('facilities', 'owner_department'), ('devices', 'owner_department'))
"""Every column that named a department as free text and now points to one."""


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('departments',
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('code'),
    )
    # Every department named so far becomes a record named after itself, so each row keeps its
    # department and the keys below hold; a blank one meant none.
    for table, column in DEPARTMENT_COLUMNS:
        op.execute(sa.text(f"UPDATE {table} SET {column} = NULL WHERE trim({column}) = ''"))
    used = ' UNION '.join(f'SELECT {column} AS code FROM {table}' for table, column in DEPARTMENT_COLUMNS)
    op.execute(sa.text(f"INSERT INTO departments (code, name) SELECT code, code FROM ({used}) AS used WHERE code IS NOT NULL"))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('committees', sa.JSON(), nullable=True))
    op.execute(sa.text("UPDATE users SET committees = '[]'"))
    for table, column in DEPARTMENT_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'users':
                batch_op.alter_column('committees', existing_type=sa.JSON(), nullable=False)
            batch_op.create_foreign_key(f'fk_{table}_{column}', 'departments', [column], ['code'], ondelete='RESTRICT')


def downgrade() -> None:
    """Revert this revision (departments become free text again, their names are lost)."""
    for table, column in reversed(DEPARTMENT_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_{column}', type_='foreignkey')
            if table == 'users':
                batch_op.drop_column('committees')
    op.drop_table('departments')
