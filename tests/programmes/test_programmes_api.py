"""The programmes API: a list imported in scope, projects as GeoJSON in scope, progress reported, targets with their status."""

import pytest
import sqlalchemy as sa
from programme_samples import XUJIAHUI, with_housing

from huizhili.programmes.demo import load_programmes_demo
from huizhili.storage.engine import transaction
from huizhili.storage.models import Project

LIST = ("项目编号,所属计划,项目名称,责任单位,户数,经度,纬度\n"
        "HR-1,XH-HR,徐家汇小区修缮,房管局,120,121.42739,31.19211\n"
        "HR-2,XH-HR,天平小区修缮,房管局,80,121.44839,31.20893\n").encode()


@pytest.fixture
def housing(xuhui, role_headers):
    return with_housing(xuhui)


def upload(client, headers, **form):
    return client.post("/api/programme-imports", headers=headers, files={"file": ("清单.csv", LIST, "text/csv")},
                       data={"kind": "projects", **form})


def test_a_street_operators_list_is_refused_whole_or_taken_for_her_street(client, role_headers, housing):
    operator = role_headers["street_operator"]
    refused = upload(client, operator)
    assert refused.status_code == 422 and refused.json()["record"] == "清单.csv:3"
    assert "不在你的辖区或职责范围 not in your areas or of your department" in refused.json()["detail"]
    taken = upload(client, operator, valid_only="true")
    assert taken.status_code == 200, taken.text
    assert taken.json() == {"kind": "projects", "file_name": "清单.csv", "written": ["XH-HR/HR-1"], "refused": [
        {"line": 3, "error": "项目 XH-HR/HR-2：不在你的辖区或职责范围 not in your areas or of your department"}]}


def test_projects_are_listed_as_geojson_in_the_callers_scope(client, role_headers, housing):
    assert upload(client, role_headers["district_admin"]).status_code == 200
    everything = client.get("/api/projects", headers=role_headers["analyst"]).json()
    assert (everything["numberMatched"], [f["properties"]["ref"] for f in everything["features"]]) == (2, ["HR-1", "HR-2"])
    assert everything["features"][0]["geometry"] == {"type": "Point", "coordinates": [121.42739, 31.19211]}
    mine = client.get("/api/projects", headers=role_headers["street_operator"]).json()
    assert [(f["properties"]["ref"], f["properties"]["street_code"]) for f in mine["features"]] == [("HR-1", XUJIAHUI)]
    assert client.get("/api/programmes", headers=role_headers["street_operator"]).json()[0]["projects"] == {
        "planned": 1, "in_progress": 0, "done": 0, "suspended": 0}


def test_progress_is_reported_and_shown_with_the_project(client, role_headers, housing):
    upload(client, role_headers["district_admin"])
    with housing() as session:
        project = session.scalar(sa.select(Project.id).where(Project.source_ref == "HR-1"))
        elsewhere = session.scalar(sa.select(Project.id).where(Project.source_ref == "HR-2"))
    operator = role_headers["street_operator"]
    report = client.post(f"/api/projects/{project}/progress", headers=operator,
                         json={"status": "in_progress", "done": {"households": 45}, "evidence": "签约表.pdf"})
    assert report.status_code == 201, report.text
    assert {k: report.json()[k] for k in ("author", "status", "done", "evidence")} == {
        "author": "xujiahui_operator", "status": "in_progress", "done": {"households": 45.0}, "evidence": "签约表.pdf"}
    shown = client.get(f"/api/projects/{project}", headers=operator).json()
    assert shown["properties"]["status"] == "in_progress" and [p["id"] for p in shown["progress"]] == [report.json()["id"]]
    assert client.post(f"/api/projects/{elsewhere}/progress", headers=operator, json={"status": "done"}).status_code == 404
    refused = client.post(f"/api/projects/{project}/progress", headers=role_headers["department_handler"], json={"status": "done"})
    assert refused.status_code == 403 and "你无权报告进度" in refused.json()["detail"]


def test_the_demos_targets_are_served_with_their_status(client, role_headers, xuhui):
    with transaction(xuhui) as session:
        load_programmes_demo(session)
    targets = {t["code"]: t for t in client.get("/api/targets", headers=role_headers["district_commander"]).json()}
    assert len(targets) == 8
    scattered = targets["XH-T-LXJG"]["rows"][0]
    assert (scattered["area_code"], scattered["value"], scattered["goal"]) == ("310104", 490.0, 1000.0)
    assert scattered["status"] in ("met", "on_track", "at_risk", "late")
    assert targets["XH-T-PARK-300"]["rows"][0]["value"] is None, "no life circle run yet"
    one = client.get("/api/targets/XH-T-JKX-KM", headers=role_headers["street_operator"]).json()
    assert [r["area_code"] for r in one["rows"]] == [XUJIAHUI]
    assert client.get("/api/targets/XH-T-JKX-KM", headers=role_headers["citizen"]).status_code == 403
