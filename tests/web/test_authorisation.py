"""The authorisation matrix: every role × every endpoint of the OpenAPI document, and area filtering."""

import io
import re
from datetime import UTC, datetime

import pytest
import shapely
import sqlalchemy as sa
from conftest import row_counts
from PIL import Image

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.assign import assign_areas
from huizhili.cases.flow import case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import Report, report_case
from huizhili.config import Settings
from huizhili.errors import ForbiddenError
from huizhili.events import publish
from huizhili.identity.accounts import create_api_key, create_user
from huizhili.identity.roles import ROLES
from huizhili.policy import Principal, Scope
from huizhili.policy.rules import READ_RULES
from huizhili.programmes.records import ProgrammeSpec, ProjectSpec, write_programmes, write_projects
from huizhili.sensing.households import join
from huizhili.storage.engine import transaction
from huizhili.storage.models import (
    AccessLog,
    Alert,
    Base,
    Building,
    Case,
    Credential,
    Device,
    Facility,
    ImportRun,
    Job,
    LifeCircleRun,
    Parcel,
    Project,
    User,
)

# The intended matrix, written from the roles' descriptions (not read from the implementation).
# read:personal: those who call people back (commanders, street operators, department handlers
# dispatching cases) may; analysts, grid officers, service accounts and citizens never.
# Alerts: every staff role reads them in its scope; those who respond (commanders, operators,
# handlers, committee staff who visit) handle them. Observations come from devices and gateways.
# Lone elderly households: their committee and street, the responding department and commanders
# read them; committee and street staff record consent. Committee staff visit them, so they read
# personal fields (logged) like the others who call people back.
# Cases: every staff role reads those in its scope (citizens follow theirs by number, publicly); hotline operators,
# commanders, street operators, grid officers (patrol finds) and committee staff report them;
# service accounts report for citizens' apps; the workflow's roles take them along; handlers
# take their department's. The hotline calls people back.
_CASES = {"read:cases", "report:cases", "handle:cases"}
# Programmes: every staff role reads them in its scope; those who run projects — commanders, street
# operators, department handlers for their department's — import lists and report progress.
_PROGRAMMES = {"read:programmes", "write:programmes"}
GRANTS = {
    "anonymous": {"none", "read:public"},
    "district_admin": {"none", "read:public", "read:base", "read:devices", "read:users", "read:personal", "write:imports", "write:facility_status", "run:analysis", "manage:users", "manage:devices", "self", "read:alerts", "handle:alerts", "write:observations", "read:households", "manage:households"} | _CASES | _PROGRAMMES,
    "district_commander": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "run:analysis", "self", "read:personal", "read:alerts", "handle:alerts", "read:households"} | _CASES | _PROGRAMMES,
    "street_operator": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "run:analysis", "self", "read:personal", "read:alerts", "handle:alerts", "read:households", "manage:households"} | _CASES | _PROGRAMMES,
    "department_handler": {"none", "read:public", "read:base", "read:devices", "read:users", "write:facility_status", "self", "read:personal", "read:alerts", "handle:alerts", "read:households", "read:cases", "handle:cases"} | _PROGRAMMES,
    "hotline_operator": {"none", "read:public", "read:base", "self", "read:personal"} | _CASES,
    "committee_worker": {"none", "read:public", "read:base", "read:devices", "read:users", "self", "read:alerts", "handle:alerts", "read:households", "manage:households", "read:personal", "read:cases", "report:cases", "read:programmes"},
    "grid_officer": {"none", "read:public", "read:base", "read:devices", "read:users", "self", "read:alerts", "read:programmes"} | _CASES,
    "analyst": {"none", "read:public", "read:base", "read:devices", "read:users", "run:analysis", "self", "read:alerts", "read:cases", "read:programmes"},
    "citizen": {"none", "read:public", "self", "report:cases"},
    "service": {"none", "read:public", "read:base", "read:devices", "self", "write:observations", "report:cases"},
}
XUJIAHUI = "310104014"
PATH_VALUES = {"alert_id": "1", "household_id": "1", "indicator": "pm25_24h", "code": XUJIAHUI, "record_id": "1", "username": "citizen", "run_id": "1", "name": "report.html", "key_id": "1", "job_id": "1", "case_id": "1", "number": "20261201000001",
               "fmt": "json", "service_code": "roads", "service_request_id": "20261201000001", "photo_id": "1",
               "project_id": "1", "target_code": "XH-T-PARK"}


