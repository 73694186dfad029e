"""Cases over HTTP (一网统管): reports in, lists and details in scope, steps along the workflow, the public view."""

from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from huizhili.cases.evaluation import GROUPINGS, MEASURES, Period, chart, evaluate, league
from huizhili.cases.flow import CaseFlow, case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.hotspots import (
    MIN_CASES_RANGE,
    RADIUS_RANGE_M,
    hotspot_map,
    hotspot_out,
    hotspots,
    hotspots_csv,
    hotspots_geojson,
)
from huizhili.cases.intake import Report, case_for_alert, report_case
from huizhili.cases.layer import case_layer
from huizhili.cases.photos import (
    add_photo,
    add_reporters_photo,
    case_photos,
    photo_of,
    photo_out,
    photo_store,
)
from huizhili.cases.reading import (
    CaseQuery,
    action_out,
    case_out,
    disputes,
    get_case,
    list_cases,
    public_case_by_number,
    public_view,
    reported_cases,
    signal_out,
    signals,
    trail,
)
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Principal, scope_for
from huizhili.policy.privacy import present
from huizhili.spreadsheet import csv_text
from huizhili.storage.models import Case, CasePhoto, as_utc, utcnow
from huizhili.web.deps import Allow, HandleAlerts, SessionDep, SettingsDep
from huizhili.web.schemas import (
    AlertCaseIn,
    CaseActionIn,
    CaseDetail,
    CaseIn,
    CaseLayer,
    CaseLinked,
    CaseOut,
    CasePhotoOut,
    PublicCase,
)

router = APIRouter(tags=["cases"])

ReadCases = Annotated[Principal, Depends(Allow("read:cases"))]
ReportCases = Annotated[Principal, Depends(Allow("report:cases"))]
HandleCases = Annotated[Principal, Depends(Allow("handle:cases"))]
ReadPublic = Annotated[Principal, Depends(Allow("read:public"))]
CaseId = Annotated[int, Path(ge=1, le=2**62)]


@router.post("/cases", response_model=CaseOut | CaseLinked, status_code=201)
def report(body: CaseIn, session: SessionDep, settings: SettingsDep, principal: ReportCases) -> dict[str, Any]:
    """Take a report in: a new case (filed and dispatched when its category is known), or one more signal of the open case of the same incident (``linked``).

    A report linked to a case the reporter may not read (across his area's edge) is answered
    with that case's number only.
    """
    flow = case_flow(settings)
    channel = "patrol" if principal.role == "grid_officer" else "open311" if principal.role in {"citizen", "service"} else body.channel
    intake = report_case(session, scope_for(principal), principal, flow, Report(
        channel=channel, title=body.title, description=body.description, lon=body.lon, lat=body.lat, crs=body.crs,
        place=body.place, address=body.address, category=body.category, reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone, external_ref=body.external_ref, asset_ref=body.asset_ref,
        reporter_user_id=principal.user_id if principal.role == "citizen" else None,
    ), utcnow())
    visible = session.scalar(sa.select(Case.id).where(Case.id == intake.case.id, scope_for(principal).condition(Case)))
    if visible is None:
        return {"number": intake.case.number, "linked": True}
    return {**_shown(session, principal, flow, intake.case), "linked": intake.linked}


@router.post("/alerts/{alert_id}/case", response_model=CaseOut | CaseLinked, status_code=201)
def case_of_alert(alert_id: Annotated[int, Path(ge=1, le=2**62)], body: AlertCaseIn, session: SessionDep, settings: SettingsDep,
                  principal: HandleAlerts) -> dict[str, Any]:
    """Open a case for an alert the platform did not make one of (an area's vital sign, say): a way of handling it, once; 409 names the case it is."""
    flow = case_flow(settings)
    intake = case_for_alert(session, scope_for(principal), principal, flow, alert_id, body.category, utcnow())
    return {**_shown(session, principal, flow, intake.case), "linked": intake.linked}


