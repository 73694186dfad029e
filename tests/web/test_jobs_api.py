"""Long work over HTTP: 202 and a job at once; the server keeps answering while a worker does the work.

Done when (issue 15): an import over HTTP returns 202 and a job; the server answers other
requests while it runs.
"""

import threading

import httpx
import pytest
from waiting import until

from huizhili.worker import tasks

TOILET = {"file": ("toilets.csv", "id,name,lon,lat\n1,厕所,121.437,31.193\n".encode(), "text/csv")}
AS_TOILETS = {"target": "facility", "constants": '{"kind": "toilet"}'}


def test_an_upload_is_answered_202_with_a_job_before_any_work_is_done(client, role_headers):
    admin = role_headers["district_admin"]
    response = client.post("/api/imports", files=TOILET, data=AS_TOILETS, headers=admin)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["kind"], job["state"], job["created_by"]) == ("import", "queued", "admin")
    assert response.headers["Location"] == job["links"]["self"] == f"/api/jobs/{job['id']}"
    assert client.get("/api/facilities", params={"kind": "toilet"}).json()["numberMatched"] == 0, "no worker: nothing imported"
    assert client.get(job["links"]["self"], headers=admin).json()["state"] == "queued"
    assert [j["id"] for j in client.get("/api/jobs", headers=admin).json()] == [job["id"]]


def test_a_job_is_seen_and_cancelled_only_by_its_submitter_and_administrators(client, role_headers):
    analyst, operator = role_headers["analyst"], role_headers["street_operator"]
    job = client.post("/api/lifecircle/runs", json={"area": "徐家汇街道"}, headers=analyst).json()
    assert client.get(f"/api/jobs/{job['id']}", headers=operator).status_code == 404
    assert client.get("/api/jobs", headers=operator).json() == []
    assert client.delete(f"/api/jobs/{job['id']}", headers=operator).status_code == 404
    assert client.get(f"/api/jobs/{job['id']}", headers=role_headers["district_admin"]).status_code == 200
    cancelled = client.delete(f"/api/jobs/{job['id']}", headers=analyst)
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    again = client.delete(f"/api/jobs/{job['id']}", headers=analyst)
    assert again.status_code == 409 and "only a queued job" in again.json()["detail"]
    assert client.get("/api/jobs", headers=analyst, params={"state": "cancelled"}).json()[0]["id"] == job["id"]


def test_a_runs_bad_inputs_are_refused_at_once_not_as_a_failed_job(client, role_headers):
    analyst = role_headers["analyst"]
    unknown_area = client.post("/api/lifecircle/runs", json={"area": "不存在街道"}, headers=analyst)
    bad_siting = client.post("/api/lifecircle/siting", json={"kind": "park", "threshold_m": 300, "k": 1, "area": "不存在街道"}, headers=analyst)
    assert (unknown_area.status_code, bad_siting.status_code) == (404, 404)
    assert client.get("/api/jobs", headers=analyst).json() == []


@pytest.fixture
def held_import(monkeypatch):
    """Imports that, their records written, wait for ``release`` before committing: a job caught mid-work."""
    written, release = threading.Event(), threading.Event()
    real = tasks.TASKS["import"]

    def import_then_wait(work):
        result = real(work)
        work.progress("held by the test", 1)
        written.set()
        assert release.wait(60), "the test never released the import"
        return result

    monkeypatch.setitem(tasks.TASKS, "import", import_then_wait)
    return written, release


def test_the_server_answers_while_an_import_runs_and_its_records_appear_with_its_result(serve, settings, role_headers, held_import, worker):
    written, release = held_import
    admin = role_headers["district_admin"]
    _, address = serve(settings)
    with httpx.Client(base_url=f"http://{address}", timeout=10) as http:
        job = http.post("/api/imports", files=TOILET, data=AS_TOILETS, headers=admin).json()
        try:
            assert written.wait(60), "the worker did not start the import"
            running = until(lambda: (j := http.get(job["links"]["self"], headers=admin).json())["progress"]
                            and j["progress"]["stage"] == "held by the test" and j, "the job's progress was not shown")
            assert running["state"] == "running"
            # The import holds its transaction (on SQLite the only write lock); reads are answered, without its records.
            assert http.get("/api/health").status_code == 200
            assert http.get("/api/facilities", params={"kind": "toilet"}).json()["numberMatched"] == 0
            assert http.get("/api/areas/310104014/summary", headers=admin).status_code == 200
        finally:
            release.set()
        ended = until(lambda: (j := http.get(job["links"]["self"], headers=admin).json())["state"] == "succeeded" and j,
                      "the import did not finish", 60)
        assert ended["result"]["counts"] == {"facilities": 1} and ended["progress"] is None
        assert http.get("/api/facilities", params={"kind": "toilet"}).json()["numberMatched"] == 1


@pytest.mark.parametrize(("fields", "name", "status", "says"), [
    ({"target": "facility", "mapping": '{"colour": "颜色"}'}, "toilets.csv", 422, "facility has no field colour"),
    ({"target": "facility", "crs": "EPSG:999999"}, "toilets.csv", 422, "999999"),
    ({"target": "facility", "within": "不存在街道"}, "toilets.csv", 404, "不存在街道"),
    ({"target": "osm"}, "toilets.csv", 422, "target osm needs an .osm or .osm.pbf file"),
    ({"target": "facility"}, "xuhui.osm.pbf", 422, "target facility needs GeoJSON"),
], ids=["unknown-field", "unknown-crs", "unknown-area", "table-as-osm", "osm-as-table"])
def test_an_imports_bad_options_are_refused_at_once_not_as_a_failed_job(client, settings, role_headers, fields, name, status, says):
    admin = role_headers["district_admin"]
    response = client.post("/api/imports", files={"file": (name, TOILET["file"][1])}, data=fields, headers=admin)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert client.get("/api/jobs", headers=admin).json() == []
    assert not (settings.data_dir / "uploads").exists() or not any((settings.data_dir / "uploads").iterdir())


def test_a_write_the_busy_embedded_database_cannot_take_is_a_503_not_a_500(client, engine, role_headers):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one write lock, held here as a running import job holds it")
    facility = client.get("/api/facilities", params={"kind": "health_centre"}).json()["features"][0]["id"]
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        response = client.patch(f"/api/facilities/{facility}/status", json={"queue_level": "long"},
                                headers=role_headers["district_admin"])
        holder.exec_driver_sql("ROLLBACK")
    assert response.status_code == 503 and "nothing was changed" in response.json()["detail"]
