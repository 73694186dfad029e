"""底数清: every count per area at a glance — buildings, population, facilities by kind, devices."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.areas import children, find_area, in_area
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.policy import Scope
from huizhili.storage.models import Area, AreaAssigned, Building, Device, Facility, Parcel


def summarise(session: Session, area: str | None, scope: Scope) -> dict[str, Any]:
    """Counts for an area and for each of its children.

    Parameters
    ----------
    session
        Open session.
    area
        Code or name; None summarises everything, with the top-level areas as children.
    scope
        The caller's scope: only areas and records it may see are counted (a street operator's
        "everything" is her streets).

    Returns
    -------
    dict
        ``code``, ``name``, ``level``, ``buildings``, ``population`` (with
        ``population_source``: ``statistics``, ``building estimates`` or None), ``households``,
        ``devices``, ``parcels``, ``facilities`` (total) and one count per facility kind keyed by
        the kind (``park``, ``health_centre`` …, zeros included), plus ``children``: the same
        counts for each child area. Records outside every area of a level are counted in the
        parent but not in any child.

    Raises
    ------
    NotFoundError, AmbiguousError
        If the area cannot be found unambiguously.
    """
    if area is None:
        top: Area | None = None
        visible = session.scalars(sa.select(Area).where(scope.condition(Area)).order_by(Area.code)).all()
        codes = {a.code for a in visible}
        below = [a for a in visible if a.parent_code not in codes]
    else:
        top = find_area(session, area, scope)
        below = [child for child in children(session, top.code) if _visible(session, scope, child)]
    result = _counts(session, top, scope)
    result["children"] = [_counts(session, child, scope) for child in below]
    return result


def _visible(session: Session, scope: Scope, area: Area) -> bool:
    """Whether the scope shows this area."""
    return session.scalar(sa.select(Area.id).where(Area.id == area.id, scope.condition(Area))) is not None


def _counts(session: Session, area: Area | None, scope: Scope) -> dict[str, Any]:
    """The counts of every layer in ``area`` (everything when None) that the scope shows."""

    def where(model: type[AreaAssigned]) -> sa.ColumnElement[bool]:
        inside = in_area(session, model, area) if area is not None else sa.true()
        return sa.and_(inside, scope.condition(model))

    buildings, estimated_population, households = session.execute(
        sa.select(sa.func.count(), sa.func.sum(Building.population), sa.func.sum(Building.households)).where(where(Building))
    ).one()
    kinds = dict(session.execute(sa.select(Facility.kind, sa.func.count()).where(where(Facility)).group_by(Facility.kind)).all())
    population, source = estimated_population, "building estimates" if estimated_population else None
    if area is not None and area.population is not None:
        population, source, households = area.population, "statistics", area.households
    return {
        "code": area.code if area else None,
        "name": area.name if area else "all",
        "level": area.level if area else None,
        "buildings": buildings,
        "population": population,
        "population_source": source,
        "households": households,
        "devices": session.scalar(sa.select(sa.func.count()).select_from(Device).where(where(Device))),
        "parcels": session.scalar(sa.select(sa.func.count()).select_from(Parcel).where(where(Parcel))),
        "facilities": sum(kinds.values()),
        **{kind: kinds.get(kind, 0) for kind in FACILITY_KINDS},
        **{kind: count for kind, count in kinds.items() if kind not in FACILITY_KINDS},
    }
