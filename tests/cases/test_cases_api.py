"""The cases API: intake, lists and details in scope with personal fields masked, steps, the public view."""

import sqlalchemy as sa

from huizhili.storage.models import AccessLog

IN_XUJIAHUI = {"lon": 121.437, "lat": 31.19}  # in the role users' grid cell 310104014G01 of 徐家汇街道


def report(client, headers, **fields):
    body = {"title": "人行道树木倒伏", "category": "绿化养护", "reporter_name": "张三", "reporter_phone": "13812345678",
            **IN_XUJIAHUI, **fields}
    response = client.post("/api/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_hotline_call_becomes_a_dispatched_case_with_a_tracking_number(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    assert (case["channel"], case["state"], case["department"], case["linked"]) == ("hotline", "dispatched", "绿化市容局", False)
    assert case["number"].isdigit() and len(case["number"]) == 18 and case["number"][8:14] == f"{case['id']:06d}"
    assert case["actions"] == ["accept", "return", "reassign", "dispute", "settle", "suspend", "escalate", "split", "merge", "note"]
    again = report(client, role_headers["hotline_operator"], title="树倒了挡路", reporter_name="李四")
    assert (again["id"], again["linked"]) == (case["id"], True)


def test_reporters_are_masked_for_analysts_and_logged_for_those_who_call_back(client, role_headers, sessions):
    case = report(client, role_headers["hotline_operator"])
    masked = client.get(f"/api/cases/{case['id']}", headers=role_headers["analyst"]).json()
    assert (masked["reporter_name"], masked["reporter_phone"]) == ("张*", "138****5678")
    assert [s["reporter_phone"] for s in masked["signals"]] == ["138****5678"]
    shown = client.get(f"/api/cases/{case['id']}", headers=role_headers["district_commander"]).json()
    assert (shown["reporter_name"], shown["reporter_phone"]) == ("张三", "13812345678")
    with sessions() as session:
        logged = session.scalars(sa.select(AccessLog.resource).where(AccessLog.username == "commander")).all()
    assert {"cases", "case_signals"} <= set(logged)


def test_each_role_lists_the_cases_of_its_scope(client, role_headers):
    greening = report(client, role_headers["hotline_operator"])
    lamp = report(client, role_headers["hotline_operator"], title="路灯不亮", category="道路设施",
                  lon=121.46, lat=31.17)  # elsewhere in the district, for 建设管理委
    def listed(role):
        return {c["id"] for c in client.get("/api/cases", headers=role_headers[role]).json()}
    assert listed("district_commander") == {greening["id"], lamp["id"]}
    assert listed("department_handler") == {greening["id"]}  # 绿化市容局's
    assert listed("street_operator") == {greening["id"]}  # 徐家汇's
    assert listed("grid_officer") == {greening["id"]}
    assert client.get("/api/cases", headers=role_headers["citizen"]).status_code == 403  # citizens follow by number


def test_a_grid_officers_reports_are_patrol_finds_and_stay_in_his_cells(client, role_headers):
    case = report(client, role_headers["grid_officer"], title="共享单车堆放占道", category="交通秩序")
    assert case["channel"] == "patrol"
    outside = client.post("/api/cases", json={"title": "x", "category": "交通秩序", "lon": 121.46, "lat": 31.17},
                          headers=role_headers["grid_officer"])
    assert outside.status_code == 403 and "outside your areas" in outside.json()["detail"]


def test_a_step_is_taken_or_refused_with_the_allowed_ones_named(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    handler = role_headers["department_handler"]
    refused = client.post(f"/api/cases/{case['id']}/actions", json={"action": "handle", "note": "done"}, headers=handler)
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("allowed now: accept, return, reassign, dispute, settle, suspend, escalate, split, merge, note")
    accepted = client.post(f"/api/cases/{case['id']}/actions", json={"action": "accept"}, headers=handler)
    assert (accepted.status_code, accepted.json()["state"]) == (200, "accepted")
    missing = client.post(f"/api/cases/{case['id']}/actions", json={"action": "return"}, headers=handler)
    assert (missing.status_code, missing.json()["detail"]) == (422, "'return' needs reason")
    detail = client.get(f"/api/cases/{case['id']}", headers=role_headers["district_commander"]).json()
    assert [(s["action"], s["actor"]) for s in detail["trail"]] == [
        ("receive", "hotline"), ("file", "platform"), ("dispatch", "platform"), ("accept", "greening_handler")]


def test_anyone_with_the_tracking_number_follows_the_case_without_seeing_who_reported_it(client, role_headers):
    case = report(client, role_headers["hotline_operator"], description="我家楼下，电话13812345678")
    public = client.get(f"/api/public/cases/{case['number']}")
    assert public.status_code == 200
    view = public.json()
    assert (view["state"], view["category"], view["street"], view["unit"], view["open"]) == (
        "dispatched", "绿化养护", "徐家汇街道", "绿化市容局", True)
    assert view["seconds_left"] > 0 and [step["action"] for step in view["timeline"]] == ["receive", "file", "dispatch"]
    assert "13812345678" not in public.text and "张三" not in public.text and "31.19" not in public.text
    assert client.get("/api/public/cases/209901010000011234").status_code == 404


def test_the_workflow_in_force_is_served_as_data(client, role_headers):
    workflow = client.get("/api/cases/workflow", headers=role_headers["analyst"]).json()
    dispute = next(t for t in workflow["transitions"] if t["action"] == "dispute")
    assert (dispute["sources"], dispute["target"], dispute["roles"], dispute["needs"]) == (
        ["accepted", "dispatched"], "dispatched", ["@unit"], ["reason"])
    assert [s["id"] for s in workflow["states"]][:3] == ["received", "not_filed", "filed"]


def test_a_report_linked_across_the_reporters_area_edge_gets_only_the_number(client, role_headers):
    elsewhere = report(client, role_headers["hotline_operator"], lon=121.4453, lat=31.1900)  # just east of the officer's cell
    assert elsewhere["grid_code"] != "310104014G01"
    near = client.post("/api/cases", json={"title": "树倒了", "category": "绿化养护", "lon": 121.4448, "lat": 31.1900},
                       headers=role_headers["grid_officer"])  # 48 m away, inside his cell: the same fallen tree
    assert near.status_code == 201 and near.json() == {"number": elsewhere["number"], "linked": True}


def test_case_events_reach_only_those_who_may_read_the_case(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    client.post(f"/api/cases/{case['id']}/actions", json={"action": "return", "reason": "非本单位"},
                headers=role_headers["department_handler"])
    def case_events(role):
        events = client.get("/api/events", headers=role_headers[role], params={"limit": 1000}).json()["events"]
        return [e["kind"] for e in events if e["resource"] == "cases"]
    assert "case.return" in case_events("district_commander")
    assert case_events("department_handler") == []  # returned: no longer his department's
    assert client.get("/api/events", headers=role_headers["citizen"]).status_code in (200, 403)
    assert all(e["resource"] != "cases" for e in client.get("/api/events", headers=role_headers["citizen"]).json().get("events", []))


def test_elderly_help_is_never_public_even_by_number(client, role_headers):
    case = report(client, role_headers["hotline_operator"], title="独居老人求助", category="养老服务")
    assert client.get(f"/api/public/cases/{case['number']}").status_code == 404
    assert client.get("/api/open311/v2/requests/{}.json".format(case["number"])).status_code == 404


def test_the_public_view_names_the_unit_handling_the_case(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    public = client.get(f"/api/public/cases/{case['number']}").json()
    assert (public["unit"], public["unit_name"]) == ("绿化市容局", {"zh": "徐汇区绿化和市容管理局",
                                                                "en": "Xuhui District Greening and City Appearance Bureau"})
