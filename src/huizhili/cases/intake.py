"""Intake: every channel's report becomes a case, or one more signal of an open case about the same incident.

Hotline operators, a 12345 export, citizens through Open311, grid officers' patrol finds
(自发现) and sensor alerts all arrive here. A report is located (WGS84, GCJ-02 or BD-09, or a
place the digital base knows), put in its street, committee and grid, classified where no
person chose its category, and then either **linked** — a report of the same category within
the category's radius and time window of an open case joins it as a signal, never dropped,
its reporter kept — or filed as a new case, numbered, routed and dispatched at once when its
category is known, all in the caller's transaction.
"""

import logging
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.assign import areas_at
from huizhili.base.crs import normalise_crs, to_wgs84
from huizhili.cases import deadlines
from huizhili.cases.dispatch import dispatch_automatically, metres_between, near_box
from huizhili.cases.flow import PLATFORM, CaseFlow
from huizhili.cases.trail import announce, record
from huizhili.departments import unknown_departments
from huizhili.errors import (
    AmbiguousError,
    ConflictError,
    ForbiddenError,
    HuizhiliError,
    NotFoundError,
    ValidationError,
)
from huizhili.policy import Principal, Scope
from huizhili.storable import text_problem
from huizhili.storage.engine import is_postgis
from huizhili.storage.models import Alert, Area, Case, CaseSignal, Device, Facility

CHANNELS = ("hotline", "open311", "sensor", "patrol", "import")
"""Where cases come from; ``patrol`` finds (自发现) are counted apart in evaluation."""

log = logging.getLogger(__name__)

PLATFORM_SCOPE = Scope.system()
"""The platform's own intake (sensor alerts) sees every case to link to."""

LIMITS = {"title": 200, "description": 10_000, "address": 300, "place": 200, "reporter_name": 100, "reporter_phone": 40,
          "external_ref": 64, "asset_ref": 100}
"""The longest text each field of a report may hold."""


@dataclass(frozen=True)
class Report:
    """One report of a problem, as its channel gives it."""

    channel: str
    title: str
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    place: str | None = None
    address: str | None = None
    category: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_user_id: int | None = None
    external_ref: str | None = None
    asset_ref: str | None = None
    received_at: datetime | None = None
    alert_id: int | None = None
    household_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Intake:
    """What became of a report: its case, and whether it joined one already open (``linked``)."""

    case: Case
    signal: CaseSignal
    linked: bool


def report_case(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, report: Report, now: datetime) -> Intake:
    """Take a report in: link it to the open case of its incident, or open a new case (filed and dispatched when its category is known).

    Raises
    ------
    ValidationError
        If a field is missing, too long or not storable text, the channel or category is
        unknown, the position is not one, or the place lies outside every area of the district.
    ForbiddenError
        If staff bound to areas report a place outside them.
    NotFoundError, AmbiguousError
        If a place name is unknown to the digital base, or names several places.
    ConfigurationError
        If the routing table names a unit that is not a department.
    """
    _check(report)
    received = report.received_at or now
    if received.tzinfo is None:
        message = "a report's time needs its time zone"
        raise ValidationError(message)
    lon, lat = _position(session, report)
    codes = areas_at(session, lon, lat) if lon is not None and lat is not None else {}
    if lon is not None and not codes.get("district_code"):
        message = f"({lon:.6f}, {lat:.6f}) lies outside every area of the district"
        raise ValidationError(message)
    _check_in_areas(principal, codes)
    category = flow.categories.get(report.category).code if report.category else None
    source, confidence, suggestions = ("person", None, []) if category else (None, None, _suggestions(flow, report))
    if category is None and suggestions and suggestions[0]["confidence"] >= flow.confident:
        category, source, confidence = suggestions[0]["category"], "model", suggestions[0]["confidence"]
    if category is not None and lon is not None and lat is not None:
        if is_postgis(session):  # two reports of one incident at once: the second must see the first's case
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"case-link:{category}"))))
        open_case = _open_case_nearby(session, flow, category, lon, lat, received)
        if open_case is not None:
            return _link(session, principal, open_case, report, lon, lat, received, now)
    case = Case(channel=report.channel, external_ref=report.external_ref, state="received", title=report.title.strip(),
                description=report.description.strip(), address=report.address or report.place, lon=lon, lat=lat,
                asset_ref=report.asset_ref, reporter_name=report.reporter_name, reporter_phone=report.reporter_phone,
                reporter_user_id=report.reporter_user_id, alert_id=report.alert_id, household_id=report.household_id,
                received_at=received,
                attributes=dict(report.attributes),
                created_by=principal.username, category=category, category_source=source, category_confidence=confidence,
                suggestions=suggestions, checkpoints=[], **codes)
    session.add(case)
    session.flush()
    case.number = tracking_number(flow, case)
    signal = _signal(session, case, report, lon, lat, received, "first")
    record(session, case, principal, "receive", None, None, {"channel": report.channel}, public=True, now=now)
    deadlines.start_stage(flow, case, now)
    if category is not None:
        file_and_dispatch(session, flow, case, now)
    announce(session, case, "case.received")
    return Intake(case, signal, linked=False)


