"""The life circle, siting, finder and isochrones over HTTP, with their scopes.

Runs and site proposals are jobs: 202 at once, after their inputs are checked; a worker does the work.
"""

import numpy as np
import pyproj
import pytest
from fastapi.testclient import TestClient
from waiting import job_ended

from huizhili.config import load_settings
from huizhili.web.app import create_app


@pytest.fixture
def finished(client, worker):
    """Submit a run or proposal, wait for its job, and return the job."""
    return lambda path, body, headers: job_ended(client, client.post(path, json=body, headers=headers), headers)


@pytest.fixture
def run_of(client, finished):
    """Run the life circle as ``headers``' user and return the run, as ``GET /api/lifecircle/runs/{id}`` shows it."""
    def run(body, headers):
        job = finished("/api/lifecircle/runs", body, headers)
        assert job["state"] == "succeeded", job
        return client.get(job["links"]["result"], headers=headers).json()
    return run


def test_citizen_finds_the_nearest_health_centre_from_a_phone_position(client, xuhui):
    response = client.get("/api/services/nearest", params={"lon": 121.44207, "lat": 31.19405, "kind": "health_centre", "k": 2, "crs": "gcj02"})
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "network"
    assert body["results"][0]["name"] == "徐汇区徐家汇街道社区卫生服务中心"
    assert [r["estimated"] for r in body["results"]] == [False, False]


def test_asked_for_routes_each_result_has_its_walk_from_the_converted_origin(client, xuhui):
    params = {"lon": 121.44207, "lat": 31.19405, "kind": "health_centre", "k": 3, "crs": "gcj02"}
    plain = client.get("/api/services/nearest", params=params).json()
    body = client.get("/api/services/nearest", params={**params, "route": "true"}).json()
    assert [r["route"] for r in plain["results"]] == [None] * 3
    assert [r["id"] for r in body["results"]] == [r["id"] for r in plain["results"]]
    for result in body["results"]:
        route = result["route"]
        lon, lat = np.array(route["coordinates"]).T
        assert route["type"] == "LineString" and len(lon) > 3
        assert (lon[0], lat[0]) == pytest.approx((body["origin"]["lon"], body["origin"]["lat"]), abs=1e-7)  # WGS84, not GCJ-02
        assert pyproj.Geod(ellps="WGS84").line_length(lon, lat) == pytest.approx(result["walking_distance_m"], abs=1.0)
    described = client.get("/openapi.json").json()["paths"]["/api/services/nearest"]["get"]["parameters"]
    assert "route" in {p["name"] for p in described}


@pytest.mark.parametrize("warm_start", [True, False])
def test_a_warm_start_loads_the_walk_network_before_the_first_request(helsinki, engine, tmp_path, warm_start):
    settings = load_settings(environment="test", data_dir=tmp_path / "var", warm_start=warm_start)
    with TestClient(create_app(settings, engine)):
        built = list((tmp_path / "var" / "cache").glob("walkgraph-*.npz"))
    assert len(built) == (1 if warm_start else 0)


def test_isochrone_is_a_polygon_feature(client, xuhui):
    feature = client.get("/api/isochrone", params={"lon": 121.4375, "lat": 31.196, "minutes": 10}).json()
    assert feature["geometry"]["type"] == "Polygon" and feature["properties"]["method"] == "network"


def test_analyst_runs_the_life_circle_and_reads_its_report(client, run_of, role_headers):
    analyst = role_headers["analyst"]
    body = run_of({"area": "徐汇区"}, analyst)
    assert body["method"] == "network" and {"report.html", "origins.csv", "map-health_centre.png", "map-park.png"} <= set(body["files"])
    assert body["parameters"]["origins"] == "compounds"
    rows = [r for r in body["coverage"] if r["area_code"] == "310104014" and r["kind"] == "health_centre"]
    assert [r["threshold_m"] for r in rows] == [300.0, 600.0, 900.0]
    report = client.get(f"/api/lifecircle/runs/{body['run_id']}/files/report.html", headers=analyst)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert client.get(f"/api/lifecircle/runs/{body['run_id']}/files/secret.txt", headers=analyst).status_code == 422
    assert [r["run_id"] for r in client.get("/api/lifecircle/runs", headers=analyst).json()] == [body["run_id"]]


