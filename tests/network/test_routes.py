"""Walking routes: the line drawn from the citizen to a facility, read back from the search that measured it."""

import numpy as np
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from helsinki_network import walk_graph

from huizhili.errors import ValidationError
from huizhili.network import Snapped, WalkGraph
from huizhili.network.distances import metres_to, node_distances, walks_from_point
from huizhili.network.finder import NetworkCache, nearest_services
from huizhili.network.routes import walking_route
from huizhili.storage.engine import transaction
from huizhili.storage.models import Facility, WalkWay

GEOD = pyproj.Geod(ellps="WGS84")


def geodesic_m(line: shapely.LineString) -> float:
    return float(GEOD.line_length(*np.asarray(line.coords).T))


@pytest.fixture(scope="module")
def graph() -> WalkGraph:
    return walk_graph()


@pytest.fixture
def line() -> WalkGraph:
    """0 - 1 - 2 along a parallel, 111 m apart, and apart from them 3 - 4."""
    lon, lat = [24.940, 24.942, 24.944, 24.950, 24.952], [60.17] * 5
    u, v = [0, 1, 3], [1, 2, 4]
    length = GEOD.inv([lon[i] for i in u], [lat[i] for i in u], [lon[i] for i in v], [lat[i] for i in v])[2]
    return WalkGraph.from_arrays(lon, lat, u, v, length)


def test_routes_run_along_edges_from_the_start_to_the_end_as_long_as_the_distance(graph):
    rng = np.random.default_rng(19)
    nodes = rng.choice(graph.n_nodes, 60, replace=False)
    lon, lat = graph.lon[nodes] + rng.normal(0, 0.0003, 60), graph.lat[nodes] + rng.normal(0, 0.00015, 60)
    edges = {(int(u), int(v)) for u, v in zip(graph.edge_u, graph.edge_v, strict=True)}
    measured = 0
    for start in range(0, 60, 6):
        walks = walks_from_point(graph, graph.snap(lon[start], lat[start]), 1500.0)
        targets = graph.snap(lon, lat)
        distance = metres_to(graph, walks, targets)
        for end in np.flatnonzero(distance <= 1500.0):
            route = walking_route(graph, walks, (lon[start], lat[start]), targets.take([end]), (lon[end], lat[end]))
            coords = np.asarray(route.coords)
            assert coords[0].tolist() == [lon[start], lat[start]] and coords[-1].tolist() == [lon[end], lat[end]]
            assert geodesic_m(route) == pytest.approx(distance[end], abs=0.5)
            # Between the two places on the network, every step is an edge of it.
            at_node = [np.flatnonzero((graph.lon == x) & (graph.lat == y)) for x, y in coords[1:-1]]
            path = [int(found[0]) for found in at_node if len(found)]
            assert all((min(a, b), max(a, b)) in edges for a, b in zip(path, path[1:], strict=False))
            measured += 1
    assert measured > 100


def test_one_search_serves_distances_and_routes_and_agrees_with_the_life_circles(graph):
    point = graph.snap(24.9402, 60.1699)
    assert np.array_equal(walks_from_point(graph, point, 800.0).metres, node_distances(graph, point, 800.0))


def test_a_route_on_the_start_s_own_edge_goes_straight_along_it(line):
    walks = walks_from_point(line, line.snap(24.9405, 60.1701), 1000.0)
    target = line.snap(24.9415, 60.1699)
    route = walking_route(line, walks, (24.9405, 60.1701), target, (24.9415, 60.1699))
    assert len(route.coords) == 4  # start, its place on the edge, the target's place, the target
    assert metres_to(line, walks, target)[0] == pytest.approx(geodesic_m(route), abs=0.5)


def test_a_point_the_walk_cannot_reach_has_no_route(line):
    walks = walks_from_point(line, line.snap(24.941, 60.17), 1000.0)
    apart = line.snap(24.951, 60.17)  # on 3 - 4, not joined to 0 - 1 - 2
    assert metres_to(line, walks, apart)[0] == np.inf
    assert walking_route(line, walks, (24.941, 60.17), apart, (24.951, 60.17)) is None


def test_a_point_beyond_the_search_has_no_route(line):
    walks = walks_from_point(line, line.snap(24.940, 60.17), 150.0)
    far = line.snap(24.944, 60.17)  # node 2, 222 m away
    assert walking_route(line, walks, (24.940, 60.17), far, (24.944, 60.17)) is None


def test_a_route_goes_to_one_point(line):
    walks = walks_from_point(line, Snapped([0], [0.0], [0.0]), 100.0)
    with pytest.raises(ValidationError, match="one point, not 2"):
        walking_route(line, walks, (24.94, 60.17), Snapped([0, 1], [0.0, 0.0], [0.0, 0.0]), (24.94, 60.17))


def test_the_finder_gives_each_result_its_route_when_asked(helsinki, tmp_path):
    cache = NetworkCache(tmp_path / "cache")
    here = (24.9414, 60.1710)
    with helsinki() as session:
        plain = nearest_services(session, cache, *here, "pharmacy", 5)
        found = nearest_services(session, cache, *here, "pharmacy", 5, routes=True)
        shapes = dict(session.execute(sa.select(Facility.id, Facility.geometry).where(Facility.kind == "pharmacy")).all())
    assert [r["route"] for r in plain["results"]] == [None] * 5
    assert [r["id"] for r in found["results"]] == [r["id"] for r in plain["results"]]
    for result in found["results"]:
        route = shapely.geometry.shape(result["route"])
        assert route.geom_type == "LineString"
        assert route.coords[0] == pytest.approx((found["origin"]["lon"], found["origin"]["lat"]), abs=1e-7)
        assert shapely.Point(route.coords[-1]).distance(shapes[result["id"]]) < 1e-6  # at one of its access points
        assert geodesic_m(route) == pytest.approx(result["walking_distance_m"], abs=1.0)


def test_without_a_walk_network_there_is_no_route(xuhui, tmp_path):
    with transaction(xuhui) as session:
        session.execute(sa.delete(WalkWay))
    with xuhui() as session:
        found = nearest_services(session, NetworkCache(tmp_path / "cache"), 121.4375, 31.1960, "health_centre", 3, routes=True)
    assert found["method"] == "estimated" and [r["route"] for r in found["results"]] == [None] * 3