def _suggestions(flow: CaseFlow, report: Report) -> list[dict[str, Any]]:
    """The classifier's likeliest three categories for the report's words (those the routing table knows), if there is one."""
    if flow.classifier is None:
        return []
    [prediction] = flow.classifier.predict([f"{report.title}\n{report.description}"])
    return [{"category": c.label, "confidence": round(float(c.confidence), 4)} for c in prediction.candidates
            if c.label in flow.categories.categories]


def tracking_number(flow: CaseFlow, case: Case) -> str:
    """The number a reporter follows the case by: the local day received, the case's id and four random digits.

    The random digits keep numbers from being guessed one after another (the public view answers
    anyone who holds one).
    """
    return f"{case.received_at.astimezone(ZoneInfo(flow.timezone)):%Y%m%d}{case.id:06d}{secrets.randbelow(10_000):04d}"


def file_and_dispatch(session: Session, flow: CaseFlow, case: Case, now: datetime) -> None:
    """The platform files a case whose category is known, then dispatches it to the unit the routing finds.

    Raises
    ------
    ConfigurationError
        If the routing table names a unit that is no department.
    """
    if case.category is None:
        return
    case.state = "filed"
    session.flush()
    record(session, case, PLATFORM, "file", "received", None, {"category": case.category}, public=True, now=now)
    deadlines.start_stage(flow, case, now)
    dispatch_automatically(session, flow, case, now)


def cases_from_alerts(session: Session, flow: CaseFlow, now: datetime) -> list[Intake]:
    """One case per alert episode of a scenario the categories take in: new, or joining citizens' reports of the same place.

    Alerts already a signal of a case are left alone, so each episode is taken once whatever
    how often this runs (the worker's case clock runs it every tick). An alert that cannot become
    a case (its device outside every area, a routing table naming no department) is logged once
    per process and left, in a savepoint of its own: it never stops the others.
    """
    scenarios = {s: c.code for c in flow.categories.categories.values() for s in c.scenarios}
    taken = sa.select(CaseSignal.alert_id).where(CaseSignal.alert_id.is_not(None))
    alerts = session.scalars(  # locked, so an operator opening a case for one of them by hand waits (case_for_alert)
        sa.select(Alert).where(Alert.active == 1, Alert.rule.in_(sorted(scenarios)), Alert.id.not_in(taken)).order_by(Alert.id)
        .with_for_update(of=Alert, skip_locked=True)
    ).all()
    intakes = []
    for alert in alerts:
        device = session.get(Device, alert.device_id) if alert.device_id else None
        if device is None:
            continue  # an area's indicator: a vital sign for the dashboard, not a place to send anyone
        if alert.id in _REFUSED_ALERTS:
            continue
        try:
            with session.begin_nested():
                intake = _alert_case(session, PLATFORM_SCOPE, PLATFORM, flow, alert, device, (device.lon, device.lat),
                                     scenarios[alert.rule], now, received_at=alert.opened_at)
                if not intake.linked and alert.department and not unknown_departments(session, [alert.department]):
                    _to_responder(session, flow, intake.case, alert.department, now)
        except HuizhiliError as error:
            _REFUSED_ALERTS.add(alert.id)
            log.warning("alert %d (%s) cannot become a case: %s", alert.id, alert.rule, error)
            continue
        intakes.append(intake)
    return intakes


