"""The device layer of the operations map: every device in the caller's scope, with its latest value, online and alert level.

The dashboard draws every device at once, coloured by the level of its active alert and grey
when offline, and a click shows its kind and latest value. The device list (``/api/devices``)
is paged GeoJSON with every column; this is one query of what the map draws, answered as
column arrays with kinds and statuses named once. Online is what the online rate counts
(``vitals.update_online_rates``): an active device heard at least once, offline while a no-data
alert of it is open — the no-data clock's judgement of its last report against its interval.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy import Scope
from huizhili.sensing.alerts import silent_devices
from huizhili.sensing.catalogue import catalogue
from huizhili.storage.arrays import json_arrays, json_object, rounded
from huizhili.storage.models import ALERT_LEVELS, DEVICE_STATUSES, Alert, Device, Observation

DECIMALS = 5
"""Longitude and latitude are rounded to 5 decimals, about a metre."""


def device_layer(session: Session, scope: Scope, silence: list[str]) -> str:
    """Every device the caller may see, as a JSON object of columns.

    Parameters
    ----------
    session
        An open session.
    scope
        The caller's: which devices, as the device list; the alert level only from alerts he may read.
    silence
        The no-data rules (``alerts.silence_rules``): their open alerts make a device offline,
        and are not counted in its level.

    Returns
    -------
    str
        JSON: ``kinds`` (each kind's id, names, main metric and its unit), ``statuses``,
        ``levels``, and one array per column in the same order: ``id``, ``lon``, ``lat`` (WGS84,
        rounded to :data:`DECIMALS`), ``kind`` and ``status`` (indexes into ``kinds`` and
        ``statuses``), ``online`` (1, 0 offline, null when not watched: not active, or never
        heard yet), ``value`` (the latest value of its kind's main metric, or null) and
        ``level`` (its active alerts' highest level, 1–4 as ``levels[level - 1]``, 0 for none).
    """
    main = {kind.id: kind.metrics[0] for kind in catalogue().kinds.values() if kind.metrics}
    kinds = list(session.scalars(sa.select(Device.sensor_kind).where(scope.condition(Device)).distinct().order_by(Device.sensor_kind)))
    latest = (sa.select(Observation.value)
              .where(Observation.device_id == Device.id, Observation.metric == sa.case(main, value=Device.sensor_kind))
              .order_by(Observation.observed_at.desc()).limit(1).scalar_subquery())
    level = (sa.select(sa.func.max(Alert.level))
             .where(Alert.device_id == Device.id, Alert.active == 1, Alert.rule.not_in(silence), scope.condition(Alert))
             .scalar_subquery())
    online = sa.case((Device.status != "active", sa.null()), (Device.id.in_(silent_devices(silence)), 0),
                     (Device.last_seen_at.is_not(None), 1), else_=sa.null())
    arrays = json_arrays(session, {
        "id": Device.id, "lon": rounded(session, Device.lon, DECIMALS), "lat": rounded(session, Device.lat, DECIMALS),
        "kind": sa.case({k: i for i, k in enumerate(kinds)}, value=Device.sensor_kind) if kinds else sa.cast(sa.null(), sa.Integer),  # no rows
        "status": sa.case({s: i for i, s in enumerate(DEVICE_STATUSES)}, value=Device.status),
        "online": online, "value": latest, "level": sa.func.coalesce(level, 0),
    }, [scope.condition(Device)], Device.id)
    return json_object({"kinds": [_kind(k, main.get(k)) for k in kinds], "statuses": list(DEVICE_STATUSES),
                        "levels": list(ALERT_LEVELS)}, arrays)


def _kind(kind: str, metric: str | None) -> dict[str, Any]:
    """A kind as the map's legend and popups name it: its names, its main metric and that metric's unit."""
    known = catalogue()
    found = known.kinds.get(kind)
    measured = known.metrics.get(metric) if metric else None
    return {"kind": kind, "zh": found.zh if found else kind, "en": found.en if found else kind, "metric": metric,
            "metric_zh": measured.zh if measured else None, "metric_en": measured.en if measured else None,
            "unit": measured.unit if measured else None}
