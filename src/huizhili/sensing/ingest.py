"""Ingest: messages from devices become observations, each stored once, or dead letters saying why not.

One pipeline for every channel: MQTT messages (the worker's subscriber) and HTTP batches
(``POST /api/observations``) are handed to :func:`ingest` with the time they arrived, inside the
caller's transaction. It stores new observations (a repeat of the same device, metric and
instant is a duplicate, not a second row), keeps the minute, hour and day rollups, moves each
sending device's no-data clock on, lets the rules judge what is new, and keeps every message it
could not use in ``dead_letters``. The caller commits, and only then acknowledges: a message is
acknowledged only once what it carried is stored, so a crash loses nothing and a redelivery
adds nothing.

A message is JSON: ``{"ts": …, "metric": …, "value": …}``, or ``{"ts": …, "values": {metric:
value, …}}``, or a list of those; ``ts`` is ISO 8601 with a zone (none means UTC) or Unix
seconds. Over MQTT the device is the topic's (``huizhili/devices/<code>/…``) and a ``device``
field, if any, must name the same; over HTTP each item names its ``device``.
"""

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from huizhili.config import Settings
from huizhili.identity.broker import DEVICE_TOPIC_ROOT, device_topic, may_publish
from huizhili.policy import Principal, Scope
from huizhili.sensing.devices import CODE_PATTERN, expected_metrics, reporting_interval
from huizhili.storage.models import (
    ROLLUP_RESOLUTIONS,
    DeadLetter,
    Device,
    Observation,
    ObservationRollup,
)

DEAD_LETTER_RAW_BYTES = 4096
"""How much of a refused message is kept: enough to see what was wrong, bounded whatever is sent."""

METRIC_PATTERN = re.compile(r"^[a-z0-9_]{1,40}$")
"""Metric names, as the catalogue gives them: what fits the column and reads in a reason."""


@dataclass(frozen=True)
class Message:
    """One message as it arrived: its channel, topic (MQTT), sender (HTTP) and bytes."""

    channel: str
    payload: bytes
    topic: str | None = None
    sender: Principal | None = None


@dataclass(frozen=True)
class Reading:
    """An observation that passed every check."""

    device_id: int
    metric: str
    observed_at: datetime
    value: float


