"""Retention of events: a live feed kept for watchers catching up, then deleted.

Events are not an audit trail. A watcher away longer than ``retention_event_days`` resumes
past what was deleted (positions are never reused, so its cursor stays valid); a record's
history belongs to its own domain — cases keep a permanent audit table of their own.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.policy.privacy import RetentionOutcome
from huizhili.storage.models import Event, utcnow


def prune(
    session: Session, settings: Settings, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionOutcome:
    """Delete events written more than ``settings.retention_event_days`` before ``now``.

    Idempotent; run daily (``huizhili retention``, the worker).

    Parameters
    ----------
    session
        The caller's transaction; the deletion commits with it.
    settings
        Where ``retention_event_days`` comes from.
    now
        The time the period is counted back from (default: the current time).
    dry_run
        Only count the events that are due.

    Returns
    -------
    RetentionOutcome
        How many events were (or, in a dry run, would be) deleted, and the cut-off.
    """
    before = (now or utcnow()) - timedelta(days=settings.retention_event_days)
    old = Event.at < before
    count = session.scalar(sa.select(sa.func.count()).select_from(Event).where(old)) or 0
    if count and not dry_run:
        session.execute(sa.delete(Event).where(old))
    return RetentionOutcome("events", "deleted events", count, before)
