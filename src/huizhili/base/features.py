"""Listing records of the digital base as GeoJSON, filtered by kind, area and bounding box, page by page."""

from dataclasses import dataclass
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.areas import find_area, in_area
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Scope
from huizhili.storage.models import Area, Building, Device, Facility, Parcel
from huizhili.storage.spatial import intersecting

LAYERS: dict[str, Any] = {
    "areas": Area,
    "buildings": Building,
    "facilities": Facility,
    "devices": Device,
    "parcels": Parcel,
}
"""Layers served as GeoJSON, by name."""

_KIND_COLUMN = {"facilities": "kind", "buildings": "use", "devices": "sensor_kind", "parcels": "land_use", "areas": "level"}
_AREA_CODES = ("district_code", "street_code", "committee_code", "grid_code")

PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "areas": ("code", "name", "level", "parent_code", "population", "households", "statistics_year", "source", "updated_at"),
    "buildings": ("source_ref", "name", "use", "floors", "year", "households", "population", "population_estimated",
                  "updated_at", *_AREA_CODES),
    "facilities": ("source_ref", "kind", "name", "address", "phone", "opening_hours", "is_open", "queue_level",
                   "status_note", "status_updated_at", "owner_department", "updated_at", *_AREA_CODES),
    "devices": ("source_ref", "code", "sensor_kind", "name", "owner_department", "owner", "status", "metrics", "interval_s",
                "capacity", "installed_at", "last_seen_at", "updated_at", *_AREA_CODES),
    "parcels": ("source_ref", "name", "land_use", "area_m2", "updated_at", *_AREA_CODES),
}
"""What a layer's features publish, field by field. A column not named here is never published:
adding one (a person's name, a private note) publishes nothing until it is added here, on
purpose. A facility's ``phone`` is its front desk's, not a person's."""

NOT_PUBLISHED: dict[str, frozenset[str]] = {
    layer: frozenset({"id", "geometry", "properties"} | ({"lon", "lat"} if layer != "areas" else set())
                     | ({"silent_after", "household_id"} if layer == "devices" else set()))
    for layer in LAYERS
}
"""Columns served otherwise (the feature's id and geometry; ``properties`` as ``extra``) or not
at all (the anchor point, a device's no-data deadline and the household it watches over). With :data:`PUBLIC_FIELDS` they account for every column (tested)."""


@dataclass(frozen=True)
class FeatureQuery:
    """Which features of a layer to return: all filters combine with AND."""

    kind: str | None = None
    """Facility kind, building use, device sensor kind, parcel land use, or area level."""
    area: str | None = None
    """Code or name of an area the features must lie in (for areas: their parent)."""
    bbox: tuple[float, float, float, float] | None = None
    """WGS84 (min lon, min lat, max lon, max lat)."""
    limit: int = 100
    offset: int = 0


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` → a checked bounding box.

    Raises
    ------
    ValidationError
        If it is not four numbers in order within WGS84 bounds.
    """
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError as error:
        message = f"bbox must be minlon,minlat,maxlon,maxlat, not {text!r}"
        raise ValidationError(message) from error
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        message = f"bbox {text!r} is out of order or outside WGS84 bounds"
        raise ValidationError(message)
    return west, south, east, north


def list_features(session: Session, layer: str, query: FeatureQuery, scope: Scope) -> dict[str, Any]:
    """One page of a layer as a GeoJSON FeatureCollection with ``numberMatched`` and ``numberReturned``.

    Parameters
    ----------
    session
        Open session.
    layer
        A key of :data:`LAYERS`.
    query
        Filters and paging.
    scope
        The caller's scope; only records it may see are counted and returned.

    Returns
    -------
    dict
        GeoJSON FeatureCollection (WGS84); features ordered by id so pages are stable.

    Raises
    ------
    NotFoundError
        If the layer or the area does not exist.
    """
    model = LAYERS.get(layer)
    if model is None:
        message = f"no layer {layer!r}; layers: {', '.join(LAYERS)}"
        raise NotFoundError(message)
    conditions = _conditions(session, layer, model, query)
    conditions.append(scope.condition(model))
    total = session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))
    rows = session.scalars(
        sa.select(model).where(*conditions).order_by(model.id).limit(query.limit).offset(query.offset)
    ).all()
    return {
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": len(rows),
        "features": [to_feature(row) for row in rows],
    }


def _conditions(session: Session, layer: str, model: Any, query: FeatureQuery) -> list[sa.ColumnElement[bool]]:
    """SQL conditions for the query's filters."""
    conditions = []
    if query.kind is not None:
        conditions.append(getattr(model, _KIND_COLUMN[layer]) == query.kind)
    if query.area is not None:
        area = find_area(session, query.area, Scope.system())  # a filter only: the results stay in scope
        conditions.append(model.parent_code == area.code if model is Area else in_area(session, model, area))
    if query.bbox is not None:
        conditions.append(intersecting(session, model, shapely.box(*query.bbox)))
    return conditions


def to_feature(row: Any) -> dict[str, Any]:
    """A GeoJSON Feature of a stored record: its :data:`PUBLIC_FIELDS` and its extra properties."""
    properties = {field: _plain(getattr(row, field)) for field in PUBLIC_FIELDS[row.__tablename__]}
    properties["extra"] = row.properties
    geometry = row.geometry
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": shapely.geometry.mapping(geometry) if geometry is not None else None,
        "properties": properties,
    }


def get_record(session: Session, layer: str, record_id: int, scope: Scope) -> dict[str, Any]:
    """One record of a layer as a GeoJSON Feature.

    Raises
    ------
    NotFoundError
        If there is no such record, or the scope does not show it (its existence stays hidden).
    """
    model = LAYERS[layer]
    visible = scope.condition(model)
    row = session.scalar(sa.select(model).where(model.id == record_id, visible))
    if row is None:
        message = f"no {layer} record {record_id}"
        raise NotFoundError(message)
    return to_feature(row)


def get_area(session: Session, code_or_name: str, scope: Scope) -> dict[str, Any]:
    """One area, by code or exact name, as a GeoJSON Feature.

    Raises
    ------
    NotFoundError, AmbiguousError
        If the area cannot be found unambiguously, or lies outside the scope.
    """
    return to_feature(find_area(session, code_or_name, scope))


def _plain(value: Any) -> Any:
    """Datetimes to ISO text; everything else as it is."""
    return value.isoformat() if hasattr(value, "isoformat") else value
