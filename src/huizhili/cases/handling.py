"""Taking a case along its workflow: one function for every step, each step an append-only audit record.

``act`` checks, in order: the case is one the caller may see; the workflow lets this action
leave its state (else the allowed ones are named); the caller's role may take it (the
workflow's roles; ``@unit`` is the staff of the responsible unit); the action has what it
needs. Then it applies what the named action also means — a dispute hands the case to the
fallback unit at once and starts the timer for settling it, a postponement moves the deadline
once approved — writes the :class:`CaseAction`, restarts the stage's clock and publishes the
change for the stream, all in the caller's transaction.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases import deadlines
from huizhili.cases.dispatch import dispatch_automatically, fallback
from huizhili.cases.flow import PLATFORM, CaseFlow
from huizhili.cases.intake import PLATFORM_SCOPE, file_and_dispatch, tracking_number
from huizhili.cases.photos import photos_to_attach
from huizhili.cases.trail import announce, record
from huizhili.cases.workflow import PREVIOUS, SAME, SYSTEM, UNIT, Transition
from huizhili.departments import unknown_departments
from huizhili.errors import (
    ConflictError,
    ForbiddenError,
    HuizhiliError,
    NotFoundError,
    ValidationError,
)
from huizhili.policy import Principal, Scope
from huizhili.storage.models import (
    Alert,
    AssetOwner,
    Case,
    CaseSignal,
    Department,
    OwnershipDispute,
)

log = logging.getLogger(__name__)

SATISFACTION = {1: "不满意 unsatisfied", 2: "基本满意 basically satisfied", 3: "满意 satisfied"}
"""The callback's verdicts (回访), as 12345 records them."""


@dataclass(frozen=True)
class Step:
    """What a caller gives with an action; which fields an action needs is the workflow's data."""

    note: str | None = None
    reason: str | None = None
    department: str | None = None
    category: str | None = None
    satisfaction: int | None = None
    until: datetime | None = None
    into: int | None = None
    signals: tuple[int, ...] | None = None
    photos: tuple[int, ...] | None = None
    """Photos the caller uploaded for this case (``cases.photos.add_photo``), attached to this step."""


def act(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, case_id: int, action: str, step: Step,
        now: datetime) -> Case:
    """Take ``action`` on case ``case_id`` as ``principal``, recording it.

    Raises
    ------
    NotFoundError
        If the case is not one the caller may see.
    ConflictError
        If the action does not leave the case's state (the message names those that do), or
        a postponement is asked twice or answered when none was asked.
    ForbiddenError
        If the caller's role may not take it, or he does not act for the responsible unit.
    ValidationError
        If something the action needs is missing or wrong (an unknown unit or category, a
        satisfaction outside 1–3, a postponement past the longest allowed).
    """
    case = session.scalar(sa.select(Case).where(Case.id == case_id, scope.condition(Case)).with_for_update()
                          .execution_options(populate_existing=True))  # what the lock guards, not what was read before it
    if case is None:
        message = f"no case {case_id} you may see"
        raise NotFoundError(message)
    transition = flow.workflow.transition(action, case.state)
    _check_role(session, principal, transition, case)
    _check_needs(transition, step)
    before, unit_before = case.state, case.department
    photos = photos_to_attach(session, principal, case, step.photos or ())
    details = _apply(session, scope, principal, flow, case, transition, step, now)
    if photos:
        details = {**details, "photos": [{"id": p.id, "sha256": p.sha256} for p in photos]}  # the trail names what it attached
    case.state = _target(transition, case, before)
    session.flush()
    entry = record(session, case, principal, action, before, step.note or step.reason, details, public=transition.public, now=now)
    for photo in photos:
        photo.action_id = entry.id
    if case.state != before or case.department != unit_before:
        deadlines.start_stage(flow, case, now)
    if action == "file":
        dispatch_automatically(session, flow, case, now)
    announce(session, case, f"case.{action}")
    return case


def acts_for_unit(session: Session, principal: Principal, department: str | None) -> bool:
    """Whether ``principal`` is staff of ``department``: its handlers, or for a street office the street's operators."""
    if department is None:
        return False
    if principal.role == "department_handler":
        return principal.department == department
    if principal.role == "street_operator":
        street = session.scalar(sa.select(Department.street_code).where(Department.code == department))
        return street is not None and street in principal.streets
    return False


