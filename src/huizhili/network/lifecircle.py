"""The 15-minute life circle (15分钟社区生活圈): coverage of homes per area against the standards.

For every home, the walk to each kind of facility, and the share of residents covered.

Origins are homes weighted by their residents — residential buildings, or where none are known
residential compounds (小区) sharing the residents of their area's statistics — or else a
regular grid of points weighted equally (coverage is then a share of the area); every run says
which rule chose them (:data:`ORIGIN_RULES`). Distances are walked on the network when one has
been imported; otherwise they are straight lines times :data:`DETOUR_FACTOR` and every result
says ``estimated``. Every distance up to the run's cutoff is kept, so an origin beyond the
standard still shows how far it is.
"""

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.areas import LEVEL_COLUMNS, area_geometry, children, find_area, in_area
from huizhili.base.assign import PolygonLocator
from huizhili.base.buildings import (
    FLOOR_AREA_PER_HOUSEHOLD_M2,
    PERSONS_PER_HOUSEHOLD,
    estimate_households,
    estimate_population,
)
from huizhili.base.geodesy import area_m2, xy_to_metres
from huizhili.errors import ValidationError
from huizhili.network.distances import nearest_facility_distance
from huizhili.network.loading import AccessPoints, access_points
from huizhili.network.standards import (
    TIERS_MINUTES,
    WALKING_SPEED_M_PER_S,
    Standard,
    load_standards,
)
from huizhili.network.walkgraph import WalkGraph
from huizhili.policy import Scope
from huizhili.storage.models import (
    AREA_LEVELS,
    Area,
    Building,
    Facility,
    LifeCircleCoverage,
    LifeCircleRun,
    Parcel,
)

DETOUR_FACTOR = 1.3
"""Walking distance over straight-line distance assumed without a walk network: a common
urban detour (circuity) factor; results computed with it are labelled ``estimated``."""

MAX_SNAP_M = 500.0
"""A point farther than this from the walk network is outside it."""

NETWORK_SHARE = 0.9
"""The walk network is used when at least this share of origins lies on it; else distances are estimated."""

GRID_SPACING_M = 200.0
"""Spacing of grid origins where no buildings are known."""

DEFAULT_CUTOFF_M = 2000.0
"""Every distance up to this is reported per origin; farther ones are null (``HUIZHILI_LIFECIRCLE_CUTOFF_M``)."""

MAX_CUTOFF_M = 20_000.0
"""Longest cutoff a run may ask: a walk beyond 20 km is no life circle, and the search from every home grows with it."""


@dataclass(frozen=True)
class Origins:
    """Where residents start: WGS84 points, their weight (population, or 1 per grid point), their area.

    Each carries the id of the record it stands for and that record's ``source_ref`` (e.g.
    ``osm:way/4253124``), so results can be joined to the planner's own data.
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    weight: NDArray[np.float64]
    area_code: NDArray[np.object_]
    ids: NDArray[np.int64]
    """The record's id in :attr:`table`, or the grid point's number (from 1)."""
    refs: NDArray[np.object_]
    """The record's ``source_ref`` (None for grid points and records without one)."""
    source: str
    """The rule that chose them (:data:`ORIGIN_RULES`): ``grid`` weights are equal shares of area, the others residents."""
    table: str
    """Where the origins come from: ``buildings``, ``parcels``, or ``grid`` (laid by the run)."""
    rule: str
    """Which rule chose the origins and how they are weighted, in words, with counts: said in every run."""
    notes: tuple[str, ...] = ()
    """Why these origins, where it was not the caller's choice (``auto`` falling back to a grid)."""

    def __len__(self) -> int:
        return len(self.lon)


@dataclass
class LifeCircleResult:
    """One run: per-origin distances per kind, and the coverage table."""

    run_id: int
    method: str
    """``network`` (walked) or ``estimated`` (straight line × detour factor)."""
    area: Area | None
    origins: Origins
    standards: dict[str, Standard]
    distances: dict[str, NDArray[np.float64]]
    coverage: list[dict[str, Any]]
    cutoff_m: float
    """Distances up to this are reported; farther ones are inf (null in the outputs)."""
    seconds: float
    notes: list[str] = field(default_factory=list)


