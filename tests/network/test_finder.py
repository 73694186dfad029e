"""The citizen's nearest-service finder: datums, walking order, live status, estimates."""

import threading

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.importers import import_file
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.base.status import update_status
from huizhili.network.finder import NetworkCache, nearest_services, warm_up
from huizhili.network.loading import load_walk_graph
from huizhili.network.walkgraph import WalkGraph
from huizhili.policy import scope_for
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.storage.models import Building, Facility, WalkWay
from huizhili.storage.versions import versions

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


@pytest.fixture
def xuhui_without_streets(xuhui):
    """The Xuhui demo with its streets taken out: no walk network anywhere."""
    with transaction(xuhui) as session:
        session.execute(sa.delete(WalkWay))
    return xuhui


def test_the_finder_walks_xuhuis_real_streets_from_xujiahui(xuhui, cache):
    with xuhui() as session:
        found = nearest_services(session, cache, 121.4375, 31.1960, "health_centre", 3)
    first = found["results"][0]
    assert found["method"] == "network"
    assert first["name"] == "徐汇区徐家汇街道社区卫生服务中心" and first["estimated"] is False
    assert all(r["walking_distance_m"] > r["straight_line_m"] for r in found["results"])
    assert np.diff([r["walking_distance_m"] for r in found["results"]]).min() >= 0


def test_without_a_walk_network_results_are_estimated(xuhui_without_streets, cache):
    with xuhui_without_streets() as session:
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


def test_without_a_network_the_reachable_area_is_a_circle_around_the_point(xuhui_without_streets, cache):
    import pyproj

    from huizhili.network.finder import reachable_area

    with xuhui_without_streets() as session:
        feature = reachable_area(session, cache, 121.43771, 31.19618, 10)
    ring = shapely.geometry.shape(feature["geometry"]).exterior.coords
    distances = [pyproj.Geod(ellps="WGS84").inv(121.43771, 31.19618, x, y)[2] for x, y in ring]
    radius = 10 * 60 * 1.0 / 1.3
    assert feature["properties"]["method"] == "estimated"
    assert max(abs(d - radius) for d in distances) < 2.0


HERE = (24.938, 60.166)
"""A point in central Helsinki; the test's sampling point starts here and moves about 1.4 km away."""


def sampling_point_at(sessions, tmp_path, lon, lat):
    """Import (or re-import: same source, same id) the one sampling point (a kind Helsinki has none of)."""
    path = tmp_path / "sampling.csv"
    path.write_text(f"id,name,lon,lat\n1,采样点,{lon},{lat}\n")
    with transaction(sessions) as session:
        import_file(session, path, "facility", constants={"kind": "sampling_point"})


def test_a_moved_facility_is_answered_at_its_new_place_on_the_next_request_in_every_worker(helsinki, tmp_path):
    workers = [NetworkCache(tmp_path / "cache") for _ in range(2)]  # two server processes, one cache folder

    def walked(cache):
        with helsinki() as session:
            found = nearest_services(session, cache, *HERE, "sampling_point", 1)
        assert found["method"] == "network"
        return found["results"][0]["walking_distance_m"]

    sampling_point_at(helsinki, tmp_path, *HERE)
    assert all(walked(cache) < 30 for cache in workers)
    sampling_point_at(helsinki, tmp_path, 24.951, 60.177)  # SQLite gives the new row the old id: count and max id agree
    assert all(walked(cache) > 1300 for cache in workers), "a worker answered from before the move"


def test_access_points_always_belong_to_the_graph_they_were_snapped_to(helsinki, tmp_path):
    """Threads asking while the network changes never get points snapped to another graph."""
    cache = NetworkCache(tmp_path / "cache")
    problems = []

    def ask():
        for _ in range(15):
            with helsinki() as session:
                graph, _, snapped = cache.graph_and_points(session, "pharmacy")
            if graph is not None and snapped is not None and int(snapped.edge.max()) >= graph.n_edges:
                problems.append("an edge index beyond the graph")

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for asker in askers:
        asker.start()
    for n in range(5):
        with transaction(helsinki) as session:
            session.execute(sa.delete(WalkWay).where(WalkWay.id == session.scalar(sa.select(sa.func.max(WalkWay.id)))))
        sampling_point_at(helsinki, tmp_path, HERE[0] + n * 1e-4, HERE[1])
    for asker in askers:
        asker.join(60)
    assert problems == []


def test_a_cache_file_is_never_seen_half_written(helsinki, tmp_path, monkeypatch):
    def crash_halfway(self, path):
        path.write_bytes(b"PK\x03\x04 half a file")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(WalkGraph, "save", crash_halfway)
    with helsinki() as session, pytest.raises(OSError):
        load_walk_graph(session, tmp_path / "cache", versions(session)["walk_ways"])
    assert list((tmp_path / "cache").iterdir()) == [], "neither a half file under the real name nor a leftover"
    monkeypatch.undo()
    with helsinki() as session:
        assert load_walk_graph(session, tmp_path / "cache", versions(session)["walk_ways"]).n_edges > 0


def test_warm_up_readies_the_walk_network_and_every_kind_with_facilities(helsinki, cache):
    with helsinki() as session:
        kinds = warm_up(session, cache)
        present = set(session.scalars(sa.select(Facility.kind).distinct()))
    assert kinds == [kind for kind in FACILITY_KINDS if kind in present] and "pharmacy" in kinds
    assert len(list(cache.cache_dir.glob("walkgraph-*.npz"))) == 1


def test_without_a_walk_network_there_is_nothing_to_warm_up(xuhui_without_streets, cache):
    with xuhui_without_streets() as session:
        assert warm_up(session, cache) == []
