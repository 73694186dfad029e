"""File imports over HTTP: upload once, import all or nothing, get the report."""

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from huizhili.base.importers import import_file, import_osm
from huizhili.errors import ValidationError
from huizhili.web.deps import SessionDep, SettingsDep, allow
from huizhili.web.schemas import ImportReportOut

router = APIRouter(prefix="/imports", tags=["imports"])

ALLOWED_SUFFIXES = {".geojson", ".json", ".csv", ".gpkg", ".zip", ".pbf", ".osm"}
_CHUNK = 1024 * 1024


@router.post("", response_model=ImportReportOut, status_code=201)
async def upload_import(
    session: SessionDep,
    settings: SettingsDep,
    principal: allow("write:imports"),
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile, CSV or OSM (.osm.pbf/.osm).")],
    target: Annotated[str, Form(pattern="^(osm|facility|building|parcel|device|area)$")],
    mapping: Annotated[str, Form(max_length=4000, description='JSON object, field → column, e.g. {"name": "名称"}.')] = "{}",
    constants: Annotated[str, Form(max_length=4000, description='JSON object, field → value, e.g. {"kind": "park"}.')] = "{}",
    crs: Annotated[str | None, Form(max_length=40, description="Source CRS; default the file's own, else WGS84.")] = None,
    within: Annotated[str | None, Form(max_length=200)] = None,
    clip: Annotated[str | None, Form(max_length=200)] = None,
) -> dict[str, Any]:
    """Import an uploaded file; a bad file writes nothing and the error names the record."""
    stored = await _store_upload(file, settings.data_dir / "uploads", settings.upload_max_bytes)
    try:
        if target == "osm":
            report = import_osm(session, stored, clip=clip, file_name=file.filename)
        else:
            report = import_file(
                session,
                stored,
                target,
                mapping=_json_object(mapping, "mapping"),
                constants=_json_object(constants, "constants"),
                source_crs=crs,
                within=within,
                # Keyed by uploader and file name: re-uploading a file replaces what it brought.
                source_name=f"upload-{principal.username}-{Path(file.filename or 'file').stem}",
                # Messages and the kept report name the file as sent, never its path here.
                file_name=file.filename,
            )
    finally:
        stored.unlink(missing_ok=True)
    return report.as_dict()


async def _store_upload(file: UploadFile, folder: Path, limit: int) -> Path:
    """Save the upload outside any served folder, refusing unknown types and oversize files."""
    name = file.filename or ""
    suffix = ".osm.pbf" if name.lower().endswith(".osm.pbf") else Path(name).suffix.lower()
    if suffix.rpartition(".")[2] not in {s.lstrip(".") for s in ALLOWED_SUFFIXES}:
        message = f"file type {suffix or '(none)'!r} not accepted; send one of {', '.join(sorted(ALLOWED_SUFFIXES))}"
        raise ValidationError(message)
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}{suffix}"
    size = 0
    with stored.open("wb") as out:
        while chunk := await file.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                stored.unlink()
                message = f"file larger than the {limit} bytes allowed"
                raise ValidationError(message)
            out.write(chunk)
    return stored


def _json_object(text: str, name: str) -> dict[str, str]:
    """A JSON object of strings from a form field."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"{name} must be a JSON object: {error}"
        raise ValidationError(message) from error
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        message = f"{name} must be a JSON object of strings"
        raise ValidationError(message)
    return value