def _check_role(session: Session, principal: Principal, transition: Transition, case: Case) -> None:
    role = SYSTEM if principal is PLATFORM else principal.role
    if role in transition.roles or (UNIT in transition.roles and acts_for_unit(session, principal, case.department)):
        return
    who = ", ".join(sorted(r if r != UNIT else "the responsible unit's staff" for r in transition.roles))
    message = f"role {principal.role} may not '{transition.action}' case {case.number}: {who} may"
    raise ForbiddenError(message)


def _check_needs(transition: Transition, step: Step) -> None:
    missing = [need for need in sorted(transition.needs) if _missing(getattr(step, need))]
    if missing:
        message = f"'{transition.action}' needs {', '.join(missing)}"
        raise ValidationError(message)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _target(transition: Transition, case: Case, before: str) -> str:
    if transition.target == SAME:
        return before
    if transition.target == PREVIOUS:
        return case.previous_state or "filed"
    return transition.target


def _unit(session: Session, department: str) -> str:
    if unknown_departments(session, [department]):
        message = f"no department {department!r}"
        raise ValidationError(message)
    return department


def _apply(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, case: Case, transition: Transition,
           step: Step, now: datetime) -> dict[str, Any]:
    """What the named action does beyond moving the state; returns what the audit record keeps of it."""
    action = transition.action
    if action == "file":
        case.category, case.category_source = flow.categories.get(step.category or "").code, "person"
        return {"category": case.category}
    if action in {"dispatch", "reassign", "return", "dispute"}:
        case.postponement = None  # asked by the unit that had it: the next unit asks for itself
    if action in {"dispatch", "reassign"}:
        case.department, case.routed_by, case.dispatched_at = _unit(session, step.department or ""), "person", now
        return {"department": case.department}
    if action == "return":
        unit, case.department = case.department, None
        return {"returned_by": unit, "reason": step.reason}
    if action == "dispute":
        return _dispute(session, flow, case, step, now)
    if action == "settle":
        return _settle(session, principal, case, _unit(session, step.department or ""), now)
    if action == "handle":
        case.handled_at = now
    elif action == "rework":
        case.rework_count += 1
    elif action in {"close", "reject"}:
        case.closed_at = now
    elif action == "evaluate":
        if step.satisfaction not in SATISFACTION:
            message = f"satisfaction is 1, 2 or 3 ({'; '.join(f'{k} {v}' for k, v in SATISFACTION.items())})"
            raise ValidationError(message)
        case.satisfaction = step.satisfaction
        return {"satisfaction": step.satisfaction}
    elif action == "reopen":
        case.reopen_count, case.closed_at, case.satisfaction = case.reopen_count + 1, None, None
        case.dispatched_at = now
        deadlines.restart_case(flow, case, now)
        return {"reason": step.reason}
    elif action in {"request_postponement", "approve_postponement", "refuse_postponement"}:
        return _postponement(flow, principal, case, action, step, now)
    elif action == "suspend":
        case.previous_state, case.suspended_at = case.state, now
        return {"reason": step.reason}
    elif action == "resume":
        return deadlines.resume(flow, case, now)
    elif action == "escalate":
        case.escalated_at, case.escalation = now, step.reason
        return {"reason": step.reason}
    elif action == "verify":
        _check_field_photo(session, flow, case, step)
    elif action == "propose_closure":
        case.handled_at = case.closure_proposed_at = now
        alert = session.get(Alert, case.alert_id) if case.alert_id else None
        return {"alert": case.alert_id, "recovered_at": alert.resolved_at.isoformat() if alert and alert.resolved_at else None}
    elif action == "comment":
        return {"signals": list(step.signals or ())}
    elif action == "merge":
        return _merge(session, scope, principal, case, step.into or 0, now)
    elif action == "split":
        return _split(session, flow, principal, case, step.signals or (), now)
    return {}


def _check_field_photo(session: Session, flow: CaseFlow, case: Case, step: Step) -> None:
    """A case any of whose sensor alerts is of a scenario asking for it is verified only with a photo taken on site.

    Every alert among the case's signals counts, not only the one it began with: a sensor case
    merged into a citizen's still asks for its field photo.
    """
    if step.photos:
        return
    rules = set(session.scalars(sa.select(Alert.rule).join(CaseSignal, CaseSignal.alert_id == Alert.id)
                                .where(CaseSignal.case_id == case.id)))
    asking = sorted(rules & flow.field_photo)
    if asking:
        message = (f"case {case.number} has alerts of sensing scenario {', '.join(asking)}: verifying it needs a field photo"
                   f" (photos) / 案件含感知场景 {', '.join(asking)} 的告警，核查需附现场照片")
        raise ValidationError(message)


