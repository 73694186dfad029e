"""Early warning (预警): rules judge what arrives and the clock judges what does not; alerts live here.

An alert is about one subject — a device's series (``device:<code>/<metric>``) or an area's
vital sign (``area:<code>``) — under one rule, and at most one is active (open or acknowledged)
per rule and subject. It opens once its condition has lasted the rule's ``for_s``, escalates
as the value worsens (it keeps its worst level), and resolves itself on recovery: the value back
past the lowest level by the hysteresis margin, and the alert open at least ``min_hold_s``, so
that a value hovering at a threshold does not flap. Each change is an event for the stream, in
the scope of whoever may read the alert. What a rule remembers between batches (when its
condition began, the window of recent points) is kept in ``rule_states``, written with the
observations, so a restart forgets nothing.

Silence is judged on the clock, not on arrival: every device's deadline (``silent_after``) is
moved on by the ingest, and :func:`check_silence` — run by the worker several times a second —
opens a no-data alert for each device whose deadline has passed, timed at the deadline.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.status import update_status
from huizhili.errors import ConflictError, NotFoundError, ValidationError
from huizhili.events import publish, publish_many
from huizhili.policy import Principal, Scope
from huizhili.sensing.detectors import DefaultDetector, ResidualDetector, detector_from_dict
from huizhili.sensing.devices import reporting_interval
from huizhili.sensing.ingest import Reading
from huizhili.sensing.rules import Scenario
from huizhili.storage.models import (
    ALERT_LEVELS,
    ALERT_STATES,
    Alert,
    AreaCoded,
    Device,
    Facility,
    Household,
    RuleState,
)

EVIDENCE_POINTS = 30
"""Most recent points an alert keeps as the evidence that raised it."""

JUDGED_ON_ARRIVAL = frozenset({"threshold", "mean", "sum", "rate", "anomaly", "facility_status"})
"""Rules judged as readings arrive; ``no_data`` is judged on the clock."""


@dataclass(frozen=True)
class Place:
    """Where an area's vital sign is filed: the area's own code at its level and the codes above it."""

    district_code: str | None
    street_code: str | None = None
    committee_code: str | None = None
    grid_code: str | None = None
    name: str | None = None
    """The area's name, for the alert's title."""


def evaluate(
    session: Session, readings: Sequence[Reading], scenarios: Sequence[Scenario], now: datetime, devices: dict[int, Device]
) -> None:
    """Judge newly stored readings by every scenario that watches them (``devices``: theirs by id, as the ingest read them).

    Devices in maintenance are stored but not judged; retired ones never get here.
    """
    if not readings:
        return
    series: dict[tuple[int, str], list[Reading]] = defaultdict(list)
    for reading in sorted(readings, key=lambda r: r.observed_at):
        series[(reading.device_id, reading.metric)].append(reading)
    households = {d.household_id for d in devices.values() if d.household_id}
    consenting = set(session.scalars(sa.select(Household.id).where(
        Household.id.in_(households), Household.left_at.is_(None)))) if households else set()
    work = []
    for (device_id, metric), points in series.items():
        device = devices[device_id]
        if device.status != "active":
            continue
        for scenario in scenarios:
            if scenario.extra.get("needs_consent") and device.household_id not in consenting:
                continue  # a household's devices are judged for it only while it is in
            if scenario.rule in JUDGED_ON_ARRIVAL and scenario.applies_to(device.sensor_kind, metric):
                work.append((scenario, device, f"device:{device.code}/{metric}", points))
            if scenario.rule == "facility_status" and scenario.applies_to(device.sensor_kind, metric):
                _set_facility_status(session, scenario, device, points[-1].value)
    book = _Book(session, [(s.id, subject) for s, _, subject, _ in work])
    for scenario, device, subject, points in work:
        state = book.state(scenario.id, subject)
        for point in points:
            value = _judged_value(scenario, device, point, state)
            if value is not None:
                book.judge(scenario, subject, value, point.observed_at, state, device, now)
        book.remember(scenario.id, subject, state)
    book.save(now)


def silence_rules(scenarios: Sequence[Scenario]) -> list[str]:
    """Ids of the library's no-data scenarios (``device_silent`` in the shipped one)."""
    return [s.id for s in scenarios if s.rule == "no_data"]


def silent_devices(silence: Sequence[str]) -> sa.Select[int | None]:
    """Ids of the devices an open alert of a ``silence`` rule calls silent: offline, for the online rate and the map."""
    return sa.select(Alert.device_id).where(Alert.rule.in_(silence), Alert.active == 1)


