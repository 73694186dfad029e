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
    minute, hour = ROLLUP_RESOLUTIONS["minute"], ROLLUP_RESOLUTIONS["hour"]
    cuts: list[tuple[str, Any, Any, Any, int]] = [
        ("observations", Observation, Observation.observed_at, sa.true(), settings.retention_raw_days),
        ("minute_rollups", ObservationRollup, ObservationRollup.bucket, ObservationRollup.resolution == minute,
         settings.retention_minute_days),
        ("hour_rollups", ObservationRollup, ObservationRollup.bucket, ObservationRollup.resolution == hour,
         settings.retention_hour_days),
        ("dead_letters", DeadLetter, DeadLetter.received_at, sa.true(), settings.retention_dead_letter_days),
    ]
    outcomes = []
    for resource, model, column, which, days in cuts:
        before = now - timedelta(days=days)
        old = sa.and_(column < before, which)
        count = session.scalar(sa.select(sa.func.count()).select_from(model).where(old)) or 0
        if count and not dry_run:
            session.execute(sa.delete(model).where(old))
        outcomes.append(RetentionOutcome(resource, f"deleted {resource.replace('_', ' ')}", count, before))
    return outcomes
