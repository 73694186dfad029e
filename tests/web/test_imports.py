"""File imports over HTTP: a refused upload answers 4xx naming the record and the file as sent.

Done when: no message shows where the server keeps uploads; the import report is kept under
the name the file was sent with.
"""

import json
import re

import pytest
import sqlalchemy as sa
from conftest import row_counts

from huizhili.storage.models import ImportRun


@pytest.fixture
def admin(role_headers):
    return role_headers["district_admin"]


@pytest.mark.parametrize(
    ("name", "content", "target"),
    [
        ("parks.gpkg", b"not a geopackage", "facility"),
        ("blocks.zip", b"not a zip", "building"),
        ("broken.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "prop', "facility"),
        ("xuhui.osm.pbf", b"not osm", "osm"),
    ],
    ids=["geopackage", "zipped-shapefile", "geojson", "osm"],
)
def test_a_refused_upload_names_the_file_as_sent_never_the_server_path(client, settings, sessions, admin, name, content, target):
    before = row_counts(sessions)
    response = client.post("/api/imports", files={"file": (name, content)}, data={"target": target, "constants": json.dumps({"kind": "park"} if target == "facility" else {})}, headers=admin)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{name}: ")
    assert str(settings.data_dir) not in detail and "uploads" not in detail and not re.search(r"[0-9a-f]{32}", detail)
    assert row_counts(sessions) == before


def test_the_kept_report_names_the_upload_as_sent(client, sessions, admin):
    upload = {"file": ("toilets.csv", b"id,name,lon,lat\n1,A,121.43,31.19\n", "text/csv")}
    response = client.post("/api/imports", files=upload, data={"target": "facility", "constants": json.dumps({"kind": "toilet"})}, headers=admin)
    assert response.status_code == 201, response.text
    with sessions() as session:
        latest = session.scalars(sa.select(ImportRun.source).order_by(ImportRun.id.desc())).first()
    assert latest == "toilets.csv"
