"""Programmes and projects written and read through the caller's scope, and progress reported on projects.

Projects are area-coded by ``base.assign`` from their geometry, so a street operator reads and
reports on her streets' projects only and a department handler on his department's
(``Scope.writable``). A progress report is appended, never changed: the project's status and
amounts done follow the latest one.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.assign import assign_areas
from huizhili.base.geodesy import to_metres
from huizhili.departments import unknown_departments
from huizhili.errors import ForbiddenError, NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.programmes.catalogue import QUANTITY_UNITS, programme_kinds
from huizhili.storable import text_problem
from huizhili.storage.models import PROJECT_STATUSES, Programme, Project, ProjectProgress


@dataclass(frozen=True)
class ProgrammeSpec:
    """A programme to create or update, by code."""

    code: str
    kind: str
    name: str
    name_en: str | None = None
    owner_department: str | None = None
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class ProjectSpec:
    """A project to create or update, by its programme and its number in the office's list (``ref``)."""

    programme: str
    ref: str
    name: str
    geometry: BaseGeometry
    owner_department: str | None = None
    status: str = "planned"
    planned_start: date | None = None
    planned_end: date | None = None
    actual_start: date | None = None
    actual_end: date | None = None
    quantities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgressReport:
    """What a progress report says: the status after it, amounts done by now (cumulative), a note, where the evidence is."""

    status: str
    done: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    evidence: str | None = None


def check_programme(session: Session, spec: ProgrammeSpec) -> None:
    """Refuse a programme that could not be stored as given.

    Raises
    ------
    ValidationError
        Naming the programme and what is wrong, in Chinese and English.
    """
    kinds = programme_kinds()
    _check_text(spec.code, 64, "计划编号 programme code")
    _check_text(spec.name, 200, f"计划 {spec.code} 名称 name")
    if spec.name_en is not None:
        _check_text(spec.name_en, 200, f"计划 {spec.code} 英文名称 English name")
    if spec.kind not in kinds:
        message = f"计划 {spec.code}：未知类别 unknown kind {spec.kind!r}; 可选 kinds: {', '.join(kinds)}"
        raise ValidationError(message)
    _check_department(session, spec.owner_department, f"计划 {spec.code}")
    _check_period(spec.period_start, spec.period_end, f"计划 {spec.code}")


def check_project(session: Session, spec: ProjectSpec) -> None:
    """Refuse a project that could not be stored as given (its place is checked once it is area-coded).

    Raises
    ------
    ValidationError
        Naming the project and what is wrong, in Chinese and English.
    """
    what = f"项目 project {spec.programme}/{spec.ref}"
    _check_text(spec.ref, 64, "项目编号 project number")
    _check_text(spec.name, 300, f"{what} 名称 name")
    if session.scalar(sa.select(Programme.id).where(Programme.code == spec.programme)) is None:
        message = f"{what}：没有计划 no programme {spec.programme!r}"
        raise ValidationError(message)
    if spec.status not in PROJECT_STATUSES:
        message = f"{what}：未知状态 unknown status {spec.status!r}; 可选 one of {', '.join(PROJECT_STATUSES)}"
        raise ValidationError(message)
    _check_department(session, spec.owner_department, what)
    _check_period(spec.planned_start, spec.planned_end, f"{what} 计划 planned")
    _check_period(spec.actual_start, spec.actual_end, f"{what} 实际 actual")
    _check_amounts(spec.quantities, what)
    if spec.geometry.is_empty or not spec.geometry.is_valid:
        message = f"{what}：几何无效 the geometry is empty or invalid ({shapely.is_valid_reason(spec.geometry)})"
        raise ValidationError(message)


