"""Time limits of cases, counted on the working-day calendar, and the clock that warns, flags and escalates.

A case has two deadlines: the whole case's (its 12345 kind: consultation 1 working day,
supervision 3, help and complaints 5; more only by an approved postponement, at most 15) and
the current stage's (filing, dispatch, acceptance, verification, closing; per category in
``categories.toml``). Each sets two **checkpoints**, a warning at 80 % of the limit and the
overdue point, kept on the case with the earliest in an indexed column, so the clock reads only
cases with something due, however many are open. A deadline that passes a year the holiday
calendar does not know is counted on weekdays and flagged (``Case.due_estimated``), never silently.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.calendar import Deadline, Limit, deadline, resumed
from huizhili.cases.flow import PLATFORM, CaseFlow
from huizhili.cases.trail import announce, record
from huizhili.errors import ValidationError
from huizhili.storage.engine import is_postgis
from huizhili.storage.models import Case, OwnershipDispute

SETTLE_WITHIN = "3wd"
"""How long the district takes to settle an ownership dispute before it is escalated."""

CLOCK_PAGE = 500
"""Cases one tick of the clock takes in one transaction; the next page follows at once."""


def count(flow: CaseFlow, start: datetime, limit: str) -> Deadline:
    """``limit`` (``5wd``, ``4wh``, ``30min``, ``3d``) counted from ``start`` on the district's calendar."""
    return deadline(flow.calendar, start, Limit.parse(limit), office=flow.office)


def start_case(flow: CaseFlow, case: Case, now: datetime) -> None:
    """Set the whole case's deadline from its category's 12345 kind, once its category is known."""
    if case.category is None or case.due_at is not None:
        return
    category = flow.categories.get(case.category)
    due = count(flow, case.received_at, flow.categories.hotline_limits[category.hotline_kind])
    case.due_at, case.due_estimated = due.due, due.estimated
    case.checkpoints = [c for c in case.checkpoints if c["of"] != "case"] + _points("case", due)
    _plan(case)


def restart_case(flow: CaseFlow, case: Case, now: datetime) -> None:
    """A reopened case gets its whole limit again from now, and its warning, overdue flag and escalation anew."""
    case.due_at = case.warned_at = case.overdue_at = case.escalated_at = case.escalation = None
    if case.category is None:
        return
    category = flow.categories.get(case.category)
    due = count(flow, now, flow.categories.hotline_limits[category.hotline_kind])
    case.due_at, case.due_estimated = due.due, due.estimated
    case.checkpoints = [c for c in case.checkpoints if c["of"] != "case"] + _points("case", due)
    _plan(case)


def start_stage(flow: CaseFlow, case: Case, now: datetime) -> None:
    """The case entered a stage (or changed hands): the stage's clock starts now; an ended case's clocks stop."""
    start_case(flow, case, now)
    state = flow.workflow.states[case.state]
    kept = [c for c in case.checkpoints if c["of"] == "case"] if state.open else []
    limit = None
    if state.open and state.stage != "suspended":
        category = flow.categories.categories.get(case.category or "")
        limit = flow.categories.stage_limit(category, state.stage) if category else flow.categories.stage_limits.get(state.stage)
    if limit is None:
        case.stage_due_at = None
        case.checkpoints = kept
    else:
        due = count(flow, now, limit)
        case.stage_due_at = due.due
        case.due_estimated = case.due_estimated or due.estimated
        case.checkpoints = kept + _points("stage", due)
    _plan(case)


def postpone(case: Case, until: datetime) -> None:
    """An approved postponement: the case is due at ``until``, its overdue checkpoint moves there (its warning was given or is void)."""
    case.due_at = until
    case.checkpoints = [c for c in case.checkpoints if c["of"] != "case"] + [
        {"of": "case", "kind": "overdue", "at": until.isoformat()}]
    _plan(case)


def resume(flow: CaseFlow, case: Case, now: datetime) -> dict[str, Any]:
    """A suspended case resumes: the working time its deadlines had left when it stopped is counted again from now."""
    paused = case.suspended_at or now
    def moved(moment: datetime) -> datetime:
        return resumed(flow.calendar, moment, paused, now, office=flow.office)
    if case.due_at is not None:
        case.due_at = moved(case.due_at)
    case.checkpoints = [{**c, "at": moved(datetime.fromisoformat(c["at"])).isoformat()} for c in case.checkpoints
                        if c["of"] == "case"]
    case.suspended_at = None
    return {"suspended_for_s": int((now - paused).total_seconds())}


