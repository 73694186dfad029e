"""The citizen's finder (核酸采样点查询, generalised): nearest facilities by walking distance.

From where the phone is, the nearest facilities of a kind, with opening hours and live status,
and on request the walk to each as a line for the map (from the same search).

Phones in China report GCJ-02; the finder converts. Open facilities come first, closed ones
after them, each saying so. Without a walk network near the point, distances are straight
lines times :data:`~huizhili.network.lifecircle.DETOUR_FACTOR` and labelled ``estimated``.
"""

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base import crs as datums
from huizhili.base.geodesy import lonlat_from_metres, xy_to_metres
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.errors import ValidationError
from huizhili.network.distances import Walks, metres_to, walks_from_point
from huizhili.network.isochrone import isochrone
from huizhili.network.lifecircle import DETOUR_FACTOR, MAX_SNAP_M
from huizhili.network.loading import AccessPoints, access_points, load_walk_graph
from huizhili.network.routes import walking_route
from huizhili.network.standards import WALKING_SPEED_M_PER_S
from huizhili.network.walkgraph import Snapped, WalkGraph
from huizhili.storage.models import Facility
from huizhili.storage.versions import versions

log = logging.getLogger(__name__)

SEARCH_RADIUS_M = 5000.0
"""Facilities farther than this walk are not offered."""

MAX_RESULTS = 50


