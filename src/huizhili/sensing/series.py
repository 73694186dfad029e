"""A device's time series for a chart: raw points or rollups, never more points than a chart can draw."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Scope
from huizhili.sensing.devices import expected_metrics, reporting_interval
from huizhili.storage.models import (
    ROLLUP_RESOLUTIONS,
    Device,
    Observation,
    ObservationRollup,
    utcnow,
)

MAX_POINTS = 2000
"""Most points a series answer holds: about a chart's width in pixels, twice over."""

RESOLUTIONS = ("raw", *ROLLUP_RESOLUTIONS)
"""What ``resolution`` may ask: raw observations, or minute, hour or day rollups; ``auto`` picks."""


@dataclass(frozen=True)
class Series:
    """Points of one metric of one device: ``[t, mean, min, max, count, last]`` per bucket (raw: count 1)."""

    device: str
    metric: str
    unit: str
    resolution: str
    since: datetime
    until: datetime
    points: list[list[Any]]
    truncated: bool


def device_series(
    session: Session,
    scope: Scope,
    code: str,
    metric: str,
    since: datetime,
    until: datetime,
    resolution: str = "auto",
    max_points: int = MAX_POINTS,
    *,
    raw_days: int | None = None,
    minute_days: int | None = None,
) -> Series:
    """The series of ``metric`` of device ``code`` between ``since`` and ``until`` (aware times).

    ``auto`` takes the finest resolution whose buckets over the span fit in ``max_points``
    (raw where the device's reporting interval says so), so a year of minute data comes back as
    days — and that is still kept for ``since``: raw points for ``raw_days``, minute rollups for
    ``minute_days``, so a day long past comes back from its rollups, not empty. A resolution asked for explicitly is answered at most ``max_points`` points from
    ``since``, with ``truncated`` set.

    Raises
    ------
    NotFoundError
        If there is no such device in the caller's scope.
    ValidationError
        If the device does not measure ``metric``, or the span or resolution is wrong.
    """
    device = session.scalar(sa.select(Device).where(Device.code == code, scope.condition(Device)))
    if device is None:
        message = f"no device {code!r}"
        raise NotFoundError(message)
    specs = expected_metrics(device)
    if metric not in specs:
        message = f"device {code} does not measure {metric!r}; it measures {', '.join(sorted(specs)) or 'nothing'}"
        raise ValidationError(message)
    if until <= since:
        message = f"until ({until.isoformat()}) must be after since ({since.isoformat()})"
        raise ValidationError(message)
    if resolution not in {"auto", *RESOLUTIONS}:
        message = f"resolution must be auto, {', '.join(RESOLUTIONS)}"
        raise ValidationError(message)
    if resolution == "auto":
        resolution = _auto_resolution(until - since, reporting_interval(device), max_points)
        age = utcnow() - since
        if resolution == "raw" and raw_days is not None and age > timedelta(days=raw_days):
            resolution = "minute"
        if resolution == "minute" and minute_days is not None and age > timedelta(days=minute_days):
            resolution = "hour"
    if resolution == "raw":
        rows = session.execute(
            sa.select(Observation.observed_at, Observation.value)
            .where(Observation.device_id == device.id, Observation.metric == metric,
                   Observation.observed_at >= since, Observation.observed_at < until)
            .order_by(Observation.observed_at).limit(max_points + 1)
        ).all()
        points = [[t.isoformat(), v, v, v, 1, v] for t, v in rows]
    else:
        r = ObservationRollup
        rollups = session.execute(
            sa.select(r.bucket, r.total, r.count, r.minimum, r.maximum, r.last)
            .where(r.device_id == device.id, r.metric == metric, r.resolution == ROLLUP_RESOLUTIONS[resolution],
                   r.bucket > since - timedelta(seconds=ROLLUP_RESOLUTIONS[resolution]), r.bucket < until)
            .order_by(r.bucket).limit(max_points + 1)
        ).all()
        points = [[b.isoformat(), total / count, low, high, count, last] for b, total, count, low, high, last in rollups]
    return Series(code, metric, specs[metric]["unit"], resolution, since, until, points[:max_points], len(points) > max_points)


def _auto_resolution(span: timedelta, interval_s: int | None, max_points: int) -> str:
    """The finest resolution whose buckets over ``span`` number at most ``max_points``."""
    seconds = span.total_seconds()
    if interval_s and seconds / interval_s <= max_points:
        return "raw"
    for name, length in ROLLUP_RESOLUTIONS.items():
        if seconds / length <= max_points:
            return name
    return "day"
