"""Retention of time series: raw observations for weeks, minute and hour rollups longer, day rollups for good."""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.policy.privacy import RetentionOutcome
from huizhili.storage.models import ROLLUP_RESOLUTIONS, DeadLetter, Observation, ObservationRollup


def prune_series(session: Session, settings: Settings, *, now: datetime, dry_run: bool = False) -> list[RetentionOutcome]:
    """Delete raw observations older than ``retention_raw_days``, minute and hour rollups and dead letters past theirs.

    Charts of older spans read the coarser rollups, which are kept (``sensing.series``).
    Idempotent; run daily by the worker's retention job.
    """
    cuts: list[tuple[str, Any, Any, int | None, int]] = [
        ("observations", Observation, Observation.observed_at, None, settings.retention_raw_days),
        ("minute_rollups", ObservationRollup, ObservationRollup.bucket, ROLLUP_RESOLUTIONS["minute"],
         settings.retention_minute_days),
        ("hour_rollups", ObservationRollup, ObservationRollup.bucket, ROLLUP_RESOLUTIONS["hour"],
         settings.retention_hour_days),
    ]
    outcomes = []
    for resource, model, column, resolution, days in cuts:
        before = now - timedelta(days=days)
        old = sa.and_(column < before, ObservationRollup.resolution == resolution if resolution else sa.true())
        count = session.scalar(sa.select(sa.func.count()).select_from(model).where(old)) or 0
        if count and not dry_run:
            session.execute(sa.delete(model).where(old))
        outcomes.append(RetentionOutcome(resource, f"deleted {resource.replace('_', ' ')}", count, before))
    before = now - timedelta(days=settings.retention_dead_letter_days)
    old = DeadLetter.received_at < before
    count = session.scalar(sa.select(sa.func.count()).select_from(DeadLetter).where(old)) or 0
    if count and not dry_run:
        session.execute(sa.delete(DeadLetter).where(old))
    outcomes.append(RetentionOutcome("dead_letters", "deleted dead letters", count, before))
    return outcomes
