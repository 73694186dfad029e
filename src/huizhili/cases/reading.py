"""Reading cases: lists and details in the caller's scope, and the public view a citizen follows by tracking number.

Staff read through the policy layer (``Scope``), personal fields masked by the interfaces
(``policy.privacy.present``). The public view is built here, field by field, from what may be
shown to anyone: no reporter, no description, no notes but those written for the reporter, no
exact position — the category, the street, the public steps of the timeline with their photos
(stored without metadata) and the countdown to the due time.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.flow import CaseFlow
from huizhili.cases.photos import case_photos
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Scope
from huizhili.storage.models import Area, Case, CaseAction, CaseSignal, Department, OwnershipDispute


@dataclass(frozen=True)
class CaseQuery:
    """Filters of a case list; None means any."""

    state: str | None = None
    category: str | None = None
    department: str | None = None
    channel: str | None = None
    area: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    limit: int = 100
    offset: int = 0


def list_cases(session: Session, scope: Scope, flow: CaseFlow, query: CaseQuery) -> list[Case]:
    """Cases in the caller's scope matching ``query``, newest first.

    Raises
    ------
    ValidationError
        If the state is not one of the workflow's.
    """
    conditions = [scope.condition(Case)]
    if query.state is not None:
        if query.state not in flow.workflow.states:
            message = f"unknown state {query.state!r}; states: {', '.join(flow.workflow.states)}"
            raise ValidationError(message)
        conditions.append(Case.state == query.state)
    for column, value in ((Case.category, query.category), (Case.department, query.department), (Case.channel, query.channel)):
        if value is not None:
            conditions.append(column == value)
    if query.area is not None:
        conditions.append(sa.or_(Case.district_code == query.area, Case.street_code == query.area,
                                 Case.committee_code == query.area, Case.grid_code == query.area))
    if query.overdue is not None:
        conditions.append(Case.overdue_at.is_not(None) if query.overdue else Case.overdue_at.is_(None))
    if query.escalated is not None:
        conditions.append(Case.escalated_at.is_not(None) if query.escalated else Case.escalated_at.is_(None))
    statement = sa.select(Case).where(*conditions).order_by(Case.received_at.desc(), Case.id.desc())
    return list(session.scalars(statement.limit(query.limit).offset(query.offset)))


def get_case(session: Session, scope: Scope, case_id: int) -> Case:
    """One case the caller may see.

    Raises
    ------
    NotFoundError
        If there is none in the caller's scope.
    """
    return _one(session, scope, Case.id == case_id, f"no case {case_id} you may see")


def case_by_number(session: Session, scope: Scope, number: str) -> Case:
    """One case by its tracking number, among those the caller may see.

    Raises
    ------
    NotFoundError
        If there is none in the caller's scope.
    """
    return _one(session, scope, Case.number == number, f"no case numbered {number!r} you may see")


def _one(session: Session, scope: Scope, which: sa.ColumnElement[bool], missing: str) -> Case:
    case = session.scalar(sa.select(Case).where(which, scope.condition(Case)))
    if case is None:
        raise NotFoundError(missing)
    return case


def case_out(case: Case, flow: CaseFlow) -> dict[str, Any]:
    """A case as staff see it (personal fields still to be masked by role), with the actions open to it now."""
    state = flow.workflow.states[case.state]
    return {
        "id": case.id, "number": case.number, "channel": case.channel, "external_ref": case.external_ref,
        "state": case.state, "state_name": {"zh": state.zh, "en": state.en}, "stage": state.stage,
        "category": case.category, "category_source": case.category_source, "category_confidence": case.category_confidence,
        "suggestions": case.suggestions, "title": case.title, "description": case.description, "address": case.address,
        "lon": case.lon, "lat": case.lat, "asset_ref": case.asset_ref, "department": case.department,
        "routed_by": case.routed_by, "reporter_name": case.reporter_name, "reporter_phone": case.reporter_phone,
        "alert_id": case.alert_id, "received_at": case.received_at, "dispatched_at": case.dispatched_at,
        "handled_at": case.handled_at, "closed_at": case.closed_at, "due_at": case.due_at,
        "due_estimated": case.due_estimated, "stage_due_at": case.stage_due_at, "warned_at": case.warned_at,
        "overdue_at": case.overdue_at, "escalated_at": case.escalated_at, "escalation": case.escalation,
        "postponement": case.postponement, "satisfaction": case.satisfaction, "rework_count": case.rework_count,
        "reopen_count": case.reopen_count, "merged_into_id": case.merged_into_id,
        "district_code": case.district_code, "street_code": case.street_code, "committee_code": case.committee_code,
        "grid_code": case.grid_code, "actions": flow.workflow.actions_from(case.state),
    }


def trail(session: Session, case: Case) -> list[CaseAction]:
    """Every step of the case, in order."""
    return list(session.scalars(sa.select(CaseAction).where(CaseAction.case_id == case.id).order_by(CaseAction.id)))


def signals(session: Session, case: Case) -> list[CaseSignal]:
    """Every report of the case's incident, in the order received."""
    return list(session.scalars(
        sa.select(CaseSignal).where(CaseSignal.case_id == case.id).order_by(CaseSignal.received_at, CaseSignal.id)
    ))


