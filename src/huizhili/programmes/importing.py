"""Programme and project lists from CSV or Excel, as district offices keep them: all or nothing, or the valid rows only.

Columns are named in English (the field) or by the usual Chinese header (:data:`PROGRAMME_COLUMNS`,
:data:`PROJECT_COLUMNS`). A project is placed by a WKT geometry (``wkt``/几何), a point
(``lon``/``lat``), or a road's name (``road``/道路: the walk ways of that name, joined into
one line, whose length gives its km when the list does not). By default the first bad row
refuses the whole file, named with its line, and nothing is written; with ``valid_only`` the
good rows are written and the report names every bad row and why. A row is bad when it cannot
be read, names no programme or department, lies outside every district, or is not the
importer's to change (``Scope.writable``). A list loaded again updates its rows by code or by
programme and number.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.errors import ImportFailed, ValidationError
from huizhili.policy import Scope
from huizhili.programmes.catalogue import QUANTITY_UNITS
from huizhili.programmes.records import (
    ProgrammeSpec,
    ProjectSpec,
    check_programme,
    check_project,
    write_programmes,
    write_projects,
)
from huizhili.spreadsheet import read_table, text_cell
from huizhili.storage.models import WalkWay

KINDS = ("programmes", "projects")
"""What a list may hold."""

PROGRAMME_COLUMNS = {"code": "计划编号", "kind": "类别", "name": "名称", "name_en": "英文名称", "owner_department": "责任单位",
                     "period_start": "开始日期", "period_end": "结束日期"}
"""A programme's field → the Chinese header that may name its column instead."""

PROJECT_COLUMNS = {"programme": "所属计划", "ref": "项目编号", "name": "项目名称", "owner_department": "责任单位", "status": "状态",
                   "planned_start": "计划开工", "planned_end": "计划完工", "actual_start": "实际开工", "actual_end": "实际完工",
                   "households": "户数", "m2": "面积", "km": "长度", "count": "数量", "wkt": "几何", "lon": "经度", "lat": "纬度",
                   "road": "道路"}
"""A project's field → the Chinese header that may name its column instead."""

STATUS_NAMES = {"计划": "planned", "未开工": "planned", "在建": "in_progress", "实施中": "in_progress", "完成": "done",
                "已完成": "done", "暂停": "suspended"}
"""Chinese status words offices write, and the status each means."""

_REQUIRED = {"programmes": ("code", "kind", "name"), "projects": ("programme", "ref", "name")}
_DATE = re.compile(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")


@dataclass(frozen=True)
class RefusedRow:
    """A row that was not written: its line in the file (the header is line 1) and why."""

    line: int
    error: str


@dataclass(frozen=True)
class ListImport:
    """What an import wrote (programme codes, or programme/number of projects) and, with ``valid_only``, what it refused."""

    kind: str
    file_name: str
    written: list[str] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)


def import_list(session: Session, scope: Scope, path: Path, kind: str, *, valid_only: bool = False,
                file_name: str | None = None) -> ListImport:
    """Write the programmes or projects of the list at ``path``: every row or none, or with ``valid_only`` the good ones.

    Parameters
    ----------
    session
        Inside the caller's transaction, which commits.
    scope
        The importer's: a row she may not change is a bad row.
    path
        A CSV (UTF-8 or GB18030) or Excel (.xlsx) file.
    kind
        ``programmes`` or ``projects``.
    valid_only
        Write the good rows and report the bad ones, instead of refusing the file.
    file_name
        The file's name as its sender knows it, for messages (default: the path's).

    Raises
    ------
    ImportFailed
        Without ``valid_only``, naming the first bad row's line and what is wrong; nothing is written.
        With it too, when the file cannot be read or lacks a needed column.
    ValidationError
        If ``kind`` is neither.
    """
    if kind not in KINDS:
        message = f"清单类别须为 the list holds one of {', '.join(KINDS)}, not {kind!r}"
        raise ValidationError(message)
    name = file_name or path.name
    table = read_table(path, name)
    columns = _columns(table, kind, name)
    rows: list[tuple[int, Any]] = []
    refused: list[RefusedRow] = []
    seen: dict[Any, int] = {}
    for line, row in zip(range(2, len(table) + 2), table.to_dict("records"), strict=True):
        values = {ours: text_cell(row[theirs]) for ours, theirs in columns.items()}
        try:
            spec = _programme(values) if kind == "programmes" else _project(session, values)
            key = spec.code if isinstance(spec, ProgrammeSpec) else (spec.programme, spec.ref)
            if key in seen:
                message = f"与第 {seen[key]} 行重复 repeats line {seen[key]}"
                raise ValidationError(message)
            seen[key] = line
            if isinstance(spec, ProgrammeSpec):
                check_programme(session, spec)
            else:
                check_project(session, spec)
        except ValidationError as error:
            refused.append(RefusedRow(line, str(error)))
            continue
        rows.append((line, spec))
    # Rows that read well are written even when others did not, to find every row that cannot be
    # placed; without valid_only that write is undone and the file refused.
    written, bad = _write(session, scope, kind, rows, keep=valid_only or not refused)
    refused += bad
    if refused and not valid_only:
        _refuse(name, refused)
    if bad:
        good = {line for line, _ in rows} - {row.line for row in bad}
        written, still = _write(session, scope, kind, [(line, spec) for line, spec in rows if line in good], keep=True)
        if still:  # rows do not depend on each other, so the good ones stay good
            _refuse(name, still)
    return ListImport(kind=kind, file_name=name, written=written, refused=sorted(refused, key=lambda row: row.line))