def recover_heard(session: Session, device_ids: Iterable[int], now: datetime, scenarios: Sequence[Scenario]) -> None:
    """Devices that sent something are no longer silent: their no-data alerts resolve."""
    ids, rules = list(device_ids), silence_rules(scenarios)
    if not ids or not rules:
        return
    silent = session.scalars(sa.select(Alert).where(Alert.rule.in_(rules), Alert.active == 1, Alert.device_id.in_(ids)))
    for alert in silent:
        _resolve(session, alert, now, "recovered", value=None)


SILENCE_PAGE = 500
"""Most devices one check opens no-data alerts for: a transaction stays short even when a broker outage
silences thousands at once (the clock checks again at once while a page comes back full)."""


def check_silence(session: Session, scenarios: Sequence[Scenario], now: datetime, *, page: int = SILENCE_PAGE) -> int:
    """Open a no-data alert for active devices whose deadline has passed, oldest deadline first; how many were due.

    The alert is timed at the deadline itself, and the device's deadline is cleared until it
    reports again, so each silence is one alert and the next check reads only new deadlines.
    On PostgreSQL the due devices are locked, skipping those another worker's clock holds.
    """
    scenario = next((s for s in scenarios if s.rule == "no_data"), None)
    due = session.scalars(
        sa.select(Device).where(Device.silent_after <= now, Device.status == "active").order_by(Device.silent_after)
        .limit(page).with_for_update(skip_locked=True)
    ).all()
    if not due:
        return 0
    if scenario is None:  # no rule watches for silence: nothing to do but stop counting
        for device in due:
            device.silent_after = None
        session.flush()
        return len(due)
    subjects = [f"device:{d.code}" for d in due]
    already = set(session.scalars(sa.select(Alert.subject).where(Alert.rule == scenario.id, Alert.active == 1,
                                                                 Alert.subject.in_(subjects))))
    opened = []
    for device, subject in zip(due, subjects, strict=True):
        deadline = device.silent_after
        assert deadline is not None
        if subject not in already:  # one alert per silence, whoever opened it
            opened.append((device, deadline, {"last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
                                              "deadline": deadline.isoformat()}))
        device.silent_after = None
    session.flush()
    _open_many(session, scenario, opened, now)
    return len(due)


AreaJudgment = tuple[Scenario, Place, str, float, datetime, dict[str, Any]]
"""A vital sign to judge: the indicator, where it is filed, the area's code, its value, when, and the evidence."""


def judge_areas(session: Session, judgments: Sequence[AreaJudgment], now: datetime) -> None:
    """Judge areas' vital signs (used by ``sensing.vitals``): one read of their states and alerts for all of them."""
    if not judgments:
        return
    book = _Book(session, [(scenario.id, f"area:{code}") for scenario, _, code, _, _, _ in judgments])
    for scenario, place, code, value, at, evidence in judgments:
        subject = f"area:{code}"
        state = book.state(scenario.id, subject)
        state["window"] = [[at.isoformat(), value]]
        state["evidence"] = evidence
        book.judge(scenario, subject, value, at, state, place, now)
        book.remember(scenario.id, subject, state)
    book.save(now)


def _set_facility_status(session: Session, scenario: Scenario, device: Device, value: float) -> None:
    """A queue counter sets its service point's live status (the finder shows it): the busiest step its count reaches."""
    facility_id = (device.properties or {}).get("facility")
    if not isinstance(facility_id, int):
        return
    steps = sorted(scenario.extra.get("statuses", {}).items(), key=lambda step: step[1])
    level = "none"
    for name, start in steps:
        if value >= start:
            level = name
    found = session.execute(sa.select(Facility.queue_level).where(Facility.id == facility_id)).first()
    if found is None:
        return  # the service point was removed since the counter was provisioned: its counts stay, no status to set
    if found[0] != level:
        update_status(session, facility_id, queue_level=level, scope=Scope.system())


