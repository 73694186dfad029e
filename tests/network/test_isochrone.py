import numpy as np
import pyproj
import pytest
import shapely
from helsinki_network import walk_graph

from huizhili.errors import ValidationError
from huizhili.network import WalkGraph, distances_from_point, isochrone

GEOD = pyproj.Geod(ellps="WGS84")
START = (24.9402, 60.1699)


@pytest.fixture(scope="module")
def helsinki() -> WalkGraph:
    """The network as loaded for isochrones: islands dropped, so START lands on the streets."""
    return walk_graph().largest_component()


def test_isochrone_holds_what_is_reached_in_time_and_not_what_is_far(helsinki):
    reach = 5 * 60 * 1.2
    distance = distances_from_point(helsinki, helsinki.snap(*START), reach)
    _, _, crow = GEOD.inv(
        np.full(helsinki.n_nodes, START[0]),
        np.full(helsinki.n_nodes, START[1]),
        helsinki.lon,
        helsinki.lat,
    )

    area = isochrone(helsinki, *START, minutes=5, speed_m_per_s=1.2)

    reached, far = distance <= reach, crow > reach + 100
    assert area.geom_type == "Polygon"
    assert reached.sum() > 50 and far.sum() > 50
    assert shapely.contains_xy(area, helsinki.lon[reached], helsinki.lat[reached]).all()
    assert not shapely.intersects_xy(area, helsinki.lon[far], helsinki.lat[far]).any()


def test_isochrone_is_cut_along_an_edge_where_time_runs_out():
    # A straight street of ~200 m blocks; 5 minutes at 1 m/s end 100 m into the second block.
    lon, lat = 24.94 + 0.0036 * np.arange(4), np.full(4, 60.17)
    _, _, length = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    street = WalkGraph.from_arrays(lon, lat, [0, 1, 2], [1, 2, 3], length)
    metres = np.array([0.0, 280.0, 325.0, 360.0])  # along the street from node 0
    block = np.searchsorted(np.cumsum(length), metres, side="right")
    start = np.concatenate(([0.0], np.cumsum(length)))[block]
    x, y = street.xy_along(block, (metres - start) / length[block])

    area = isochrone(street, lon[0], lat[0], minutes=5, speed_m_per_s=1.0, buffer_m=20)

    assert shapely.contains_xy(area, *street.to_lonlat(x, y)).tolist() == [True, True, False, False]


def test_isochrone_from_too_far_off_the_network_is_empty(helsinki):
    assert isochrone(helsinki, 24.80, 60.10, minutes=1, speed_m_per_s=1.0).is_empty


def test_isochrone_refuses_a_standing_walker(helsinki):
    with pytest.raises(ValidationError, match="speed_m_per_s"):
        isochrone(helsinki, *START, minutes=5, speed_m_per_s=0)
