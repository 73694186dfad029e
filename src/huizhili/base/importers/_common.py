"""What every importer shares: records, coordinate conversion, repair, area checks, writing."""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from huizhili.base import crs
from huizhili.base.assign import ASSIGNED_MODELS, assign_areas
from huizhili.base.buildings import estimate_households, estimate_population
from huizhili.base.geodesy import area_m2, distances_outside_m
from huizhili.errors import ImportFailed
from huizhili.storage.models import AreaAssigned, Building, ImportRun, Parcel, utcnow

Progress = Callable[[str, int], None]
"""Called with a stage name and how many objects it has handled so far."""

OUTSIDE_TOLERANCE_M = 500.0
"""Default distance beyond the boundary within which a record still counts as inside."""

CHUNK = 5000
"""Values per statement, well under SQLite's and PostgreSQL's limits on bound parameters."""


@dataclass
class Record:
    """One object read from a file, ready to become a row."""

    ref: str
    """How the error messages and reports name it, e.g. ``feature 17 (ID 17235)``."""
    geometry: BaseGeometry | None
    fields: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)
    source_ref: str | None = None


@dataclass
class ImportReport:
    """What an import did: counts written, and every record refused with the reason."""

    importer: str
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    outside: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


def convert_to_wgs84(records: Sequence[Record], source_crs: str) -> None:
    """Convert every record's geometry from ``source_crs`` to WGS84 in place."""
    name = crs.normalise_crs(source_crs)
    if name == "wgs84":
        return
    geometries = np.array([r.geometry for r in records], dtype=object)
    present = np.flatnonzero(geometries != None)  # noqa: E711 (element-wise)
    converted = shapely.transform(geometries[present], lambda xy: _to_wgs84_xy(xy, name))
    for index, geometry in zip(present, converted, strict=True):
        records[int(index)].geometry = geometry


def check_wgs84_range(records: Sequence[Record], source: str) -> None:
    """Refuse coordinates that are not finite or cannot be longitude/latitude (the file's CRS was not given).

    Raises
    ------
    ImportFailed
        Naming the first such record.
    """
    for record in records:
        if record.geometry is None or record.geometry.is_empty:  # empty ones are reported by repair_geometries
            continue
        if not np.isfinite(shapely.get_coordinates(record.geometry)).all():
            message = f"{source}: {record.ref}: geometry has coordinates that are NaN or Infinity; numbers must be finite"
            raise ImportFailed(message, record=record.ref)
        x0, y0, x1, y1 = record.geometry.bounds
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            message = (
                f"{source}: {record.ref} has coordinates ({x0:.6g}, {y0:.6g}) that are not longitude/latitude; "
                "give the file's coordinate system (--crs EPSG:<code>)"
            )
            raise ImportFailed(message, record=record.ref)


def without_path(error: BaseException, path: Path, name: str) -> str:
    """A library's error text with the file's path on this server replaced by the name its sender knows."""
    return str(error).replace(str(path), name)


def _to_wgs84_xy(xy: np.ndarray, name: str) -> np.ndarray:
    """Coordinate-array form of :func:`crs.to_wgs84` for ``shapely.transform``."""
    lon, lat = crs.to_wgs84(xy[:, 0], xy[:, 1], name)
    return np.column_stack((lon, lat))


def repair_geometries(records: list[Record], report: ImportReport) -> list[Record]:
    """Repair invalid geometries; refuse those that are empty or collapse when repaired."""
    kept = []
    for record in records:
        geometry = record.geometry
        if geometry is None:
            kept.append(record)
            continue
        if geometry.is_empty:
            report.rejected.append({"record": record.ref, "reason": "empty geometry"})
            continue
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            repaired = _valid_part(shapely.make_valid(geometry), shapely.get_dimensions(geometry))
            if repaired is None:
                report.rejected.append({"record": record.ref, "reason": f"invalid geometry: {reason}"})
                continue
            report.repaired.append({"record": record.ref, "reason": reason})
            record.geometry = repaired
        kept.append(record)
    return kept


def _valid_part(geometry: BaseGeometry, wanted: int) -> BaseGeometry | None:
    """The part of a repaired geometry of the original dimension, or None if it collapsed."""
    if geometry.geom_type == "GeometryCollection":
        parts = [part for part in geometry.geoms if shapely.get_dimensions(part) == wanted]
        geometry = shapely.union_all(parts) if parts else shapely.Point()
    if geometry.is_empty or shapely.get_dimensions(geometry) != wanted:
        return None
    return geometry


