"""Walking distances: the life circle's nearest facility, and distances from one point.

All distances are metres along the network, including the straight walks between each point
and its place on an edge (``Snapped.snap_m``) at both ends. Points on the same edge also
reach each other directly along it. Beyond ``cutoff_m`` a distance is ``inf``; searches stop
there, so a small cutoff is also a fast one.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from huizhili.errors import ValidationError
from huizhili.network._search import lower_labels, shortest_tree
from huizhili.network.walkgraph import Snapped, WalkGraph

TILE_CUTOFFS = 3.0
"""Side of the tiles that group facilities into one search, in cutoffs (measured best 2–4)."""


def node_distances(graph: WalkGraph, facilities: Snapped, cutoff_m: float) -> NDArray[np.float64]:
    """Metres from every node of the network to its nearest facility.

    Each facility enters the network at both ends of its edge, at its snap distance plus the
    walk along the edge to that end. Facilities are grouped in square tiles of
    ``TILE_CUTOFFS * cutoff_m`` a side; one multi-source search per tile runs after another,
    each stopping where an earlier tile's facilities are already as close. The result is
    exact; only nodes within reach of two tiles are visited twice, and each search stays in
    the CPU cache on networks far bigger than it (``bench/bench_lifecircle.py``).

    Parameters
    ----------
    graph
        The walk network.
    facilities
        Facilities snapped to ``graph``.
    cutoff_m
        Longest distance of interest, metres (``inf`` for none).

    Returns
    -------
    numpy.ndarray
        One distance per node, metres; ``inf`` where no facility is within ``cutoff_m``.

    Raises
    ------
    ValidationError
        If ``cutoff_m`` is negative or not a number, or a facility is not on ``graph``.
    """
    _check_cutoff(cutoff_m)
    graph.check_snapped(facilities)
    best = np.full(graph.n_nodes, np.inf)
    if len(facilities) == 0:
        return best
    ends = np.column_stack((graph.edge_u[facilities.edge], graph.edge_v[facilities.edge]))
    length = graph.edge_length[facilities.edge]
    entry = facilities.snap_m[:, None] + np.column_stack(
        (facilities.offset_m, length - facilities.offset_m)
    )
    tile = _tiles(graph.x[ends[:, 0]], graph.y[ends[:, 0]], TILE_CUTOFFS * cutoff_m)
    order = np.argsort(tile, kind="stable")
    first = np.flatnonzero(np.diff(tile[order], prepend=-1))
    adjacency = graph.adjacency
    lower_labels(
        adjacency.indptr,
        adjacency.indices,
        adjacency.data,
        2 * np.append(first, len(order)),
        ends[order].ravel(),
        entry[order].ravel(),
        float(cutoff_m),
        best,
    )
    return best


def nearest_facility_distance(
    graph: WalkGraph, origins: Snapped, facilities: Snapped, cutoff_m: float
) -> NDArray[np.float64]:
    """Walking metres from each origin to its nearest facility: the life circle of one kind.

    Parameters
    ----------
    graph
        The walk network.
    origins
        Origins (homes, building entrances) snapped to ``graph``.
    facilities
        Facilities of one kind snapped to ``graph``.
    cutoff_m
        Longest distance of interest, metres (e.g. 1,500 for a 15-minute walk).

    Returns
    -------
    numpy.ndarray
        One distance per origin, metres, both snap distances included; ``inf`` beyond
        ``cutoff_m`` or where no facility can be reached.

    Raises
    ------
    ValidationError
        If ``cutoff_m`` is negative or not a number, or a point is not on ``graph``.
    """
    graph.check_snapped(origins)
    nodes = node_distances(graph, facilities, cutoff_m)
    distance = np.minimum(_through_ends(graph, nodes, origins), _same_edge(origins, facilities))
    distance[distance > cutoff_m] = np.inf
    return distance


@dataclass(frozen=True)
class Walks:
    """The shortest walks from one point to every node within a cutoff, from one search.

    Parameters
    ----------
    point
        The point walked from, snapped to the network.
    cutoff_m
        Metres searched; farther nodes are ``inf``.
    metres
        Walking metres from the point to each node, its snap distance included.
    previous
        Each node's previous node on its shortest walk; -1 at the edge end the walk
        enters the network at, and at nodes not reached.
    """

    point: Snapped
    cutoff_m: float
    metres: NDArray[np.float64]
    previous: NDArray[np.int64]


def walks_from_point(graph: WalkGraph, point: Snapped, cutoff_m: float) -> Walks:
    """The shortest walks from one point: metres to every node, and the way back to the point.

    One search serves every question from the point: distances to any number of facilities
    (:func:`metres_to`) and the walk to each one (:func:`~huizhili.network.routes.walking_route`).

    Parameters
    ----------
    graph
        The walk network.
    point
        One point snapped to ``graph`` (its snap distance is included).
    cutoff_m
        Longest distance of interest, metres.

    Returns
    -------
    Walks
        Metres and previous node for every node of ``graph``.

    Raises
    ------
    ValidationError
        If ``point`` holds other than one point or is not on ``graph``, or ``cutoff_m`` is
        negative or not a number.
    """
    if len(point) != 1:
        message = f"a walk starts from one point, not {len(point)}"
        raise ValidationError(message)
    _check_cutoff(cutoff_m)
    graph.check_snapped(point)
    edge = point.edge[0]
    ends = np.array([graph.edge_u[edge], graph.edge_v[edge]], dtype=np.int64)
    entry = point.snap_m[0] + np.array([point.offset_m[0], graph.edge_length[edge] - point.offset_m[0]])
    adjacency = graph.adjacency
    metres, previous = shortest_tree(adjacency.indptr, adjacency.indices, adjacency.data, ends, entry, float(cutoff_m))
    return Walks(point, float(cutoff_m), metres, previous)


def metres_to(graph: WalkGraph, walks: Walks, targets: Snapped) -> NDArray[np.float64]:
    """Walking metres from the point of ``walks`` to each target, both snap distances included.

    Through either end of the target's edge, or directly along it where the point lies on the
    same edge. Targets beyond the search's cutoff may be farther than it, or ``inf``.

    Raises
    ------
    ValidationError
        If a target is not on ``graph``.
    """
    graph.check_snapped(targets)
    return np.minimum(_through_ends(graph, walks.metres, targets), _same_edge(targets, walks.point))


def distances_from_point(graph: WalkGraph, point: Snapped, cutoff_m: float) -> NDArray[np.float64]:
    """Walking metres from one point to every node of the network.

    Parameters
    ----------
    graph
        The walk network.
    point
        One point snapped to ``graph`` (its snap distance is included).
    cutoff_m
        Longest distance of interest, metres.

    Returns
    -------
    numpy.ndarray
        One distance per node, metres; ``inf`` beyond ``cutoff_m``.

    Raises
    ------
    ValidationError
        If ``point`` holds other than one point, or ``cutoff_m`` is negative.
    """
    return walks_from_point(graph, point, cutoff_m).metres


def nearest_k(
    graph: WalkGraph, point: Snapped, facilities: Snapped, k: int, cutoff_m: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The ``k`` facilities nearest to one point by walking distance.

    Parameters
    ----------
    graph
        The walk network.
    point
        One point snapped to ``graph``: where the citizen is.
    facilities
        Candidate facilities snapped to ``graph``.
    k
        How many to return at most.
    cutoff_m
        Facilities farther than this many metres are left out.

    Returns
    -------
    tuple of numpy.ndarray
        Positions in ``facilities`` of the nearest ones, nearest first (ties in input
        order), and their distances in metres; fewer than ``k`` when fewer are in reach.

    Raises
    ------
    ValidationError
        If ``k`` is below 1, ``point`` holds other than one point, or ``cutoff_m`` is negative.
    """
    if k < 1:
        message = f"k must be at least 1, not {k}"
        raise ValidationError(message)
    graph.check_snapped(facilities)
    distance = metres_to(graph, walks_from_point(graph, point, cutoff_m), facilities)
    within = np.flatnonzero(distance <= cutoff_m)
    nearest = within[np.argsort(distance[within], kind="stable")[:k]]
    return nearest, distance[nearest]


