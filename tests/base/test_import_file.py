"""GeoJSON, GeoPackage, Shapefile and CSV import: mappings, CRS, area checks, repair.

Done when: Hangzhou's 844 sampling points import with the 3 far-away ones reported; broken
files fail naming the record and write nothing; CSV, GCJ-02 CSV, GeoPackage and Shapefile
import with the right fields and positions; bad polygons are repaired or refused and listed.
"""

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
import sqlalchemy as sa
from conftest import DATA, SHARED, row_counts
from pyproj import Geod, Transformer

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.crs import to_wgs84
from huizhili.base.importers import import_file
from huizhili.errors import ImportFailed, ValidationError
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Building, Facility, ImportRun

POINTS = DATA / "hangzhou" / "hangzhou-sampling-points.geojson"
BOUNDARY = SHARED / "osm" / "hangzhou-boundary-gcj02.geojson"
POINT_FIELDS = {
    "name": "名称",
    "address": "详情地址",
    "phone": "联系电话",
    "opening_hours": "工作时间",
    "id": "ID",
}
FAR_AWAY = [
    ("feature 118 (id 16589)", "临江花园北门公园处前空地"),  # Shenyang
    ("feature 175 (id 16291)", "街道广场正中心"),  # Taizhou
    ("feature 597 (id 17075)", "紫科社区采样点"),  # Shenzhen
]


def rows(sessions, *columns) -> list[tuple]:
    """Values of these columns, in insertion order."""
    with sessions() as session:
        return [
            tuple(r) for r in session.execute(sa.select(*columns).order_by(columns[0].table.c.id))
        ]


def imported(sessions, path, target, **options):
    """Import a file the way the CLI does: one transaction, rolled back on error."""
    with transaction(sessions) as session:
        return import_file(session, path, target, **options)


def import_points(sessions, path=POINTS, **options):
    kind = {"kind": "sampling_point"}
    return imported(sessions, path, "facility", mapping=POINT_FIELDS, constants=kind, **options)


def hangzhou_features() -> list[dict]:
    return json.loads(POINTS.read_text(encoding="utf-8"))["features"]


def write_geojson(path, features):
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    )
    return path


def geodesic_km(boundary, lon: float, lat: float) -> float:
    """Geodesic km from a point to a polygon's outline (sampled every ~100 m), WGS84 ellipsoid."""
    outline = np.array(shapely.segmentize(boundary.exterior, 0.001).coords)
    _, _, metres = Geod(ellps="WGS84").inv(
        np.full(len(outline), lon), np.full(len(outline), lat), outline[:, 0], outline[:, 1]
    )
    return float(metres.min()) / 1000


@pytest.fixture
def hangzhou_city(sessions):
    """The Hangzhou city boundary (GCJ-02 on disk), from ../shared, where present."""
    if not BOUNDARY.is_file():
        pytest.skip(f"{BOUNDARY} is absent (the Hangzhou boundary is not shipped: no licence)")
    city = {"level": "city"}
    imported(
        sessions, BOUNDARY, "area", mapping={"code": "adcode"}, constants=city, source_crs="gcj02"
    )
    return sessions


@pytest.fixture
def hangzhou_points(sessions):
    """The sampling points imported with no area check."""
    import_points(sessions)
    return sessions


def test_points_outside_hangzhou_are_reported(hangzhou_city):
    report = import_points(hangzhou_city, within="杭州市")
    assert [(far["record"], far["name"], far["area"]) for far in report.outside] == [
        (*far, "杭州市") for far in FAR_AWAY
    ]


def test_outside_distances_are_geodesic_distances_to_the_boundary(hangzhou_city):
    report = import_points(hangzhou_city, within="杭州市")
    with hangzhou_city() as session:
        boundary = session.scalar(sa.select(Area.geometry).where(Area.code == "330100"))
    for far in report.outside:
        assert 150 < far["distance_km"] < 1500
        assert far["distance_km"] == pytest.approx(
            geodesic_km(boundary, far["lon"], far["lat"]), abs=1.0
        )


def test_points_inside_hangzhou_are_imported(hangzhou_city):
    report = import_points(hangzhou_city, within="杭州市")
    assert report.counts == {"facilities": 841}
    assert len(rows(hangzhou_city, Facility.id)) == 841


