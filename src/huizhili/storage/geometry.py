"""A geometry column type that is PostGIS ``geometry(Geometry, 4326)`` on PostgreSQL and WKB on SQLite.

Python code only ever sees shapely geometries in WGS84 lon/lat, whatever the backend.
"""

from typing import Any

import geoalchemy2
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Dialect
from sqlalchemy.types import LargeBinary, TypeDecorator, TypeEngine

WGS84_SRID = 4326


class Geometry(TypeDecorator[BaseGeometry]):
    """Shapely geometry stored natively in PostGIS and as plain WKB in SQLite."""

    impl = LargeBinary
    cache_ok = True
    # GeoAlchemy2's DDL hooks read these to create the PostGIS column and its GiST index.
    geometry_type = "GEOMETRY"
    srid = WGS84_SRID
    dimension = 2
    spatial_index = True
    use_N_D_index = False
    use_typmod = None
    nullable = True

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        """Pick GeoAlchemy2's type on PostgreSQL, bytes elsewhere."""
        # GeoAlchemy2's DDL hooks call this with no dialect to ask whether the column is spatial.
        if dialect is not None and dialect.name == "postgresql":
            return geoalchemy2.Geometry(srid=WGS84_SRID, spatial_index=True)
        return LargeBinary()

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        """Encode a shapely geometry for the backend."""
        if value is None:
            return None
        if not isinstance(value, BaseGeometry):
            message = f"expected a shapely geometry, got {type(value).__name__}"
            raise TypeError(message)
        wkb = shapely.to_wkb(value)
        if dialect.name == "postgresql":
            return geoalchemy2.WKBElement(wkb, srid=WGS84_SRID)
        return wkb

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        """Decode the backend's value into a shapely geometry."""
        if value is None:
            return None
        if isinstance(value, geoalchemy2.WKBElement):
            value = value.data
        if isinstance(value, memoryview):
            value = bytes(value)
        return shapely.from_wkb(value)