def write_programmes(session: Session, scope: Scope, specs: Sequence[ProgrammeSpec]) -> list[str | None]:
    """Create or update programmes by code; one problem (or None) per spec, in order.

    A programme the scope may not change — before or after — is a problem and is left as it
    was; the caller decides whether any problem refuses the whole batch. Specs must have
    passed :func:`check_programme`.
    """
    codes = [spec.code for spec in specs]
    existing = {p.code: p for p in session.scalars(sa.select(Programme).where(Programme.code.in_(codes)))}
    writable = _writable(session, scope, Programme, [p.id for p in existing.values()])
    problems: list[str | None] = []
    written: list[Programme | None] = []
    for spec in specs:
        programme = existing.get(spec.code)
        if programme is not None and programme.id not in writable:
            problems.append(f"计划 {spec.code}：你无权修改 you may not change this programme")
            written.append(None)
            continue
        programme = programme or Programme(code=spec.code)
        programme.kind, programme.name, programme.name_en = spec.kind, spec.name, spec.name_en
        programme.owner_department, programme.period_start, programme.period_end = (
            spec.owner_department, spec.period_start, spec.period_end)
        session.add(programme)
        problems.append(None)
        written.append(programme)
    session.flush()
    allowed = _writable(session, scope, Programme, [p.id for p in written if p is not None])
    for index, programme in enumerate(written):
        if programme is not None and programme.id not in allowed:
            problems[index] = f"计划 {programme.code}：不在你的职责范围 not a programme you may change (its unit is not yours)"
    return problems


def write_projects(session: Session, scope: Scope, specs: Sequence[ProjectSpec]) -> list[str | None]:
    """Create or update projects by programme and number, area-code them; one problem (or None) per spec, in order.

    A project outside every district, or one the scope may not change — where it was or where
    it now lies — is a problem; the caller decides whether any problem refuses the batch (and
    rolls back). Specs must have passed :func:`check_project`.
    """
    programmes = {code: programme_id for code, programme_id in session.execute(sa.select(Programme.code, Programme.id).where(
        Programme.code.in_({spec.programme for spec in specs})))}
    keys = [(programmes[spec.programme], spec.ref) for spec in specs]
    existing = {(p.programme_id, p.source_ref): p for p in session.scalars(sa.select(Project).where(
        sa.tuple_(Project.programme_id, Project.source_ref).in_(keys)))} if keys else {}
    writable = _writable(session, scope, Project, [p.id for p in existing.values()])
    problems: list[str | None] = []
    written: list[Project | None] = []
    for spec, key in zip(specs, keys, strict=True):
        project = existing.get(key)
        if project is not None and project.id not in writable:
            problems.append(f"项目 {spec.programme}/{spec.ref}：你无权修改 you may not change this project")
            written.append(None)
            continue
        if project is None:  # a new project starts as its list says; a known one's status and actual dates follow its reports
            project = Project(programme_id=key[0], source_ref=spec.ref, done={}, properties={}, status=spec.status,
                              actual_start=spec.actual_start, actual_end=spec.actual_end)
        point = spec.geometry.representative_point()
        quantities = dict(spec.quantities)
        if "km" not in quantities and (length := line_km(spec.geometry)) is not None:
            quantities["km"] = length
        project.name, project.geometry, project.lon, project.lat = spec.name, spec.geometry, point.x, point.y
        project.owner_department, project.quantities = spec.owner_department, quantities
        project.planned_start, project.planned_end = spec.planned_start, spec.planned_end
        session.add(project)
        problems.append(None)
        written.append(project)
    session.flush()
    ids = [p.id for p in written if p is not None]
    assign_areas(session, [Project], ids)
    allowed = _writable(session, scope, Project, ids)
    placed = set(session.scalars(sa.select(Project.id).where(Project.id.in_(ids), Project.district_code.is_not(None))))
    for index, project in enumerate(written):
        if project is None:
            continue
        what = f"项目 {specs[index].programme}/{specs[index].ref}"
        if project.id not in placed:
            problems[index] = f"{what}：不在任何区内 lies outside every district"
        elif project.id not in allowed:
            problems[index] = f"{what}：不在你的辖区或职责范围 not in your areas or of your department"
    return problems


