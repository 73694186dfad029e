"""Personal information (PIPL): masked by role in every output, and every unmasked read logged."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from huizhili.policy.principal import Principal
from huizhili.policy.rules import may
from huizhili.storage.models import AccessLog

PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("display_name", "phone"),
}
"""Per resource, the fields that identify a person. Cases and reports register theirs here."""


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``; shorter numbers show only their last two digits."""
    digits = phone.strip()
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``: the first character only."""
    return name[:1] + "*" * (len(name) - 1) if name else name


_MASKERS = {"phone": mask_phone}


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
    return [
        {**r, **{f: _MASKERS.get(f, mask_name)(r[f]) for f in fields if r.get(f)}}
        for r in records
    ]
