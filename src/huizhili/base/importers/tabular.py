"""GeoJSON, GeoPackage, Shapefile and CSV files, with a column mapping, into the digital base."""

import hashlib
import json
import math
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio.raw
import shapely
import shapely.geometry
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.areas import AreaSpec, area_geometry, find_area, upsert_areas
from huizhili.base.crs import normalise_crs
from huizhili.base.importers._common import (
    CHUNK,
    OUTSIDE_TOLERANCE_M,
    ImportReport,
    Progress,
    Record,
    check_wgs84_range,
    convert_to_wgs84,
    drop_outside,
    finish_run,
    reassign_records,
    repair_geometries,
    without_path,
    write_records,
)
from huizhili.base.kinds import FACILITY_KINDS
from huizhili.departments import unknown_departments
from huizhili.errors import ImportFailed, ValidationError
from huizhili.policy import Scope
from huizhili.storable import text_problem
from huizhili.storage.models import (
    AREA_LEVELS,
    Area,
    AreaAssigned,
    Building,
    Device,
    Facility,
    Parcel,
)

_TEXT, _INT, _BOOL = str, int, bool
TARGETS: dict[str, dict[str, type]] = {
    "facility": {
        "kind": _TEXT, "name": _TEXT, "address": _TEXT, "phone": _TEXT, "opening_hours": _TEXT, "owner_department": _TEXT,
    },
    "building": {"name": _TEXT, "use": _TEXT, "floors": _INT, "year": _INT, "households": _INT, "population": _INT},
    "parcel": {"name": _TEXT, "land_use": _TEXT},
    "device": {"code": _TEXT, "sensor_kind": _TEXT, "name": _TEXT, "owner_department": _TEXT},
    "area": {
        "code": _TEXT, "name": _TEXT, "level": _TEXT, "parent_code": _TEXT,
        "population": _INT, "households": _INT, "statistics_year": _INT,
    },
}
"""Record types a file can fill, and the fields each takes (anything unmapped goes to ``properties``)."""

REQUIRED = {"facility": ("kind",), "device": ("code", "sensor_kind"), "area": ("code", "name", "level")}
MODELS: dict[str, type[AreaAssigned]] = {"facility": Facility, "building": Building, "parcel": Parcel, "device": Device}
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")

_MAX_NESTING = 32
"""Deepest nesting of arrays and objects a GeoJSON feature may have. Geometries need 6; stored
properties are served back by encoders that recurse once per level, and at a few hundred
levels every listing that includes the record would fail."""
_LARGEST_INT = 2**31 - 1
"""Largest whole number an INTEGER column holds on PostgreSQL (larger ones failed as a server error)."""
_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "an array", type(None): "null"}


