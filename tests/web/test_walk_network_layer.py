"""The walk network as a map layer (``GET /api/network/ways``): the dashboard's streets, from the platform's own data."""

import shapely
import sqlalchemy as sa

from huizhili.network import ways
from huizhili.storage.models import WalkWay

XUJIAHUI_BOX = (121.425, 31.185, 121.445, 31.200)


def test_every_walk_way_is_a_line_with_its_kind_and_name(client, xuhui):
    with xuhui() as session:
        stored = session.scalar(sa.select(sa.func.count()).select_from(WalkWay))
        longest = max(session.scalars(sa.select(WalkWay)), key=lambda way: len(way.node_ids))
    response = client.get("/api/network/ways")  # public, like the map it comes from
    assert response.status_code == 200
    body = response.json()
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"]) == stored > 2000
    feature = next(f for f in body["features"] if f["id"] == longest.id)
    assert feature["properties"] == {"highway": longest.highway, "name": longest.name}
    line = shapely.geometry.shape(feature["geometry"])
    assert line.geom_type in {"LineString", "MultiLineString"} and line.hausdorff_distance(longest.geometry) < 1e-6


def test_a_bounding_box_keeps_the_ways_crossing_it(client, xuhui):
    inside = client.get("/api/network/ways", params={"bbox": ",".join(map(str, XUJIAHUI_BOX))}).json()["features"]
    box = shapely.box(*XUJIAHUI_BOX)
    with xuhui() as session:
        expected = {way.id for way in session.scalars(sa.select(WalkWay)) if way.geometry.intersects(box)}
    assert {f["id"] for f in inside} == expected and 0 < len(expected) < 2000
    refused = client.get("/api/network/ways", params={"bbox": "121.5,31.2,121.4,31.1"})
    assert refused.status_code == 422 and "out of order" in refused.text


def test_a_network_too_large_for_one_answer_asks_for_a_smaller_box(client, xuhui, monkeypatch):
    monkeypatch.setattr(ways, "WAYS_MAX", 100)
    response = client.get("/api/network/ways")
    assert response.status_code == 422
    assert "more than 100 walk ways" in response.text and "请缩小 bbox" in response.text
