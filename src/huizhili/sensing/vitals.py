"""Vital signs (数字体征) of areas: each indicator of ``indicators.toml`` per street and district, as data arrives.

An indicator is computed at the time of the newest reading that changes it, over its window:
each device's mean or maximum (from hour rollups for windows of an hour or more, minute
rollups below), then the mean or maximum over the area's active devices of its kind. Its value is kept
per hour (``indicator_values``, the history; the newest is the current level) and judged like a
scenario, so a street or the district gets its own alert.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy import Scope
from huizhili.sensing.alerts import AreaJudgment, Place, judge_areas, silent_devices
from huizhili.sensing.ingest import Reading, _insert
from huizhili.sensing.rules import Scenario
from huizhili.storage.models import (
    ALERT_LEVELS,
    Area,
    Device,
    IndicatorValue,
    ObservationRollup,
)

AREA_LEVELS = ("grid_code", "committee_code", "street_code", "district_code")
"""The levels each indicator is computed for, finest first (grid → committee → street → district)."""

ALERTING_LEVELS = frozenset({"street_code", "district_code"})
"""The levels whose vital signs raise alerts; finer ones are kept as values only, or one crowd would
raise five alerts."""


def update_vitals(
    session: Session, readings: Sequence[Reading], indicators: Sequence[Scenario], now: datetime, devices: dict[int, Device]
) -> None:
    """Recompute and judge the indicators that newly stored readings change (``devices``: theirs by id, as the ingest read them)."""
    if not readings or not indicators:
        return
    due: dict[tuple[str, str, str], tuple[datetime, Device]] = {}
    for reading in readings:
        device = devices[reading.device_id]
        for indicator in indicators:
            if indicator.extra.get("source") == "clock" or not indicator.applies_to(device.sensor_kind, reading.metric):
                continue
            for level in AREA_LEVELS:
                code = getattr(device, level)
                key = (indicator.id, level, code)
                if code and (key not in due or due[key][0] < reading.observed_at):
                    due[key] = (reading.observed_at, device)
    by_id = {i.id: i for i in indicators}
    names = dict(session.execute(sa.select(Area.code, Area.name).where(Area.code.in_({code for _, _, code in due}))).all())
    # One query per indicator and level, at the newest reading among its areas (a batch spans milliseconds).
    levels: dict[tuple[str, str], list[str]] = {}
    for ident, level, code in due:
        levels.setdefault((ident, level), []).append(code)
    values: dict[tuple[str, str], tuple[float, int]] = {}
    for (ident, level), codes in levels.items():
        at = max(due[(ident, level, code)][0] for code in codes)
        for code, found in _area_values(session, by_id[ident], level, codes, at).items():
            values[(ident, code)] = found
    judgments: list[AreaJudgment] = []
    for (ident, level, code), (at, device) in sorted(due.items(), key=lambda item: item[1][0]):
        indicator = by_id[ident]
        if (ident, code) not in values:
            continue
        value, sources = values[(ident, code)]
        _keep(session, indicator, code, at, value, sources)
        if level in ALERTING_LEVELS:
            place = Place(district_code=device.district_code, street_code=code if level == "street_code" else None,
                          name=names.get(code))
            evidence = {"indicator": ident.removeprefix("indicator:"), "sources": sources, "window_s": indicator.window_s}
            judgments.append((indicator, place, code, value, at, evidence))
    judge_areas(session, judgments, now)


def update_online_rates(session: Session, indicators: Sequence[Scenario], now: datetime, silence: Sequence[str]) -> None:
    """The share of devices online per street and district (run on the clock, each minute).

    Counted: active devices that report on a schedule and have been heard at least once;
    offline: those with an open alert of a ``silence`` rule (the library's no-data scenarios).
    """
    indicator = next((i for i in indicators if i.extra.get("aggregation") == "online"), None)
    if indicator is None:
        return
    silent = silent_devices(silence).scalar_subquery()
    offline = sa.func.sum(sa.case((Device.id.in_(silent), 1), else_=0))
    counted = sa.and_(Device.status == "active", Device.last_seen_at.is_not(None))
    judgments: list[AreaJudgment] = []
    for level in ("street_code", "district_code"):
        column = getattr(Device, level)
        rows = session.execute(sa.select(column, Device.district_code if level == "street_code" else column,
                                         sa.func.count(), offline)
                               .where(counted, column.is_not(None)).group_by(column, Device.district_code)).all()
        names = dict(session.execute(sa.select(Area.code, Area.name).where(Area.code.in_([r[0] for r in rows]))).all())
        for code, district, total, down in rows:
            rate = 100.0 * (total - (down or 0)) / total
            _keep(session, indicator, code, now, rate, total)
            place = Place(district_code=district, street_code=code if level == "street_code" else None, name=names.get(code))
            judgments.append((indicator, place, code, rate, now, {"devices": total, "silent": down or 0}))
    judge_areas(session, judgments, now)


def _area_values(
    session: Session, indicator: Scenario, level: str, codes: list[str], at: datetime
) -> dict[str, tuple[float, int]]:
    """The indicator's value for each area of one level at ``at``, and how many devices it was computed from."""
    start = at - timedelta(seconds=indicator.window_s)
    mean = indicator.extra.get("aggregation", "mean") == "mean"
    # From rollups, never raw rows: an hour's buckets for long windows, minutes for short ones, so the
    # cost does not grow with how often devices report.
    r = ObservationRollup
    resolution = 3600 if indicator.window_s >= 3600 else 60
    area = getattr(Device, level)
    value = sa.func.sum(r.total) / sa.func.sum(r.count) if mean else sa.func.max(r.maximum)
    rows = session.execute(
        sa.select(area, Device.capacity, value).join(r, r.device_id == Device.id)
        .where(r.metric == indicator.metric, r.resolution == resolution, r.bucket > start, r.bucket <= at,
               Device.sensor_kind == indicator.kind, Device.status == "active", area.in_(codes))
        .group_by(area, Device.id, Device.capacity)
    ).all()
    per_area: dict[str, list[float]] = {}
    for code, capacity, device_value in rows:
        if indicator.of_capacity:
            if not capacity:
                continue
            device_value = 100.0 * device_value / capacity
        per_area.setdefault(code, []).append(float(device_value))
    return {code: ((sum(v) / len(v) if mean else max(v)), len(v)) for code, v in per_area.items()}


def _keep(session: Session, indicator: Scenario, code: str, at: datetime, value: float, sources: int) -> None:
    """The hour's value of the indicator (the latest computed in that hour)."""
    table = IndicatorValue.__table__
    row = {"indicator": indicator.id.removeprefix("indicator:"), "area_code": code, "at": at.replace(minute=0, second=0, microsecond=0),
           "value": value, "level": indicator.level_of(value), "sources": sources}
    statement = _insert(session, table).values(row)
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.indicator, table.c.area_code, table.c.at],
        set_={"value": statement.excluded.value, "level": statement.excluded.level, "sources": statement.excluded.sources},
    ))


