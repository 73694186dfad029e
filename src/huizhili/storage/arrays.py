"""Columns of many rows as JSON arrays, put together by the database in one pass, on either backend.

A map layer of 50,000 records made into Python rows and then JSON costs several times the query
itself; the database writes the same arrays in C as it reads the rows. The i-th element of
each array is the same record's: SQLite's aggregates of one SELECT read its one scan in turn;
PostgreSQL's are each ordered by the rows' key, since a parallel plan promises no order.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from huizhili.storage.engine import is_postgis


def json_arrays(session: Session, columns: Mapping[str, Any], where: Sequence[sa.ColumnElement[bool]], key: Any) -> dict[str, str]:
    """Each of ``columns`` over the rows matching ``where`` in ``key`` order, as the text of a JSON array (``[]`` for none); NULL is ``null``."""
    aggregates: list[sa.ColumnElement[Any]]
    if is_postgis(session):
        aggregates = [sa.func.coalesce(sa.func.array_to_json(sa.func.array_agg(aggregate_order_by(c, key))).cast(sa.Text), "[]")
                      for c in columns.values()]
    else:
        aggregates = [sa.func.json_group_array(c) for c in columns.values()]
    row = session.execute(sa.select(*aggregates).where(*where)).one()
    return dict(zip(columns, row, strict=True))


def rounded(session: Session, column: Any, decimals: int) -> sa.ColumnElement[Any]:
    """A float column rounded to ``decimals`` places, so its JSON is short (PostgreSQL rounds only numerics)."""
    if is_postgis(session):
        return sa.func.round(sa.cast(column, sa.Numeric), decimals)
    return sa.func.round(column, decimals)


def unix_seconds(session: Session, column: Any) -> sa.ColumnElement[Any]:
    """A time column as whole Unix seconds."""
    if is_postgis(session):
        return sa.cast(sa.func.floor(sa.func.extract("epoch", column)), sa.BigInteger)
    # Stored as UTC text (storage.timestamps), which strftime reads as UTC.
    return sa.cast(sa.func.strftime("%s", column), sa.Integer)


def json_object(parts: Mapping[str, Any], arrays: Mapping[str, str]) -> str:
    """One JSON object of ``parts`` (made into JSON here) and ``arrays`` (JSON texts already), in that order."""
    fields = [f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}" for key, value in parts.items()]
    fields += [f"{json.dumps(key)}:{text}" for key, text in arrays.items()]
    return "{" + ",".join(fields) + "}"
