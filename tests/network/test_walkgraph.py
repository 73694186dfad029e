import numpy as np
import pyproj
import pytest
import shapely
from helsinki_network import walk_graph, walk_ways
from scipy.sparse.csgraph import connected_components

from huizhili.errors import ValidationError
from huizhili.network import Snapped, WalkGraph

GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def helsinki() -> WalkGraph:
    return walk_graph()


def test_ways_join_at_shared_nodes_without_self_loops_or_parallel_edges():
    a, b, c, d = (24.940, 60.170), (24.941, 60.170), (24.942, 60.170), (24.942, 60.171)
    graph = WalkGraph.from_ways(
        [[30, 10, 20], [20, 40, 40], [10, 20]],
        [np.array([c, a, b]), np.array([b, d, d]), np.array([a, b])],
    )
    ends = set(
        zip(graph.node_id[graph.edge_u].tolist(), graph.node_id[graph.edge_v].tolist(), strict=True)
    )
    assert graph.node_id.tolist() == [10, 20, 30, 40]
    assert ends == {(10, 20), (10, 30), (20, 40)}
    lon, lat = graph.lon[graph.edge_u], graph.lat[graph.edge_u]
    lon2, lat2 = graph.lon[graph.edge_v], graph.lat[graph.edge_v]
    assert graph.edge_length == pytest.approx(GEOD.inv(lon, lat, lon2, lat2)[2], rel=1e-12)


def test_way_with_more_ids_than_coordinates_is_refused():
    with pytest.raises(ValidationError, match="way 1: 3 node ids but 2 coordinates"):
        WalkGraph.from_ways([[1, 2], [2, 3, 4]], [np.zeros((2, 2)), np.zeros((2, 2))])


def test_parallel_edges_keep_the_shortest():
    graph = WalkGraph.from_arrays(
        [0.0, 0.001], [0.0, 0.0], [0, 1, 0], [1, 0, 0], [120.0, 110.0, 5.0]
    )
    assert (graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_length.tolist()) == (
        [0],
        [1],
        [110.0],
    )


def test_snap_matches_shapely_projection_on_the_nearest_of_all_edges(helsinki):
    rng = np.random.default_rng(11)
    lon = rng.uniform(helsinki.lon.min(), helsinki.lon.max(), 100)
    lat = rng.uniform(helsinki.lat.min(), helsinki.lat.max(), 100)
    snapped = helsinki.snap(lon, lat)
    x, y = helsinki.to_metres(lon, lat)
    u, v = helsinki.edge_u, helsinki.edge_v
    edges = shapely.linestrings(
        np.stack(
            (
                np.column_stack((helsinki.x[u], helsinki.y[u])),
                np.column_stack((helsinki.x[v], helsinki.y[v])),
            ),
            axis=1,
        )
    )
    for i, point in enumerate(shapely.points(x, y)):
        distance = shapely.distance(edges, point)
        nearest = edges[snapped.edge[i]]
        along = nearest.project(point)
        assert snapped.snap_m[i] == pytest.approx(distance.min(), abs=1e-6)
        assert snapped.snap_m[i] == pytest.approx(
            nearest.interpolate(along).distance(point), abs=1e-6
        )
        length = helsinki.edge_length[snapped.edge[i]]
        assert snapped.offset_m[i] == pytest.approx(along / nearest.length * length, abs=1e-6)


def test_location_is_the_snapped_place_in_wgs84(helsinki):
    lon, lat = np.array([24.9375, 24.9431]), np.array([60.1690, 60.1655])
    snapped = helsinki.snap(lon, lat)
    place_lon, place_lat = helsinki.location(snapped)
    _, _, gap = GEOD.inv(lon, lat, place_lon, place_lat)
    assert gap == pytest.approx(snapped.snap_m, abs=1e-3)


def test_metres_and_degrees_convert_back_and_forth(helsinki):
    lon, lat = np.array([24.92, 24.95]), np.array([60.16, 60.18])
    back = helsinki.to_lonlat(*helsinki.to_metres(lon, lat))
    assert np.allclose(back, (lon, lat), rtol=0, atol=1e-9)


def test_saved_graph_loads_the_same(helsinki, tmp_path):
    path = tmp_path / "walk.npz"
    helsinki.save(path)
    loaded = WalkGraph.load(path)
    for name in ("node_id", "lon", "lat", "x", "y", "edge_u", "edge_v", "edge_length"):
        assert np.array_equal(getattr(loaded, name), getattr(helsinki, name)), name
    assert (loaded.adjacency != helsinki.adjacency).nnz == 0


def test_loading_another_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, values=np.arange(3))
    with pytest.raises(ValidationError, match="not a walk-network cache"):
        WalkGraph.load(path)


def test_largest_component_drops_islands(helsinki):
    count, label = connected_components(helsinki.adjacency, directed=False)
    main = helsinki.largest_component()
    assert count > 1
    assert main.n_nodes == np.bincount(label).max()
    assert connected_components(main.adjacency, directed=False)[0] == 1
    assert set(main.node_id.tolist()) <= set(helsinki.node_id.tolist())


def test_points_from_another_graph_are_refused(helsinki):
    with pytest.raises(ValidationError, match="another walk network"):
        helsinki.check_snapped(Snapped([helsinki.n_edges], [0.0], [0.0]))


def test_graph_holds_every_walkable_way():
    node_ids, _ = walk_ways()
    assert walk_graph().n_nodes == len({i for way in node_ids for i in way})
