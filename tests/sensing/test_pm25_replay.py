"""Replaying the Xuhui station through the 2013 smog: a red warning for the district on 6 December, none on a clean day, no-data on time."""

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sensing_samples import LIMITS

import huizhili.sensing
from huizhili.sensing.pipeline import Library
from huizhili.sensing.replay import read_series, replay_in_process
from huizhili.sensing.rules import load_indicators, load_scenarios
from huizhili.storage.models import Alert, IndicatorValue

SERIES = Path(huizhili.sensing.__file__).parent / "demo" / "pm25-xuhui-2013-11-15_2013-12-31.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_day(moment):
    """The Shanghai date of an instant."""
    return moment.astimezone(SHANGHAI).date()


@pytest.fixture
def replayed(xuhui, devices):
    """The station's series replayed on its own clock; the district's code and every alert, oldest first."""
    rules = Library(tuple(load_scenarios()), tuple(load_indicators()))
    stored = replay_in_process(xuhui, read_series(SERIES), "XH-PM25", "pm25", LIMITS, rules)
    assert stored == 1069
    with xuhui() as session:
        return session.scalars(sa.select(Alert).order_by(Alert.opened_at, Alert.id)).all()


def test_the_smog_of_6_december_2013_is_a_red_warning_for_xuhui_and_a_clean_day_has_none(xuhui, replayed):
    district = [a for a in replayed if a.rule == "indicator:pm25_24h" and a.subject == "area:310104"]
    red = [a for a in district if a.level == 4]
    assert red, f"no red PM2.5 warning for 徐汇区: {[(a.level, a.opened_at) for a in district]}"
    smog = datetime(2013, 12, 6, tzinfo=SHANGHAI)
    during = [a for a in red if a.opened_at < smog and (a.resolved_at is None or a.resolved_at > smog + timedelta(days=1))]
    assert during, f"no red warning was active all through 6 December: {[(a.opened_at, a.resolved_at) for a in red]}"
    with xuhui() as session:
        day = session.execute(sa.select(IndicatorValue.level, IndicatorValue.value).where(
            IndicatorValue.indicator == "pm25_24h", IndicatorValue.area_code == "310104",
            IndicatorValue.at >= smog, IndicatorValue.at < smog + timedelta(days=1))).all()
    assert len(day) >= 20 and {level for level, _ in day} == {4}, "the district was red every hour the station reported"
    assert 450 < max(value for _, value in day) < 520, "the 24-hour mean reached about 490 µg/m³"
    clean = date(2013, 12, 17)  # daily mean 10 µg/m³, the day after a day of 17
    start = datetime(2013, 12, 17, tzinfo=SHANGHAI)
    assert not [a for a in district if local_day(a.opened_at) == clean]
    assert all(a.resolved_at is not None and a.resolved_at < start + timedelta(days=1) or local_day(a.opened_at) > clean
               for a in district), "every warning before the clean day had ended by it"
    with xuhui() as session:
        levels = session.scalars(sa.select(IndicatorValue.level).where(
            IndicatorValue.indicator == "pm25_24h", IndicatorValue.area_code == "310104",
            IndicatorValue.at >= start, IndicatorValue.at < start + timedelta(days=1))).all()
    assert len(levels) >= 20 and set(levels) == {0}, "the district's PM2.5 level stayed clear all day"


def test_the_stations_missing_hours_raise_no_data_on_time(replayed):
    silent = [a for a in replayed if a.rule == "device_silent"]
    # The only run of 3 or more missing hours: 01:00–03:00 on 17 December; the last value came at 00:00.
    assert [(a.opened_at.astimezone(SHANGHAI), a.resolution) for a in silent] == [
        (datetime(2013, 12, 17, 3, 0, tzinfo=SHANGHAI), "recovered")]
    alert = silent[0]
    assert alert.raised_at - alert.opened_at <= timedelta(minutes=15), "raised at the first tick after the deadline"
    assert alert.resolved_at == datetime(2013, 12, 17, 4, 0, tzinfo=SHANGHAI), "resolved when the 04:00 value came"
