"""Intake from every channel: located, put in its areas, linked to the open case of its incident or filed anew."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sensing_samples import LIMITS

from huizhili.base.crs import from_wgs84
from huizhili.cases.classifier import train_csv
from huizhili.cases.flow import DEMO_TRAINING, PLATFORM, case_flow
from huizhili.cases.intake import Report, cases_from_alerts, report_case
from huizhili.cases.reading import public_view, signals
from huizhili.config import Settings
from huizhili.errors import NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.sensing.ingest import Message
from huizhili.sensing.pipeline import Library, receive
from huizhili.sensing.rules import load_indicators, load_scenarios
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Case, CaseSignal

NOW = datetime(2026, 7, 6, 0, 30, tzinfo=UTC)  # 08:30 on a Monday in Shanghai: a summer storm
UNDERPASS = (121.4473, 31.2065)  # the 天平路 underpass gauge TP-WATER of the sensing samples
HOTLINE = Principal(username="hotline", role="hotline_operator")
CITIZEN_APP = Principal(username="app", role="service")


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


def take(sessions, flow, report, when=NOW, by=HOTLINE):
    with transaction(sessions) as session:
        intake = report_case(session, Scope(by), by, flow, report, when)
        return intake.case.id, intake.linked


def metres_east(lon, lat, metres):
    return lon + metres / (111_320 * 0.8557), lat  # cos(31.2°) ≈ 0.8557


def test_reports_of_one_incident_are_linked_and_others_are_not(xuhui, flow):
    first, linked = take(xuhui, flow, Report(channel="hotline", title="下立交积水", lon=UNDERPASS[0], lat=UNDERPASS[1],
                                             category="积水内涝", reporter_name="王五", reporter_phone="13900001111"))
    assert not linked
    near = metres_east(*UNDERPASS, 250)
    assert take(xuhui, flow, Report(channel="hotline", title="路口积水", lon=near[0], lat=near[1], category="积水内涝",
                                    reporter_name="赵六", reporter_phone="13900002222"), NOW + timedelta(hours=1)) == (first, True)
    far = metres_east(*UNDERPASS, 400)
    assert take(xuhui, flow, Report(channel="hotline", title="积水", lon=far[0], lat=far[1], category="积水内涝"))[0] != first
    other_kind, linked = take(xuhui, flow, Report(channel="hotline", title="噪声", lon=near[0], lat=near[1], category="噪声扰民"))
    assert other_kind != first and not linked
    later, linked = take(xuhui, flow, Report(channel="hotline", title="又积水", lon=near[0], lat=near[1], category="积水内涝"),
                         NOW + timedelta(hours=14))  # 13 h after the latest signal: past the 12 h window
    assert later != first and not linked
    with xuhui() as session:
        reporters = [(s.reporter_name, s.linked_by) for s in signals(session, session.get(Case, first))]
        assert reporters == [("王五", "first"), ("赵六", "nearby")]  # every reporter kept


def test_positions_from_phone_maps_and_place_names_are_found_in_their_street(xuhui, flow):
    gcj_lon, gcj_lat = from_wgs84(*UNDERPASS, "gcj02")
    bd_lon, bd_lat = from_wgs84(*UNDERPASS, "bd09")
    for crs, lon, lat in [("gcj02", gcj_lon, gcj_lat), ("bd09", bd_lon, bd_lat)]:
        case_id, _ = take(xuhui, flow, Report(channel="open311", title="井盖破损", lon=float(lon), lat=float(lat), crs=crs,
                                              category="道路设施"), by=CITIZEN_APP)
        with xuhui() as session:
            case = session.get(Case, case_id)
            assert (round(case.lon, 5), round(case.lat, 5), case.street_code) == (*UNDERPASS, "310104003")
    case_id, _ = take(xuhui, flow, Report(channel="hotline", title="站口有人发小广告", place="徐家汇", category="市容环境"))
    with xuhui() as session:
        assert session.get(Case, case_id).street_code == "310104014"
    with pytest.raises(NotFoundError, match="no place called"):
        take(xuhui, flow, Report(channel="hotline", title="x", place="不存在的地方"))
    with pytest.raises(ValidationError, match="outside every area"):
        take(xuhui, flow, Report(channel="hotline", title="x", lon=121.8, lat=31.0))
    with pytest.raises(ValidationError, match="unknown channel"):
        take(xuhui, flow, Report(channel="fax", title="x"))


def flood(sessions, depths):
    """The underpass gauge reports ``(seconds after NOW, cm)`` — each reading arriving at its own time."""
    library = Library(tuple(load_scenarios()), tuple(load_indicators()))
    for seconds, depth in depths:
        at = NOW + timedelta(seconds=seconds)
        payload = json.dumps({"ts": at.isoformat(), "metric": "water_level_cm", "value": depth}).encode()
        with transaction(sessions) as session:
            receive(session, [Message("mqtt", payload, topic="huizhili/devices/TP-WATER/water_level_cm")], at, LIMITS, library)


def test_a_flooded_underpass_alert_and_two_citizens_calls_are_one_case_dispatched_with_its_countdown(xuhui, flow, provisioned):
    flood(xuhui, [(0, 3), (60, 17), (120, 19), (180, 21)])
    with transaction(xuhui) as session:
        [intake] = cases_from_alerts(session, flow, NOW + timedelta(seconds=180))
        assert cases_from_alerts(session, flow, NOW + timedelta(seconds=181)) == []  # one case per episode
        case_id = intake.case.id
    gcj = from_wgs84(*metres_east(*UNDERPASS, 120), "gcj02")
    calls = [Report(channel="open311", title="天平路下立交积水很深，车辆无法通行", lon=float(gcj[0]), lat=float(gcj[1]), crs="gcj02",
                    category="积水内涝", reporter_phone="13700003333"),
             Report(channel="hotline", title="下立交积水", place="天平路街道", category="积水内涝", reporter_name="钱七",
                    lon=UNDERPASS[0], lat=UNDERPASS[1])]
    assert take(xuhui, flow, calls[0], NOW + timedelta(minutes=5), CITIZEN_APP) == (case_id, True)
    assert take(xuhui, flow, calls[1], NOW + timedelta(minutes=7)) == (case_id, True)
    with xuhui() as session:
        case = session.get(Case, case_id)
        alert = session.scalar(sa.select(Alert).where(Alert.rule == "flooding"))
        assert (case.channel, case.category, case.department, case.alert_id, case.state) == (
            "sensor", "积水内涝", "建设管理委", alert.id, "dispatched")
        assert [s.channel for s in signals(session, case)] == ["sensor", "open311", "hotline"]
        view = public_view(session, flow, case.number, NOW + timedelta(minutes=10))
        assert view["signals"] == 3 and view["open"] and view["unit"] == "建设管理委" and view["street"] == "天平路街道"
        assert view["due_at"] == datetime(2026, 7, 10, 9, 0, tzinfo=UTC)  # help: 5 working days from 09:00, due Friday 17:00
        assert view["seconds_left"] == (view["due_at"] - (NOW + timedelta(minutes=10))).total_seconds()
        assert "reporter" not in json.dumps(view, default=str) and "1370000" not in json.dumps(view, default=str)
        assert session.scalar(sa.select(sa.func.count()).select_from(CaseSignal)) == 3


def test_a_sensor_case_goes_to_the_scenarios_responder(xuhui, flow, provisioned):
    flood(xuhui, [(0, 3), (60, 30), (120, 31)])
    with transaction(xuhui) as session:
        [intake] = cases_from_alerts(session, flow, NOW + timedelta(seconds=120))
        assert (intake.case.department, intake.case.created_by) == ("建设管理委", PLATFORM.username)


@pytest.fixture(scope="module")
def demo_classifier():
    """The demo's classifier, trained on its illustrative messages (once for the module: training takes seconds)."""
    return train_csv(DEMO_TRAINING, ["title", "detail"], "category")


def test_a_report_without_a_category_is_classified_and_dispatched_or_waits_for_a_person(xuhui, flow, demo_classifier):
    flow = replace(flow, classifier=demo_classifier)
    case_id, _ = take(xuhui, flow, Report(channel="hotline", title="小区门口垃圾桶满了好几天没人清运",
                                          description="垃圾溢出来，气味很大，请尽快清运", lon=UNDERPASS[0], lat=UNDERPASS[1]))
    with xuhui() as session:
        case = session.get(Case, case_id)
        assert (case.category, case.category_source, case.state, case.department) == ("垃圾分类", "model", "dispatched", "绿化市容局")
        assert case.category_confidence >= 0.6 and len(case.suggestions) == 3
        assert case.suggestions[0] == {"category": "垃圾分类", "confidence": case.category_confidence}
    unsure, _ = take(xuhui, replace(flow, confident=1.0), Report(channel="hotline", title="想问一下", lon=UNDERPASS[0],
                                                                 lat=UNDERPASS[1]))
    with xuhui() as session:
        case = session.get(Case, unsure)
        assert (case.category, case.state, len(case.suggestions)) == (None, "received", 3)  # a person chooses