def vital_history(
    session: Session, scope: Scope, indicator: str, area: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """One indicator's hourly values and levels for one area, oldest first (at most a year of hours)."""
    v = IndicatorValue
    rows = session.execute(
        sa.select(v.at, v.value, v.level, v.sources)
        .where(v.indicator == indicator, v.area_code == area, v.at >= since, v.at < until, scope.condition(IndicatorValue))
        .order_by(v.at).limit(24 * 366)
    ).all()
    return [{"at": at.isoformat(), "value": value, "level": ALERT_LEVELS[level - 1] if level else None, "sources": sources}
            for at, value, level, sources in rows]


def vital_signs(session: Session, scope: Scope, indicators: Sequence[Scenario], area: str | None = None) -> list[dict[str, Any]]:
    """Each indicator's current value and level per area in the caller's scope (optionally one area and those below)."""
    v = IndicatorValue
    latest = (sa.select(v.indicator, v.area_code, sa.func.max(v.at).label("at"))
              .where(scope.condition(IndicatorValue)).group_by(v.indicator, v.area_code).subquery())
    query = (sa.select(v, Area.name, Area.level).join(latest, sa.and_(v.indicator == latest.c.indicator,
                                                                        v.area_code == latest.c.area_code, v.at == latest.c.at))
             .outerjoin(Area, Area.code == v.area_code).order_by(v.indicator, v.area_code))
    if area:
        query = query.where(v.area_code.startswith(area))
    names = {i.id.removeprefix("indicator:"): i for i in indicators}
    out = []
    for value, name, level in session.execute(query):
        indicator = names.get(value.indicator)
        out.append({
            "indicator": value.indicator, "zh": indicator.zh if indicator else value.indicator,
            "en": indicator.en if indicator else value.indicator, "unit": indicator.extra.get("unit") if indicator else None,
            "area_code": value.area_code, "area_name": name, "area_level": level, "at": value.at.isoformat(),
            "value": value.value, "level": ALERT_LEVELS[value.level - 1] if value.level else None, "sources": value.sources,
        })
    return out
