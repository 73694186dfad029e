"""Targets and their status: the value now, the goal, the trend, and a forecast to the deadline, per district and street.

A target's value is computed, never typed in:

- ``sum``: a project quantity (households, m2, km, count) done, added over a programme's
  projects; its history replays the progress reports (each says what is done by then);
- ``live`` ``park_coverage``: the share of residents within ``threshold_m`` of a park
  (``source_kind``) in a coverage table — the latest stored life-circle run that reports the
  area, or any table the caller passes (a what-if scenario's), through :func:`coverage_value`;
  its history is the stored runs';
- ``live`` ``case_on_time``: the on-time closure rate of cases received since the baseline date
  (``cases.evaluation``), month by month for the history;
- ``live`` ``facility_count``: the facilities of one kind in the area; no history is kept.

**The forecast rule.** The points are the baseline (for the target's own area, at its baseline
date), the history and the value now; the trend is their least-squares slope per day (none with
fewer than two distinct days), and the forecast is the value now plus the trend times the days
left to the deadline. The status is ``met`` once the value reaches the goal (downwards, for a
goal below its baseline); ``late`` once the deadline has passed without; ``on_track`` when the
forecast reaches the goal; ``at_risk`` when it falls short by less than :data:`AT_RISK_SHARE` of
the way from the start (the first point) to the goal, or when there is no trend yet; ``late``
when it falls shorter. A street's row has the target's goal when the goal is a share (coverage,
a rate: it holds for every street), and no goal or status when it is an absolute amount (the
district's 58.8 km are not every street's).
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.evaluation import Period, evaluate
from huizhili.cases.flow import CaseFlow
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Scope
from huizhili.programmes.catalogue import LIVE_SOURCES, MEASURES, QUANTITY_UNITS
from huizhili.storable import text_problem
from huizhili.storage.models import (
    Area,
    Facility,
    LifeCircleCoverage,
    LifeCircleRun,
    Programme,
    Project,
    ProjectProgress,
    Target,
)

AT_RISK_SHARE = 0.1
"""A forecast short of the goal by less than this share of the way from the start is at risk, by more late."""

SHARE_UNITS = frozenset({"share"})
"""Units of goals that hold for every street as for the district (a coverage, a rate: 0–1)."""

STATUSES = ("met", "on_track", "at_risk", "late")
"""A target row's status, from the forecast rule (module docstring)."""

_DAY_S = 86400.0


@dataclass(frozen=True)
class TargetSpec:
    """A target to create or update, by code (see :class:`~huizhili.storage.models.Target`)."""

    code: str
    name: str
    area_code: str
    measure: str
    goal: float
    unit: str
    deadline: date
    name_en: str | None = None
    programme: str | None = None
    quantity: str | None = None
    source: str | None = None
    source_kind: str | None = None
    threshold_m: float | None = None
    baseline: float | None = None
    baseline_date: date | None = None


@dataclass(frozen=True)
class Point:
    """One value of a target's measure at one time."""

    at: datetime
    value: float


def upsert_targets(session: Session, specs: Iterable[TargetSpec]) -> int:
    """Create targets or update them by code; returns how many were written.

    Raises
    ------
    ValidationError
        Naming the target and what is wrong, in Chinese and English.
    """
    written = 0
    for spec in specs:
        programme_id = _check(session, spec)
        target = session.scalar(sa.select(Target).where(Target.code == spec.code)) or Target(code=spec.code)
        for name in ("name", "name_en", "area_code", "measure", "goal", "unit", "deadline", "quantity", "source", "source_kind",
                     "threshold_m", "baseline", "baseline_date"):
            setattr(target, name, getattr(spec, name))
        target.programme_id = programme_id
        session.add(target)
        written += 1
    session.flush()
    return written


def list_targets(session: Session, scope: Scope) -> list[Target]:
    """The targets the scope shows, by code."""
    return list(session.scalars(sa.select(Target).where(scope.condition(Target)).order_by(Target.code)))


def get_target(session: Session, scope: Scope, code: str) -> Target:
    """The target of this code.

    Raises
    ------
    NotFoundError
        If there is none the scope shows.
    """
    target = session.scalar(sa.select(Target).where(Target.code == code, scope.condition(Target)))
    if target is None:
        message = f"没有指标 no target {code!r}"
        raise NotFoundError(message)
    return target


