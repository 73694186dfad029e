"""Lone elderly households (独居老人) under watch: they join by recorded consent and may leave.

A household's devices — a water meter, a smoke detector, a help button — are judged by the
lone-elderly scenarios only while it is in (``needs_consent`` in the library). Its name, address,
phone and contacts are personal fields: read through ``policy.privacy.present`` (masked without
``read:personal``, logged with it), and only by its committee and street, the department that
responds and the district's commanders (``policy.rules``). Leaving erases them at once.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.departments import unknown_departments
from huizhili.errors import ConflictError, NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.sensing.alerts import resolve
from huizhili.storage.models import Alert, Area, Device, Household, RuleState

WATCHING_KINDS = ("water_meter", "smoke_detector", "gas_detector", "help_button")
"""Kinds of device that may watch over a household."""

DEFAULT_RESPONDER = "民政局"


def join(
    session: Session,
    scope: Scope,
    principal: Principal,
    *,
    committee: str,
    consent_note: str,
    devices: list[str],
    now: datetime,
    name: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    contacts: list[dict[str, Any]] | None = None,
    responder_department: str = DEFAULT_RESPONDER,
) -> Household:
    """Record a household's consent and link the devices that watch over it.

    Raises
    ------
    ValidationError
        Without a note of how consent was given, or naming a device of another kind or a department that does not exist.
    NotFoundError
        If the committee or a device is not one the caller may see.
    ConflictError
        If a device already watches over another household.
    """
    if not consent_note.strip():
        message = "record how consent was given (a signed form and its number, or who witnessed it)"
        raise ValidationError(message)
    if unknown_departments(session, [responder_department]):
        message = f"no department {responder_department!r}"
        raise ValidationError(message)
    area = session.scalar(sa.select(Area).where(Area.code == committee, Area.level == "committee", scope.condition(Area)))
    if area is None:
        message = f"no residential committee {committee!r} of yours"
        raise NotFoundError(message)
    street = session.scalar(sa.select(Area).where(Area.code == area.parent_code)) if area.parent_code else None
    watching = list(session.scalars(sa.select(Device).where(Device.code.in_(devices), scope.condition(Device))))
    missing = sorted(set(devices) - {d.code for d in watching})
    if missing or not devices:
        message = f"no device {', '.join(missing)} of yours" if missing else "name the devices that watch over the household"
        raise NotFoundError(message)
    for device in watching:
        if device.sensor_kind not in WATCHING_KINDS:
            message = f"device {device.code} is a {device.sensor_kind}; a household is watched by {', '.join(WATCHING_KINDS)}"
            raise ValidationError(message)
        if device.household_id is not None:
            message = f"device {device.code} already watches over household {device.household_id}"
            raise ConflictError(message)
    household = Household(
        name=name, address=address, phone=phone, contacts=contacts or [], responder_department=responder_department,
        consent_at=now, consent_recorded_by=principal.username, consent_note=consent_note.strip(),
        district_code=street.parent_code if street else None, street_code=street.code if street else None,
        committee_code=area.code,
    )
    session.add(household)
    session.flush()
    for device in watching:
        device.household_id = household.id
    session.flush()
    return household


def leave(session: Session, scope: Scope, principal: Principal, household_id: int, now: datetime) -> Household:
    """The household leaves: its devices are no longer judged for it.

    Its personal fields, what the rules learnt of it and its alerts' evidence are erased now,
    and its open alerts resolved (``left``).

    Raises
    ------
    NotFoundError
        If it is not a household the caller may change.
    ConflictError
        If it has left already.
    """
    household = session.scalar(sa.select(Household).where(Household.id == household_id, scope.condition(Household)))
    if household is None:
        message = f"no household {household_id} of yours"
        raise NotFoundError(message)
    if household.left_at is not None:
        message = f"household {household_id} left on {household.left_at:%Y-%m-%d}"
        raise ConflictError(message)
    household.left_at, household.left_recorded_by = now, principal.username
    household.name = household.address = household.phone = None
    household.contacts = None
    codes = list(session.scalars(sa.select(Device.code).where(Device.household_id == household.id)))
    session.execute(sa.update(Device).where(Device.household_id == household.id).values(household_id=None))
    # What was learnt of the household's life goes with it: the rules' windows and baselines, the evidence of its alerts.
    for code in codes:
        session.execute(sa.delete(RuleState).where(RuleState.subject.startswith(f"device:{code}/")))
    for alert in session.scalars(sa.select(Alert).where(Alert.household_id == household.id)):
        alert.evidence, alert.value = {}, None
        if alert.active:
            resolve(session, alert, now, "left")
    session.flush()
    return household


def list_households(session: Session, scope: Scope, *, include_left: bool = False) -> list[Household]:
    """Households in the caller's scope, newest consent first."""
    query = sa.select(Household).where(scope.condition(Household))
    if not include_left:
        query = query.where(Household.left_at.is_(None))
    return list(session.scalars(query.order_by(Household.consent_at.desc(), Household.id.desc())))


def household_out(session: Session, household: Household) -> dict[str, Any]:
    """A household as the API shows it, before masking (``policy.privacy.present`` decides that)."""
    devices = session.scalars(sa.select(Device.code).where(Device.household_id == household.id).order_by(Device.code)).all()
    return {
        "id": household.id, "name": household.name, "address": household.address, "phone": household.phone,
        "contacts": household.contacts, "committee_code": household.committee_code, "street_code": household.street_code,
        "responder_department": household.responder_department, "consent_at": household.consent_at,
        "consent_recorded_by": household.consent_recorded_by, "consent_note": household.consent_note,
        "left_at": household.left_at, "devices": list(devices),
    }
