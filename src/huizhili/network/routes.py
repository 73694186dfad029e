"""Walking routes: the way a citizen walks to a facility, as a line to draw on a map.

A route is read back from the search that measured the distance (:class:`~huizhili.network.
distances.Walks`), by following each node's previous node, so one search from the citizen
draws the walks to every facility found, and a route's length is the distance reported.
"""

import numpy as np
import shapely
from numpy.typing import NDArray

from huizhili.errors import ValidationError
from huizhili.network.distances import Walks
from huizhili.network.walkgraph import Snapped, WalkGraph


def walking_route(
    graph: WalkGraph, walks: Walks, start: tuple[float, float], target: Snapped, end: tuple[float, float]
) -> shapely.LineString | None:
    """The shortest walk from ``start`` to ``end`` as a line in WGS84 lon/lat.

    Straight from ``start`` to its place on the network (the point of ``walks``), along its
    edge to the node the walk enters at, node by node along the network, along the target's
    edge to its place and straight on to ``end``; or, where both lie on one edge and that is
    shorter, directly along it. Its geodesic length is the walking distance
    :func:`~huizhili.network.distances.metres_to` gives, to well under a metre.

    Parameters
    ----------
    graph
        The walk network ``walks`` was searched on.
    walks
        The search from the walk's start.
    start
        Where the walk starts, WGS84 lon/lat: the point that was snapped to ``walks.point``.
    target
        One point snapped to ``graph``: where the walk ends on the network.
    end
        Where the walk ends, WGS84 lon/lat: the point that was snapped to ``target``.

    Returns
    -------
    shapely.LineString or None
        The walk; None when ``target`` is not reached within the search's cutoff.

    Raises
    ------
    ValidationError
        If ``target`` holds other than one point or is not on ``graph``.
    """
    if len(target) != 1:
        message = f"a route goes to one point, not {len(target)}"
        raise ValidationError(message)
    graph.check_snapped(target)
    edge, offset = int(target.edge[0]), float(target.offset_m[0])
    start_edge, start_offset = int(walks.point.edge[0]), float(walks.point.offset_m[0])
    u, v = int(graph.edge_u[edge]), int(graph.edge_v[edge])
    # The three ways in, as metres_to weighs them: through either end, or along a shared edge.
    rest = float(graph.edge_length[edge]) - offset
    ways_in = [float(walks.metres[u]) + offset, float(walks.metres[v]) + rest, np.inf]
    if start_edge == edge:
        ways_in[2] = abs(start_offset - offset) + float(walks.point.snap_m[0])
    way = min(range(3), key=ways_in.__getitem__)
    if not ways_in[way] + float(target.snap_m[0]) <= walks.cutoff_m:
        return None
    nodes = _back_to_start(walks.previous, (u, v)[way]) if way < 2 else []
    places = Snapped(np.array([start_edge, edge]), np.array([start_offset, offset]), np.zeros(2))
    place_lon, place_lat = graph.location(places)
    coords = np.empty((len(nodes) + 4, 2))
    coords[0], coords[1], coords[-2], coords[-1] = start, (place_lon[0], place_lat[0]), (place_lon[1], place_lat[1]), end
    coords[2:-2, 0], coords[2:-2, 1] = graph.lon[nodes], graph.lat[nodes]
    # Repeated points (no snap walk, a place at a node) dropped, but a line has two at least.
    coords = coords[np.concatenate(([True], np.any(coords[1:] != coords[:-1], axis=1)))]
    return shapely.LineString(coords if len(coords) > 1 else np.repeat(coords, 2, axis=0))


def _back_to_start(previous: NDArray[np.int64], node: int) -> list[int]:
    """The nodes from where the walk enters the network to ``node``, following ``previous`` back."""
    path = [node]
    while previous[path[-1]] >= 0:
        path.append(int(previous[path[-1]]))
    return path[::-1]