def run_life_circle(
    session: Session,
    graph: WalkGraph | None,
    *,
    created_by: str,
    area: str | None = None,
    kinds: Iterable[str] | None = None,
    metres: Mapping[str, float] | None = None,
    targets: Mapping[str, float] | None = None,
    speed_m_per_s: float = WALKING_SPEED_M_PER_S,
    origins: str = "auto",
    cutoff_m: float = DEFAULT_CUTOFF_M,
    scope: Scope,
) -> LifeCircleResult:
    """Compute and store one life-circle run.

    Parameters
    ----------
    session
        Session inside the caller's transaction; the run and its coverage rows are added to it.
    graph
        The walk network, or None to estimate distances.
    created_by
        Who asked (kept with the run).
    area
        Code or name of the area to analyse, reported per child area; None for every street.
    kinds
        Facility kinds to analyse; by default every kind of the standards that has facilities.
    metres, targets
        Per-kind overrides of the standards' distances (metres) and target shares (0–1).
    speed_m_per_s
        Walking speed for the minute tiers.
    origins
        One of :data:`ORIGIN_RULES`: ``buildings`` (homes), ``all-buildings``, ``compounds``,
        ``grid``, or ``auto`` (buildings where any have residents, else compounds, else grid).
    cutoff_m
        Every distance up to this many metres is reported per origin, and farther ones are not
        (inf). Raised to the longest standard or tier distance of the run if that is longer.
    scope
        The caller's scope: the area must be visible to it.

    Returns
    -------
    LifeCircleResult

    Raises
    ------
    ValidationError
        For unknown kinds, bad overrides, a cutoff outside 0–20,000 m, or an area with no origins.
    """
    started = time.perf_counter()
    standards, target_area = check_run(session, scope, area=area, kinds=kinds, metres=metres, targets=targets,
                                       speed_m_per_s=speed_m_per_s, cutoff_m=cutoff_m)
    reporting = reporting_areas(session, target_area)
    start_points = choose_origins(session, target_area, reporting, origins)
    chosen = _chosen_kinds(session, standards, kinds, start_points)
    tiers = [minutes * 60 * speed_m_per_s for minutes in TIERS_MINUTES]
    cutoff = max([cutoff_m] + [standards[kind].metres for kind in chosen] + tiers)
    notes = [f"distances are reported up to {cutoff:,.0f} m; farther ones are null"]
    if cutoff > cutoff_m:
        notes[0] += f" (the cutoff of {cutoff_m:,.0f} m was raised to the longest distance asked)"
    snapped = graph.snap(start_points.lon, start_points.lat) if graph is not None and len(start_points) else None
    notes += start_points.notes
    if snapped is not None and np.mean(snapped.snap_m <= MAX_SNAP_M) < NETWORK_SHARE:
        notes.append("the walk network does not cover this area")
        snapped = None
    if snapped is None:
        graph = None
        notes.append(f"no walk network here: distances are straight lines × {DETOUR_FACTOR} (estimated)")
    method = "network" if graph is not None else "estimated"
    distances, as_points = {}, []
    for kind in chosen:
        points = access_points(session, kind)
        _, per_facility = np.unique(points.facility_ids, return_counts=True)  # a point facility has one access point
        if (single := int((per_facility == 1).sum())) > 0:
            as_points.append(f"{kind} {single:,} of {len(per_facility):,}")
        if graph is not None and snapped is not None:
            targets_snapped = graph.snap(points.lon, points.lat)
            distances[kind] = nearest_facility_distance(graph, snapped, targets_snapped, cutoff)
        else:
            distances[kind] = estimated_distances(start_points.lon, start_points.lat, points, cutoff)
    if as_points:
        notes.append(f"facilities mapped as points are reached at that point, not anywhere along an outline, so walks to "
                     f"large ones err long: {', '.join(as_points)}")
    coverage = coverage_table(start_points, distances, standards, tiers, target_area, reporting)
    seconds = time.perf_counter() - started
    run = LifeCircleRun(
        created_by=created_by,
        area_code=target_area.code if target_area else None,
        parameters={
            "kinds": chosen,
            "metres": {k: standards[k].metres for k in chosen},
            "targets": {k: standards[k].target for k in chosen},
            "speed_m_per_s": speed_m_per_s,
            "origins": start_points.source,
            "origins_asked": origins,
            "origin_rule": start_points.rule,
            "cutoff_m": cutoff,
        },
        distance_method=method,
        origins=len(start_points),
        seconds=seconds,
    )
    session.add(run)
    session.flush()
    session.add_all(LifeCircleCoverage(run_id=run.id, **row) for row in coverage)
    session.flush()
    return LifeCircleResult(run_id=run.id, method=method, area=target_area, origins=start_points,
                            standards={k: standards[k] for k in chosen}, distances=distances, coverage=coverage,
                            cutoff_m=cutoff, seconds=seconds, notes=notes)


