"""Programmes over HTTP: programmes, projects (GeoJSON) and their progress, targets with their status, list imports."""

import tempfile
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from sqlalchemy.orm import Session

from huizhili.cases.flow import case_flow
from huizhili.policy import Principal, scope_for
from huizhili.programmes.catalogue import programme_kinds
from huizhili.programmes.importing import KINDS, import_list
from huizhili.programmes.records import (
    ProgressReport,
    get_programme,
    list_programmes,
    list_projects,
    progress_of,
    project_feature,
    record_progress,
)
from huizhili.programmes.targets import get_target, target_status, targets_status
from huizhili.storage.models import Programme, Project, ProjectProgress, utcnow
from huizhili.web.deps import Allow, SessionDep, SettingsDep
from huizhili.web.programme_schemas import (
    ListImportOut,
    ProgrammeOut,
    ProgressIn,
    ProgressOut,
    ProjectDetail,
    TargetOut,
)
from huizhili.web.schemas import FeatureCollection

router = APIRouter(tags=["programmes"])

ReadProgrammes = Annotated[Principal, Depends(Allow("read:programmes"))]
WriteProgrammes = Annotated[Principal, Depends(Allow("write:programmes"))]
ProjectId = Annotated[int, Path(ge=1, le=2**62)]
Code = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/programmes", response_model=list[ProgrammeOut])
def programmes(session: SessionDep, principal: ReadProgrammes) -> list[dict[str, Any]]:
    """Every programme, by code, with its projects in your scope counted by status."""
    return [_programme_out(p, counts) for p, counts in list_programmes(session, scope_for(principal))]


@router.get("/programmes/{code}", response_model=ProgrammeOut)
def programme(code: Code, session: SessionDep, principal: ReadProgrammes) -> dict[str, Any]:
    """One programme, with its projects in your scope counted by status."""
    scope = scope_for(principal)
    found = get_programme(session, scope, code)
    return next(_programme_out(p, counts) for p, counts in list_programmes(session, scope) if p.id == found.id)


@router.post("/programme-imports", response_model=ListImportOut)
def import_programmes(
    session: SessionDep,
    principal: WriteProgrammes,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or Excel (.xlsx); columns in docs/architecture.md.")],
    kind: Annotated[str, Form(pattern="^(" + "|".join(KINDS) + ")$")],
    valid_only: Annotated[bool, Form(description="Write the good rows and name the bad ones, instead of refusing the file.")] = False,
) -> dict[str, Any]:
    """Import a programme or project list: all or nothing (the first bad row named), or with valid_only the good rows and a report of the bad."""
    with tempfile.TemporaryDirectory() as folder:
        # Kept under its own suffix: CSV and Excel are told apart by it.
        path = FilePath(folder) / f"upload{FilePath(file.filename or 'list.csv').suffix.lower()}"
        path.write_bytes(file.file.read())
        done = import_list(session, scope_for(principal), path, kind, valid_only=valid_only, file_name=file.filename)
    return {"kind": done.kind, "file_name": done.file_name, "written": done.written,
            "refused": [{"line": row.line, "error": row.error} for row in done.refused]}


@router.get("/projects", response_model=FeatureCollection)
def projects(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadProgrammes,
    programme: Annotated[str | None, Query(max_length=64, description="Only this programme's (its code).")] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    street: Annotated[str | None, Query(max_length=32, description="Only this street's (its code).")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="Features per page (capped by the server).")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Projects in your scope as GeoJSON (buildings' points, roads' lines, areas), by programme and number."""
    scope = scope_for(principal)
    total, page = list_projects(session, scope, programme=programme, status=status, street=street,
                                limit=min(limit or settings.page_size_default, settings.page_size_max), offset=offset)
    codes = _programme_codes(session, page)
    return {"type": "FeatureCollection", "numberMatched": total, "numberReturned": len(page),
            "features": [project_feature(p, codes[p.programme_id]) for p in page]}


@router.get("/projects/{project_id}", response_model=ProjectDetail)
def project(project_id: ProjectId, session: SessionDep, principal: ReadProgrammes) -> dict[str, Any]:
    """One project as a GeoJSON feature, with its progress reports oldest first."""
    scope = scope_for(principal)
    reports = progress_of(session, scope, project_id)
    found = session.get_one(Project, project_id)
    return {**project_feature(found, _programme_codes(session, [found])[found.programme_id]),
            "progress": [_progress_out(r) for r in reports]}


@router.post("/projects/{project_id}/progress", response_model=ProgressOut, status_code=201)
def report_progress(project_id: ProjectId, body: ProgressIn, session: SessionDep, settings: SettingsDep,
                    principal: WriteProgrammes) -> dict[str, Any]:
    """Report a project's progress (appended, never changed): in your streets, or of your department's projects."""
    now = utcnow()
    entry = record_progress(session, scope_for(principal), principal, project_id,
                            ProgressReport(status=body.status, done={str(unit): amount for unit, amount in body.done.items()}, note=body.note, evidence=body.evidence),
                            now, now.astimezone(ZoneInfo(settings.local_timezone)).date())
    return _progress_out(entry)


@router.get("/targets", response_model=list[TargetOut])
def targets(session: SessionDep, settings: SettingsDep, principal: ReadProgrammes) -> list[dict[str, Any]]:
    """Every target with its value, goal, trend, forecast and status, per district and street in your scope."""
    return targets_status(session, scope_for(principal), utcnow(), case_flow(settings))


@router.get("/targets/{target_code}", response_model=TargetOut)
def target(target_code: Code, session: SessionDep, settings: SettingsDep, principal: ReadProgrammes) -> dict[str, Any]:
    """One target with its value, goal, trend, forecast and status, per district and street in your scope."""
    scope = scope_for(principal)
    return target_status(session, scope, get_target(session, scope, target_code), utcnow(), case_flow(settings))


def _programme_out(programme: Programme, counts: dict[str, int]) -> dict[str, Any]:
    kind = programme_kinds().get(programme.kind)
    return {"code": programme.code, "kind": programme.kind, "kind_name": kind.zh if kind else programme.kind,
            "kind_name_en": kind.en if kind else programme.kind, "name": programme.name, "name_en": programme.name_en,
            "owner_department": programme.owner_department,
            "period_start": programme.period_start.isoformat() if programme.period_start else None,
            "period_end": programme.period_end.isoformat() if programme.period_end else None, "projects": counts}


def _programme_codes(session: Session, projects: list[Project]) -> dict[int, str]:
    ids = {p.programme_id for p in projects}
    return {p.id: p.code for p in (session.get_one(Programme, i) for i in ids)}


def _progress_out(entry: ProjectProgress) -> dict[str, Any]:
    at: datetime = entry.at
    return {"id": entry.id, "project_id": entry.project_id, "at": at.isoformat(), "author": entry.author, "status": entry.status,
            "done": entry.done, "note": entry.note, "evidence": entry.evidence}