def _check_cutoff(cutoff_m: float) -> None:
    """Refuse a negative or NaN cutoff."""
    if not cutoff_m >= 0:
        message = f"cutoff_m must be a non-negative number of metres, not {cutoff_m}"
        raise ValidationError(message)


def _tiles(x: NDArray[np.float64], y: NDArray[np.float64], side: float) -> NDArray[np.int64]:
    """Row-major number of the square tile of ``side`` metres holding each point (0 if infinite)."""
    if not np.isfinite(side) or len(x) == 0:
        return np.zeros(len(x), dtype=np.int64)
    side = max(side, 1.0)
    column, row = np.floor((x - x.min()) / side), np.floor((y - y.min()) / side)
    return np.asarray(row * (column.max() + 1) + column, dtype=np.int64)


def _through_ends(
    graph: WalkGraph, nodes: NDArray[np.float64], points: Snapped
) -> NDArray[np.float64]:
    """Distance to each point through either end of its edge, given distances to the nodes."""
    u, v = graph.edge_u[points.edge], graph.edge_v[points.edge]
    rest = graph.edge_length[points.edge] - points.offset_m
    return np.minimum(nodes[u] + points.offset_m, nodes[v] + rest) + points.snap_m


def _same_edge(points: Snapped, targets: Snapped) -> NDArray[np.float64]:
    """Distance from each point to the nearest target on its own edge, along it (inf if none)."""
    distance = np.full(len(points), np.inf)
    order = np.argsort(targets.edge, kind="stable")
    target_edge = targets.edge[order]
    first = np.searchsorted(target_edge, points.edge, side="left")
    count = np.searchsorted(target_edge, points.edge, side="right") - first
    sharing = np.flatnonzero(count > 0)
    if sharing.size == 0:
        return distance
    # One row per (point, target on its edge) pair: few, as targets rarely share an edge.
    pair_count = count[sharing]
    pair_point = np.repeat(sharing, pair_count)
    rank = np.arange(pair_count.sum()) - np.repeat(np.cumsum(pair_count) - pair_count, pair_count)
    pair_target = order[np.repeat(first[sharing], pair_count) + rank]
    along = np.abs(points.offset_m[pair_point] - targets.offset_m[pair_target])
    np.minimum.at(
        distance, pair_point, along + points.snap_m[pair_point] + targets.snap_m[pair_target]
    )
    return distance