def check_run(
    session: Session,
    scope: Scope,
    *,
    area: str | None,
    kinds: Iterable[str] | None = None,
    metres: Mapping[str, float] | None = None,
    targets: Mapping[str, float] | None = None,
    speed_m_per_s: float = WALKING_SPEED_M_PER_S,
    cutoff_m: float = DEFAULT_CUTOFF_M,
) -> tuple[dict[str, Standard], Area | None]:
    """The standards and area a run asks for, checked before any work is done.

    A request that cannot run is refused when it is made, not hours later as a failed job.

    Raises
    ------
    ValidationError
        For unknown kinds, bad overrides or cutoff, or no area named by someone who sees only some.
    NotFoundError
        If the area does not exist or lies outside the scope.
    """
    if area is None and scope.limited_to_areas:
        message = "name one of your areas to analyse"
        raise ValidationError(message)
    if not (math.isfinite(cutoff_m) and 0 < cutoff_m <= MAX_CUTOFF_M):
        message = f"the cutoff must be more than 0 and at most {MAX_CUTOFF_M:,.0f} metres, not {cutoff_m}"
        raise ValidationError(message)
    standards = load_standards(metres=metres, targets=targets, speed_m_per_s=speed_m_per_s)
    if kinds is not None and (unknown := [k for k in dict.fromkeys(kinds) if k not in standards]):
        message = f"no standard for {', '.join(unknown)}; give a distance for it (metres)"
        raise ValidationError(message)
    return standards, find_area(session, area, scope) if area is not None else None


def estimated_distances(
    lon: NDArray[np.float64], lat: NDArray[np.float64], points: AccessPoints, cutoff_m: float
) -> NDArray[np.float64]:
    """Straight-line metres to the nearest access point times :data:`DETOUR_FACTOR`; inf beyond ``cutoff_m``."""
    if len(points) == 0 or len(lon) == 0:
        return np.full(len(lon), np.inf)
    lon0, lat0 = float(np.mean(lon)), float(np.mean(lat))
    ox, oy = xy_to_metres(lon, lat, lon0, lat0)
    fx, fy = xy_to_metres(points.lon, points.lat, lon0, lat0)
    straight, _ = cKDTree(np.column_stack((fx, fy))).query(np.column_stack((ox, oy)))
    walked: NDArray[np.float64] = straight * DETOUR_FACTOR
    walked[walked > cutoff_m] = np.inf
    return walked


def coverage_table(
    origins: Origins,
    distances: Mapping[str, NDArray[np.float64]],
    standards: Mapping[str, Standard],
    tiers: list[float],
    area: Area | None,
    reporting: list[Area],
) -> list[dict[str, Any]]:
    """Population (or area share) within each kind's standard and each tier, per area and overall."""
    groups = [(area.code if area else "all", np.ones(len(origins), dtype=bool))]
    groups += [(a.code, origins.area_code == a.code) for a in reporting]
    rows = []
    for code, members in groups:
        population = float(origins.weight[members].sum())
        for kind, distance in distances.items():
            thresholds = {standards[kind].metres: standards[kind].target, **{t: None for t in tiers if t != standards[kind].metres}}
            for threshold, target in sorted(thresholds.items()):
                covered = float(origins.weight[members & (distance <= threshold)].sum())
                rows.append(
                    {
                        "area_code": code,
                        "kind": kind,
                        "threshold_m": threshold,
                        "population": population,
                        "covered_population": covered,
                        "coverage": covered / population if population else None,
                        "target": target,
                    }
                )
    return rows


