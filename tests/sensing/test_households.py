"""Lone elderly households: consent first, judged only while in, personal fields to the right people only, erased on leaving."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import shapely
import sqlalchemy as sa
from sensing_samples import LIMITS

from huizhili.sensing.ingest import Message
from huizhili.sensing.pipeline import Library, receive
from huizhili.sensing.rules import load_indicators, load_scenarios
from huizhili.storage.engine import transaction
from huizhili.storage.models import AccessLog, Alert, Device

RULES = Library(tuple(load_scenarios()), tuple(load_indicators()))
DONGTANG = "310104014001"
START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def meters(xuhui):
    """Two smart water meters in 东塘居委会 (the sample committee worker's), neither watching anyone yet."""
    with transaction(xuhui) as session:
        for code in ("METER-1", "METER-2"):
            session.add(Device(code=code, sensor_kind="water_meter", geometry=shapely.Point(121.437, 31.19), lon=121.437, lat=31.19,
                               properties={}, installed_at=START - timedelta(days=30), district_code="310104",
                               street_code="310104014", committee_code=DONGTANG, grid_code="310104014G01"))


def silence(sessions, code, start):
    """13 hours of a meter reading no water at all, every 30 minutes."""
    for half_hour in range(27):
        at = start + timedelta(minutes=30 * half_hour)
        payload = json.dumps({"ts": at.isoformat(), "metric": "water_m3", "value": 0.0}).encode()
        with transaction(sessions) as session:
            receive(session, [Message("mqtt", payload, topic=f"huizhili/devices/{code}/water")], at, LIMITS, RULES)


def no_water_alerts(sessions):
    with sessions() as session:
        return session.execute(sa.select(Alert.subject, Alert.evidence).where(Alert.rule == "lone_elderly_no_water")).all()


def test_only_a_consenting_household_is_watched_and_leaving_ends_it_and_erases_its_data(client, xuhui, meters, role_headers):
    worker = role_headers["committee_worker"]
    body = {"committee": DONGTANG, "consent_note": "signed form 2026-118, witnessed by 居委会 staff", "devices": ["METER-1"],
            "name": "王阿婆", "address": "漕溪北路88弄3号502室", "phone": "13812345678",
            "contacts": [{"name": "王小明", "phone": "13900001111", "relation": "son"}]}
    joined = client.post("/api/households", json=body, headers=worker)
    assert joined.status_code == 201, joined.text
    household = joined.json()
    assert (household["devices"], household["consent_recorded_by"], household["street_code"]) == (
        ["METER-1"], "dongtang_worker", "310104014")
    silence(xuhui, "METER-1", START)
    silence(xuhui, "METER-2", START)  # no household consented to this one
    alerts = no_water_alerts(xuhui)
    assert [(subject, evidence["household"]) for subject, evidence in alerts] == [("device:METER-1/water_m3", household["id"])]
    assert alerts[0][1]["steps"] == ["致电紧急联系人", "无人接听：居委会上门查看"]

    left = client.post(f"/api/households/{household['id']}/leave", headers=worker).json()
    assert (left["name"], left["address"], left["phone"], left["contacts"], left["devices"]) == (None, None, None, None, [])
    assert left["consent_note"].startswith("signed form"), "the record of consent stays"
    silence(xuhui, "METER-1", START + timedelta(days=2))
    assert len(no_water_alerts(xuhui)) == 1, "a household that left is no longer watched"


def test_households_are_read_by_their_committee_and_responders_only_and_every_read_is_logged(client, xuhui, meters, role_headers):
    body = {"committee": DONGTANG, "consent_note": "form 7", "devices": ["METER-2"], "name": "李阿公", "phone": "13812345678"}
    assert client.post("/api/households", json=body, headers=role_headers["committee_worker"]).status_code == 201
    seen = {role: client.get("/api/households", headers=role_headers[role]) for role in
            ("committee_worker", "street_operator", "district_commander", "department_handler", "analyst", "grid_officer", "service")}
    assert {role: r.status_code for role, r in seen.items()} == {
        "committee_worker": 200, "street_operator": 200, "district_commander": 200, "department_handler": 200,
        "analyst": 403, "grid_officer": 403, "service": 403}
    assert seen["committee_worker"].json()[0]["name"] == "李阿公"
    assert seen["department_handler"].json() == [], "the greening department does not respond to lone elderly households"
    with xuhui() as session:
        readers = session.scalars(sa.select(AccessLog.username).where(AccessLog.resource == "households", AccessLog.action == "list")
                                  .order_by(AccessLog.id)).all()
    assert readers == ["dongtang_worker", "xujiahui_operator", "commander"], "each unmasked read is logged (none when nothing was read)"


def test_consent_needs_its_record_and_the_devices_of_ones_own_committee(client, meters, role_headers):
    worker = role_headers["committee_worker"]
    no_note = client.post("/api/households", json={"committee": DONGTANG, "consent_note": " ", "devices": ["METER-1"]}, headers=worker)
    elsewhere = client.post("/api/households", json={"committee": "310104003001", "consent_note": "form", "devices": ["METER-1"]},
                            headers=worker)
    assert (no_note.status_code, elsewhere.status_code) == (422, 404)
    assert "consent" in no_note.json()["detail"]


def test_a_households_alerts_are_read_only_by_those_who_may_read_the_household(client, xuhui, meters, role_headers):
    from huizhili.events import START as FIRST_EVENT
    from huizhili.events import read_events
    from huizhili.policy import Principal, scope_for

    body = {"committee": DONGTANG, "consent_note": "form 9", "devices": ["METER-1"], "name": "赵阿婆"}
    household = client.post("/api/households", json=body, headers=role_headers["committee_worker"]).json()
    silence(xuhui, "METER-1", START)
    listed = {role: [a["rule"] for a in client.get("/api/alerts", headers=role_headers[role]).json()]
              for role in ("committee_worker", "district_commander", "analyst", "grid_officer")}
    assert listed == {"committee_worker": ["lone_elderly_no_water"], "district_commander": ["lone_elderly_no_water"],
                      "analyst": [], "grid_officer": []}
    with xuhui() as session:
        for role, expected in (("analyst", 0), ("district_commander", 1)):
            principal = Principal(username=role, role=role)
            seen = [e for e in read_events(session, scope_for(principal), FIRST_EVENT, 1000).events if e["resource"] == "alerts"]
            assert len(seen) == expected, role
    client.post(f"/api/households/{household['id']}/leave", headers=role_headers["committee_worker"])
    (alert,) = client.get("/api/alerts", headers=role_headers["district_commander"]).json()
    assert (alert["state"], alert["resolution"], alert["evidence"], alert["value"]) == ("resolved", "left", {}, None)