def line_km(geometry: BaseGeometry) -> float | None:
    """The length in km of a line (a road), measured in local metres around it; None for points and areas."""
    if geometry.geom_type not in ("LineString", "MultiLineString"):
        return None
    middle = geometry.centroid
    metres: float = to_metres(geometry, middle.x, middle.y).length
    return round(metres / 1000, 3)


def list_programmes(session: Session, scope: Scope) -> list[tuple[Programme, dict[str, int]]]:
    """Every programme the scope shows, by code, with how many of its projects in the scope are in each status."""
    programmes = session.scalars(sa.select(Programme).where(scope.condition(Programme)).order_by(Programme.code)).all()
    counts: dict[int, dict[str, int]] = {p.id: dict.fromkeys(PROJECT_STATUSES, 0) for p in programmes}
    rows = session.execute(sa.select(Project.programme_id, Project.status, sa.func.count())
                           .where(scope.condition(Project)).group_by(Project.programme_id, Project.status))
    for programme_id, status, count in rows:
        if programme_id in counts:
            counts[programme_id][status] = count
    return [(p, counts[p.id]) for p in programmes]


def get_programme(session: Session, scope: Scope, code: str) -> Programme:
    """The programme of this code.

    Raises
    ------
    NotFoundError
        If there is none the scope shows.
    """
    programme = session.scalar(sa.select(Programme).where(Programme.code == code, scope.condition(Programme)))
    if programme is None:
        message = f"没有计划 no programme {code!r}"
        raise NotFoundError(message)
    return programme


def list_projects(session: Session, scope: Scope, *, programme: str | None = None, status: str | None = None,
                  street: str | None = None, limit: int = 100, offset: int = 0) -> tuple[int, list[Project]]:
    """The projects the scope shows (of a programme, in a status, in a street), by programme and number: how many match, and a page."""
    where = [scope.condition(Project)]
    if programme is not None:
        where.append(Project.programme_id == get_programme(session, scope, programme).id)
    if status is not None:
        where.append(Project.status == status)
    if street is not None:
        where.append(Project.street_code == street)
    total = session.scalar(sa.select(sa.func.count()).select_from(Project).where(*where)) or 0
    page = session.scalars(sa.select(Project).where(*where).order_by(Project.programme_id, Project.source_ref, Project.id)
                           .limit(limit).offset(offset)).all()
    return total, list(page)


def get_project(session: Session, scope: Scope, project_id: int, *, for_update: bool = False) -> Project:
    """The project of this id; ``for_update`` locks it (and reads it afresh) for a writer.

    Raises
    ------
    NotFoundError
        If there is none the scope shows.
    """
    query = sa.select(Project).where(Project.id == project_id, scope.condition(Project))
    if for_update:
        query = query.with_for_update(of=Project).execution_options(populate_existing=True)
    project = session.scalar(query)
    if project is None:
        message = f"没有项目 no project {project_id}"
        raise NotFoundError(message)
    return project


def progress_of(session: Session, scope: Scope, project_id: int) -> list[ProjectProgress]:
    """A project's progress reports, oldest first."""
    project = get_project(session, scope, project_id)
    return list(session.scalars(sa.select(ProjectProgress).where(ProjectProgress.project_id == project.id,
                                                                 scope.condition(ProjectProgress))
                                .order_by(ProjectProgress.at, ProjectProgress.id)))


