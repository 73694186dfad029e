"""The authorisation matrix: every role × every endpoint of the OpenAPI document, and area filtering."""

import re

import pytest

# The intended matrix, written from the roles' descriptions (not read from the implementation).
GRANTS = {
    "anonymous": {"none", "read:public"},
    "district_admin": {"none", "read:public", "read:base", "read:devices", "read:users", "read:personal", "write:imports", "write:facility_status", "run:analysis", "manage:users", "manage:devices", "self"},
    "district_commander": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "run:analysis", "self"},
    "street_operator": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "run:analysis", "self"},
    "department_handler": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "self"},
    "grid_officer": {"none", "read:public", "read:base", "read:devices", "read:users", "self"},
    "analyst": {"none", "read:public", "read:base", "read:devices", "read:users", "run:analysis", "self"},
    "citizen": {"none", "read:public", "self"},
    "service": {"none", "read:public", "read:base", "read:devices", "write:facility_status", "self"},
}
XUJIAHUI = "310104014"
PATH_VALUES = {"code": XUJIAHUI, "record_id": "1", "username": "citizen", "run_id": "1", "name": "report.html"}


def operations(client):
    """(method, path template, permission) for every operation the server documents."""
    for path, methods in client.get("/openapi.json").json()["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation["x-permission"]


def test_every_documented_endpoint_names_a_known_permission(client):
    known = set().union(*GRANTS.values())
    for method, path, permission in operations(client):
        assert permission in known, f"{method} {path} requires unknown permission {permission!r}"


@pytest.mark.parametrize("role", sorted(GRANTS))
def test_each_role_is_allowed_or_refused_on_every_endpoint(client, role_headers, role):
    for method, template, permission in operations(client):
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)
        response = client.request(method, path, headers=role_headers[role])
        if permission in GRANTS[role]:
            assert response.status_code not in (401, 403), f"{role} refused on {method} {path}: {response.text}"
            assert response.status_code < 500, f"{role} broke {method} {path}: {response.text}"
        else:
            expected = 401 if role == "anonymous" else 403
            assert response.status_code == expected, f"{role} on {method} {path}: {response.status_code}"


LIST_ENDPOINTS = ["/api/areas", "/api/facilities", "/api/buildings", "/api/parcels", "/api/devices"]


def test_street_operator_sees_only_her_street_everywhere(client, role_headers):
    headers = role_headers["street_operator"]
    for path in LIST_ENDPOINTS:
        body = client.get(path, headers=headers, params={"limit": 1000}).json()
        for feature in body["features"]:
            properties = feature["properties"]
            code = properties.get("street_code", properties.get("code"))
            assert code.startswith(XUJIAHUI), f"{path} showed {code}"
    devices = client.get("/api/devices", headers=headers).json()
    assert {f["properties"]["code"] for f in devices["features"]} == {"PM-XJH-1", "PM-XJH-2"}


def test_street_operator_cannot_open_another_streets_records(client, role_headers):
    admin, operator = role_headers["district_admin"], role_headers["street_operator"]
    everything = client.get("/api/facilities", headers=admin, params={"limit": 1000}).json()["features"]
    elsewhere = [f for f in everything if f["properties"]["street_code"] != XUJIAHUI]
    assert elsewhere
    for feature in elsewhere:
        assert client.get(f"/api/facilities/{feature['id']}", headers=operator).status_code == 404
    assert client.get("/api/areas/310104003", headers=operator).status_code == 404
    assert client.get("/api/areas/310104/summary", headers=operator).status_code == 404
    assert client.get("/api/areas/湖南路街道/summary", headers=operator).status_code == 404


def test_scoped_summary_counts_only_what_the_scope_shows(client, role_headers):
    everything = client.get("/api/summary", headers=role_headers["district_admin"]).json()
    mine = client.get("/api/summary", headers=role_headers["street_operator"]).json()
    assert [child["code"] for child in mine["children"]] == [XUJIAHUI]
    assert mine["health_centre"] == 1 and everything["health_centre"] == 13
    assert mine["devices"] == 2 and everything["devices"] == 3


def test_department_handler_sees_his_departments_devices(client, role_headers):
    devices = client.get("/api/devices", headers=role_headers["department_handler"]).json()
    assert {f["properties"]["code"] for f in devices["features"]} == {"PM-XJH-2", "PM-TP-1"}


def test_grid_officer_sees_his_cell_only(client, role_headers):
    headers = role_headers["grid_officer"]
    areas = client.get("/api/areas", headers=headers).json()
    assert [f["properties"]["code"] for f in areas["features"]] == ["310104014G01"]
    devices = client.get("/api/devices", headers=headers).json()
    assert {f["properties"]["grid_code"] for f in devices["features"]} == {"310104014G01"}


def test_scoped_event_pages_hold_only_the_scopes_changes(client, role_headers):
    admin = role_headers["district_admin"]
    facilities = client.get("/api/facilities", headers=admin, params={"limit": 1000}).json()["features"]
    for feature in facilities:
        assert client.patch(f"/api/facilities/{feature['id']}/status", json={"is_open": False}, headers=admin).status_code == 200
    pages = {role: client.get("/api/events", headers=role_headers[role], params={"limit": 1000}).json()
             for role in ("anonymous", "street_operator", "grid_officer")}
    everything = pages["anonymous"]["events"]
    assert len(everything) == len(facilities)
    streets = {e["street_code"] for e in pages["street_operator"]["events"]}
    assert streets == {XUJIAHUI}
    assert len(pages["street_operator"]["events"]) == sum(e["street_code"] == XUJIAHUI for e in everything)
    in_cell = [e["payload"]["properties"]["name"] for e in pages["grid_officer"]["events"]]
    assert in_cell == ["徐家汇"], "the grid cell holds exactly the 徐家汇 metro station"
    assert all(page["cursor"] == pages["anonymous"]["cursor"] for page in pages.values())