def reporting_areas(session: Session, area: Area | None) -> list[Area]:
    """The areas coverage is broken down by: the area's children, or every street."""
    if area is not None:
        return children(session, area.code)
    return list(session.scalars(sa.select(Area).where(Area.level == "street").order_by(Area.code)))


def _chosen_kinds(
    session: Session, standards: Mapping[str, Standard], kinds: Iterable[str] | None, origins: Origins
) -> list[str]:
    """The kinds asked for, or every standard kind with a facility within 2 km of the origins.

    A kind with no facility anywhere near is left out rather than reported as 0 % covered:
    usually its facilities have not been imported yet.
    """
    if kinds is not None:
        return list(dict.fromkeys(kinds))  # known kinds: checked by check_run
    if not len(origins):
        return []
    margin_lat, margin_lon = 2000 / 110_574, 2000 / (111_320 * np.cos(np.radians(float(np.mean(origins.lat)))))
    near = sa.select(Facility.kind).distinct().where(
        Facility.lon.between(float(origins.lon.min()) - margin_lon, float(origins.lon.max()) + margin_lon),
        Facility.lat.between(float(origins.lat.min()) - margin_lat, float(origins.lat.max()) + margin_lat),
    )
    present = set(session.scalars(near))
    return [kind for kind in standards if kind in present]


ORIGIN_RULES = ("auto", "buildings", "all-buildings", "compounds", "grid")
"""How a run chooses its origins: ``buildings`` are homes (buildings tagged residential, and
``building=yes`` inside residential land use), weighted by their residents; ``all-buildings``
every building, weighted by the residents it would house as a home; ``compounds`` residential
land parcels (小区) as points, sharing the residents of the areas' statistics; ``grid`` a
200 m grid weighted equally. ``auto``: buildings where any have residents, else compounds,
else the grid."""


_NONE_FOUND = {
    "buildings": "residential buildings with residents",
    "all-buildings": "buildings",
    "compounds": "residential compounds (residential land parcels)",
}


def choose_origins(session: Session, area: Area | None, reporting: list[Area], choice: str) -> Origins:
    """The origins of a run by one of :data:`ORIGIN_RULES`; the result says in words which rule chose them.

    Raises
    ------
    ValidationError
        For an unknown rule, or a rule other than ``auto`` that finds no origins in the area.
    """
    if choice not in ORIGIN_RULES:
        message = f"origins must be one of {', '.join(ORIGIN_RULES)}, not {choice!r}"
        raise ValidationError(message)
    if choice == "grid":
        return _grid_origins(session, area, reporting)
    pickers = {"buildings": _building_origins, "all-buildings": _all_building_origins, "compounds": _compound_origins}
    for rule in ("buildings", "compounds") if choice == "auto" else (choice,):
        found = pickers[rule](session, area, reporting)
        if len(found):
            return found
    if choice != "auto":
        message = f"no {_NONE_FOUND[choice]} in this area; use grid origins"
        raise ValidationError(message)
    return replace(_grid_origins(session, area, reporting), notes=(_why_no_homes(session, area),))


