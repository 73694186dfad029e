"""Open311 GeoReport v2 over HTTP, in JSON and XML, at ``/api/open311/v2`` (the format by the path's suffix).

The spec's shapes: lists are JSON arrays (a posted request and a single request too), XML roots
``services/service``, ``service_definition/attributes/attribute/values/value``,
``service_requests/request`` and ``errors/error``, without a namespace. A citizen's app posts
with its API key in the form (``api_key``), as Open311 clients do, or in ``X-API-Key``. Refusals
the endpoints make themselves (an unknown service, a missing location) answer in Open311's error
shape, 404 or 400; credentials follow the platform's rule (401 without, 403 without the right).
"""

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from huizhili.cases.comments import add_comment
from huizhili.cases.flow import case_flow
from huizhili.cases.open311 import (
    RequestQuery,
    get_request,
    list_requests,
    post_request,
    requests_out,
    service_definition,
    services,
    updates,
)
from huizhili.errors import (
    AuthenticationError,
    ForbiddenError,
    HuizhiliError,
    NotFoundError,
    ValidationError,
)
from huizhili.policy import ANONYMOUS, Principal, require, scope_for
from huizhili.storage.models import as_utc, utcnow
from huizhili.web.deps import (
    Allow,
    ReadPublic,
    SessionDep,
    SettingsDep,
    api_key_scheme,
    bearer_scheme,
    client_address,
    count_anonymous,
    principal_from_secrets,
)

router = APIRouter(prefix="/open311/v2", tags=["open311"])

_EITHER = {"application/json": {"schema": {}}, "text/xml": {"schema": {"type": "string"}}}
"""GeoReport v2's bodies, JSON or XML by the path's suffix; their shapes are the spec's, not described again here."""
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The answer, in the format the suffix names.", "content": _EITHER},
    400: {"description": "Open311 errors: [{code, description}] or <errors>.", "content": _EITHER},
    403: {"description": "Credentials without the right, or (Open311 errors) a report outside the reporter's areas.",
          "content": _EITHER},
    404: {"description": "Open311 errors: an unknown service, request or jurisdiction.", "content": _EITHER},
}
"""The documented responses of every Open311 operation."""

Format = Annotated[str, Path(pattern="^(json|xml)$", description="json or xml")]

_CHILD = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
          "notes": "note", "errors": "error", "service_request_updates": "request_update", "endpoints": "endpoint",
          "formats": "format"}
"""XML child element of each list element (GeoReport v2's Spark convention)."""


class Open311Failure(HuizhiliError):
    """A refusal answered in Open311's error shape and format; the request's transaction is rolled back as for any error."""

    def __init__(self, error: HuizhiliError, fmt: str) -> None:
        super().__init__(str(error))
        self.status = 404 if isinstance(error, NotFoundError) else 403 if isinstance(error, ForbiddenError) else 400
        self.fmt = fmt


def open311_error(error: Open311Failure) -> Response:
    """The error in Open311's shape: ``[{code, description}]`` or ``<errors><error>``."""
    return _answer("errors", [{"code": error.status, "description": str(error)}], error.fmt, status=error.status)


class AllowWithFormKey(Allow):
    """:class:`Allow`, taking the caller also from an ``api_key`` form field, where Open311 clients put their key.

    Resolved before anything is counted, so a client sending its key in the form is not
    rate-limited as anonymous; every key presented must be valid and all of one user.
    """

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        session: SessionDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> Principal:
        if request.headers.get("authorization") is not None and bearer is None:
            message = "Authorization must be 'Bearer <access token>'"
            raise AuthenticationError(message)
        form = await request.form()
        in_form = form.get("api_key")
        secrets = [bearer.credentials if bearer else None, api_key, in_form if isinstance(in_form, str) else None]
        principal = principal_from_secrets(session, secrets)
        if principal is None:
            count_anonymous(request.app.state.rate_limiter, client_address(request))
            principal = ANONYMOUS
        require(principal, self.permission)
        return principal


ReportCases = Annotated[Principal, Depends(AllowWithFormKey("report:cases"))]


