"""The digital base over HTTP: areas, their 底数清 summaries, and GeoJSON layers.

Every list, record and count passes through the caller's scope, so a street operator sees
her streets only, here as everywhere.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from huizhili.base.features import FeatureQuery, get_area, get_record, list_features, parse_bbox
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.base.status import update_status
from huizhili.base.summary import summarise
from huizhili.departments import list_departments
from huizhili.policy import Principal, scope_for
from huizhili.sensing.alerts import silence_rules
from huizhili.sensing.layer import device_layer
from huizhili.sensing.pipeline import library
from huizhili.web.deps import (
    Allow,
    ReadBase,
    ReadPublic,
    SessionDep,
    SettingsDep,
    WriteFacilityStatus,
)
from huizhili.web.schemas import (
    AreaSummary,
    DepartmentOut,
    DeviceLayer,
    FacilityKind,
    FacilityStatusIn,
    Feature,
    FeatureCollection,
)

router = APIRouter(tags=["digital base"])

ReadDevices = Annotated[Principal, Depends(Allow("read:devices"))]

LAYER_PERMISSIONS = {
    "areas": "read:public",
    "facilities": "read:public",
    "buildings": "read:base",
    "parcels": "read:base",
    "devices": "read:devices",
}
"""Which permission reading each layer needs."""

_NUMBER = r"-?[0-9]{1,3}(\.[0-9]{1,12})?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"
AreaCode = Annotated[str, Path(min_length=1, max_length=200, description="Official code or exact name.")]
RecordId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/areas/{code}/summary", response_model=AreaSummary)
def area_summary(code: AreaCode, session: SessionDep, principal: ReadBase) -> dict[str, Any]:
    """Counts of buildings, population, facilities by kind and devices for an area and its children."""
    return summarise(session, code, scope_for(principal))


@router.get("/summary", response_model=AreaSummary)
def overall_summary(session: SessionDep, principal: ReadBase) -> dict[str, Any]:
    """Counts for everything the caller may see, with the top-level visible areas as children."""
    return summarise(session, None, scope_for(principal))


@router.get("/kinds", response_model=list[FacilityKind])
def facility_kinds(_: ReadPublic) -> list[dict[str, str]]:
    """Every facility kind the platform knows."""
    return [{"kind": kind, "description": text} for kind, text in FACILITY_KINDS.items()]


@router.get("/departments", response_model=list[DepartmentOut])
def departments(session: SessionDep, principal: ReadPublic) -> list[dict[str, Any]]:
    """The district's departments: who runs a facility (``owner_department``) or owns a device, by name."""
    # read:public rather than read:base: the facilities citizens see already give their
    # department's code, and a district's bureaus are public bodies; this only names them.
    return [{"code": d.code, "name": d.name, "name_en": d.name_en} for d in list_departments(session, scope_for(principal))]


@router.patch("/facilities/{record_id}/status", response_model=Feature)
def facility_status(
    record_id: RecordId, body: FacilityStatusIn, session: SessionDep, principal: WriteFacilityStatus
) -> dict[str, Any]:
    """Set a facility's live status (open/closed, queue level, note); citizens see it at once."""
    return update_status(session, record_id, **body.model_dump(), scope=scope_for(principal))


@router.get("/areas/{code}", response_model=Feature)
def area_feature(code: AreaCode, session: SessionDep, principal: ReadPublic) -> dict[str, Any]:
    """One area, by official code or exact name, as a GeoJSON Feature."""
    return get_area(session, code, scope_for(principal))


@router.get("/devices/map", response_model=DeviceLayer)
def device_map(session: SessionDep, settings: SettingsDep, principal: ReadDevices) -> Response:
    """Every device in your scope as columns of what the map draws: position, kind, status, online, latest value, alert level."""
    # Declared before the layer routes, whose /devices/{record_id} would take "map" for an id.
    return Response(device_layer(session, scope_for(principal), silence_rules(library(settings).scenarios)),
                    media_type="application/json")


def _add_layer_routes(layer: str, permission: str) -> None:
    """A list route and a record route for one layer, guarded by its permission."""
    # Written out rather than a deps alias: the permission is this call's argument.
    allowed = Annotated[Principal, Depends(Allow(permission))]

    def features(
        session: SessionDep,
        settings: SettingsDep,
        principal: allowed,
        kind: Annotated[str | None, Query(max_length=40, description="Facility kind, building use, sensor kind, land use or area level.")] = None,
        area: Annotated[str | None, Query(max_length=200, description="Code or name of the area to look in (areas: the parent).")] = None,
        bbox: Annotated[str | None, Query(max_length=200, pattern=BBOX_PATTERN, description="minlon,minlat,maxlon,maxlat in WGS84.")] = None,
        limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="Features per page (capped by the server).")] = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        query = FeatureQuery(
            kind=kind,
            area=area,
            bbox=parse_bbox(bbox) if bbox else None,
            limit=min(limit or settings.page_size_default, settings.page_size_max),
            offset=offset,
        )
        return list_features(session, layer, query, scope_for(principal))

    router.add_api_route(
        f"/{layer}",
        features,
        methods=["GET"],
        response_model=FeatureCollection,
        summary=f"List {layer}",
        description=f"One page of {layer} as GeoJSON, filtered by kind, area and bounding box.",
        operation_id=f"list_{layer}",
    )
    if layer == "areas":
        return

    def record(record_id: RecordId, session: SessionDep, principal: allowed) -> dict[str, Any]:
        return get_record(session, layer, record_id, scope_for(principal))

    router.add_api_route(
        f"/{layer}/{{record_id}}",
        record,
        methods=["GET"],
        response_model=Feature,
        summary=f"One of {layer}",
        description=f"One record of {layer} as a GeoJSON Feature.",
        operation_id=f"get_{layer}_record",
    )


for _layer, _permission in LAYER_PERMISSIONS.items():
    _add_layer_routes(_layer, _permission)