@dataclass
class Ingested:
    """What one call stored: new readings, how many repeated stored ones, and why messages were refused."""

    stored: list[Reading] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(index of the message, reason), in message order."""
    heard: set[int] = field(default_factory=set)
    """Ids of the devices that sent something valid (stored or a repeat): they are not silent."""
    devices: dict[int, Device] = field(default_factory=dict)
    """The devices the messages named, by id, as read for this batch (rules and vital signs reuse them)."""


@dataclass(frozen=True)
class Limits:
    """What the ingest accepts (from settings): message size, how far ahead or back in time, the no-data clock."""

    max_bytes: int
    future_s: int
    max_age_days: int
    no_data_intervals: int
    timezone: str
    keep_raw_days: int | None = None
    """How long raw observations are kept: an older one is refused, since nothing would tell a
    repeat of it from a new one once its row is gone (and its rollups, kept longer, would count it twice)."""

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        """The limits the settings give."""
        return cls(settings.ingest_max_bytes, settings.ingest_future_s, settings.ingest_max_age_days,
                   settings.no_data_intervals, settings.local_timezone, settings.retention_raw_days)


class _Refused(Exception):
    """A message or item the ingest cannot use, with the reason kept in its dead letter."""

    def __init__(self, reason: str, device_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.device_code = reason, device_code


def ingest(session: Session, messages: Sequence[Message], now: datetime, limits: Limits) -> Ingested:
    """Store what ``messages`` carry; refused ones become dead letters. The caller commits, then acknowledges.

    Parameters
    ----------
    session
        Inside the caller's transaction.
    messages
        In arrival order.
    now
        When they arrived: the future limit and the no-data clock count from it.
    limits
        What is accepted.
    """
    result = Ingested()
    letters: dict[int, _Refused] = {}
    items: list[tuple[int, str, str, datetime, float]] = []  # message index, device code, metric, time, value
    for index, message in enumerate(messages):
        try:
            items.extend((index, *item) for item in _parse(message, limits))
        except _Refused as refused:
            letters[index] = refused
    devices = _devices(session, {code for _, code, *_ in items})
    readings: list[Reading] = []
    arrived: set[int] = set()
    for index, code, metric, moment, value in items:
        try:
            device = devices.get(code)
            readings.append(_checked(device, code, metric, moment, value, now, limits))
            arrived.add(readings[-1].device_id)
        except _Refused as refused:
            letters.setdefault(index, refused)  # one dead letter per message, naming its first problem
    for index in sorted(letters):  # kept in the order the messages came
        _dead_letter(session, messages[index], letters[index], now)
        result.rejected.append((index, letters[index].reason))
    unique = list({(r.device_id, r.metric, r.observed_at): r for r in readings}.values())
    result.stored = _store(session, unique)
    result.duplicates = len(readings) - len(result.stored)
    _roll_up(session, result.stored, ZoneInfo(limits.timezone))
    _clock(session, [device for device in devices.values() if device.id in arrived], now, limits)
    result.heard = arrived
    result.devices = {device.id: device for device in devices.values()}
    return result


def _parse(message: Message, limits: Limits) -> list[tuple[str, str, datetime, float]]:
    """(device code, metric, time, value) of every reading a message carries, or _Refused."""
    topic_code = _topic_device(message.topic) if message.channel == "mqtt" else None
    if len(message.payload) > limits.max_bytes:
        reason = f"message of {len(message.payload):,} bytes is larger than the {limits.max_bytes:,} accepted"
        raise _Refused(reason, topic_code)
    try:
        document = json.loads(message.payload)
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, numbers of thousands of digits, deep nesting
        raise _Refused(f"not JSON: {type(error).__name__}: {str(error)[:200]}", topic_code) from error
    entries = document if isinstance(document, list) else [document]
    if not entries:
        raise _Refused("an empty list carries no observation", topic_code)
    found: list[tuple[str, str, datetime, float]] = []
    for position, entry in enumerate(entries):
        where = f"item {position}: " if isinstance(document, list) else ""
        if not isinstance(entry, dict):
            raise _Refused(f"{where}expected an object with ts and metric/value or values", topic_code)
        code = _sender_device(message, topic_code, entry, where)
        moment = _timestamp(entry.get("ts"), where, code)
        if "values" in entry:
            values = entry["values"]
            if not isinstance(values, dict) or not values:
                raise _Refused(f"{where}values must be an object of metric: value", code)
            pairs = list(values.items())
        elif "metric" in entry and "value" in entry:
            pairs = [(entry["metric"], entry["value"])]
        else:
            raise _Refused(f"{where}needs metric and value, or values", code)
        for metric, value in pairs:
            if not isinstance(metric, str) or not METRIC_PATTERN.match(metric):
                raise _Refused(f"{where}metric {_shown(metric)} must be 1–40 lower-case letters, digits or _", code)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Refused(f"{where}{metric}: value {_shown(value)} is not a number", code)
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            found.append((code, metric, moment, number))
    return found


def _shown(value: Any) -> str:
    """An untrusted value as a reason may quote it: its repr, escaped and cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _storable(text: str | None, limit: int) -> str | None:
    """Text a column of ``limit`` characters holds on both backends: no NUL, no lone surrogate."""
    if text is None:
        return None
    clean = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return clean[:limit]


def _topic_device(topic: str | None) -> str | None:
    """The device code in ``huizhili/devices/<code>/…``, or None for any other topic (or no code a device can have)."""
    prefix = DEVICE_TOPIC_ROOT + "/"
    if not topic or not topic.startswith(prefix):
        return None
    code = topic[len(prefix) :].split("/", 1)[0]
    return code if CODE_PATTERN.match(code) else None


def _sender_device(message: Message, topic_code: str | None, entry: dict[str, Any], where: str) -> str:
    """The device an entry is from, checked against who sent it: a device writes only as itself."""
    named = entry.get("device")
    if named is not None and not (isinstance(named, str) and CODE_PATTERN.match(named)):
        raise _Refused(f"{where}device {_shown(named)} is not a device code", topic_code)
    if message.channel == "mqtt":
        if topic_code is None:
            raise _Refused(f"topic {_shown(message.topic)} is not under {DEVICE_TOPIC_ROOT}/<device code>/")
        code = named or topic_code
        # The broker's ACL let the publisher write this topic; the payload must not speak for another device.
        if not may_publish(Principal(username=f"device-{code}", role="device", device_code=code), message.topic or ""):
            raise _Refused(f"{where}device {code} may not publish under {message.topic} (another device's topic)", code)
        return code
    if not named:
        raise _Refused(f"{where}names no device")
    sender = message.sender
    if sender is not None and sender.role == "device" and not may_publish(sender, device_topic(named)):
        raise _Refused(f"{where}{sender.username} may not send observations of device {named}", named)
    return named


