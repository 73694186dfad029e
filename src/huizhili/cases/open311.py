"""Open311 GeoReport v2: the case flow as citizens' apps speak it — services, service definitions, requests, updates.

Services are the case categories (their ``service_code``), with their questions as service
attributes. A posted request goes through the same intake as every channel (``report_case``),
so it is linked to an open case of the same incident rather than doubled, and the reporter is
told which request he now follows. What a request shows is public: no reporter and no free text (its
description is its category's name), the address down to its road, the position rounded to
about 100 m, and nothing of categories kept out of public lists (``public = false``) or of
households under watch.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from huizhili.cases._planning import filter_only
from huizhili.cases.categories import Category
from huizhili.cases.flow import CaseFlow
from huizhili.cases.intake import Intake, Report, report_case
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.policy.privacy import mask_address
from huizhili.storage.models import Case, CaseAction, Department

MOST_REQUESTS = 1000
"""The most requests one answer lists (the spec's default cap)."""

LONGEST_SPAN = timedelta(days=90)
"""The longest period one ``GET requests`` may span, and the default one (the spec's 90 days)."""

SHOWN: tuple[InstrumentedAttribute[Any], ...] = (Case.id, Case.number, Case.state, Case.category, Case.department,
                                                 Case.received_at, Case.updated_at, Case.due_at, Case.address, Case.lat, Case.lon)
"""The columns a request is shown from: read as rows, not whole cases (their text, JSON and personal fields stay unread)."""


@dataclass(frozen=True)
class RequestQuery:
    """``GET requests`` filters; ``ids`` (service_request_id) overrides the others, as the spec says.

    ``page`` and ``page_size`` are the paging extension of Chicago, Boston and others (civicbot sends ``page_size``).
    """

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = MOST_REQUESTS


def services(flow: CaseFlow) -> list[dict[str, Any]]:
    """Every category as an Open311 service (metadata true where it asks questions)."""
    return [_service(c) for c in flow.categories.categories.values()]


def service_definition(flow: CaseFlow, service_code: str) -> dict[str, Any]:
    """A service's questions as Open311 attributes, in order.

    Raises
    ------
    NotFoundError
        If no category has this service code.
    """
    category = _category(flow, service_code)
    attributes = [{"variable": True, "code": a["code"], "datatype": a["datatype"], "required": a["required"],
                   "datatype_description": None, "order": order, "description": a["description"],
                   "values": [{"key": v["key"], "name": v["name"]} for v in a["values"]]}
                  for order, a in enumerate(category.attributes, 1)]
    return {"service_code": category.service_code, "attributes": attributes}


def post_request(session: Session, scope: Scope, principal: Principal, flow: CaseFlow, form: dict[str, list[str]],
                 now: datetime) -> Intake:
    """Take a citizen's request in, from the POST's form fields (each a list of the values sent under that name).

    Raises
    ------
    NotFoundError
        If the service code is unknown.
    ValidationError
        Naming the field: no location (lat and long, or address_string), a position that is no
        number, a required attribute missing, a value not among an attribute's keys.
    """
    def one(name: str) -> str | None:
        values = [v for v in form.get(name, []) if v.strip()]
        return values[0].strip() if values else None

    code = one("service_code")
    if code is None:
        message = "service_code is required"
        raise ValidationError(message)
    category = _category(flow, code)
    lon, lat, place = _location(one("long"), one("lat"), one("address_string") or one("address_id"))
    attributes = _attributes(category, form)
    description = one("description") or ""
    if len(description) > 4000:
        message = "description has more than 4000 characters"
        raise ValidationError(message)
    name = "".join(part for part in (one("last_name"), one("first_name")) if part) or None
    title = (description.splitlines()[0][:60] if description else category.code) or category.code
    report = Report(channel="open311", title=title, description=description, lon=lon, lat=lat, place=place,
                    address=one("address_string"), category=category.code, reporter_name=name, reporter_phone=one("phone"),
                    reporter_user_id=principal.user_id if principal.role == "citizen" else None,
                    asset_ref=attributes.get("asset_ref"), attributes=attributes)
    return report_case(session, scope, principal, flow, report, now)


def list_requests(session: Session, flow: CaseFlow, query: RequestQuery, now: datetime) -> list[sa.Row[Any]]:
    """Public requests matching ``query``, newest first: by id whatever else is asked, else over at most 90 days.

    Each is a row of :data:`SHOWN`, for :func:`requests_out`.

    Raises
    ------
    ValidationError
        If the period spans more than 90 days, ends before it starts, or a status is not open or closed.
    """
    hidden = (filter_only(session, Case.merged_into_id).is_(None), filter_only(session, Case.household_id).is_(None))
    statement = sa.select(*SHOWN).where(filter_only(session, Case.category).in_(flow.categories.public()), *hidden)
    if query.ids:
        statement = statement.where(Case.number.in_(query.ids))
    else:
        end = query.end or now
        start = query.start or end - LONGEST_SPAN
        if end < start or end - start > LONGEST_SPAN:
            message = "start_date and end_date must be in order and at most 90 days apart"
            raise ValidationError(message)
        statement = statement.where(Case.received_at >= start, Case.received_at <= end)
        if query.service_codes:
            codes = [c.code for c in flow.categories.categories.values() if c.service_code in query.service_codes]
            statement = statement.where(filter_only(session, Case.category).in_(codes))
        wanted = set(query.statuses)
        if wanted - {"open", "closed"}:
            message = "status is open, closed or both (comma-separated)"
            raise ValidationError(message)
        if len(wanted) == 1:
            openness = filter_only(session, Case.state).in_(flow.workflow.open_states())
            statement = statement.where(openness if wanted == {"open"} else sa.not_(openness))
    ordered = statement.order_by(Case.received_at.desc(), Case.id.desc())
    size = min(query.page_size, MOST_REQUESTS)
    return list(session.execute(ordered.limit(size).offset((query.page - 1) * size)))


def get_request(session: Session, flow: CaseFlow, number: str) -> sa.Row[Any]:
    """One public request by its id (our tracking number), a row of :data:`SHOWN`; a merged one answers as the case it joined.

    Raises
    ------
    NotFoundError
        If there is none, or its category is kept out of public lists.
    """
    found = session.execute(sa.select(Case.id, Case.merged_into_id).where(Case.number == number)).first()
    checked: tuple[InstrumentedAttribute[Any], ...] = (*SHOWN, Case.household_id)
    shown = (found.merged_into_id or found.id) if found is not None else None
    case = session.execute(sa.select(*checked).where(Case.id == shown)).first() if shown is not None else None
    category = flow.categories.categories.get(case.category or "") if case else None
    if case is None or category is None or not category.public or case.household_id is not None:
        message = f"no service request {number!r}"
        raise NotFoundError(message)
    return case


def requests_out(session: Session, flow: CaseFlow, cases: Sequence[sa.Row[Any]], *, notes: bool = False) -> list[dict[str, Any]]:
    """Requests (rows of :data:`SHOWN`) as Open311 service requests, with only what may be public.

    ``notes`` adds their public steps (Chicago's extension). What depends only on a state or a category is worked out once per answer, not per request,
    and the public steps of every request listed are read in one query.
    """
    agencies = dict(session.execute(sa.select(Department.code, Department.name)).all())  # tens of units: one small read
    zone = ZoneInfo(flow.timezone)
    states = {code: ("open" if state.open else "closed", f"{state.zh} {state.en}") for code, state in flow.workflow.states.items()}
    services = {code: (category.service_code, f"{code} {category.en}") for code, category in flow.categories.categories.items()}
    steps = _public_steps(session, [case.id for case in cases]) if notes else {}
    out = []
    for case in cases:
        status, status_notes = states[case.state]
        service_code, description = services.get(case.category or "", (None, None))
        request = {
            "service_request_id": case.number, "status": status, "status_notes": status_notes, "service_name": case.category,
            "service_code": service_code, "description": description,
            "agency_responsible": agencies.get(case.department or ""), "service_notice": None,
            "requested_datetime": _time(case.received_at, zone), "updated_datetime": _time(case.updated_at, zone),
            "expected_datetime": _time(case.due_at, zone), "address": mask_address(case.address) if case.address else None,
            "address_id": None, "zipcode": None,
            "lat": round(case.lat, 3) if case.lat is not None else None,
            "long": round(case.lon, 3) if case.lon is not None else None, "media_url": None,
        }
        if notes:
            request["notes"] = [_note(flow, step, zone) for step in steps.get(case.id, [])]
        out.append(request)
    return out


def updates(session: Session, flow: CaseFlow, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every public step of public requests between ``start`` and ``end`` as a request update (FixMyStreet's extension).

    Raises
    ------
    ValidationError
        If the period spans more than 90 days or ends before it starts.
    """
    if end < start or end - start > LONGEST_SPAN:
        message = "start_date and end_date must be in order and at most 90 days apart"
        raise ValidationError(message)
    zone = ZoneInfo(flow.timezone)
    rows = session.execute(
        sa.select(CaseAction, Case.number).join(Case, Case.id == CaseAction.case_id)
        .where(CaseAction.public.is_(True), CaseAction.at >= start, CaseAction.at <= end,
               Case.category.in_(flow.categories.public()), Case.household_id.is_(None))
        .order_by(CaseAction.id).limit(MOST_REQUESTS)
    ).all()
    return [{"update_id": step.id, "service_request_id": number,
             "status": "open" if flow.workflow.states[step.to_state].open else "closed",
             "updated_datetime": _time(step.at, zone), "description": _described(_note(flow, step, zone)), "media_url": None}
            for step, number in rows]


def _service(category: Category) -> dict[str, Any]:
    return {"service_code": category.service_code, "service_name": category.code, "description": category.en,
            "metadata": bool(category.attributes), "type": "realtime",
            "keywords": ", ".join([category.code, category.en]), "group": category.hotline_kind}


def _category(flow: CaseFlow, service_code: str) -> Category:
    category = flow.categories.by_service_code(service_code)
    if category is None:
        message = f"no service {service_code[:40]!r}; services: {', '.join(c.service_code for c in flow.categories.categories.values())}"
        raise NotFoundError(message)
    return category


def _location(lon: str | None, lat: str | None, place: str | None) -> tuple[float | None, float | None, str | None]:
    """Lat and long (WGS84, as the spec says), else a place the digital base knows by name."""
    if lon is not None or lat is not None:
        try:
            return float(lon or ""), float(lat or ""), None
        except ValueError as error:
            message = f"lat and long must both be numbers, not {lat!r} and {lon!r}"
            raise ValidationError(message) from error
    if place is None:
        message = "a location is required: lat and long, or address_string"
        raise ValidationError(message)
    return None, None, place


def _attributes(category: Category, form: dict[str, list[str]]) -> dict[str, Any]:
    """The answers to the service's questions, checked against its definition."""
    answers: dict[str, Any] = {}
    for attribute in category.attributes:
        code = attribute["code"]
        values = [v for v in form.get(f"attribute[{code}]", []) + form.get(f"attribute[{code}][]", []) if v.strip()]
        keys = {str(v["key"]) for v in attribute["values"]}
        if not values:
            if attribute["required"]:
                message = f"attribute[{code}] is required ({attribute['description']})"
                raise ValidationError(message)
            continue
        if keys and any(v not in keys for v in values):
            message = f"attribute[{code}] must be one of {', '.join(sorted(keys))}"
            raise ValidationError(message)
        if attribute["datatype"] != "multivaluelist" and len(values) > 1:
            message = f"attribute[{code}] takes one value, not {len(values)}"
            raise ValidationError(message)
        answers[code] = values if attribute["datatype"] == "multivaluelist" else _typed(code, attribute["datatype"], values[0])
    return answers


def _typed(code: str, datatype: str, value: str) -> Any:
    """An attribute's answer as its datatype says: a finite number, a date and time, or text of at most 2000 characters."""
    try:
        if datatype == "number":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if datatype == "datetime":
            return datetime.fromisoformat(value).isoformat()
    except ValueError as error:
        message = f"attribute[{code}] must be a {datatype}"
        raise ValidationError(message) from error
    if len(value) > 2000:
        message = f"attribute[{code}] has more than 2000 characters"
        raise ValidationError(message)
    return value


def _public_steps(session: Session, case_ids: list[int]) -> dict[int, list[CaseAction]]:
    """Each case's public steps in order, for all of them in one query (at most a page's thousand ids)."""
    steps: dict[int, list[CaseAction]] = {}
    if case_ids:
        for step in session.scalars(sa.select(CaseAction).where(CaseAction.case_id.in_(case_ids), CaseAction.public.is_(True))
                                    .order_by(CaseAction.id)):
            steps.setdefault(step.case_id, []).append(step)
    return steps


def _note(flow: CaseFlow, step: CaseAction, zone: ZoneInfo) -> dict[str, Any]:
    """A public step as a note: its name, and its note where it was written for the reporters (``public_note``)."""
    transition = flow.workflow.transitions.get(step.action)
    summary = f"{transition.zh} {transition.en}" if transition else "受理 Received"
    written = step.note if transition is not None and transition.public_note else None
    return {"datetime": _time(step.at, zone), "type": step.action, "summary": summary, "description": written}


def _described(note: dict[str, Any]) -> str:
    """An update's description: the step's name, and what the staff wrote for the reporters."""
    return f"{note['summary']}：{note['description']}" if note["description"] else str(note["summary"])


def _time(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat() if moment else None
