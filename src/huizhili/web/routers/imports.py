"""File imports over HTTP: upload once, and a worker imports it all or nothing; the job carries the report."""

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from huizhili.base.areas import find_area
from huizhili.base.importers.tabular import check_options
from huizhili.errors import ValidationError
from huizhili.jobs import submit
from huizhili.policy import Scope
from huizhili.web.deps import SessionDep, SettingsDep, WriteImports
from huizhili.web.routers.jobs import accepted
from huizhili.web.schemas import ImportForm, JobOut

router = APIRouter(prefix="/imports", tags=["imports"])

ALLOWED_SUFFIXES = {".geojson", ".json", ".csv", ".gpkg", ".zip", ".pbf", ".osm"}
OSM_SUFFIXES = {".osm", ".pbf", ".osm.pbf"}
_CHUNK = 1024 * 1024


@router.post("", response_model=JobOut, status_code=202, openapi_extra={"requestBody": {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        **ImportForm.model_json_schema(),
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "GeoJSON, GeoPackage, zipped Shapefile, CSV or OSM (.osm.pbf/.osm)."},
            **ImportForm.model_json_schema()["properties"],
        },
        "required": ["file", *ImportForm.model_json_schema()["required"]],
    }}},
}})
async def upload_import(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: WriteImports,
) -> dict[str, Any]:
    """Upload a file to import (multipart form): 202 with the import job, whose result is the import report.

    The import runs in a worker, all or nothing: a bad file writes nothing and the job's error
    names the record. The form — target and file type, fields, CRS, areas — is checked here and
    refused at once.

    The body is read only after the caller is known to be allowed to import: anyone else is
    refused before a byte of the upload is received, and only importers get its larger size limit.
    """
    # A malformed multipart body is Starlette's 400; the spooled parts are closed on leaving.
    async with request.form(max_files=1, max_fields=len(ImportForm.model_fields), max_part_size=64 * 1024) as data:
        form, file = _checked_form(data)
        parameters = {
            "target": form.target,
            "clip": form.clip,
            "mapping": _json_object(form.mapping, "mapping"),
            "constants": _json_object(form.constants, "constants"),
            "crs": form.crs,
            "within": form.within,
            # Keyed by uploader and file name: re-uploading a file replaces what it brought.
            "source_name": f"upload-{principal.username}-{Path(file.filename or 'file').stem}",
            # Messages and the kept report name the file as sent, never its path here.
            "file_name": file.filename,
        }
        _check_type(file.filename or "", form.target)
        # Database reads and writes run off the event loop: on SQLite they may wait for a job's write lock.
        await run_in_threadpool(_check_options, session, parameters)
        stored = await _store_upload(file, settings.data_dir / "uploads", settings.upload_max_bytes)
    job = await run_in_threadpool(submit, session, "import", {**parameters, "upload": str(stored)}, principal)
    return accepted(job, settings, response)


def _check_options(session: Session, parameters: dict[str, Any]) -> None:
    """Refuse at once what the import would refuse before reading the file: fields, CRS, areas."""
    if parameters["target"] == "osm":
        if parameters["clip"] is not None:
            find_area(session, parameters["clip"], Scope.system())
        return
    check_options(session, parameters["target"], mapping=parameters["mapping"], constants=parameters["constants"],
                  source_crs=parameters["crs"], within=parameters["within"])


def _suffix(name: str) -> str:
    return ".osm.pbf" if name.lower().endswith(".osm.pbf") else Path(name).suffix.lower()


def _check_type(name: str, target: str) -> None:
    """Refuse a file type the server does not take, or one that does not fit the target (OSM or a table)."""
    suffix = _suffix(name)
    if suffix.rpartition(".")[2] not in {s.lstrip(".") for s in ALLOWED_SUFFIXES}:
        message = f"file type {suffix or '(none)'!r} not accepted; send one of {', '.join(sorted(ALLOWED_SUFFIXES))}"
        raise ValidationError(message)
    if (suffix in OSM_SUFFIXES) != (target == "osm"):
        expected = "an .osm or .osm.pbf file" if target == "osm" else "GeoJSON, GeoPackage, zipped Shapefile or CSV"
        message = f"{name}: target {target} needs {expected}"
        raise ValidationError(message)


def _checked_form(data: FormData) -> tuple[ImportForm, UploadFile]:
    """The upload's fields, checked like any request body, and its one file.

    Raises
    ------
    RequestValidationError
        If a field is missing or invalid, or the file is missing (422, FastAPI's shape).
    """
    file = data.get("file")
    errors: list[dict[str, Any]] = [] if isinstance(file, UploadFile) else [
        {"type": "missing", "loc": ("body", "file"), "msg": "a file is required", "input": None}]
    try:
        form = ImportForm.model_validate({key: value for key, value in data.items() if key != "file"})
    except PydanticValidationError as error:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
    if errors or not isinstance(file, UploadFile):
        raise RequestValidationError(errors)
    return form, file


async def _store_upload(file: UploadFile, folder: Path, limit: int) -> Path:
    """Save the upload outside any served folder, refusing oversize files."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}{_suffix(file.filename or '')}"
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

