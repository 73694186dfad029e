"""Isochrones: the area a pedestrian reaches from one point within a given time."""

import numpy as np
import shapely
from numpy.typing import NDArray

from huizhili.errors import ValidationError
from huizhili.network.distances import distances_from_point
from huizhili.network.walkgraph import WalkGraph


def isochrone(
    graph: WalkGraph,
    lon: float,
    lat: float,
    minutes: float,
    speed_m_per_s: float,
    buffer_m: float = 20.0,
) -> shapely.Polygon | shapely.MultiPolygon:
    """The area within ``minutes`` of walking from a point, as a WGS84 polygon.

    The reachable network is every edge, or the part of an edge, that the walk reaches in
    time (edges are cut where the time runs out), plus the walk from the point to its place
    on the network. Those lines are buffered by ``buffer_m`` in metres and unioned; being
    connected, they give one polygon (with holes where blocks are not reached).

    Parameters
    ----------
    graph
        The walk network.
    lon, lat
        The starting point, WGS84 degrees.
    minutes
        Walking time, minutes.
    speed_m_per_s
        Walking speed, metres per second.
    buffer_m
        Half-width of the area around each reached line, metres.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        The area in WGS84 lon/lat; empty when the network itself is out of reach.

    Raises
    ------
    ValidationError
        If ``minutes`` is negative, or ``speed_m_per_s`` or ``buffer_m`` is not positive.
    """
    if not (minutes >= 0 and speed_m_per_s > 0 and buffer_m > 0):
        message = "minutes must be >= 0, and speed_m_per_s and buffer_m > 0"
        raise ValidationError(message)
    reach = minutes * 60.0 * speed_m_per_s
    point = graph.snap(lon, lat)
    if point.snap_m[0] > reach:
        return shapely.Polygon()
    nodes = distances_from_point(graph, point, reach)
    edge, start, stop = _reached_parts(graph, nodes, reach)
    own, length = point.edge, graph.edge_length[point.edge]
    fraction = np.divide(point.offset_m, length, out=np.zeros(1), where=length > 0)
    # Along its own edge the point reaches both ways, without passing through an end.
    half = np.divide(reach - point.snap_m, length, out=np.zeros(1), where=length > 0)
    edge = np.concatenate((edge, own))
    x0, y0 = graph.xy_along(edge, np.concatenate((start, np.maximum(fraction - half, 0.0))))
    x1, y1 = graph.xy_along(edge, np.concatenate((stop, np.minimum(fraction + half, 1.0))))
    # And the walk from the point onto the network.
    fx, fy = graph.to_metres(lon, lat)
    px, py = graph.xy_along(own, fraction)
    starts = np.column_stack((np.append(x0, fx), np.append(y0, fy)))
    stops = np.column_stack((np.append(x1, px), np.append(y1, py)))
    lines = shapely.linestrings(np.stack((starts, stops), axis=1))
    # Buffering the pieces one by one and unioning them is ~15x faster than buffering them
    # as one MultiLineString, whose many short overlapping segments GEOS nodes pairwise.
    area = shapely.union_all(shapely.buffer(lines, buffer_m))
    return shapely.transform(area, lambda xy: np.column_stack(graph.to_lonlat(xy[:, 0], xy[:, 1])))


def _reached_parts(
    graph: WalkGraph, nodes: NDArray[np.float64], reach: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Reached parts of edges from their ends: edge, start and stop as fractions from ``u``."""
    length = graph.edge_length
    from_u = np.clip(reach - nodes[graph.edge_u], 0.0, length)
    from_v = np.clip(reach - nodes[graph.edge_v], 0.0, length)
    whole = (from_u + from_v >= length) & ((from_u > 0) | (from_v > 0))
    from_u_only = ~whole & (from_u > 0)
    from_v_only = ~whole & (from_v > 0)
    safe = np.where(length > 0, length, 1.0)
    edge = np.concatenate(
        (np.flatnonzero(whole), np.flatnonzero(from_u_only), np.flatnonzero(from_v_only))
    )
    start = np.concatenate(
        (np.zeros(whole.sum()), np.zeros(from_u_only.sum()), 1.0 - (from_v / safe)[from_v_only])
    )
    stop = np.concatenate(
        (np.ones(whole.sum()), (from_u / safe)[from_u_only], np.ones(from_v_only.sum()))
    )
    return edge, start, stop
