"""Where to put new facilities: greedy maximum coverage of demand within a walking distance."""

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from huizhili.errors import ValidationError
from huizhili.network._search import covered_items
from huizhili.network.distances import nearest_facility_distance
from huizhili.network.walkgraph import Snapped, WalkGraph


def coverage_matrix(
    graph: WalkGraph, demand: Snapped, candidates: ArrayLike, threshold_m: float
) -> sp.csr_array:
    """Which demand points each candidate site reaches within ``threshold_m`` of walking.

    One bounded search per candidate, each touching only the network within
    ``threshold_m`` of it: about ``C * R log R`` for ``C`` candidates reaching ``R`` nodes
    each, and memory for the ``C * D_r`` covered pairs (``D_r`` demand points per reach).

    Parameters
    ----------
    graph
        The walk network.
    demand
        Demand points (homes, buildings) snapped to ``graph``.
    candidates
        Node indexes of candidate sites.
    threshold_m
        Walking distance within which a site serves a demand point, metres (the demand
        point's snap distance included).

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, one row per candidate, one column per demand point.

    Raises
    ------
    ValidationError
        If a candidate is not a node of ``graph`` or a demand point not on one of its edges.
    """
    nodes = np.asarray(candidates, dtype=np.int64).reshape(-1)
    if len(nodes) and (nodes.min() < 0 or nodes.max() >= graph.n_nodes):
        message = "candidates must be node indexes of the graph"
        raise ValidationError(message)
    graph.check_snapped(demand)
    ends = np.concatenate((graph.edge_u[demand.edge], graph.edge_v[demand.edge]))
    rest = graph.edge_length[demand.edge] - demand.offset_m
    cost = np.concatenate((demand.offset_m, rest)) + np.tile(demand.snap_m, 2)
    order = np.argsort(ends, kind="stable")
    item_start = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=graph.n_nodes), out=item_start[1:])
    items = np.tile(np.arange(len(demand), dtype=np.int64), 2)[order]
    adjacency = graph.adjacency
    start, covered = covered_items(
        adjacency.indptr,
        adjacency.indices,
        adjacency.data,
        nodes,
        float(threshold_m),
        item_start,
        items,
        cost[order],
        len(demand),
    )
    values = np.ones(len(covered), dtype=bool)
    return sp.csr_array((values, covered, start), shape=(len(nodes), len(demand)))


def greedy_max_coverage(
    graph: WalkGraph,
    demand: Snapped,
    weights: ArrayLike,
    existing: Snapped,
    candidates: ArrayLike,
    threshold_m: float,
    k: int,
) -> list[tuple[int, float]]:
    """Choose up to ``k`` new sites, each time the candidate serving most unserved demand.

    Demand within ``threshold_m`` of an existing facility is already served and does not
    count. Greedy choice is the classic maximum-coverage heuristic: it reaches at least
    ``1 - 1/e`` (63 %) of the best possible coverage. After :func:`coverage_matrix`, each
    round costs one sparse product over the covered pairs (``k * nnz`` in all).

    Parameters
    ----------
    graph
        The walk network.
    demand
        Demand points snapped to ``graph``.
    weights
        Weight of each demand point (its population), non-negative.
    existing
        Existing facilities of the kind, snapped to ``graph``.
    candidates
        Node indexes where a new facility may go.
    threshold_m
        Walking distance within which a facility serves a demand point, metres.
    k
        Most sites to choose.

    Returns
    -------
    list of (int, float)
        Chosen candidate node and the weight it newly serves, in the order chosen; shorter
        than ``k`` when no candidate serves anything more.

    Raises
    ------
    ValidationError
        If ``weights`` does not match ``demand``, or a weight is negative or not finite.
    """
    unserved = np.asarray(weights, dtype=np.float64).copy()
    if unserved.shape != (len(demand),) or not np.all(np.isfinite(unserved) & (unserved >= 0)):
        message = "weights must be one finite, non-negative number per demand point"
        raise ValidationError(message)
    served = nearest_facility_distance(graph, demand, existing, threshold_m) <= threshold_m
    unserved[served] = 0.0
    nodes = np.asarray(candidates, dtype=np.int64)
    cover = coverage_matrix(graph, demand, nodes, threshold_m)
    chosen: list[tuple[int, float]] = []
    while len(chosen) < k and len(nodes):
        gain = cover @ unserved
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen.append((int(nodes[best]), float(gain[best])))
        unserved[cover.indices[cover.indptr[best] : cover.indptr[best + 1]]] = 0.0
    return chosen