def every_feature(client, path, headers, **params):
    """Every feature ``path`` lists to ``headers``, page by page (the server caps a page)."""
    features, offset = [], 0
    while True:
        page = client.get(path, headers=headers, params={**params, "limit": 1000, "offset": offset}).json()
        features += page["features"]
        offset += page["numberReturned"]
        if not page["numberReturned"] or offset >= page["numberMatched"]:
            return features


def every_event(client, headers):
    """Every event ``headers`` may see, page by page, and the cursor after the last."""
    events, after = [], None
    while True:
        page = client.get("/api/events", headers=headers, params={"limit": 1000, **({"after": after} if after else {})}).json()
        events += page["events"]
        if not page["events"] or page["cursor"] == after:
            return events, page["cursor"]
        after = page["cursor"]


def operations(client):
    """(method, path template, permission) for every operation the server documents.

    Signing out comes last: it revokes the credential the rest of the matrix uses.
    """
    found = [(method.upper(), path, operation["x-permission"])
             for path, methods in client.get("/openapi.json").json()["paths"].items()
             for method, operation in methods.items()]
    return sorted(found, key=lambda op: op[:2] == ("POST", "/api/auth/logout"))


def test_the_matrix_covers_every_role_that_signs_in_by_key():
    assert set(GRANTS) == {"anonymous", *ROLES} - {"device"}, "a device is tested through its own device account"


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


@pytest.fixture
def buildings_and_parcels(xuhui):
    """A building and a parcel in 徐家汇街道 and the same in 天平路街道: the demo has neither."""
    with transaction(xuhui) as session:
        for street, lon, lat in [("徐家汇", 121.437, 31.192), ("天平", 121.445, 31.207)]:
            square = shapely.box(lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005)
            session.add(Building(name=f"{street} building", use="residential", geometry=square, lon=lon, lat=lat,
                                 properties={}))
            session.add(Parcel(name=f"{street} parcel", land_use="residential", area_m2=9000.0, geometry=square,
                               lon=lon, lat=lat, properties={}))
        session.flush()
        assign_areas(session, [Building, Parcel])


def street_codes(client, path, headers):
    """The street (or, for areas, own) code of every record ``path`` lists to ``headers``."""
    features = every_feature(client, path, headers)
    return [f["properties"].get("street_code", f["properties"].get("code")) for f in features]


def test_street_operator_sees_only_her_street_everywhere(client, role_headers, buildings_and_parcels):
    headers = role_headers["street_operator"]
    for path in LIST_ENDPOINTS:
        everywhere = street_codes(client, path, role_headers["district_admin"])
        assert any(not code.startswith(XUJIAHUI) for code in everywhere), f"{path} has nothing outside the street to hide"
        mine = street_codes(client, path, headers)
        assert mine, f"{path} showed the operator nothing to check"
        assert all(code.startswith(XUJIAHUI) for code in mine), f"{path} showed {mine}"
    devices = client.get("/api/devices", headers=headers).json()
    assert {f["properties"]["code"] for f in devices["features"]} == {"PM-XJH-1", "PM-XJH-2"}


def test_street_operator_cannot_open_another_streets_records(client, role_headers):
    admin, operator = role_headers["district_admin"], role_headers["street_operator"]
    everything = every_feature(client, "/api/facilities", admin)
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


DONGTANG, PANYU = "310104014001", "310104014002"
"""Two neighbouring residential committees of 徐家汇街道 (东塘居委会, 番禺居委会); the committee
worker of ``role_headers`` is bound to 东塘."""