def _timestamp(value: Any, where: str, code: str) -> datetime:
    """``ts`` as an aware UTC time: ISO 8601 (no zone: UTC) or Unix seconds."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float):
        try:  # the size first: math.isfinite of a 400-digit integer overflows
            if abs(value) > 1e11 or not math.isfinite(value):
                raise ValueError(value)
            return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError) as error:
            raise _Refused(f"{where}ts {_shown(value)} is not a Unix time in seconds", code) from error
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):  # not ISO, or an instant beyond year 1–9999 in UTC
            pass
    raise _Refused(f"{where}ts {_shown(value)} is not an ISO 8601 time or Unix seconds", code)


def _devices(session: Session, codes: set[str]) -> dict[str, Device]:
    """The named devices, read fresh for every batch: a device retired a second ago is refused now."""
    if not codes:
        return {}
    # Not its shape: the ingest needs what a device measures and where it is filed, not its geometry.
    query = sa.select(Device).where(Device.code.in_(sorted(codes))).options(defer(Device.geometry))
    return {d.code: d for d in session.scalars(query)}


def _checked(
    device: Device | None, code: str, metric: str, moment: datetime, value: float, now: datetime, limits: Limits
) -> Reading:
    """A reading the device may send: known, not retired, a metric it measures, in range and in time."""
    if device is None:
        raise _Refused(f"unknown device {code}", code)
    if device.status == "retired":
        raise _Refused(f"device {code} is retired", code)
    spec = expected_metrics(device).get(metric)
    if spec is None:
        known = ", ".join(sorted(expected_metrics(device))) or "nothing"
        raise _Refused(f"device {code} does not measure {metric!r} (it measures {known})", code)
    if not math.isfinite(value):
        raise _Refused(f"{code} {metric}: {value} is not a finite number", code)
    if not (spec["min"] <= value <= spec["max"]):
        raise _Refused(f"{code} {metric}: {value:g} is outside the possible {spec['min']:g}–{spec['max']:g} {spec['unit']}", code)
    if moment > now + timedelta(seconds=limits.future_s):
        raise _Refused(f"{code} {metric}: ts {moment.isoformat()} is in the future (now {now.isoformat(timespec='seconds')})", code)
    earliest = device.installed_at or now - timedelta(days=limits.max_age_days)
    since = "its installation" if device.installed_at else f"the last {limits.max_age_days} days"
    if limits.keep_raw_days is not None and earliest < now - timedelta(days=limits.keep_raw_days):
        earliest, since = now - timedelta(days=limits.keep_raw_days), f"the {limits.keep_raw_days} days observations are kept"
    if moment < earliest:
        raise _Refused(f"{code} {metric}: ts {moment.isoformat()} is before {since} ({earliest.isoformat(timespec='seconds')})", code)
    return Reading(device.id, metric, moment, value)


def _insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT with ON CONFLICT (both backends have it)."""
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)


def _store(session: Session, readings: Sequence[Reading]) -> list[Reading]:
    """Insert readings, skipping those stored before; the newly stored ones (only they count in rollups).

    One statement executed with many parameter sets: SQLAlchemy compiles it once (and caches it)
    and sends the rows in pages ("insertmanyvalues"), where a ``VALUES`` list of literal rows
    would be compiled anew for every batch, which cost more than the database's own work.
    """
    if not readings:
        return []
    table = Observation.__table__
    rows = [{"device_id": r.device_id, "metric": r.metric, "observed_at": r.observed_at, "value": r.value} for r in readings]
    statement = _insert(session, table).on_conflict_do_nothing().returning(
        table.c.device_id, table.c.metric, table.c.observed_at, table.c.value
    )
    return [Reading(*row) for row in session.execute(statement, rows)]


