"""The walk network over HTTP: nearest services for citizens, isochrones, life-circle runs, siting."""

from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from huizhili.base.features import parse_bbox
from huizhili.errors import NotFoundError
from huizhili.jobs import submit
from huizhili.network.finder import nearest_services, reachable_area
from huizhili.network.lifecircle import check_run
from huizhili.network.planning import check_siting
from huizhili.network.ways import walk_ways
from huizhili.policy import scope_for
from huizhili.storage.models import LifeCircleCoverage, LifeCircleRun
from huizhili.web.deps import ReadBase, ReadPublic, RunAnalysis, SessionDep, SettingsDep
from huizhili.web.routers.base import BBOX_PATTERN
from huizhili.web.routers.jobs import accepted
from huizhili.web.schemas import (
    FeatureCollection,
    JobOut,
    LifeCircleIn,
    LifeCircleOut,
    NearestOut,
    SitingIn,
)

router = APIRouter(tags=["life circle and services"])

Crs = Annotated[Literal["wgs84", "gcj02", "bd09"], Query(description="Datum of lon/lat: phones in China report gcj02.")]
Lon = Annotated[float, Query(ge=-180, le=180)]
Lat = Annotated[float, Query(ge=-90, le=90)]
FILE_TYPES = {".png": "image/png", ".html": "text/html", ".csv": "text/csv", ".json": "application/json", ".geojson": "application/geo+json"}


@router.get("/services/nearest", response_model=NearestOut)
def nearest(
    request: Request,
    session: SessionDep,
    _: ReadPublic,
    lon: Lon,
    lat: Lat,
    kind: Annotated[str, Query(max_length=40, description="Facility kind, e.g. sampling_point, health_centre.")],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    crs: Crs = "wgs84",
    route: Annotated[bool, Query(description="Give each result's walking route as a GeoJSON LineString (WGS84, whatever crs).")] = False,
) -> dict[str, Any]:
    """The nearest facilities of a kind by walking distance, open ones first, with live status and, if asked, the route."""
    return nearest_services(session, request.app.state.network, lon, lat, kind, k, crs, routes=route)


@router.get("/isochrone", response_model=None)
def isochrone(
    request: Request,
    session: SessionDep,
    _: ReadPublic,
    lon: Lon,
    lat: Lat,
    minutes: Annotated[float, Query(ge=1, le=60)] = 15,
    crs: Crs = "wgs84",
) -> dict[str, Any]:
    """The area reachable on foot within ``minutes`` as a GeoJSON Feature."""
    return reachable_area(session, request.app.state.network, lon, lat, minutes, crs)


@router.get("/network/ways", response_model=FeatureCollection)
def network_ways(
    session: SessionDep,
    _: ReadPublic,
    bbox: Annotated[str | None, Query(max_length=200, pattern=BBOX_PATTERN, description="minlon,minlat,maxlon,maxlat in WGS84.")] = None,
) -> dict[str, Any]:
    """The walk network as GeoJSON lines (OpenStreetMap's ways a pedestrian may use, with kind and name): the map's streets."""
    return walk_ways(session, parse_bbox(bbox) if bbox else None)


@router.post("/lifecircle/runs", response_model=JobOut, status_code=202)
def start_run(body: LifeCircleIn, response: Response, session: SessionDep, settings: SettingsDep, principal: RunAnalysis) -> dict[str, Any]:
    """Start a life-circle run: 202 with its job. A worker walks from every home to each kind, then draws maps and the report.

    The area, kinds and overrides are checked now; the job's result names the run
    (``links.result``), whose coverage table and files are read below.
    """
    check_run(session, scope_for(principal), area=body.area, kinds=body.kinds, metres=body.metres, targets=body.targets,
              speed_m_per_s=body.speed_m_per_s, cutoff_m=body.cutoff_m or settings.lifecircle_cutoff_m)
    return accepted(submit(session, "lifecircle", body.model_dump(), principal), settings, response)


@router.get("/lifecircle/runs", response_model=list[LifeCircleOut])
def list_runs(session: SessionDep, principal: ReadBase, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[dict[str, Any]]:
    """Recent runs, newest first (so a later run shows change)."""
    ids = session.scalars(sa.select(LifeCircleRun.id).where(scope_for(principal).condition(LifeCircleRun)).order_by(LifeCircleRun.id.desc()).limit(limit))
    return [_run_out(session, run_id) for run_id in ids]


@router.get("/lifecircle/runs/{run_id}", response_model=LifeCircleOut)
def get_run(run_id: Annotated[int, PathParam(ge=1, le=2**62)], session: SessionDep, principal: ReadBase) -> dict[str, Any]:
    """One run with its coverage table."""
    _visible_run(session, principal, run_id)
    return _run_out(session, run_id)


@router.get("/lifecircle/runs/{run_id}/files/{name}", response_class=FileResponse, responses={200: {"content": {t: {} for t in FILE_TYPES.values()}}})
def run_file(
    run_id: Annotated[int, PathParam(ge=1, le=2**62)],
    name: Annotated[str, PathParam(max_length=80, pattern=r"^[a-z_]+(-[a-z_]+)?\.(png|html|csv|json|geojson)$")],
    session: SessionDep,
    principal: ReadBase,
) -> FileResponse:
    """A run's output: report.html, coverage.csv/json, origins.geojson or map-<kind>.png."""
    run = _visible_run(session, principal, run_id)
    path = Path(run.output_dir or "") / name
    if not run.output_dir or not path.is_file():
        message = f"run {run_id} has no file {name}"
        raise NotFoundError(message)
    return FileResponse(path, media_type=FILE_TYPES[path.suffix])


@router.post("/lifecircle/siting", response_model=JobOut, status_code=202)
def siting(body: SitingIn, response: Response, session: SessionDep, settings: SettingsDep, principal: RunAnalysis) -> dict[str, Any]:
    """Propose k new sites for a kind that serve the most residents not yet within the distance: 202 with the job.

    The job's result is the proposal: each site with lon/lat, residents it adds, coverage after.
    """
    check_siting(session, scope_for(principal), kind=body.kind, threshold_m=body.threshold_m, k=body.k, area=body.area)
    return accepted(submit(session, "siting", body.model_dump(), principal), settings, response)


def _visible_run(session: SessionDep, principal: Any, run_id: int) -> LifeCircleRun:
    visible = scope_for(principal).condition(LifeCircleRun)
    run = session.scalar(sa.select(LifeCircleRun).where(LifeCircleRun.id == run_id, visible))
    if run is None:
        message = f"no life-circle run {run_id}"
        raise NotFoundError(message)
    return run


def _run_out(session: SessionDep, run_id: int) -> dict[str, Any]:
    run = session.get_one(LifeCircleRun, run_id)
    rows = session.scalars(sa.select(LifeCircleCoverage).where(LifeCircleCoverage.run_id == run_id).order_by(LifeCircleCoverage.id))
    folder = Path(run.output_dir) if run.output_dir else None
    return {
        "run_id": run.id,
        "created_at": run.created_at.isoformat(),
        "created_by": run.created_by,
        "area_code": run.area_code,
        "method": run.distance_method,
        "origins": run.origins,
        "seconds": run.seconds,
        "parameters": run.parameters,
        "coverage": [
            {c: getattr(row, c) for c in ("area_code", "kind", "threshold_m", "population", "covered_population", "coverage", "target")}
            for row in rows
        ],
        "files": sorted(p.name for p in folder.iterdir()) if folder and folder.is_dir() else [],
    }
