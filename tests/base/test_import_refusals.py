"""Records no importer can keep are refused with a 4xx naming them, and nothing is written.

Done when: GeoJSON nested beyond reason, features that are not objects, NaN and Infinity
anywhere in a record (JSON has neither) and numbers or text no column can hold fail as ImportFailed
naming the record (and the field where there is one), never as a server error.
"""

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
from conftest import row_counts

from huizhili.base.importers import import_file
from huizhili.errors import ImportFailed
from huizhili.storage.engine import transaction

POINT = {"type": "Feature", "properties": {"name": "A"}, "geometry": {"type": "Point", "coordinates": [121.4, 31.2]}}
DEEP = "[" * 100_000 + "]" * 100_000


def refused(sessions, path, target="facility", **options) -> ImportFailed:
    """The failure of importing ``path`` in one transaction, having checked it wrote nothing."""
    constants = {"kind": "park"} if target == "facility" else {}
    before = row_counts(sessions)
    with pytest.raises(ImportFailed) as failure, transaction(sessions) as session:
        import_file(session, path, target, constants=constants, **options)
    assert row_counts(sessions) == before
    return failure.value


def collection(path, *features: str):
    """A FeatureCollection whose features are given as JSON text, written as is."""
    path.write_text('{"type": "FeatureCollection", "features": [' + ",".join(features) + "]}")
    return path


@pytest.mark.parametrize(
    ("feature", "detail"),
    [
        ('{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": ' + DEEP + "}}", "nested too deeply"),
        ('{"type": "Feature", "properties": {"a": ' + DEEP + '}, "geometry": null}', "nested too deeply"),
        ('{"type": "Feature", "properties": {"a": ' + "[" * 40 + "]" * 40 + '}, "geometry": {"type": "Point", "coordinates": [121.4, 31.2]}}', "properties.a[0][0]"),
        ('"a string"', "is not a GeoJSON Feature object"),
        ('{"type": "Feature", "properties": ["x"], "geometry": null}', "properties must be an object"),
        ('{"type": "Feature", "properties": {"n": ' + "1" * 5000 + '}, "geometry": null}', "cannot be read"),
    ],
    ids=["deep-coordinates", "deep-properties", "nested-properties", "string-feature", "list-properties", "huge-integer"],
)
def test_a_geojson_feature_that_cannot_be_kept_is_refused_naming_it(sessions, tmp_path, feature, detail):
    path = collection(tmp_path / "odd.geojson", json.dumps(POINT), json.dumps(POINT), feature)
    failure = refused(sessions, path)
    assert failure.record == "feature 3"
    assert "odd.geojson: feature 3" in str(failure) and detail in str(failure)


@pytest.mark.parametrize(
    ("feature", "field"),
    [
        ({**POINT, "properties": {"name": "B", "level": float("nan")}}, "properties.level is NaN"),
        ({**POINT, "properties": {"tags": {"height": [1, float("inf")]}}}, "properties.tags.height[1] is Infinity"),
        ({**POINT, "geometry": {"type": "Point", "coordinates": [float("nan"), 31.2]}}, "geometry.coordinates[0] is NaN"),
        ({**POINT, "geometry": {"type": "Point", "coordinates": [121.4, float("-inf")]}}, "geometry.coordinates[1] is -Infinity"),
    ],
    ids=["nan-property", "nested-infinity", "nan-longitude", "infinite-latitude"],
)
def test_nan_or_infinity_in_geojson_is_refused_naming_record_and_field(sessions, tmp_path, feature, field):
    path = collection(tmp_path / "odd.geojson", json.dumps(POINT), json.dumps(feature))
    failure = refused(sessions, path)
    assert failure.record == "feature 2"
    assert f"odd.geojson: feature 2: {field}" in str(failure)


