"""The sensing demo: real series replayed to end now, leaving live values, vital signs and open alerts."""

from datetime import UTC, datetime

import sqlalchemy as sa

from huizhili.sensing.demo import load_sensing_demo
from huizhili.storage.models import Alert, Device, Observation

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_the_demo_devices_end_at_the_current_hour_with_the_smog_warning_open(xuhui, settings):
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