def case_for_alert(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, alert_id: int, category: str,
                   now: datetime) -> Intake:
    """An operator makes a case of an alert the platform did not take in by itself (an area's vital sign, say), once.

    The case lies where the alert's device is, else inside its street or committee, else nowhere
    in particular (a district-wide alert).

    Raises
    ------
    NotFoundError
        If the alert is not in ``scope``.
    ConflictError
        If the alert already is a signal of a case (named).
    ValidationError
        If the category is unknown (and as :func:`report_case`).
    """
    alert = session.scalar(sa.select(Alert).where(Alert.id == alert_id, scope.condition(Alert)).with_for_update())
    if alert is None:
        message = f"no alert {alert_id} in your scope (您的范围内没有预警 {alert_id})"
        raise NotFoundError(message)
    taken = session.scalar(sa.select(Case.number).join(CaseSignal, CaseSignal.case_id == Case.id)
                           .where(CaseSignal.alert_id == alert_id).limit(1))
    if taken is not None:
        message = f"alert {alert_id} already is case {taken} (预警 {alert_id} 已立为案件 {taken})"
        raise ConflictError(message)
    device = session.get(Device, alert.device_id) if alert.device_id else None
    place = (device.lon, device.lat) if device is not None else _inside(session, alert.committee_code, alert.street_code)
    return _alert_case(session, scope, principal, flow, alert, device, place, category, now)


def _alert_case(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, alert: Alert, device: Device | None,
                place: tuple[float | None, float | None], category: str, now: datetime, received_at: datetime | None = None) -> Intake:
    """An alert taken in as a sensor report at ``place``; a case it joins remembers the alert if it had none."""
    report = Report(channel="sensor", title=str(alert.title.get("zh") or alert.rule)[:200], description=str(alert.title.get("en") or ""),
                    lon=place[0], lat=place[1], category=category, alert_id=alert.id, received_at=received_at,
                    external_ref=f"alert:{alert.id}", asset_ref=device.code if device is not None else None,
                    household_id=alert.household_id)
    intake = report_case(session, scope, principal, flow, report, now)
    if intake.linked and intake.case.alert_id is None:
        intake.case.alert_id = alert.id
    return intake


def _inside(session: Session, *codes: str | None) -> tuple[float | None, float | None]:
    """A point inside the first of the areas ``codes`` that has a boundary (a committee's, else its street's); none for a district-wide alert."""
    for code in codes:
        boundary = session.scalar(sa.select(Area.geometry).where(Area.code == code)) if code else None
        if boundary is not None:
            return _inner_point(boundary)
    return None, None


def _inner_point(boundary: Any) -> tuple[float, float]:
    """A point surely inside an area's boundary (its centroid may lie outside)."""
    inner = shapely.point_on_surface(boundary)
    return float(inner.x), float(inner.y)


_REFUSED_ALERTS: set[int] = set()
"""Alerts this process found cannot become cases: warned of once, not tried on every tick."""


def _to_responder(session: Session, flow: CaseFlow, case: Case, department: str, now: datetime) -> None:
    """A sensor case goes to the scenario's responder (or the device's owner), which the alert already names."""
    if case.department == department:
        return
    case.department, case.routed_by = department, "sensor"
    session.flush()
    record(session, case, PLATFORM, "reassign", case.state, None, {"department": department, "routed_by": "sensor"},
           public=False, now=now)
    deadlines.start_stage(flow, case, now)


_AREA_FIELDS = {"street_operator": ("street_code", "streets"), "committee_worker": ("committee_code", "committees"),
                "grid_officer": ("grid_code", "grid_cells")}


def _check_in_areas(principal: Principal, codes: dict[str, str | None]) -> None:
    """Staff bound to areas report what lies in them: a case they filed elsewhere would be one they cannot see."""
    fields = _AREA_FIELDS.get(principal.role)
    if fields is None:
        return
    code, mine = codes.get(fields[0]), getattr(principal, fields[1])
    if code not in mine:
        where = f"in {code}" if code else "without a position in your areas"
        message = f"a report {where} is outside your areas ({', '.join(sorted(mine))}): the hotline or the district takes it"
        raise ForbiddenError(message)


def _check(report: Report) -> None:
    if report.channel not in CHANNELS:
        message = f"unknown channel {report.channel!r}; channels: {', '.join(CHANNELS)}"
        raise ValidationError(message)
    if not report.title or not report.title.strip():
        message = "a report needs a title saying what is wrong"
        raise ValidationError(message)
    for name, longest in LIMITS.items():
        value = getattr(report, name)
        if value is not None and len(value) > longest:
            message = f"{name} has {len(value)} characters; at most {longest}"
            raise ValidationError(message)
    texts = [getattr(report, name) for name in LIMITS]
    if problem := text_problem(texts):
        message = f"a text value {problem}"
        raise ValidationError(message)


