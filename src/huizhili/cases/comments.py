"""A reporter's word on a case he follows: a comment, or "it is not fixed" — which reopens a recently closed case.

FixMyStreet's "not fixed" goes nowhere (mysociety/fixmystreet#897); here, said by one of the
case's reporters (the citizen who reported it, or the app that filed his report), it reopens
the case when it closed within ``case_citizen_reopen_days``, as the callback operator would;
anyone else's word, or a later one, reaches the staff as a comment. The text is kept as a signal of the case (with the
reporter's name and phone, personal and erased with the case's retention), never in the
append-only trail, which records only that a comment came.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.flow import PLATFORM, CaseFlow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import PLATFORM_SCOPE
from huizhili.cases.reading import public_case_by_number
from huizhili.errors import ValidationError
from huizhili.policy import Principal
from huizhili.storage.models import Case, CaseAction, CaseSignal

LONGEST_COMMENT = 4000
"""Characters a comment may have: as a report's description."""


@dataclass(frozen=True)
class Comment:
    """What a comment did: the case it reached, the trail's step for it, and whether it reopened the case."""

    case: Case
    step: CaseAction
    reopened: bool


def add_comment(session: Session, flow: CaseFlow, principal: Principal, number: str, text: str, *, channel: str,
                name: str | None = None, phone: str | None = None, not_fixed: bool = False, reopen_days: int,
                now: datetime) -> Comment:
    """Add the reporter's ``text`` to the case numbered ``number`` (the one it was merged into, if so).

    With ``not_fixed``, a case closed at most ``reopen_days`` ago is reopened and dispatched
    again to its unit, its time limit restarted.

    Raises
    ------
    NotFoundError
        If no case the public may follow has this number.
    ValidationError
        If the text is empty or longer than :data:`LONGEST_COMMENT`.
    """
    text = text.strip()
    if not text or len(text) > LONGEST_COMMENT:
        message = f"a comment needs a description of 1 to {LONGEST_COMMENT} characters / 请填写 1 至 {LONGEST_COMMENT} 字的说明"
        raise ValidationError(message)
    case = public_case_by_number(session, flow, number)
    signal = CaseSignal(case_id=case.id, channel=channel, received_at=now, text=text, reporter_name=name,
                        reporter_phone=phone, reporter_user_id=principal.user_id if principal.role == "citizen" else None,
                        linked_by="comment")
    session.add(signal)
    session.flush()
    act(session, PLATFORM_SCOPE, PLATFORM, flow, case.id, "comment", Step(signals=(signal.id,)), now)
    step = session.scalars(sa.select(CaseAction).where(CaseAction.case_id == case.id).order_by(CaseAction.id.desc()).limit(1)).one()
    reopen = flow.workflow.transitions.get("reopen")
    recent = case.closed_at is not None and now - case.closed_at <= timedelta(days=reopen_days)
    reopened = bool(not_fixed and recent and reopen is not None and case.state in reopen.sources
                    and _reported(session, principal, case))
    if reopened:
        act(session, PLATFORM_SCOPE, PLATFORM, flow, case.id, "reopen",
            Step(reason=f"市民反映问题未解决（补充反映 {signal.id}） The reporter says it is not fixed (comment {signal.id})"), now)
    return Comment(case, step, reopened)


def _reported(session: Session, principal: Principal, case: Case) -> bool:
    """Whether ``principal`` reported the case: the citizen of one of its reports, or the app that filed it."""
    if principal.role == "citizen" and principal.user_id is not None:
        return case.reporter_user_id == principal.user_id or session.scalar(sa.select(sa.exists().where(
            CaseSignal.case_id == case.id, CaseSignal.reporter_user_id == principal.user_id, CaseSignal.linked_by != "comment"))) is True
    return case.created_by == principal.username