@pytest.fixture
def two_committees(xuhui, role_headers):
    """东塘 and 番禺 side by side with a boundary each (the demo has none), a grid cell under 东塘,
    and in each a building, a toilet and a sensor: 东塘 also holds the 徐家汇 health centre and
    metro station, 番禺 the devices PM-XJH-1 and PM-XJH-2."""
    with transaction(xuhui) as session:
        upsert_areas(session, [
            AreaSpec(code=DONGTANG, name="东塘居委会", level="committee", parent_code=XUJIAHUI, geometry=shapely.box(121.425, 31.190, 121.435, 31.200)),
            AreaSpec(code=PANYU, name="番禺居委会", level="committee", parent_code=XUJIAHUI, geometry=shapely.box(121.435, 31.190, 121.445, 31.200)),
            AreaSpec(code="310104014G0901", name="东塘网格0901", level="grid", parent_code=DONGTANG, geometry=shapely.box(121.425, 31.195, 121.430, 31.200)),
        ])
        for committee, lon, lat in [("东塘", 121.431, 31.193), ("番禺", 121.441, 31.193)]:
            square = shapely.box(lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005)
            session.add(Building(name=f"{committee} building", use="residential", geometry=square, lon=lon, lat=lat, properties={}))
            session.add(Facility(kind="toilet", name=f"{committee} toilet", geometry=shapely.Point(lon, lat), lon=lon, lat=lat, properties={}))
            session.add(Device(code=f"NS-{committee}", sensor_kind="noise", owner_department="城管执法局", geometry=shapely.Point(lon, lat),
                               lon=lon, lat=lat, properties={}))
        session.flush()
        assign_areas(session)


def committee_listing(client, path, headers):
    """(name or code, committee code) of every record ``path`` lists to ``headers``."""
    features = every_feature(client, path, headers)
    return sorted(((f["properties"].get("name") or f["properties"].get("code"), f["properties"].get("committee_code")) for f in features), key=str)


@pytest.mark.parametrize("path", ["/api/facilities", "/api/buildings", "/api/devices"])
def test_committee_staff_see_their_committees_records_and_none_of_the_neighbours(client, role_headers, two_committees, path):
    everything = committee_listing(client, path, role_headers["district_admin"])
    assert any(committee == PANYU for _, committee in everything), f"{path} has nothing of 番禺 to hide"
    mine = committee_listing(client, path, role_headers["committee_worker"])
    assert mine and mine == [(name, committee) for name, committee in everything if committee == DONGTANG]


def test_committee_staff_see_their_committee_and_its_grid_cells_only(client, role_headers, two_committees):
    headers = role_headers["committee_worker"]
    areas = client.get("/api/areas", headers=headers).json()["features"]
    assert sorted(f["properties"]["code"] for f in areas) == [DONGTANG, "310104014G0901"]
    assert client.get(f"/api/areas/{PANYU}", headers=headers).status_code == 404
    assert client.get(f"/api/areas/{XUJIAHUI}/summary", headers=headers).status_code == 404
    assert [u["username"] for u in client.get("/api/users", headers=headers).json()] == ["dongtang_worker"]


def test_committee_staff_see_only_their_committees_changes(client, role_headers, two_committees):
    admin = role_headers["district_admin"]
    facilities = every_feature(client, "/api/facilities", admin)
    for feature in facilities:
        assert client.patch(f"/api/facilities/{feature['id']}/status", json={"is_open": False}, headers=admin).status_code == 200
    events = every_event(client, role_headers["committee_worker"])[0]
    names = sorted(e["payload"]["properties"]["name"] for e in events if e["payload"]["properties"]["name"])
    assert names == ["东塘 toilet", "徐家汇", "徐汇区徐家汇街道社区卫生服务中心"]
    assert {e["committee_code"] for e in events} == {DONGTANG}, "and the unnamed parks of 东塘 alone"


def test_committee_staff_see_the_analyses_of_their_committees_and_cells(sessions, two_committees):
    with transaction(sessions) as session:
        for area in (DONGTANG, "310104014G0901", PANYU, XUJIAHUI, "310104014G01"):
            session.add(LifeCircleRun(created_by="admin", area_code=area, distance_method="estimated"))
        session.flush()
        worker = Scope(Principal("dongtang_worker", "committee_worker", committees=frozenset({DONGTANG})))
        seen = session.scalars(sa.select(LifeCircleRun.area_code).where(worker.condition(LifeCircleRun))).all()
    assert sorted(seen) == [DONGTANG, "310104014G0901"]


