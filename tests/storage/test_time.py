"""Time columns: a time in any zone is kept as its instant and read back as aware UTC, on both backends."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import shapely
import sqlalchemy as sa

from huizhili.errors import NaiveTimeError
from huizhili.storage.models import Device, Event

SHANGHAI = timezone(timedelta(hours=8))
MORNING = datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
"""08:00 in Shanghai: midnight UTC."""


def event(at):
    return Event(at=at, kind="device.reading", permission="read:public", resource="devices", payload={})


def test_a_shanghai_time_reads_back_as_the_same_instant_in_utc(session):
    session.add(event(MORNING))
    session.commit()
    stored = session.scalar(sa.select(Event.at))
    assert (stored, stored.tzinfo) == (MORNING, UTC)


def test_sql_compares_instants_whatever_zone_they_were_written_in(session):
    times = [MORNING - timedelta(minutes=1), MORNING, datetime(2026, 3, 1, 0, 1, tzinfo=UTC)]
    session.add_all([event(at) for at in times])
    session.commit()
    since = session.scalars(sa.select(Event.at).where(Event.at >= MORNING).order_by(Event.at)).all()
    assert since == [datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 1, 0, 1, tzinfo=UTC)]
    assert session.scalar(sa.select(sa.func.max(Event.at))).tzinfo is UTC


def test_a_device_installed_in_shanghai_time_keeps_its_instant(session):
    session.add(Device(code="PM-1", sensor_kind="pm25", installed_at=MORNING, geometry=shapely.Point(121.4, 31.2), lon=121.4, lat=31.2, properties={}))
    session.commit()
    assert session.scalar(sa.select(Device.installed_at)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_time_without_a_zone_is_refused(session):
    session.add(event(datetime(2026, 3, 1, 8, 0)))
    with pytest.raises(sa.exc.StatementError) as raised:
        session.commit()
    assert isinstance(raised.value.orig, NaiveTimeError)


def test_sqlite_keeps_fixed_width_utc_text_as_it_always_has(engine, session):
    if engine.dialect.name != "sqlite":
        pytest.skip("the stored text is SQLite's")
    session.add(event(MORNING))
    session.commit()
    assert session.scalar(sa.text("SELECT at FROM events")) == "2026-03-01 00:00:00.000000"


def test_sqlite_rows_written_before_read_as_utc(engine, session):
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite stored times without their zone")
    session.execute(sa.text("INSERT INTO events (at, kind, permission, resource, payload) "
                            "VALUES ('2026-03-01 00:00:00.000000', 'device.reading', 'read:public', 'devices', '{}')"))
    session.commit()
    assert session.scalar(sa.select(Event.at)) == datetime(2026, 3, 1, tzinfo=UTC)
