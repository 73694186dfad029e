"""A case's trail: the append-only record of each step, and the event that tells watchers of it."""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from huizhili.events import publish
from huizhili.policy import Principal
from huizhili.storage.models import Case, CaseAction


def record(session: Session, case: Case, principal: Principal, action: str, before: str | None, note: str | None,
           details: dict[str, Any], *, public: bool, now: datetime) -> CaseAction:
    """Append one step to the case's audit trail (the database refuses to change or delete it)."""
    entry = CaseAction(case_id=case.id, at=now, actor=principal.username, role=principal.role, action=action,
                       from_state=before, to_state=case.state, department=case.department, note=note,
                       details=details, public=public)
    session.add(entry)
    session.flush()
    return entry


def announce(session: Session, case: Case, kind: str) -> None:
    """The case's change for the stream, to those who may read cases in its areas and its unit's department."""
    publish(session, kind, case, resource="cases", record_id=case.id, permission="read:cases", department=case.department,
            payload={"id": case.id, "number": case.number, "state": case.state, "category": case.category,
                     "department": case.department, "title": case.title,
                     "due_at": case.due_at.isoformat() if case.due_at else None,
                     "stage_due_at": case.stage_due_at.isoformat() if case.stage_due_at else None,
                     "escalated": case.escalated_at is not None, "street_code": case.street_code})
