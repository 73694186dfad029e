"""The citizen's nearest-service finder: datums, walking order, live status, estimates."""

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.status import update_status
from huizhili.network.finder import NetworkCache, nearest_services
from huizhili.policy import scope_for
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.storage.models import Building, Facility

EVERYTHING = scope_for(UNRESTRICTED)

# Published pair (github.com/googollee/eviltransform python/test.py): WGS84 → GCJ-02, Shanghai.
WGS84_POINT, GCJ02_POINT = (121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)


@pytest.fixture
def cache(tmp_path):
    return NetworkCache(tmp_path / "cache")


def test_gcj02_input_is_converted_before_searching(xuhui, cache):
    with transaction(xuhui) as session:
        session.add(Facility(kind="sampling_point", name="测试采样点", geometry=shapely.Point(*WGS84_POINT),
                             lon=WGS84_POINT[0], lat=WGS84_POINT[1], properties={}))
    with xuhui() as session:
        found = nearest_services(session, cache, *GCJ02_POINT, "sampling_point", 1, "gcj02")
        naive = nearest_services(session, cache, *GCJ02_POINT, "sampling_point", 1, "wgs84")
    assert found["origin"]["lon"] == pytest.approx(WGS84_POINT[0], abs=1e-5)
    assert found["results"][0]["straight_line_m"] < 1.0
    assert naive["results"][0]["straight_line_m"] > 400  # read as WGS84 it is half a kilometre off


def test_results_are_ranked_by_walking_not_straight_line_distance(helsinki, cache):
    with helsinki() as session:
        homes = session.execute(sa.select(Building.lon, Building.lat).order_by(Building.id)).all()
        reordered = 0
        for lon, lat in homes[::4]:
            found = nearest_services(session, cache, lon, lat, "pharmacy", 3)
            walks = [r["walking_distance_m"] for r in found["results"]]
            lines = [r["straight_line_m"] for r in found["results"]]
            assert found["method"] == "network"
            assert walks == sorted(walks)
            assert all(walk >= line - 1 for walk, line in zip(walks, lines, strict=True))
            reordered += lines != sorted(lines)
    assert reordered > 0  # somewhere the straight-line order is not the walking order


def test_a_status_change_is_seen_at_once_and_closed_ones_come_last(helsinki, cache):
    here = (24.9414, 60.1710)
    with helsinki() as session:
        first = nearest_services(session, cache, *here, "pharmacy", 3)["results"]
    with transaction(helsinki) as session:
        update_status(session, first[0]["id"], is_open=False, note="盘点", scope=EVERYTHING)
    with helsinki() as session:
        after = nearest_services(session, cache, *here, "pharmacy", 6)["results"]
    assert [r["id"] for r in after[:2]] == [r["id"] for r in first[1:3]]
    assert after[-1]["id"] == first[0]["id"] and len(after) == 6
    assert after[-1]["closed"] and after[-1]["notice"] == "closed now" and after[-1]["status_note"] == "盘点"


def test_without_a_walk_network_results_are_estimated(xuhui, cache):
    with xuhui() as session:
        found = nearest_services(session, cache, 121.4375, 31.1960, "health_centre", 3)
    assert found["method"] == "estimated"
    first = found["results"][0]
    assert first["name"] == "徐汇区徐家汇街道社区卫生服务中心" and first["estimated"]
    assert first["walking_distance_m"] == pytest.approx(first["straight_line_m"] * 1.3, abs=0.2)
    assert np.diff([r["walking_distance_m"] for r in found["results"]]).min() >= 0


@pytest.mark.parametrize(("kind", "k", "lon", "message"), [("spaceport", 3, 121.4, "unknown facility kind"), ("park", 0, 121.4, "k must be"), ("park", 3, 500.0, "not a longitude")])
def test_bad_questions_get_clear_errors(xuhui, cache, kind, k, lon, message):
    from huizhili.errors import ValidationError

    with xuhui() as session, pytest.raises(ValidationError, match=message):
        nearest_services(session, cache, lon, 31.2, kind, k)


def test_a_point_that_converts_out_of_range_is_refused(xuhui, cache):
    from huizhili.errors import ValidationError
    from huizhili.network.finder import reachable_area

    with xuhui() as session, pytest.raises(ValidationError, match="outside the range"):
        reachable_area(session, cache, -180, -90, 15, "bd09")


def test_without_a_network_the_reachable_area_is_a_circle_around_the_point(xuhui, cache):
    import pyproj

    from huizhili.network.finder import reachable_area

    with xuhui() as session:
        feature = reachable_area(session, cache, 121.43771, 31.19618, 10)
    ring = shapely.geometry.shape(feature["geometry"]).exterior.coords
    distances = [pyproj.Geod(ellps="WGS84").inv(121.43771, 31.19618, x, y)[2] for x, y in ring]
    radius = 10 * 60 * 1.0 / 1.3
    assert feature["properties"]["method"] == "estimated"
    assert max(abs(d - radius) for d in distances) < 2.0
