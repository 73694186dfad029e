"""case photos' step written once: the step a photo was attached to is part of the case's record

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 00:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "a case photo's step is written once"


def upgrade() -> None:
    """Apply this revision: once a photo names its step, no statement may change or clear it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION case_photos_step_once() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{MESSAGE.replace(chr(39), chr(39) * 2)}'; END $$")
        op.execute("CREATE TRIGGER case_photos_step_once BEFORE UPDATE OF action_id ON case_photos FOR EACH ROW "
                   "WHEN (OLD.action_id IS NOT NULL AND NEW.action_id IS DISTINCT FROM OLD.action_id) "
                   "EXECUTE FUNCTION case_photos_step_once()")
        return
    op.execute("CREATE TRIGGER case_photos_step_once BEFORE UPDATE OF action_id ON case_photos "
               "WHEN OLD.action_id IS NOT NULL AND NEW.action_id IS NOT OLD.action_id "
               f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.replace(chr(39), chr(39) * 2)}'); END")


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER case_photos_step_once" + (" ON case_photos" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION case_photos_step_once()")
