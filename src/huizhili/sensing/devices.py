"""The device registry as deployed: provisioning from a spreadsheet, with broker credentials.

A deployment hands the district a list of devices — code, kind, place, owner — and needs each
one registered, given a broker password and let through the broker's ACL. ``provision`` does
that in one transaction; a row it cannot take is reported with its line and reason and the rest
go in, so one typo does not hold up five hundred installations.
"""

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.assign import assign_areas
from huizhili.departments import unknown_departments
from huizhili.errors import ImportFailed, ValidationError
from huizhili.identity.accounts import create_device_account
from huizhili.identity.broker import write_broker_files
from huizhili.sensing.catalogue import catalogue
from huizhili.storable import text_problem
from huizhili.storage.models import DEVICE_STATUSES, Device, Facility, User, utcnow

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""Device codes: what may stand in an MQTT topic level and a username, nothing else."""

MAX_INTERVAL_S = 30 * 86400
"""The longest reporting interval a device may be given."""

_WHOLE = re.compile(r"^[0-9]{1,18}$")

COLUMNS = ("code", "kind", "name", "lon", "lat", "metrics", "interval_s", "owner_department", "owner",
           "installed_at", "status", "capacity", "facility")
"""Columns a provisioning file may have; ``code``, ``kind``, ``lon`` and ``lat`` are required.
``facility`` is the id of the service point a queue counter reports for (its live status follows)."""


@dataclass
class Provisioned:
    """What provisioning did: devices created and updated, rows refused, credentials issued (once)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[tuple[str, str, str]] = field(default_factory=list)
    broker_files: tuple[Path, Path] | None = None


def expected_metrics(device: Device) -> dict[str, dict[str, Any]]:
    """The metrics a device reports: its own list, else its kind's, each with unit and valid range."""
    if device.metrics:
        return device.metrics
    kind = catalogue().kinds.get(device.sensor_kind)
    return metric_specs(kind.metrics) if kind else {}


