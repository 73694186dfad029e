"""The walk network and the facilities' access points, read from storage and cached.

The graph is built from the stored walk ways once and kept in a cache file named after the
``walk_ways`` data version (:mod:`huizhili.storage.versions`), so server processes and later
runs reuse it until a write changes the ways. The file is written under a temporary name and
moved into place, so a process reading it never sees half a file.
"""

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from huizhili.network.walkgraph import WalkGraph
from huizhili.storage.models import Facility, WalkWay

log = logging.getLogger(__name__)

ACCESS_SPACING_M = 50.0
"""Any facility mapped as an area (a park, a school's grounds) is entered anywhere along its edge: points this far apart stand for it."""

_MAX_ACCESS_POINTS = 400


@dataclass(frozen=True)
class AccessPoints:
    """Points at which facilities are reached; several per areal facility."""

    facility_ids: NDArray[np.int64]
    """The facility each point belongs to."""
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.facility_ids)


def load_walk_graph(session: Session, cache_dir: Path, version: int) -> WalkGraph | None:
    """The walk network of everything imported, or None when no walk ways are stored.

    ``version`` is the walk ways' data version the caller keys the graph on; the cache file is
    named after it. Islands (ways not connected to the main network) are dropped so that nothing
    snaps to them.
    """
    cached = cache_dir / f"walkgraph-{version}.npz"
    if cached.exists():
        return WalkGraph.load(cached)
    rows = session.execute(sa.select(WalkWay.node_ids, WalkWay.geometry)).all()
    if not rows:
        return None
    graph = WalkGraph.from_ways(
        [node_ids for node_ids, _ in rows], [shapely.get_coordinates(geometry) for _, geometry in rows]
    ).largest_component()
    cache_dir.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=cache_dir, prefix=".walkgraph-", suffix=".npz")
    os.close(descriptor)
    try:
        graph.save(Path(partial))
        os.replace(partial, cached)
    finally:
        Path(partial).unlink(missing_ok=True)
    log.info("walk graph built: %d nodes, %d edges", graph.n_nodes, graph.n_edges)
    return graph


def access_points(session: Session, kind: str) -> AccessPoints:
    """Where facilities of ``kind`` are entered: point facilities at their point, areal ones along their edge."""
    ids, lons, lats = [], [], []
    for facility_id, geometry in session.execute(sa.select(Facility.id, Facility.geometry).where(Facility.kind == kind)):
        points = _entry_points(geometry)
        ids.append(np.full(len(points), facility_id, dtype=np.int64))
        lons.append(points[:, 0])
        lats.append(points[:, 1])
    if not ids:
        empty = np.zeros(0)
        return AccessPoints(np.zeros(0, dtype=np.int64), empty, empty)
    return AccessPoints(np.concatenate(ids), np.concatenate(lons), np.concatenate(lats))


def _entry_points(geometry: shapely.Geometry) -> NDArray[np.float64]:
    """The point itself, or points every ~50 m along a polygon's outline (lon/lat)."""
    if geometry.geom_type == "Point":
        point: NDArray[np.float64] = shapely.get_coordinates(geometry)
        return point
    spacing_degrees = ACCESS_SPACING_M / 111_000  # only sets the density, so degrees will do
    points = np.unique(shapely.get_coordinates(shapely.segmentize(geometry.boundary, spacing_degrees)), axis=0)
    if len(points) > _MAX_ACCESS_POINTS:
        points = points[np.linspace(0, len(points) - 1, _MAX_ACCESS_POINTS).astype(int)]
    return points