@lru_cache(maxsize=4096)
def _local_midnight(day: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local midnight starting the local date of ``day`` (given as that date's local noon)."""
    return day.replace(hour=0).astimezone(UTC)


def bucket_start(moment: datetime, resolution: int, zone: ZoneInfo) -> datetime:
    """The start of the rollup bucket holding ``moment``: whole UTC minutes and hours, local days."""
    if resolution < 86400:
        seconds = int(moment.timestamp())
        return datetime.fromtimestamp(seconds - seconds % resolution, UTC)
    local = moment.astimezone(zone)
    return _local_midnight(local.replace(hour=12, minute=0, second=0, microsecond=0, fold=0), zone)


def _roll_up(session: Session, readings: Iterable[Reading], zone: ZoneInfo) -> None:
    """Add new readings to their minute, hour and day buckets (count, min, max, sum, last)."""
    buckets: dict[tuple[int, str, int, datetime], list[Any]] = {}
    for r in readings:
        for resolution in ROLLUP_RESOLUTIONS.values():
            key = (r.device_id, r.metric, resolution, bucket_start(r.observed_at, resolution, zone))
            b = buckets.get(key)
            if b is None:
                buckets[key] = [1, r.value, r.value, r.value, r.value, r.observed_at]
            else:
                b[0] += 1
                b[1], b[2], b[3] = min(b[1], r.value), max(b[2], r.value), b[3] + r.value
                if r.observed_at >= b[5]:
                    b[4], b[5] = r.value, r.observed_at
    if not buckets:
        return
    table = ObservationRollup.__table__
    rows = [
        {"device_id": d, "metric": m, "resolution": res, "bucket": start, "count": b[0], "minimum": b[1],
         "maximum": b[2], "total": b[3], "last": b[4], "last_at": b[5]}
        for (d, m, res, start), b in buckets.items()
    ]
    statement = _insert(session, table)
    new = statement.excluded
    later = new.last_at >= table.c.last_at
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.device_id, table.c.metric, table.c.resolution, table.c.bucket],
        set_={
            "count": table.c.count + new.count,
            "minimum": sa.case((new.minimum < table.c.minimum, new.minimum), else_=table.c.minimum),
            "maximum": sa.case((new.maximum > table.c.maximum, new.maximum), else_=table.c.maximum),
            "total": table.c.total + new.total,
            "last": sa.case((later, new.last), else_=table.c.last),
            "last_at": sa.case((later, new.last_at), else_=table.c.last_at),
        },
    )
    session.execute(statement, rows)  # one statement, many parameter sets (see _store)


def _clock(session: Session, devices: Iterable[Device], now: datetime, limits: Limits) -> None:
    """Devices that sent something valid were heard now: their no-data deadline moves on.

    One UPDATE per distinct deadline (devices of one reporting interval share it) rather than
    one per device through the unit of work; the loaded devices are told their new values.
    """
    by_deadline: dict[datetime | None, list[Device]] = {}
    for device in devices:
        interval = reporting_interval(device)
        deadline = now + timedelta(seconds=interval * limits.no_data_intervals) if interval else None
        by_deadline.setdefault(deadline, []).append(device)
    session.flush()
    for deadline, heard in by_deadline.items():
        ids = [device.id for device in heard]
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            session.execute(sa.update(Device).where(Device.id.in_(ids[start : start + _IDS_PER_STATEMENT]))
                            .values(last_seen_at=now, silent_after=deadline).execution_options(synchronize_session=False))
        for device in heard:
            set_committed_value(device, "last_seen_at", now)
            set_committed_value(device, "silent_after", deadline)


_IDS_PER_STATEMENT = 5000
"""Device ids per ``IN`` list: under SQLite's and PostgreSQL's limits on bound parameters."""


def dead_letter(session: Session, message: Message, reason: str, now: datetime) -> None:
    """Keep a message that could not be stored for a reason the ingest's checks did not give (its caller's)."""
    _dead_letter(session, message, _Refused(reason, _topic_device(message.topic)), now)


def _dead_letter(session: Session, message: Message, refused: _Refused, now: datetime) -> None:
    """Keep a refused message: why, and its first bytes."""
    session.add(DeadLetter(
        received_at=now, channel=message.channel, topic=_storable(message.topic, 300), device_code=_storable(refused.device_code, 64),
        reason=_storable(refused.reason, 2000), raw=message.payload[:DEAD_LETTER_RAW_BYTES], size=len(message.payload),
    ))


def list_dead_letters(session: Session, scope: Scope, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Dead letters newest last, after the id ``after``: what was refused, why, and its first bytes (as text where it is)."""
    letters = session.scalars(
        sa.select(DeadLetter).where(DeadLetter.id > after, scope.condition(DeadLetter)).order_by(DeadLetter.id).limit(limit)
    ).all()
    return [
        {"id": d.id, "received_at": d.received_at, "channel": d.channel, "topic": d.topic, "device_code": d.device_code,
         "reason": d.reason, "size": d.size, "raw": d.raw.decode("utf-8", errors="replace")}
        for d in letters
    ]
