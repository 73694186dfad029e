"""The ingest pipeline: each observation stored once, rollups kept, every bad message a dead letter."""

import json
import math
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sensing_samples import LIMITS, NOW

from huizhili.policy import Principal
from huizhili.sensing.ingest import Message, ingest
from huizhili.storage.engine import transaction
from huizhili.storage.models import DeadLetter, Device, Observation, ObservationRollup


def mqtt(code, document, suffix="observations"):
    return Message("mqtt", json.dumps(document).encode(), topic=f"huizhili/devices/{code}/{suffix}")


def test_a_repeated_message_is_stored_once_and_counted_once_in_its_rollups(xuhui, devices):
    messages = [mqtt("XH-PM25", {"ts": "2026-12-01T10:00:00+08:00", "values": {"pm25": 40, "pm10": 60}}),
                mqtt("XH-PM25", {"ts": "2026-12-01T10:30:00+08:00", "metric": "pm25", "value": 80})]
    with transaction(xuhui) as session:
        first = ingest(session, messages, NOW, LIMITS)
    with transaction(xuhui) as session:
        again = ingest(session, messages, NOW, LIMITS)
    assert (len(first.stored), first.duplicates, len(again.stored), again.duplicates) == (3, 0, 0, 3)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 3
        hour = session.execute(sa.select(ObservationRollup.count, ObservationRollup.minimum, ObservationRollup.maximum,
                                         ObservationRollup.total, ObservationRollup.last)
                               .where(ObservationRollup.metric == "pm25", ObservationRollup.resolution == 3600)).one()
        day = session.execute(sa.select(ObservationRollup.bucket, ObservationRollup.count)
                              .where(ObservationRollup.metric == "pm25", ObservationRollup.resolution == 86400)).one()
        device = session.get(Device, devices["XH-PM25"])
    assert tuple(hour) == (2, 40.0, 80.0, 120.0, 80.0)
    assert day == (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), 2), "days start at Shanghai's midnight"
    assert device.last_seen_at == NOW
    assert device.silent_after == NOW + timedelta(hours=3), "three hourly intervals from its last message"


BAD = {
    "not JSON": (mqtt("XH-PM25", None).__class__("mqtt", b"{pm25: 1", topic="huizhili/devices/XH-PM25/o"), "not JSON"),
    "unknown device": (mqtt("NOBODY", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1}), "unknown device NOBODY"),
    "another's topic": (mqtt("XH-CROWD", {"device": "XH-PM25", "ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1}),
                        "may not publish under huizhili/devices/XH-CROWD/observations"),
    "future": (mqtt("XH-PM25", {"ts": "2026-12-01T13:00:00Z", "metric": "pm25", "value": 1}), "is in the future"),
    "before installation": (mqtt("XH-PM25", {"ts": "2012-12-31T00:00:00Z", "metric": "pm25", "value": 1}), "before its installation"),
    "too old without install date": (None, "before the last 30 days"),
    "not finite": (Message("mqtt", b'{"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": NaN}',
                           topic="huizhili/devices/XH-PM25/o"), "nan is not a finite number"),
    "out of range": (mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 5000}), "outside the possible 0–2000 µg/m³"),
    "oversized": (mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1, "pad": "x" * 20000}), "larger than the 16,384 accepted"),
    "metric it does not measure": (mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "people", "value": 1}), "does not measure 'people'"),
    "no timestamp": (mqtt("XH-PM25", {"metric": "pm25", "value": 1}), "ts None is not an ISO 8601 time"),
    "text value": (mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": "12"}), "value '12' is not a number"),
    "wrong topic": (Message("mqtt", b"{}", topic="elsewhere/x"), "is not under huizhili/devices/"),
}


def test_every_kind_of_bad_message_is_a_dead_letter_with_its_reason_and_the_good_ones_after_are_stored(xuhui, devices):
    with transaction(xuhui) as session:  # a device without an install date takes 30 days back
        session.execute(sa.update(Device).where(Device.code == "XH-CROWD").values(installed_at=None))
    BAD["too old without install date"] = (mqtt("XH-CROWD", {"ts": "2026-10-01T00:00:00Z", "metric": "people", "value": 5}), BAD["too old without install date"][1])
    good = [mqtt("XH-CROWD", {"ts": "2026-12-01T11:00:00Z", "metric": "people", "value": 120}),
            mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 35})]
    messages = [message for message, _ in BAD.values()] + good
    with transaction(xuhui) as session:
        result = ingest(session, messages, NOW, LIMITS)
    assert len(result.stored) == 2
    assert [index for index, _ in result.rejected] == list(range(len(BAD)))
    for (_, reason), (name, (_, expected)) in zip(result.rejected, BAD.items(), strict=True):
        assert expected in reason, f"{name}: {reason}"
    with xuhui() as session:
        letters = session.scalars(sa.select(DeadLetter).order_by(DeadLetter.id)).all()
    assert len(letters) == len(BAD)
    assert letters[0].raw == b"{pm25: 1" and letters[0].device_code == "XH-PM25"
    oversized = next(letter for letter in letters if "larger than" in letter.reason)
    assert (len(oversized.raw), oversized.size) == (4096, len(BAD["oversized"][0].payload)), "raw bytes are bounded"


