"""The area hierarchy: district → street/town → residential committee → grid cell."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.errors import AmbiguousError, NotFoundError, ValidationError
from huizhili.policy import Scope
from huizhili.storage.models import AREA_LEVELS, Area, AreaAssigned

LEVEL_COLUMNS = {
    "district": "district_code",
    "street": "street_code",
    "committee": "committee_code",
    "grid": "grid_code",
}
"""Which column of an :class:`AreaAssigned` record holds its area code at each level."""

EXTENT_SOURCE = "extent of an OSM extract"
"""Source of a district standing for an OSM extract that meets no imported area (``importers/osm.py``).

It makes a lone extract analysable; records are filed under it only where no other area holds
them, so areas imported later take their records over without anyone deleting it.
"""


@dataclass(frozen=True)
class AreaSpec:
    """An area to create or update; ``geometry`` is WGS84."""

    code: str
    name: str
    level: str
    parent_code: str | None = None
    geometry: BaseGeometry | None = None
    population: int | None = None
    households: int | None = None
    statistics_year: int | None = None
    source: str | None = None
    properties: Mapping[str, Any] | None = None
    """Merged into the stored area's properties, e.g. ``statistics``: each figure with its source and whether it is an estimate."""


def find_area(session: Session, code_or_name: str, scope: Scope) -> Area:
    """The area with this official code, or else this exact name, among those ``scope`` shows.

    Raises
    ------
    NotFoundError
        If nothing (visible) matches.
    AmbiguousError
        If the name belongs to several areas.
    """
    visible = scope.condition(Area)
    area = session.scalar(sa.select(Area).where(Area.code == code_or_name, visible))
    if area is not None:
        return area
    matches = session.scalars(sa.select(Area).where(Area.name == code_or_name, visible)).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        message = f"no area with code or name {code_or_name!r}"
        raise NotFoundError(message)
    codes = ", ".join(area.code for area in matches)
    message = f"{code_or_name!r} names several areas ({codes}); give the code"
    raise AmbiguousError(message)


def children(session: Session, code: str) -> list[Area]:
    """The areas directly below ``code`` at the nearest level, ordered by code.

    A street holding both committees and grid cells (cells parented to the street where
    committees have no boundary) is broken down by its committees.
    """
    below = list(session.scalars(sa.select(Area).where(Area.parent_code == code).order_by(Area.code)))
    nearest = min((AREA_LEVELS.index(area.level) for area in below), default=None)
    return [area for area in below if AREA_LEVELS.index(area.level) == nearest]


def descendant_codes(session: Session, code: str) -> list[str]:
    """``code`` and the codes of every area below it."""
    found, frontier = [code], [code]
    while frontier:
        frontier = list(session.scalars(sa.select(Area.code).where(Area.parent_code.in_(frontier))))
        found.extend(frontier)
    return found


def area_geometry(session: Session, area: Area) -> BaseGeometry | None:
    """The area's own boundary, or else the union of its descendants' (None if neither exists)."""
    if area.geometry is not None:
        return area.geometry
    parts = [
        child_geometry
        for child in children(session, area.code)
        if (child_geometry := area_geometry(session, child)) is not None
    ]
    return shapely.union_all(parts) if parts else None


def upsert_areas(session: Session, specs: Iterable[AreaSpec]) -> int:
    """Create areas or update them by code, parents first; returns how many were written.

    A spec without geometry or statistics keeps what the stored area already has.

    Raises
    ------
    ValidationError
        If a level is unknown or a parent code does not exist.
    """
    written = 0
    for spec in sorted(specs, key=lambda s: AREA_LEVELS.index(_checked_level(s.level))):
        area = session.scalar(sa.select(Area).where(Area.code == spec.code))
        if area is None:
            area = Area(code=spec.code, name=spec.name, level=spec.level, properties={})
            session.add(area)
        _check_parent(session, spec)
        area.name, area.level, area.parent_code = spec.name, spec.level, spec.parent_code
        for field in ("geometry", "population", "households", "statistics_year", "source"):
            value = getattr(spec, field)
            if value is not None:
                setattr(area, field, value)
        if spec.properties:
            area.properties = {**(area.properties or {}), **spec.properties}
        session.flush()
        written += 1
    return written


def _checked_level(level: str) -> str:
    """Refuse a level outside the hierarchy."""
    if level not in AREA_LEVELS:
        message = f"area level {level!r} is not one of {', '.join(AREA_LEVELS)}"
        raise ValidationError(message)
    return level


def _check_parent(session: Session, spec: AreaSpec) -> None:
    """Refuse a parent that does not exist yet."""
    if spec.parent_code is None:
        return
    if session.scalar(sa.select(Area.id).where(Area.code == spec.parent_code)) is None:
        message = f"area {spec.code} ({spec.name}): parent {spec.parent_code} does not exist"
        raise ValidationError(message)


def in_area(session: Session, model: type[AreaAssigned], area: Area) -> sa.ColumnElement[bool]:
    """A filter selecting the records of ``model`` that lie in ``area``.

    Records carry their district, street, committee and grid codes; a city selects the
    records of its districts.
    """
    column = LEVEL_COLUMNS.get(area.level)
    if column is not None:
        return getattr(model, column) == area.code  # type: ignore[no-any-return]
    districts = sa.select(Area.code).where(
        Area.code.in_(descendant_codes(session, area.code)), Area.level == "district"
    )
    return model.district_code.in_(districts)