def test_the_report_is_kept_in_import_runs(hangzhou_city):
    report = import_points(hangzhou_city, within="杭州市")
    with hangzhou_city() as session:
        run = session.get(ImportRun, report.run_id)
    assert run.counts == {"facilities": 841}
    assert run.report["outside"] == report.outside


def test_points_far_from_a_boundary_drawn_around_the_others_are_reported(sessions):
    lon_lat = np.array([f["geometry"]["coordinates"] for f in hangzhou_features()])
    central = lon_lat[((lon_lat >= (119, 29)) & (lon_lat <= (121, 31))).all(axis=1)]
    # ~60 km around the central points: takes in 淳安县, west of lon 119
    around = shapely.MultiPoint(central).convex_hull.buffer(0.6)
    with transaction(sessions) as session:
        upsert_areas(
            session, [AreaSpec(code="330100", name="杭州市", level="city", geometry=around)]
        )
    report = import_points(sessions, within="330100")
    assert [(far["record"], far["name"]) for far in report.outside] == FAR_AWAY


@pytest.mark.parametrize("sort_keys", [False, True], ids=["keys-as-published", "keys-sorted"])
def test_a_geojson_cut_inside_a_feature_fails_naming_it_and_writes_nothing(
    hangzhou_points, tmp_path, sort_keys
):
    texts = [
        json.dumps(f, ensure_ascii=False, indent=2, sort_keys=sort_keys)
        for f in hangzhou_features()
    ]
    cut = tmp_path / "cut.geojson"
    cut.write_text(
        '{"type": "FeatureCollection", "features": ['
        + ",".join(texts[:399])
        + ","
        + texts[399][: len(texts[399]) // 2]
    )
    before = row_counts(hangzhou_points)
    with pytest.raises(ImportFailed, match="feature 400") as failure:
        import_points(hangzhou_points, cut)
    assert failure.value.record == "feature 400"
    assert row_counts(hangzhou_points) == before


def test_a_malformed_geometry_fails_naming_the_feature(hangzhou_points, tmp_path):
    features = hangzhou_features()
    features[4]["geometry"]["coordinates"] = "abc"
    before = row_counts(hangzhou_points)
    with pytest.raises(
        ImportFailed, match=r"feature 5 \(id 17210\) has a malformed geometry"
    ) as failure:
        import_points(hangzhou_points, write_geojson(tmp_path / "bad.geojson", features))
    assert failure.value.record == "feature 5 (id 17210)"
    assert row_counts(hangzhou_points) == before


def test_a_csv_row_without_a_numeric_longitude_fails_naming_the_line(sessions, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("name,lon,lat\nA,121.40,31.10\nB,121.41,31.11\nC,abc,31.12\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="line 4 has no valid coordinate") as failure:
        imported(sessions, path, "facility", constants={"kind": "park"})
    assert failure.value.record == "line 4"
    assert rows(sessions, Facility.id) == []


def test_a_csv_with_an_unknown_facility_kind_fails(sessions, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(
        "name,kind,lon,lat\nA,park,121.40,31.10\nB,spaceport,121.41,31.11\n", encoding="utf-8"
    )
    with pytest.raises(ImportFailed, match="line 3 has unknown facility kind 'spaceport'"):
        imported(sessions, path, "facility")
    assert rows(sessions, Facility.id) == []


@pytest.mark.parametrize(
    ("target", "mapping"),
    [("spaceport", {}), ("facility", {"colour": "名称"})],
    ids=["target", "mapping-field"],
)
def test_an_unknown_target_or_field_is_a_validation_error(session, target, mapping):
    with pytest.raises(ValidationError):
        import_file(session, POINTS, target, mapping=mapping, constants={"kind": "sampling_point"})


def test_a_csv_with_mapped_columns_imports_fields_and_positions(sessions, tmp_path):
    path = tmp_path / "canteens.csv"
    path.write_text(
        "编号,名称,电话,经度,纬度\n7,徐汇长者食堂,021-1234,121.437,31.188\n8,枫林助餐点,,121.455,31.186\n",
        encoding="utf-8",
    )
    mapping = {"name": "名称", "phone": "电话", "lon": "经度", "lat": "纬度", "id": "编号"}
    imported(sessions, path, "facility", mapping=mapping, constants={"kind": "elderly_canteen"})
    columns = (Facility.source_ref, Facility.kind, Facility.name, Facility.phone)
    assert rows(sessions, *columns, Facility.lon, Facility.lat) == [
        ("canteens:7", "elderly_canteen", "徐汇长者食堂", "021-1234", 121.437, 31.188),
        ("canteens:8", "elderly_canteen", "枫林助餐点", None, 121.455, 31.186),
    ]


LAND_USE = "lon,lat,landuse_type,osm_id\n121.43,31.19,park,way_1\n121.44,31.19,residential,way_2\n121.45,31.19,garden,way_3\n"


def test_only_records_with_the_values_asked_for_are_imported(sessions, tmp_path):
    path = tmp_path / "landuse.csv"
    path.write_text(LAND_USE, encoding="utf-8")
    report = imported(sessions, path, "facility", mapping={"id": "osm_id"}, constants={"kind": "park"},
                      only={"landuse_type": ["park", "garden"]})
    assert rows(sessions, Facility.source_ref, Facility.kind) == [("landuse:way_1", "park"), ("landuse:way_3", "park")]
    assert "1 records left out: only those with landuse_type one of garden, park were imported" in report.notes


def test_choosing_records_by_a_column_the_file_lacks_fails_naming_the_record(sessions, tmp_path):
    path = tmp_path / "landuse.csv"
    path.write_text(LAND_USE, encoding="utf-8")
    before = row_counts(sessions)
    with pytest.raises(ImportFailed, match="landuse.csv: line 2 has no column 'land_use' to choose records by"):
        imported(sessions, path, "facility", constants={"kind": "park"}, only={"land_use": ["park"]})
    assert row_counts(sessions) == before


def test_a_gcj02_csv_is_converted_to_wgs84(sessions, tmp_path):
    gcj = np.array([[121.4372, 31.1885], [120.1428, 30.3421]])
    path = tmp_path / "gcj.csv"
    path.write_text(
        "name,lng,lat\n" + "".join(f"P{i},{lon},{lat}\n" for i, (lon, lat) in enumerate(gcj)),
        encoding="utf-8",
    )
    imported(sessions, path, "facility", constants={"kind": "market"}, source_crs="gcj02")
    stored = np.array(rows(sessions, Facility.lon, Facility.lat))
    expected = np.column_stack(to_wgs84(gcj[:, 0], gcj[:, 1], "gcj02"))
    np.testing.assert_allclose(stored, expected, rtol=0, atol=1e-9)
    assert np.abs(stored - gcj).min() > 0.001  # GCJ-02 is offset by hundreds of metres


def test_a_geopackage_imports_points_with_fields(sessions, tmp_path):
    parks = [("徐家汇公园", 121.43, 31.19), ("桂林公园", 121.45, 31.17), ("康健园", 121.44, 31.14)]
    path = tmp_path / "parks.gpkg"
    wkb = shapely.to_wkb(shapely.points([(lon, lat) for _, lon, lat in parks]))
    titles = np.array([name for name, _, _ in parks], dtype=object)
    pyogrio.raw.write(path, wkb, [titles], ["title"], geometry_type="Point", crs="EPSG:4326")
    report = imported(
        sessions, path, "facility", mapping={"name": "title"}, constants={"kind": "park"}
    )
    assert report.counts == {"facilities": 3}
    assert rows(sessions, Facility.name, Facility.lon, Facility.lat) == parks


def test_a_projected_shapefile_imports_buildings_with_fields(sessions, tmp_path):
    footprints = [
        shapely.box(350000, 3450000, 350030, 3450020),
        shapely.box(350100, 3450100, 350140, 3450150),
    ]
    path = tmp_path / "blocks.shp"
    fields = [np.array(["A栋", "B栋"], dtype=object), np.array([6, 18], dtype=np.int32)]
    wkb = shapely.to_wkb(footprints)
    pyogrio.raw.write(
        path, wkb, fields, ["name", "floors"], geometry_type="Polygon", crs="EPSG:32651"
    )
    report = imported(sessions, path, "building", source_crs="EPSG:32651")
    stored = rows(sessions, Building.name, Building.floors, Building.geometry)
    utm_to_wgs84 = Transformer.from_crs("EPSG:32651", "EPSG:4326", always_xy=True)
    expected = [
        shapely.transform(f, lambda xy: np.column_stack(utm_to_wgs84.transform(xy[:, 0], xy[:, 1])))
        for f in footprints
    ]
    assert report.counts == {"buildings": 2}
    assert [(name, floors) for name, floors, _ in stored] == [("A栋", 6), ("B栋", 18)]
    distances = [shapely.hausdorff_distance(s[2], e) for s, e in zip(stored, expected, strict=True)]
    assert max(distances) < 1e-9


@pytest.fixture
def odd_buildings(tmp_path):
    """A good footprint, a bow-tie and one that collapses to a line."""
    shapes = [
        shapely.box(121.400, 31.100, 121.401, 31.101),
        shapely.Polygon([(121.41, 31.10), (121.42, 31.11), (121.42, 31.10), (121.41, 31.11)]),
        shapely.Polygon([(121.43, 31.10), (121.44, 31.10), (121.45, 31.10)]),
    ]
    geometries = [shapely.geometry.mapping(shape) for shape in shapes]
    features = [
        {"type": "Feature", "properties": {"name": f"B{i}"}, "geometry": g}
        for i, g in enumerate(geometries, 1)
    ]
    return write_geojson(tmp_path / "odd.geojson", features)


def test_a_self_intersecting_building_is_repaired_and_listed(sessions, odd_buildings):
    report = imported(sessions, odd_buildings, "building")
    bow_tie = dict(rows(sessions, Building.name, Building.geometry))["B2"]
    assert [(r["record"], r["reason"]) for r in report.repaired] == [
        ("feature 2", "Self-intersection[121.415 31.105]")
    ]
    assert bow_tie.is_valid and bow_tie.area == pytest.approx(0.0001 / 2)


def test_a_building_that_collapses_is_refused_with_the_reason(sessions, odd_buildings):
    report = imported(sessions, odd_buildings, "building")
    assert [r["record"] for r in report.rejected] == ["feature 3"]
    assert report.rejected[0]["reason"].startswith("invalid geometry: ")
    assert rows(sessions, Building.name) == [("B1",), ("B2",)]


def test_a_file_with_a_long_name_imports_on_every_backend(sessions, tmp_path):
    path = tmp_path / f"hangzhou-sampling-points-{'2022-12-01-' * 4}city-portal-export.csv"
    path.write_text("名称,经度,纬度\n上塘街道未来社区,120.1429,30.3421\n", encoding="utf-8")
    report = imported(sessions, path, "facility", constants={"kind": "sampling_point"})
    assert report.counts == {"facilities": 1}


def test_importing_the_same_file_again_replaces_its_records(hangzhou_points):
    before = row_counts(hangzhou_points)
    import_points(hangzhou_points)
    after = row_counts(hangzhou_points)
    assert after["facilities"] == before["facilities"] == 844
    assert after["import_runs"] == before["import_runs"] + 1


def test_a_shapefile_in_its_declared_crs_is_converted_without_being_told(tmp_path, sessions):
    import numpy as np
    import pyogrio.raw
    import pyproj

    from huizhili.storage.models import Building

    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True).transform(121.437, 31.196)
    square = shapely.box(x, y, x + 20, y + 20)
    path = tmp_path / "utm.shp"
    pyogrio.raw.write(path, np.array([shapely.to_wkb(square)], dtype=object), [np.array(["楼"], dtype=object)],
                      fields=["name"], geometry_type="Polygon", crs="EPSG:32651", driver="ESRI Shapefile")
    with transaction(sessions) as session:
        import_file(session, path, "building")
    with sessions() as session:
        lon, lat = session.execute(sa.select(Building.lon, Building.lat)).one()
    assert abs(lon - 121.437) < 0.001 and abs(lat - 31.196) < 0.001


def test_coordinates_that_are_not_lon_lat_are_refused(tmp_path, sessions):
    path = tmp_path / "metres.csv"
    path.write_text("name,lon,lat\nA,350015,3450010\n", encoding="utf-8")
    with transaction(sessions) as session, pytest.raises(ImportFailed, match="not longitude/latitude") as error:
        import_file(session, path, "facility", constants={"kind": "park"})
    assert error.value.record == "line 2"