@pytest.mark.parametrize("value", ["NaN", "inf", "1e999", "东经121"])
def test_a_csv_coordinate_that_is_not_a_finite_number_is_refused_naming_the_column(sessions, tmp_path, value):
    path = tmp_path / "points.csv"
    path.write_text(f"name,经度,纬度\nA,121.4,31.2\nB,121.5,{value}\n", encoding="utf-8")
    failure = refused(sessions, path, mapping={"lon": "经度", "lat": "纬度"})
    assert failure.record == "line 3"
    assert f"points.csv: line 3 has no valid coordinate in 纬度 ({value!r})" in str(failure)


@pytest.mark.parametrize("floors", ["inf", "-Infinity", "3000000000"])
def test_a_whole_number_no_column_can_hold_is_refused_naming_the_field(sessions, tmp_path, floors):
    path = tmp_path / "blocks.csv"
    path.write_text(f"name,floors,lon,lat\nA,6,121.4,31.2\nB,{floors},121.5,31.2\n", encoding="utf-8")
    failure = refused(sessions, path, "building")
    assert failure.record == "line 3"
    assert "blocks.csv: line 3: floors must be a whole number" in str(failure)


def test_infinity_in_a_geopackage_field_is_refused_but_an_empty_one_is_not(sessions, tmp_path):
    path = tmp_path / "parks.gpkg"
    wkb = shapely.to_wkb(shapely.points([(121.4, 31.2), (121.5, 31.2)]))
    pyogrio.raw.write(path, wkb, [np.array([np.nan, np.inf])], ["area_ha"], geometry_type="Point", crs="EPSG:4326")
    failure = refused(sessions, path)
    assert failure.record == "feature 2"
    assert "parks.gpkg: feature 2: area_ha is Infinity" in str(failure)


def test_a_geopackage_point_at_infinity_is_refused_naming_it(sessions, tmp_path):
    path = tmp_path / "parks.gpkg"
    wkb = shapely.to_wkb(shapely.points([(121.4, 31.2), (np.inf, 31.2)]))
    pyogrio.raw.write(path, wkb, [np.array(["A", "B"], dtype=object)], ["name"], geometry_type="Point", crs="EPSG:4326")
    failure = refused(sessions, path)
    assert failure.record == "feature 2"
    assert "parks.gpkg: feature 2: geometry has coordinates that are NaN or Infinity" in str(failure)


def test_an_empty_geometry_is_reported_not_blamed_on_the_coordinate_system(sessions, tmp_path):
    empty = {**POINT, "geometry": {"type": "Point", "coordinates": []}}
    path = collection(tmp_path / "odd.geojson", json.dumps(POINT), json.dumps(empty))
    with transaction(sessions) as session:
        report = import_file(session, path, "facility", constants={"kind": "park"})
    assert (report.counts, report.rejected) == ({"facilities": 1}, [{"record": "feature 2", "reason": "empty geometry"}])


def test_a_geojson_that_is_not_utf8_is_refused(sessions, tmp_path):
    path = tmp_path / "parks.geojson"
    path.write_bytes(json.dumps({"type": "FeatureCollection", "features": [POINT | {"properties": {"name": "徐家汇公园"}}]}, ensure_ascii=False).encode("gbk"))
    failure = refused(sessions, path)
    assert str(failure).startswith("parks.geojson: not UTF-8 text (")


def test_text_longer_than_its_column_is_refused_naming_the_field(sessions, tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text(f"code,sensor_kind,lon,lat\nPM-1,pm25,121.4,31.2\n{'X' * 65},pm25,121.5,31.2\n", encoding="utf-8")
    failure = refused(sessions, path, "device")
    assert failure.record == "line 3"
    assert "sensors.csv: line 3: code has 65 characters; at most 64 fit" in str(failure)


def test_an_area_file_sent_under_a_long_name_imports_on_every_backend(sessions, tmp_path):
    path = collection(tmp_path / "streets.geojson", json.dumps(
        {"type": "Feature", "properties": {"code": "310104014", "name": "徐家汇街道", "level": "street"},
         "geometry": shapely.geometry.mapping(shapely.box(121.43, 31.18, 121.45, 31.20))}))
    with transaction(sessions) as session:
        report = import_file(session, path, "area", file_name=f"{'街道边界' * 60}.geojson")
    assert report.counts == {"areas": 1}