def _why_no_homes(session: Session, area: Area | None) -> str:
    """Why ``auto`` origins are a grid: no buildings or compounds here, or none residential with residents.

    Coverage is then a share of the area, not of residents, and whoever reads it must know.
    """
    where = f"{area.name} ({area.code})" if area is not None else "the database"
    query = sa.select(sa.func.count()).select_from(Building)
    buildings = session.scalar(query.where(in_area(session, Building, area)) if area is not None else query) or 0
    grid = (f"origins are a grid of points every {GRID_SPACING_M:.0f} m, so coverage is a share of the area, "
            "not of residents; import buildings with their use (OSM, or `import file --as building`) for residents")
    if not buildings:
        return f"no buildings or residential compounds in {where}: {grid}"
    return f"none of the {buildings:,} buildings in {where} is residential with residents, and no compound is: {grid}"


def _area_column(model: type[Building] | type[Parcel], reporting: list[Area]) -> Any:
    """The column of ``model`` holding the code of the level coverage is reported by, labelled ``area_code``."""
    level = reporting[0].level if reporting else "street"
    return getattr(model, LEVEL_COLUMNS.get(level, "street_code")).label("area_code")


def _building_origins(session: Session, area: Area | None, reporting: list[Area]) -> Origins:
    """Homes' anchor points, weighted by residents: buildings tagged residential, and building=yes in residential land."""
    query = sa.select(
        Building.id, Building.source_ref, Building.lon, Building.lat, _area_column(Building, reporting), Building.population,
        Building.population_estimated, Building.properties["building"].as_string().label("building"),
    ).where(Building.population > 0).order_by(Building.id)
    if area is not None:
        query = query.where(in_area(session, Building, area))
    rows = session.execute(query).all()
    in_land = sum(1 for r in rows if r.building == "yes")
    estimated = sum(1 for r in rows if r.population_estimated)
    rule = (f"buildings: {len(rows):,} homes — {len(rows) - in_land:,} buildings tagged residential and {in_land:,} "
            f"building=yes inside residential land use — weighted by their residents "
            f"({estimated:,} of them estimated from footprint and levels, {FLOOR_AREA_PER_HOUSEHOLD_M2:.0f} m² per household, "
            f"{PERSONS_PER_HOUSEHOLD} people each)")
    return _origins(rows, [float(r.population) for r in rows], "buildings", "buildings", rule)


def _all_building_origins(session: Session, area: Area | None, reporting: list[Area]) -> Origins:
    """Every building, weighted by its residents, or by those it would house as a home (footprint and levels)."""
    query = sa.select(
        Building.id, Building.source_ref, Building.lon, Building.lat, _area_column(Building, reporting), Building.population,
        Building.geometry, Building.floors,
    ).order_by(Building.id)
    if area is not None:
        query = query.where(in_area(session, Building, area))
    rows = session.execute(query).all()
    weights = [float(r.population or estimate_population(estimate_households(area_m2(r.geometry), r.floors))) for r in rows]
    counted = sum(1 for r in rows if r.population)
    rule = (f"all-buildings: every building ({len(rows):,}) as a home — {counted:,} weighted by their residents, "
            f"{len(rows) - counted:,} by the residents their footprint and levels would house "
            f"({FLOOR_AREA_PER_HOUSEHOLD_M2:.0f} m² per household, {PERSONS_PER_HOUSEHOLD} people each; estimates)")
    return _origins(rows, weights, "all-buildings", "buildings", rule)


