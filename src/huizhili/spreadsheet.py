"""Spreadsheets in and out: lists read as offices keep them, CSV written so that no cell runs as a formula.

Names, addresses and notes come from people and imported files; a cell such as
``=HYPERLINK("http://x","y")`` opened in Excel or LibreOffice becomes a live formula (OWASP
"CSV injection"). Interfaces and domains both read and write spreadsheets, so this module
imports nothing of the platform's own but its errors.
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huizhili.errors import ImportFailed

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list)."""


def safe_cell(value: Any) -> Any:
    """A cell as it may be written: text starting with one of :data:`FORMULA_STARTS` gets a leading ``'``.

    Numbers are left alone, so ``-2`` stays a number; only text can carry a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def csv_text(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> str:
    """CSV with a header row, every cell through :func:`safe_cell`.

    Parameters
    ----------
    rows
        One mapping per row, keyed by the names in ``fieldnames``.
    fieldnames
        Column names, in order.

    Returns
    -------
    str
        The document, lines ended by CRLF as the csv module writes them (RFC 4180).
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows({key: safe_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def read_table(path: Path, name: str) -> "pd.DataFrame":
    """A list as text cells: Excel, or CSV in UTF-8 or, as Chinese offices and systems often save it, GB18030.

    Raises
    ------
    ImportFailed
        If the file is neither (naming ``name``).
    """
    import pandas as pd  # a second's import, for the commands that read lists only

    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
    except (OSError, ValueError, pd.errors.ParserError) as error:
        message = f"无法读取 cannot read {name} as CSV or Excel: {error}"
        raise ImportFailed(message, record=name) from error


def text_cell(value: Any) -> str | None:
    """A cell's text without surrounding spaces; an empty cell is None."""
    text = str(value).strip() if value is not None else ""
    return text or None
