"""The owner registry (权属): which unit owns each asset on the street, loaded from the lists units keep.

A case about a manhole cover, a lamp, a tree or a bin goes to the asset's owner
(``cases.dispatch``); a settled ownership dispute corrects the registry, so the next case goes
right at once.
"""

import csv
import io
from pathlib import Path

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.base.assign import assign_areas
from huizhili.departments import unknown_departments
from huizhili.errors import ValidationError
from huizhili.storable import text_problem
from huizhili.storage.models import AssetOwner

OWNER_COLUMNS = ("ref", "kind", "lon", "lat", "owner_department")
"""The columns of an owner-registry file; others are kept as the asset's properties."""


def import_owners(session: Session, path: Path, *, file_name: str | None = None) -> int:
    """Load an owner-registry CSV (ref, kind, lon, lat, owner_department, …) all or nothing; returns the rows written.

    A ref already registered is updated (its owner changed hands). Areas are assigned in the same transaction.

    Raises
    ------
    ValidationError
        Naming the line and the field of the first bad row (missing column, bad coordinate,
        unknown department, repeated ref); nothing is written then.
    """
    name = file_name or path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        message = f"{name}: cannot read it as UTF-8 CSV: {error}"
        raise ValidationError(message) from error
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in OWNER_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        message = f"{name}: missing columns {', '.join(missing)}"
        raise ValidationError(message)
    rows = list(reader)
    unknown = set(unknown_departments(session, [row["owner_department"] for row in rows]))
    seen: set[str] = set()
    assets = [_owner_fields(name, line, row, unknown, seen) for line, row in enumerate(rows, 2)]
    existing = {a.ref: a for a in session.scalars(sa.select(AssetOwner).where(AssetOwner.ref.in_(sorted(seen))))}
    for fields in assets:
        ref = str(fields["ref"])
        asset = existing.get(ref) or AssetOwner(ref=ref)
        for key, value in fields.items():
            setattr(asset, key, value)
        session.add(asset)
    session.flush()
    assign_areas(session, [AssetOwner], ids=[a.id for a in session.scalars(sa.select(AssetOwner).where(AssetOwner.ref.in_(sorted(seen))))])
    return len(assets)


def _owner_fields(name: str, line: int, row: dict[str, str], unknown: set[str], seen: set[str]) -> dict[str, object]:
    ref, kind, department = (row[c].strip() for c in ("ref", "kind", "owner_department"))
    where = f"{name} line {line}"
    if not ref or len(ref) > 100 or not kind or len(kind) > 40:
        message = f"{where}: ref (1–100 characters) and kind (1–40) are required"
        raise ValidationError(message)
    if ref in seen:
        message = f"{where}: ref {ref!r} appears twice"
        raise ValidationError(message)
    if department in unknown or not department:
        message = f"{where}: no department {department!r}"
        raise ValidationError(message)
    try:
        lon, lat = float(row["lon"]), float(row["lat"])
    except ValueError as error:
        message = f"{where}: lon and lat must be numbers, not {row['lon']!r}, {row['lat']!r}"
        raise ValidationError(message) from error
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        message = f"{where}: lon {lon}, lat {lat} is not a WGS84 position"
        raise ValidationError(message)
    extra = {k: v for k, v in row.items() if k not in OWNER_COLUMNS and k}
    if problem := text_problem([ref, kind, *extra.values()]):
        message = f"{where}: a text value {problem}"
        raise ValidationError(message)
    seen.add(ref)
    return {"ref": ref, "kind": kind, "owner_department": department, "lon": lon, "lat": lat, "geometry": shapely.Point(lon, lat),
            "properties": extra, "source_ref": f"{name}:{line}"}
