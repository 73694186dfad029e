"""The sensing demo: real series replayed to end now, leaving live values, vital signs and open alerts."""

from datetime import UTC, datetime

import sqlalchemy as sa

from huizhili.sensing.demo import load_sensing_demo
from huizhili.storage.models import Alert, Device, Observation

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_the_demo_devices_end_at_the_current_hour_with_the_smog_warning_open(xuhui, settings, client, role_headers):
    stored = load_sensing_demo(xuhui, settings, NOW)
    assert stored == {"XH-PM25-DEMO": 483, "XJH-CROWD-DEMO": 336}
    with xuhui() as session:
        latest = session.scalar(sa.select(sa.func.max(Observation.observed_at)))
        red = session.scalars(sa.select(Alert).where(Alert.rule == "indicator:pm25_24h", Alert.subject == "area:310104",
                                                     Alert.active == 1)).one()
        station = session.scalars(sa.select(Device).where(Device.code == "XH-PM25-DEMO")).one()
    assert latest == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert (red.level, red.title["zh"]) == (4, "PM2.5 24小时均值：徐汇区")
    assert station.district_code == "310104" and station.street_code is not None
    headers = role_headers["district_commander"]
    signs = {(v["indicator"], v["area_code"]): v for v in client.get("/api/vitals", headers=headers).json()}
    assert signs[("pm25_24h", "310104")]["level"] == "red" and signs[("pm25_24h", "310104")]["area_name"] == "徐汇区"
    history = client.get("/api/vitals/pm25_24h/310104", headers=headers,
                         params={"since": "2026-11-30T09:00:00Z", "until": "2026-12-01T10:00:00Z"}).json()
    assert len(history) >= 20 and history[-1]["level"] == "red" and history[-1]["at"].startswith("2026-12-01T09:00:00")
    mine = client.get("/api/vitals", headers=role_headers["street_operator"]).json()
    assert {v["area_code"] for v in mine} == {"310104014", "310104014G01"}, "her street's and its grid cell's, nothing else"
