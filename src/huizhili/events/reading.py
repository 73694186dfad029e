"""Reading: the events after a position that a scope may see, in position order.

An event's position is (its writer's transaction id, its id); events of one transaction share
the first part. On PostgreSQL a reader takes only events below the *horizon*: the lowest id of
a transaction still running in this database (from the snapshot's list of running transactions,
less those pg_stat_activity places in other databases, which cannot write these events; or the
next id to be given, when none runs). Every transaction below the horizon has ended, committed
or rolled back, so no event can ever appear behind a reader that has passed it: a transaction
that began writing earlier but commits later is waited for, never skipped. Writers take no
lock for this (they only store their transaction id, the column's default), so publishers never
wait for one another. The price: a write transaction that stays open holds the horizon at its
id, and events committed meanwhile by later transactions reach watchers only once it ends —
any write transaction in the database, whether it publishes or not (an import, a forgotten
session: ``idle_in_transaction_session_timeout`` bounds the latter).

Order is by position: for two transactions, the order in which they first wrote. Two changes
of one record come in the order they were made when the change is its transaction's first
write (the second waits on the first's row lock with its id already taken, as
``base.status.update_status`` does); a transaction that wrote elsewhere first, then changed a
record another transaction changed meanwhile, has its event delivered before that one.

On SQLite one writer at a time commits and ids are given under its lock, so id order is commit
order: every transaction id is 0 and the horizon is the newest id.
"""

import re
from dataclasses import dataclass
from typing import Any, NamedTuple, Self

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import ValidationError
from huizhili.policy import Scope
from huizhili.storage.models import Event

CURSOR_PATTERN = r"^[0-9]{1,18}-[0-9]{1,18}$"
"""What a cursor looks like; clients treat it as opaque and pass it back as it came."""


class Position(NamedTuple):
    """Where an event stands in the feed: its writer's transaction id, then its own id."""

    txid: int
    event_id: int

    def __str__(self) -> str:
        """The cursor a client passes back: opaque to it."""
        return f"{self.txid}-{self.event_id}"

    @classmethod
    def parse(cls, cursor: str) -> Self:
        """The position a cursor stands for.

        Raises
        ------
        ValidationError
            If ``cursor`` is not one the platform gave out.
        """
        if not re.fullmatch(CURSOR_PATTERN, cursor):
            message = f"not an event cursor: {cursor[:40]!r} (pass back a cursor as it came)"
            raise ValidationError(message)
        txid, event_id = cursor.split("-")
        return cls(int(txid), int(event_id))


START = Position(0, 0)
"""Before every event: reading from here returns the oldest event kept first."""


@dataclass(frozen=True)
class EventPage:
    """Events the caller may see, and the position to ask from next time."""

    events: list[dict[str, Any]]
    cursor: Position


_PG_HORIZON = sa.text("""
    SELECT least(
        pg_snapshot_xmax(snapshot)::text::bigint,
        pg_current_xact_id_if_assigned()::text::bigint,
        (SELECT min(running::text::bigint) FROM pg_snapshot_xip(snapshot) AS running
         WHERE running::text::bigint % 4294967296 NOT IN (
             SELECT backend_xid::text::bigint FROM pg_stat_activity
             WHERE backend_xid IS NOT NULL
               AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))))
    FROM pg_current_snapshot() AS snapshot
""")
"""The lowest transaction id that may still write events here: the reader's own if it has one,
else the lowest one running in this database, else the next to be given. pg_stat_activity
names 32-bit ids, the low half of the snapshot's 64-bit ones (those running differ by less
than 2**31); a transaction it does not show (prepared, or just ended) counts as this database's."""


def current_position(session: Session) -> Position:
    """The horizon: every event at or before it is final. Where a watcher starting now begins."""
    if session.get_bind().dialect.name == "postgresql":
        # No event has id 0, so (horizon, 0) lies after every event of earlier transactions, before any of its own.
        return Position(session.scalar(_PG_HORIZON) or 0, 0)
    return Position(0, session.scalar(sa.select(sa.func.max(Event.id))) or 0)


def read_events(
    session: Session, scope: Scope, after: Position, limit: int, *, horizon: Position | None = None
) -> EventPage:
    """Up to ``limit`` events after ``after`` that ``scope`` may see, in position order.

    Parameters
    ----------
    session
        Any session; the read writes nothing.
    scope
        Whose events: the caller's scope.
    after
        The cursor the caller holds (:data:`START`: from the oldest event kept).
    limit
        The most events returned.
    horizon
        Read up to this position, from :func:`current_position` in the same session; one
        horizon shared by several reads brings their cursors to the same place. Default: now.

    Returns
    -------
    EventPage
        The events, and the cursor to read after next: the last event's position if the page
        is full, else the horizon (or ``after``, never moving back) — past events the caller
        may not see, so a scoped watcher does not scan them again. The horizon is taken before the read, so the read sees every
        event at or below it, and an event committed meanwhile waits for the next read.
    """
    horizon = current_position(session) if horizon is None else horizon
    position = sa.tuple_(Event.txid, Event.id)
    rows = session.scalars(
        sa.select(Event)
        .where(position > sa.tuple_(*after), position <= sa.tuple_(*horizon), scope.condition(Event))
        .order_by(Event.txid, Event.id)
        .limit(limit)
    ).all()
    cursor = Position(rows[-1].txid, rows[-1].id) if len(rows) == limit else max(after, horizon)
    return EventPage([_as_dict(event) for event in rows], cursor)


def _as_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "cursor": str(Position(event.txid, event.id)),
        "at": event.at.isoformat(),
        "kind": event.kind,
        "resource": event.resource,
        "record_id": event.record_id,
        "street_code": event.street_code,
        "committee_code": event.committee_code,
        "grid_code": event.grid_code,
        "payload": event.payload,
    }