def _judged_value(scenario: Scenario, device: Device, point: Reading, state: dict[str, Any]) -> float | None:
    """The value a scenario judges for a point.

    The value itself, its share of capacity, a window's mean or sum, or how unusual it is for
    this series (``anomaly``: the detector's state is kept with the rule's).
    """
    value = point.value
    if scenario.rule == "anomaly":
        learned = scenario.extra.get("detector", "learned") == "learned"
        detector = detector_from_dict(state["detector"]) if "detector" in state else (
            DefaultDetector() if learned else ResidualDetector())
        score = detector.update(point.observed_at, value)
        state["detector"] = detector.to_dict()
        window = state.setdefault("window", [])
        window.append([point.observed_at.isoformat(), value, round(score, 3)])
        del window[:-EVIDENCE_POINTS]
        first = datetime.fromisoformat(state.setdefault("first", point.observed_at.isoformat()))
        learning = point.observed_at - first < timedelta(days=float(scenario.extra.get("learn_days", 7 if learned else 0)))
        return None if learning else score  # a detector that has not yet seen a week knows no pattern
    if scenario.rule == "rate":
        window = state.setdefault("window", [])
        window.append([point.observed_at.isoformat(), value])
        start = (point.observed_at - timedelta(seconds=scenario.window_s)).isoformat()
        window[:] = [p for p in window if p[0] >= start]
        if datetime.fromisoformat(window[0][0]) > point.observed_at - timedelta(seconds=scenario.window_s / 2):
            return None  # too little of the window seen to speak of a rate
        change = value - float(window[0][1])
        return change if scenario.direction == "above" else -change
    if scenario.of_capacity:
        if not device.capacity:
            return None
        value = 100.0 * value / device.capacity
    window = state.setdefault("window", [])
    window.append([point.observed_at.isoformat(), value])
    if scenario.rule in {"mean", "sum"}:
        first = state.setdefault("first", point.observed_at.isoformat())
        start = (point.observed_at - timedelta(seconds=scenario.window_s)).isoformat()
        window[:] = [p for p in window if p[0] > start]
        values = [float(p[1]) for p in window]
        judged = sum(values) / len(values) if scenario.rule == "mean" else sum(values)
        if scenario.direction == "below" and first > start:
            return None  # "too little over 12 h" needs 12 h of watching first
        if scenario.extra.get("baseline_days"):
            judged /= _baseline_factor(scenario, point, state)
        return judged
    del window[:-EVIDENCE_POINTS]
    return value


def _baseline_factor(scenario: Scenario, point: Reading, state: dict[str, Any]) -> float:
    """How far a series' own busiest recent day raises its levels (its per-household baseline).

    A household that always cleans on Saturdays is no alarm on Saturdays: the levels start at
    1.2× its busiest day of the last ``baseline_days`` (today aside), never below the scenario's.
    Days are UTC dates.
    """
    days: dict[str, float] = state.setdefault("days", {})
    today = point.observed_at.date().isoformat()
    days[today] = days.get(today, 0.0) + point.value
    for day in sorted(days)[: -int(scenario.extra["baseline_days"]) - 1]:
        del days[day]
    lowest = min(s for s in scenario.levels if s is not None)
    busiest = max((v for d, v in days.items() if d != today), default=0.0)
    state["baseline"] = busiest
    return max(1.0, 1.2 * busiest / lowest)


class _Book:
    """The rule states and active alerts of a batch's subjects, read at once and written back at once."""

    def __init__(self, session: Session, keys: Sequence[tuple[str, str]]) -> None:
        self.session = session
        self.keys = set(keys)
        rules = {rule for rule, _ in self.keys}
        subjects = {subject for _, subject in self.keys}
        rows: Iterable[RuleState] = session.scalars(
            sa.select(RuleState).where(RuleState.rule.in_(rules), RuleState.subject.in_(subjects)).with_for_update()
        ) if self.keys else []
        self.states = {(r.rule, r.subject): r for r in rows}
        active: Iterable[Alert] = session.scalars(
            sa.select(Alert).where(Alert.active == 1, Alert.rule.in_(rules), Alert.subject.in_(subjects)).with_for_update()
        ) if self.keys else []
        self.alerts = {(a.rule, a.subject): a for a in active}

    def state(self, rule: str, subject: str) -> dict[str, Any]:
        """A working copy of what the rule remembers of the subject; :meth:`remember` keeps it.

        Deep: the stored JSON must not change under SQLAlchemy's feet, or the change is not seen.
        """
        row = self.states.get((rule, subject))
        if row is None:
            row = self.states[(rule, subject)] = RuleState(rule=rule, subject=subject, state={})
            self.session.add(row)
        return json.loads(json.dumps(row.state)) if row.state else {}  # plain JSON: faster than copy.deepcopy

    def remember(self, rule: str, subject: str, state: dict[str, Any]) -> None:
        """Keep the working copy (a new object: the stored one is untouched, so the change is seen)."""
        self.states[(rule, subject)].state = state

    def judge(self, scenario: Scenario, subject: str, value: float, at: datetime, state: dict[str, Any],
              record: AreaCoded | Place, now: datetime) -> None:
        """One step of a subject's alert: open after ``for_s``, escalate, or resolve on recovery after ``min_hold_s``."""
        key = (scenario.id, subject)
        level = scenario.level_of(value)
        alert = self.alerts.get(key)
        if level:
            since = state.setdefault("since", at.isoformat())
            if at - datetime.fromisoformat(since) >= timedelta(seconds=scenario.for_s):
                evidence = {"window": state.get("window", [])[-EVIDENCE_POINTS:], **state.get("evidence", {})}
                self.open_or_escalate(scenario, subject, level, value, at, evidence, record, now)
            elif alert is not None:
                alert.value = value
        else:
            if scenario.recovered(value):
                state.pop("since", None)
            if alert is not None:
                alert.value = value
                if scenario.recovered(value) and at - alert.opened_at >= timedelta(seconds=scenario.min_hold_s):
                    _resolve(self.session, alert, now, "recovered", value)
                    del self.alerts[key]

    def open_or_escalate(self, scenario: Scenario, subject: str, level: int, value: float | None, at: datetime,
                         evidence: dict[str, Any], record: AreaCoded | Place, now: datetime) -> None:
        key = (scenario.id, subject)
        alert = self.alerts.get(key)
        if alert is None:
            alert = _open(self.session, scenario, subject, level, value, at, evidence, record, now)
            self.alerts[key] = alert
        elif level > alert.level:
            alert.level, alert.escalated_at, alert.value, alert.evidence = level, at, value, evidence
            _announce(self.session, alert, "alert.escalated")
        else:
            alert.value = value

    def save(self, now: datetime) -> None:
        for row in self.states.values():
            row.updated_at = now
        self.session.flush()


