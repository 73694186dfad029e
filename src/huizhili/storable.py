r"""Text every backend can store: UTF-8 encodable (no lone surrogates) and free of NUL.

JSON's ``\ud800`` escapes decode to lone surrogates that no UTF-8 database accepts, and
PostgreSQL refuses the NUL character that SQLite keeps; either would fail the write with a server
error. Inputs are checked with :func:`text_problem` where they enter, so the error names them.
"""

from typing import Any


def text_problem(value: Any) -> str | None:
    """What makes a string in ``value`` (searched through lists and dict keys and values) unstorable, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "contains the NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains a lone surrogate (not valid Unicode text)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None