@router.get("/cases", response_model=list[CaseOut])
def cases(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadCases,
    state: Annotated[str | None, Query(max_length=24)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    area: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z]+$")] = None,
    overdue: bool | None = None,
    escalated: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> list[dict[str, Any]]:
    """Cases in your scope, newest first; reporters masked unless you may read personal data (then logged)."""
    flow = case_flow(settings)
    query = CaseQuery(state=state, category=category, department=department, channel=channel, area=area, overdue=overdue,
                      escalated=escalated, limit=limit, offset=offset)
    records = [case_out(c, flow) for c in list_cases(session, scope_for(principal), flow, query)]
    return present(session, principal, "cases", records, "list")


@router.get("/cases/map", response_model=CaseLayer)
def case_map(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadCases,
    area: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z]+$", description="Only this area's (any level's code).")] = None,
) -> Response:
    """Every open case in your scope with a position, as columns of what the map draws: position, stage, time limit."""
    return Response(case_layer(session, scope_for(principal), case_flow(settings), area), media_type="application/json")


@router.get("/cases/workflow")
def workflow(settings: SettingsDep, principal: ReadCases) -> dict[str, Any]:
    """The workflow in force: states, and each action's sources, target, roles and needs (the district's data)."""
    flow = case_flow(settings)
    return {
        "source": flow.workflow.source,
        "states": [vars(s) for s in flow.workflow.states.values()],
        "transitions": [{**vars(t), "sources": sorted(t.sources), "roles": sorted(t.roles), "needs": sorted(t.needs)}
                        for t in flow.workflow.transitions.values()],
    }


def _period(since: str | None, until: str | None) -> Period:
    """A KPI period as UTC: default the 30 days to now; a time that is not ISO 8601, or beyond the years 1–9999 in UTC, is a 422."""
    try:
        end = as_utc(datetime.fromisoformat(until)) if until else utcnow()
        return Period(as_utc(datetime.fromisoformat(since)) if since else end - timedelta(days=30), end)
    except (ValueError, OverflowError) as error:
        message = "since and until are ISO 8601 times (2026-12-01 or 2026-12-01T08:00:00+08:00) between the years 1 and 9999"
        raise ValidationError(message) from error


Since = Annotated[str | None, Query(max_length=40, description="Cases received from, ISO 8601 (default 30 days before until). No zone means UTC.")]
Until = Annotated[str | None, Query(max_length=40, description="Cases received before, ISO 8601 (default now).")]
By = Annotated[str, Query(pattern="^(" + "|".join(GROUPINGS) + ")$")]


