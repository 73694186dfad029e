"""Official division codes (统计用区划代码): streets/towns and residential committees."""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.importers._common import ImportReport, finish_run, reassign_records, without_path
from huizhili.errors import ImportFailed, ValidationError

LEVEL_BY_DIGITS = {6: "district", 9: "street", 12: "committee"}
"""Official statistical codes nest by prefix: 6 digits a district, 9 a street, 12 a committee."""


def import_divisions(
    session: Session, paths: list[Path], parent_names: Mapping[str, str] | None = None
) -> ImportReport:
    """Create or update areas from division-code CSVs with ``code`` and ``name`` columns.

    The level and the parent follow from the code itself (a committee's parent is its first
    9 digits). A parent missing from the database is created when ``parent_names`` names it.
    Stored records are then assigned again, since new parents fill levels from the one below.

    Parameters
    ----------
    session
        Session inside the caller's transaction.
    paths
        CSV files, e.g. the streets then the committees of a district.
    parent_names
        Code → name of parents to create, e.g. ``{"310104": "徐汇区"}``.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportFailed
        If a file lacks columns or a code is malformed; names the line.
    """
    report = ImportReport(importer="divisions", source=", ".join(str(p) for p in paths))
    specs = [
        AreaSpec(code=code, name=name, level=LEVEL_BY_DIGITS[len(code)], parent_code=_parent(code), source="division codes")
        for code, name in (parent_names or {}).items()
        if len(code) in LEVEL_BY_DIGITS
    ]
    for path in paths:
        specs.extend(_read(Path(path)))
    try:
        report.counts["areas"] = upsert_areas(session, specs)
    except ValidationError as error:
        raise ImportFailed(str(error)) from error
    reassign_records(session, report)
    return finish_run(session, report)


def _read(path: Path) -> list[AreaSpec]:
    """Areas from one CSV, refusing malformed codes."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        message = f"{path.name}: unreadable: {without_path(error, path, path.name)}"
        raise ImportFailed(message) from error
    missing = {"code", "name"} - set(frame.columns)
    if missing:
        message = f"{path.name}: missing column(s) {', '.join(sorted(missing))}"
        raise ImportFailed(message)
    specs = []
    for line, (code, name) in enumerate(zip(frame["code"], frame["name"], strict=True), start=2):
        code, name = code.strip(), name.strip()
        if not code.isdigit() or len(code) not in LEVEL_BY_DIGITS or not name:
            message = f"{path.name}: line {line}: code {code!r} is not a 6-, 9- or 12-digit division code with a name"
            raise ImportFailed(message, record=f"line {line}")
        specs.append(AreaSpec(code=code, name=name, level=LEVEL_BY_DIGITS[len(code)], parent_code=_parent(code), source="division codes"))
    return specs


def _parent(code: str) -> str | None:
    """The parent division's code by prefix, None for a district."""
    return {12: code[:9], 9: code[:6]}.get(len(code))
