"""The digital base over HTTP: areas, their 底数清 summaries, and GeoJSON layers."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from huizhili.base.features import FeatureQuery, get_area, get_record, list_features, parse_bbox
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.base.summary import summarise
from huizhili.web.deps import SessionDep, SettingsDep
from huizhili.web.schemas import AreaSummary, Feature, FeatureCollection, FacilityKind

router = APIRouter(tags=["digital base"])

Layer = Annotated[str, Path(pattern="^(areas|buildings|facilities|devices|parcels)$")]
PointLayer = Annotated[str, Path(pattern="^(buildings|facilities|devices|parcels)$")]


@router.get("/areas/{code}/summary", response_model=AreaSummary)
def area_summary(code: Annotated[str, Path(max_length=200)], session: SessionDep) -> dict[str, Any]:
    """Counts of buildings, population, facilities by kind and devices for an area and its children."""
    return summarise(session, code)


@router.get("/summary", response_model=AreaSummary)
def overall_summary(session: SessionDep) -> dict[str, Any]:
    """Counts for everything, with the top-level areas as children."""
    return summarise(session)


@router.get("/kinds", response_model=list[FacilityKind])
def facility_kinds() -> list[dict[str, str]]:
    """Every facility kind the platform knows."""
    return [{"kind": kind, "description": text} for kind, text in FACILITY_KINDS.items()]


@router.get("/areas/{code}", response_model=Feature)
def area_feature(code: Annotated[str, Path(max_length=200)], session: SessionDep) -> dict[str, Any]:
    """One area, by official code or exact name, as a GeoJSON Feature."""
    return get_area(session, code)


@router.get("/{layer}", response_model=FeatureCollection)
def layer_features(
    layer: Layer,
    session: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str | None, Query(max_length=40, description="Facility kind, building use, sensor kind, land use or area level.")] = None,
    area: Annotated[str | None, Query(max_length=200, description="Code or name of the area to look in (areas: the parent).")] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat in WGS84.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Features per page (capped by the server).")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """One page of a layer as GeoJSON, filtered by kind, area and bounding box."""
    query = FeatureQuery(
        kind=kind,
        area=area,
        bbox=parse_bbox(bbox) if bbox else None,
        limit=min(limit or settings.page_size_default, settings.page_size_max),
        offset=offset,
    )
    return list_features(session, layer, query)


@router.get("/{layer}/{record_id}", response_model=Feature)
def layer_feature(layer: PointLayer, record_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep) -> dict[str, Any]:
    """One record of a layer as a GeoJSON Feature."""
    return get_record(session, layer, record_id)
