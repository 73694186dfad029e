"""Automatic dispatch: place and category → the responsible unit, through the owner registry and the routing table.

The order a dispatcher would follow: an asset the case names, or one of the category's kinds
right where it lies, goes to the asset's owner (the registry); otherwise the routing table's
unit for the category, a street's or residential committee's office standing for the street or
committee the case is in; a unit that cannot be found there (a committee without an office, a
case in no committee) is the category's fallback (托底), and past that the district command.
So every case gets a unit, and the way it was found is recorded (``Case.routed_by``).
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases import deadlines
from huizhili.cases.categories import COMMITTEE_OFFICE, STREET_OFFICE, Categories, Category
from huizhili.cases.flow import PLATFORM, CaseFlow
from huizhili.cases.trail import record
from huizhili.departments import committee_office, street_offices, unknown_departments
from huizhili.errors import ConfigurationError
from huizhili.storage.models import AssetOwner, Case


@dataclass(frozen=True)
class Routing:
    """The unit a case goes to, how it was found (``registry``, ``routing``, ``fallback``, ``escalation``), and the asset it is about."""

    department: str
    routed_by: str
    asset_ref: str | None = None


def route(session: Session, categories: Categories, case: Case) -> Routing:
    """The responsible unit of ``case`` (its category, place and asset already set)."""
    category = categories.get(case.category) if case.category else None
    if category is not None:
        owned = _registered_owner(session, category, case)
        if owned is not None:
            return Routing(owned[0], "registry", owned[1])
        unit = resolve_unit(session, category.department, case)
        if unit is not None:
            return Routing(unit, "routing")
        return fallback(session, categories, category, case)
    return Routing(categories.escalation_unit, "escalation")


def dispatch_automatically(session: Session, flow: CaseFlow, case: Case, now: datetime) -> None:
    """The platform dispatches a filed case to the unit :func:`route` finds, recording how it found it.

    Raises
    ------
    ConfigurationError
        If the routing table names a unit that is no department.
    """
    routing = route(session, flow.categories, case)
    if unknown_departments(session, [routing.department]):
        message = (f"{flow.categories.source} routes {case.category} to {routing.department!r}, which is no department: "
                   "add it (huizhili department add) or correct the table")
        raise ConfigurationError(message)
    before = case.state
    case.department, case.routed_by, case.dispatched_at, case.state = routing.department, routing.routed_by, now, "dispatched"
    case.asset_ref = case.asset_ref or routing.asset_ref  # the asset found nearby: a settled dispute corrects its owner
    session.flush()
    record(session, case, PLATFORM, "dispatch", before, None, {"department": routing.department, "routed_by": routing.routed_by},
           public=True, now=now)
    deadlines.start_stage(flow, case, now)


def fallback(session: Session, categories: Categories, category: Category, case: Case) -> Routing:
    """The category's fallback unit (托底) for ``case``; the district command where even that has no office here."""
    unit = resolve_unit(session, category.fallback, case)
    return Routing(unit, "fallback") if unit is not None else Routing(categories.escalation_unit, "escalation")


def resolve_unit(session: Session, unit: str, case: Case) -> str | None:
    """A routing-table unit as a department code: ``@street`` is the case's street's office, ``@committee`` its committee's, if it has one."""
    if unit == STREET_OFFICE:
        return street_offices(session).get(case.street_code) if case.street_code else None
    if unit == COMMITTEE_OFFICE:
        return committee_office(session, case.committee_code) if case.committee_code else None
    return unit


def _registered_owner(session: Session, category: Category, case: Case) -> tuple[str, str] | None:
    """(owner, asset ref) of the asset the case names, else of the nearest of its category's assets within the category's radius."""
    if case.asset_ref:
        owner = session.scalar(sa.select(AssetOwner.owner_department).where(AssetOwner.ref == case.asset_ref))
        if owner is not None:
            return owner, case.asset_ref
    if not category.asset_kinds or case.lon is None or case.lat is None or category.asset_radius_m <= 0:
        return None
    near = near_box(AssetOwner.lon, AssetOwner.lat, case.lon, case.lat, category.asset_radius_m)
    rows = session.execute(
        sa.select(AssetOwner.owner_department, AssetOwner.ref, AssetOwner.lon, AssetOwner.lat)
        .where(AssetOwner.kind.in_(category.asset_kinds), near)
    ).all()
    lon, lat = case.lon, case.lat
    distances = [(metres_between(lon, lat, row.lon, row.lat), row.ref, row.owner_department) for row in rows]
    within = [d for d in distances if d[0] <= category.asset_radius_m]
    if not within:
        return None
    _, ref, owner = min(within)
    return owner, ref


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres between two nearby WGS84 points (equirectangular: exact enough within a district)."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_008.8 * math.hypot(x, y)


def near_box(lon_column: Any, lat_column: Any, lon: float, lat: float, radius_m: float) -> sa.ColumnElement[bool]:
    """An indexed pre-filter: the square of side 2 × ``radius_m`` around the point."""
    dlat = math.degrees(radius_m / 6_371_008.8)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return sa.and_(lon_column.between(lon - dlon, lon + dlon), lat_column.between(lat - dlat, lat + dlat))