def test_scoped_event_pages_hold_only_the_scopes_changes(client, role_headers):
    admin = role_headers["district_admin"]
    facilities = every_feature(client, "/api/facilities", admin)
    for feature in facilities:
        assert client.patch(f"/api/facilities/{feature['id']}/status", json={"is_open": False}, headers=admin).status_code == 200
    pages = {role: every_event(client, role_headers[role]) for role in ("anonymous", "street_operator", "grid_officer")}
    everything = pages["anonymous"][0]
    assert len(everything) == len(facilities)
    streets = {e["street_code"] for e in pages["street_operator"][0]}
    assert streets == {XUJIAHUI}
    assert len(pages["street_operator"][0]) == sum(e["street_code"] == XUJIAHUI for e in everything)
    in_cell = pages["grid_officer"][0]
    assert {e["grid_code"] for e in in_cell} == {"310104014G01"}
    assert len(in_cell) == sum(e["grid_code"] == "310104014G01" for e in everything)
    named = [e["payload"]["properties"]["name"] for e in in_cell if e["payload"]["properties"]["name"]]
    assert named == ["徐家汇"], "the cell's one named facility is the 徐家汇 metro station (land-use parks have no names)"
    for role, (_, cursor) in pages.items():
        after = client.get("/api/events", headers=role_headers[role], params={"after": cursor}).json()
        assert after["events"] == [], f"the {role}'s cursor stopped short of the changes its scope hides"


# Writes: every role sends a valid request to every write operation. A role without the
# permission is refused and nothing changes; a role with it succeeds (within its scope, below).
PASSWORD = "Kettle-Quartz-Meadow-91"
PHOTO = io.BytesIO()
Image.new("RGB", (4, 3), "green").save(PHOTO, "PNG")
TOILETS = b"name,lon,lat\n\xe5\x85\xac\xe5\x8e\x95,121.437,31.193\n"
PROJECTS = "programme,ref,name,owner_department,lon,lat,households\nXH-T,P-2,东塘小区住房修缮,绿化市容局,121.437,31.19,40\n".encode()
WRITES = {
    ("POST", "/api/auth/token"): lambda w: ("/api/auth/token", {"data": {"username": "signer", "password": PASSWORD}}),
    ("POST", "/api/auth/refresh"): lambda w: ("/api/auth/refresh", {"json": {"refresh_token": w.refresh_token}}),
    ("POST", "/api/auth/logout"): lambda w: ("/api/auth/logout", {}),
    ("PATCH", "/api/facilities/{record_id}/status"): lambda w: (f"/api/facilities/{w.facility}/status", {"json": {"queue_level": "long"}}),
    ("POST", "/api/users"): lambda w: ("/api/users", {"json": {"username": "newcomer", "role": "citizen"}}),
    ("POST", "/api/users/{username}/api-keys"): lambda w: ("/api/users/citizen/api-keys", {"json": {"name": "kiosk"}}),
    ("DELETE", "/api/users/{username}/api-keys/{key_id}"): lambda w: (f"/api/users/citizen/api-keys/{w.spare_key}", {}),
    ("POST", "/api/users/{username}/close"): lambda w: ("/api/users/leaver/close", {}),
    ("POST", "/api/devices/{code}/credentials"): lambda w: ("/api/devices/PM-TP-1/credentials", {}),
    ("POST", "/api/imports"): lambda w: ("/api/imports", {"files": {"file": ("toilets.csv", TOILETS, "text/csv")},
                                                         "data": {"target": "facility", "constants": '{"kind": "toilet"}'}}),
    ("DELETE", "/api/jobs/{job_id}"): lambda w: (f"/api/jobs/{w.own_job}", {}),
    ("PATCH", "/api/alerts/{alert_id}"): lambda w: (f"/api/alerts/{w.alert}", {"json": {"action": "acknowledge"}}),
    ("POST", "/api/alerts/{alert_id}/case"): lambda w: (f"/api/alerts/{w.alert}/case", {"json": {"category": "绿化养护"}}),
    ("POST", "/api/households"): lambda w: ("/api/households", {"json": {
        "committee": "310104014001", "consent_note": "signed form 2026-118", "devices": ["METER-DT-1"], "name": "王阿婆",
        "phone": "13812345678", "contacts": [{"name": "王小明", "phone": "13900001111", "relation": "son"}]}}),
    ("POST", "/api/households/{household_id}/leave"): lambda w: (f"/api/households/{w.household}/leave", {}),
    ("POST", "/api/observations"): lambda w: ("/api/observations", {"json": {"observations": [
        {"device": "PM-TP-1", "ts": datetime.now(UTC).isoformat(), "metric": "pm25", "value": 12}]}}),
    ("POST", "/api/lifecircle/runs"): lambda w: ("/api/lifecircle/runs", {"json": {"area": "徐家汇街道", "kinds": ["health_centre"]}}),
    ("POST", "/api/cases"): lambda w: ("/api/cases", {"json": {"title": "人行道井盖缺失", "lon": 121.437, "lat": 31.19,
                                                                "category": "道路设施", "reporter_phone": "13812345678"}}),
    ("POST", "/api/open311/v2/requests.{fmt}"): lambda w: ("/api/open311/v2/requests.json", {"data": {
        "service_code": "roads", "lat": "31.19", "long": "121.437", "description": "井盖松动"}}),
    ("POST", "/api/cases/{case_id}/actions"): lambda w: (f"/api/cases/{w.case[0]}/actions", {"json": w.case[1]}),
    ("POST", "/api/cases/{case_id}/photos"): lambda w: (f"/api/cases/{w.case[0]}/photos", {"files": {"file": ("site.png", PHOTO.getvalue(), "image/png")}}),
    ("POST", "/api/me/cases/{number}/photos"): lambda w: (f"/api/me/cases/{w.own_report}/photos",
                                                          {"files": {"file": ("mine.png", PHOTO.getvalue(), "image/png")}}),
    ("POST", "/api/open311/v2/servicerequestupdates.{fmt}"): lambda w: ("/api/open311/v2/servicerequestupdates.json", {"data": {
        "service_request_id": w.case_number, "description": "还没处理"}}),
    ("POST", "/api/projects/{project_id}/progress"): lambda w: (f"/api/projects/{w.project}/progress", {"json": {
        "status": "in_progress", "done": {"households": 10}, "note": "签约 10 户"}}),
    ("POST", "/api/programme-imports"): lambda w: ("/api/programme-imports", {"files": {"file": ("projects.csv", PROJECTS, "text/csv")},
                                                                             "data": {"kind": "projects"}}),
    ("POST", "/api/lifecircle/siting"): lambda w: ("/api/lifecircle/siting", {"json": {"kind": "health_centre", "threshold_m": 900,
                                                                                       "k": 1, "area": "徐家汇街道"}}),
}
"""A valid request for every write operation; the test fails when an operation is missing here."""


