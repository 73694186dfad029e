"""The walk network as a map layer: the ways a pedestrian may use, as GeoJSON lines.

The dashboard draws the district from the platform's own data, with no external tiles; the
walk network is its street map. Ways are OpenStreetMap's, public like the map they come from.
"""

from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import ValidationError
from huizhili.storage.models import WalkWay
from huizhili.storage.spatial import intersecting

WAYS_MAX = 50_000
"""Ways one answer carries at most: a district has a few thousand; a city's network is asked for by bounding box."""

COORDINATE_DIGITS = 6
"""Decimal places of lon/lat on the wire: 0.1 m, finer than any way's survey."""


def walk_ways(session: Session, bbox: tuple[float, float, float, float] | None = None) -> dict[str, Any]:
    """The walk ways (crossing ``bbox``, WGS84, where given) as a GeoJSON FeatureCollection with their kind and name.

    Raises
    ------
    ValidationError
        If more than :data:`WAYS_MAX` ways would be sent: the caller is asked for a smaller box.
    """
    query = sa.select(WalkWay.id, WalkWay.highway, WalkWay.name, WalkWay.geometry).order_by(WalkWay.id)
    if bbox is not None:
        query = query.where(intersecting(session, WalkWay, shapely.box(*bbox)))
    rows = session.execute(query.limit(WAYS_MAX + 1)).all()
    if len(rows) > WAYS_MAX:
        message = (f"more than {WAYS_MAX:,} walk ways lie there; ask for a smaller bbox "
                   f"(步行路网超过 {WAYS_MAX:,} 条，请缩小 bbox 范围)")
        raise ValidationError(message)
    shapes = shapely.set_precision([row.geometry for row in rows], 10**-COORDINATE_DIGITS) if rows else []
    return {
        "type": "FeatureCollection",
        "numberMatched": len(rows),
        "numberReturned": len(rows),
        "features": [
            {"type": "Feature", "id": row.id, "geometry": shapely.geometry.mapping(shape),
             "properties": {"highway": row.highway, "name": row.name}}
            for row, shape in zip(rows, shapes, strict=True)
        ],
    }
