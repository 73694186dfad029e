"""Publishing: an event is written by the transaction that makes the change it describes."""

from typing import Any

from sqlalchemy.orm import Session

from huizhili.policy.privacy import masked
from huizhili.storage.models import AreaCoded, Event


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