class NetworkCache:
    """The walk graph and each kind's snapped access points, kept between requests.

    Keyed on the data versions of the walk ways and the facilities, read on every use (one
    small query), so a change committed by any process is answered on the next request in
    every worker. Live status is always read fresh. Safe to share between a server's threads.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._graph: tuple[int | None, WalkGraph | None] = (None, None)
        self._points: dict[tuple[int, int, str], tuple[AccessPoints, Snapped | None]] = {}

    def graph(self, session: Session) -> WalkGraph | None:
        """The current walk graph, or None when none is imported."""
        return self._current(session, versions(session))

    def _current(self, session: Session, now: dict[str, int]) -> WalkGraph | None:
        with self._lock:
            if self._graph[0] != now["walk_ways"]:
                self._graph = (now["walk_ways"], load_walk_graph(session, self.cache_dir, now["walk_ways"]))
                self._points.clear()
            return self._graph[1]

    def graph_and_points(self, session: Session, kind: str) -> tuple[WalkGraph | None, AccessPoints, Snapped | None]:
        """The walk graph, the access points of ``kind`` and, with a graph, their places on it."""
        now = versions(session)
        graph = self._current(session, now)
        key = (now["walk_ways"], now["facilities"], kind)
        with self._lock:
            cached = self._points.get(key)
            if cached is None:
                points = access_points(session, kind)
                snapped = graph.snap(points.lon, points.lat) if graph is not None and len(points) else None
                self._points = {k: v for k, v in self._points.items() if k[:2] == key[:2]}
                cached = self._points[key] = (points, snapped)
        return graph, *cached


def warm_up(session: Session, cache: NetworkCache) -> list[str]:
    """Load now what the first citizen would otherwise wait for; the kinds made ready.

    The walk graph (from its cache file, or built), each kind's access points snapped to it,
    the compiled searches (numba loads them from its disk cache on first use, about 0.3 s) and
    the finder's SQL statements: one question per kind with facilities, at a node of the
    network. Nothing to do without a walk network: then distances are straight lines.

    Returns
    -------
    list of str
        The facility kinds whose answers are ready; empty without a walk network.
    """
    started = time.perf_counter()
    graph = cache.graph(session)
    if graph is None:
        return []
    present = set(session.scalars(sa.select(Facility.kind).distinct()))
    kinds = [kind for kind in FACILITY_KINDS if kind in present]
    for kind in kinds:
        nearest_services(session, cache, float(graph.lon[0]), float(graph.lat[0]), kind, k=1)
    log.info("warm start: walk network of %d nodes and %d kinds ready in %.2f s", graph.n_nodes, len(kinds), time.perf_counter() - started)
    return kinds


def nearest_services(
    session: Session,
    cache: NetworkCache,
    lon: float,
    lat: float,
    kind: str,
    k: int = 5,
    source_crs: str = "wgs84",
    routes: bool = False,
) -> dict[str, Any]:
    """The ``k`` nearest facilities of ``kind`` by walking distance, open ones first.

    Parameters
    ----------
    session
        Open session.
    cache
        The process's network cache.
    lon, lat
        Where the citizen is, in ``source_crs``.
    kind
        A facility kind, e.g. ``sampling_point`` or ``health_centre``.
    k
        How many to return (1–50).
    source_crs
        ``wgs84``, ``gcj02`` (Amap, WeChat) or ``bd09`` (Baidu).
    routes
        Also give each result's walk as a ``route``: a GeoJSON LineString in WGS84 lon/lat
        from the origin along the network to the facility's nearest access point, as long as
        its ``walking_distance_m``. Without a walk network near the origin the walk is not
        known and ``route`` is None.

    Returns
    -------
    dict
        ``origin`` (WGS84), ``method`` (``network`` or ``estimated``) and ``results``: each
        facility with ``walking_distance_m``, ``walking_minutes``, ``straight_line_m``,
        ``estimated``, ``closed``, its opening hours and live status, and ``route`` (None
        unless asked for and walked).

    Raises
    ------
    ValidationError
        For an unknown kind or CRS, coordinates out of range, or ``k`` outside 1–50.
    """
    if kind not in FACILITY_KINDS:
        message = f"unknown facility kind {kind!r}"
        raise ValidationError(message)
    if not 1 <= k <= MAX_RESULTS:
        message = f"k must be between 1 and {MAX_RESULTS}"
        raise ValidationError(message)
    lon, lat = _wgs84_point(lon, lat, source_crs)
    graph, points, snapped = cache.graph_and_points(session, kind)
    straight = _straight_m(lon, lat, points)
    method, walked, walked_on = "estimated", straight * DETOUR_FACTOR, None
    if graph is not None and snapped is not None:
        here = graph.snap(lon, lat)
        if float(here.snap_m[0]) <= MAX_SNAP_M:
            walks = walks_from_point(graph, here, SEARCH_RADIUS_M)  # one search: every distance and route
            method, walked, walked_on = "network", metres_to(graph, walks, snapped), (graph, snapped, walks)
    results = []
    for facility, point in _ranked(session, points, walked, k):
        route = _route(walked_on, (lon, lat), points, point) if routes and walked_on else None
        results.append(_result(facility, float(walked[point]), float(straight[point]), method, route))
    return {
        "origin": {"lon": round(lon, 7), "lat": round(lat, 7)},
        "kind": kind,
        "method": method,
        "results": results,
    }


def _wgs84_point(lon: float, lat: float, source_crs: str) -> tuple[float, float]:
    """A citizen's point in WGS84, refusing what is not (or does not convert to) a longitude/latitude."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        message = f"({lon}, {lat}) is not a longitude/latitude"
        raise ValidationError(message)
    x, y = datums.to_wgs84(lon, lat, source_crs)
    if not (-180 <= float(x) <= 180 and -90 <= float(y) <= 90):
        message = f"({lon}, {lat}) in {source_crs} lies outside the range of longitude/latitude"
        raise ValidationError(message)
    return float(x), float(y)


def _straight_m(lon: float, lat: float, points: AccessPoints) -> np.ndarray:
    """Great-circle metres from (lon, lat) to each access point."""
    if not len(points):
        return np.zeros(0)
    phi1, phi2 = np.radians(lat), np.radians(points.lat)
    dphi, dlmb = phi2 - phi1, np.radians(points.lon - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    metres: np.ndarray = 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))
    return metres


