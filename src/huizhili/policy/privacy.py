"""Personal information (PIPL): masked by role in every output, and every unmasked read logged."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.policy.principal import Principal
from huizhili.policy.rules import may
from huizhili.storage.models import AccessLog, Case, CasePhoto, CaseSignal, User, utcnow

PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("display_name", "phone"),
    "households": ("name", "address", "phone", "contacts"),
    "cases": ("reporter_name", "reporter_phone"),
    "case_signals": ("reporter_name", "reporter_phone"),
    "case_photos": ("taken_lon", "taken_lat"),
}
"""Per resource, the fields that identify a person."""


@dataclass(frozen=True)
class RetentionRule:
    """A resource whose personal fields are erased once its records have ended long enough ago.

    ``ended`` says when a record ended (an account closed; a case closed): a column of the
    model, or an expression through the record it belongs to (a case's signals end with it);
    ``setting`` names the :class:`~huizhili.config.Settings` field with the days to keep them.
    """

    resource: str
    model: Any
    ended: Any
    setting: str
    free_text: tuple[str, ...] = ()
    """Text columns emptied too: what people wrote there may name them, though no output masks it (it is the case's content)."""


RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("users", User, User.closed_at, "retention_closed_account_days"),
    RetentionRule("cases", Case, Case.closed_at, "retention_closed_case_days", free_text=("description",)),
    RetentionRule("case_signals", CaseSignal, sa.select(Case.closed_at).where(Case.id == CaseSignal.case_id).scalar_subquery(),
                  "retention_closed_case_days", free_text=("text",)),
    RetentionRule("case_photos", CasePhoto, sa.select(Case.closed_at).where(Case.id == CasePhoto.case_id).scalar_subquery(),
                  "retention_closed_case_days"),
)
"""Every erasure rule."""


@dataclass(frozen=True)
class RetentionOutcome:
    """What one retention step did (or, in a dry run, would do)."""

    resource: str
    action: str
    records: int
    before: datetime


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``; shorter numbers show only their last two digits."""
    digits = phone.strip()
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``: the first character only."""
    return name[:1] + "*" * (len(name) - 1) if name else name


def mask_address(address: str) -> str:
    """``漕溪北路88弄3号502室`` → ``漕溪北路***``: the road, not the door."""
    head = address[: max(1, min(len(address) // 3, 6))]
    return head + "***"


def mask_contacts(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each contact's name and phone masked; the relation (daughter, neighbour) kept."""
    return [{**c, "name": mask_name(str(c.get("name") or "")), "phone": mask_phone(str(c.get("phone") or ""))} for c in contacts]


_MASKERS: dict[str, Any] = {"phone": mask_phone, "reporter_phone": mask_phone, "address": mask_address, "contacts": mask_contacts,
                            "taken_lon": lambda _: None, "taken_lat": lambda _: None}
"""How each personal field is masked (a photo's position not at all); any other (a name) keeps its first character."""


def masked(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with the resource's personal fields masked, at its top level and in a feature's properties.

    The one place masking happens: masked reads (:func:`present`) and live events (which never
    carry personal data unmasked: the stream is for watching; a logged read is for details).
    """
    fields = PERSONAL_FIELDS.get(resource, ())
    if not fields:
        return record
    out = {**record, **{f: _MASKERS.get(f, mask_name)(record[f]) for f in fields if record.get(f)}}
    if isinstance(record.get("properties"), dict):
        out["properties"] = masked(resource, record["properties"])
    return out


def present(
    session: Session, principal: Principal, resource: str, records: Sequence[dict[str, Any]], action: str
) -> list[dict[str, Any]]:
    """Records as this principal may see them: personal fields masked, or shown and logged.

    Parameters
    ----------
    session
        Session of the request; the access-log entry commits with it.
    principal
        Who is reading.
    resource
        A key of :data:`PERSONAL_FIELDS` (other resources pass through unchanged).
    records
        Plain dicts with an ``id``.
    action
        What the reader is doing (``list``, ``export`` …), kept in the log.
    """
    fields = PERSONAL_FIELDS.get(resource, ())
    if not fields or not records:
        return list(records)
    if may(principal, "read:personal"):
        session.add(
            AccessLog(
                user_id=principal.user_id,
                username=principal.username,
                action=action,
                resource=resource,
                record_ids=[int(r["id"]) for r in records],
                fields=list(fields),
            )
        )
        session.flush()
        return list(records)
    return [masked(resource, r) for r in records]


def apply_retention(
    session: Session, settings: Settings, *, now: datetime | None = None, dry_run: bool = False
) -> list[RetentionOutcome]:
    """Erase personal fields of records that ended before their retention period, and old access-log entries.

    Idempotent: records already erased are not counted again. With ``dry_run`` nothing changes.
    """
    now = now or utcnow()
    outcomes = []
    for rule in RETENTION_RULES:
        before = now - timedelta(days=getattr(settings, rule.setting))
        fields = PERSONAL_FIELDS[rule.resource]
        due = sa.and_(
            rule.ended < before,
            sa.or_(*(getattr(rule.model, f).is_not(None) for f in fields), *(getattr(rule.model, f) != "" for f in rule.free_text)),
        )
        count = session.scalar(sa.select(sa.func.count()).select_from(rule.model).where(due)) or 0
        if count and not dry_run:
            session.execute(sa.update(rule.model).where(due).values({**dict.fromkeys(fields), **dict.fromkeys(rule.free_text, "")}))
        outcomes.append(RetentionOutcome(rule.resource, f"erased {', '.join((*fields, *rule.free_text))}", count, before))
    before = now - timedelta(days=settings.retention_access_log_days)
    old = AccessLog.at < before
    count = session.scalar(sa.select(sa.func.count()).select_from(AccessLog).where(old)) or 0
    if count and not dry_run:
        session.execute(sa.delete(AccessLog).where(old))
    outcomes.append(RetentionOutcome("access_log", "deleted entries", count, before))
    return outcomes