class WriteFixtures:
    """Records the write requests act on, made fresh for each role's run."""

    def __init__(self, sessions, client, role):
        with transaction(sessions) as session:
            create_user(session, "signer", "citizen", password=PASSWORD)
            create_user(session, "leaver", "citizen")
            self.spare_key = create_api_key(session, "citizen", "spare")[0]
            # Signing out revokes the credential used: the role's user gets one to spend.
            username = session.scalar(sa.select(User.username).where(User.role == role)) if role != "anonymous" else None
            self.own_key = create_api_key(session, username, "to sign out")[1] if username else None
            # A queued job of the role's own, to cancel (anonymous callers have none: theirs is refused first).
            owner = session.scalar(sa.select(User).where(User.username == username)) if username else None
            job = Job(kind="lifecircle", user_id=owner.id if owner else None, created_by=username or "nobody", parameters={})
            session.add(job)
            session.flush()
            self.own_job = job.id
            self.facility = session.scalar(sa.select(Facility.id).where(Facility.name == "徐家汇"))
            # An alert every role that handles alerts may handle: in 东塘 of 徐家汇, for the greening department.
            alert = Alert(rule="flooding", subject="device:PM-XJH-1/water_level_cm", level=2, opened_at=datetime.now(UTC),
                          department="绿化市容局", district_code="310104", street_code=XUJIAHUI,
                          committee_code="310104014001", grid_code="310104014G01")
            session.add(alert)
            session.flush()
            self.alert = alert.id
            # Two water meters in 东塘 (the committee worker's): one to join a household with, one already watching.
            for code in ("METER-DT-1", "METER-DT-2"):
                session.add(Device(code=code, sensor_kind="water_meter", geometry=shapely.Point(121.437, 31.19), lon=121.437,
                                   lat=31.19, properties={}, district_code="310104", street_code=XUJIAHUI,
                                   committee_code="310104014001", grid_code="310104014G01"))
            session.flush()
            self.household = join(session, Scope.system(), Principal(username="setup", role="district_admin"),
                                  committee="310104014001", consent_note="form 1", devices=["METER-DT-2"],
                                  now=datetime.now(UTC), name="李阿公").id
            self.case = _case_to_act_on(session, role)
            self.case_number = session.scalar(sa.select(Case.number).where(Case.id == self.case[0]))
            # A project in 东塘 of 徐家汇 run by the greening department: every role that reports progress may report on it.
            write_programmes(session, Scope.system(), [ProgrammeSpec("XH-T", "housing_repair", "住房修缮", owner_department="绿化市容局")])
            write_projects(session, Scope.system(), [ProjectSpec("XH-T", "P-1", "东塘小区住房修缮", shapely.Point(121.437, 31.19),
                                                                 owner_department="绿化市容局", quantities={"households": 40})])
            self.project = session.scalar(sa.select(Project.id).where(Project.source_ref == "P-1"))
            # A report of the role's own, to add a photo to (anonymous callers have none: theirs is refused first).
            self.own_report = report_case(session, Scope.system(), Principal(username="setup", role="district_admin"),
                                          case_flow(Settings()), Report(channel="hotline", title="路灯不亮", lon=121.437, lat=31.19,
                                                                        category="道路设施", reporter_user_id=owner.id if owner else None),
                                          datetime.now(UTC)).case.number
        self.refresh_token = client.post("/api/auth/token", data={"username": "signer", "password": PASSWORD}).json()["refresh_token"]


