"""Versions of the data that caches are built from, bumped by every write that changes it.

A cache (the walk graph, the facilities' access points) is keyed on the version of what it was
built from, and every reader checks the version on each use — one indexed read — so a change
committed by any process is seen by every worker on its next request. Counting rows or taking
the highest id is not enough: SQLite reuses ids, so a re-import that moves a facility leaves
both unchanged.

Writers need not remember: the session factory (:func:`track_versions`) bumps the version of
a table whenever a statement or a flush inserts, updates or deletes its rows — except updates
that touch only :data:`UNVERSIONED_COLUMNS` (a facility's live status, read fresh anyway).
The bump is in the writer's transaction, so a rolled-back change leaves the version alone.
Versions start at a random number per database, so caches on disk from another database
(a reloaded demo, another test) never match.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from huizhili.storage.models import DataVersion

VERSIONED_TABLES = ("walk_ways", "facilities")
"""Tables whose content caches are built from."""

UNVERSIONED_COLUMNS: dict[str, frozenset[str]] = {
    "facilities": frozenset({"is_open", "queue_level", "status_note", "status_updated_at", "updated_at"}),
}
"""Columns whose change does not make a cache stale (they are always read fresh)."""


def versions(session: Session) -> dict[str, int]:
    """The current version of every versioned table."""
    return {name: version for name, version in session.execute(sa.select(DataVersion.name, DataVersion.version))}


def bump(session: Session, table: str) -> None:
    """Mark ``table`` changed, in the current transaction (on its connection: no ORM events, no autoflush)."""
    session.connection().execute(
        sa.update(DataVersion).where(DataVersion.name == table).values(version=DataVersion.version + 1)
    )


def track_versions(factory: sessionmaker[Session]) -> None:
    """Bump versions on every write made through sessions of ``factory``."""
    sa.event.listen(factory, "do_orm_execute", _on_statement)
    sa.event.listen(factory, "after_flush", _on_flush)


def _on_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if not isinstance(statement, UpdateBase):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name not in VERSIONED_TABLES:
        return
    if state.is_update and _only_unversioned(name, _updated_columns(statement)):
        return
    bump(state.session, name)


def _updated_columns(statement: Any) -> set[str]:
    """Names of the columns an UPDATE sets (empty when they cannot be told: then it counts)."""
    values = getattr(statement, "_values", None) or {}
    return {getattr(key, "key", None) or getattr(key, "name", None) or str(key) for key in values}


def _only_unversioned(table: str, columns: set[str]) -> bool:
    return bool(columns) and columns <= UNVERSIONED_COLUMNS.get(table, frozenset())


def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    changed: set[str | None] = set()
    for instance in (*session.new, *session.deleted):
        changed.add(getattr(instance, "__tablename__", None))
    for instance in session.dirty:
        table = getattr(instance, "__tablename__", None)
        if table in VERSIONED_TABLES:
            inspected = sa.inspect(instance)
            columns = {attr.key for attr in inspected.attrs if attr.history.has_changes()}
            if columns and not _only_unversioned(table, columns):
                changed.add(table)
    for table in sorted(set(VERSIONED_TABLES) & changed):
        bump(session, table)
