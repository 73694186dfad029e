"""Area assignment: which street, committee and grid cell each record lies in.

Embedded mode answers with :class:`PolygonLocator`, a vectorised point-in-polygon index;
server mode pushes the same question down to PostGIS. ``bench/bench_assign.py`` measures the
locator against a plain shapely loop.
"""

from collections.abc import Sequence

import numpy as np
import shapely
import sqlalchemy as sa
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session, aliased

from huizhili.base.areas import EXTENT_SOURCE, LEVEL_COLUMNS
from huizhili.storage.engine import is_postgis
from huizhili.storage.models import Area, AreaAssigned, Building, Device, Facility, Parcel
from huizhili.storage.spatial import intersecting

ASSIGNED_MODELS: tuple[type[AreaAssigned], ...] = (Building, Facility, Device, Parcel)
"""Every table whose records are placed in the area hierarchy."""


class PolygonLocator:
    """Finds, for many points at once, the polygon that holds each.

    A regular grid of cells covers the polygons. A cell lying wholly inside one polygon
    answers for every point in it with one array lookup; only points in cells that a boundary
    crosses are tested exactly, polygon by polygon, with shapely's vectorised
    ``intersects_xy`` on prepared geometries. Points on a boundary belong to the first
    polygon that touches them.

    Parameters
    ----------
    polygons
        Polygons or multipolygons in one coordinate system; they should not overlap.
    cells_per_side
        Resolution of the grid along the longer side of the polygons' extent.
    """

    def __init__(self, polygons: Sequence[BaseGeometry], cells_per_side: int = 256) -> None:
        self.polygons = np.asarray(polygons, dtype=object)
        shapely.prepare(self.polygons)
        if len(self.polygons) == 0:
            self.owner = np.full(1, -1, dtype=np.int64)
            self._x0 = self._y0 = 0.0
            self._dx = self._dy = 1.0
            self._nx = self._ny = 1
            self._candidates_start = np.zeros(2, dtype=np.int64)
            self._candidates = np.zeros(0, dtype=np.int64)
            return
        x0, y0, x1, y1 = shapely.total_bounds(self.polygons)
        side = max(x1 - x0, y1 - y0) or 1e-9
        cell = side / cells_per_side
        self._x0, self._y0, self._dx, self._dy = x0, y0, cell, cell
        self._nx = max(1, int(np.ceil((x1 - x0) / cell)))
        self._ny = max(1, int(np.ceil((y1 - y0) / cell)))
        self._classify_cells()

    def _classify_cells(self) -> None:
        """Mark cells wholly inside one polygon, and list candidate polygons for the rest."""
        grid_x, grid_y = np.meshgrid(np.arange(self._nx), np.arange(self._ny), indexing="xy")
        ix, iy = grid_x.ravel(), grid_y.ravel()
        boxes = shapely.box(
            self._x0 + ix * self._dx,
            self._y0 + iy * self._dy,
            self._x0 + (ix + 1) * self._dx,
            self._y0 + (iy + 1) * self._dy,
        )
        cell_ids = iy * self._nx + ix
        tree = shapely.STRtree(boxes)
        self.owner = np.full(len(boxes), -1, dtype=np.int64)
        polygon_index, box_index = tree.query(self.polygons, predicate="contains_properly")
        self.owner[cell_ids[box_index]] = polygon_index
        polygon_index, box_index = tree.query(self.polygons, predicate="intersects")
        partial = self.owner[cell_ids[box_index]] == -1
        cells, polygon_index = cell_ids[box_index[partial]], polygon_index[partial]
        order = np.lexsort((polygon_index, cells))
        cells, self._candidates = cells[order], polygon_index[order]
        counts = np.bincount(cells, minlength=len(boxes))
        self._candidates_start = np.concatenate(([0], np.cumsum(counts)))

    def locate(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.int64]:
        """Index of the polygon holding each point, or -1 where none does.

        Parameters
        ----------
        x, y
            Point coordinates, in the polygons' coordinate system.

        Returns
        -------
        numpy.ndarray
            One polygon index per point.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ix = np.floor((x - self._x0) / self._dx)
        iy = np.floor((y - self._y0) / self._dy)
        inside = (ix >= 0) & (ix < self._nx) & (iy >= 0) & (iy < self._ny)
        cell = np.where(inside, iy * self._nx + ix, 0).astype(np.int64)
        result = np.where(inside, self.owner[cell], -1)
        start, stop = self._candidates_start[cell], self._candidates_start[cell + 1]
        uncertain = np.flatnonzero(inside & (result == -1) & (stop > start))
        if uncertain.size:
            result[uncertain] = self._test_exactly(x, y, uncertain, start, stop)
        return result

    def _test_exactly(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        points: NDArray[np.int64],
        start: NDArray[np.int64],
        stop: NDArray[np.int64],
    ) -> NDArray[np.int64]:
        """Exact tests for points in boundary cells, one vectorised call per candidate polygon."""
        counts = stop[points] - start[points]
        pair_point = np.repeat(points, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_polygon = self._candidates[np.repeat(start[points], counts) + offsets]
        hit = np.zeros(len(pair_point), dtype=bool)
        order = np.argsort(pair_polygon, kind="stable")
        bounds = np.flatnonzero(np.diff(pair_polygon[order])) + 1
        for group in np.split(order, bounds):
            polygon = self.polygons[pair_polygon[group[0]]]
            hit[group] = shapely.intersects_xy(polygon, x[pair_point[group]], y[pair_point[group]])
        found = np.full(x.shape, -1, dtype=np.int64)
        # Pairs are sorted by polygon index within each point, so the first hit wins.
        first = np.flatnonzero(hit)[::-1]
        found[pair_point[first]] = pair_polygon[first]
        return found[points]


def assign_areas(
    session: Session,
    models: Sequence[type[AreaAssigned]] = ASSIGNED_MODELS,
    ids: Sequence[int] | None = None,
) -> None:
    """Fill the district, street, committee and grid codes of records from their lon/lat.

    Each level is found from the boundaries of that level's areas; a level whose areas have
    no boundary is then filled from the level below (a committee's street, a street's
    district). A record still in no district gets the extent of the OSM extract holding it
    (:data:`~huizhili.base.areas.EXTENT_SOURCE`). Pushed down to PostGIS in server mode.

    Parameters
    ----------
    session
        An open session; the caller commits.
    models
        Which tables to assign.
    ids
        Only these records (of every model given); all records when None.
    """
    assign_level = _assign_level_in_postgis if is_postgis(session) else _assign_level_embedded
    extents = sa.and_(Area.level == "district", Area.source == EXTENT_SOURCE)
    for model in models:
        chosen = model.id.in_(ids) if ids is not None else sa.true()
        for level, column in LEVEL_COLUMNS.items():
            assign_level(session, model, sa.and_(Area.level == level, Area.source.is_distinct_from(EXTENT_SOURCE)), column, chosen)
        _fill_from_level_below(session, model, chosen)
        assign_level(session, model, extents, "district_code", sa.and_(chosen, model.district_code.is_(None)))
    session.flush()


def _assign_level_embedded(
    session: Session, model: type[AreaAssigned], holders: sa.ColumnElement[bool], column: str, chosen: sa.ColumnElement[bool]
) -> None:
    """Locate records in the polygons of the ``holders`` areas with :class:`PolygonLocator`."""
    areas = session.execute(
        sa.select(Area.code, Area.geometry).where(holders, Area.geometry.is_not(None)).order_by(Area.code)
    ).all()
    rows = session.execute(sa.select(model.id, model.lon, model.lat).where(chosen)).all()
    if not rows:
        return
    ids, lon, lat = (np.asarray(part) for part in zip(*rows, strict=True))
    codes = np.asarray([None] + [code for code, _ in areas], dtype=object)
    found = PolygonLocator([geometry for _, geometry in areas]).locate(lon, lat)
    values = codes[found + 1]
    session.execute(
        sa.update(model),
        [{"id": int(i), column: code} for i, code in zip(ids, values, strict=True)],
    )


def _assign_level_in_postgis(
    session: Session, model: type[AreaAssigned], holders: sa.ColumnElement[bool], column: str, chosen: sa.ColumnElement[bool]
) -> None:
    """Let PostGIS find, among the ``holders`` areas, the area of each record with its GiST index."""
    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(model.lon, model.lat), 4326)
    holder = (
        sa.select(Area.code)
        .where(holders, sa.func.ST_Intersects(Area.geometry, point))
        .order_by(Area.code)
        .limit(1)
        .scalar_subquery()
    )
    has_polygons = session.scalar(
        sa.select(sa.func.count()).where(holders, Area.geometry.is_not(None))
    )
    session.execute(
        sa.update(model).where(chosen).values({column: holder if has_polygons else None}),
        execution_options={"synchronize_session": False},
    )


def _fill_from_level_below(
    session: Session, model: type[AreaAssigned], chosen: sa.ColumnElement[bool]
) -> None:
    """Fill a missing level from the parent of the level below, innermost first."""
    levels = list(LEVEL_COLUMNS.items())
    child, parent = aliased(Area), aliased(Area)
    for (upper_level, upper), (_, lower) in reversed(list(zip(levels, levels[1:], strict=False))):
        parent_code = (
            sa.select(parent.code)
            .join(child, child.parent_code == parent.code)
            .where(child.code == getattr(model, lower), parent.level == upper_level)
            .scalar_subquery()
        )
        session.execute(
            sa.update(model)
            .where(chosen, getattr(model, upper).is_(None), getattr(model, lower).is_not(None))
            .values({upper: parent_code}),
            execution_options={"synchronize_session": False},
        )


def areas_at(session: Session, lon: float, lat: float) -> dict[str, str | None]:
    """The district, street, committee and grid codes of one point: a case being filed, not a table to assign.

    Levels whose areas have no boundary (the demo's committees) come from the parents of the
    innermost area that holds the point, as :func:`assign_areas` fills them from the level below.
    """
    holders = session.execute(
        sa.select(Area.code, Area.level, Area.parent_code)
        .where(intersecting(session, Area, shapely.Point(lon, lat)), Area.source.is_distinct_from(EXTENT_SOURCE))
        .order_by(Area.code)
    ).all()
    found: dict[str, str | None] = dict.fromkeys(LEVEL_COLUMNS.values())
    depth = {level: index for index, level in enumerate(LEVEL_COLUMNS)}
    innermost: tuple[int, str | None] = (-1, None)
    for code, level, parent in holders:
        if level in LEVEL_COLUMNS and found[LEVEL_COLUMNS[level]] is None:
            found[LEVEL_COLUMNS[level]] = code
            innermost = max(innermost, (depth[level], parent), key=lambda pair: pair[0])
    parent = innermost[1]
    while parent is not None:
        row = session.execute(sa.select(Area.level, Area.parent_code).where(Area.code == parent)).one_or_none()
        if row is None:
            break
        column = LEVEL_COLUMNS.get(row.level)
        if column is not None and found[column] is None:
            found[column] = parent
        parent = row.parent_code
    return found
