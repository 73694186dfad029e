"""Metric work on WGS84 data: a local equidistant projection around the data at hand."""

from functools import lru_cache
from typing import overload

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry


@lru_cache(maxsize=64)
def _metric_transformer(lon0: float, lat0: float) -> pyproj.Transformer:
    """Azimuthal equidistant projection centred on (lon0, lat0), metres; cached per centre."""
    local = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    return pyproj.Transformer.from_crs("EPSG:4326", local, always_xy=True)


@overload
def to_metres(geometry: NDArray[np.object_], lon0: float, lat0: float) -> NDArray[np.object_]: ...
@overload
def to_metres(geometry: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry: ...
def to_metres(geometry: BaseGeometry | NDArray[np.object_], lon0: float, lat0: float) -> BaseGeometry | NDArray[np.object_]:
    """Project WGS84 geometries to metres around (lon0, lat0); distances hold to < 0.1 % within 50 km."""
    transformer = _metric_transformer(round(lon0, 3), round(lat0, 3))
    return shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def xy_to_metres(lon: NDArray[np.float64], lat: NDArray[np.float64], lon0: float, lat0: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 coordinate arrays to metres around (lon0, lat0)."""
    transformer = _metric_transformer(round(lon0, 3), round(lat0, 3))
    x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def lonlat_from_metres(x: NDArray[np.float64], y: NDArray[np.float64], lon0: float, lat0: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The inverse of :func:`xy_to_metres`: metres around (lon0, lat0) back to WGS84 degrees."""
    transformer = _metric_transformer(round(lon0, 3), round(lat0, 3))
    lon, lat = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float), direction="INVERSE")
    return np.asarray(lon), np.asarray(lat)


def area_m2(geometry: BaseGeometry) -> float:
    """Area of a WGS84 polygon in square metres (geodesic)."""
    area, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(geometry)
    return abs(area)


def distances_outside_m(boundary: BaseGeometry, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Metres from each point to ``boundary``: 0 inside or on it."""
    centre = boundary.centroid
    local_boundary = to_metres(boundary, centre.x, centre.y)
    x, y = xy_to_metres(lon, lat, centre.x, centre.y)
    return np.asarray(shapely.distance(local_boundary, shapely.points(x, y)), dtype=float)
