"""Reading: the events after a cursor that a scope may see, oldest first."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy import Scope
from huizhili.storage.models import Event


@dataclass(frozen=True)
class EventPage:
    """Events the caller may see, and the cursor to ask from next time."""

    events: list[dict[str, Any]]
    cursor: int


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