def settle_by(flow: CaseFlow, now: datetime) -> datetime:
    """When an ownership dispute raised now must be settled."""
    return count(flow, now, SETTLE_WITHIN).due


def checked_postponement(flow: CaseFlow, case: Case, until: datetime | None, now: datetime) -> datetime:
    """A postponement's new deadline, if it is one: later than now and than the present one, within the longest allowed.

    Raises
    ------
    ValidationError
        If it is not.
    """
    if until is None or until.tzinfo is None:
        message = "a postponement needs the new deadline with its time zone"
        raise ValidationError(message)
    longest = count(flow, case.received_at, flow.categories.longest_postponement).due
    current = case.due_at or now
    if until <= max(now, current) or until > longest:
        message = (f"a postponement of case {case.number} must end after {max(now, current).isoformat()} and no later than "
                   f"{longest.isoformat()} ({flow.categories.longest_postponement} from receipt)")
        raise ValidationError(message)
    return until


def check_deadlines(session: Session, flow: CaseFlow, now: datetime) -> int:
    """One tick of the clock: pass every checkpoint due by ``now``; returns how many were passed.

    A warning is an event; an overdue point is an event, a flag and an escalation to the
    district command. Unsettled disputes past their time are escalated too. Cases are taken a
    page at a time, each page locked with ``SKIP LOCKED`` on PostgreSQL so several workers'
    clocks share the work.
    """
    query = sa.select(Case).where(Case.next_check_at <= now, Case.suspended_at.is_(None)).order_by(Case.next_check_at)
    query = query.limit(CLOCK_PAGE)
    if is_postgis(session):
        query = query.with_for_update(skip_locked=True)
    passed = 0
    for case in session.scalars(query).all():
        due = [c for c in case.checkpoints if datetime.fromisoformat(c["at"]) <= now]
        case.checkpoints = [c for c in case.checkpoints if c not in due]
        for point in sorted(due, key=lambda c: c["at"]):
            at = datetime.fromisoformat(point["at"])
            kind = f"{point['of']}_{point['kind']}"
            details: dict[str, Any] = {"checkpoint": point}
            if point["kind"] == "overdue" and case.escalated_at is None:
                case.escalated_at, case.escalation = at, f"{point['of']} past its time limit ({at.isoformat()})"
                details["escalated"] = True
            if point["of"] == "case" and point["kind"] == "warning":
                case.warned_at = at
            if point["of"] == "case" and point["kind"] == "overdue":
                case.overdue_at = at
            record(session, case, PLATFORM, kind, case.state, None, details, public=False, now=now)
            announce(session, case, f"case.{kind}")
            passed += 1
        _plan(case)
    late = sa.select(OwnershipDispute).where(
        OwnershipDispute.settle_by <= now, OwnershipDispute.settled_at.is_(None), OwnershipDispute.escalated_at.is_(None)
    ).order_by(OwnershipDispute.id).limit(CLOCK_PAGE)
    for dispute in session.scalars(late.with_for_update(skip_locked=True) if is_postgis(session) else late).all():
        disputed_query = sa.select(Case).where(Case.id == dispute.case_id)
        disputed = session.scalar(disputed_query.with_for_update(skip_locked=True) if is_postgis(session) else disputed_query)
        if disputed is None:
            continue  # another clock holds the case: this dispute waits for the next tick
        dispute.escalated_at = now
        if disputed.merged_into_id is None:
            if disputed.escalated_at is None:
                disputed.escalated_at, disputed.escalation = now, f"ownership dispute {dispute.id} unsettled past {dispute.settle_by.isoformat()}"
            record(session, disputed, PLATFORM, "dispute_overdue", disputed.state, None, {"dispute": dispute.id},
                   public=False, now=now)
            announce(session, disputed, "case.dispute_overdue")
        passed += 1
    session.flush()
    return passed


def _points(of: str, due: Deadline) -> list[dict[str, Any]]:
    """The warning and overdue checkpoints of a deadline (one already past is passed at the clock's next tick)."""
    return [{"of": of, "kind": "warning", "at": due.warn_at.isoformat()}, {"of": of, "kind": "overdue", "at": due.due.isoformat()}]


def _plan(case: Case) -> None:
    """The earliest checkpoint is where the clock looks next."""
    times = [datetime.fromisoformat(c["at"]) for c in case.checkpoints]
    case.next_check_at = min(times) if times else None
