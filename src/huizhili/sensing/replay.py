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
            except (IndexError, ValueError) as error:
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
