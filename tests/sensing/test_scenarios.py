"""Every scenario of the shipped library, fed its trigger: the alert it raises, and what does not raise it."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sensing_samples import LIMITS

from huizhili.policy import Principal, Scope
from huizhili.sensing.alerts import check_silence
from huizhili.sensing.devices import provision
from huizhili.sensing.households import join
from huizhili.sensing.ingest import Message
from huizhili.sensing.pipeline import Library, receive
from huizhili.sensing.rules import load_indicators, load_scenarios
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Area, Device, Facility, Observation

START = datetime(2026, 11, 1, tzinfo=UTC)
RULES = Library(tuple(load_scenarios()), tuple(load_indicators()))
LEVEL = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}

DEVICES = """code,kind,lon,lat,installed_at,capacity,owner
AQ,air_quality,121.437,31.19,2026-01-01,,
CROWD,people_counter,121.437,31.19,2026-01-01,2000,
WATER,water_level,121.437,31.19,2026-01-01,,
COVER,manhole_cover,121.437,31.19,2026-01-01,,
COVER-OWNED,manhole_cover,121.437,31.19,2026-01-01,,上海市自来水公司
GAS,gas_detector,121.437,31.19,2026-01-01,,
DUST,dust_monitor,121.437,31.19,2026-01-01,,
SMOKE,smoke_detector,121.437,31.19,2026-01-01,,
LIFT,lift_camera,121.437,31.19,2026-01-01,,
CAM,ai_camera,121.437,31.19,2026-01-01,,
BIN,bin_sensor,121.437,31.19,2026-01-01,,
BIKES,bike_counter,121.437,31.19,2026-01-01,40,
FLAT,occupancy_sensor,121.437,31.19,2026-01-01,4,
HELP,help_button,121.437,31.19,2026-01-01,,
METER,water_meter,121.437,31.19,2026-01-01,,
"""


@pytest.fixture
def library_devices(xuhui, tmp_path):
    path = tmp_path / "devices.csv"
    path.write_text(DEVICES, encoding="utf-8")
    with transaction(xuhui) as session:
        provision(session, path, broker_dir=tmp_path / "broker", local_timezone="Asia/Shanghai", no_data_intervals=3)
        # The lone-elderly devices watch over a household that joined by consent (a committee in the devices' street).
        committee = session.scalar(sa.select(Device.committee_code).where(Device.code == "METER"))
        committee = committee or session.scalar(sa.select(Area.code).where(Area.level == "committee", Area.parent_code == session.scalar(
            sa.select(Device.street_code).where(Device.code == "METER"))).limit(1))
        join(session, Scope.system(), Principal(username="setup", role="district_admin"), committee=committee,
             consent_note="form 1", devices=["METER", "SMOKE", "HELP"], now=START - timedelta(days=1))
    return xuhui


def feed(sessions, device, metric, series):
    """Send ``(seconds after START, value)`` points one message each, each arriving at its own time."""
    for seconds, value in series:
        at = START + timedelta(seconds=seconds)
        payload = json.dumps({"ts": at.isoformat(), "metric": metric, "value": value}).encode()
        with transaction(sessions) as session:
            receive(session, [Message("mqtt", payload, topic=f"huizhili/devices/{device}/{metric}")], at, LIMITS, RULES)


def alerts_of(sessions, rule):
    with sessions() as session:
        return session.scalars(sa.select(Alert).where(Alert.rule == rule).order_by(Alert.id)).all()


HOUR, DAY = 3600, 86400
CASES = {
    # scenario: (device, metric, trigger series, level, a series that must not trigger)
    "pm25_hourly": ("AQ", "pm25", [(0, 60), (HOUR, 380)], "red", [(0, 60), (HOUR, 110)]),
    "crowd_density": ("CROWD", "people", [(0, 1500), (900, 1700), (1800, 1850)], "orange", [(0, 1500), (900, 1590)]),
    "flooding": ("WATER", "water_level_cm", [(0, 2), (300, 16), (360, 17)], "orange", [(0, 2), (300, 16)]),  # 16 cm for 60 s
    "manhole_tilt": ("COVER", "tilt_deg", [(0, 2), (10, 20), (13, 21)], "orange", [(0, 2), (10, 20), (12, 3)]),  # > 15° for 3 s
    "gas_leak": ("GAS", "gas_lel_pct", [(0, 0), (60, 22)], "red", [(0, 0), (60, 8)]),
    "construction_dust": ("DUST", "pm10", [(m * 60, 200 + 30 * m) for m in range(16)], "red", [(m * 60, 120) for m in range(16)]),
    "lone_elderly_smoke": ("SMOKE", "smoke", [(0, 0), (60, 1)], "red", [(0, 0), (60, 0)]),
    "ebike_in_lift": ("LIFT", "ebike_detected", [(0, 1)], "yellow", [(0, 0)]),
    "lift_entrapment": ("LIFT", "entrapment", [(0, 1)], "red", [(0, 0)]),
    "muck_truck_uncovered": ("CAM", "muck_truck_uncovered", [(0, 1)], "yellow", [(0, 0)]),
    "street_disorder": ("CAM", "street_disorder", [(0, 1)], "blue", [(0, 0)]),
    "fire_lane_blocked": ("CAM", "fire_lane_blocked", [(0, 1), (300, 1)], "orange", [(0, 1), (120, 0)]),  # blocked 5 minutes
    "thrown_object": ("CAM", "thrown_object", [(0, 1)], "orange", [(0, 0)]),
    "ebike_indoor_charging": ("CAM", "ebike_charging", [(0, 1)], "orange", [(0, 0)]),
    "bin_overflow": ("BIN", "fill_pct", [(0, 40), (1800, 85)], "yellow", [(0, 40), (1800, 70)]),
    "shared_bike_overcrowding": ("BIKES", "bikes", [(0, 30), (900, 65), (2700, 66)], "orange", [(0, 30), (900, 65), (1800, 30)]),
    "group_rental": ("FLAT", "occupants", [(h * HOUR, 9) for h in range(0, 7 * 24 + 2, 6)], "yellow",
                     [(h * HOUR, 4) for h in range(0, 7 * 24 + 2, 6)]),
    "elderly_help": ("HELP", "help", [(0, 1)], "red", [(0, 0)]),
    "flood_rising": ("WATER", "water_level_cm", [(0, 1), (300, 4), (600, 12)], "orange", [(0, 1), (300, 2), (600, 4)]),
    "gas_sudden_rise": ("GAS", "gas_lel_pct", [(m * 60, 0.2 + 0.05 * (m % 3)) for m in range(30)] + [(1800, 4.0)], "yellow",
                        [(m * 60, 0.2 + 0.05 * (m % 3)) for m in range(30)]),
    "lone_elderly_no_water": ("METER", "water_m3", [(m * 1800, 0.0) for m in range(26)], "orange",
                              [(m * 1800, 0.002) for m in range(26)]),
}


@pytest.mark.parametrize("scenario", sorted(CASES))
def test_each_scenario_raises_its_alert_on_its_trigger_and_not_otherwise(library_devices, scenario):
    device, metric, trigger, level, harmless = CASES[scenario]
    feed(library_devices, device, metric, harmless)
    assert alerts_of(library_devices, scenario) == [], f"the harmless series raised an alert: {[(a.value, a.evidence) for a in alerts_of(library_devices, scenario)]}"
    after = harmless[-1][0] + DAY  # later than all of it, so no window holds both
    feed(library_devices, device, metric, [(after + s, v) for s, v in trigger])
    raised = alerts_of(library_devices, scenario)
    assert [(a.level, a.state, a.subject) for a in raised] == [(LEVEL[level], "open", f"device:{device}/{metric}")]
    assert raised[0].respond_by - raised[0].opened_at == timedelta(seconds=next(
        s.respond_within_s for s in RULES.scenarios if s.id == scenario))


def test_every_scenario_of_the_library_has_its_test():
    tested = set(CASES) | {"device_silent", "service_point_busy", "lone_elderly_high_water", "hotline_12345", "air_quality_unusual"}
    assert {s.id for s in RULES.scenarios} == tested
    assert len(RULES.scenarios) >= 20


def test_a_tilted_cover_goes_to_its_owner_and_an_unowned_one_to_the_fallback_unit(library_devices):
    feed(library_devices, "COVER", "tilt_deg", [(0, 20), (5, 20)])
    feed(library_devices, "COVER-OWNED", "tilt_deg", [(0, 20), (5, 20)])
    notified = {a.subject: (a.department, a.evidence["notify"]) for a in alerts_of(library_devices, "manhole_tilt")}
    assert notified == {"device:COVER/tilt_deg": ("建设管理委", "建设管理委"),
                        "device:COVER-OWNED/tilt_deg": ("建设管理委", "上海市自来水公司")}


def test_crowd_density_escalates_as_it_worsens_and_resolves_after_its_hold(library_devices):
    def alert():
        (only,) = alerts_of(library_devices, "crowd_density")
        return only

    feed(library_devices, "CROWD", "people", [(0, 1650)])  # 82.5 % of 2,000: yellow
    feed(library_devices, "CROWD", "people", [(200, 1000)])  # back down, but held 200 s of its 900
    assert (alert().state, alert().level) == ("open", 2)
    feed(library_devices, "CROWD", "people", [(900, 1900), (1800, 2100)])
    assert (alert().level, alert().escalated_at) == (4, START + timedelta(seconds=1800))
    assert [p[1] for p in alert().evidence["window"]] == [82.5, 50.0, 95.0, 105.0], "the evidence: share of capacity, %"
    feed(library_devices, "CROWD", "people", [(2700, 900)])
    assert (alert().state, alert().resolution, alert().level) == ("resolved", "recovered", 4), "it keeps its worst level"


def test_a_household_that_always_uses_much_water_on_one_day_is_not_an_alarm_on_it(library_devices):
    # Four weeks with a cleaning day of 2.4 m³ each Sunday, else 0.2 m³ a day (30-minute readings).
    series = []
    for day in range(28):
        daily = 2.4 if day % 7 == 6 else 0.2
        series += [(day * DAY + m * 1800, round(daily / 48, 4)) for m in range(48)]
    feed(library_devices, "METER", "water_m3", series)
    days = [(a.opened_at - START).days for a in alerts_of(library_devices, "lone_elderly_high_water")]
    assert days == [6], "only the first cleaning day, before the household had a baseline"
    feed(library_devices, "METER", "water_m3", [(28 * DAY + m * 1800, 0.1) for m in range(48)])  # 4.8 m³: a burst pipe
    burst = alerts_of(library_devices, "lone_elderly_high_water")[-1]
    assert (burst.opened_at - START).days == 28 and burst.level == 2
    assert burst.evidence["closure"].startswith("联系人电话确认")


def test_a_queue_counter_sets_its_service_points_live_status(library_devices, tmp_path):
    with library_devices() as session:
        centre = session.scalar(sa.select(Facility.id).where(Facility.kind == "health_centre").limit(1))
    path = tmp_path / "queue.csv"
    path.write_text(f"code,kind,lon,lat,installed_at,facility\nQUEUE,queue_counter,121.437,31.19,2026-01-01,{centre}\n")
    with transaction(library_devices) as session:
        provision(session, path, broker_dir=tmp_path / "broker", local_timezone="Asia/Shanghai", no_data_intervals=3)
    levels = []
    for seconds, waiting in [(0, 0), (300, 12), (600, 35), (900, 3)]:
        feed(library_devices, "QUEUE", "queue", [(seconds, waiting)])
        with library_devices() as session:
            levels.append(session.scalar(sa.select(Facility.queue_level).where(Facility.id == centre)))
    assert levels == ["none", "medium", "long", "short"]
    assert [a.level for a in alerts_of(library_devices, "service_point_busy")] == [2], "very busy is also a yellow alert"
    with transaction(library_devices) as session:  # the service point closes for good
        session.execute(sa.delete(Facility).where(Facility.id == centre))
    feed(library_devices, "QUEUE", "queue", [(1200, 40)])
    with library_devices() as session:
        assert session.scalar(sa.select(sa.func.max(Observation.value)).where(Observation.metric == "queue")) == 40.0


def test_a_silent_device_is_flagged_at_its_deadline_and_recovers_when_heard(library_devices):
    feed(library_devices, "AQ", "pm25", [(0, 30)])  # air-quality stations report hourly: silent after 3 h
    with transaction(library_devices) as session:
        assert check_silence(session, RULES.scenarios, START + timedelta(hours=2, minutes=59)) == 0
        assert check_silence(session, RULES.scenarios, START + timedelta(hours=3, seconds=1)) == 1
        assert check_silence(session, RULES.scenarios, START + timedelta(hours=4)) == 0, "one alert per silence"
    (alert,) = alerts_of(library_devices, "device_silent")
    assert (alert.opened_at, alert.state) == (START + timedelta(hours=3), "open")
    feed(library_devices, "AQ", "pm25", [(5 * HOUR, 31)])
    assert alerts_of(library_devices, "device_silent")[0].resolution == "recovered"


def test_an_unusual_reading_for_the_station_is_flagged_and_its_daily_rush_hour_is_not(library_devices):
    import math

    # Three weeks of hourly PM2.5 with a morning rush-hour peak, then one hour far above anything this station sees.
    usual = [(h * HOUR, round(40 + 30 * math.exp(-((h % 24 - 8) ** 2) / 4) + 3 * math.sin(h * 1.7), 1)) for h in range(21 * 24)]
    feed(library_devices, "AQ", "pm25", usual)
    assert alerts_of(library_devices, "air_quality_unusual") == [], "the daily peak is this station's own pattern"
    feed(library_devices, "AQ", "pm25", [(21 * DAY + 3 * HOUR, 190)])
    (alert,) = alerts_of(library_devices, "air_quality_unusual")
    assert alert.level == 1 and alert.evidence["window"][-1][1:] == [190, round(alert.value, 3)] and alert.value > 0.9


def test_the_share_of_devices_online_per_street_falls_as_devices_fall_silent(library_devices):
    from huizhili.sensing.vitals import update_online_rates
    from huizhili.storage.models import IndicatorValue

    feed(library_devices, "AQ", "pm25", [(0, 30)])  # reports hourly
    feed(library_devices, "CROWD", "people", [(0, 300)])  # every 15 minutes: silent after 45
    with transaction(library_devices) as session:
        update_online_rates(session, RULES.indicators, START + timedelta(minutes=30), ["device_silent"])
        check_silence(session, RULES.scenarios, START + timedelta(hours=1))
        update_online_rates(session, RULES.indicators, START + timedelta(hours=1), ["device_silent"])
    with library_devices() as session:
        street = session.execute(sa.select(IndicatorValue.at, IndicatorValue.value, IndicatorValue.level).where(
            IndicatorValue.indicator == "devices_online", IndicatorValue.area_code.like("310104___")).order_by(IndicatorValue.at)).all()
    assert [(value, level) for _, value, level in street] == [(100.0, 0), (50.0, 4)], "the second hour: one of two silent"
    (alert,) = [a for a in alerts_of(library_devices, "indicator:devices_online") if a.street_code]
    assert alert.level == 4 and alert.evidence["silent"] == 1


def test_a_lone_elderly_scenario_does_not_judge_a_device_no_consenting_household_has(library_devices, tmp_path):
    path = tmp_path / "meter.csv"
    path.write_text("code,kind,lon,lat,installed_at\nMETER-2,water_meter,121.437,31.19,2026-01-01\n")
    with transaction(library_devices) as session:
        provision(session, path, broker_dir=tmp_path / "broker", local_timezone="Asia/Shanghai", no_data_intervals=3)
    feed(library_devices, "METER-2", "water_m3", [(m * 1800, 0.0) for m in range(26)])
    assert alerts_of(library_devices, "lone_elderly_no_water") == []


def test_a_silence_resolved_by_hand_is_flagged_again_if_the_device_stays_silent(library_devices):
    from huizhili.policy import Principal
    from huizhili.sensing.alerts import handle

    feed(library_devices, "AQ", "pm25", [(0, 30)])
    with transaction(library_devices) as session:
        check_silence(session, RULES.scenarios, START + timedelta(hours=3))
    (alert,) = alerts_of(library_devices, "device_silent")
    chief = Principal(username="chief", role="district_commander")
    with transaction(library_devices) as session:
        handle(session, Scope(chief), chief, alert.id, "resolve", "checked: power restored", START + timedelta(hours=4))
    with transaction(library_devices) as session:
        assert check_silence(session, RULES.scenarios, START + timedelta(hours=6, minutes=59)) == 0
        assert check_silence(session, RULES.scenarios, START + timedelta(hours=7)) == 1, "three intervals after the hand's resolve"


def test_silent_devices_are_flagged_a_page_at_a_time(library_devices):
    with transaction(library_devices) as session:
        later = START + timedelta(days=400)  # every provisioned device is long past its first deadline
        assert check_silence(session, RULES.scenarios, later, page=4) == 4
        assert check_silence(session, RULES.scenarios, later, page=100) == 11, "the rest of the fifteen"
        assert check_silence(session, RULES.scenarios, later) == 0