@router.get("/cases/kpis", responses={200: {"description": "The measures per group, as JSON or CSV (format).",
                                           "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}})
def kpis(session: SessionDep, settings: SettingsDep, principal: ReadCases, by: By = "street", since: Since = None,
         until: Until = None, format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Any:
    """综合评价: closure, on-time, rework and satisfaction rates and handling hours per group, over your scope's cases."""
    rows = evaluate(session, scope_for(principal), case_flow(settings), by, _period(since, until))
    if format == "csv":
        return Response(csv_text(rows, list(rows[0]) if rows else ["key"]), media_type="text/csv; charset=utf-8")
    return rows


@router.get("/cases/kpis.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def kpi_chart(session: SessionDep, settings: SettingsDep, principal: ReadCases, by: By = "street",
              measure: Annotated[str, Query(pattern="^(" + "|".join(MEASURES) + ")$")] = "on_time_rate",
              since: Since = None, until: Until = None) -> Response:
    """One measure per group as a bar chart."""
    period = _period(since, until)
    rows = evaluate(session, scope_for(principal), case_flow(settings), by, period)
    title = f"{period.start:%Y-%m-%d} – {period.end:%Y-%m-%d}"
    return Response(chart(rows, measure, title), media_type="image/png")


Category = Annotated[str | None, Query(max_length=40, description="Only cases of this category.")]
Street = Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z]+$", description="Only cases in this street (its code).")]
Radius = Annotated[float, Query(ge=RADIUS_RANGE_M[0], le=RADIUS_RANGE_M[1], allow_inf_nan=False,
                                description="Metres within which cases are neighbours (DBSCAN's eps).")]
MinCases = Annotated[int, Query(ge=MIN_CASES_RANGE[0], le=MIN_CASES_RANGE[1],
                                description="Cases within the radius, itself included, that make a hotspot's core.")]
OpenOnly = Annotated[bool, Query(description="Only cases still being worked on.")]


@router.get("/cases/hotspots", responses={200: {
    "description": "The hotspots, most cases first: JSON, a GeoJSON FeatureCollection of their centres, or CSV (format).",
    "content": {"application/json": {}, "application/geo+json": {}, "text/csv": {"schema": {"type": "string"}}}}})
def case_hotspots(session: SessionDep, settings: SettingsDep, principal: ReadCases, since: Since = None, until: Until = None,
                  category: Category = None, street: Street = None, radius_m: Radius = 150.0, min_cases: MinCases = 5,
                  open_only: OpenOnly = False, format: Annotated[str, Query(pattern="^(json|geojson|csv)$")] = "json") -> Any:
    """热点: where your scope's cases cluster (DBSCAN on the sphere), with their counts, radius, categories and streets."""
    found = hotspots(session, scope_for(principal), case_flow(settings), _period(since, until), category=category,
                     street=street, radius_m=radius_m, min_cases=min_cases, open_only=open_only)
    if format == "csv":
        return Response(hotspots_csv(found), media_type="text/csv; charset=utf-8")
    if format == "geojson":
        return JSONResponse(hotspots_geojson(found), media_type="application/geo+json")
    return [hotspot_out(h) for h in found]


@router.get("/cases/hotspots.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def case_hotspot_map(session: SessionDep, settings: SettingsDep, principal: ReadCases, since: Since = None,
                     until: Until = None, category: Category = None, street: Street = None, radius_m: Radius = 150.0,
                     min_cases: MinCases = 5, open_only: OpenOnly = False) -> Response:
    """The hotspots as a map: every case a dot, each hotspot a circle of its radius with its rank and cases."""
    png = hotspot_map(session, scope_for(principal), case_flow(settings), _period(since, until), category=category,
                      street=street, radius_m=radius_m, min_cases=min_cases, open_only=open_only)
    return Response(png, media_type="image/png")


@router.get("/public/league")
def public_league(session: SessionDep, settings: SettingsDep, principal: ReadPublic,
                  level: Annotated[str, Query(pattern="^(street|committee)$")] = "street", since: Since = None,
                  until: Until = None) -> list[dict[str, Any]]:
    """The streets' (or committees') league table: cases, closure, on-time and satisfaction rates, best on-time first."""
    return league(session, case_flow(settings), level, _period(since, until))


@router.get("/cases/{case_id}", response_model=CaseDetail)
def case(case_id: CaseId, session: SessionDep, settings: SettingsDep, principal: ReadCases) -> dict[str, Any]:
    """One case with its whole trail, its signals (every reporter kept) and its ownership disputes."""
    flow = case_flow(settings)
    found = get_case(session, scope_for(principal), case_id)
    shown = _shown(session, principal, flow, found)
    reports = present(session, principal, "case_signals", [signal_out(s) for s in signals(session, found)], "read")
    pictures = present(session, principal, "case_photos", [photo_out(p, a) for p, a in case_photos(session, found)], "read")
    return {**shown, "trail": [action_out(a, flow) for a in trail(session, found)], "signals": reports, "photos": pictures,
            "disputes": [{k: v for k, v in vars(d).items() if not k.startswith("_")} for d in disputes(session, found)]}


@router.post("/cases/{case_id}/photos", response_model=CasePhotoOut, status_code=201)
def upload_photo(case_id: CaseId, file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP picture.")],
                 session: SessionDep, settings: SettingsDep, principal: HandleCases,
                 public: Annotated[bool, Form(description="It shows nothing private: shown with its step if the step is public.")] = False,
                 ) -> dict[str, Any]:
    """Upload a photo of a case, to attach to your next step on it (``photos`` of the action).

    Checked to be a picture (whatever its name or type says), stored without any metadata; the
    position its EXIF gave is kept apart, for readers with ``read:personal``.
    """
    store = photo_store(settings)
    data = file.file.read(store.max_bytes + 1)
    photo = add_photo(session, scope_for(principal), store, principal, case_id, file.filename or "photo", data, utcnow(),
                      public=public)
    return present(session, principal, "case_photos", [photo_out(photo, None)], "read")[0]


@router.get("/cases/{case_id}/photos/{photo_id}", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
def photo(case_id: CaseId, photo_id: CaseId, session: SessionDep, settings: SettingsDep, principal: ReadCases) -> FileResponse:
    """A photo of a case you may see: the picture as stored, without metadata."""
    found = photo_of(session, get_case(session, scope_for(principal), case_id), photo_id)
    return _picture(settings, found)


@router.post("/cases/{case_id}/actions", response_model=CaseOut)
def take_action(case_id: CaseId, body: CaseActionIn, session: SessionDep, settings: SettingsDep,
                principal: HandleCases) -> dict[str, Any]:
    """Take a step on a case; refused with the allowed steps named if the workflow does not let it leave its state."""
    flow = case_flow(settings)
    step = Step(note=body.note, reason=body.reason, department=body.department, category=body.category,
                satisfaction=body.satisfaction, until=body.until, into=body.into,
                signals=tuple(body.signals) if body.signals else None, photos=tuple(body.photos) if body.photos else None)
    changed = act(session, scope_for(principal), principal, flow, case_id, body.action, step, utcnow())
    return _shown(session, principal, flow, changed)


@router.get("/public/cases/{number}", response_model=PublicCase)
def public_case(number: Annotated[str, Path(min_length=8, max_length=24, pattern=r"^[0-9]+$")], session: SessionDep,
                settings: SettingsDep, principal: ReadPublic) -> dict[str, Any]:
    """Follow a case by its tracking number: its state, public timeline and countdown; nothing about who reported it."""
    return public_view(session, case_flow(settings), number, utcnow())


@router.get("/me/cases", response_model=list[PublicCase])
def my_cases(session: SessionDep, settings: SettingsDep, principal: ReportCases) -> list[dict[str, Any]]:
    """The cases you reported, newest first, as you follow them: requests for help too, which are never public."""
    return reported_cases(session, scope_for(principal), case_flow(settings), utcnow())


@router.post("/me/cases/{number}/photos", response_model=CasePhotoOut, status_code=201)
def my_case_photo(number: Annotated[str, Path(min_length=8, max_length=24, pattern=r"^[0-9]+$")],
                  file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP picture.")],
                  session: SessionDep, settings: SettingsDep, principal: ReportCases) -> dict[str, Any]:
    """Add a photo to your own report (a citizen's phone): kept with the report, for the staff only."""
    store = photo_store(settings)
    photo = add_reporters_photo(session, scope_for(principal), store, principal, number, file.filename or "photo",
                                file.file.read(store.max_bytes + 1), utcnow())
    return present(session, principal, "case_photos", [photo_out(photo, "receive")], "read")[0]


@router.get("/public/cases/{number}/photos/{photo_id}", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
def public_photo(number: Annotated[str, Path(min_length=8, max_length=24, pattern=r"^[0-9]+$")], photo_id: CaseId,
                 session: SessionDep, settings: SettingsDep, principal: ReadPublic) -> FileResponse:
    """A photo marked public of a public step of a case followed by its number (a handling report, a verification), without metadata."""
    case = public_case_by_number(session, case_flow(settings), number)
    return _picture(settings, photo_of(session, case, photo_id, public_only=True))


def _picture(settings: SettingsDep, photo: CasePhoto) -> FileResponse:
    path = photo_store(settings).path(photo)
    if not path.is_file():
        message = f"photo {photo.id}'s file is missing from the photo store / 照片文件缺失"
        raise NotFoundError(message)
    return FileResponse(path, media_type=photo.content_type,
                        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


def _shown(session: SessionDep, principal: Principal, flow: CaseFlow, found: Any) -> dict[str, Any]:
    return present(session, principal, "cases", [case_out(found, flow)], "read")[0]
