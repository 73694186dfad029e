"""Records no importer can keep are refused with a 4xx naming them, and nothing is written.

Done when: GeoJSON nested beyond reason and features that are not objects fail as
ImportFailed naming the record (and the field where there is one), never as a server error.
"""

import json

import pytest
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