@router.get("/discovery.{fmt}", response_class=Response, responses=ANSWERS)
def discovery(fmt: Format, request: Request, principal: ReadPublic) -> Response:
    """Service discovery: where this endpoint is and the formats it speaks."""
    base = str(request.url_for("service_list", fmt="json")).rsplit("/", 1)[0]
    document = {"changeset": "2026-12-01T00:00:00Z", "contact": "徐汇区城市运行管理中心 Xuhui City Operation Management Centre",
                "key_service": "API keys are issued by the district's administrators (huizhili user api-key).",
                "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                               "changeset": "2026-12-01T00:00:00Z", "type": "production",
                               "formats": ["text/xml", "application/json"]}]}
    if fmt == "json":
        return JSONResponse(document)
    return _xml_response(_element("discovery", document))


@router.get("/services.{fmt}", name="service_list", response_class=Response, responses=ANSWERS)
def service_list(fmt: Format, settings: SettingsDep, principal: ReadPublic,
                 jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """The services a citizen may report: the case categories, with metadata where they ask questions."""
    _jurisdiction(settings.open311_jurisdiction, jurisdiction_id, fmt)
    return _answer("services", services(case_flow(settings)), fmt)


@router.get("/services/{service_code}.{fmt}", response_class=Response, responses=ANSWERS)
def definition(service_code: Annotated[str, Path(max_length=40)], fmt: Format, settings: SettingsDep, principal: ReadPublic,
               jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """A service's definition: the attributes (questions) a request of it may or must answer."""
    _jurisdiction(settings.open311_jurisdiction, jurisdiction_id, fmt)
    try:
        found = service_definition(case_flow(settings), service_code)
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    if fmt == "json":
        return JSONResponse(found)
    return _xml_response(_element("service_definition", found))


@router.post("/requests.{fmt}", response_class=Response, responses=ANSWERS)
async def create(fmt: Format, request: Request, session: SessionDep, settings: SettingsDep, principal: ReportCases) -> Response:
    """Post a service request (form-encoded, with ``api_key``); joins the open request of the same incident if there is one."""
    form = await request.form()
    fields = {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}
    _jurisdiction(settings.open311_jurisdiction, next(iter(fields.get("jurisdiction_id", [])), None), fmt)
    try:
        intake = post_request(session, scope_for(principal), principal, case_flow(settings), fields, utcnow())
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    notice = ("已并入同一事件的工单，办理进度同步告知 Joined the open request about the same incident; you will be told of its progress"
              if intake.linked else "已受理 Received")
    return _answer("service_requests", [{"service_request_id": intake.case.number, "service_notice": notice,
                                          "account_id": None}], fmt)


@router.get("/requests.{fmt}", response_class=Response, responses=ANSWERS)
def requests_list(
    fmt: Format,
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadPublic,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="Comma-separated; overrides the other filters.")] = None,
    service_code: Annotated[str | None, Query(max_length=500)] = None,
    start_date: Annotated[str | None, Query(max_length=40, description="ISO 8601, with its zone.")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="ISO 8601, with its zone.")] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed, or both comma-separated.")] = None,
    extensions: Annotated[bool, Query(description="Add each request's public steps as notes.")] = False,
    page: Annotated[int, Query(ge=1, le=10**6, description="Paging extension: which page.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000, description="Paging extension: requests per page (at most 1000).")] = 1000,
    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Public service requests: by id, or by service, period (at most 90 days; default the last 90) and status."""
    _jurisdiction(settings.open311_jurisdiction, jurisdiction_id, fmt)
    flow = case_flow(settings)
    try:
        query = RequestQuery(ids=_listed(service_request_id), service_codes=_listed(service_code),
                             start=_utc(start_date), end=_utc(end_date), statuses=_listed(status), page=page, page_size=page_size)
        found = list_requests(session, flow, query, utcnow())
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    return _answer("service_requests", requests_out(session, flow, found, notes=extensions), fmt)


@router.get("/requests/{service_request_id}.{fmt}", response_class=Response, responses=ANSWERS)
def request_one(service_request_id: Annotated[str, Path(max_length=24)], fmt: Format, session: SessionDep,
                settings: SettingsDep, principal: ReadPublic, extensions: bool = False,
                jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """One public service request (a list of one, as the spec has it)."""
    _jurisdiction(settings.open311_jurisdiction, jurisdiction_id, fmt)
    flow = case_flow(settings)
    try:
        case = get_request(session, flow, service_request_id)
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    return _answer("service_requests", requests_out(session, flow, [case], notes=extensions), fmt)


@router.get("/servicerequestupdates.{fmt}", response_class=Response, responses=ANSWERS)
def request_updates(fmt: Format, session: SessionDep, settings: SettingsDep, principal: ReadPublic,
                    start_date: Annotated[str, Query(max_length=40, description="ISO 8601, with its zone.")],
                    end_date: Annotated[str, Query(max_length=40, description="ISO 8601, with its zone.")],
                    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """Status updates of public requests in a period of at most 90 days (FixMyStreet's extension)."""
    _jurisdiction(settings.open311_jurisdiction, jurisdiction_id, fmt)
    try:
        start, end = _utc(start_date), _utc(end_date)
        if start is None or end is None:
            message = "start_date and end_date are required"
            raise ValidationError(message)
        found = updates(session, case_flow(settings), start, end)
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    return _answer("service_request_updates", found, fmt)


def _jurisdiction(ours: str, asked: str | None, fmt: str) -> None:
    """One jurisdiction is served: another named is a 404, none named is this one."""
    if asked and asked != ours:
        message = f"unknown jurisdiction_id {asked!r}; this endpoint serves {ours!r}"
        raise Open311Failure(NotFoundError(message), fmt)


def _utc(text: str | None) -> Any:
    """A date parameter as UTC (no zone means UTC), refused unless ISO 8601 within the years 1–9999 in UTC."""
    try:
        return as_utc(datetime.fromisoformat(text)) if text else None
    except (ValueError, OverflowError) as error:
        message = f"dates are ISO 8601 (2026-12-01T08:00:00+08:00) between the years 1 and 9999, not {(text or '')[:40]!r}"
        raise ValidationError(message) from error


def _listed(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _answer(root: str, items: list[dict[str, Any]], fmt: str, *, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(items, status_code=status)
    return _xml_response(_element(root, items), status)


def _element(tag: str, value: Any) -> ET.Element:
    """``value`` as XML: a dict's keys as children, a list's items as repeated singular children, None empty."""
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(_CHILD.get(tag, "item"), item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def _xml_response(element: ET.Element, status: int = 200) -> Response:
    body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


@router.post("/servicerequestupdates.{fmt}", response_class=Response, responses=ANSWERS)
async def post_update(fmt: Format, request: Request, session: SessionDep, settings: SettingsDep,
                      principal: ReportCases) -> Response:
    """Add a reporter's update to a request (mySociety's POST Service Request Update): a comment, or ``status=OPEN`` on a closed request, "it is not fixed".

    Form fields: ``service_request_id``, ``description``, ``status`` (OPEN or CLOSED), and the
    reporter's ``first_name``, ``last_name``, ``phone``. A request closed within
    ``case_citizen_reopen_days`` and said to be open again is reopened; otherwise the word
    reaches the staff handling it. Answers the update's id.
    """
    form = await request.form()
    fields = {name: value.strip() for name, value in form.items() if isinstance(value, str) and value.strip()}
    _jurisdiction(settings.open311_jurisdiction, fields.get("jurisdiction_id"), fmt)
    status = fields.get("status", "").lower()
    try:
        if status not in {"", "open", "closed"}:
            message = f"status is OPEN or CLOSED, not {fields['status']!r}"
            raise ValidationError(message)
        if "service_request_id" not in fields:
            message = "service_request_id is required"
            raise ValidationError(message)
        name = "".join(part for part in (fields.get("last_name"), fields.get("first_name")) if part) or None
        comment = add_comment(session, case_flow(settings), principal, fields["service_request_id"][:24],
                              fields.get("description", ""), channel="open311", name=name, phone=fields.get("phone"),
                              not_fixed=status == "open", reopen_days=settings.case_citizen_reopen_days, now=utcnow())
    except HuizhiliError as error:
        raise Open311Failure(error, fmt) from error
    notice = ("已重新办理 Reopened: the request goes back to the unit handling it" if comment.reopened
              else "已收到补充反映 Your word reached the staff handling the request")
    return _answer("service_request_updates", [{"update_id": str(comment.step.id), "service_request_id": comment.case.number,
                                                 "service_notice": notice}], fmt)
