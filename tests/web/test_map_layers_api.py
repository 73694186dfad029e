"""The map's two layers over HTTP: every open case and every device in the caller's scope, as columns, nothing personal."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Case, Device, Observation

IN_XUJIAHUI = {"lon": 121.437, "lat": 31.19}  # in the role users' grid cell 310104014G01 of 徐家汇街道
ELSEWHERE = {"lon": 121.46, "lat": 31.17}  # 建设管理委's, in another street
CASE_COLUMNS = {"stages", "id", "lon", "lat", "stage", "due"}
DEVICE_COLUMNS = {"kinds", "statuses", "levels", "id", "lon", "lat", "kind", "status", "online", "value", "level"}


def report(client, headers, **fields):
    body = {"title": "人行道树木倒伏", "category": "绿化养护", "reporter_name": "张三", "reporter_phone": "13812345678",
            **IN_XUJIAHUI, **fields}
    response = client.post("/api/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def rows(layer):
    """The layer's columns as one dict per record, by id (the dictionaries' indexes resolved)."""
    out = {}
    for i, ident in enumerate(layer["id"]):
        record = {key: layer[key][i] for key in layer if isinstance(layer[key], list) and len(layer[key]) == len(layer["id"])
                  and key != "id"}
        if "stages" in layer:
            record["stage"] = layer["stages"][record["stage"]]
        if "kinds" in layer:
            record["kind"] = layer["kinds"][record["kind"]]["kind"]
            record["status"] = layer["statuses"][record["status"]]
        out[ident] = record
    return out


def case_map(client, headers, **params):
    response = client.get("/api/cases/map", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_case_map_holds_each_open_located_case_of_the_scope_with_its_stage_and_time_limit(client, role_headers, sessions):
    greening = report(client, role_headers["hotline_operator"])
    lamp = report(client, role_headers["hotline_operator"], title="路灯不亮", category="道路设施", **ELSEWHERE)
    closed = report(client, role_headers["hotline_operator"], title="垃圾满溢", category="市容环境", lon=121.44, lat=31.2)
    unplaced = report(client, role_headers["hotline_operator"], title="噪声扰民", category="噪声扰民", lon=None, lat=None)
    with transaction(sessions) as session:
        session.execute(sa.update(Case).where(Case.id == closed["id"]).values(state="closed"))
    layer = case_map(client, role_headers["district_commander"])
    assert set(layer) == CASE_COLUMNS
    due = int(datetime.fromisoformat(greening["due_at"]).timestamp())
    assert rows(layer) == {
        greening["id"]: {"lon": 121.437, "lat": 31.19, "stage": greening["stage"], "due": due},
        lamp["id"]: {"lon": 121.46, "lat": 31.17, "stage": lamp["stage"],
                     "due": int(datetime.fromisoformat(lamp["due_at"]).timestamp())},
    }, f"not the closed case {closed['id']} nor the one without a place {unplaced['id']}"
    assert set(layer["stages"]) == {"filing", "dispatch", "acceptance", "handling", "verification", "closing", "suspended"}


def test_each_role_maps_the_cases_its_lists_show(client, role_headers):
    greening = report(client, role_headers["hotline_operator"])
    lamp = report(client, role_headers["hotline_operator"], title="路灯不亮", category="道路设施", **ELSEWHERE)
    def mapped(role, **params):
        return set(case_map(client, role_headers[role], **params)["id"])
    assert mapped("district_commander") == mapped("analyst") == {greening["id"], lamp["id"]}
    assert mapped("street_operator") == mapped("grid_officer") == {greening["id"]}  # 徐家汇's
    assert mapped("department_handler") == {greening["id"]}  # 绿化市容局's
    assert mapped("district_commander", area="310104014") == {greening["id"]}
    assert mapped("street_operator", area=lamp["street_code"]) == set()
    for role in ("citizen", "service"):
        assert client.get("/api/cases/map", headers=role_headers[role]).status_code == 403
    assert client.get("/api/cases/map").status_code == 401


def test_the_case_map_carries_nothing_personal_nor_the_reporters_words(client, role_headers):
    report(client, role_headers["hotline_operator"], description="我叫张三，住在3号楼", address="虹桥路1号")
    text = client.get("/api/cases/map", headers=role_headers["district_commander"]).text
    for personal in ("张三", "13812345678", "人行道树木倒伏", "3号楼", "虹桥路"):
        assert personal not in text


def test_the_device_map_gives_each_devices_online_latest_value_and_alert_level(client, role_headers, devices, sessions):
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        session.execute(sa.update(Device).where(Device.code.in_(["XH-PM25", "XH-CROWD"])).values(last_seen_at=now))
        session.add_all([Observation(device_id=devices["XH-PM25"], metric="pm25", observed_at=now - timedelta(hours=2), value=41.0),
                         Observation(device_id=devices["XH-PM25"], metric="pm25", observed_at=now - timedelta(hours=1), value=38.5),
                         Observation(device_id=devices["XH-PM25"], metric="pm10", observed_at=now, value=77.0)])
        session.add(Alert(rule="device_silent", subject="device:XH-CROWD/*", device_id=devices["XH-CROWD"], level=2,
                          opened_at=now, title={}, street_code="310104014", district_code="310104"))
        session.add(Alert(rule="pm25_high", subject="device:XH-PM25/pm25", device_id=devices["XH-PM25"], level=3,
                          opened_at=now, title={}, street_code="310104014", district_code="310104"))
        session.add(Alert(rule="pm25_spike", subject="device:XH-PM25/pm25", device_id=devices["XH-PM25"], level=1,
                          opened_at=now, title={}, street_code="310104014", district_code="310104"))
    response = client.get("/api/devices/map", headers=role_headers["district_commander"])
    assert response.status_code == 200, response.text
    layer = response.json()
    assert set(layer) == DEVICE_COLUMNS
    mapped = rows(layer)
    assert {devices[code]: mapped[devices[code]] for code in ("XH-PM25", "XH-CROWD", "TP-WATER")} == {
        devices["XH-PM25"]: {"lon": 121.4367, "lat": 31.1887, "kind": "air_quality", "status": "active", "online": 1,
                             "value": 38.5, "level": 3},
        devices["XH-CROWD"]: {"lon": 121.4376, "lat": 31.1951, "kind": "people_counter", "status": "active", "online": 0,
                              "value": None, "level": 0},  # its no-data alert makes it offline, not yellow
        devices["TP-WATER"]: {"lon": 121.4473, "lat": 31.2065, "kind": "water_level", "status": "active", "online": None,
                              "value": None, "level": 0},  # never heard yet
    }
    air = next(k for k in layer["kinds"] if k["kind"] == "air_quality")
    assert air == {"kind": "air_quality", "zh": "空气质量监测站", "en": air["en"], "metric": "pm25", "metric_zh": "PM2.5",
                   "metric_en": "PM2.5", "unit": "µg/m³"}
    assert layer["levels"] == ["blue", "yellow", "orange", "red"]


def test_each_role_maps_the_devices_its_list_shows_and_levels_only_of_alerts_it_may_read(client, role_headers, sessions):
    with transaction(sessions) as session:
        device = session.scalar(sa.select(Device).where(Device.code == "PM-XJH-1"))
        session.add(Alert(rule="pm25_high", subject="device:PM-XJH-1/pm25", device_id=device.id, level=4, opened_at=datetime.now(UTC),
                          title={}, street_code=device.street_code, district_code=device.district_code))
        ids = dict(session.execute(sa.select(Device.code, Device.id)).all())
    def mapped(role):
        response = client.get("/api/devices/map", headers=role_headers[role])
        assert response.status_code == 200, response.text
        return {ident: record["level"] for ident, record in rows(response.json()).items()}
    everything = {ids["PM-XJH-1"]: 4, ids["PM-XJH-2"]: 0, ids["PM-TP-1"]: 0}
    assert mapped("district_commander") == mapped("analyst") == everything
    assert mapped("street_operator") == {ids["PM-XJH-1"]: 4, ids["PM-XJH-2"]: 0}  # 徐家汇's
    assert mapped("department_handler") == {ids["PM-XJH-2"]: 0, ids["PM-TP-1"]: 0}  # 绿化市容局's
    assert mapped("service") == dict.fromkeys(everything, 0)  # reads devices, not alerts
    for role in ("citizen", "hotline_operator"):
        assert client.get("/api/devices/map", headers=role_headers[role]).status_code == 403
    assert client.get("/api/devices/map").status_code == 401


def test_the_device_map_names_no_device_nor_its_owner(client, role_headers, devices):
    text = client.get("/api/devices/map", headers=role_headers["district_commander"]).text
    for named in ("XH-PM25", "徐汇监测站", "生态环境局", "天平路下立交积水"):
        assert named not in text


def test_a_scope_without_devices_or_cases_maps_none(client, role_headers):
    headers = role_headers["committee_worker"]  # 东塘居委会: the demo's devices are filed under no committee
    assert client.get("/api/devices/map", headers=headers).json() == {
        "kinds": [], "statuses": ["active", "maintenance", "retired"], "levels": ["blue", "yellow", "orange", "red"], "id": [],
        "lon": [], "lat": [], "kind": [], "status": [], "online": [], "value": [], "level": []}
    assert client.get("/api/cases/map", headers=headers).json() == {
        "stages": ["acceptance", "closing", "dispatch", "filing", "handling", "suspended", "verification"], "id": [], "lon": [],
        "lat": [], "stage": [], "due": []}
