"""CSV as every export writes it: text a spreadsheet would run as a formula stays text.

Names, addresses and notes come from people and imported files; a cell such as
``=HYPERLINK("http://x","y")`` opened in Excel or LibreOffice becomes a live formula (OWASP
"CSV injection"). Interfaces and domains both write CSV, so this module imports nothing of
the platform's own.
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