def import_file(
    session: Session,
    path: Path,
    target: str,
    *,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    only: Mapping[str, Collection[str]] | None = None,
    source_crs: str | None = None,
    within: str | None = None,
    tolerance_m: float = OUTSIDE_TOLERANCE_M,
    layer: str | None = None,
    source_name: str | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a GeoJSON, GeoPackage, Shapefile or CSV file as facilities, buildings, parcels, devices or areas.

    Areas are created or updated by code, and every stored record is then assigned to them again.

    Parameters
    ----------
    session
        Session inside the caller's transaction; on any error the caller rolls back.
    path
        The file. CSV needs longitude/latitude columns (see ``mapping``'s ``lon``/``lat``).
    target
        One of :data:`TARGETS`.
    mapping
        Target field → source column, e.g. ``{"name": "名称"}``; a field with the same name as a
        column is taken without mapping. ``lon`` and ``lat`` name a CSV's coordinate columns.
    constants
        Target field → value for every record, e.g. ``{"kind": "sampling_point"}``.
    only
        Column → values: only the records whose column holds one of the values are imported,
        e.g. ``{"landuse_type": ["park", "garden"]}``; how many were left out is noted.
    source_crs
        ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` or ``EPSG:<code>``; converted to WGS84.
        By default the CRS the file declares (GeoPackage, Shapefile), else WGS84.
    within
        Code or name of an area: records farther than ``tolerance_m`` outside its boundary are
        reported in ``ImportReport.outside`` and not kept.
    tolerance_m
        Metres beyond the boundary still counted as inside (boundaries are simplified).
    layer
        Layer of a multi-layer file (GeoPackage).
    source_name
        Names the source: records are keyed ``<source_name>:<id>``, and importing the same
        source again replaces them (reported). Default: the file's name without suffix.
    file_name
        How messages and the report name the file, e.g. the name an upload was sent under, so
        that no server path shows. Default: its name on disk (the report: its path).
    progress
        Called as records are read and written.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportFailed
        If the file is unreadable, truncated, or a record is malformed, lacks a column of
        ``only`` or names an unknown department, or a device code is given twice or held by a
        device of another source; names the record.
    ValidationError
        If the target, mapping or CRS is not valid.
    """
    check_options(session, target, mapping=mapping, constants=constants, source_crs=source_crs, within=within)
    mapping, constants = dict(mapping or {}), dict(constants or {})
    path = Path(path)
    name = file_name or path.name
    report = ImportReport(importer=f"file:{target}", source=file_name or str(path))
    records, left_out = [], 0
    for ref, properties, geometry in _read_features(path, mapping, layer, name):
        if only and not _selected(properties, only, ref, name):
            left_out += 1
            continue
        records.append(_record(target, ref, properties, geometry, mapping, constants, name, source_name or path.stem))
        if progress and len(records) % 10000 == 0:
            progress("reading", len(records))
    if left_out:
        wanted = "; ".join(f"{column} one of {', '.join(sorted(values))}" for column, values in (only or {}).items())
        report.notes.append(f"{left_out:,} records left out: only those with {wanted} were imported")
    convert_to_wgs84(records, source_crs or _declared_crs(path, layer, name) or "wgs84")
    check_wgs84_range(records, name)
    records = repair_geometries(records, report)
    if within is not None:
        area = find_area(session, within, Scope.system())
        boundary = area_geometry(session, area)
        assert boundary is not None  # checked by check_options
        records = drop_outside(records, boundary, area.name, tolerance_m, report)
    if target == "area":
        report.counts["areas"] = upsert_areas(session, [_area_spec(r, name) for r in records])
        reassign_records(session, report)
    else:
        model = MODELS[target]
        if model is Device:
            _refuse_taken_codes(session, records, name)
        if "owner_department" in TARGETS[target]:
            _refuse_unknown_departments(session, records, name)
        report.counts[model.__tablename__] = len(write_records(session, model, records, report, progress))
    return finish_run(session, report)


def check_options(
    session: Session,
    target: str,
    *,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    source_crs: str | None = None,
    within: str | None = None,
) -> None:
    """Refuse an import's options before any file is read: a request can then be refused at once.

    Raises
    ------
    ValidationError
        For an unknown target, field or CRS, or a ``within`` area without a boundary.
    NotFoundError
        If the ``within`` area does not exist.
    """
    if target not in TARGETS:
        message = f"unknown target {target!r}; choose one of {', '.join(TARGETS)}"
        raise ValidationError(message)
    unknown = set(mapping or {}) - set(TARGETS[target]) - {"lon", "lat", "id"} | set(constants or {}) - set(TARGETS[target])
    if unknown:
        message = f"{target} has no field {', '.join(sorted(unknown))}; fields: {', '.join(TARGETS[target])}"
        raise ValidationError(message)
    if source_crs is not None:
        normalise_crs(source_crs)
    if within is not None:
        area = find_area(session, within, Scope.system())
        if area_geometry(session, area) is None:
            message = f"area {area.name} ({area.code}) has no boundary to check records against"
            raise ValidationError(message)


def _refuse_unknown_departments(session: Session, records: Sequence[Record], name: str) -> None:
    """Refuse an owner_department that is no department, naming the first record that gives it."""
    unknown = set(unknown_departments(session, (record.fields["owner_department"] for record in records)))
    first = next((record for record in records if record.fields["owner_department"] in unknown), None)
    if first is not None:
        message = (f"{name}: {first.ref}: no department {first.fields['owner_department']!r}; "
                   "add it first (huizhili department add) or use one of GET /api/departments")
        raise ImportFailed(message, record=first.ref)
def _selected(properties: Mapping[str, Any], only: Mapping[str, Collection[str]], ref: str, name: str) -> bool:
    """Whether a record holds one of the wanted values in every column of ``only``."""
    for column, values in only.items():
        if column not in properties:
            message = f"{name}: {ref} has no column {column!r} to choose records by"
            raise ImportFailed(message, record=ref)
        if str(properties[column]) not in values:
            return False
    return True


def _refuse_taken_codes(session: Session, records: Sequence[Record], name: str) -> None:
    """Refuse device codes (unique) given twice, or held by a device this import does not replace."""
    first: dict[str, str] = {}
    for record in records:
        code = record.fields["code"]
        if code in first:
            message = f"{name}: {record.ref}: device code {code!r} is also given to {first[code]}"
            raise ImportFailed(message, record=record.ref)
        first[code] = record.ref
    replaced = {record.source_ref for record in records}
    codes = list(first)
    held: set[str] = set()
    for start in range(0, len(codes), CHUNK):
        rows = session.execute(sa.select(Device.code, Device.source_ref).where(Device.code.in_(codes[start : start + CHUNK])))
        held.update(code for code, source_ref in rows if source_ref not in replaced)
    taken = next((code for code in codes if code in held), None)
    if taken is not None:
        message = f"{name}: {first[taken]}: device code {taken!r} is already held by a device of another source"
        raise ImportFailed(message, record=first[taken])


def _read_features(
    path: Path, mapping: Mapping[str, str], layer: str | None, name: str
) -> Iterator[tuple[str, dict[str, Any], BaseGeometry | None]]:
    """Yield (reference, properties, geometry) per feature, whatever the format."""
    if not path.is_file():
        message = f"{name}: no such file"
        raise ImportFailed(message)
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        yield from _read_csv(path, mapping, name)
        return
    if suffix in {".geojson", ".json"}:
        features = _read_geojson(path, name)
    elif suffix in {".gpkg", ".shp", ".zip", ".fgb"}:
        features = _read_ogr(path, layer, name)
    else:
        message = f"{name}: unsupported format {suffix!r}; use GeoJSON, GeoPackage, Shapefile or CSV"
        raise ImportFailed(message)
    if "lon" in mapping and "lat" in mapping:
        # Coordinates in attribute columns win over the stored geometry (e.g. raw BD-09 values).
        for ref, properties, _ in features:
            yield ref, properties, _point(properties, mapping["lon"], mapping["lat"], ref, name)
    else:
        yield from features


def _read_geojson(path: Path, name: str) -> Iterator[tuple[str, dict[str, Any], BaseGeometry | None]]:
    """Parse GeoJSON ourselves so a broken file can be blamed on the exact feature."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"{name}: not UTF-8 text ({error.reason} at byte {error.start}); GeoJSON must be UTF-8"
        raise ImportFailed(message) from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        broken = _broken_feature(text)
        where = f"feature {broken}" if broken else "the document"
        message = f"{name}: malformed JSON in {where} (line {error.lineno}, column {error.colno}): {error.msg}"
        raise ImportFailed(message, record=where if broken else None) from error
    except (RecursionError, ValueError) as error:
        # Nesting past the decoder's recursion limit, or an integer longer than Python converts.
        broken = _broken_feature(text)
        where = f"feature {broken}" if broken else "the document"
        reason = f"is nested too deeply (over {_MAX_NESTING} levels)" if isinstance(error, RecursionError) else f"cannot be read: {error}"
        message = f"{name}: {where} {reason}"
        raise ImportFailed(message, record=where if broken else None) from error
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        message = f"{name}: not a GeoJSON FeatureCollection"
        raise ImportFailed(message)
    for number, feature in enumerate(features, start=1):
        ref = _checked_feature(feature, number, name)
        try:
            geometry = shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as error:
            message = f"{name}: {ref} has a malformed geometry: {error}"
            raise ImportFailed(message, record=ref) from error
        yield ref, feature.get("properties") or {}, geometry


def _checked_feature(feature: Any, number: int, name: str) -> str:
    """The reference of a feature that is an object with object properties, nested within reason."""
    if not isinstance(feature, dict):
        ref = f"feature {number}"
        message = f"{name}: {ref} is not a GeoJSON Feature object but {_JSON_TYPES.get(type(feature), 'a value')}"
        raise ImportFailed(message, record=ref)
    properties = feature.get("properties")
    if properties is not None and not isinstance(properties, dict):
        ref = f"feature {number}"
        message = f"{name}: {ref}: properties must be an object or null"
        raise ImportFailed(message, record=ref)
    ref = _feature_ref(number, properties or {}, feature.get("id"))
    problem = _unfit(feature)
    if problem is not None:
        message = f"{name}: {ref}: {problem}"
        raise ImportFailed(message, record=ref)
    return ref


def _unfit(value: Any) -> str | None:
    """What in a JSON value cannot be stored: nesting past :data:`_MAX_NESTING`, NaN or Infinity."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            # Python's decoder accepts NaN, Infinity and 1e999; stored, they come back as null.
            return f"{where} is {json.dumps(item)}; numbers must be finite"
        if not isinstance(item, dict | list):
            continue
        if depth > _MAX_NESTING:
            return f"{where} is nested too deeply (over {_MAX_NESTING} levels)"
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in reversed(list(children)):
            stack.append((child, f"{where}[{key}]" if isinstance(item, list) else f"{where}.{key}".lstrip("."), depth + 1))
    return None


def _broken_feature(text: str) -> int | None:
    """The 1-based number of the first feature that does not decode, found element by element."""
    start = re.search(r'"features"\s*:\s*\[', text)
    if start is None:
        return None
    decoder, position, number = json.JSONDecoder(), start.end(), 1
    while True:
        position = _skip(text, position)
        try:
            _, position = decoder.raw_decode(text, position)
        except (RecursionError, ValueError):  # JSONDecodeError is a ValueError
            return number
        position = _skip(text, position)
        if not text.startswith(",", position):
            return number + 1 if not text.startswith("]", position) else None
        position, number = position + 1, number + 1


def _skip(text: str, position: int) -> int:
    """Index of the next non-blank character."""
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _feature_ref(number: int, properties: Mapping[str, Any], feature_id: Any) -> str:
    """Name a feature by its position and, where it has one, its id."""
    identity = feature_id if feature_id is not None else properties.get("id", properties.get("ID"))
    return f"feature {number}" + (f" (id {identity})" if identity is not None else "")


def _read_csv(path: Path, mapping: Mapping[str, str], name: str) -> Iterator[tuple[str, dict[str, Any], BaseGeometry | None]]:
    """Rows of a CSV with longitude/latitude columns; line numbers count the header as line 1."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as error:
        message = f"{name}: the CSV is empty (no header line)"
        raise ImportFailed(message) from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        message = f"{name}: unreadable CSV: {without_path(error, path, name)}"
        raise ImportFailed(message) from error
    lon_column = mapping.get("lon") or _first_present(frame.columns, LON_COLUMNS)
    lat_column = mapping.get("lat") or _first_present(frame.columns, LAT_COLUMNS)
    for row_number, row in enumerate(frame.to_dict("records"), start=2):
        ref = f"line {row_number}"
        geometry = _point(row, lon_column, lat_column, ref, name) if lon_column and lat_column else None
        yield ref, row, geometry


def _point(properties: Mapping[str, Any], lon_column: str, lat_column: str, ref: str, name: str) -> shapely.Point:
    """A point from two attribute columns."""
    lon = _coordinate(properties, lon_column, ref, name)
    lat = _coordinate(properties, lat_column, ref, name)
    return shapely.Point(lon, lat)


def _first_present(columns: Any, candidates: tuple[str, ...]) -> str | None:
    """The first candidate column name present, ignoring case."""
    lowered = {str(c).lower(): str(c) for c in columns}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _coordinate(properties: Mapping[str, Any], column: str, ref: str, name: str) -> float:
    """A finite float coordinate from a column, or an error naming the record and the column."""
    value = properties.get(column)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        message = f"{name}: {ref} has no valid coordinate in {column} ({value!r})"
        raise ImportFailed(message, record=ref)
    return number


def _declared_crs(path: Path, layer: str | None, name: str) -> str | None:
    """The CRS a GeoPackage or Shapefile declares, e.g. ``EPSG:32651`` (None for other formats)."""
    if path.suffix.lower() not in {".gpkg", ".shp", ".zip", ".fgb"}:
        return None
    try:
        return pyogrio.read_info(path, layer=layer).get("crs")  # type: ignore[no-any-return]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        message = f"{name}: unreadable: {without_path(error, path, name)}"
        raise ImportFailed(message) from error


def _read_ogr(path: Path, layer: str | None, name: str) -> Iterator[tuple[str, dict[str, Any], BaseGeometry | None]]:
    """GeoPackage, Shapefile and friends through GDAL (pyogrio), reprojected later by our own code."""
    try:
        meta, _, geometry, fields = pyogrio.raw.read(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as error:
        message = f"{name}: unreadable: {without_path(error, path, name)}"
        raise ImportFailed(message) from error
    columns = list(meta["fields"])
    shapes = shapely.from_wkb(geometry) if geometry is not None else np.full(len(fields[0]) if fields else 0, None)
    for index, shape in enumerate(shapes):
        properties = {column: _plain(values[index]) for column, values in zip(columns, fields, strict=True)}
        ref = _feature_ref(index + 1, properties, None)
        infinite = next((k for k, v in properties.items() if isinstance(v, float) and math.isinf(v)), None)
        if infinite is not None:
            message = f"{name}: {ref}: {infinite} is {json.dumps(properties[infinite])}; numbers must be finite"
            raise ImportFailed(message, record=ref)
        yield ref, properties, shape


def _plain(value: Any) -> Any:
    """Numpy scalars to Python values, for JSON properties; NaN, how GDAL hands over an empty real field, to None."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _record(
    target: str,
    ref: str,
    properties: dict[str, Any],
    geometry: BaseGeometry | None,
    mapping: Mapping[str, str],
    constants: Mapping[str, str],
    name: str,
    source_name: str,
) -> Record:
    """Apply the mapping and type rules to one feature."""
    fields: dict[str, Any] = {}
    used = set()
    for field, kind in TARGETS[target].items():
        column = mapping.get(field, field)
        raw = constants.get(field, properties.get(column))
        used.add(column)
        fields[field] = _typed(raw, kind, field, ref, name, _longest(target, field))
    for field in REQUIRED.get(target, ()):
        if fields[field] is None:
            message = f"{name}: {ref} has no {field} (map a column with --map {field}=COLUMN or set --set {field}=VALUE)"
            raise ImportFailed(message, record=ref)
    if target == "facility" and fields["kind"] not in FACILITY_KINDS:
        message = f"{name}: {ref} has unknown facility kind {fields['kind']!r}"
        raise ImportFailed(message, record=ref)
    if target == "area" and fields["level"] not in AREA_LEVELS:
        message = f"{name}: {ref} has unknown area level {fields['level']!r}"
        raise ImportFailed(message, record=ref)
    if geometry is None and target != "area":
        message = f"{name}: {ref} has no geometry"
        raise ImportFailed(message, record=ref)
    if (problem := text_problem(fields)) or (problem := text_problem(properties)):
        message = f"{name}: {ref}: a text value {problem}"
        raise ImportFailed(message, record=ref)
    identity = properties.get(mapping.get("id", "id"), properties.get("ID"))
    source_ref = _source_ref(source_name, identity if identity not in (None, "") else ref)
    extra = {k: _plain(v) for k, v in properties.items() if k not in used and v not in (None, "")}
    return Record(ref=ref, geometry=geometry, fields=fields, properties=extra, source_ref=source_ref)


def _source_ref(stem: str, identity: Any) -> str:
    """``file:id``, kept within the 64 characters stored: long ones end in a digest of the whole."""
    text = f"{stem}:{identity}"
    if len(text) <= 64:
        return text
    return f"{text[:47]}~{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def _longest(target: str, field: str) -> int | None:
    """Most characters the column behind a field holds (None where unbounded or not text)."""
    column = MODELS.get(target, Area).__table__.columns.get(field)
    return getattr(column.type, "length", None) if column is not None else None


def _typed(raw: Any, kind: type, field: str, ref: str, name: str, longest: int | None) -> Any:
    """Convert a raw cell to the field's type, refusing text longer than ``longest``; empty cells become None."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind is int:
        try:
            number = int(float(raw))
        except (TypeError, ValueError, OverflowError) as error:  # OverflowError: Infinity
            message = f"{name}: {ref}: {field} must be a whole number, not {raw!r}"
            raise ImportFailed(message, record=ref) from error
        if abs(number) > _LARGEST_INT:
            message = f"{name}: {ref}: {field} must be a whole number up to {_LARGEST_INT:,}, not {raw!r}"
            raise ImportFailed(message, record=ref)
        return number
    text = str(raw).strip()
    if longest is not None and len(text) > longest:
        # PostgreSQL refuses what SQLite would keep: refuse on both, naming the field.
        message = f"{name}: {ref}: {field} has {len(text):,} characters; at most {longest} fit"
        raise ImportFailed(message, record=ref)
    return text


def _area_spec(record: Record, name: str) -> AreaSpec:
    """An area from a record; its geometry must be areal."""
    geometry = record.geometry
    if geometry is not None and geometry.geom_type not in {"Polygon", "MultiPolygon"}:
        message = f"{name}: {record.ref}: an area needs a polygon, not a {geometry.geom_type}"
        raise ImportFailed(message, record=record.ref)
    return AreaSpec(geometry=geometry, source=name[: _longest("area", "source")], **record.fields)