def target_status(session: Session, scope: Scope, target: Target, now: datetime, flow: CaseFlow, *,
                  coverage: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A target with its status in its own area and in each street of it the scope shows.

    Parameters
    ----------
    session, scope
        The caller's: values count only records the scope shows, rows only areas it shows.
    target
        The target (from :func:`get_target` or :func:`list_targets`).
    now
        The time the status is for (aware).
    flow
        The case flow, for the district's time zone and the case evaluation.
    coverage
        A coverage table (rows with ``area_code``, ``kind``, ``threshold_m``, ``population``,
        ``covered_population``, as ``network.lifecircle.coverage_table`` makes them) to take a
        live coverage target's value from instead of the latest stored run: a what-if's.

    Returns
    -------
    dict
        The target's fields and ``rows``: per area ``area_code``, ``area_name``, ``level``,
        ``value``, ``goal``, ``history`` (``[{at, value}]``), ``trend_per_year``, ``forecast``,
        ``status`` (one of :data:`STATUSES`, or None without a goal) and ``basis``.
    """
    zone = ZoneInfo(flow.timezone)
    areas = _row_areas(session, scope, target)
    series = _series(session, scope, target, areas, now, flow, coverage)
    rows = []
    for area in areas:
        value, history = series.get(area.code, (None, []))
        own = area.code == target.area_code
        goal = target.goal if own or target.unit in SHARE_UNITS else None
        baseline = _baseline_point(target, zone) if own else None
        rows.append({"area_code": area.code, "area_name": area.name, "level": area.level, "value": value, "goal": goal,
                     "history": [{"at": p.at.isoformat(), "value": p.value} for p in history],
                     **forecast(value, goal, target.deadline, now.astimezone(zone), [*([baseline] if baseline else []), *history],
                                decreasing=target.baseline is not None and target.goal < target.baseline)})
    return {**target_out(session, target), "rows": rows}


def targets_status(session: Session, scope: Scope, now: datetime, flow: CaseFlow, *,
                   coverage: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every target the scope shows with its status (:func:`target_status`), by code."""
    return [target_status(session, scope, target, now, flow, coverage=coverage) for target in list_targets(session, scope)]


def forecast(value: float | None, goal: float | None, deadline: date, now: datetime, points: Sequence[Point], *,
             decreasing: bool = False) -> dict[str, Any]:
    """The trend, forecast and status of one row by the forecast rule (module docstring).

    ``points`` are the baseline and history, oldest first; the value now is added to them.
    ``decreasing``: the goal is reached from above (a goal below the target's baseline).
    Returns ``trend_per_year``, ``forecast``, ``status`` and ``basis`` (which points the trend came from).
    """
    if value is None:
        return {"trend_per_year": None, "forecast": None, "status": None, "basis": "没有数据 no value yet"}
    every = [*points, Point(now, value)]
    days = np.array([p.at.timestamp() / _DAY_S for p in every])
    values = np.array([p.value for p in every])
    trend = float(np.polyfit(days, values, 1)[0]) if len(np.unique(np.round(days))) >= 2 else None
    left = max((deadline - now.date()).days, 0)
    ahead = value + trend * left if trend is not None else None
    basis = f"{len(every)} 个数据点的线性趋势 linear trend of {len(every)} points" if trend is not None else \
        "只有一个时点，尚无趋势 one point in time, no trend yet"
    out = {"trend_per_year": _rounded(trend * 365.25) if trend is not None else None, "forecast": _rounded(ahead),
           "basis": basis}
    if goal is None:
        return {**out, "status": None}
    start = every[0].value
    sign = -1.0 if decreasing else 1.0
    if sign * (value - goal) >= 0:
        status = "met"
    elif now.date() > deadline:
        status = "late"
    elif ahead is None:
        status = "at_risk"
    elif sign * (ahead - goal) >= 0:
        status = "on_track"
    else:
        status = "at_risk" if abs(goal - ahead) < AT_RISK_SHARE * abs(goal - start) else "late"
    return {**out, "status": status}


def coverage_value(rows: Iterable[Mapping[str, Any]], area: str, streets: Sequence[str], kind: str, threshold_m: float) -> float | None:
    """The covered share of an area's population in a coverage table, or None when the table does not report the area.

    The area's own row where there is one, else the sum over its streets when the table reports
    every one of them (a run over every street reports each street, not the district).
    """
    chosen = {str(r["area_code"]): r for r in rows if r["kind"] == kind and abs(float(r["threshold_m"]) - threshold_m) < 0.5}
    parts = [chosen[area]] if area in chosen else [chosen[s] for s in streets] if streets and all(s in chosen for s in streets) else []
    population = sum(float(r["population"]) for r in parts)
    if not parts or population <= 0:
        return None
    return round(sum(float(r["covered_population"]) for r in parts) / population, 4)


def target_out(session: Session, target: Target) -> dict[str, Any]:
    """A target's own fields, with its programme's code."""
    programme = session.get(Programme, target.programme_id) if target.programme_id is not None else None
    return {"code": target.code, "name": target.name, "name_en": target.name_en, "area_code": target.area_code,
            "measure": target.measure, "programme": programme.code if programme else None, "quantity": target.quantity,
            "source": target.source, "source_kind": target.source_kind, "threshold_m": target.threshold_m,
            "goal": target.goal, "unit": target.unit, "baseline": target.baseline,
            "baseline_date": target.baseline_date.isoformat() if target.baseline_date else None,
            "deadline": target.deadline.isoformat()}


def _row_areas(session: Session, scope: Scope, target: Target) -> list[Area]:
    """The target's area and, for a district's, its streets: those the scope shows."""
    visible = sa.and_(scope.condition(Area), sa.or_(Area.code == target.area_code, sa.and_(
        Area.parent_code == target.area_code, Area.level == "street")))
    areas = session.scalars(sa.select(Area).where(visible)).all()
    return sorted(areas, key=lambda a: (a.code != target.area_code, a.code))


def _series(session: Session, scope: Scope, target: Target, areas: Sequence[Area], now: datetime, flow: CaseFlow,
            coverage: Sequence[Mapping[str, Any]] | None) -> dict[str, tuple[float | None, list[Point]]]:
    """Area code → (value now, history) of the target's measure."""
    if target.measure == "sum":
        return _summed(session, scope, target, areas)
    if target.source == "park_coverage":
        return _covered(session, scope, target, areas, coverage)
    if target.source == "case_on_time":
        return _on_time(session, scope, target, areas, now, flow)
    return _facilities(session, scope, target, areas)


def _summed(session: Session, scope: Scope, target: Target, areas: Sequence[Area]) -> dict[str, tuple[float | None, list[Point]]]:
    """The quantity done over the programme's projects in each area, and its history from the progress reports."""
    unit = target.quantity or ""
    projects = session.execute(sa.select(Project.id, Project.district_code, Project.street_code, Project.done).where(
        Project.programme_id == target.programme_id, scope.condition(Project))).all()
    reports = session.execute(sa.select(ProjectProgress.project_id, ProjectProgress.at, ProjectProgress.done)
                              .where(ProjectProgress.project_id.in_([p.id for p in projects]))
                              .order_by(ProjectProgress.at, ProjectProgress.id)).all()
    out = {}
    for area in areas:
        column = "district_code" if area.level == "district" else "street_code"
        members = {p.id: p for p in projects if getattr(p, column) == area.code}
        latest: dict[int, float] = {}
        history = []
        for project_id, at, done in reports:
            if project_id in members and unit in done:
                latest[project_id] = float(done[unit])
                history.append(Point(at, _rounded(sum(latest.values())) or 0.0))
        value = sum(float(p.done.get(unit, 0)) for p in members.values())
        out[area.code] = (_rounded(value), history)
    return out


def _covered(session: Session, scope: Scope, target: Target, areas: Sequence[Area],
             coverage: Sequence[Mapping[str, Any]] | None) -> dict[str, tuple[float | None, list[Point]]]:
    """Each area's coverage in the latest stored run that reports it (or in ``coverage``), and the stored runs' history."""
    kind, threshold = target.source_kind or "park", target.threshold_m or 300.0
    stored = session.execute(
        sa.select(LifeCircleRun.id, LifeCircleRun.created_at, LifeCircleCoverage.area_code, LifeCircleCoverage.kind,
                  LifeCircleCoverage.threshold_m, LifeCircleCoverage.population, LifeCircleCoverage.covered_population)
        .join(LifeCircleRun, LifeCircleRun.id == LifeCircleCoverage.run_id)
        .where(LifeCircleCoverage.kind == kind, sa.func.abs(LifeCircleCoverage.threshold_m - threshold) < 0.5,
               scope.condition(LifeCircleCoverage))
        .order_by(LifeCircleRun.created_at, LifeCircleRun.id)).mappings().all()
    runs: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    times = {}
    for row in stored:
        runs[row["id"]].append(dict(row))
        times[row["id"]] = row["created_at"]
    streets = [a.code for a in session.scalars(sa.select(Area).where(Area.parent_code == target.area_code, Area.level == "street"))]
    out = {}
    for area in areas:
        below = streets if area.code == target.area_code and area.level == "district" else []
        history = [Point(times[run], value) for run, rows in runs.items()
                   if (value := coverage_value(rows, area.code, below, kind, threshold)) is not None]
        now_value = coverage_value(coverage, area.code, below, kind, threshold) if coverage is not None else \
            history[-1].value if history else None
        out[area.code] = (now_value, history)
    return out


def _on_time(session: Session, scope: Scope, target: Target, areas: Sequence[Area], now: datetime,
             flow: CaseFlow) -> dict[str, tuple[float | None, list[Point]]]:
    """The on-time closure rate since the baseline date (or the year's start), per street; the district's month by month."""
    zone = ZoneInfo(flow.timezone)
    since = target.baseline_date or date(now.astimezone(zone).year, 1, 1)
    period = Period(datetime.combine(since, time(), zone), now)
    if period.end <= period.start:
        return {}
    by_street = {row["key"]: row["on_time_rate"] for row in evaluate(session, scope, flow, "street", period)}
    months = sorted((row for row in evaluate(session, scope, flow, "month", period) if row["closed"]), key=lambda r: r["key"])
    # The rate so far at each month's end, so that the history and the value now measure the same thing.
    history, on_time, closed = [], 0.0, 0
    for row in months:
        on_time, closed = on_time + row["on_time_rate"] * row["closed"], closed + row["closed"]
        month = datetime.strptime(str(row["key"]), "%Y-%m").replace(tzinfo=zone)
        history.append(Point(min((month + timedelta(days=32)).replace(day=1), now), _rounded(on_time / closed) or 0.0))
    overall = history.pop().value if history else None
    return {area.code: (overall, history) if area.level == "district" else (by_street.get(area.code), []) for area in areas}


def _facilities(session: Session, scope: Scope, target: Target, areas: Sequence[Area]) -> dict[str, tuple[float | None, list[Point]]]:
    """The facilities of the kind the scope shows, in each area (no history is kept)."""
    out: dict[str, tuple[float | None, list[Point]]] = {}
    for area in areas:
        column = Facility.district_code if area.level == "district" else Facility.street_code
        count = session.scalar(sa.select(sa.func.count()).select_from(Facility).where(
            Facility.kind == target.source_kind, column == area.code, scope.condition(Facility))) or 0
        out[area.code] = (float(count), [])
    return out


def _baseline_point(target: Target, zone: ZoneInfo) -> Point | None:
    if target.baseline is None or target.baseline_date is None:
        return None
    return Point(datetime.combine(target.baseline_date, time(), zone), target.baseline)


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None and math.isfinite(value) else None


def _check(session: Session, spec: TargetSpec) -> int | None:
    """Refuse a target that could not be computed as given; the id of a summed target's programme."""
    what = f"指标 target {spec.code}"
    if not spec.code.strip() or len(spec.code) > 64 or not spec.name.strip() or len(spec.name) > 200 or \
            (spec.name_en is not None and len(spec.name_en) > 200) or text_problem([spec.code, spec.name, spec.name_en]):
        message = f"{what}：编号 1–64、名称 1–200 个字符 needs a code of 1–64 and a name of 1–200 characters"
        raise ValidationError(message)
    if spec.measure not in MEASURES:
        message = f"{what}：未知计量方式 unknown measure {spec.measure!r}; 可选 one of {', '.join(MEASURES)}"
        raise ValidationError(message)
    if session.scalar(sa.select(Area.id).where(Area.code == spec.area_code)) is None:
        message = f"{what}：没有区域 no area {spec.area_code!r}"
        raise ValidationError(message)
    if not math.isfinite(spec.goal) or (spec.baseline is not None and not math.isfinite(spec.baseline)):
        message = f"{what}：目标值和基线须为有限数 goal and baseline must be finite numbers"
        raise ValidationError(message)
    if spec.measure == "live":
        if spec.source not in LIVE_SOURCES:
            message = f"{what}：未知数据来源 unknown source {spec.source!r}; 可选 one of {', '.join(LIVE_SOURCES)}"
            raise ValidationError(message)
        if spec.source == "facility_count" and not spec.source_kind:
            message = f"{what}：设施数量须指明设施类别 a facility count names its facility kind (source_kind)"
            raise ValidationError(message)
        return None
    if spec.quantity not in QUANTITY_UNITS:
        message = f"{what}：未知数量单位 unknown quantity {spec.quantity!r}; 可选 one of {', '.join(QUANTITY_UNITS)}"
        raise ValidationError(message)
    programme_id = session.scalar(sa.select(Programme.id).where(Programme.code == spec.programme))
    if programme_id is None:
        message = f"{what}：没有计划 no programme {spec.programme!r}"
        raise ValidationError(message)
    return programme_id