# A step each role that takes cases along may take, on a case in 东塘 that it may see, in the state that step leaves.
CASE_STEPS = {
    "hotline_operator": ("received", {"action": "reject", "reason": "重复来电"}),
    "grid_officer": ("handled", {"action": "verify"}),
    "department_handler": ("dispatched", {"action": "accept"}),
}


def _case_to_act_on(session, role):
    """(case id, step) for ``role``: a greening case in 东塘 brought to the state where the role's step applies."""
    flow = case_flow(Settings())
    upsert_areas(session, [AreaSpec(code="310104014001", name="东塘居委会", level="committee", parent_code=XUJIAHUI,
                                    geometry=shapely.box(121.425, 31.185, 121.445, 31.200))])
    state, action = CASE_STEPS.get(role, ("dispatched", {"action": "escalate", "reason": "跨街镇"}))
    intake = report_case(session, Scope.system(), Principal(username="setup", role="district_admin"), flow,
                         Report(channel="hotline", title="树木倒伏", lon=121.437, lat=31.19,
                                category=None if state == "received" else "绿化养护"), datetime.now(UTC))
    handler = Principal(username="greening", role="department_handler", department="绿化市容局")
    for step in (["accept", "start", "handle"] if state == "handled" else []):
        act(session, Scope(handler), handler, flow, intake.case.id, step, Step(note="ok"), datetime.now(UTC))
    return intake.case.id, action


def snapshot(sessions):
    """What a refused write must leave as it was: every table's rows, live credentials, statuses."""
    counts = row_counts(sessions)
    with sessions() as session:
        live = session.scalar(sa.select(sa.func.count()).select_from(Credential).where(Credential.revoked_at.is_(None)))
        statuses = session.execute(sa.select(Facility.id, Facility.queue_level).order_by(Facility.id)).all()
    return counts, live, statuses


def test_every_write_operation_is_in_the_write_matrix(client):
    writes = {(method, path) for method, path, _ in operations(client) if method != "GET"}
    assert writes == set(WRITES), f"add a valid request for {writes ^ set(WRITES)}"


