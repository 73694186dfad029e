"""The walk network (步行网络): the 15-minute life circle, the citizen's finder, siting.

Build a :class:`WalkGraph` once from the stored walk ways, snap homes and facilities to its
edges, then ask for walking distances in metres.
"""

from huizhili.network.distances import (
    distances_from_point,
    nearest_facility_distance,
    nearest_k,
    node_distances,
)
from huizhili.network.isochrone import isochrone
from huizhili.network.siting import coverage_matrix, greedy_max_coverage
from huizhili.network.walkgraph import Snapped, WalkGraph

__all__ = [
    "Snapped",
    "WalkGraph",
    "coverage_matrix",
    "distances_from_point",
    "greedy_max_coverage",
    "isochrone",
    "nearest_facility_distance",
    "nearest_k",
    "node_distances",
]