def _ranked(session: Session, points: AccessPoints, walked: np.ndarray, k: int) -> list[tuple[Facility, int]]:
    """Per facility its nearest access point (by position); open ones before closed ones, then by walk."""
    best: dict[int, tuple[float, int]] = {}
    for point, (facility_id, walk) in enumerate(zip(points.facility_ids.tolist(), walked.tolist(), strict=True)):
        if walk <= SEARCH_RADIUS_M and (facility_id not in best or walk < best[facility_id][0]):
            best[facility_id] = (walk, point)
    # Enough candidates that k open ones can come first even when the nearest are closed.
    candidates = sorted(best, key=lambda i: best[i][0])[: k * 4]
    facilities = {f.id: f for f in session.scalars(sa.select(Facility).where(Facility.id.in_(candidates)))}
    # A facility replaced after the cache was keyed is skipped; the next request has the new version.
    candidates = [i for i in candidates if i in facilities]
    ordered = sorted(candidates, key=lambda i: (facilities[i].is_open is False, best[i][0]))[:k]
    return [(facilities[i], best[i][1]) for i in ordered]


def _route(
    walked_on: tuple[WalkGraph, Snapped, Walks], start: tuple[float, float], points: AccessPoints, point: int
) -> dict[str, Any] | None:
    """The walk to access point ``point`` as a GeoJSON LineString (lon/lat to 7 decimals, about a centimetre)."""
    graph, snapped, walks = walked_on
    line = walking_route(graph, walks, start, snapped.take([point]), (float(points.lon[point]), float(points.lat[point])))
    if line is None:
        return None
    return {"type": "LineString", "coordinates": np.round(shapely.get_coordinates(line), 7).tolist()}


def _result(facility: Facility, walk: float, line: float, method: str, route: dict[str, Any] | None) -> dict[str, Any]:
    closed = facility.is_open is False
    return {
        "id": facility.id,
        "name": facility.name,
        "kind": facility.kind,
        "address": facility.address,
        "phone": facility.phone,
        "opening_hours": facility.opening_hours,
        "is_open": facility.is_open,
        "queue_level": facility.queue_level,
        "status_note": facility.status_note,
        "status_updated_at": facility.status_updated_at.isoformat() if facility.status_updated_at else None,
        "lon": facility.lon,
        "lat": facility.lat,
        "walking_distance_m": round(walk, 1),
        "walking_minutes": round(walk / WALKING_SPEED_M_PER_S / 60, 1),
        "straight_line_m": round(line, 1),
        "estimated": method == "estimated",
        "closed": closed,
        "notice": "closed now" if closed else None,
        "route": route,
    }


def reachable_area(
    session: Session, cache: NetworkCache, lon: float, lat: float, minutes: float, source_crs: str = "wgs84"
) -> dict[str, Any]:
    """The area reachable on foot within ``minutes`` as a GeoJSON Feature (estimated: a circle).

    Raises
    ------
    ValidationError
        For minutes outside 1–60 or a bad point or CRS.
    """
    if not 1 <= minutes <= 60:
        message = "minutes must be between 1 and 60"
        raise ValidationError(message)
    lon, lat = _wgs84_point(lon, lat, source_crs)
    graph = cache.graph(session)
    if graph is not None and float(graph.snap(lon, lat).snap_m[0]) <= MAX_SNAP_M:
        shape, method = isochrone(graph, lon, lat, minutes, WALKING_SPEED_M_PER_S), "network"
    else:
        radius = minutes * 60 * WALKING_SPEED_M_PER_S / DETOUR_FACTOR
        cx, cy = xy_to_metres(np.array([lon]), np.array([lat]), lon, lat)
        local = shapely.Point(float(cx[0]), float(cy[0])).buffer(radius, 64)
        shape, method = _from_local(local, lon, lat), "estimated"
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(shape),
        "properties": {"minutes": minutes, "method": method, "estimated": method == "estimated", "origin": [lon, lat]},
    }


def _from_local(shape: Any, lon: float, lat: float) -> Any:
    """A shape in metres around (lon, lat) back to WGS84."""
    return shapely.transform(shape, lambda xy: np.column_stack(lonlat_from_metres(xy[:, 0], xy[:, 1], lon, lat)))

