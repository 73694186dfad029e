import json

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.assign import PolygonLocator, assign_areas
from huizhili.base.demo import XUHUI
from huizhili.base.importers import import_file
from huizhili.storage.engine import transaction
from huizhili.storage.models import Building, Facility


@pytest.fixture(scope="module")
def streets():
    features = json.loads((XUHUI / "streets.geojson").read_text())["features"]
    return [shape(f["geometry"]) for f in features]


def reference_locate(polygons, x, y):
    """The obvious answer: the first polygon that intersects each point."""
    found = np.full(len(x), -1)
    for i, (px, py) in enumerate(zip(x, y, strict=True)):
        for j, polygon in enumerate(polygons):
            if polygon.intersects(shapely.Point(px, py)):
                found[i] = j
                break
    return found


def test_locator_agrees_with_a_plain_loop_on_random_points(streets):
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = shapely.total_bounds(np.array(streets))
    x, y = rng.uniform(x0 - 0.01, x1 + 0.01, 5000), rng.uniform(y0 - 0.01, y1 + 0.01, 5000)
    found = PolygonLocator(streets).locate(x, y)
    assert np.array_equal(found, reference_locate(streets, x, y))
    assert 0 < (found >= 0).mean() < 1


def test_locator_finds_points_on_boundary_vertices(streets):
    vertices = shapely.get_coordinates(streets[0].exterior)[:50]
    found = PolygonLocator(streets).locate(vertices[:, 0], vertices[:, 1])
    assert (found >= 0).all()
    assert np.array_equal(found, reference_locate(streets, vertices[:, 0], vertices[:, 1]))


def test_locator_handles_holes_and_no_polygons():
    ring = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(4, 4), (6, 4), (6, 6), (4, 6)]])
    assert PolygonLocator([ring]).locate([5, 1, 11], [5, 1, 5]).tolist() == [-1, 0, -1]
    assert PolygonLocator([]).locate([1.0], [1.0]).tolist() == [-1]


def test_assign_areas_fills_street_from_boundary_and_district_from_parent(sessions):
    street = shapely.box(121.40, 31.10, 121.42, 31.12)
    with sessions.begin() as session:
        upsert_areas(
            session,
            [
                AreaSpec(code="310104", name="徐汇区", level="district"),
                AreaSpec(code="310104999", name="测试街道", level="street", parent_code="310104", geometry=street),
            ],
        )
        session.add_all(
            [
                Facility(kind="park", name="inside", geometry=shapely.Point(121.41, 31.11), lon=121.41, lat=31.11, properties={}),
                Facility(kind="park", name="outside", geometry=shapely.Point(121.50, 31.11), lon=121.50, lat=31.11, properties={}),
            ]
        )
        session.flush()
        assign_areas(session)
    with sessions() as session:
        rows = session.execute(sa.select(Facility.name, Facility.street_code, Facility.district_code).order_by(Facility.name)).all()
    assert rows == [("inside", "310104999", "310104"), ("outside", None, None)]


def test_areas_imported_from_a_file_take_over_the_records_of_an_extract(helsinki, tmp_path):
    west = shapely.box(24.930, 60.160, 24.944, 60.180)
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(west), "properties": properties}
                for properties in ({"code": "900000", "name": "Helsinki west", "level": "district"},
                                   {"code": "900000001", "name": "Kamppi", "level": "street", "parent_code": "900000"})]
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    with transaction(helsinki) as session:
        import_file(session, path, "area")
    with helsinki() as session:
        rows = session.execute(sa.select(Building.lon, Building.lat, Building.district_code, Building.street_code)).all()
    inside = shapely.intersects_xy(west, [r.lon for r in rows], [r.lat for r in rows])
    placed = {(bool(held), r.district_code, r.street_code) for held, r in zip(inside, rows, strict=True)}
    assert placed == {(True, "900000", "900000001"), (False, "osm-helsinki", None)}