def _position(session: Session, report: Report) -> tuple[float | None, float | None]:
    """The report's WGS84 position: converted from the coordinates given, or the place named, or none."""
    if (report.lon is None) != (report.lat is None):
        message = "give both lon and lat, or neither"
        raise ValidationError(message)
    if report.lon is not None and report.lat is not None:
        if not (math.isfinite(report.lon) and math.isfinite(report.lat) and -180 <= report.lon <= 180 and -90 <= report.lat <= 90):
            message = f"({report.lon}, {report.lat}) is not a position"
            raise ValidationError(message)
        lon, lat = to_wgs84(report.lon, report.lat, normalise_crs(report.crs))
        return float(lon), float(lat)
    if report.place:
        return place_position(session, report.place)
    return None, None


def place_position(session: Session, name: str) -> tuple[float, float]:
    """Where a place the digital base knows lies: a service point by its exact name, else an area's inner point.

    Raises
    ------
    NotFoundError
        If no facility or area has this name.
    AmbiguousError
        If several facilities have it.
    """
    points = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.name == name.strip()).limit(2)).all()
    if len(points) > 1:
        message = f"several places are called {name!r}: give the position or a fuller name"
        raise AmbiguousError(message)
    if points:
        return float(points[0].lon), float(points[0].lat)
    area = session.scalar(sa.select(Area.geometry).where(Area.name == name.strip(), Area.geometry.is_not(None)).limit(1))
    if area is None:
        message = f"the digital base knows no place called {name!r}"
        raise NotFoundError(message)
    return _inner_point(area)


def _open_case_nearby(session: Session, flow: CaseFlow, category: str, lon: float, lat: float, at: datetime) -> Case | None:
    """The nearest open case of this category within its radius whose latest signal is within its window."""
    spec = flow.categories.get(category)
    if spec.link_radius_m <= 0 or spec.link_window_h <= 0:
        return None
    latest = sa.select(sa.func.max(CaseSignal.received_at)).where(
        CaseSignal.case_id == Case.id, CaseSignal.linked_by != "comment").scalar_subquery()  # a word on the case is no new report
    candidates = session.scalars(
        sa.select(Case).where(
            Case.category == category, Case.closed_at.is_(None), Case.merged_into_id.is_(None),
            Case.state.in_(flow.workflow.open_states()),
            near_box(Case.lon, Case.lat, lon, lat, spec.link_radius_m),
            latest >= at - timedelta(hours=spec.link_window_h),
        )
    ).all()
    near = [(metres_between(lon, lat, c.lon, c.lat), c.id, c) for c in candidates if c.lon is not None and c.lat is not None]
    near = [n for n in near if n[0] <= spec.link_radius_m]
    return min(near, key=lambda n: (n[0], n[1]))[2] if near else None


def _link(session: Session, principal: Principal, case: Case, report: Report, lon: float, lat: float, received: datetime,
          now: datetime) -> Intake:
    signal = _signal(session, case, report, lon, lat, received, "nearby")
    signals = session.scalar(sa.select(sa.func.count()).where(CaseSignal.case_id == case.id)) or 0
    if case.alert_id is None and report.alert_id is not None:
        case.alert_id = report.alert_id
    record(session, case, principal, "link", case.state, None,
           {"signal": signal.id, "channel": report.channel, "signals": signals}, public=False, now=now)
    announce(session, case, "case.linked")
    return Intake(case, signal, linked=True)


def _signal(session: Session, case: Case, report: Report, lon: float | None, lat: float | None, received: datetime,
            linked_by: str) -> CaseSignal:
    signal = CaseSignal(case_id=case.id, channel=report.channel, received_at=received,
                        text="\n".join(t for t in (report.title.strip(), report.description.strip()) if t),
                        lon=lon, lat=lat, reporter_name=report.reporter_name, reporter_phone=report.reporter_phone,
                        reporter_user_id=report.reporter_user_id, alert_id=report.alert_id,
                        external_ref=report.external_ref, linked_by=linked_by)
    session.add(signal)
    session.flush()
    return signal