def _open(session: Session, scenario: Scenario, subject: str, level: int, value: float | None, at: datetime,
          evidence: dict[str, Any], record: AreaCoded | Place, now: datetime) -> Alert:
    alert = _new_alert(scenario, subject, level, value, at, evidence, record, now)
    session.add(alert)
    session.flush()
    _announce(session, alert, "alert.opened")
    return alert


def _open_many(session: Session, scenario: Scenario, opened: list[tuple[Device, datetime, dict[str, Any]]], now: datetime) -> None:
    """Open device alerts of one scenario in bulk — one insert for the alerts, one for their events."""
    if not opened:
        return
    alerts = [_new_alert(scenario, f"device:{d.code}", 1, None, at, evidence, d, now) for d, at, evidence in opened]
    table = Alert.__table__
    columns = [c.key for c in table.columns if c.key != "id"]
    ids = session.scalars(
        sa.insert(Alert).returning(Alert.id, sort_by_parameter_order=True),
        [{c: getattr(alert, c) for c in columns} for alert in alerts],
    ).all()
    for alert, ident in zip(alerts, ids, strict=True):
        alert.id = ident
    publish_many(session, "alert.opened", [(a, a.id, alert_out(a), a.department) for a in alerts],
                 resource="alerts", permission="read:alerts")


def _new_alert(scenario: Scenario, subject: str, level: int, value: float | None, at: datetime,
               evidence: dict[str, Any], record: AreaCoded | Place, now: datetime) -> Alert:
    """An alert as a scenario opens it about ``record`` (a device, or an area's place), not yet stored."""
    device = record if isinstance(record, Device) else None
    department = scenario.department or getattr(record, "owner_department", None) or scenario.fallback_department
    notify = (device.owner if device and device.owner else None) or scenario.fallback_department
    name = (device.name or device.code) if device else getattr(record, "name", None) or subject.removeprefix("area:")
    return Alert(
        rule=scenario.id, subject=subject, device_id=device.id if device else None, department=department, level=level,
        household_id=device.household_id if device and scenario.extra.get("needs_consent") else None,
        state="open", active=1, value=value, opened_at=at, raised_at=now, updated_at=now,
        respond_by=at + timedelta(seconds=scenario.respond_within_s) if scenario.respond_within_s else None,
        title={"zh": f"{scenario.zh}：{name}", "en": f"{scenario.en}: {name}"},
        evidence={**evidence, "notify": notify, "closure": scenario.closure, "steps": scenario.extra.get("steps", []),
                  **({"household": device.household_id} if device and device.household_id else {})},
        district_code=record.district_code, street_code=record.street_code,
        committee_code=record.committee_code, grid_code=record.grid_code,
    )


def resolve(session: Session, alert: Alert, now: datetime, how: str) -> None:
    """End an active alert (``how``: why, e.g. ``left`` when its household left the watch), announced like any."""
    _resolve(session, alert, now, how, None)


