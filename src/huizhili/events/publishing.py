"""Publishing: an event is written by the transaction that makes the change it describes."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy.privacy import masked
from huizhili.storage.models import AreaCoded, Event, utcnow


def publish(
    session: Session,
    kind: str,
    record: AreaCoded,
    *,
    resource: str,
    record_id: int | None,
    permission: str,
    payload: dict[str, Any],
    department: str | None = None,
) -> Event:
    """Record that ``record`` changed, visible to those with ``permission`` whose scope covers it.

    The event carries the record's area codes and its department: ``department``, else the
    record's owning one where it has one. Its
    payload is stored with the resource's personal fields masked (``policy.privacy.masked``), so
    no watcher, whatever the role, receives personal data unlogged.

    Publishing takes no lock: the database stores the writing transaction's id with the event
    (``Event.txid``), and readers wait for every earlier transaction to end before they move
    past it (``events.reading``), so publishers of unrelated changes never wait for each other.
    """
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
        department=department or getattr(record, "owner_department", None),
    )
    session.add(event)
    session.flush()
    return event


def publish_many(
    session: Session,
    kind: str,
    changes: list[tuple[AreaCoded, int, dict[str, Any], str | None]],
    *,
    resource: str,
    permission: str,
) -> None:
    """Record many changes of one kind at once, as :func:`publish` would one by one, in one statement.

    ``changes``: ``(record, record id, payload, department)`` each. A burst of thousands — devices
    falling silent together — stays one round trip.
    """
    if not changes:
        return
    at = utcnow()
    rows = [
        {"kind": kind, "permission": permission, "resource": resource, "record_id": record_id, "at": at,
         "payload": masked(resource, payload), "district_code": record.district_code, "street_code": record.street_code,
         "committee_code": record.committee_code, "grid_code": record.grid_code,
         "department": department or getattr(record, "owner_department", None)}
        for record, record_id, payload, department in changes
    ]
    session.execute(sa.insert(Event), rows)