def test_street_operator_analyses_her_street_only(client, run_of, role_headers):
    operator = role_headers["street_operator"]
    assert client.post("/api/lifecircle/runs", json={}, headers=operator).status_code == 422
    assert client.post("/api/lifecircle/runs", json={"area": "湖南路街道"}, headers=operator).status_code == 404
    run_of({"area": "徐家汇街道"}, operator)
    run_of({"area": "徐汇区"}, role_headers["analyst"])
    assert [r["area_code"] for r in client.get("/api/lifecircle/runs", headers=operator).json()] == ["310104014"]


def test_standards_are_overridable_per_run_and_checked(client, run_of, role_headers):
    analyst = role_headers["analyst"]
    run = run_of({"area": "徐汇区", "kinds": ["health_centre"], "metres": {"health_centre": 1500}, "targets": {"health_centre": 0.5}}, analyst)
    assert {r["threshold_m"] for r in run["coverage"]} == {300.0, 600.0, 900.0, 1500.0}
    assert {r["target"] for r in run["coverage"] if r["threshold_m"] == 1500.0} == {0.5}
    bad = client.post("/api/lifecircle/runs", json={"area": "徐汇区", "targets": {"health_centre": 2}}, headers=analyst)
    assert bad.status_code == 422
    unknown = client.post("/api/lifecircle/runs", json={"area": "徐汇区", "colour": "red"}, headers=analyst)
    assert unknown.status_code == 422
    no_standard = client.post("/api/lifecircle/runs", json={"area": "徐汇区", "kinds": ["no_such_kind"]}, headers=analyst)
    assert no_standard.status_code == 422 and "no standard for no_such_kind" in no_standard.json()["detail"]


def test_a_run_reports_distances_up_to_the_cutoff_it_asks_and_the_setting_otherwise(client, run_of, role_headers):
    analyst = role_headers["analyst"]
    asked = run_of({"area": "徐家汇街道", "kinds": ["health_centre"], "cutoff_m": 1500}, analyst)
    default = run_of({"area": "徐家汇街道", "kinds": ["health_centre"]}, analyst)
    assert (asked["parameters"]["cutoff_m"], default["parameters"]["cutoff_m"]) == (1500, 2000)
    too_far = client.post("/api/lifecircle/runs", json={"area": "徐家汇街道", "cutoff_m": 30000}, headers=analyst)
    assert too_far.status_code == 422


def test_siting_proposes_sites_that_add_coverage(finished, role_headers):
    job = finished("/api/lifecircle/siting", {"kind": "health_centre", "threshold_m": 900, "k": 3, "area": "徐汇区"}, role_headers["analyst"])
    body = job["result"]
    assert body["method"] == "network" and body["origins"] == "compounds" and len(body["sites"]) == 3
    after = [site["coverage_after"] for site in body["sites"]]
    assert body["coverage_before"] < after[0] < after[1] < after[2]
    assert all(site["adds"] > 0 for site in body["sites"])


def test_infinite_or_unknown_inputs_are_refused_not_crashed_on(client, role_headers):
    analyst = role_headers["analyst"]
    infinite = client.post("/api/lifecircle/siting", content=b'{"kind": "park", "threshold_m": Infinity, "k": 3}',
                           headers={**analyst, "Content-Type": "application/json"})
    assert infinite.status_code == 422
    overridden = client.post("/api/lifecircle/runs", content=b'{"area": "310104", "metres": {"park": Infinity}}',
                             headers={**analyst, "Content-Type": "application/json"})
    assert overridden.status_code == 422
    unknown = client.post("/api/lifecircle/siting", json={"kind": "no_such_kind", "threshold_m": 500, "k": 3, "area": "徐汇区"}, headers=analyst)
    assert unknown.status_code == 422 and "unknown facility kind" in unknown.json()["detail"]