def _resolve(session: Session, alert: Alert, now: datetime, how: str, value: float | None) -> None:
    alert.state, alert.active, alert.resolved_at, alert.resolution = "resolved", None, now, how
    if value is not None:
        alert.value = value
    session.flush()
    _announce(session, alert, "alert.resolved")


def _announce(session: Session, alert: Alert, kind: str) -> None:
    """The alert's change for the stream: a household's alerts only to those who may read households."""
    permission = "read:households" if alert.household_id else "read:alerts"
    publish(session, kind, alert, resource="alerts", record_id=alert.id, permission=permission,
            department=alert.department, payload=alert_out(alert))


def alert_out(alert: Alert) -> dict[str, Any]:
    """An alert as the API and the stream show it."""
    return {
        "id": alert.id, "rule": alert.rule, "subject": alert.subject, "level": ALERT_LEVELS[alert.level - 1],
        "state": alert.state, "title": alert.title, "value": alert.value, "department": alert.department,
        "opened_at": alert.opened_at.isoformat(), "raised_at": alert.raised_at.isoformat() if alert.raised_at else None,
        "respond_by": alert.respond_by.isoformat() if alert.respond_by else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None, "resolution": alert.resolution,
        "acknowledged_by": alert.acknowledged_by, "closed_by": alert.closed_by, "note": alert.note,
        "committee_code": alert.committee_code, "street_code": alert.street_code, "district_code": alert.district_code,
        "evidence": alert.evidence,
    }


def list_alerts(session: Session, scope: Scope, *, state: str | None = None, limit: int = 100, offset: int = 0) -> list[Alert]:
    """Alerts in the caller's scope, newest first; ``state`` ``active`` means open or acknowledged."""
    query = sa.select(Alert).where(scope.condition(Alert))
    if state == "active":
        query = query.where(Alert.active == 1)
    elif state is not None:
        if state not in ALERT_STATES:
            message = f"state must be active or one of {', '.join(ALERT_STATES)}"
            raise ValidationError(message)
        query = query.where(Alert.state == state)
    return list(session.scalars(query.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit).offset(offset)))


_NEXT = {"acknowledge": ("open",), "resolve": ("open", "acknowledged"), "close": ("resolved",)}


def handle(
    session: Session, scope: Scope, principal: Principal, alert_id: int, action: str, note: str | None, now: datetime,
    *, no_data_intervals: int = 3,
) -> Alert:
    """Acknowledge, resolve by hand, or close (with a note) an alert the caller may change.

    Raises
    ------
    NotFoundError
        If the alert is not in the caller's scope.
    ConflictError
        If the alert's state does not allow the action.
    ValidationError
        If closing without a note.
    """
    alert = session.scalar(sa.select(Alert).where(Alert.id == alert_id, scope.condition(Alert), _writable(scope)).with_for_update())
    if alert is None:
        message = f"no alert {alert_id} you may handle"
        raise NotFoundError(message)
    if alert.state not in _NEXT[action]:
        message = f"alert {alert_id} is {alert.state}: it cannot be {action}d now"
        raise ConflictError(message)
    if action == "acknowledge":
        alert.state, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, principal.username
        alert.note = note or alert.note
        session.flush()
        _announce(session, alert, "alert.acknowledged")
    elif action == "resolve":
        alert.note = note or alert.note
        _resolve(session, alert, now, "by hand", None)
        device = session.get(Device, alert.device_id) if alert.device_id and alert.subject == f"device:{_code(alert)}" else None
        interval = reporting_interval(device) if device else None
        if device is not None and interval and device.silent_after is None:
            device.silent_after = now + timedelta(seconds=interval * no_data_intervals)  # still silent: alerted again
    else:
        if not note or not note.strip():
            message = "closing an alert needs a note saying what was done"
            raise ValidationError(message)
        alert.state, alert.closed_at, alert.closed_by, alert.note = "closed", now, principal.username, note.strip()
        session.flush()
        _announce(session, alert, "alert.closed")
    return alert


def _code(alert: Alert) -> str:
    """The device code of a no-data alert's subject (``device:<code>``)."""
    return alert.subject.removeprefix("device:")


def _writable(scope: Scope) -> sa.ColumnElement[bool]:
    """Area roles handle alerts in their areas; a department handler his department's; district roles all."""
    p = scope.principal
    if p.role == "department_handler":
        return Alert.department == p.department
    return scope._by_area(Alert) if scope.limited_to_areas else sa.true()

