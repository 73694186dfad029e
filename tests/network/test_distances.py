from collections import defaultdict
from itertools import pairwise

import networkx as nx
import numpy as np
import pyproj
import pytest
from helsinki_network import walk_graph, walk_ways
from scipy.sparse.csgraph import dijkstra

from huizhili.errors import ValidationError
from huizhili.network import (
    Snapped,
    WalkGraph,
    distances_from_point,
    nearest_facility_distance,
    nearest_k,
    node_distances,
)

GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def helsinki() -> WalkGraph:
    return walk_graph()


@pytest.fixture
def line() -> WalkGraph:
    """0 -100 m- 1 -100 m- 2, and apart from them 3 -100 m- 4."""
    lon, lat = [24.940, 24.942, 24.944, 24.950, 24.952], [60.17] * 5
    return WalkGraph.from_arrays(lon, lat, [0, 1, 3], [1, 2, 4], [100.0, 100.0, 100.0])


def reference_network(node_ids, coords) -> nx.Graph:
    """The walk network done plainly: consecutive nodes of ways, geodesic lengths, shortest kept."""
    network = nx.Graph()
    for ids, xy in zip(node_ids, coords, strict=True):
        for (a, (alon, alat)), (b, (blon, blat)) in pairwise(zip(ids, xy, strict=True)):
            network.add_node(a, lonlat=(alon, alat))
            network.add_node(b, lonlat=(blon, blat))
            length = GEOD.inv(alon, alat, blon, blat)[2]
            if a != b and (not network.has_edge(a, b) or network[a][b]["length"] > length):
                network.add_edge(a, b, length=length)
    return network


def hang_points(network: nx.Graph, graph: WalkGraph, snapped: Snapped, lon, lat, names) -> None:
    """Split each point's edge at its snapped place and join the point there, in geodesic metres."""
    place_lon, place_lat = graph.location(snapped)
    on_edge = defaultdict(list)
    for i, name in enumerate(names):
        on_edge[snapped.edge[i]].append((name, place_lon[i], place_lat[i], lon[i], lat[i]))
    for edge, points in on_edge.items():
        a, b = graph.node_id[graph.edge_u[edge]], graph.node_id[graph.edge_v[edge]]
        alon, alat = network.nodes[a]["lonlat"]
        points.sort(key=lambda p: GEOD.inv(alon, alat, p[1], p[2])[2])
        network.remove_edge(a, b)
        chain = (
            [(a, alon, alat)]
            + [(("on", p[0]), p[1], p[2]) for p in points]
            + [(b, *network.nodes[b]["lonlat"])]
        )
        for (n1, lon1, lat1), (n2, lon2, lat2) in pairwise(chain):
            network.add_edge(n1, n2, length=GEOD.inv(lon1, lat1, lon2, lat2)[2])
        for name, plon, plat, olon, olat in points:
            network.add_edge(name, ("on", name), length=GEOD.inv(olon, olat, plon, plat)[2])


def points_near_network(graph: WalkGraph, rng: np.random.Generator, count: int):
    """Random points within about 30 m of random nodes."""
    nodes = rng.choice(graph.n_nodes, count, replace=False)
    return graph.lon[nodes] + rng.normal(0, 0.0003, count), graph.lat[nodes] + rng.normal(
        0, 0.00015, count
    )


def test_nearest_facility_distance_agrees_with_networkx_on_split_edges(helsinki):
    rng = np.random.default_rng(2024)
    origin_lon, origin_lat = points_near_network(helsinki, rng, 50)
    facility_lon, facility_lat = points_near_network(helsinki, rng, 12)
    origins, facilities = (
        helsinki.snap(origin_lon, origin_lat),
        helsinki.snap(facility_lon, facility_lat),
    )
    cutoff = 1000.0

    found = nearest_facility_distance(helsinki, origins, facilities, cutoff)

    network = reference_network(*walk_ways())
    origin_names, facility_names = (
        [("origin", i) for i in range(50)],
        [("facility", j) for j in range(12)],
    )
    both = Snapped(
        *(
            np.concatenate((getattr(origins, f), getattr(facilities, f)))
            for f in ("edge", "offset_m", "snap_m")
        )
    )
    lon, lat = (
        np.concatenate((origin_lon, facility_lon)),
        np.concatenate((origin_lat, facility_lat)),
    )
    hang_points(network, helsinki, both, lon, lat, origin_names + facility_names)
    reach = nx.multi_source_dijkstra_path_length(
        network, facility_names, cutoff=cutoff, weight="length"
    )
    expected = np.array([reach.get(name, np.inf) for name in origin_names])
    assert np.array_equal(np.isinf(found), np.isinf(expected))
    assert 10 < np.isfinite(found).sum() < 50
    reached = np.isfinite(expected)
    assert np.abs(found[reached] - expected[reached]).max() < 0.5