def drop_outside(
    records: list[Record], boundary: BaseGeometry, area_name: str, tolerance_m: float, report: ImportReport
) -> list[Record]:
    """Keep records within ``tolerance_m`` of ``boundary``; report the others with their distance."""
    placed = [r for r in records if r.geometry is not None]
    if not placed:
        return records
    kept = [r for r in records if r.geometry is None]
    records = placed
    points = [_anchor(r.geometry) for r in records]
    lon = np.array([p.x for p in points])
    lat = np.array([p.y for p in points])
    distance = distances_outside_m(boundary, lon, lat)
    for record, point, metres in zip(records, points, distance, strict=True):
        if metres <= tolerance_m:
            kept.append(record)
            continue
        report.outside.append(
            {
                "record": record.ref,
                "name": record.fields.get("name"),
                "lon": round(point.x, 6),
                "lat": round(point.y, 6),
                "distance_km": round(metres / 1000, 1),
                "area": area_name,
            }
        )
    return kept


def _anchor(geometry: BaseGeometry | None) -> shapely.Point:
    """The point that places a record: itself, or a point surely inside its shape."""
    if geometry is None:
        return shapely.Point()
    return geometry if geometry.geom_type == "Point" else geometry.point_on_surface()


def write_records(
    session: Session,
    model: type[AreaAssigned],
    records: Sequence[Record],
    report: ImportReport,
    progress: Progress | None = None,
) -> list[int]:
    """Insert records as rows of ``model``, replacing rows with the same ``source_ref``, then assign areas.

    Replaced rows are counted in the report (``replaced_<table>``) and noted, never silent.

    Returns
    -------
    list of int
        Ids of the new rows.
    """
    refs = [r.source_ref for r in records if r.source_ref]
    replaced = 0
    for start in range(0, len(refs), CHUNK):
        # A plain DELETE answers a CursorResult; Session.execute is typed Result (sqlalchemy#12813).
        result = cast(CursorResult[Any], session.execute(sa.delete(model).where(model.source_ref.in_(refs[start : start + CHUNK]))))
        replaced += result.rowcount or 0
    if replaced:
        table = model.__tablename__
        report.counts[f"replaced_{table}"] = replaced
        report.notes.append(f"replaced {replaced} {table} imported earlier from the same source")
    ids: list[int] = []
    for start in range(0, len(records), CHUNK):
        rows = [_row(model, record) for record in records[start : start + CHUNK]]
        ids.extend(session.scalars(sa.insert(model).returning(model.id), rows))
        if progress:
            progress(f"writing {model.__tablename__}", len(ids))
    if ids:
        assign_areas(session, [model], ids)
    return ids


def reassign_records(session: Session, report: ImportReport) -> None:
    """File every stored record again under the areas as they now stand, in the import's transaction.

    An import that creates areas or gives them boundaries changes where records belong; without
    this, analyses by area would miss records imported before (and fall back to a grid).
    """
    assign_areas(session)
    stored = sum(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0 for model in ASSIGNED_MODELS)
    if stored:
        report.notes.append(f"areas of {stored:,} stored records assigned again to the areas as they now stand")


def _row(model: type[AreaAssigned], record: Record) -> dict[str, Any]:
    """Column values for one record, with the derived ones (anchor point, areas, estimates)."""
    geometry = record.geometry
    if geometry is None:
        message = f"{record.ref}: no geometry"
        raise ValueError(message)
    anchor = _anchor(geometry)
    row = {
        **record.fields,
        "geometry": geometry,
        "lon": anchor.x,
        "lat": anchor.y,
        "source_ref": record.source_ref,
        "properties": record.properties,
    }
    if model is Parcel:
        row["area_m2"] = area_m2(geometry)
    if model is Building and row.get("use") == "residential" and row.get("population") is None:
        households = row.get("households") or estimate_households(area_m2(geometry), row.get("floors"))
        row.update(households=households, population=estimate_population(households), population_estimated=True)
    return row


def finish_run(session: Session, report: ImportReport) -> ImportReport:
    """Keep the report in ``import_runs`` (same transaction as the data it describes)."""
    run = ImportRun(
        importer=report.importer,
        source=report.source,
        finished_at=utcnow(),
        counts=report.counts,
        report={k: v for k, v in report.as_dict().items() if k in {"outside", "rejected", "repaired", "notes"}},
    )
    session.add(run)
    session.flush()
    report.run_id = run.id
    return report
