"""Sensing over HTTP: observations in (devices and gateways); series, dead letters, alerts and vital signs out."""

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from huizhili.errors import ValidationError
from huizhili.policy import Principal, scope_for
from huizhili.policy.privacy import present
from huizhili.sensing.alerts import alert_out, handle, list_alerts
from huizhili.sensing.households import household_out, join, leave, list_households
from huizhili.sensing.ingest import Limits, Message, list_dead_letters
from huizhili.sensing.pipeline import library, receive
from huizhili.sensing.series import RESOLUTIONS, device_series
from huizhili.sensing.vitals import vital_history, vital_signs
from huizhili.storage.models import ALERT_STATES, as_utc, utcnow
from huizhili.web.deps import Allow, HandleAlerts, ManageDevices, SessionDep, SettingsDep
from huizhili.web.schemas import (
    AlertAction,
    AlertOut,
    DeadLetterOut,
    HouseholdIn,
    HouseholdOut,
    ObservationsIn,
    ObservationsOut,
    SeriesOut,
    VitalPoint,
    VitalSign,
)

router = APIRouter(tags=["sensing"])

ReadDevices = Annotated[Principal, Depends(Allow("read:devices"))]
WriteObservations = Annotated[Principal, Depends(Allow("write:observations"))]
DeviceCode = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.post("/observations", response_model=ObservationsOut)
def post_observations(body: ObservationsIn, session: SessionDep, settings: SettingsDep, principal: WriteObservations) -> dict[str, Any]:
    """Store observations; the same pipeline as MQTT. Stored before this answers; a repeat is a duplicate, not a second row.

    A device's key sends only its own device's observations; a gateway's service account any
    device's. Refused items are dead letters (``GET /api/dead-letters``), listed here by index.
    """
    messages = [Message("http", json.dumps(item, allow_nan=True).encode(), sender=principal) for item in body.observations]
    result = receive(session, messages, utcnow(), Limits.of(settings), library(settings))
    return {
        "stored": len(result.stored),
        "duplicates": result.duplicates,
        "rejected": [{"index": index, "reason": reason} for index, reason in result.rejected],
    }


@router.get("/devices/{code}/series", response_model=SeriesOut)
def series(
    code: DeviceCode,
    metric: Annotated[str, Query(min_length=1, max_length=40)],
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadDevices,
    since: Annotated[datetime | None, Query(description="Default: a day before until. No zone means UTC.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now. No zone means UTC.")] = None,
    resolution: Annotated[str, Query(pattern="^(auto|" + "|".join(RESOLUTIONS) + ")$")] = "auto",
) -> dict[str, Any]:
    """One metric of a device over time: at most 2000 points (MAX_POINTS), ``auto`` choosing raw, minute, hour or day."""
    start, end = _span(since, until, timedelta(days=1))
    return vars(device_series(session, scope_for(principal), code, metric, start, end, resolution,
                              raw_days=settings.retention_raw_days, minute_days=settings.retention_minute_days))


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def dead_letters(
    session: SessionDep,
    principal: ManageDevices,
    after: Annotated[int, Query(ge=0, le=2**62, description="Only letters with a larger id: page on with the last one's.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Messages the ingest refused, oldest first: channel, topic, device, reason and the first 4 KiB."""
    return list_dead_letters(session, scope_for(principal), after=after, limit=limit)


ReadAlerts = Annotated[Principal, Depends(Allow("read:alerts"))]


@router.get("/alerts", response_model=list[AlertOut])
def alerts(
    session: SessionDep,
    principal: ReadAlerts,
    state: Annotated[str | None, Query(pattern="^(active|" + "|".join(ALERT_STATES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> list[dict[str, Any]]:
    """Alerts in your scope, newest first; ``state=active`` for those open or acknowledged."""
    return [alert_out(a) for a in list_alerts(session, scope_for(principal), state=state, limit=limit, offset=offset)]


@router.patch("/alerts/{alert_id}", response_model=AlertOut)
def handle_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**62)], body: AlertAction, session: SessionDep, settings: SettingsDep,
    principal: HandleAlerts,
) -> dict[str, Any]:
    """Acknowledge an open alert, resolve it by hand, or close a resolved one (closing needs a note)."""
    return alert_out(handle(session, scope_for(principal), principal, alert_id, body.action, body.note, utcnow(),
                            no_data_intervals=settings.no_data_intervals))


@router.get("/vitals", response_model=list[VitalSign])
def vitals(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadAlerts,
    area: Annotated[str | None, Query(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$",
                                      description="An area's code: it and the areas below it.")] = None,
) -> list[dict[str, Any]]:
    """Vital signs (数字体征): each indicator's current value and level per area in your scope."""
    return vital_signs(session, scope_for(principal), library(settings).indicators, area)


ReadHouseholds = Annotated[Principal, Depends(Allow("read:households"))]
ManageHouseholds = Annotated[Principal, Depends(Allow("manage:households"))]


@router.get("/households", response_model=list[HouseholdOut])
def households(
    session: SessionDep, principal: ReadHouseholds, include_left: Annotated[bool, Query()] = False
) -> list[dict[str, Any]]:
    """Lone elderly households under watch in your scope; personal fields masked unless you may read them (then logged)."""
    records = [household_out(session, h) for h in list_households(session, scope_for(principal), include_left=include_left)]
    return present(session, principal, "households", records, "list")


@router.post("/households", response_model=HouseholdOut, status_code=201)
def join_household(body: HouseholdIn, session: SessionDep, principal: ManageHouseholds) -> dict[str, Any]:
    """Record a household's consent to join the watch, and link the devices watching over it (its committee's staff)."""
    household = join(
        session, scope_for(principal), principal, committee=body.committee, consent_note=body.consent_note,
        devices=body.devices, now=utcnow(), name=body.name, address=body.address, phone=body.phone,
        contacts=[c.model_dump() for c in body.contacts], responder_department=body.responder_department,
    )
    return present(session, principal, "households", [household_out(session, household)], "create")[0]


@router.post("/households/{household_id}/leave", response_model=HouseholdOut)
def leave_household(
    household_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep, principal: ManageHouseholds
) -> dict[str, Any]:
    """The household leaves the watch: its devices stop being judged for it and its personal data are erased now."""
    return household_out(session, leave(session, scope_for(principal), principal, household_id, utcnow()))


@router.get("/vitals/{indicator}/{code}", response_model=list[VitalPoint])
def vital_sign_history(
    indicator: Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")],
    code: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")],
    session: SessionDep,
    principal: ReadAlerts,
    since: Annotated[datetime | None, Query(description="Default: a week before until. No zone means UTC.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
) -> list[dict[str, Any]]:
    """An area's history of one vital sign: its value and level hour by hour."""
    start, end = _span(since, until, timedelta(days=7))
    return vital_history(session, scope_for(principal), indicator, code, start, end)


def _span(since: datetime | None, until: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    """A query's span as UTC; an instant beyond year 1–9999 in UTC is a 422, not a 500."""
    try:
        end = as_utc(until) if until else utcnow()
        return (as_utc(since) if since else end - default), end
    except OverflowError as error:
        message = "since and until must lie between the years 1 and 9999 in UTC"
        raise ValidationError(message) from error