def test_node_distances_agree_with_networkx_from_a_point(helsinki):
    point = helsinki.snap(24.9402, 60.1699)
    network = reference_network(*walk_ways())
    hang_points(network, helsinki, point, [24.9402], [60.1699], ["point"])
    reach = nx.single_source_dijkstra_path_length(network, "point", cutoff=800.0, weight="length")

    found = distances_from_point(helsinki, point, 800.0)

    expected = np.array([reach.get(node, np.inf) for node in helsinki.node_id.tolist()])
    assert np.array_equal(np.isinf(found), np.isinf(expected))
    reached = np.isfinite(expected)
    assert np.abs(found[reached] - expected[reached]).max() < 0.5


@pytest.mark.parametrize("cutoff", [150.0, 400.0, np.inf])
def test_node_distances_match_scipy_when_facilities_span_many_tiles(cutoff):
    rng = np.random.default_rng(5)
    side = 60  # a 60 x 60 grid of ~45 m blocks, lengths varied, one street in ten missing
    ids = np.arange(side * side).reshape(side, side)
    u = np.concatenate((ids[:, :-1].ravel(), ids[:-1, :].ravel()))
    v = np.concatenate((ids[:, 1:].ravel(), ids[1:, :].ravel()))
    keep = rng.random(len(u)) > 0.1
    lon, lat = np.meshgrid(24.9 + 0.0008 * np.arange(side), 60.1 + 0.0004 * np.arange(side))
    grid = WalkGraph.from_arrays(
        lon.ravel(), lat.ravel(), u[keep], v[keep], rng.uniform(30, 60, keep.sum())
    )
    nodes = rng.choice(grid.n_nodes, 40, replace=False)
    edge = np.array([np.flatnonzero((grid.edge_u == n) | (grid.edge_v == n))[0] for n in nodes])
    at_nodes = Snapped(
        edge, np.where(grid.edge_u[edge] == nodes, 0.0, grid.edge_length[edge]), np.zeros(40)
    )

    found = node_distances(grid, at_nodes, cutoff)

    expected = dijkstra(grid.adjacency, indices=nodes, min_only=True, limit=cutoff)
    assert np.array_equal(np.isinf(found), np.isinf(expected))
    assert np.allclose(
        found[np.isfinite(found)], expected[np.isfinite(expected)], rtol=0, atol=1e-9
    )


def test_origin_on_the_facility_edge_walks_straight_to_it(line):
    facility = Snapped([0], [30.0], [5.0])
    origin = Snapped([0], [80.0], [2.0])
    assert nearest_facility_distance(line, origin, facility, 1000.0).tolist() == [57.0]


def test_facility_enters_the_network_at_both_ends_of_its_edge(line):
    facility = Snapped([0], [30.0], [5.0])
    assert node_distances(line, facility, 1000.0).tolist() == [35.0, 75.0, 175.0, np.inf, np.inf]


def test_origin_in_another_component_is_unreachable(line):
    facility, origin = Snapped([0], [30.0], [5.0]), Snapped([2], [50.0], [0.0])
    assert nearest_facility_distance(line, origin, facility, 1000.0).tolist() == [np.inf]


def test_distances_beyond_the_cutoff_are_infinite(line):
    facility, origin = Snapped([0], [30.0], [5.0]), Snapped([1], [50.0], [0.0])
    found = [
        nearest_facility_distance(line, origin, facility, cutoff)[0]
        for cutoff in (120.0, 125.0, 130.0)
    ]
    assert found == [np.inf, 125.0, 125.0]


def test_no_facilities_leave_everything_unreachable(line):
    found = nearest_facility_distance(
        line, Snapped([0, 1], [0.0, 0.0], [0.0, 0.0]), Snapped([], [], []), 500.0
    )
    assert found.tolist() == [np.inf, np.inf]


def test_nearest_k_lists_facilities_nearest_first(line):
    point = Snapped([1], [10.0], [1.0])
    facilities = Snapped([0, 1, 1, 2, 0], [50.0, 90.0, 0.0, 20.0, 0.0], [0.0, 3.0, 0.0, 0.0, 0.0])
    index, distance = nearest_k(line, point, facilities, 3, 1000.0)
    assert (index.tolist(), distance.tolist()) == ([2, 0, 1], [11.0, 61.0, 84.0])


def test_nearest_k_leaves_out_facilities_beyond_the_cutoff(line):
    point = Snapped([1], [10.0], [1.0])
    facilities = Snapped([0, 1, 2], [50.0, 90.0, 20.0], [0.0, 3.0, 0.0])
    index, distance = nearest_k(line, point, facilities, 5, 70.0)
    assert (index.tolist(), distance.tolist()) == ([0], [61.0])


@pytest.mark.parametrize("cutoff", [-1.0, float("nan")])
def test_negative_or_missing_cutoff_is_refused(line, cutoff):
    with pytest.raises(ValidationError, match="cutoff_m"):
        node_distances(line, Snapped([0], [0.0], [0.0]), cutoff)


def test_distances_from_point_take_one_point(line):
    with pytest.raises(ValidationError, match="one point, not 2"):
        distances_from_point(line, Snapped([0, 1], [0.0, 0.0], [0.0, 0.0]), 100.0)