def _compound_origins(session: Session, area: Area | None, reporting: list[Area]) -> Origins:
    """Residential compounds (小区) as points, each an equal share of its street's or district's residents.

    Open data gives no residents per compound or, in China, per street, so each compound gets an
    equal share of the residents of the nearest area above it that has statistics (an estimate,
    said in the rule); where no area has any, each compound counts one.
    """
    query = sa.select(
        Parcel.id, Parcel.source_ref, Parcel.lon, Parcel.lat, _area_column(Parcel, reporting), Parcel.street_code,
        Parcel.district_code,
    ).where(Parcel.land_use == "residential").order_by(Parcel.id)
    if area is not None:
        query = query.where(in_area(session, Parcel, area))
    rows = session.execute(query).all()
    counted_areas = {a.code: a for a in session.scalars(sa.select(Area).where(Area.population.is_not(None)))}
    residents = {code: a.population for code, a in counted_areas.items() if a.population is not None}
    compounds: dict[str, int] = {}
    for column in (Parcel.street_code, Parcel.district_code):
        per_area = sa.select(column, sa.func.count()).where(Parcel.land_use == "residential").group_by(column)
        compounds.update({code: n for code, n in session.execute(per_area) if code in residents})
    sharing = [next((c for c in (r.street_code, r.district_code) if c in compounds), None) for r in rows]
    weights = [residents[code] / compounds[code] if code is not None else 1.0 for code in sharing]
    shares = []
    for code in sorted({c for c in sharing if c is not None}):
        counted = counted_areas[code]
        year = f" {counted.statistics_year}" if counted.statistics_year else ""
        shares.append(f"{counted.name}'s {residents[code]:,} residents (statistics{year}) over its "
                      f"{compounds[code]:,} compounds, {residents[code] / compounds[code]:,.0f} each")
    unshared = sharing.count(None)
    rule = (f"compounds: {len(rows):,} residential compounds (小区) as points, each walk starting at its point; residents "
            f"shared equally: {'; '.join(shares) or 'no statistics, each compound counts one'} — estimates, as no counts "
            "per compound are published"
            + (f"; {unshared:,} compounds in no area with statistics count one each" if unshared and shares else ""))
    return _origins(rows, weights, "compounds", "parcels", rule)


def _origins(rows: Sequence[Any], weights: list[float], source: str, table: str, rule: str) -> Origins:
    """Origins from query rows with ``id``, ``source_ref``, ``lon``, ``lat`` and ``area_code``."""
    return Origins(
        lon=np.array([r.lon for r in rows], dtype=float),
        lat=np.array([r.lat for r in rows], dtype=float),
        weight=np.array(weights, dtype=float),
        area_code=np.array([r.area_code for r in rows], dtype=object),
        ids=np.array([r.id for r in rows], dtype=np.int64),
        refs=np.array([r.source_ref for r in rows], dtype=object),
        source=source,
        table=table,
        rule=rule,
    )


def _grid_origins(session: Session, area: Area | None, reporting: list[Area]) -> Origins:
    """Points every :data:`GRID_SPACING_M` inside the area, or inside every reporting area, or else the outermost ones."""
    located = [(a.code, g) for a in reporting if (g := area_geometry(session, a)) is not None]
    shapes = [g for _, g in located]
    boundary = area_geometry(session, area) if area is not None else (shapely.union_all(shapes) if shapes else _outermost_boundary(session))
    if boundary is None:
        message = "the area has no boundary to lay grid origins on; import one first"
        raise ValidationError(message)
    x0, y0, x1, y1 = boundary.bounds
    lat0 = (y0 + y1) / 2
    step_x = GRID_SPACING_M / (111_320 * np.cos(np.radians(lat0)))
    step_y = GRID_SPACING_M / 110_574
    xs, ys = np.meshgrid(np.arange(x0 + step_x / 2, x1, step_x), np.arange(y0 + step_y / 2, y1, step_y))
    lon, lat = xs.ravel(), ys.ravel()
    inside = shapely.intersects_xy(boundary, lon, lat)
    lon, lat = lon[inside], lat[inside]
    codes = np.array([None] + [code for code, _ in located], dtype=object)
    found = PolygonLocator(shapes).locate(lon, lat)
    rule = f"grid: {len(lon):,} points {GRID_SPACING_M:.0f} m apart over the area, weighted equally (coverage is a share of area, not of residents)"
    return Origins(lon, lat, np.ones(len(lon)), codes[found + 1], ids=np.arange(1, len(lon) + 1),
                   refs=np.full(len(lon), None, dtype=object), source="grid", table="grid", rule=rule)


def _outermost_boundary(session: Session) -> BaseGeometry | None:
    """The union of the outermost level's boundaries, where no street has one (an OSM extract's extent alone)."""
    for level in AREA_LEVELS:
        shapes = session.scalars(sa.select(Area.geometry).where(Area.level == level, Area.geometry.is_not(None))).all()
        if shapes:
            return shapely.union_all(shapes)
    return None