@pytest.mark.parametrize("role", sorted(GRANTS))
def test_each_role_writes_only_what_its_permissions_allow(client, role_headers, sessions, role):
    fixtures = WriteFixtures(sessions, client, role)
    for method, template, permission in operations(client):
        if method == "GET":
            continue
        path, request = WRITES[(method, template)](fixtures)
        headers = {"X-API-Key": fixtures.own_key} if template == "/api/auth/logout" and fixtures.own_key else role_headers[role]
        before = snapshot(sessions)
        response = client.request(method, path, headers=headers, **request)
        if permission in GRANTS[role]:
            assert 200 <= response.status_code < 300, f"{role} could not {method} {path}: {response.status_code} {response.text}"
        else:
            assert response.status_code == (401 if role == "anonymous" else 403), f"{role} on {method} {path}: {response.status_code}"
            assert snapshot(sessions) == before, f"{role}'s refused {method} {path} changed something"
    if fixtures.own_key:
        assert client.get("/api/auth/me", headers={"X-API-Key": fixtures.own_key}).status_code == 401, "signed out for good"


# Which of four facilities each role may set the status of: 徐家汇's health centre (卫生健康委),
# 徐家汇 metro station (绿化市容局), 天平's health centre (卫生健康委), another street's metro station.
MAY_CHANGE = {
    "district_admin": {"xjh_health", "xjh_metro", "tp_health", "elsewhere"},
    "district_commander": {"xjh_health", "xjh_metro", "tp_health", "elsewhere"},
    "street_operator": {"xjh_health", "xjh_metro"},
    "department_handler": {"xjh_metro"},
}


@pytest.mark.parametrize("role", sorted(GRANTS))
def test_a_facilitys_status_is_changed_only_within_the_writers_scope(client, role_headers, sessions, role):
    with sessions() as session:
        def first(*where):
            return session.scalar(sa.select(Facility.id).where(*where).order_by(Facility.id))
        targets = {
            "xjh_health": first(Facility.kind == "health_centre", Facility.street_code == XUJIAHUI),
            "xjh_metro": first(Facility.name == "徐家汇"),
            "tp_health": first(Facility.kind == "health_centre", Facility.street_code == "310104003"),
            "elsewhere": first(Facility.kind == "metro_station", Facility.street_code.not_in([XUJIAHUI, "310104003"])),
        }
    assert all(targets.values())
    for name, facility in targets.items():
        response = client.patch(f"/api/facilities/{facility}/status", json={"queue_level": "long"}, headers=role_headers[role])
        if name in MAY_CHANGE.get(role, ()):
            assert response.status_code == 200, f"{role} could not set {name}: {response.text}"
        elif "write:facility_status" in GRANTS[role]:
            assert response.status_code == 404, f"{role} set {name}, outside its scope"
        else:
            assert response.status_code in (401, 403)
    with sessions() as session:
        changed = {name for name, facility in targets.items() if session.get(Facility, facility).queue_level == "long"}
    assert changed == MAY_CHANGE.get(role, set())


def test_department_handlers_see_events_of_their_departments_records_only(client, role_headers, sessions):
    with transaction(sessions) as session:
        for device in session.scalars(sa.select(Device).order_by(Device.code)):
            publish(session, "device.offline", device, resource="devices", record_id=device.id, permission="read:devices",
                    payload={"code": device.code})

    def seen(role):
        events = client.get("/api/events", headers=role_headers[role], params={"limit": 1000}).json()["events"]
        return sorted(e["payload"]["code"] for e in events)

    assert seen("district_admin") == ["PM-TP-1", "PM-XJH-1", "PM-XJH-2"]
    assert seen("department_handler") == ["PM-TP-1", "PM-XJH-2"], "生态环境局's device is not 绿化市容局's business"
    assert seen("street_operator") == ["PM-XJH-1", "PM-XJH-2"]


def test_every_table_has_exactly_one_read_rule_and_unknown_tables_are_refused():
    assert set(READ_RULES) == set(Base.metadata.tables), "give each new table a rule in policy.rules.READ_RULES"

    class Unruled:
        __tablename__ = "something_new"

    with pytest.raises(ForbiddenError, match="no scope rule"):
        Scope(Principal("x", "district_admin")).condition(Unruled)


def test_analysts_and_others_without_the_permission_see_no_access_log_or_import_runs(sessions, role_headers):
    with sessions() as session:
        for model in (AccessLog, ImportRun):
            hidden = session.scalars(sa.select(model).where(Scope(Principal("a", "analyst")).condition(model))).all()
            shown = session.scalar(sa.select(sa.func.count()).select_from(model).where(Scope.system().condition(model)))
            assert hidden == [] and shown == session.scalar(sa.select(sa.func.count()).select_from(model))