def disputes(session: Session, case: Case) -> list[OwnershipDispute]:
    """The case's ownership disputes, settled or not."""
    return list(session.scalars(sa.select(OwnershipDispute).where(OwnershipDispute.case_id == case.id).order_by(OwnershipDispute.id)))


def action_out(action: CaseAction, flow: CaseFlow) -> dict[str, Any]:
    """A step of the trail as staff see it."""
    transition = flow.workflow.transitions.get(action.action)
    return {"id": action.id, "at": action.at, "actor": action.actor, "role": action.role, "action": action.action,
            "action_name": {"zh": transition.zh, "en": transition.en} if transition else None,
            "from_state": action.from_state, "to_state": action.to_state, "department": action.department,
            "note": action.note, "details": action.details, "public": action.public}


def signal_out(signal: CaseSignal) -> dict[str, Any]:
    """A report of the incident (personal fields still to be masked by role)."""
    return {"id": signal.id, "channel": signal.channel, "received_at": signal.received_at, "text": signal.text,
            "lon": signal.lon, "lat": signal.lat, "reporter_name": signal.reporter_name,
            "reporter_phone": signal.reporter_phone, "alert_id": signal.alert_id, "external_ref": signal.external_ref,
            "linked_by": signal.linked_by}


def public_case_by_number(session: Session, flow: CaseFlow, number: str) -> Case:
    """The case anyone holding ``number`` follows: the case itself, or the one it was merged into.

    Raises
    ------
    NotFoundError
        If no case has this number, or its category is kept out of public view, or it is about
        a vulnerable household (never shown publicly, even by number).
    """
    case = session.scalar(sa.select(Case).where(Case.number == number))
    followed = session.get(Case, case.merged_into_id) if case is not None and case.merged_into_id else case
    if case is None or followed is None or not all(_public(flow, c) for c in (case, followed)):
        message = f"no case numbered {number!r} / 无此编号的案件"
        raise NotFoundError(message)
    return followed


def _public(flow: CaseFlow, case: Case) -> bool:
    category = flow.categories.categories.get(case.category or "")
    return case.household_id is None and (category is None or category.public)


def public_view(session: Session, flow: CaseFlow, number: str, now: datetime) -> dict[str, Any]:
    """What anyone holding the tracking number may see: state, category, street, the public timeline and the countdown.

    A step's note is shown only where the workflow says it is written for the reporter
    (``public_note``); a step's photos marked public by their ids (``/api/public/cases/{number}/photos/{id}``).

    Raises
    ------
    NotFoundError
        As :func:`public_case_by_number`.
    """
    return _followed(session, flow, public_case_by_number(session, flow, number), number, now)


def reported_cases(session: Session, scope: Scope, flow: CaseFlow, now: datetime, *, limit: int = 50) -> list[dict[str, Any]]:
    """The caller's own reports as he follows them (help requests too, which are never public), newest first.

    Each as the public view shows a case (a merged one as the case it joined), under the
    number he was given.
    """
    mine = session.scalars(sa.select(Case).where(scope.reported()).order_by(Case.received_at.desc(), Case.id.desc())
                           .limit(limit)).all()
    return [_followed(session, flow, (session.get(Case, c.merged_into_id) if c.merged_into_id else None) or c, c.number or "", now)
            for c in mine]


def _followed(session: Session, flow: CaseFlow, shown: Case, number: str, now: datetime) -> dict[str, Any]:
    """A case as one who follows it sees it: state, category, street, unit (its name too: who is coming), public steps, countdown."""
    state = flow.workflow.states[shown.state]
    street = session.scalar(sa.select(Area.name).where(Area.code == shown.street_code)) if shown.street_code else None
    unit = session.get(Department, shown.department) if shown.department else None
    steps = session.scalars(
        sa.select(CaseAction).where(CaseAction.case_id == shown.id, CaseAction.public.is_(True)).order_by(CaseAction.id)
    ).all()
    pictures: dict[int, list[int]] = {}
    for photo, _ in case_photos(session, shown, public_only=True):
        pictures.setdefault(photo.action_id or 0, []).append(photo.id)
    timeline = []
    for step in steps:
        transition = flow.workflow.transitions.get(step.action)
        name = {"zh": transition.zh, "en": transition.en} if transition else _RECEIVED if step.action == "receive" else None
        timeline.append({"at": step.at, "action": step.action, "action_name": name, "to_state": step.to_state,
                         "unit": step.department, "note": step.note if transition and transition.public_note else None,
                         "photos": pictures.get(step.id, [])})
    remaining = (shown.due_at - now).total_seconds() if shown.due_at and state.open else None
    return {"number": number, "merged_into": shown.number if shown.number != number else None, "state": shown.state,
            "state_name": {"zh": state.zh, "en": state.en}, "open": state.open, "category": shown.category,
            "street": street, "unit": shown.department,
            "unit_name": {"zh": unit.name, "en": unit.name_en or unit.name} if unit else None,
            "received_at": shown.received_at, "due_at": shown.due_at,
            "due_estimated": shown.due_estimated, "seconds_left": remaining,
            "overdue": shown.overdue_at is not None and state.open, "closed_at": shown.closed_at,
            "signals": session.scalar(sa.select(sa.func.count()).where(CaseSignal.case_id == shown.id,
                                                                       CaseSignal.linked_by != "comment")),
            "timeline": timeline}


_RECEIVED = {"zh": "受理", "en": "Received"}
