"""Where to build next: the k sites that serve the most residents not yet served.

For one kind and walking distance, greedy maximum coverage, each site with the residents it adds.
"""

import math
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from sqlalchemy.orm import Session

from huizhili.base.areas import area_geometry, find_area
from huizhili.base.geodesy import xy_to_metres
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.errors import ValidationError
from huizhili.network.distances import nearest_facility_distance
from huizhili.network.lifecircle import (
    DETOUR_FACTOR,
    MAX_SNAP_M,
    NETWORK_SHARE,
    Origins,
    choose_origins,
    estimated_distances,
    reporting_areas,
)
from huizhili.network.loading import access_points
from huizhili.network.siting import greedy_max_coverage
from huizhili.network.walkgraph import WalkGraph
from huizhili.policy import Scope
from huizhili.storage.models import Area

MAX_CANDIDATES = 5000
"""Candidate sites considered at most (network nodes, evenly thinned beyond this)."""


def propose_sites(
    session: Session,
    graph: WalkGraph | None,
    *,
    kind: str,
    threshold_m: float,
    k: int,
    area: str | None = None,
    origins: str = "auto",
    scope: Scope,
) -> dict[str, Any]:
    """Propose up to ``k`` new sites for ``kind`` that cover the most unserved residents within ``threshold_m``.

    Candidates are walk-network nodes inside the area (with a network), or the grid/building
    origins themselves (without one, straight line × detour factor: ``estimated``).

    Returns
    -------
    dict
        ``method``, ``population``, ``covered_before`` and ``sites``: each with lon/lat,
        ``adds`` (residents, or grid points, newly within reach) and ``coverage_after``.

    Raises
    ------
    ValidationError
        For k outside 1–50, a non-positive threshold, or an area without origins.
    """
    target = check_siting(session, scope, kind=kind, threshold_m=threshold_m, k=k, area=area)
    demand = choose_origins(session, target, reporting_areas(session, target), origins)
    existing = access_points(session, kind)
    total = float(demand.weight.sum())
    if graph is not None and len(demand) and np.mean(graph.snap(demand.lon, demand.lat).snap_m <= MAX_SNAP_M) < NETWORK_SHARE:
        graph = None  # the network does not cover this area
    if graph is not None:
        method, sites, served = "network", *_on_network(session, graph, demand, existing, target, threshold_m, k)
    else:
        method, sites, served = "estimated", *_estimated(demand, existing, threshold_m, k)
    covered, proposals = served, []
    for lon, lat, adds in sites:
        covered += adds
        proposals.append({"lon": round(lon, 7), "lat": round(lat, 7), "adds": adds, "coverage_after": covered / total if total else None})
    return {
        "kind": kind,
        "threshold_m": threshold_m,
        "method": method,
        "origins": demand.source,
        "origin_rule": demand.rule,
        "population": total,
        "covered_before": served,
        "coverage_before": served / total if total else None,
        "sites": proposals,
    }


def check_siting(session: Session, scope: Scope, *, kind: str, threshold_m: float, k: int, area: str | None) -> Area | None:
    """The area a site proposal is for, and its parameters checked, before any work is done.

    Raises
    ------
    ValidationError
        For k outside 1–50, a non-positive threshold, an unknown kind, or no area named by
        someone who sees only some.
    NotFoundError
        If the area does not exist or lies outside the scope.
    """
    if not 1 <= k <= 50 or not (math.isfinite(threshold_m) and threshold_m > 0):
        message = "k must be 1–50 and the threshold a positive number of metres"
        raise ValidationError(message)
    if kind not in FACILITY_KINDS:
        message = f"unknown facility kind {kind!r}"
        raise ValidationError(message)
    if area is None and scope.limited_to_areas:
        message = "name one of your areas to plan for"
        raise ValidationError(message)
    return find_area(session, area, scope) if area is not None else None


def _on_network(session: Session, graph: WalkGraph, demand: Origins, existing: Any, area: Any, threshold_m: float, k: int) -> tuple[list[tuple[float, float, float]], float]:
    snapped = graph.snap(demand.lon, demand.lat)
    facilities = graph.snap(existing.lon, existing.lat) if len(existing) else snapped.take([])
    boundary = area_geometry(session, area) if area is not None else None
    nodes = np.arange(graph.n_nodes)
    if boundary is not None:
        nodes = nodes[shapely.intersects_xy(boundary, graph.lon, graph.lat)]
    if len(nodes) > MAX_CANDIDATES:
        nodes = nodes[np.linspace(0, len(nodes) - 1, MAX_CANDIDATES).astype(int)]
    served = float(demand.weight[nearest_facility_distance(graph, snapped, facilities, threshold_m) <= threshold_m].sum())
    chosen = greedy_max_coverage(graph, snapped, demand.weight, facilities, nodes, threshold_m, k)
    return [(float(graph.lon[node]), float(graph.lat[node]), adds) for node, adds in chosen], served


def _estimated(demand: Origins, existing: Any, threshold_m: float, k: int) -> tuple[list[tuple[float, float, float]], float]:
    """Greedy maximum coverage with straight lines × detour factor, candidates at the origins."""
    unserved = demand.weight.copy()
    unserved[estimated_distances(demand.lon, demand.lat, existing, threshold_m) <= threshold_m] = 0.0
    served = float(demand.weight.sum() - unserved.sum())
    x, y = xy_to_metres(demand.lon, demand.lat, float(demand.lon.mean()), float(demand.lat.mean()))
    tree = cKDTree(np.column_stack((x, y)))
    reach = tree.query_ball_point(np.column_stack((x, y)), r=threshold_m / DETOUR_FACTOR)
    sites = []
    for _ in range(k):
        gains = np.array([unserved[members].sum() for members in reach])
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        sites.append((float(demand.lon[best]), float(demand.lat[best]), float(gains[best])))
        unserved[reach[best]] = 0.0
    return sites, served