def test_over_http_a_device_sends_only_its_own_observations(xuhui, devices):
    sender = Principal(username="device-XH-PM25", role="device", device_code="XH-PM25")
    body = [{"device": "XH-PM25", "ts": 1764583200, "metric": "pm25", "value": 12.5},
            {"device": "XH-CROWD", "ts": 1764583200, "metric": "people", "value": 12}]
    with transaction(xuhui) as session:
        result = ingest(session, [Message("http", json.dumps(item).encode(), sender=sender) for item in body], NOW, LIMITS)
    assert [(r.metric, r.value) for r in result.stored] == [("pm25", 12.5)]
    assert result.rejected == [(1, "device-XH-PM25 may not send observations of device XH-CROWD")]
    assert not math.isnan(result.stored[0].value)


def test_retention_drops_old_raw_observations_and_keeps_their_rollups(xuhui, devices, settings):
    from huizhili.sensing.retention import prune_series

    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
    with transaction(xuhui) as session:
        ingest(session, [mqtt("XH-PM25", {"ts": t.isoformat(), "metric": "pm25", "value": 10}) for t in (old, recent)], NOW, LIMITS)
        outcomes = prune_series(session, settings, now=NOW)
    assert [(o.resource, o.records) for o in outcomes] == [("observations", 1), ("minute_rollups", 0), ("hour_rollups", 0),
                                                          ("dead_letters", 0)]
    with xuhui() as session:
        assert session.scalars(sa.select(Observation.observed_at)).all() == [recent]
        days = session.scalar(sa.select(sa.func.count()).select_from(ObservationRollup).where(ObservationRollup.resolution == 86400))
    assert days == 2, "the day rollups of both are kept"


POISON = {
    "year 9999 west of UTC": b'{"ts": "9999-12-31T23:59:59-01:00", "metric": "pm25", "value": 1}',
    "year 1 east of UTC": b'{"ts": "0001-01-01T00:00:00+01:00", "metric": "pm25", "value": 1}',
    "before year 1": b'{"ts": -62135596801, "metric": "pm25", "value": 1}',
    "a 400-digit value": b'{"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1' + b"0" * 400 + b"}",
    "a 400-digit time": b'{"ts": 1' + b"0" * 400 + b', "metric": "pm25", "value": 1}',
    "a 5,000-digit value": b'{"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1' + b"0" * 5000 + b"}",
    "nesting 10,000 deep": b"[" * 10000,
    "a lone surrogate for a metric": b'{"ts": "2026-12-01T11:00:00Z", "metric": "\\ud800", "value": "x"}',
    "a NUL for a metric": b'{"ts": "2026-12-01T11:00:00Z", "metric": "\\u0000", "value": 1}',
    "a metric name too long": b'{"ts": "2026-12-01T11:00:00Z", "metric": "' + b"m" * 41 + b'", "value": 1}',
    "a device with a NUL": b'{"device": "a\\u0000", "ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1}',
    "a device code too long": b'{"device": "' + b"x" * 100 + b'", "ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1}',
}


def test_messages_no_check_was_written_for_become_dead_letters_not_errors(xuhui, devices):
    limits = LIMITS.__class__(**{**vars(LIMITS), "max_bytes": 100_000})
    messages = [Message("mqtt", payload, topic="huizhili/devices/XH-PM25/o") for payload in POISON.values()]
    messages.append(Message("mqtt", b'{"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 1}', topic="huizhili/devices/" + "t" * 420))
    messages.append(mqtt("XH-PM25", {"ts": "2026-12-01T11:00:00Z", "metric": "pm25", "value": 7}))
    with transaction(xuhui) as session:
        result = ingest(session, messages, NOW, limits)
    assert [r.value for r in result.stored] == [7.0]
    assert [index for index, _ in result.rejected] == list(range(len(POISON) + 1))
    with xuhui() as session:
        letters = session.scalars(sa.select(DeadLetter).order_by(DeadLetter.id)).all()
    assert len(letters) == len(POISON) + 1
    assert all("\x00" not in (d.reason + (d.device_code or "")) and len(d.topic or "") <= 300 for d in letters)


def test_an_observation_older_than_raw_observations_are_kept_is_refused_so_rollups_never_count_it_twice(xuhui, devices):
    limits = LIMITS.__class__(**{**vars(LIMITS), "keep_raw_days": 30})
    old = mqtt("XH-PM25", {"ts": (NOW - timedelta(days=40)).isoformat(), "metric": "pm25", "value": 10})
    with transaction(xuhui) as session:
        result = ingest(session, [old], NOW, limits)
    assert result.stored == [] and "before the 30 days observations are kept" in result.rejected[0][1]
