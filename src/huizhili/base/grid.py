"""Grid cells (网格) for grid officers: each street cut into squares, slivers merged into neighbours.

Urban management works in unit grids (GB/T 30428.2, the 万米单元网格 of about 100 m × 100 m).
Cells are cut from the street's boundary, numbered row by row from the north-west and coded
``<street code>G<nnnn>``; a cut-off piece smaller than a quarter cell joins the neighbour it
shares most border with, so no officer is handed a scrap. Every record then carries its cell.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.areas import AreaSpec, children, find_area, upsert_areas
from huizhili.base.assign import assign_areas
from huizhili.base.geodesy import lonlat_from_metres, to_metres
from huizhili.errors import ConflictError, ValidationError
from huizhili.policy import Scope
from huizhili.storage.models import Area

MIN_CELL_M, MAX_CELL_M = 20.0, 5000.0
MAX_CELLS_PER_STREET = 9999
"""Cell numbers have four digits, so that no code is a prefix of another."""
SLIVER_SHARE = 0.25
"""A piece smaller than this share of a full cell is merged into a neighbour."""


@dataclass(frozen=True)
class GridReport:
    """The cells made for one street, or why it has none."""

    street_code: str
    street_name: str
    cells: int
    skipped: str | None = None


def make_grid(
    session: Session, area: str, size_m: float = 100.0, *, progress: Callable[[str, int], None] | None = None
) -> list[GridReport]:
    """Cut a street (or every street of a district) into grid cells of ``size_m`` metres.

    All or nothing: if any street already has grid cells the run is refused, so codes that
    officers are scoped to never change under them. Streets without a boundary are skipped
    and reported.

    Raises
    ------
    ValidationError
        If the size is out of range, or the area is neither a street nor a district.
    ConflictError
        If a street already has grid cells.
    """
    if not MIN_CELL_M <= size_m <= MAX_CELL_M:
        message = f"cell size must be between {MIN_CELL_M:.0f} and {MAX_CELL_M:.0f} m, not {size_m:g}"
        raise ValidationError(message)
    target = find_area(session, area, Scope.system())
    if target.level == "street":
        streets = [target]
    elif target.level == "district":
        streets = [child for child in children(session, target.code) if child.level == "street"]
    else:
        message = f"{target.name} is a {target.level}: give a street or a district"
        raise ValidationError(message)
    gridded = session.scalars(
        sa.select(Area.parent_code).where(Area.level == "grid", Area.code.startswith(target.code)).distinct()
    ).all()
    if gridded:
        message = f"grid cells exist already under {', '.join(sorted(map(str, gridded)))}; codes officers are scoped to are not regenerated"
        raise ConflictError(message)
    reports, specs = [], []
    for street in streets:
        if street.geometry is None:
            reports.append(GridReport(street.code, street.name, 0, "no boundary"))
            continue
        cells = _cut(street.geometry, size_m)
        if len(cells) > MAX_CELLS_PER_STREET:
            message = f"{street.name} would have {len(cells):,} cells; codes hold {MAX_CELLS_PER_STREET:,}: choose a larger size"
            raise ValidationError(message)
        parents = _parents(session, street, cells)
        specs += [
            AreaSpec(code=f"{street.code}G{n:04d}", name=f"{street.name}网格{n:04d}", level="grid",
                     parent_code=parent, geometry=cell, source=f"huizhili base grid --size {size_m:g}")
            for n, (cell, parent) in enumerate(zip(cells, parents, strict=True), start=1)
        ]
        reports.append(GridReport(street.code, street.name, len(cells)))
        if progress:
            progress("grid cells cut", len(specs))
    upsert_areas(session, specs)
    assign_areas(session)
    return reports


def _cut(boundary: BaseGeometry, size_m: float) -> list[BaseGeometry]:
    """The boundary's cells in WGS84, north-west first, slivers merged."""
    centre = boundary.centroid
    local = to_metres(boundary, centre.x, centre.y)
    minx, miny, maxx, maxy = local.bounds
    rows, cols = math.ceil((maxy - miny) / size_m), math.ceil((maxx - minx) / size_m)
    r, c = np.divmod(np.arange(rows * cols), cols)
    squares = shapely.box(minx + c * size_m, maxy - (r + 1) * size_m, minx + (c + 1) * size_m, maxy - r * size_m)
    pieces = shapely.intersection(squares, local)
    keep = shapely.area(pieces) > 1e-6 * size_m * size_m
    cells = {(int(i), int(j)): piece for i, j, piece in zip(r[keep], c[keep], pieces[keep], strict=True)}
    for key in sorted(cells, key=lambda k: cells[k].area):  # smallest first; merged pieces grow as we go
        piece = cells[key]
        if piece.area >= SLIVER_SHARE * size_m * size_m:
            continue
        i, j = key
        neighbours = [(n, cells[n].intersection(piece).length) for n in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if n in cells]
        neighbours = [(n, shared) for n, shared in neighbours if shared > 0]
        if neighbours:
            into = max(neighbours, key=lambda item: item[1])[0]
            cells[into] = shapely.union(cells[into], cells.pop(key))
    return [
        shapely.transform(cells[key], lambda xy: np.column_stack(lonlat_from_metres(xy[:, 0], xy[:, 1], centre.x, centre.y)))
        for key in sorted(cells)
    ]


def _parents(session: Session, street: Area, cells: list[BaseGeometry]) -> list[str]:
    """Each cell's committee (the one holding its representative point), else the street itself."""
    committees = session.scalars(
        sa.select(Area).where(Area.parent_code == street.code, Area.level == "committee", Area.geometry.is_not(None))
    ).all()
    parents = []
    for cell in cells:
        point = cell.representative_point()
        parents.append(next((c.code for c in committees if c.geometry is not None and c.geometry.covers(point)), street.code))
    return parents
