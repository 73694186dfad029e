"""Live events: changes written beside the data they describe, read back in order and in scope.

A change that people watch — a facility opening or closing now; alerts and cases later — is
published with :func:`publish` in the same transaction as the change itself, so no watcher
sees an event whose change was rolled back. Watchers ask for the events after the last id
they saw (:func:`read_events`); the caller's :class:`~huizhili.policy.Scope` filters them like
any other area-coded table, so a street operator's stream holds her streets and nothing else.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy import Scope
from huizhili.policy.privacy import masked
from huizhili.storage.models import AreaCoded, Event

_PUBLISH_LOCK = 0x68757A68  # "huzh": one advisory lock key for event writers on PostgreSQL


@dataclass(frozen=True)
class EventPage:
    """Events the caller may see, and the cursor to ask from next time."""

    events: list[dict[str, Any]]
    cursor: int


def publish(
    session: Session,
    kind: str,
    record: AreaCoded,
    *,
    resource: str,
    record_id: int | None,
    permission: str,
    payload: dict[str, Any],
) -> Event:
    """Record that ``record`` changed, visible to those with ``permission`` whose scope covers it.

    The event carries the record's area codes and, where it has one, its owning department. Its
    payload is stored with the resource's personal fields masked (``policy.privacy.masked``), so
    no watcher, whatever the role, receives personal data unlogged.

    On PostgreSQL, event writers take a transaction-scoped advisory lock, so ids become visible
    in commit order and a watcher reading "after id N" never skips a later-committed lower id.
    SQLite serialises writers already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PUBLISH_LOCK)))
    event = Event(
        kind=kind,
        permission=permission,
        resource=resource,
        record_id=record_id,
        payload=masked(resource, payload),
        district_code=record.district_code,
        street_code=record.street_code,
        committee_code=record.committee_code,
        grid_code=record.grid_code,
        department=getattr(record, "owner_department", None),
    )
    session.add(event)
    session.flush()
    return event


def newest_id(session: Session) -> int:
    """The id of the newest event (0 when there is none): where a watcher starting now begins."""
    return session.scalar(sa.select(sa.func.max(Event.id))) or 0


def read_events(session: Session, scope: Scope, after: int, limit: int) -> EventPage:
    """Up to ``limit`` events with ids above ``after`` that ``scope`` may see, oldest first.

    The cursor moves past events the caller may not see, so a scoped watcher does not scan
    them again; it is taken before the read, so an event committed meanwhile waits for the next.
    """
    newest = newest_id(session)
    rows = session.scalars(
        sa.select(Event)
        .where(Event.id > after, Event.id <= newest, scope.condition(Event))
        .order_by(Event.id)
        .limit(limit)
    ).all()
    cursor = rows[-1].id if len(rows) == limit else newest
    return EventPage([_as_dict(event) for event in rows], cursor)


def prune_events(session: Session, before: datetime, *, dry_run: bool = False) -> int:
    """Delete events written before ``before`` (with ``dry_run``, only count them); returns how many."""
    old = Event.at < before
    count = session.scalar(sa.select(sa.func.count()).select_from(Event).where(old)) or 0
    if count and not dry_run:
        session.execute(sa.delete(Event).where(old))
    return count


def _as_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "resource": event.resource,
        "record_id": event.record_id,
        "street_code": event.street_code,
        "committee_code": event.committee_code,
        "grid_code": event.grid_code,
        "payload": event.payload,
    }