def propose_recovered(session: Session, flow: CaseFlow, now: datetime, *, limit: int = 500) -> list[Case]:
    """Sensor cases whose alerts have all ended, one at least by recovering, go to verification, once each (``propose_closure``).

    The reading back to normal proposes the case for closing; it closes only when someone
    verifies it, with the field photo its scenario asks for. A case reworked after the proposal
    is not proposed again. Each case in a savepoint of its own: one refused never stops the rest.
    """
    transition = flow.workflow.transitions.get("propose_closure")
    if transition is None:
        return []
    alerts_of_case = sa.select(CaseSignal.alert_id).where(CaseSignal.case_id == Case.id, CaseSignal.alert_id.is_not(None))
    still_alarming = sa.exists().where(Alert.id.in_(alerts_of_case), Alert.active == 1)
    recovered = sa.exists().where(Alert.id.in_(alerts_of_case), Alert.resolution == "recovered")
    due = session.scalars(
        sa.select(Case.id)
        .where(Case.closure_proposed_at.is_(None), Case.state.in_(sorted(transition.sources)), Case.alert_id.is_not(None),
               recovered, ~still_alarming, Case.id.not_in(sorted(_REFUSED_PROPOSALS) or [0]))
        .order_by(Case.id).limit(limit)
    ).all()
    proposed = []
    for case_id in due:
        try:
            with session.begin_nested():
                proposed.append(act(session, PLATFORM_SCOPE, PLATFORM, flow, case_id, "propose_closure", Step(), now))
        except HuizhiliError as error:
            _REFUSED_PROPOSALS.add(case_id)
            log.warning("case %d cannot be proposed for closure: %s", case_id, error)
    return proposed


_REFUSED_PROPOSALS: set[int] = set()
"""Cases this process could not propose (a district's workflow refusing it): warned of once, not tried on every tick."""


def _dispute(session: Session, flow: CaseFlow, case: Case, step: Step, now: datetime) -> dict[str, Any]:
    """The unit says the case is not its own: the fallback takes it now; the dispute waits to be settled, on a timer."""
    category = flow.categories.get(case.category) if case.category else None
    disputing = case.department or ""
    routing = fallback(session, flow.categories, category, case) if category else None
    target = routing.department if routing else flow.categories.escalation_unit
    if target == disputing:  # the fallback itself disputes: only the district command is left
        target = flow.categories.escalation_unit
    dispute = OwnershipDispute(case_id=case.id, disputed_by=disputing, fallback=target, reason=step.reason or "",
                               raised_at=now, settle_by=deadlines.settle_by(flow, now))
    session.add(dispute)
    case.department, case.routed_by, case.dispatched_at = target, "fallback", now
    session.flush()
    return {"disputed_by": disputing, "fallback": target, "reason": step.reason, "settle_by": dispute.settle_by.isoformat()}


def _settle(session: Session, principal: Principal, case: Case, owner: str, now: datetime) -> dict[str, Any]:
    """The district decides who owns it; the owner registry learns it, so the next such case goes right at once.

    The case itself stays with the unit handling it (the fallback took it at once): moving it
    again would make it bounce; a dispatcher may still reassign it.
    """
    open_disputes = list(session.scalars(
        sa.select(OwnershipDispute).where(OwnershipDispute.case_id == case.id, OwnershipDispute.settled_at.is_(None))
    ))
    if not open_disputes:
        message = f"case {case.number} has no open ownership dispute to settle"
        raise ConflictError(message)
    for dispute in open_disputes:
        dispute.settled_at, dispute.settled_owner, dispute.settled_by = now, owner, principal.username
    asset = session.scalar(sa.select(AssetOwner).where(AssetOwner.ref == case.asset_ref)) if case.asset_ref else None
    if asset is not None:
        asset.owner_department = owner
    return {"owner": owner, "disputes": [d.id for d in open_disputes], "registry_updated": asset is not None}


def _postponement(flow: CaseFlow, principal: Principal, case: Case, action: str, step: Step, now: datetime) -> dict[str, Any]:
    """Asking for more time, and the answer; only an approved postponement moves the deadline."""
    if action == "request_postponement":
        if case.postponement:
            message = f"case {case.number} already awaits an answer to a postponement"
            raise ConflictError(message)
        until = deadlines.checked_postponement(flow, case, step.until, now)
        case.postponement = {"until": until.isoformat(), "reason": step.reason, "asked_by": principal.username,
                             "asked_at": now.isoformat()}
        return dict(case.postponement)
    if not case.postponement:
        message = f"case {case.number} has no postponement awaiting an answer"
        raise ConflictError(message)
    if case.postponement["asked_by"] == principal.username:
        message = f"the postponement of case {case.number} was asked by you: someone else answers it"
        raise ForbiddenError(message)
    asked, case.postponement = case.postponement, None
    if action == "approve_postponement":
        deadlines.postpone(case, datetime.fromisoformat(asked["until"]))
        return {"until": asked["until"], "asked_by": asked["asked_by"]}
    return {"refused": asked["until"], "reason": step.reason}