def _write(session: Session, scope: Scope, kind: str, rows: Sequence[tuple[int, Any]], *,
           keep: bool) -> tuple[list[str], list[RefusedRow]]:
    """Write the rows in a savepoint, kept when asked and every row could be written: what was written, and the bad rows."""
    specs = [spec for _, spec in rows]
    savepoint = session.begin_nested()
    problems = write_programmes(session, scope, specs) if kind == "programmes" else write_projects(session, scope, specs)
    bad = [RefusedRow(line, problem) for (line, _), problem in zip(rows, problems, strict=True) if problem]
    if bad or not keep:
        savepoint.rollback()
        return [], bad
    savepoint.commit()
    return [spec.code if kind == "programmes" else f"{spec.programme}/{spec.ref}" for spec in specs], []


def _refuse(name: str, refused: list[RefusedRow]) -> None:
    first = min(refused, key=lambda row: row.line)
    more = f"（另有 {len(refused) - 1} 行有误 and {len(refused) - 1} more bad rows）" if len(refused) > 1 else ""
    message = f"{name} 第 {first.line} 行 line {first.line}: {first.error}{more}；未写入任何记录 nothing was written"
    raise ImportFailed(message, record=f"{name}:{first.line}")




def _columns(table: pd.DataFrame, kind: str, name: str) -> dict[str, str]:
    """Our field → the file's column holding it, by the field's own name or its Chinese header."""
    names = PROGRAMME_COLUMNS if kind == "programmes" else PROJECT_COLUMNS
    headers = {str(column).strip(): column for column in table.columns}
    found = {ours: headers[label] for ours, zh in names.items() for label in (ours, zh) if label in headers}
    if missing := [f"{ours} ({names[ours]})" for ours in _REQUIRED[kind] if ours not in found]:
        message = f"{name} 缺少列 lacks the column(s) {', '.join(missing)}"
        raise ImportFailed(message, record=name)
    return found




def _programme(values: dict[str, str | None]) -> ProgrammeSpec:
    return ProgrammeSpec(code=values.get("code") or "", kind=values.get("kind") or "", name=values.get("name") or "",
                         name_en=values.get("name_en"), owner_department=values.get("owner_department"),
                         period_start=_date(values, "period_start"), period_end=_date(values, "period_end"))


def _project(session: Session, values: dict[str, str | None]) -> ProjectSpec:
    status = values.get("status") or "planned"
    return ProjectSpec(
        programme=values.get("programme") or "", ref=values.get("ref") or "", name=values.get("name") or "",
        geometry=_geometry(session, values), owner_department=values.get("owner_department"),
        status=STATUS_NAMES.get(status, status),
        planned_start=_date(values, "planned_start"), planned_end=_date(values, "planned_end"),
        actual_start=_date(values, "actual_start"), actual_end=_date(values, "actual_end"),
        quantities={unit: _number(values, unit) for unit in QUANTITY_UNITS if values.get(unit)},
    )


def _geometry(session: Session, values: dict[str, str | None]) -> BaseGeometry:
    """A project's place: its WKT, its point, or the line of the road it names."""
    if wkt := values.get("wkt"):
        try:
            return shapely.from_wkt(wkt)
        except shapely.errors.GEOSException as error:
            message = f"几何 wkt {wkt[:60]!r} 不是 WKT is not well-known text: {error}"
            raise ValidationError(message) from error
    if values.get("lon") or values.get("lat"):
        lon, lat = _number(values, "lon"), _number(values, "lat")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            message = f"经纬度 lon/lat {lon}, {lat} 不在 WGS84 范围 are outside WGS84's range"
            raise ValidationError(message)
        return shapely.Point(lon, lat)
    if road := values.get("road"):
        lines = session.scalars(sa.select(WalkWay.geometry).where(WalkWay.name == road)).all()
        if not lines:
            message = f"没有名为 {road} 的道路 no walk way is named {road!r}"
            raise ValidationError(message)
        return shapely.line_merge(shapely.union_all(lines))
    message = "缺少位置 no place: give wkt (几何), lon and lat (经度, 纬度), or road (道路)"
    raise ValidationError(message)


def _number(values: dict[str, str | None], key: str) -> float:
    text = values.get(key) or ""
    try:
        number = float(text.replace(",", ""))
    except ValueError as error:
        message = f"{key} {text!r} 不是数字 is not a number"
        raise ValidationError(message) from error
    if not math.isfinite(number):
        message = f"{key} {text!r} 不是有限数 is not a finite number"
        raise ValidationError(message)
    return number


def _date(values: dict[str, str | None], key: str) -> date | None:
    """A date as offices write it (2026-03-01, 2026/3/1, 2026年3月1日), or None when the cell is empty."""
    text = values.get(key)
    if text is None:
        return None
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        message = f"{key} {text!r} 不是日期 is not a date (2026-03-01)"
        raise ValidationError(message) from error
