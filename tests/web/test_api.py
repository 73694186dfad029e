import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from waiting import job_ended

from huizhili.storage.models import Facility, ImportRun


@pytest.fixture
def demo_client(client, xuhui):
    return client


@pytest.fixture
def imported(demo_client, admin, worker):
    """Upload a file to import and return its job once the worker has ended it."""
    return lambda **request: job_ended(demo_client, demo_client.post("/api/imports", headers=admin, **request), admin)


@pytest.fixture
def admin(role_headers):
    return role_headers["district_admin"]


def test_area_summary_has_counts_per_kind_and_children(demo_client, admin):
    response = demo_client.get("/api/areas/310104/summary", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "徐汇区"
    assert body["health_centre"] == 12
    assert len(body["children"]) == 14


def test_citizens_read_the_districts_departments_by_name(demo_client):
    departments = demo_client.get("/api/departments").json()
    # The bureaus, an office for each of the 13 streets and the town, and one for each of the 313 committees but
    # the development zone's virtual community.
    assert len(departments) == 12 + 14 + 312
    assert {"code": "卫生健康委", "name": "徐汇区卫生健康委员会", "name_en": "Xuhui District Health Commission"} in departments
    assert {"code": "华泾镇", "name": "徐汇区华泾镇人民政府", "name_en": "华泾镇 town government"} in departments
    assert {"code": "徐家汇街道东塘居委会", "name": "徐汇区徐家汇街道东塘居民委员会",
            "name_en": "东塘 residents' committee, 徐家汇街道"} in departments


def test_area_by_name_is_a_geojson_feature_with_its_boundary(demo_client):
    body = demo_client.get("/api/areas/徐家汇街道").json()
    assert body["properties"]["code"] == "310104014"
    assert body["geometry"]["type"] == "Polygon"


def test_facilities_filter_by_kind_area_and_bbox(demo_client):
    by_kind = demo_client.get("/api/facilities", params={"kind": "health_centre"}).json()
    assert by_kind["numberMatched"] == 13
    in_street = demo_client.get("/api/facilities", params={"area": "310104014"}).json()
    assert {f["properties"]["street_code"] for f in in_street["features"]} == {"310104014"}
    xujiahui = demo_client.get("/api/facilities", params={"bbox": "121.430,31.190,121.440,31.200", "kind": "metro_station"}).json()
    names = {f["properties"]["name"] for f in xujiahui["features"]}
    assert "徐家汇" in names
    for feature in xujiahui["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 121.430 <= lon <= 121.440 and 31.190 <= lat <= 31.200


def test_pages_are_capped_and_stable(demo_client):
    first = demo_client.get("/api/areas", params={"kind": "committee", "limit": 1000}).json()
    assert first["numberMatched"] == 313
    assert first["numberReturned"] == 50  # the test settings cap pages at 50
    second = demo_client.get("/api/areas", params={"kind": "committee", "limit": 1000, "offset": 50}).json()
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/facilities?bbox=1,2,3", 422),
        ("/api/facilities?bbox=10,10,0,0", 422),
        ("/api/facilities?limit=0", 422),
        ("/api/events?after=12", 422),
        ("/api/events?after=1-2-3", 422),
        ("/api/events?after=1234567890123456789-1", 422),
        ("/api/facilities/999999", 404),
        ("/api/areas/nowhere", 404),
        ("/api/rivers", 404),
    ],
)
def test_bad_requests_get_clear_errors(demo_client, path, status):
    response = demo_client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


def test_uploaded_geojson_is_imported(imported, sessions):
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"名称": "徐家汇公园"}, "geometry": {"type": "Point", "coordinates": [121.4375, 31.1960]}}
        ],
    }
    job = imported(
        files={"file": ("parks.geojson", json.dumps(collection).encode(), "application/geo+json")},
        data={"target": "facility", "mapping": json.dumps({"name": "名称"}), "constants": json.dumps({"kind": "park"})},
    )
    assert (job["state"], job["result"]["counts"]) == ("succeeded", {"facilities": 1}), job
    with sessions() as session:
        park = session.execute(sa.select(Facility.name, Facility.street_code).where(Facility.name == "徐家汇公园")).one()
    assert park == ("徐家汇公园", "310104014")


def test_broken_upload_writes_nothing_and_names_the_record(imported, sessions):
    broken = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [121.4, 31.2]}}, {"type": "Feature", "prop'
    with sessions() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Facility)), session.scalar(sa.select(sa.func.count()).select_from(ImportRun))
    job = imported(files={"file": ("broken.geojson", broken, "application/geo+json")},
                   data={"target": "facility", "constants": json.dumps({"kind": "park"})})
    assert (job["state"], job["error"]["record"]) == ("failed", "feature 2")
    with sessions() as session:
        after = session.scalar(sa.select(sa.func.count()).select_from(Facility)), session.scalar(sa.select(sa.func.count()).select_from(ImportRun))
    assert after == before


def test_upload_of_an_unknown_file_type_is_refused(demo_client, settings, admin):
    response = demo_client.post("/api/imports", files={"file": ("evil.exe", b"MZ", "application/octet-stream")}, data={"target": "facility"}, headers=admin)
    assert response.status_code == 422
    assert "not accepted" in response.json()["detail"]
    assert not any((settings.data_dir / "uploads").glob("*"))


def test_openapi_document_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/areas/{code}/summary", "/api/facilities", "/api/imports", "/api/health"} <= set(paths)


def test_health_names_the_backend(client, engine):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["database"] == engine.dialect.name


def test_facility_status_update_is_seen_at_once_and_scoped(demo_client, role_headers):
    centres = demo_client.get("/api/facilities", params={"kind": "health_centre"}).json()["features"]
    mine = next(f for f in centres if f["properties"]["street_code"] == "310104014")
    other = next(f for f in centres if f["properties"]["street_code"] not in (None, "310104014"))
    operator = role_headers["street_operator"]
    changed = demo_client.patch(f"/api/facilities/{mine['id']}/status", json={"is_open": False, "queue_level": "long"}, headers=operator)
    assert changed.status_code == 200
    seen = demo_client.get(f"/api/facilities/{mine['id']}").json()["properties"]
    assert (seen["is_open"], seen["queue_level"]) == (False, "long")
    assert datetime.fromisoformat(seen["status_updated_at"]).utcoffset() == timedelta(0), "an instant, not a wall clock"
    assert demo_client.patch(f"/api/facilities/{other['id']}/status", json={"is_open": False}, headers=operator).status_code == 404
    assert demo_client.patch(f"/api/facilities/{mine['id']}/status", json={"queue_level": "huge"}, headers=operator).status_code == 422
    assert demo_client.patch(f"/api/facilities/{mine['id']}/status", json={}, headers=operator).status_code == 422


def test_uploading_the_same_file_again_replaces_its_records_and_says_so(demo_client, imported):
    upload = {"file": ("toilets.csv", b"id,name,lon,lat\n1,A,121.43,31.19\n2,B,121.44,31.19\n", "text/csv")}
    data = {"target": "facility", "constants": json.dumps({"kind": "toilet"})}
    first = imported(files=upload, data=data)["result"]
    again = imported(files=upload, data=data)["result"]
    assert first["counts"] == {"facilities": 2}
    assert again["counts"] == {"facilities": 2, "replaced_facilities": 2}
    assert any("replaced 2 facilities" in note for note in again["notes"])
    assert demo_client.get("/api/facilities", params={"kind": "toilet"}).json()["numberMatched"] == 2
