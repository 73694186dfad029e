"""Replaying a recorded series as if its device were sending it now, for demos, drills and tests."""

import csv
import json
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from huizhili.errors import ValidationError
from huizhili.sensing.alerts import check_silence
from huizhili.sensing.ingest import Limits, Message
from huizhili.sensing.pipeline import Library, receive
from huizhili.storage.engine import transaction
from huizhili.storage.models import as_utc


@dataclass(frozen=True)
class Point:
    """One recorded value."""

    at: datetime
    value: float


def read_series(path: Path) -> list[Point]:
    """A ``timestamp,value`` CSV (NAB's format; ISO times, no zone meaning UTC), oldest first.

    Raises
    ------
    ValidationError
        If the header is not ``timestamp,value`` or a row is not a time and a finite number; names the line.
    """
    points = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if not header or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            message = f"{path.name}: line 1 must be the header timestamp,value"
            raise ValidationError(message)
        for line, row in enumerate(rows, 2):
            try:
                at, value = as_utc(datetime.fromisoformat(row[0])), float(row[1])
                if not math.isfinite(value):
                    raise ValueError(value)
            except (IndexError, ValueError, OverflowError) as error:
                message = f"{path.name}: line {line}: expected an ISO time and a number, got {','.join(row)!r}"
                raise ValidationError(message) from error
            points.append(Point(at, value))
    return sorted(points, key=lambda p: p.at)


def replay_in_process(
    sessions: sessionmaker[Session],
    points: list[Point],
    device: str,
    metric: str,
    limits: Limits,
    rules: Library,
    *,
    tick: timedelta = timedelta(minutes=15),
    on_point: Callable[[Point], None] | None = None,
    commit_each: bool = True,
) -> int:
    """Feed ``points`` through the ingest on the series' own clock; how many were stored.

    Each point arrives at its own time, and the silence clock ticks every ``tick`` in between,
    so a gap raises its no-data alert when it would have live, not when the next value comes.
    ``commit_each`` commits every point, so watchers see them come; without it the whole replay
    is one transaction (a demo's backfill: several times faster, all or nothing).
    """
    if not commit_each:
        with transaction(sessions) as session:
            return _replay(lambda: nullcontext(session), points, device, metric, limits, rules, tick, on_point)
    return _replay(lambda: transaction(sessions), points, device, metric, limits, rules, tick, on_point)


def _replay(
    step: Callable[[], AbstractContextManager[Session]],
    points: list[Point],
    device: str,
    metric: str,
    limits: Limits,
    rules: Library,
    tick: timedelta,
    on_point: Callable[[Point], None] | None,
) -> int:
    stored = 0
    topic = f"huizhili/devices/{device}/{metric}"
    for previous, point in _pairs(points):
        if previous is not None and previous.at + tick < point.at:
            with step() as session:
                moment = previous.at + tick
                while moment < point.at:
                    check_silence(session, rules.scenarios, moment)
                    moment += tick
        payload = json.dumps({"ts": point.at.isoformat(), "metric": metric, "value": point.value}).encode()
        with step() as session:
            stored += len(receive(session, [Message("mqtt", payload, topic=topic)], point.at, limits, rules).stored)
        if on_point:
            on_point(point)
    return stored


def _pairs(points: list[Point]) -> Iterator[tuple[Point | None, Point]]:
    previous = None
    for point in points:
        yield previous, point
        previous = point


def send(points: list[Point], device: str, metric: str, to: str, *, key: str | None = None,
         on_point: Callable[[Point], None] | None = None) -> int:
    """Send ``points`` as the device would, to a running platform; how many were accepted.

    Over HTTP (``http(s)://host:port``, with the device's API key: accepted means stored or a
    repeat) or MQTT (``mqtt://user:password@host:port``, the device's broker account, QoS 1:
    acknowledged by the broker). The platform's clock is its own: no-data alerts there follow
    the wall clock, not the series'.

    Raises
    ------
    ValidationError
        If ``to`` is neither, HTTP has no key, or the platform refuses the key or a batch.
    """
    if to.startswith(("http://", "https://")):
        if not key:
            message = "sending over HTTP needs the device's API key (--key)"
            raise ValidationError(message)
        return _send_http(points, device, metric, to.rstrip("/"), key, on_point)
    if to.startswith("mqtt://"):
        return _send_mqtt(points, device, metric, to, on_point)
    message = f"--to must be http(s)://… or mqtt://…, not {to.split(':')[0]}"
    raise ValidationError(message)


def _send_http(points: list[Point], device: str, metric: str, base: str, key: str,
               on_point: Callable[[Point], None] | None) -> int:
    import httpx

    accepted = 0
    with httpx.Client(timeout=30.0, headers={"X-API-Key": key}) as client:
        for point in points:
            item = {"device": device, "ts": point.at.isoformat(), "metric": metric, "value": point.value}
            response = client.post(f"{base}/api/observations", json={"observations": [item]})
            if response.status_code != 200:
                message = f"the platform refused {point.at.isoformat()}: {response.status_code} {response.text[:200]}"
                raise ValidationError(message)
            body = response.json()
            accepted += body["stored"] + body["duplicates"]
            if on_point:
                on_point(point)
    return accepted


def _send_mqtt(points: list[Point], device: str, metric: str, url: str, on_point: Callable[[Point], None] | None) -> int:
    from urllib.parse import unquote, urlsplit

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"replay-{device}", protocol=mqtt.MQTTv5)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        sent = []
        for point in points:
            payload = json.dumps({"ts": point.at.isoformat(), "metric": metric, "value": point.value})
            sent.append(client.publish(f"huizhili/devices/{device}/{metric}", payload, qos=1))
            if on_point:
                on_point(point)
        for info in sent:
            info.wait_for_publish(30)
        return sum(1 for info in sent if info.is_published())
    finally:
        client.disconnect()
        client.loop_stop()