def metric_specs(names: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """Unit and valid range of catalogue metrics, as stored in ``devices.metrics``."""
    metrics = catalogue().metrics
    return {n: {"unit": metrics[n].unit, "min": metrics[n].minimum, "max": metrics[n].maximum} for n in names}


def reporting_interval(device: Device) -> int | None:
    """Seconds between a device's expected reports, or None if it reports only when something happens."""
    if device.interval_s is not None:
        return device.interval_s or None
    kind = catalogue().kinds.get(device.sensor_kind)
    return kind.interval_s or None if kind else None


def provision(
    session: Session,
    path: Path,
    *,
    broker_dir: Path,
    local_timezone: str,
    no_data_intervals: int,
    file_name: str | None = None,
) -> Provisioned:
    """Register or update the devices listed in a CSV file, give new ones broker credentials, rewrite the broker's files.

    Parameters
    ----------
    session
        Inside the caller's transaction.
    path
        UTF-8 CSV (a byte-order mark is fine) with the columns of :data:`COLUMNS`. ``metrics``
        lists catalogue metrics separated by ``;`` (default: the kind's); ``installed_at`` is an
        ISO date or time, in ``local_timezone`` unless it names a zone; ``status`` one of
        :data:`~huizhili.storage.models.DEVICE_STATUSES` (default active).
    broker_dir
        Where ``passwd`` and ``acl`` are rewritten.
    local_timezone
        The district's zone, for install times without one.
    no_data_intervals
        A new device is silent once this many of its intervals pass without a first report.
    file_name
        How messages name the file (default its name).

    Returns
    -------
    Provisioned
        Passwords appear only here, once.

    Raises
    ------
    ImportFailed
        If the file cannot be read as CSV or lacks a required column.
    """
    name = file_name or path.name
    rows = _read_rows(path, name)
    result = Provisioned()
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    departments = {row.get("owner_department") or None for _, row in rows} - {None}
    unknown = set(unknown_departments(session, departments))
    named = {int(r["facility"]) for _, r in rows if _WHOLE.match(r.get("facility", ""))}
    facilities = set(session.scalars(sa.select(Facility.id).where(Facility.id.in_(named)))) if named else set()
    for line, row in rows:
        try:
            fields = _device_fields(row, ZoneInfo(local_timezone), unknown, facilities)
            if fields["code"] in seen:
                message = f"code {fields['code']!r} is also on line {seen[fields['code']]}"
                raise ValidationError(message)
        except ValidationError as error:
            result.rejected.append({"line": line, "code": row.get("code") or None, "reason": str(error)})
            continue
        seen[fields["code"]] = line
        parsed.append((line, fields))
    existing = {d.code: d for d in session.scalars(sa.select(Device).where(Device.code.in_(list(seen))))}
    now = utcnow()
    touched: list[Device] = []
    for _, fields in parsed:
        device = existing.get(fields["code"])
        facility = fields.pop("facility")
        if device is None:
            device = Device(properties={}, **fields)
            session.add(device)
            result.created.append(device.code)
        else:
            for key, value in fields.items():
                setattr(device, key, value)
            result.updated.append(device.code)
        properties = {k: v for k, v in (device.properties or {}).items() if k != "facility"}
        device.properties = {**properties, "facility": facility} if facility is not None else properties
        # The no-data clock starts now for a new device, and again for one changed (back from maintenance,
        # a new interval): never from a deadline set before the change.
        interval = reporting_interval(device)
        device.silent_after = now + timedelta(seconds=interval * no_data_intervals) if interval and device.status == "active" else None
        touched.append(device)
    session.flush()
    if touched:
        assign_areas(session, [Device], [d.id for d in touched])
    with_account = set(session.scalars(sa.select(User.device_code).where(User.device_code.in_(list(seen)))))
    for device in touched:
        if device.code not in with_account and device.status != "retired":
            user, password = create_device_account(session, device.code)
            result.credentials.append((device.code, user.username, password))
    result.broker_files = write_broker_files(session, broker_dir)
    return result


def _read_rows(path: Path, name: str) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with their line numbers (the header is line 1)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [column.strip() for column in reader.fieldnames or []]
            missing = [c for c in ("code", "kind", "lon", "lat") if c not in header]
            if missing:
                message = f"{name}: no column {', '.join(missing)}; columns: {', '.join(COLUMNS)}"
                raise ImportFailed(message)
            reader.fieldnames = header
            return [
                (reader.line_num, {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}) for row in reader
            ]
    except (UnicodeDecodeError, csv.Error) as error:
        message = f"{name}: not a UTF-8 CSV file ({error})"
        raise ImportFailed(message) from error


def _device_fields(row: dict[str, str], zone: ZoneInfo, unknown_departments: set[str], facilities: set[int]) -> dict[str, Any]:
    """One row as device columns, or a ValidationError saying what is wrong with it."""
    code, kind = row.get("code", ""), row.get("kind", "")
    if not CODE_PATTERN.match(code):
        message = f"code {code!r} must be 1–64 letters, digits, '_', '.' or '-'"
        raise ValidationError(message)
    known = catalogue()
    if kind not in known.kinds:
        message = f"unknown kind {kind!r}; kinds: {', '.join(sorted(known.kinds))}"
        raise ValidationError(message)
    lon, lat = _number(row, "lon"), _number(row, "lat")
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        message = f"lon/lat {row.get('lon')!r}, {row.get('lat')!r} is not a WGS84 position"
        raise ValidationError(message)
    names = [m.strip() for m in row.get("metrics", "").split(";") if m.strip()] or list(known.kinds[kind].metrics)
    strangers = [m for m in names if m not in known.metrics]
    if strangers:
        message = f"unknown metric {', '.join(strangers)}; metrics: {', '.join(sorted(known.metrics))}"
        raise ValidationError(message)
    interval = _number(row, "interval_s")
    if interval is not None and (interval < 0 or interval > MAX_INTERVAL_S or interval != int(interval)):
        message = f"interval_s {row['interval_s']!r} must be a whole number of seconds up to 30 days (0: reports only events)"
        raise ValidationError(message)
    for column in ("name", "owner"):
        if len(row.get(column) or "") > 300 or text_problem(row.get(column)):
            message = f"{column} must be text of at most 300 characters"
            raise ValidationError(message)
    status = row.get("status") or "active"
    if status not in DEVICE_STATUSES:
        message = f"status {status!r} must be one of {', '.join(DEVICE_STATUSES)}"
        raise ValidationError(message)
    department = row.get("owner_department") or None
    if department in unknown_departments:
        message = f"no department {department!r}; add it first (huizhili department add)"
        raise ValidationError(message)
    facility = row.get("facility") or None
    if facility is not None and (not _WHOLE.match(facility) or int(facility) not in facilities):
        message = f"facility {facility!r} is no facility's id (GET /api/facilities)"
        raise ValidationError(message)
    capacity = _number(row, "capacity")
    if capacity is not None and not 0 < capacity <= 10_000_000:
        message = f"capacity {row['capacity']!r} must be a positive number of people (at most 10,000,000)"
        raise ValidationError(message)
    return {
        "code": code, "sensor_kind": kind, "name": row.get("name") or None, "lon": lon, "lat": lat,
        "geometry": shapely.Point(lon, lat), "metrics": metric_specs(names),
        "interval_s": int(interval) if interval is not None else None, "owner_department": department,
        "owner": row.get("owner") or None, "installed_at": _install_time(row.get("installed_at", ""), zone),
        "status": status, "capacity": capacity, "facility": int(facility) if facility else None,
    }


def _number(row: dict[str, str], column: str) -> float | None:
    """A column's finite number, None when blank."""
    text = row.get(column, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        message = f"{column} {text!r} is not a number"
        raise ValidationError(message)
    return value


def _install_time(text: str, zone: ZoneInfo) -> datetime | None:
    """An ISO date or time; without a zone, in the district's."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        message = f"installed_at {text!r} is not an ISO date or time (2024-05-01 or 2024-05-01T09:00+08:00)"
        raise ValidationError(message) from error
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
