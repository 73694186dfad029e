"""File imports over HTTP: 202 and a job; a refused file fails its job naming the record and the file as sent.

Done when: no message shows where the server keeps uploads; the import report is kept under
the name the file was sent with; a job's upload is removed once the job has ended.
"""

import json
import re

import pytest
import sqlalchemy as sa
from conftest import row_counts
from waiting import job_ended

from huizhili.storage.models import Device, Facility, ImportRun


@pytest.fixture
def admin(role_headers):
    return role_headers["district_admin"]


@pytest.fixture
def upload(client, admin, worker):
    """Send a file to import and return its job once the worker has ended it."""
    def send(name, content, headers=admin, **fields):
        return job_ended(client, client.post("/api/imports", files={"file": (name, content)}, data=fields, headers=headers), headers)
    return send


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
def test_a_refused_upload_names_the_file_as_sent_never_the_server_path(upload, settings, sessions, name, content, target):
    before = row_counts(sessions)
    job = upload(name, content, target=target, constants=json.dumps({"kind": "park"} if target == "facility" else {}))
    assert job["state"] == "failed"
    detail = job["error"]["message"]
    assert detail.startswith(f"{name}: ")
    assert str(settings.data_dir) not in detail and "uploads" not in detail and not re.search(r"[0-9a-f]{32}", detail)
    assert row_counts(sessions) == before
    assert not any((settings.data_dir / "uploads").iterdir()), "the ended job's upload was left behind"


def test_the_kept_report_names_the_upload_as_sent(upload, sessions):
    job = upload("toilets.csv", b"id,name,lon,lat\n1,A,121.43,31.19\n", target="facility", constants=json.dumps({"kind": "toilet"}))
    assert (job["state"], job["result"]["counts"]) == ("succeeded", {"facilities": 1}), job
    with sessions() as session:
        latest = session.scalars(sa.select(ImportRun.source).order_by(ImportRun.id.desc())).first()
    assert latest == "toilets.csv"


def device_upload(upload, rows: str):
    return upload("sensors.csv", ("id,code,sensor_kind,owner_department,lon,lat\n" + rows).encode(), target="device")


def test_uploaded_devices_are_imported_and_replaced_by_the_next_upload(upload, sessions):
    first = device_upload(upload, "1,PM-101,pm25,生态环境局,121.437,31.192\n")
    again = device_upload(upload, "1,PM-101,pm10,生态环境局,121.437,31.192\n")
    assert (first["state"], first["result"]["counts"]) == ("succeeded", {"devices": 1})
    assert (again["state"], again["result"]["counts"]) == ("succeeded", {"devices": 1, "replaced_devices": 1})
    with sessions() as session:
        stored = session.execute(sa.select(Device.source_ref, Device.sensor_kind, Device.street_code).where(Device.code == "PM-101")).one()
    assert tuple(stored) == ("upload-admin-sensors:1", "pm10", "310104014")


def test_an_uploaded_device_code_already_in_use_is_refused_naming_the_record(upload, sessions):
    before = row_counts(sessions)
    job = device_upload(upload, "1,PM-101,pm25,生态环境局,121.437,31.192\n2,PM-XJH-1,pm25,生态环境局,121.438,31.193\n")
    assert (job["state"], job["error"]) == ("failed", {
        "message": "sensors.csv: line 3: device code 'PM-XJH-1' is already held by a device of another source",
        "record": "line 3",
    })
    assert row_counts(sessions) == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "the CSV is empty"),
        ("surrogate.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "\\ud800"},'
                              b' "geometry": {"type": "Point", "coordinates": [121.43, 31.19]}}]}', "lone surrogate"),
        ("nul.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"note": "a\\u0000b"},'
                        b' "geometry": {"type": "Point", "coordinates": [121.43, 31.19]}}]}', "NUL"),
    ],
    ids=["empty-csv", "lone-surrogate", "nul"],
)
def test_text_no_database_can_store_is_refused_naming_the_record(upload, sessions, name, content, expected):
    before = row_counts(sessions)
    job = upload(name, content, target="facility", constants=json.dumps({"kind": "park"}))
    assert job["state"] == "failed", job
    assert expected in job["error"]["message"]
    assert row_counts(sessions) == before


def test_a_facilitys_department_comes_with_its_import(upload, sessions):
    csv = "name,lon,lat,department\n徐家汇公园,121.4395,31.1972,绿化市容局\n".encode()
    job = upload("parks.csv", csv, target="facility", constants=json.dumps({"kind": "park"}),
                 mapping=json.dumps({"owner_department": "department"}))
    assert job["state"] == "succeeded", job
    with sessions() as session:
        assert session.scalar(sa.select(Facility.owner_department).where(Facility.name == "徐家汇公园")) == "绿化市容局"


def test_a_facility_of_an_unknown_department_is_refused_naming_the_record(upload, sessions):
    csv = "name,lon,lat,department\n徐家汇公园,121.4395,31.1972,绿化市容局\n衡山公园,121.4462,31.2046,绿化局\n".encode()
    before = row_counts(sessions)
    job = upload("parks.csv", csv, target="facility", constants=json.dumps({"kind": "park"}),
                 mapping=json.dumps({"owner_department": "department"}))
    assert job["state"] == "failed"
    assert job["error"]["message"].startswith("parks.csv: line 3: no department '绿化局'")
    assert job["error"]["record"] == "line 3"
    assert row_counts(sessions) == before


@pytest.mark.parametrize("text", ["\ud800", "a\x00b"], ids=["lone-surrogate", "nul"])
def test_a_json_body_with_unstorable_text_is_a_422_not_a_500(client, role_headers, text):
    admin = role_headers["district_admin"]
    for method, path, body in [("PATCH", "/api/facilities/1/status", {"note": text}),
                               ("POST", "/api/users", {"username": "someone", "role": "citizen", "display_name": text}),
                               ("POST", "/api/users/citizen/api-keys", {"name": text})]:
        response = client.request(method, path, content=json.dumps(body).encode(), headers={**admin, "Content-Type": "application/json"})
        assert response.status_code == 422, f"{method} {path}: {response.status_code} {response.text}"