def _split(session: Session, flow: CaseFlow, principal: Principal, case: Case, signal_ids: tuple[int, ...],
           now: datetime) -> dict[str, Any]:
    """Reports that are another incident become a case of their own, filed and dispatched; the first report stays."""
    moving = list(session.scalars(sa.select(CaseSignal).where(CaseSignal.case_id == case.id, CaseSignal.id.in_(signal_ids))
                                  .order_by(CaseSignal.received_at, CaseSignal.id)))
    first = session.scalar(sa.select(sa.func.min(CaseSignal.id)).where(CaseSignal.case_id == case.id))
    if len(moving) != len(set(signal_ids)) or first in signal_ids or any(s.linked_by == "comment" for s in moving):
        message = f"split names reports of case {case.number} other than its first (and not comments): not {sorted(signal_ids)}"
        raise ValidationError(message)
    lead = moving[0]
    new = Case(channel=lead.channel, external_ref=lead.external_ref, state="received", title=lead.text.splitlines()[0][:200],
               description=lead.text, lon=lead.lon, lat=lead.lat, reporter_name=lead.reporter_name,
               reporter_phone=lead.reporter_phone, reporter_user_id=lead.reporter_user_id, alert_id=lead.alert_id,
               household_id=case.household_id, received_at=lead.received_at, created_by=principal.username, category=case.category,
               category_source=case.category_source, suggestions=[], checkpoints=[], attributes={},
               district_code=case.district_code, street_code=case.street_code, committee_code=case.committee_code,
               grid_code=case.grid_code)
    session.add(new)
    session.flush()
    new.number = tracking_number(flow, new)
    for signal in moving:
        signal.case_id, signal.linked_by = new.id, "split"
    if case.alert_id is not None and case.alert_id in {s.alert_id for s in moving}:
        case.alert_id = None
    session.flush()
    record(session, new, principal, "split_from", None, None, {"from": case.id, "number": case.number}, public=True, now=now)
    deadlines.start_stage(flow, new, now)
    file_and_dispatch(session, flow, new, now)
    announce(session, new, "case.received")
    return {"new_case": new.id, "number": new.number, "signals": [s.id for s in moving]}


def _merge(session: Session, scope: Scope, principal: Principal, case: Case, into: int, now: datetime) -> dict[str, Any]:
    """Fold this case into another of the same incident: its signals move there, nothing is lost, both trails say so.

    Cases merged into this one before now point to the target too, so a public number never
    lands on a merged case. Both rows are locked in id order, so two opposite merges wait for
    each other rather than deadlock.
    """
    if into == case.id:
        message = f"case {case.number} cannot be merged into itself"
        raise ConflictError(message)
    locked = {c.id: c for c in session.scalars(
        sa.select(Case).where(Case.id.in_(sorted({case.id, into})), scope.condition(Case)).order_by(Case.id).with_for_update()
    )}
    target = locked.get(into)
    if target is None:
        message = f"no case {into} you may see to merge into"
        raise NotFoundError(message)
    if target.closed_at is not None or target.merged_into_id is not None:
        message = f"case {target.number} is {target.state}: merge into an open case"
        raise ConflictError(message)
    moved = session.scalar(sa.select(sa.func.count()).where(CaseSignal.case_id == case.id)) or 0
    session.execute(sa.update(CaseSignal).where(CaseSignal.case_id == case.id).values(case_id=target.id, linked_by="merge"))
    session.execute(sa.update(Case).where(Case.merged_into_id == case.id).values(merged_into_id=target.id))
    if target.alert_id is None:
        target.alert_id = case.alert_id  # the sensor's episode goes along: its recovery and its field photo still count
    case.merged_into_id, case.closed_at, case.postponement = target.id, now, None
    record(session, target, principal, "merged_in", target.state, None, {"from": case.id, "number": case.number,
                                                                          "signals": moved}, public=False, now=now)
    return {"into": target.id, "number": target.number, "signals": moved}