def record_progress(session: Session, scope: Scope, principal: Principal, project_id: int, report: ProgressReport,
                    now: datetime, today: date) -> ProjectProgress:
    """Append a progress report to a project and bring its status and amounts done up to it.

    Amounts are cumulative (done by now, not since the last report), so a report sent twice
    counts once. A report that the project is done, without amounts, marks all it planned done.
    The first report under way (or done) sets the actual start to ``today`` (the district's local
    date), one that it is done the actual end.

    Raises
    ------
    NotFoundError
        If the scope shows no such project.
    ForbiddenError
        If the caller may not report on it (not in her areas, not his department's).
    ValidationError
        For an unknown status or unit, or an amount that is negative or not finite.
    """
    project = get_project(session, scope, project_id, for_update=True)  # two reports at once: the second waits, then reads the first
    if session.scalar(sa.select(Project.id).where(Project.id == project.id, scope.writable(Project))) is None:
        message = f"项目 {project_id}：你无权报告进度 you may not report this project's progress"
        raise ForbiddenError(message)
    what = f"项目 project {project_id}"
    if report.status not in PROJECT_STATUSES:
        message = f"{what}：未知状态 unknown status {report.status!r}; 可选 one of {', '.join(PROJECT_STATUSES)}"
        raise ValidationError(message)
    _check_amounts(report.done, what)
    for text, limit, name in ((report.note, 4000, "说明 note"), (report.evidence, 500, "证据 evidence")):
        if text is not None:
            _check_text(text, limit, f"{what} {name}")
    done = dict(report.done) if report.done or report.status != "done" else dict(project.quantities)
    entry = ProjectProgress(project_id=project.id, at=now, author=principal.username, status=report.status,
                            done=done, note=report.note, evidence=report.evidence)
    session.add(entry)
    project.status, project.done = report.status, {**project.done, **done}
    if report.status in ("in_progress", "done") and project.actual_start is None:
        project.actual_start = today
    if report.status == "done" and project.actual_end is None:
        project.actual_end = today
    session.flush()
    return entry


def project_feature(project: Project, programme_code: str) -> dict[str, Any]:
    """A project as a GeoJSON feature: its geometry, programme, status, dates, amounts and areas."""
    return {
        "type": "Feature",
        "id": project.id,
        "geometry": shapely.geometry.mapping(project.geometry),
        "properties": {
            "programme": programme_code, "ref": project.source_ref, "name": project.name,
            "owner_department": project.owner_department, "status": project.status,
            **{k: getattr(project, k).isoformat() if getattr(project, k) else None
               for k in ("planned_start", "planned_end", "actual_start", "actual_end")},
            "quantities": project.quantities, "done": project.done,
            "district_code": project.district_code, "street_code": project.street_code,
            "committee_code": project.committee_code, "grid_code": project.grid_code,
        },
    }


def _writable(session: Session, scope: Scope, model: type[Programme] | type[Project], ids: list[int]) -> set[int]:
    """Those of ``ids`` the scope may change."""
    if not ids:
        return set()
    return set(session.scalars(sa.select(model.id).where(model.id.in_(ids), scope.writable(model))))


def _check_text(value: str, limit: int, name: str) -> None:
    if not value.strip() or len(value) > limit or text_problem(value) is not None:
        message = f"{name}：需要 1 到 {limit} 个字符的文本 needs text of 1 to {limit} characters, not {value!r}"
        raise ValidationError(message)


def _check_department(session: Session, department: str | None, what: str) -> None:
    if unknown := unknown_departments(session, [department]):
        message = f"{what}：没有单位 no department {unknown[0]!r} (责任单位 responsible unit)"
        raise ValidationError(message)


def _check_period(start: date | None, end: date | None, what: str) -> None:
    if start is not None and end is not None and end < start:
        message = f"{what}：结束早于开始 ends ({end}) before it starts ({start})"
        raise ValidationError(message)


def _check_amounts(amounts: dict[str, float], what: str) -> None:
    for unit, amount in amounts.items():
        if unit not in QUANTITY_UNITS:
            message = f"{what}：未知单位 unknown unit {unit!r}; 可选 one of {', '.join(QUANTITY_UNITS)}"
            raise ValidationError(message)
        if isinstance(amount, bool) or not (isinstance(amount, int | float) and math.isfinite(amount) and amount >= 0):
            message = f"{what}：{unit} 须为非负数 must be a number of at least 0, not {amount!r}"
            raise ValidationError(message)
