"""Live status of facilities: open or closed, queue level, a note — set by a feed or an operator."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.features import to_feature
from huizhili.errors import NotFoundError, ValidationError
from huizhili.events import publish
from huizhili.policy import Scope
from huizhili.storage.models import Facility, utcnow

QUEUE_LEVELS = ("none", "short", "medium", "long")
"""Queue levels, from no wait to a long one."""


def update_status(
    session: Session,
    facility_id: int,
    *,
    is_open: bool | None = None,
    queue_level: str | None = None,
    note: str | None = None,
    scope: Scope,
) -> dict[str, Any]:
    """Change a facility's live status; fields left None keep their value.

    Watchers of the live stream see the change as a ``facility.status`` event.

    Returns
    -------
    dict
        The facility as a GeoJSON Feature, with ``status_updated_at`` set to now.

    Raises
    ------
    NotFoundError
        If the facility does not exist, or the caller may not change it (outside her streets,
        not his department's): a record one may not change is not confirmed to exist.
    ValidationError
        If the queue level is unknown or nothing is changed.
    """
    if queue_level is not None and queue_level not in QUEUE_LEVELS:
        message = f"queue level must be one of {', '.join(QUEUE_LEVELS)}, not {queue_level!r}"
        raise ValidationError(message)
    if is_open is None and queue_level is None and note is None:
        message = "give at least one of is_open, queue_level, note"
        raise ValidationError(message)
    facility = session.scalar(sa.select(Facility).where(Facility.id == facility_id, scope.writable(Facility)))
    if facility is None:
        message = f"no facility {facility_id}"
        raise NotFoundError(message)
    if is_open is not None:
        facility.is_open = is_open
    if queue_level is not None:
        facility.queue_level = queue_level
    if note is not None:
        facility.status_note = note
    facility.status_updated_at = utcnow()
    session.flush()
    feature = to_feature(facility)
    publish(session, "facility.status", facility, resource="facilities", record_id=facility.id,
            permission="read:public", payload=feature)
    return feature
